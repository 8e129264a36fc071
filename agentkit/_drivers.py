"""The async and sync drivers: they carry out the actions of a `RunMachine`, nothing more.

Every decision lives in `_loop.py`; a driver sends requests, sleeps between polls, runs tool
batches and turns wire events into run events. Each action has a small handler that yields run
events as they happen and, last, a `_Next` holding the machine's next action.
"""

from __future__ import annotations

import copy
import logging
import math
import queue
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
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
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeVar

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal

from agentkit._client import AsyncClient, Client
from agentkit._context import RunContext
from agentkit._deadline import Expired, check, left, patiently, until
from agentkit._events import (
    RunCompleteEvent,
    RunEvent,
    StatusEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from agentkit._exceptions import APIError, APITimeoutError, RunError, ToolOutcomeUnknown
from agentkit._hooks import NULL, Entered, Hooks, RequestScope, RunScope, entered
from agentkit._journal import InMemoryJournal, Journal, SQLiteJournal
from agentkit._loop import PENDING_STATUSES, Action, Done, Fail, Poll, RunMachine, RunTools, Send
from agentkit._result import RunResult, RunState
from agentkit._timeline import TimelineRecorder
from agentkit._toolset import ToolHooks, ToolSet, UnknownOutcome
from agentkit.types import FunctionCallStep, FunctionResultStep, Interaction

if TYPE_CHECKING:
    from agentkit._run_stream import RunStream
    from agentkit._streaming import Json
    from agentkit.types import Event

__all__ = ["RunSetup", "drive", "drive_sync", "send_first", "send_first_sync"]

logger = logging.getLogger("agentkit.agent")

Results = list[FunctionResultStep]
T = TypeVar("T")

_COPYING_JOURNALS: Final = (InMemoryJournal, SQLiteJournal)
"""Journals that keep a copy (or the JSON) of a checkpoint, never the state object given."""


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
    timeout: float | None = None
    """Seconds the driving of the run may take before it ends with `RunTimeout`."""
    team: Mapping[str, ToolSet] = field(default_factory=dict[str, ToolSet])
    """The tools of the agents the run may be handed off to, by agent name."""


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
    deadline: float | None = None
    """When the run's timeout ends: `time.monotonic()` for a sync run, `anyio.current_time()`
    for an async one."""
    quiet: bool = False
    """Nobody reads the run's events before its result (`run()`): only the result is made."""
    timeline: TimelineRecorder = field(init=False)
    """Records the timings of requests and tool calls into the machine's state."""

    def __post_init__(self) -> None:
        self.timeline = TimelineRecorder(self.machine.state)

    def tools(self, action: RunTools) -> Callable[[], Awaitable[Results]]:
        """The tool batch to await: every call concurrently, results in call order."""
        return partial(self.toolset.run_all, **self._batch(action))

    def tools_sync(
        self, action: RunTools
    ) -> Callable[[], Generator[FunctionResultStep, None, Results]] | None:
        """The batch to run without an event loop, if all its tools are sync (else None).

        It yields each result as its tool ends, and returns them all in call order.
        """
        toolset = self.toolset
        if any(toolset.functions[call.name].is_async for call in action.calls):
            return None
        return partial(toolset.run_all_sync, **self._batch(action), deadline=self.deadline)

    @property
    def toolset(self) -> ToolSet:
        """The tools of the agent in charge of the run (another one after a handoff)."""
        name = self.machine.state.agent_name
        return self.setup.toolset if name is None else self.setup.team.get(name, self.setup.toolset)

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
        hook = self.setup.hooks.before_request
        if hook is None:
            return
        # The tool declarations and request fields are the agent's own, shared by its runs: a
        # hook's edit of them in place belongs to this request, not to every later one.
        for key in ("tools", *self.machine.config.request_fields):
            if key in body:
                body[key] = copy.deepcopy(body[key])
        hook(body)

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
        self,
        event: Event | Json,
        accumulator: RunStream,
        action: Send,
        parse: Callable[[Json], Event],
    ) -> Iterator[RunEvent]:
        """Apply one wire event of a stream; the run events it makes.

        A quiet run reads its stream unparsed: an event delivered as its JSON object that the
        accumulator declines is parsed with `parse`.
        """
        known = accumulator.interaction_id
        if not isinstance(event, dict):
            accumulator.apply(event)
        elif not accumulator.apply_wire(event):
            accumulator.apply(parse(event))
        if known is None and accumulator.interaction_id is not None:
            self.created(accumulator.interaction_id, action)
        if not self.quiet and not isinstance(event, dict):  # only a quiet run reads JSON
            yield from self._status(accumulator.interaction_id, accumulator.status)
            yield from accumulator.run_events(event)

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
        if not self.quiet:
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
            if not self.quiet and not any(result is done for done in announced):
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
        journal = self.setup.journal
        if state is None:
            # agentkit's own journals copy or serialize what they are given; any other one
            # gets a copy of its own, as it may keep the object.
            own = type(journal) in _COPYING_JOURNALS
            state = self.machine.state if own else self.machine.checkpoint()
        if state.run_id is not None:  # a machine driven by hand may have none
            journal.checkpoint(state.run_id, state)

    def failed(self, error: RunError | APIError) -> Fail:
        """The machine's verdict on an error that ended the action in flight."""
        finished, self.finished = self.finished, []
        self.timeline.failed(error)
        action = self.machine.failed(error, finished)
        self.checkpoint()
        return action

    def timed_out(self) -> Fail:
        """The machine's verdict on a run that outlived its timeout."""
        assert self.setup.timeout is not None  # only a run with a timeout expires
        finished, self.finished = self.finished, []
        self.timeline.failed("timed out")
        action = self.machine.timed_out(self.setup.timeout, finished, detached=self.setup.detached)
        self.checkpoint()
        return action

    def bounded(self, call: Callable[[], T]) -> T:
        """A blocking request of a sync run, which ends by the run's deadline."""
        if self.deadline is None:
            return call()
        with until(self.deadline):
            return call()

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
    setup: RunSetup,
    client: AsyncClient,
    machine: RunMachine,
    action: Action,
    deps: Any,
    *,
    quiet: bool = False,
) -> AsyncGenerator[RunEvent, None]:
    """Carry out the machine's actions until the run ends, yielding run events.

    Args:
        quiet: Yield only the events of the run's end (`RunCompleteEvent`...), for a caller
            that reads nothing else.
    """
    run = _Run(setup, machine, _context(machine, deps), quiet=quiet)
    if setup.timeout is not None:
        run.deadline = anyio.current_time() + setup.timeout
    with run.scope():
        try:
            while not isinstance(action, Done):
                if isinstance(action, Fail):
                    await _fail(client, action)
                try:
                    # Closed explicitly: a consumer that stops early must not leave it to the GC.
                    async with aclosing(_step(run, client, action)) as steps:
                        async for item in steps:
                            if isinstance(item, _Next):
                                action = item.action
                            else:
                                yield item
                except Expired:
                    action = run.timed_out()
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


async def _fail(client: AsyncClient, action: Fail) -> NoReturn:
    if action.cancel is not None:
        await _cancel_quietly(client, action.cancel)
    raise action.error


def _within(run: _Run, awaitable: Awaitable[T]) -> Awaitable[T]:
    """`awaitable`, bounded by the run's deadline if it has one (else as it is: no frame more).

    Each wait has a scope of its own: a scope spanning the yields of `drive` would cancel
    what the consumer of a stream awaits between two events.
    """
    return awaitable if run.deadline is None else _until(run.deadline, awaitable)


async def _until(deadline: float, awaitable: Awaitable[T]) -> T:
    """Await until `deadline`.

    Raises:
        Expired: The deadline passed first.
    """
    with anyio.CancelScope(deadline=deadline):
        return await awaitable
    raise Expired  # the scope stopped the wait


async def _events_within(run: _Run, stream: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """The events of a stream, each awaited within the run's deadline."""
    while (event := await _within(run, anext(stream, None))) is not None:
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
    if not run.quiet:
        for call in action.calls:
            yield ToolCallEvent(call)
    announcer = _Announcer(action.calls)
    if run.quiet or len(action.calls) == 1:  # a lone result is announced at the end anyway
        results = await _batch(run, action)
    else:
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


async def _batch(run: _Run, action: RunTools) -> Results | Exception:
    """The results of the batch, or the exception it raised (which must not cancel a reader)."""
    try:
        return await _within(run, run.tools(action)())
    except Exception as error:
        return error


async def _announced(
    run: _Run, action: RunTools, announcer: _Announcer, outcome: list[Results | Exception]
) -> AsyncGenerator[ToolResultEvent, None]:
    """Run the batch, announcing each result as its tool ends; what it gave goes in `outcome`."""
    send, receive = anyio.create_memory_object_stream[FunctionResultStep](math.inf)
    run.reporting(send.send_nowait)

    async def batch() -> None:
        with send:
            outcome.append(await _batch(run, action))

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
            await _within(run, client.sleep(action.delay))
            interaction = await _within(run, client.interactions.get(action.interaction_id))
        elif (made := run.sending(action)) is not None:
            interaction = await _within(run, client.interactions.get(made))
        elif action.stream:
            run.before_request(action.body)
            accumulator = _accumulator()
            opened = client.interactions.create(**action.body, stream=True)
            async with await _within(run, opened) as stream:
                # A quiet run reads no event: each is folded without its parse when it may be.
                read = stream._unparsed() if run.quiet else stream  # pyright: ignore[reportPrivateUsage]
                events = read if run.deadline is None else _events_within(run, read)
                parse = stream._parse  # pyright: ignore[reportPrivateUsage]
                async for event in events:
                    for run_event in run.streamed(event, accumulator, action, parse):
                        yield run_event
            interaction = stream._result(accumulator)  # pyright: ignore[reportPrivateUsage]
            if run.machine.lacks_environment(interaction):
                interaction = await _with_environment(run, client, interaction)
        else:
            run.before_request(action.body)
            created = client.interactions.create(**action.body, stream=False)
            interaction = await _within(run, created)
            run.created(interaction.id, action)
    except APIError as error:  # the client gave up: the run ends, resumable (or resends)
        run.end_turn(error)
        yield _Next(run.request_failed(error))
        return
    for item in run.settled(interaction):
        yield item


async def _with_environment(run: _Run, client: AsyncClient, streamed: Interaction) -> Interaction:
    """`streamed` with the `environment_id` a GET of it tells (as it is, if the GET fails)."""
    try:
        fetched = await _within(run, client.interactions.get(streamed.id))
    except APIError:  # the run's outcome is known: a missing detail must not fail it
        logger.warning("could not fetch interaction %s for its environment_id", streamed.id)
        return streamed
    return streamed.model_copy(update={"environment_id": fetched.environment_id})


def _with_environment_sync(run: _Run, client: Client, streamed: Interaction) -> Interaction:
    """Synchronous `_with_environment`."""
    try:
        fetched = run.bounded(partial(client.interactions.get, streamed.id))
    except APIError:  # the run's outcome is known: a missing detail must not fail it
        logger.warning("could not fetch interaction %s for its environment_id", streamed.id)
        return streamed
    return streamed.model_copy(update={"environment_id": fetched.environment_id})


_CANCEL_WAIT = 5.0
"""Seconds a stopping run gives the server to cancel its background interaction, retries
included: the run's caller, its timeout past or its task cancelled, waits for no more."""


async def _cancel_quietly(client: AsyncClient, interaction_id: str) -> None:
    with anyio.move_on_after(_CANCEL_WAIT) as waited:
        try:
            await client.interactions.cancel(interaction_id)
        except Exception:  # the run is being cancelled anyway; the caller's exception matters
            logger.warning(
                "could not cancel background interaction %s", interaction_id, exc_info=True
            )
    if waited.cancelled_caught:
        _gave_up_cancelling(interaction_id)


def _gave_up_cancelling(interaction_id: str) -> None:
    logger.warning(
        "gave up cancelling background interaction %s: no answer within %g s",
        interaction_id,
        _CANCEL_WAIT,
    )


# -- sync -----------------------------------------------------------------------------------------


def drive_sync(
    setup: RunSetup,
    client: Client,
    machine: RunMachine,
    action: Action,
    deps: Any,
    *,
    quiet: bool = False,
) -> Generator[RunEvent, None, None]:
    """Synchronous `drive`: blocking HTTP on the caller's thread, tool batches in a portal.

    The portal (an event loop in a worker thread) is opened only when tools run, so the
    sync API never touches the caller's event loop and works inside one (Jupyter).
    """
    run = _Run(setup, machine, _context(machine, deps), quiet=quiet)
    if setup.timeout is not None:
        run.deadline = time.monotonic() + setup.timeout
    with run.scope():
        try:
            # Closed before an interruption or a timeout is handled: the portal then waited
            # for the cancelled tools, so every result that finished is in `run.finished`.
            try:
                with ExitStack() as stack:
                    portal = _LazyPortal(stack)
                    while not isinstance(action, Done):
                        if isinstance(action, Fail):
                            _fail_sync(client, action)
                        with closing(_step_sync(run, client, action, portal)) as steps:
                            for item in steps:
                                if isinstance(item, _Next):
                                    action = item.action
                                else:
                                    yield item
            except Expired as expired:  # what made the run wait too long, if anything
                _fail_sync(client, run.timed_out(), cause=expired.__context__)
            run.done(action.result)
        except KeyboardInterrupt:
            _interrupted_sync(run, client)
            raise
    yield from _final_events(action.result)


def _fail_sync(client: Client, action: Fail, cause: BaseException | None = None) -> NoReturn:
    if action.cancel is not None:
        _cancel_quietly_sync(client, action.cancel)
    if cause is None:  # `from None` would erase the error's own cause
        raise action.error
    raise action.error from cause


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
    if not run.quiet:
        for call in action.calls:
            yield ToolCallEvent(call)
    in_threads = run.tools_sync(action)
    announcer = None if run.quiet else _Announcer(action.calls)
    try:
        if in_threads is not None:  # sync tools only: no event loop needed
            results = yield from _each_announced(in_threads(), announcer)
        else:
            results = yield from _in_portal(run, action, portal(), announcer)
    except ToolOutcomeUnknown as error:
        yield _Next(run.failed(error))
        return
    yield from run.tools_done(action.calls, results, announcer.announced if announcer else ())


def _each_announced(
    batch: Generator[FunctionResultStep, None, Results], announcer: _Announcer | None
) -> Generator[RunEvent, None, Results]:
    """Run a batch of sync tools, announcing each result as its tool ends (if `announcer`)."""
    with closing(batch):  # the reader left: stop waiting for the tools
        while True:
            try:
                result = next(batch)
            except StopIteration as done:
                results: Results = done.value
                return results
            if announcer is not None and (event := announcer.event(result)) is not None:
                yield event


def _in_portal(
    run: _Run, action: RunTools, portal: BlockingPortal, announcer: _Announcer | None
) -> Generator[RunEvent, None, Results]:
    """Run the batch in the portal, announcing each result as its tool ends (if `announcer`)."""
    ended: queue.Queue[FunctionResultStep | None] = queue.Queue()
    run.reporting(ended.put)
    future = portal.start_task_soon(run.tools(action))
    future.add_done_callback(lambda _: ended.put(None))
    try:
        while (result := _next_ended(ended, run.deadline)) is not None:
            if announcer is not None and (event := announcer.event(result)) is not None:
                yield event
        return future.result()
    except BaseException:
        future.cancel()  # Ctrl-C lands here, in the caller's thread; the task goes on
        raise


def _next_ended(
    ended: queue.Queue[FunctionResultStep | None], deadline: float | None
) -> FunctionResultStep | None:
    """The next result of a batch (None: it ended), waiting until `deadline` at most."""
    got: list[FunctionResultStep | None] = []

    def one_ends(timeout: float | None) -> bool:
        try:
            got.append(ended.get(timeout=timeout))
        except queue.Empty:
            return False
        return True

    if not patiently(one_ends, deadline):
        raise Expired
    return got[0]


def _request_sync(
    run: _Run, client: Client, action: Send | Poll
) -> Generator[RunEvent | _Next, None, None]:
    try:
        if isinstance(action, Poll):
            run.polling(action)
            deadline = run.deadline
            client.sleep(action.delay if deadline is None else min(action.delay, left(deadline)))
            check(deadline)
            interaction = run.bounded(partial(client.interactions.get, action.interaction_id))
        elif (made := run.sending(action)) is not None:
            interaction = run.bounded(partial(client.interactions.get, made))
        elif action.stream:
            run.before_request(action.body)
            accumulator = _accumulator()
            body = action.body
            with run.bounded(lambda: client.interactions.create(**body, stream=True)) as stream:
                read = stream._unparsed() if run.quiet else stream  # pyright: ignore[reportPrivateUsage]
                parse = stream._parse  # pyright: ignore[reportPrivateUsage]
                for event in _until_deadline(run, read):
                    yield from run.streamed(event, accumulator, action, parse)
            interaction = stream._result(accumulator)  # pyright: ignore[reportPrivateUsage]
            if run.machine.lacks_environment(interaction):
                interaction = _with_environment_sync(run, client, interaction)
        else:
            run.before_request(action.body)
            body = action.body
            interaction = run.bounded(lambda: client.interactions.create(**body, stream=False))
            run.created(interaction.id, action)
    except APIError as error:  # the client gave up: the run ends, resumable (or resends)
        check(run.deadline)  # the run's time ran out (its requests' timeouts were cut to it)
        run.end_turn(error)
        yield _Next(run.request_failed(error))
        return
    yield from run.settled(interaction)


def _until_deadline(run: _Run, stream: Iterator[T]) -> Iterator[T]:
    """The events of a sync run's stream, until the run's deadline."""
    if run.deadline is None:
        yield from stream
        return
    while (event := run.bounded(partial(next, stream, None))) is not None:
        check(run.deadline)
        yield event


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
    """Synchronous `_cancel_quietly`: the request's timeouts end by `_CANCEL_WAIT`."""
    try:
        with until(time.monotonic() + _CANCEL_WAIT):
            client.interactions.cancel(interaction_id)
    except APITimeoutError:
        _gave_up_cancelling(interaction_id)
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


def _accumulator() -> RunStream:
    # Imported here: the stream's modules and models load with the first streamed request,
    # not with `import agentkit`.
    from agentkit._run_stream import RunStream

    return RunStream()
