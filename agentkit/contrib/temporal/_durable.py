"""`TemporalAgent`: an `Agent` whose runs are Temporal workflow code.

The agent's `RunMachine` runs inside the workflow (it reads no clock, randomness or
environment); each of its actions with I/O becomes an activity (see `_activities`). The
workflow history then holds every request's outcome and every tool result: a worker that
dies is replaced by another that replays the history and goes on from the first action whose
outcome is missing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Generic

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

from agentkit._agent import Agent, Previous, _approvals  # pyright: ignore[reportPrivateUsage]
from agentkit._client import AsyncClient, sending_once
from agentkit._context import DepsT
from agentkit._exceptions import APIError, UsageError
from agentkit._loop import Action, Done, Fail, Poll, RunMachine, RunTools, Send
from agentkit._result import OutputT, RunResult, RunState
from agentkit._tool_error import error_result
from agentkit.contrib.temporal._activities import (
    CreateRequest,
    ToolRequest,
    WaitOutcome,
    WaitRequest,
    activity_names,
    agent_activities,
)
from agentkit.types import FunctionCallStep, FunctionResultStep, Interaction

__all__ = ["Approvals", "TemporalAgent", "ToolOptions"]

_AGENTS: dict[str, TemporalAgent[Any, Any]] = {}
"""Every durable agent of this process by name: how the ready-made workflow finds one."""


@dataclasses.dataclass(frozen=True)
class ToolOptions:
    """How the activity of a tool call is scheduled.

    Whatever the retry policy, a call runs at most once unless its tool is idempotent
    (`@tool(idempotent=True)`): an attempt that follows one which may have run it reports an
    unknown outcome instead (`Agent(unknown_outcome=...)` decides what the model is told).

    Attributes:
        start_to_close_timeout: The longest one attempt may take.
        heartbeat_timeout: A worker silent this long is taken for dead and the call is
            retried elsewhere; the activity heartbeats three times per period while the tool
            runs.
        retry_policy: Temporal's retries of the activity (default: up to 3 attempts).
    """

    start_to_close_timeout: timedelta = timedelta(minutes=5)
    heartbeat_timeout: timedelta = timedelta(seconds=10)
    retry_policy: RetryPolicy = dataclasses.field(
        default_factory=lambda: RetryPolicy(maximum_attempts=3)
    )


class Approvals:
    """The decisions on the calls a durable run waits for a person to approve.

    A workflow makes one per run and wires it to a validated Update (`validate`, then
    `decide`) and a query (`pending`); `AgentWorkflow` does this for you.
    """

    def __init__(self) -> None:
        self._pending: list[FunctionCallStep] = []
        self._decisions: dict[str, Any] = {}

    @property
    def pending(self) -> list[FunctionCallStep]:
        """The calls waiting for a decision."""
        return [call for call in self._pending if call.id not in self._decisions]

    def validate(self, call_id: str) -> None:
        """Refuse a decision on a call that is not waiting for one.

        Raises:
            UsageError: `call_id` names no pending call.
        """
        if call_id not in {call.id for call in self.pending}:
            waiting = ", ".join(call.id or "" for call in self.pending) or "none"
            raise UsageError(f"No call {call_id!r} waits for approval (waiting: {waiting}).")

    def decide(self, call_id: str, decision: Any) -> None:
        """Record a decision on a pending call.

        True runs the call, False refuses it, anything else is sent as its result instead.
        """
        self.validate(call_id)
        self._decisions[call_id] = decision

    def _ask(self, calls: Sequence[FunctionCallStep]) -> None:
        self._pending, self._decisions = list(calls), {}

    def _complete(self) -> bool:
        return not self.pending

    def _taken(self) -> dict[str, Any]:
        decisions, self._pending, self._decisions = self._decisions, [], {}
        return decisions


class TemporalAgent(Generic[DepsT, OutputT]):
    """An `Agent` whose runs are durable: call `run()` from a Temporal workflow.

    Register the same object with the worker (`AgentkitPlugin(agents=[...])`): it gives the
    worker the agent's activities, which hold the API client (the workflow never sees a key).

    Args:
        agent: The agent to run durably. Its tools run on workers, one activity per call.
        name: Names the agent's activities (`agentkit.<name>.create` ...); default the agent's
            name. Keep it stable while workflows that use it are running.
        tool_options: Per tool name, how its calls are scheduled (default `ToolOptions()`).
        model_timeout: The longest one model request (or one wait on a background
            interaction) may take.
        heartbeat_timeout: A worker silent this long during a model request or a wait is
            taken for dead; the next attempt re-attaches to the interaction.
        model_retry: Temporal's retries of model requests. Client errors (4xx other than
            408, 409 and 429) are never retried.
        approval_timeout: How long a call may wait for a decision before it is refused
            (None: forever).

    Raises:
        UsageError: `tool_options` names a tool the agent does not have, or the agent uses MCP
            servers (not supported in durable runs yet).
    """

    def __init__(
        self,
        agent: Agent[DepsT, OutputT],
        *,
        name: str | None = None,
        tool_options: Mapping[str, ToolOptions] | None = None,
        model_timeout: timedelta = timedelta(minutes=10),
        heartbeat_timeout: timedelta = timedelta(seconds=10),
        model_retry: RetryPolicy | None = None,
        approval_timeout: timedelta | None = None,
    ) -> None:
        if agent.toolset.sources:
            # Their tools are listed per run, over a connection a workflow cannot hold.
            raise UsageError(
                f"A durable agent cannot use MCP servers yet ({agent.name!r} has "
                f"{len(agent.toolset.sources)}): wrap the calls you need in @tool functions."
            )
        if agent.handoffs:
            raise UsageError(
                f"A durable agent cannot hand its runs off to other agents yet ({agent.name!r} "
                "has handoffs=): use them as tools (agent.as_tool(...)) instead."
            )
        self.agent: Agent[DepsT, OutputT] = agent
        self.name: str = name or agent.name
        unknown = set(tool_options or {}) - set(agent.toolset.names)
        if unknown:
            raise UsageError(f"tool_options names tools the agent does not have: {sorted(unknown)}")
        self.tool_options: dict[str, ToolOptions] = dict(tool_options or {})
        self.model_timeout: timedelta = model_timeout
        self.heartbeat_timeout: timedelta = heartbeat_timeout
        self.model_retry: RetryPolicy = model_retry or RetryPolicy(maximum_attempts=10)
        self.approval_timeout: timedelta | None = approval_timeout
        self._names = activity_names(self.name)
        # The workflow sandbox re-imports the module that made this agent, making it again:
        # the latest one of a name stands (a worker refuses two activities of one name).
        _AGENTS[self.name] = self

    def __repr__(self) -> str:
        return f"TemporalAgent({self.agent!r}, name={self.name!r})"

    # -- worker side --------------------------------------------------------------------------

    def activities(
        self, client: AsyncClient | None = None, deps: Any = None
    ) -> list[Callable[..., Any]]:
        """The agent's activities for a worker (`AgentkitPlugin` registers them).

        Args:
            client: The client the activities use (default: the agent's own); it sends each
                request once, since Temporal retries the activity.
            deps: Given to the tools as `RunContext.deps`.
        """
        made: list[AsyncClient] = []

        def once() -> AsyncClient:
            if not made:
                made.append(sending_once(client or self.agent.async_client))
            return made[0]

        return agent_activities(self.name, self.agent, once, deps)

    # -- workflow side ------------------------------------------------------------------------

    async def run(
        self,
        input: Any,
        *,
        previous: Previous | None = None,
        approvals: Approvals | None = None,
        state: RunState | None = None,
        on_large_history: Callable[[RunState], Any] | None = None,
    ) -> RunResult[OutputT]:
        """Run the agent from workflow code until the run ends; the usual `RunResult`.

        Args:
            input: Text, content blocks or steps, as for `Agent.run`.
            previous: A result (or its state) to continue the conversation from.
            approvals: Where decisions on calls that need approval arrive; without it, a run
                that needs one returns paused (`result.pending_calls`).
            state: Resume this saved state instead of starting (e.g. after continue-as-new).
            on_large_history: Called with the run's state before a request, once Temporal
                suggests continuing as new (a long stateless run): call
                `workflow.continue_as_new` there with your workflow's input and `state`.

        Raises:
            RunError: As `Agent.run` (the plugin makes it fail the workflow, not retry it).
            APIError: A model request failed for good (a 4xx, or retries ran out).
        """
        machine, action = self._start(input, previous, state)
        try:
            while True:
                if isinstance(action, Fail):
                    if action.cancel is not None:
                        await self._cancel(action.cancel)
                    raise action.error
                if isinstance(action, Done):
                    result = action.result
                    if not result.pending_calls or approvals is None:
                        return result
                    decisions = await self._decisions(result, approvals)
                    action = machine.resume(_approvals(decisions))
                    continue
                if (
                    isinstance(action, Send)
                    and on_large_history is not None
                    and workflow.info().is_continue_as_new_suggested()
                ):
                    on_large_history(machine.checkpoint())  # resuming it sends `action`
                action = await self._carry_out(machine, action)
        except asyncio.CancelledError:
            # The workflow was cancelled: stop what still works server-side, then end.
            if machine.to_cancel is not None:
                await self._cancel(machine.to_cancel)
            raise

    def _start(
        self, input: Any, previous: Previous | None, state: RunState | None
    ) -> tuple[RunMachine, Action]:
        config = dataclasses.replace(self.agent._config, stream=False)  # pyright: ignore[reportPrivateUsage]
        if state is not None:
            machine = RunMachine(dataclasses.replace(config, background=state.background), state)
            return machine, machine.resume({})
        earlier = previous.state if isinstance(previous, RunResult) else previous
        fresh = RunState(
            history=list(earlier.history) if earlier is not None else [],
            run_id=workflow.uuid4().hex,
        )
        continue_from = earlier.interaction_id if earlier is not None and config.store else None
        machine = RunMachine(config, fresh)
        return machine, machine.start(input, continue_from=continue_from)

    async def _carry_out(self, machine: RunMachine, action: Send | Poll | RunTools) -> Action:
        try:
            if isinstance(action, RunTools):
                return machine.tools_finished(await self._tools(machine, action))
            if isinstance(action, Send):
                interaction = await self._create(machine, action)
            else:
                interaction = await self._wait(machine, action)
            return machine.received(interaction)
        except ActivityError as error:
            _reraise_cancellation(error)
            return machine.failed(_api_error(error))

    async def _create(self, machine: RunMachine, action: Send) -> Interaction:
        handle = workflow.start_activity(
            self._names["create"],
            CreateRequest(action.body, action.stream),
            result_type=dict,
            start_to_close_timeout=self.model_timeout,
            heartbeat_timeout=self.heartbeat_timeout,
            retry_policy=self.model_retry,
        )
        try:
            # Shielded: the workflow's cancellation must not throw away a create that ended in
            # the same activation, or whose answer is on its way.
            raw = await asyncio.shield(handle)
        except asyncio.CancelledError:
            if not machine.config.background:
                handle.cancel()  # nothing will run on server-side once the stream stops
                raise
            # A background create answers at once, with the interaction to cancel.
            try:
                raw = await handle
            except ActivityError:
                raise asyncio.CancelledError from None
            machine.created(Interaction.model_validate(raw).id)
            raise
        interaction = Interaction.model_validate(raw)
        machine.created(interaction.id)
        return interaction

    async def _wait(self, machine: RunMachine, action: Poll) -> Interaction:
        policy = machine.config.poll
        budget = machine.poll_budget()
        outcome = await workflow.execute_activity(
            self._names["wait"],
            WaitRequest(
                action.interaction_id,
                action.delay,
                policy.first,
                policy.factor,
                policy.max_interval,
                budget,
            ),
            result_type=WaitOutcome,
            start_to_close_timeout=self.model_timeout,
            heartbeat_timeout=self.heartbeat_timeout,
            retry_policy=self.model_retry,
        )
        machine.waited(outcome.polls, outcome.waited)
        return Interaction.model_validate(outcome.interaction)

    async def _tools(self, machine: RunMachine, action: RunTools) -> list[FunctionResultStep]:
        state = machine.state
        handles = [
            workflow.start_activity(
                self._names["tool"],
                ToolRequest(
                    call.to_wire(),
                    key,
                    state.run_id or "",
                    state.interaction_id,
                    state.turns,
                    dict(state.usage),
                ),
                result_type=dict,
                activity_id=f"tool/{key}",
                **self._tool_schedule(call.name),
            )
            for call, key in zip(action.calls, action.keys, strict=True)
        ]
        results: list[FunctionResultStep] = []
        for call, handle in zip(action.calls, handles, strict=True):
            try:
                results.append(FunctionResultStep.model_validate(await handle))
            except ActivityError as error:  # every attempt failed or timed out
                _reraise_cancellation(error)
                cause = error.cause or error
                results.append(error_result(call, f"The tool did not finish: {cause}"))
        return results

    def _tool_schedule(self, name: str) -> dict[str, Any]:
        options = self.tool_options.get(name) or ToolOptions()
        return {
            "start_to_close_timeout": options.start_to_close_timeout,
            "heartbeat_timeout": options.heartbeat_timeout,
            "retry_policy": options.retry_policy,
        }

    async def _cancel(self, interaction_id: str) -> None:
        try:
            await workflow.execute_activity(
                self._names["cancel"],
                interaction_id,
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        except ActivityError:
            workflow.logger.warning("could not cancel interaction %s", interaction_id)

    async def _decisions(self, result: RunResult[Any], approvals: Approvals) -> dict[str, Any]:
        approvals._ask(result.pending_calls)  # pyright: ignore[reportPrivateUsage]
        try:
            await workflow.wait_condition(
                approvals._complete,  # pyright: ignore[reportPrivateUsage]
                timeout=self.approval_timeout,
            )
        except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
            for call in approvals.pending:  # nobody decided in time: refused
                approvals.decide(call.id or "", False)
        return approvals._taken()  # pyright: ignore[reportPrivateUsage]


def _reraise_cancellation(error: ActivityError) -> None:
    """Let the workflow's cancellation through: the activity was cancelled with it."""
    if is_cancelled_exception(error):
        raise asyncio.CancelledError from error


def _api_error(error: ActivityError) -> APIError:
    """The agentkit error for an activity that failed for good (its retries ran out)."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return APIError(f"{cause.type or 'Error'}: {cause.message}")
    return APIError(f"A model request failed for good: {cause or error}")


def durable_agent(name: str) -> TemporalAgent[Any, Any]:
    """The durable agent named `name` in this process.

    Raises:
        UsageError: No `TemporalAgent` of that name exists here.
    """
    try:
        return _AGENTS[name]
    except KeyError:
        known = ", ".join(sorted(_AGENTS)) or "none"
        raise UsageError(f"No durable agent is named {name!r} (known: {known}).") from None
