"""The activities of a durable agent: each action of a run that does I/O, on a worker.

The workflow sends requests as plain data (bodies, ids, calls) and never holds credentials:
the client lives here, on the worker. Four activities per agent, named
`agentkit.<agent name>.create`, `.wait`, `.tool` and `.cancel` (the names are compatibility data: a
workflow history refers to them, so they never change).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from agentkit._agent import Agent
from agentkit._client import AsyncClient
from agentkit._context import RunContext
from agentkit._exceptions import APIError, APIStatusError
from agentkit._journal import CallRecord, Journal
from agentkit._loop import PENDING_STATUSES, PollPolicy
from agentkit._result import RunState
from agentkit._streaming import StreamAccumulator
from agentkit._toolset import ToolHooks
from agentkit.types import FunctionCallStep, Interaction, Usage

__all__ = [
    "CreateRequest",
    "ToolRequest",
    "WaitOutcome",
    "WaitRequest",
    "activity_names",
    "agent_activities",
]

# Client errors that no retry can fix; 408, 409 and 429 are worth another attempt.
_RETRIED_4XX = frozenset({408, 409, 429})


def activity_names(agent_name: str) -> dict[str, str]:
    """The stable names of an agent's activities by role: `create`, `wait`, `tool`, `cancel`."""
    roles = ("create", "wait", "tool", "cancel")
    return {role: f"agentkit.{agent_name}.{role}" for role in roles}


@dataclass(frozen=True)
class CreateRequest:
    """One model request of a run: the keyword arguments of `interactions.create`."""

    body: dict[str, Any]
    stream: bool
    """Created through a stream, so the interaction id is known (and heartbeated) first."""


@dataclass(frozen=True)
class WaitRequest:
    """Poll an interaction until it stops working, or until the run's deadline.

    The first poll comes after `delay` (the machine's `Poll`); the later ones back off as
    the run's `PollPolicy` says, while they fit in `budget`.
    """

    interaction_id: str
    delay: float
    first: float
    factor: float
    max_interval: float
    budget: float | None = None
    """Seconds of waiting left before the run's `PollPolicy.deadline` (None: no deadline)."""


@dataclass(frozen=True)
class WaitOutcome:
    """Where a wait ended: the interaction, after how many polls and seconds of waiting."""

    interaction: dict[str, Any]
    polls: int
    """Polls after the first (which the machine's `Poll` counted already)."""
    waited: float
    """Seconds waited before those polls."""


@dataclass(frozen=True)
class ToolRequest:
    """One function call of a run, with what its `RunContext` carries."""

    call: dict[str, Any]
    key: str
    run_id: str
    interaction_id: str | None = None
    turn: int = 0
    usage: dict[str, Any] = field(default_factory=dict[str, Any])


class _AttemptJournal:
    """The agent's journal, told by Temporal whether an earlier attempt may have run a call.

    An activity retried after its worker died (or its heartbeat stopped) may have run the
    tool on the other worker, with a journal this worker cannot read: from the second attempt
    on, a call this journal has no result for has an unknown outcome, which an idempotent
    tool runs again and any other tool reports (as `Agent(unknown_outcome=...)` decides).
    """

    def __init__(self, inner: Journal, attempt: int) -> None:
        self._inner = inner
        self._attempt = attempt

    def begin(self, key: str, *, retry: bool = False) -> CallRecord | None:
        record = self._inner.begin(key, retry=retry)
        if record is None and self._attempt > 1 and not retry:
            return CallRecord(key, None, self._attempt - 1)
        return record

    def finish(self, key: str, result: Mapping[str, Any]) -> None:
        self._inner.finish(key, result)

    def get(self, key: str) -> CallRecord | None:
        return self._inner.get(key)

    def checkpoint(self, run_id: str, state: RunState) -> None:
        self._inner.checkpoint(run_id, state)

    def latest(self, run_id: str) -> RunState | None:
        return self._inner.latest(run_id)

    def close(self) -> None:
        """Nothing to release: the agent owns the inner journal."""


class _Heartbeat:
    """Heartbeats at a steady pace while an activity works, with the latest details.

    Temporal sends an activity's first heartbeat at once and throttles the later ones, so
    an activity whose first heartbeat must carry something (the id of the interaction a
    create made) starts `quiet`: nothing is sent until `beat()` gives the details.
    """

    def __init__(self, *, quiet: bool) -> None:
        self.details: tuple[Any, ...] | None = None if quiet else ()

    def beat(self, *details: Any) -> None:
        self.details = details
        activity.heartbeat(*details)

    async def run(self, interval: float) -> None:
        while True:
            if self.details is not None:
                activity.heartbeat(*self.details)
            await asyncio.sleep(interval)
            if self.details is None:
                # No id after a third of the timeout (a slow model): keep the attempt alive.
                self.details = ()


@asynccontextmanager
async def _beating(*, quiet: bool = False) -> AsyncGenerator[_Heartbeat]:
    timeout = activity.info().heartbeat_timeout
    heartbeat = _Heartbeat(quiet=quiet)
    interval = timeout.total_seconds() / 3 if timeout else 10.0
    ticker = asyncio.ensure_future(heartbeat.run(interval))
    try:
        yield heartbeat
    finally:
        ticker.cancel()


def _activity_error(error: APIError) -> ApplicationError:
    """The error for Temporal: a 4xx no retry can fix stops the retries (one retry layer)."""
    status = error.status_code if isinstance(error, APIStatusError) else None
    final = status is not None and 400 <= status < 500 and status not in _RETRIED_4XX
    return ApplicationError(
        str(error), {"status_code": status}, type=type(error).__name__, non_retryable=final
    )


def agent_activities(
    name: str, agent: Agent[Any, Any], client: Callable[[], AsyncClient], deps: Any = None
) -> list[Callable[..., Any]]:
    """The activities of `agent`, registered under `name` (see `activity_names`)."""
    names = activity_names(name)

    @activity.defn(name=names["create"])
    async def create(request: CreateRequest) -> dict[str, Any]:
        details = activity.info().heartbeat_details
        made = details[0] if details else None
        try:
            async with _beating(quiet=True) as heartbeat:
                interaction = await _create(client(), request, made, heartbeat)
        except APIError as error:
            raise _activity_error(error) from None
        return interaction.to_wire()

    @activity.defn(name=names["wait"])
    async def wait(request: WaitRequest) -> WaitOutcome:
        try:
            async with _beating() as heartbeat:
                return await _wait(client(), request, heartbeat)
        except APIError as error:
            raise _activity_error(error) from None

    @activity.defn(name=names["tool"])
    async def tool(request: ToolRequest) -> dict[str, Any]:
        setup = agent._setup()  # pyright: ignore[reportPrivateUsage]
        call = FunctionCallStep.model_validate(request.call)
        context = RunContext(
            deps=deps,
            usage=Usage.model_validate(request.usage),
            run_id=request.run_id,
            interaction_id=request.interaction_id,
            turn=request.turn,
        )
        journal = _AttemptJournal(setup.journal, activity.info().attempt)
        hooks = setup.hooks
        async with _beating():
            (result,) = await setup.toolset.run_all(
                [call],
                [request.key],
                context,
                journal,
                hooks=ToolHooks(hooks.before_tool, hooks.after_tool, hooks.around_tool),
                unknown_outcome=setup.unknown_outcome,
            )
        return result.to_wire()

    @activity.defn(name=names["cancel"])
    async def cancel(interaction_id: str) -> None:
        try:
            await client().interactions.cancel(interaction_id)
        except APIError as error:
            raise _activity_error(error) from None

    return [create, wait, tool, cancel]


async def _create(
    api: AsyncClient, request: CreateRequest, made: object, heartbeat: _Heartbeat
) -> Interaction:
    if isinstance(made, str):
        # An earlier attempt made it: re-attach, never create a second one.
        heartbeat.beat(made)
        return await api.interactions.get(made)
    if not request.stream:
        created: Interaction = await api.interactions.create(**request.body, stream=False)
        return created
    accumulator = StreamAccumulator()
    async with await api.interactions.create(**request.body, stream=True) as stream:
        async for event in stream:
            known = accumulator.interaction_id
            accumulator.apply(event)
            if known is None and accumulator.interaction_id is not None:
                heartbeat.beat(accumulator.interaction_id)
    return accumulator.result()


async def _wait(api: AsyncClient, request: WaitRequest, heartbeat: _Heartbeat) -> WaitOutcome:
    policy = PollPolicy(request.first, request.factor, request.max_interval)
    polls, waited, delay = 0, 0.0, request.delay
    while True:
        await asyncio.sleep(delay)
        interaction = await api.interactions.get(request.interaction_id)
        heartbeat.beat(polls)
        if interaction.status not in PENDING_STATUSES:
            break
        delay = policy.delay(polls + 1)
        if request.budget is not None and waited + delay > request.budget:
            break  # the run's deadline: the machine decides what follows
        polls, waited = polls + 1, waited + delay
    return WaitOutcome(interaction.to_wire(), polls, waited)
