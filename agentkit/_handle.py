"""`RunHandle`: a background run to await, poll or cancel, from async or sync code."""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Generic

import anyio
from typing_extensions import TypeVar

from agentkit._exceptions import APIError, RunError, RunTimeout
from agentkit._loop import Action, Done, Fail, RunMachine
from agentkit._result import RunResult
from agentkit._run_settings import RunSettings
from agentkit._toolset import ToolSet
from agentkit.types import Interaction

if TYPE_CHECKING:
    from agentkit._agent import Agent

__all__ = ["RunHandle"]

OutputT = TypeVar("OutputT", default=Any)


class RunHandle(Generic[OutputT]):
    """A background run: await it, poll it, or cancel it; `interaction_id` identifies it.

    From synchronous code (a handle of `Agent.start_sync()` or `Agent.attach()`), use
    `result_sync()`, `poll_sync()` and `cancel_sync()`.
    """

    def __init__(
        self,
        agent: Agent[Any, Any],
        machine: RunMachine,
        action: Action,
        deps: Any,
        *,
        toolset: ToolSet | None = None,
        settings: RunSettings | None = None,
    ) -> None:
        self._agent = agent
        self._toolset = toolset
        self._settings = settings
        self._machine = machine
        self._action = action
        self._deps = deps
        self._lock = anyio.Lock()
        self._sync_lock = threading.Lock()
        self.partial: RunResult[Any] | None = None
        """Set when a wait was cancelled: the run so far, with the finished tool results.

        Such a cancellation leaves the interaction running on the server (`cancel()` stops
        it); awaiting the handle again goes on without running finished tools again.
        """

    @property
    def interaction_id(self) -> str:
        """The id of the background interaction (give it to `Agent.attach()` elsewhere)."""
        return self._machine.state.interaction_id or ""

    async def poll(self) -> Interaction:
        """Fetch the interaction once, without waiting for it to finish."""
        return await self._agent.async_client.interactions.get(self.interaction_id)

    def poll_sync(self) -> Interaction:
        """Synchronous `poll()`."""
        return self._agent.sync_client.interactions.get(self.interaction_id)

    async def result(self, *, timeout: float | None = None) -> RunResult[OutputT]:
        """Wait for the run to finish (running tools when it asks) and return its result.

        Args:
            timeout: Seconds to wait (None: the agent's `timeout`); past them `RunTimeout`
                is raised, the interaction goes on, and waiting again continues the run.
        """
        async with self._lock:  # one driver at a time; later awaits get the same outcome
            if isinstance(self._action, Done | Fail):
                return self._outcome()
            try:
                result = await self._agent._finish(  # pyright: ignore[reportPrivateUsage]
                    self._plan, self._deps, self, toolset=self._toolset, timeout=timeout
                )
            except (APIError, RunError) as error:
                self._failed(error)
                raise
            self._action = Done(result)
            return result

    def result_sync(self, *, timeout: float | None = None) -> RunResult[OutputT]:
        """Synchronous `result()`.

        Ctrl-C stops the wait, not the interaction, as a cancelled await does: calling it
        again goes on from there.
        """
        with self._sync_lock:
            if isinstance(self._action, Done | Fail):
                return self._outcome()
            try:
                result = self._agent._finish_sync(  # pyright: ignore[reportPrivateUsage]
                    self._plan, self._deps, self._toolset, handle=self, timeout=timeout
                )
            except (APIError, RunError) as error:
                self._failed(error)
                raise
            self._action = Done(result)
            return result

    def _outcome(self) -> RunResult[OutputT]:
        if isinstance(self._action, Fail):
            raise self._action.error
        assert isinstance(self._action, Done)
        return self._action.result

    def _failed(self, error: APIError | RunError) -> None:
        if isinstance(error, RunTimeout) and error.partial is not None:
            self._interrupted(error.partial)  # the wait gave up, not the run
        elif isinstance(error, RunError):
            self._action = Fail(error)
        elif error.partial is not None:
            # The API gave up for now: waiting again goes on from where the run stopped.
            self._continue_from(error.partial)

    def _plan(self, toolset: ToolSet) -> tuple[RunMachine, Action]:
        retooled = self._agent._retooled(self._machine, toolset, self._settings)  # pyright: ignore[reportPrivateUsage]
        return retooled, self._action

    def _interrupted(self, partial: RunResult[Any]) -> None:
        self.partial = partial
        self._continue_from(partial)

    def _continue_from(self, partial: RunResult[Any]) -> None:
        # Tools that finished do not run again, and an interaction already made is fetched,
        # not made again.
        machine = RunMachine(self._machine.config, partial.state)
        self._action = machine.resume({})
        self._machine = machine

    def __await__(self) -> Generator[Any, None, RunResult[OutputT]]:
        return self.result().__await__()

    async def cancel(self) -> RunResult[OutputT]:
        """Cancel the interaction on the server; the result has status `cancelled`."""
        interaction = await self._agent.async_client.interactions.cancel(self.interaction_id)
        return self._cancelled(interaction)

    def cancel_sync(self) -> RunResult[OutputT]:
        """Synchronous `cancel()`."""
        return self._cancelled(self._agent.sync_client.interactions.cancel(self.interaction_id))

    def _cancelled(self, interaction: Interaction) -> RunResult[OutputT]:
        action = self._machine.received(interaction)
        self._action = action
        if isinstance(action, Done):
            return action.result
        return self._machine.interrupted()
