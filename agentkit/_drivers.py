"""The async and sync drivers: they carry out the actions of a `RunMachine`, nothing more.

Every decision lives in `_loop.py`; a driver sends requests, sleeps between polls, runs tool
batches and turns wire events into run events. Each action has a small handler that yields run
events as they happen and, last, a `_Next` holding the machine's next action.
"""

from __future__ import annotations

import logging
import math
import queue
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import AbstractContextManager, ExitStack, aclosing, closing, contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal

from agentkit._client import AsyncClient, Client
from agentkit._context import RunContext
from agentkit._events import (
    RunCompleteEvent,
    RunEvent,
    ServerToolEvent,
    StatusEvent,
    TextDeltaEvent,
    ThoughtSummaryEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from agentkit._exceptions import APIError, RunError, ToolOutcomeUnknown
from agentkit._hooks import NULL, Entered, Hooks, RequestScope, RunScope, entered
from agentkit._journal import Journal
from agentkit._loop import PENDING_STATUSES, Action, Done, Fail, Poll, RunMachine, RunTools, Send
from agentkit._result import RunResult, RunState
from agentkit._streaming import StreamAccumulator
from agentkit._timeline import TimelineRecorder
from agentkit._toolset import ToolHooks, ToolSet, UnknownOutcome
from agentkit.types import (
    Event,
    FunctionCallStep,
    FunctionResultStep,
    Interaction,
    StepDeltaEvent,
    StepStopEvent,
    TextDelta,
    ThoughtSummaryDelta,
)

__all__ = ["RunSetup", "drive", "drive_sync", "send_first", "send_first_sync"]

logger = logging.getLogger("agentkit.agent")

Results = list[FunctionResultStep]


@dataclass(frozen=True)
class RunSetup:
    """What the drivers need from an `Agent`."""

    toolset: ToolSet
    hooks: Hooks
    raise_tool_errors: bool
    journal: Journal
    unknown_outcome: UnknownOutcome | None = None
    detached: bool = False
    """A handle's run: a cancelled waiter leaves the server-side interaction running."""
    name: str = "agent"
    """The agent's name, for `RunScope`."""


@dataclass(frozen=True)
class _Next:
    action: Action


@dataclass
class _Run:
    """The bookkeeping of one run in progress, shared by both drivers."""

    setup: RunSetup
    machine: RunMachine
    context: RunContext[Any]
    """Copied for each tool batch: its `run_id` and `metadata` are the same for the whole run."""
    finished: list[FunctionResultStep] = field(default_factory=list[FunctionResultStep])
    announced: tuple[str | None, str] | None = None
    """The last (interaction id, status) a `StatusEvent` reported."""
    turn: tuple[RequestScope, Entered] | None = None
    """The model turn in progress, when an `around_request` hook wraps it."""
    run_scope: RunScope | None = None
    """What the `around_*` hooks see of the run (None without them)."""
    timeline: TimelineRecorder = field(init=False)
    """Records the timings of requests and tool calls into the machine's state."""

    def __post_init__(self) -> None:
        self.timeline = TimelineRecorder(self.machine.state)

    def tools(self, action: RunTools) -> Callable[[], Awaitable[Results]]:
        """The tool batch to await: every call concurrently, results in call order."""
        return partial(self.setup.toolset.run_all, **self._batch(action))

    def tools_sync(self, action: RunTools) -> Callable[[], Results] | None:
        """The batch to run without an event loop, if all its tools are sync (else None)."""
        toolset = self.setup.toolset
        if any(toolset.functions[call.name].is_async for call in action.calls):
            return None
        return partial(toolset.run_all_sync, **self._batch(action))

    def _batch(self, action: RunTools) -> dict[str, Any]:
        hooks = self.setup.hooks
        before, after = self.timeline.tool_hooks(hooks.before_tool, hooks.after_tool)
        context = replace(
            self.context,
            usage=self.machine.usage,
            interaction_id=self.machine.state.interaction_id,
            turn=self.machine.state.turns,
        )
        return {
            "calls": action.calls,
            "keys": action.keys,
            "context": context,
            "journal": self.setup.journal,
            "raise_errors": self.setup.raise_tool_errors,
            "hooks": ToolHooks(before, after, hooks.around_tool),
            "unknown_outcome": self.setup.unknown_outcome,
            "finished": self.finished,
        }

    def before_request(self, body: dict[str, Any]) -> None:
        if self.setup.hooks.before_request:
            self.setup.hooks.before_request(body)

    def scope(self) -> AbstractContextManager[object]:
        """The driving of the run, inside its `around_run` hook; a no-op without hooks."""
        hooks = self.setup.hooks
        if hooks.around_run is None and hooks.around_request is None:
            return NULL
        return self._scoped(hooks)

    @contextmanager
    def _scoped(self, hooks: Hooks) -> Generator[None, None, None]:
        config = self.machine.config
        scope = RunScope(self.setup.name, config.model, config.agent, self.machine.state.run_id)
        self.run_scope = scope
        with entered(hooks.around_run, scope):
            try:
                yield
            except BaseException as error:
                self.end_turn(error)
                raise
            self.end_turn()

    def done(self, result: RunResult[Any]) -> None:
        """The run ended with this result (for the `around_run` hook)."""
        if self.run_scope is not None:
            self.run_scope.result = result

    def begin_turn(self, body: Mapping[str, Any] | None) -> None:
        """A model turn starts: a request is sent (`body`), or a driving starts polling."""
        around = self.setup.hooks.around_request
        if around is None:
            return
        if body is None and self.turn is not None:  # the polls of the turn in progress
            self.turn[0].polls += 1
            return
        self.end_turn()
        config = self.machine.config
        scope = RequestScope(config.model, config.agent, body, polls=0 if body else 1)
        self.turn = (scope, Entered(around(scope)))

    def polling(self, action: Poll) -> None:
        """A poll starts: it waits `action.delay`, then fetches the interaction."""
        self.timeline.request("poll", self.machine.state.turns, action.delay)
        self.begin_turn(None)

    def end_turn(self, error: BaseException | None = None) -> None:
        """The model turn in progress (if any) ended, with this error if it failed."""
        if self.turn is not None:
            _, manager = self.turn
            self.turn = None
            manager.exit(error)

    def sending(self, action: Send) -> str | None:
        """A model turn starts with this request: the interaction it made before, if known."""
        self.timeline.request("request", self.machine.state.turns)
        self.begin_turn(action.body)
        return self.made_before(action)

    def made_before(self, action: Send) -> str | None:
        """The interaction an earlier attempt of this request made, if the journal knows it.

        A resume of the same state in another process (or twice) then follows that
        interaction instead of forking the conversation.
        """
        if action.key is None:
            return None
        record = self.setup.journal.begin(action.key, retry=True)
        made = record.result.get("interaction_id") if record and record.result else None
        if not isinstance(made, str):
            return None
        self.machine.created(made)
        self.checkpoint()
        return made

    def created(self, interaction_id: str, action: Send) -> None:
        """The request made this interaction: from now on it is fetched, never sent again."""
        self.machine.created(interaction_id)
        if action.key is not None:
            self.setup.journal.finish(action.key, {"interaction_id": interaction_id})
        self.checkpoint()

    def streamed(
        self, event: Event, accumulator: StreamAccumulator, action: Send
    ) -> Iterator[RunEvent]:
        """Apply one wire event of a stream; the run events it makes."""
        known = accumulator.interaction_id
        accumulator.apply(event)
        if known is None and accumulator.interaction_id is not None:
            self.created(accumulator.interaction_id, action)
        yield from self._status(accumulator.interaction_id, accumulator.status)
        yield from _translate(event, accumulator)

    def settled(self, interaction: Interaction) -> Iterator[RunEvent | _Next]:
        """Feed a created or polled interaction to the machine: a status change, the action."""
        self.timeline.received(interaction)
        if self.turn is not None:
            self.turn[0].interaction = interaction
        if self.setup.hooks.after_request:
            self.setup.hooks.after_request(interaction)
        logger.debug("interaction %s is %s", interaction.id, interaction.status)
        action = self.machine.received(interaction)
        self.checkpoint()
        if interaction.status not in PENDING_STATUSES:
            self.end_turn()
        yield from self._status(interaction.id, interaction.status)
        for call, result in self.machine.answered:
            yield ToolCallEvent(call)
            yield ToolResultEvent(call, result)
        yield _Next(action)

    def tools_done(
        self,
        calls: tuple[FunctionCallStep, ...],
        results: Results,
        announced: Sequence[FunctionResultStep] = (),
    ) -> Iterator[RunEvent | _Next]:
        """Run events for a finished batch (but those `announced`), then the next action."""
        for call, result in zip(calls, results, strict=True):
            if not any(result is done for done in announced):
                yield ToolResultEvent(call, result)
        self.finished = []
        action = self.machine.tools_finished(results)
        self.checkpoint()
        yield _Next(action)

    def reporting(self, report: Callable[[FunctionResultStep], object]) -> None:
        """Have each result of the next batch passed to `report` as soon as its tool ends."""
        self.finished = _Reporting(self.finished, report)

    def checkpoint(self, state: RunState | None = None) -> None:
        """Save the run's state (by default, as it stands) to the journal."""
        state = state or self.machine.checkpoint()
        if state.run_id is not None:  # a machine driven by hand may have none
            self.setup.journal.checkpoint(state.run_id, state)

    def failed(self, error: RunError | APIError) -> Fail:
        """The machine's verdict on an error that ended the action in flight."""
        finished, self.finished = self.finished, []
        self.timeline.failed(error)
        action = self.machine.failed(error, finished)
        self.checkpoint()
        return action

    def request_failed(self, error: APIError) -> Action:
        """The machine's verdict on a request that failed: send it again, or end the run."""
        self.timeline.failed(error)
        action = self.machine.request_failed(error)
        self.checkpoint()
        return action

    def interrupted(self) -> None:
        self.timeline.failed("cancelled")
        partial_result = self.machine.interrupted(self.finished)
        self.checkpoint(partial_result.state)
        if self.setup.hooks.on_cancel is None:
            return
        try:
            self.setup.hooks.on_cancel(partial_result)
        except Exception:  # raising here would replace the caller's cancellation
            logger.exception("the on_cancel hook failed")

    def _status(self, interaction_id: str | None, status: str | None) -> Iterator[StatusEvent]:
        if status is None or (interaction_id, status) == self.announced:
            return
        self.announced = (interaction_id, status)
        yield StatusEvent(status, interaction_id)


# -- async ----------------------------------------------------------------------------------------


async def drive(
    setup: RunSetup, client: AsyncClient, machine: RunMachine, action: Action, deps: Any
) -> AsyncGenerator[RunEvent, None]:
    """Carry out the machine's actions until the run ends, yielding run events."""
    run = _Run(setup, machine, _context(machine, deps))
    with run.scope():
        try:
            while not isinstance(action, Done):
                if isinstance(action, Fail):
                    if action.cancel is not None:
                        await _cancel_quietly(client, action.cancel)
                    raise action.error
                # Closed explicitly: a consumer that stops early must not leave it to the GC.
                async with aclosing(_step(run, client, action)) as steps:
                    async for item in steps:
                        if isinstance(item, _Next):
                            action = item.action
                        else:
                            yield item
            run.done(action.result)
        except anyio.get_cancelled_exc_class():
            to_cancel = machine.to_cancel
            if to_cancel is not None and not setup.detached:
                with anyio.CancelScope(shield=True):
                    await _cancel_quietly(client, to_cancel)
            run.interrupted()
            raise
    # After the run's scope: a caller that stops reading at the result must not end it early.
    for event in _final_events(action.result):
        yield event


async def send_first(
    setup: RunSetup, client: AsyncClient, machine: RunMachine, action: Action, deps: Any
) -> Action:
    """Carry out the first request of a run, if `action` is one; the machine's next action."""
    if not isinstance(action, Send):
        return action
    run = _Run(setup, machine, _context(machine, deps))
    with run.scope():
        async with aclosing(_request(run, client, action)) as steps:
            async for item in steps:
                if isinstance(item, _Next):
                    return item.action
    raise AssertionError("unreachable: a request always ends with the next action")


def _step(
    run: _Run, client: AsyncClient, action: Send | Poll | RunTools
) -> AsyncGenerator[RunEvent | _Next, None]:
    return _tools(run, action) if isinstance(action, RunTools) else _request(run, client, action)


async def _tools(run: _Run, action: RunTools) -> AsyncGenerator[RunEvent | _Next, None]:
    for call in action.calls:
        yield ToolCallEvent(call)
    announcer = _Announcer(action.calls)
    outcome: list[Results | Exception] = []
    async with aclosing(_announced(run, action, announcer, outcome)) as events:
        async for event in events:
            yield event
    (results,) = outcome
    if isinstance(results, ToolOutcomeUnknown):
        yield _Next(run.failed(results))
        return
    if isinstance(results, Exception):
        raise results
    for item in run.tools_done(action.calls, results, announcer.announced):
        yield item


async def _announced(
    run: _Run, action: RunTools, announcer: _Announcer, outcome: list[Results | Exception]
) -> AsyncGenerator[ToolResultEvent, None]:
    """Run the batch, announcing each result as its tool ends; what it gave goes in `outcome`."""
    send, receive = anyio.create_memory_object_stream[FunctionResultStep](math.inf)
    run.reporting(send.send_nowait)

    async def batch() -> None:
        with send:
            try:
                outcome.append(await run.tools(action)())
            except Exception as error:  # raised by `_tools`: a failure must not cancel the reader
                outcome.append(error)

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(batch)
            async for result in receive:
                if (event := announcer.event(result)) is not None:
                    try:
                        yield event
                    except GeneratorExit:  # the reader left: stop the tools, then the group
                        group.cancel_scope.cancel()
                        return
    finally:
        send.close()  # in case the batch never started
        receive.close()


async def _request(
    run: _Run, client: AsyncClient, action: Send | Poll
) -> AsyncGenerator[RunEvent | _Next, None]:
    try:
        if isinstance(action, Poll):
            run.polling(action)
            await client.sleep(action.delay)
            interaction = await client.interactions.get(action.interaction_id)
        elif (made := run.sending(action)) is not None:
            interaction = await client.interactions.get(made)
        elif action.stream:
            run.before_request(action.body)
            accumulator = StreamAccumulator()
            async with await client.interactions.create(**action.body, stream=True) as stream:
                async for event in stream:
                    for run_event in run.streamed(event, accumulator, action):
                        yield run_event
            interaction = accumulator.result()
        else:
            run.before_request(action.body)
            interaction = await client.interactions.create(**action.body, stream=False)
            run.created(interaction.id, action)
    except APIError as error:  # the client gave up: the run ends, resumable (or resends)
        run.end_turn(error)
        yield _Next(run.request_failed(error))
        return
    for item in run.settled(interaction):
        yield item


async def _cancel_quietly(client: AsyncClient, interaction_id: str) -> None:
    try:
        await client.interactions.cancel(interaction_id)
    except Exception:  # the run is being cancelled anyway; the caller's exception matters
        logger.warning("could not cancel background interaction %s", interaction_id, exc_info=True)


# -- sync -----------------------------------------------------------------------------------------


def drive_sync(
    setup: RunSetup, client: Client, machine: RunMachine, action: Action, deps: Any
) -> Generator[RunEvent, None, None]:
    """Synchronous `drive`: blocking HTTP on the caller's thread, tool batches in a portal.

    The portal (an event loop in a worker thread) is opened only when tools run, so the
    sync API never touches the caller's event loop and works inside one (Jupyter).
    """
    run = _Run(setup, machine, _context(machine, deps))
    with run.scope():
        try:
            # Closed before the interruption is handled: the portal then waited for the
            # cancelled tools, so every result that finished is in `run.finished`.
            with ExitStack() as stack:
                portal = _LazyPortal(stack)
                while not isinstance(action, Done):
                    if isinstance(action, Fail):
                        if action.cancel is not None:
                            _cancel_quietly_sync(client, action.cancel)
                        raise action.error
                    with closing(_step_sync(run, client, action, portal)) as steps:
                        for item in steps:
                            if isinstance(item, _Next):
                                action = item.action
                            else:
                                yield item
            run.done(action.result)
        except KeyboardInterrupt:
            _interrupted_sync(run, client)
            raise
    yield from _final_events(action.result)


class _LazyPortal:
    """Opens the blocking portal on first use, closed with the run's exit stack."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._portal: BlockingPortal | None = None

    def __call__(self) -> BlockingPortal:
        if self._portal is None:
            self._portal = self._stack.enter_context(start_blocking_portal())
        return self._portal


def _interrupted_sync(run: _Run, client: Client) -> None:
    to_cancel = run.machine.to_cancel
    if to_cancel is not None and not run.setup.detached:
        _cancel_quietly_sync(client, to_cancel)
    run.interrupted()


def _step_sync(
    run: _Run,
    client: Client,
    action: Send | Poll | RunTools,
    portal: Callable[[], BlockingPortal],
) -> Generator[RunEvent | _Next, None, None]:
    if isinstance(action, RunTools):
        return _tools_sync(run, action, portal)
    return _request_sync(run, client, action)


def _tools_sync(
    run: _Run, action: RunTools, portal: Callable[[], BlockingPortal]
) -> Generator[RunEvent | _Next, None, None]:
    for call in action.calls:
        yield ToolCallEvent(call)
    in_threads = run.tools_sync(action)
    announcer = _Announcer(action.calls)
    try:
        if in_threads is not None:  # sync tools only: no event loop needed
            results = in_threads()
        else:
            results = yield from _in_portal(run, action, portal(), announcer)
    except ToolOutcomeUnknown as error:
        yield _Next(run.failed(error))
        return
    yield from run.tools_done(action.calls, results, announcer.announced)


def _in_portal(
    run: _Run, action: RunTools, portal: BlockingPortal, announcer: _Announcer
) -> Generator[RunEvent, None, Results]:
    """Run the batch in the portal, announcing each result as its tool ends."""
    ended: queue.Queue[FunctionResultStep | None] = queue.Queue()
    run.reporting(ended.put)
    future = portal.start_task_soon(run.tools(action))
    future.add_done_callback(lambda _: ended.put(None))
    try:
        while (result := ended.get()) is not None:
            if (event := announcer.event(result)) is not None:
                yield event
        return future.result()
    except BaseException:
        future.cancel()  # Ctrl-C lands here, in the caller's thread; the task goes on
        raise


def _request_sync(
    run: _Run, client: Client, action: Send | Poll
) -> Generator[RunEvent | _Next, None, None]:
    try:
        if isinstance(action, Poll):
            run.polling(action)
            client.sleep(action.delay)
            interaction = client.interactions.get(action.interaction_id)
        elif (made := run.sending(action)) is not None:
            interaction = client.interactions.get(made)
        elif action.stream:
            run.before_request(action.body)
            accumulator = StreamAccumulator()
            with client.interactions.create(**action.body, stream=True) as stream:
                for event in stream:
                    yield from run.streamed(event, accumulator, action)
            interaction = accumulator.result()
        else:
            run.before_request(action.body)
            interaction = client.interactions.create(**action.body, stream=False)
            run.created(interaction.id, action)
    except APIError as error:  # the client gave up: the run ends, resumable (or resends)
        run.end_turn(error)
        yield _Next(run.request_failed(error))
        return
    yield from run.settled(interaction)


def send_first_sync(
    setup: RunSetup, client: Client, machine: RunMachine, action: Action, deps: Any
) -> Action:
    """Synchronous `send_first`."""
    if not isinstance(action, Send):
        return action
    run = _Run(setup, machine, _context(machine, deps))
    with run.scope(), closing(_request_sync(run, client, action)) as steps:
        for item in steps:
            if isinstance(item, _Next):
                return item.action
    raise AssertionError("unreachable: a request always ends with the next action")


def _cancel_quietly_sync(client: Client, interaction_id: str) -> None:
    try:
        client.interactions.cancel(interaction_id)
    except Exception:  # the run is being interrupted anyway; the caller's exception matters
        logger.warning("could not cancel background interaction %s", interaction_id, exc_info=True)


class _Reporting(list[FunctionResultStep]):
    """`_Run.finished`, which also reports each result as it is added.

    `ToolSet.run_all` appends each result to its `finished` list as soon as its tool ends.
    """

    def __init__(
        self, results: list[FunctionResultStep], report: Callable[[FunctionResultStep], object]
    ) -> None:
        super().__init__(results)
        self._report = report

    def append(self, result: FunctionResultStep) -> None:
        super().append(result)
        self._report(result)


class _Announcer:
    """Turns the results of a batch into run events as they come, in the order they end."""

    def __init__(self, calls: tuple[FunctionCallStep, ...]) -> None:
        self._waiting = list(calls)
        self.announced: Results = []

    def event(self, result: FunctionResultStep) -> ToolResultEvent | None:
        """The event for `result`; None leaves it to the batch's end (an ambiguous call id)."""
        matching = [call for call in self._waiting if (call.id or "") == result.call_id]
        if len(matching) != 1:
            return None
        self._waiting.remove(matching[0])
        self.announced.append(result)
        return ToolResultEvent(matching[0], result)


def _context(machine: RunMachine, deps: Any) -> RunContext[Any]:
    run_id = machine.state.run_id
    return RunContext(deps=deps) if run_id is None else RunContext(deps=deps, run_id=run_id)


# -- wire events to run events -------------------------------------------------------------------


def _final_events(result: RunResult[Any]) -> Iterator[RunEvent]:
    """The last events of a run: the calls left waiting for approval, then the result."""
    for call in result.pending_calls:
        yield ToolCallEvent(call)
    yield RunCompleteEvent(result)


def _translate(event: Event, accumulator: StreamAccumulator) -> Iterator[RunEvent]:
    """Run events for one wire event of a stream."""
    if isinstance(event, StepDeltaEvent):
        delta = event.delta
        if isinstance(delta, TextDelta):
            yield TextDeltaEvent(delta.text, accumulator.interaction_id)
        elif isinstance(delta, ThoughtSummaryDelta):
            text = getattr(delta.content, "text", None)
            if isinstance(text, str):
                yield ThoughtSummaryEvent(text, accumulator.interaction_id)
    elif isinstance(event, StepStopEvent):
        kind = accumulator.step_type(event.index)  # parse the step only when it is reported
        if kind is not None and _is_server_tool_step(kind):
            step = accumulator.step_at(event.index)
            if step is not None:
                yield ServerToolEvent(step)


def _is_server_tool_step(step_type: str) -> bool:
    return step_type.endswith(("_call", "_result")) and not step_type.startswith("function_")
