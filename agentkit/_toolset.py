"""The tools of one agent: declarations to send, and the concurrent execution of a batch."""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import copy
import dataclasses
import logging
import sys
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Generator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio
import sniffio
from anyio.lowlevel import RunVar

from agentkit._content import result_content
from agentkit._context import RunContext, changed
from agentkit._deadline import Expired, check, patiently
from agentkit._exceptions import ToolOutcomeUnknown, UsageError
from agentkit._hooks import NULL, Around, Entered, ToolScope, entered
from agentkit._tool import FunctionTool, NeverRan, SyncCall, describe_exception, tool
from agentkit._tool_error import error_result
from agentkit._tool_source import Listed, LocalTool, ToolSource
from agentkit.types import (
    FunctionCallStep,
    FunctionResultStep,
    WireModel,
    to_jsonable,
)

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from agentkit._journal import CallRecord, Journal

__all__ = ["ToolHooks", "ToolSet"]

logger = logging.getLogger("agentkit.agent")

UnknownOutcome = Callable[[FunctionCallStep], Any]
"""Decides a call that started earlier and never recorded an outcome: True runs it again,
False (or None) tells the model its outcome is unknown, any other value is sent as its result."""

AgentTool = FunctionTool[..., Any] | Callable[..., Any] | WireModel | Mapping[str, Any] | ToolSource
"""What `Agent(tools=...)` takes: @tool functions, plain functions, server tools, raw dicts,
and tool sources such as MCP servers (`agentkit.mcp`)."""


@dataclasses.dataclass(frozen=True)
class ToolHooks:
    """Callbacks around each tool call (plain functions; they must not block for long)."""

    before: Callable[[FunctionCallStep], None] | None = None
    after: Callable[[FunctionCallStep, FunctionResultStep], None] | None = None
    around: Around[ToolScope] | None = None
    """Entered where the call runs (its own task or the run's, or the context its worker
    thread copies)."""


class _Limits:
    """The cap on the concurrent calls of an agent's tools, shared by its runs' tool sets.

    A call holding a slot marks the context it runs in (`_HOLDING`): the calls of a run that
    it starts there (the agent used inside its own tool) run within its slot. Taking slots of
    their own, nested calls would wait for the very slots their callers hold.
    """

    def __init__(self, max_concurrent: int | None) -> None:
        self.max_concurrent = max_concurrent
        self.sync_slots = None if max_concurrent is None else threading.Semaphore(max_concurrent)


_HOLDING: contextvars.ContextVar[frozenset[_Limits]] = contextvars.ContextVar(
    "agentkit_tool_slots_held", default=frozenset()
)
"""The caps whose slot a call running in this context (or one that started it) holds."""


class ToolSet:
    """The function tools an agent runs locally, and the server tools it only declares.

    Tool sources (MCP servers) are listed at the start of each run: `for_run()` makes that
    run's tool set, which also holds their tools.
    """

    def __init__(self, tools: Sequence[AgentTool], *, max_concurrent: int | None = None) -> None:
        if max_concurrent is not None and (
            not isinstance(max_concurrent, int) or max_concurrent < 1  # pyright: ignore[reportUnnecessaryIsInstance]
        ):
            raise UsageError(
                f"max_concurrent_tools must be an int >= 1 or None, not {max_concurrent!r}."
            )
        self._limits = _Limits(max_concurrent)
        self.functions: dict[str, LocalTool] = {}
        self._origins: dict[str, str] = {}
        sources: list[ToolSource] = []
        declarations: list[dict[str, Any]] = []
        for item in tools:
            if isinstance(item, FunctionTool):
                function = cast("FunctionTool[..., Any]", item)
                function.check_callable()  # before the model is told of it
            elif isinstance(item, ToolSource):
                if item in sources:
                    raise UsageError(f"{item.label} is given twice in tools=.")
                sources.append(item)
                continue
            elif isinstance(item, WireModel | Mapping):
                declarations.append(to_jsonable(item))
                continue
            elif callable(item):
                function = tool(item)
            else:
                raise UsageError(
                    f"Cannot use {item!r} as a tool: pass an @tool function, a plain function, "
                    "a server tool such as google_search(), an MCP server (agentkit.mcp) or a "
                    "tool declaration dict."
                )
            if function.name in self.functions:
                raise UsageError(
                    f"Two tools are named {function.name!r}; give one another name with "
                    "@tool(name=...)."
                )
            self._add(function, "function tool")
            declarations.append(function.declaration)
        self.sources: tuple[ToolSource, ...] = tuple(sources)
        """Where more tools come from, listed at the start of each run (MCP servers)."""
        self.declarations: tuple[dict[str, Any], ...] = tuple(declarations)

    def _add(self, function: LocalTool, origin: str) -> None:
        known = self._origins.get(function.name)
        if known is not None:
            raise UsageError(
                f"Two tools are named {function.name!r}: one from {known}, one from {origin}. "
                "Rename the function tool with @tool(name=...), or give the MCP server a "
                "prefix= (or leave the tool out with allowed_tools=)."
            )
        self.functions[function.name] = function
        self._origins[function.name] = origin

    def for_run(self, listed: Listed) -> ToolSet:
        """This tool set with the tools listed from its sources for one run.

        Raises:
            UsageError: A listed tool has the name of another tool.
        """
        if not listed:
            return self
        run = copy.copy(self)
        run.functions, run._origins = dict(self.functions), dict(self._origins)
        declarations = list(self.declarations)
        for source, tools in listed:
            for function in tools:
                run._add(function, source.label)
                declarations.append(function.declaration)
        run.declarations = tuple(declarations)
        return run

    def replaced(self, tools: Sequence[AgentTool]) -> ToolSet:
        """Another set of tools for one run, under the same cap on concurrent calls.

        Raises:
            UsageError: A tool is not one, two share a name, or one is an MCP server (its
                connection belongs to the agent: give it to `Agent(tools=...)`).
        """
        run = ToolSet(tools)
        if run.sources:
            raise UsageError(
                f"{run.sources[0].label} cannot be given for one run: the agent holds MCP "
                "servers' connections, so give it to Agent(tools=...)."
            )
        run._limits = self._limits
        return run

    @property
    def max_concurrent(self) -> int | None:
        """Most calls of these tools running at once (None: no cap)."""
        return self._limits.max_concurrent

    @property
    def names(self) -> frozenset[str]:
        """Names of the function tools executed locally."""
        return frozenset(self.functions)

    def needs_approval(self, call: FunctionCallStep) -> bool:
        """Whether this call must be approved by a person before it runs."""
        function = self.functions.get(call.name)
        return function is not None and function.requires_approval(call.arguments)

    def check_arguments(self, call: FunctionCallStep) -> str | None:
        """What is wrong with the arguments of a function tool's call; None when they fit.

        An MCP server checks the arguments of its own tools.
        """
        function = self.functions.get(call.name)
        if isinstance(function, FunctionTool):
            return cast("FunctionTool[..., Any]", function).check_arguments(call)
        return None

    @property
    def tool_retries(self) -> dict[str, int]:
        """The `retries` of the function tools that set their own."""
        retries: dict[str, int] = {}
        for name, function in self.functions.items():
            if isinstance(function, FunctionTool):
                own = cast("FunctionTool[..., Any]", function).retries
                if own is not None:
                    retries[name] = own
        return retries

    def _async_slots(self) -> anyio.CapacityLimiter | None:
        """The cap of this event loop on these tools' calls (None: no cap)."""
        if self.max_concurrent is None:
            return None
        try:
            slots = _ASYNC_SLOTS.get()
        except LookupError:
            slots = weakref.WeakKeyDictionary[_Limits, anyio.CapacityLimiter]()
            _ASYNC_SLOTS.set(slots)
        limiter = slots.get(self._limits)
        if limiter is None:
            limiter = slots[self._limits] = anyio.CapacityLimiter(self.max_concurrent)
        return limiter

    def _start_sync(
        self, claim: _Claim, context: RunContext[Any], deadline: float | None, here: bool
    ) -> FunctionResultStep | SyncCall:
        """Start a claimed call once a slot is free; its thread frees the slot when it ends."""
        slots = self._limits.sync_slots
        if slots is None or self._limits in _HOLDING.get():
            return claim.start_sync(context, deadline, here=here)
        if not patiently(lambda timeout: slots.acquire(timeout=timeout), deadline):
            raise Expired
        # Set while the call starts: its worker thread copies the context, marker included.
        holding = _HOLDING.set(_HOLDING.get() | {self._limits})
        try:
            started = claim.start_sync(context, deadline, here=here)
        except BaseException:
            slots.release()
            raise
        finally:
            _HOLDING.reset(holding)
        if isinstance(started, SyncCall):
            started.future.add_done_callback(lambda _: slots.release())
        else:
            slots.release()
        return started

    async def run_all(
        self,
        calls: Sequence[FunctionCallStep],
        keys: Sequence[str],
        context: RunContext[Any],
        journal: Journal,
        *,
        raise_errors: bool = False,
        hooks: ToolHooks | None = None,
        unknown_outcome: UnknownOutcome | None = None,
        finished: list[FunctionResultStep] | None = None,
    ) -> list[FunctionResultStep]:
        """Run every call concurrently, each at most once; results come back in call order.

        Async tools share one task group; sync tools run in anyio's worker threads (its
        default limiter bounds them, for every run on the event loop). Each call is claimed in
        the journal under its idempotency key (`keys`) before its body runs and its result is
        recorded when it ends: a call whose result is recorded is answered from the journal,
        and one that started without recording an outcome runs again only if its tool is
        idempotent (or `unknown_outcome` says so).

        Args:
            finished: Receives each result as soon as its tool finishes, so a caller that is
                cancelled midway still has the results of the tools that did finish.
        """
        batch = _Batch(calls, hooks or ToolHooks(), finished)
        failures: list[Exception] = []
        slots = None if self._limits in _HOLDING.get() else self._async_slots()

        async def run_one(index: int, call: FunctionCallStep) -> None:
            batch.before(index)
            borrower = object()  # the call's, not its task's: one task may run nested calls
            if slots is not None:
                await slots.acquire_on_behalf_of(borrower)
            holding = None if slots is None else _HOLDING.set(_HOLDING.get() | {self._limits})
            try:
                with batch.scope(index):
                    result = await self._once(
                        call,
                        keys[index],
                        context,
                        journal,
                        raise_errors=raise_errors,
                        unknown_outcome=unknown_outcome,
                    )
                    batch.ended(index, result)
            finally:
                if holding is not None:
                    _HOLDING.reset(holding)
                if slots is not None:
                    slots.release_on_behalf_of(borrower)
            batch.done(index, result)

        async def run_in_group(group: TaskGroup, index: int, call: FunctionCallStep) -> None:
            try:
                await run_one(index, call)
            except Exception as exc:
                # Raised as is after the group, not wrapped in an ExceptionGroup: callers
                # write `except LookupError`; the other tools of the batch are cancelled.
                failures.append(exc)
                group.cancel_scope.cancel()

        if len(calls) < 2:  # nothing to run alongside: no task group to pay for
            for index, call in enumerate(calls):
                await run_one(index, call)
        else:
            await _together(calls, run_in_group)
        if failures:
            raise failures[0]
        return batch.results()

    async def _once(
        self,
        call: FunctionCallStep,
        key: str,
        context: RunContext[Any],
        journal: Journal,
        *,
        raise_errors: bool,
        unknown_outcome: UnknownOutcome | None,
    ) -> FunctionResultStep:
        function = self.functions[call.name]
        claim = _Claim(call, key, journal, function, unknown_outcome, raise_errors=raise_errors)
        if claim.still_running is not None:
            # This process's own abandoned worker thread runs the call: wait for its outcome.
            await anyio.to_thread.run_sync(claim.still_running.wait, abandon_on_cancel=True)
            claim.again()
        if claim.answer is not None:
            return claim.answer
        try:
            result = await function.invoke(
                call,
                claim.context(context),
                raise_errors=raise_errors,
                on_late=claim.record,
            )
        except NeverRan:
            claim.record(None)
            raise
        except Exception as exc:  # raise_errors: the call ended by raising, a known outcome
            claim.record(error_result(call, describe_exception(exc)))
            raise
        except BaseException:
            if function.is_async:  # a cancelled coroutine is over; a sync thread goes on
                claim.record(None)
            raise
        claim.record(result)
        return result

    def run_all_sync(
        self,
        calls: Sequence[FunctionCallStep],
        keys: Sequence[str],
        context: RunContext[Any],
        journal: Journal,
        *,
        raise_errors: bool = False,
        hooks: ToolHooks | None = None,
        unknown_outcome: UnknownOutcome | None = None,
        finished: list[FunctionResultStep] | None = None,
        deadline: float | None = None,
    ) -> Generator[FunctionResultStep, None, list[FunctionResultStep]]:
        """`run_all` for a batch of sync tools, without an event loop.

        Every call is claimed in the caller's thread (where the hooks run too); the tools run
        concurrently in the process's shared worker threads while the caller waits. Yields
        each result as its call ends and returns them all, in call order. Ctrl-C, closing the
        generator, or the run's `deadline` (`time.monotonic()`: then `Expired` is raised)
        stops the wait, not the tools: each one still records its outcome when it ends.

        A batch's only call runs in the caller's thread instead when nothing would stop
        waiting for it (see `_here`); Ctrl-C then stops the tool, and its outcome is unknown.
        """
        batch = _Batch(calls, hooks or ToolHooks(), finished)
        running: dict[concurrent.futures.Future[Any], tuple[int, _Claim, SyncCall]] = {}
        alone = len(calls) == 1 and deadline is None
        try:
            for index, call in enumerate(calls):
                batch.before(index)
                function = self.functions[call.name]
                claim = _Claim(
                    call, keys[index], journal, function, unknown_outcome,
                    raise_errors=raise_errors,
                )  # fmt: skip
                here = alone and _here(function)
                start = partial(self._start_sync, claim, context, deadline, here)
                started = batch.start(index, start)
                if isinstance(started, SyncCall):
                    running[started.future] = (index, claim, started)
                else:
                    batch.ended(index, started)
                    batch.done(index, started)
                    yield started
            while running:
                for future in _ready(running, deadline):
                    index, claim, started = running.pop(future)
                    result = claim.result(started, raise_errors=raise_errors)
                    batch.ended(index, result)
                    batch.done(index, result)
                    yield result
        except BaseException as error:
            for _, _, started in running.values():  # each records its outcome when it ends
                started.abandon()
            batch.abort(error)
            raise
        return batch.results()


async def _together(
    calls: Sequence[FunctionCallStep],
    run: Callable[[TaskGroup, int, FunctionCallStep], Coroutine[Any, Any, None]],
) -> None:
    """Run every call concurrently in one task group; the last one in this task.

    That is one task fewer to pay for, and a failure of any call still cancels the others
    (`run` cancels the group). The last call starts after the others have, so on asyncio
    their `before_tool` hooks run in call order.
    """
    *others, last = range(len(calls))
    async with anyio.create_task_group() as group:
        for index in others:
            group.start_soon(run, group, index, calls[index])
        await anyio.lowlevel.checkpoint()
        await run(group, last, calls[last])


class _Batch:
    """The results of one batch as its calls end, with the hooks around each call."""

    def __init__(
        self,
        calls: Sequence[FunctionCallStep],
        hooks: ToolHooks,
        finished: list[FunctionResultStep] | None,
    ) -> None:
        self._calls = calls
        self._hooks = hooks
        self._finished = finished
        self._results: list[FunctionResultStep | None] = [None] * len(calls)
        self._scopes: dict[int, ToolScope] = {}
        self._open: dict[int, tuple[contextvars.Context, Entered]] = {}
        """The `around` hooks entered by `start`, each in the context of its call."""

    def before(self, index: int) -> None:
        if self._hooks.before:
            self._hooks.before(self._calls[index])

    def scope(self, index: int) -> contextlib.AbstractContextManager[object]:
        """The `around` hook of a call, entered by the task that runs it."""
        around = self._hooks.around
        if around is None:
            return NULL
        scope = self._scopes[index] = ToolScope(self._calls[index])
        return entered(around, scope)

    def start(self, index: int, start: Callable[[], _T]) -> _T:
        """Start a call inside its `around` hook, without a task of its own.

        The hook is entered in a copy of the caller's context, which `start` runs in (a sync
        tool's worker thread copies it again): calls started one after the other overlap
        without seeing each other's context variables.
        """
        around = self._hooks.around
        if around is None:
            return start()
        scope = self._scopes[index] = ToolScope(self._calls[index])
        context = contextvars.copy_context()
        self._open[index] = (context, context.run(Entered, around(scope)))
        return context.run(start)

    def ended(self, index: int, result: FunctionResultStep) -> None:
        """A call's result, for its `around` hook, which exits if `start` entered it."""
        scope = self._scopes.get(index)
        if scope is not None:
            scope.result = result
        opened = self._open.pop(index, None)
        if opened is not None:
            context, manager = opened
            context.run(manager.exit)

    def abort(self, error: BaseException) -> None:
        """The batch stopped: exit the `around` hooks still open, with the error."""
        while self._open:
            _, (context, manager) = self._open.popitem()
            context.run(manager.exit, error)

    def done(self, index: int, result: FunctionResultStep) -> None:
        self._results[index] = result
        if self._finished is not None:
            self._finished.append(result)
        if self._hooks.after:
            self._hooks.after(self._calls[index], result)

    def results(self) -> list[FunctionResultStep]:
        """Every result, in call order."""
        return [result for result in self._results if result is not None]


def _here(function: LocalTool) -> bool:
    """Whether a sync call may run in the caller's thread instead of a worker thread.

    A worker thread is what lets a run stop waiting for a tool. Ctrl-C reaches only the main
    thread, where it would stop the tool midway: there only an idempotent tool (which a resume
    runs again) runs in the caller. An event loop running in the thread would keep the tool
    from running one of its own (`asyncio.run`), so none may run.
    """
    if threading.current_thread() is threading.main_thread() and not function.idempotent:
        return False
    asyncio = sys.modules.get("asyncio")  # not imported: no asyncio loop runs anywhere
    if asyncio is not None and asyncio.events._get_running_loop() is not None:
        return False  # also outside a task (a loop's callback), where sniffio sees no asyncio
    try:
        sniffio.current_async_library()  # trio, or another library's loop in this thread
    except sniffio.AsyncLibraryNotFoundError:
        return True
    return False


def _ready(
    running: Mapping[concurrent.futures.Future[Any], tuple[int, _Claim, SyncCall]],
    run_deadline: float | None = None,
) -> list[concurrent.futures.Future[Any]]:
    """Wait until a call ends or reaches its deadline; those calls, in call order.

    Raises:
        Expired: The run's deadline passed first.
    """
    deadlines = [started.deadline for _, _, started in running.values() if started.deadline]
    if run_deadline is not None:
        deadlines.append(run_deadline)

    def one_ends(timeout: float | None) -> bool:
        first = concurrent.futures.FIRST_COMPLETED
        return bool(concurrent.futures.wait(running, timeout, return_when=first).done)

    if not patiently(one_ends, min(deadlines) if deadlines else None):
        check(run_deadline)
    now = time.monotonic()
    return [
        future
        for future, (_, _, started) in running.items()
        if future.done() or (started.deadline is not None and started.deadline <= now)
    ]


class _Claim:
    """One call's entry in the journal: answered from it, or claimed to run now."""

    def __init__(
        self,
        call: FunctionCallStep,
        key: str,
        journal: Journal,
        function: LocalTool,
        unknown_outcome: UnknownOutcome | None,
        *,
        raise_errors: bool,
    ) -> None:
        self._call, self._key, self._journal = call, key, journal
        self._function = function
        self._unknown_outcome = unknown_outcome
        self._raise_errors = raise_errors
        self.answer: FunctionResultStep | None = None
        """The call's result without running it: recorded earlier, or its outcome unknown."""
        self._running_key = (id(journal), key)
        self.still_running: threading.Event | None = None
        """Set when this process's abandoned worker thread, still running the call, ends."""
        # Checked before claiming: an idempotent call would be claimed again at once, and run
        # twice at the same time.
        running = _STILL_RUNNING.get(self._running_key)
        record = journal.get(key) if running is not None else None
        if running is not None and record is not None and record.result is None:
            self.still_running = running
        else:
            self._decide(journal.begin(key, retry=function.idempotent))

    def again(self) -> None:
        """Claim once more, after the thread that was running the call ended."""
        self.still_running = None
        self._decide(self._journal.begin(self._key, retry=self._function.idempotent))

    def _decide(self, record: CallRecord | None) -> None:
        if record is not None:
            self.answer = _known(
                self._call,
                self._key,
                record,
                self._journal,
                self._unknown_outcome,
                raise_errors=self._raise_errors,
            )
        if self.answer is None:
            logger.debug("running tool %s (call %s)", self._call.name, self._call.id)
            self._running = _STILL_RUNNING.setdefault(self._running_key, threading.Event())

    def context(self, context: RunContext[Any]) -> RunContext[Any]:
        """The run's context for this call: its idempotency key is the journal's key.

        `invoke()` fills in call_id and tool_name, only for a tool that takes a context.
        """
        return changed(context, idempotency_key=self._key)

    def record(self, result: FunctionResultStep | None) -> None:
        """The call ended (`None`: it never ran); late when its run stopped waiting for it."""
        if result is not None:
            self._journal.finish(self._key, result.to_wire())
        _STILL_RUNNING.pop(self._running_key, None)
        self._running.set()

    def start_sync(
        self, context: RunContext[Any], deadline: float | None = None, *, here: bool = False
    ) -> FunctionResultStep | SyncCall:
        """Start the call of a sync tool in a worker thread (see `result`), or answer it now.

        The answer comes from the journal, or is the recorded error of invalid arguments.
        `here`: the tool may run in this thread instead (see `FunctionTool.start_sync`).

        Raises:
            Expired: The run's `deadline` passed while this process's abandoned thread of the
                same call still ran.
        """
        if self.still_running is not None:
            if not patiently(self.still_running.wait, deadline):
                raise Expired
            self.again()
        if self.answer is not None:
            return self.answer
        started = self._function.start_sync(
            self._call, self.context(context), on_late=self.record, here=here
        )
        if isinstance(started, FunctionResultStep):
            self.record(started)
        return started

    def result(self, call: SyncCall, *, raise_errors: bool) -> FunctionResultStep:
        """Wait for the started call; its outcome is recorded (a late one, when it ends)."""
        try:
            result = call.result(raise_errors=raise_errors)
        except NeverRan:
            self.record(None)
            raise
        except Exception as exc:  # raise_errors: the call ended by raising, a known outcome
            self.record(error_result(self._call, describe_exception(exc)))
            raise
        self.record(result)
        return result


def _known(
    call: FunctionCallStep,
    key: str,
    record: CallRecord,
    journal: Journal,
    unknown_outcome: UnknownOutcome | None,
    *,
    raise_errors: bool,
) -> FunctionResultStep | None:
    """The answer to a call the journal knew, or None to run it (claimed again)."""
    if record.result is not None:
        logger.debug("call %s (%s) already ran: its recorded result is sent", call.id, key)
        return _recorded(call, record.result)
    decision = unknown_outcome(call) if unknown_outcome is not None else False
    if decision is True:
        again = journal.begin(key, retry=True)
        return None if again is None or again.result is None else _recorded(call, again.result)
    result = _unknown(call, key, decision, raise_errors=raise_errors)
    if decision is not False and decision is not None:
        journal.finish(key, result.to_wire())  # decided once, for every later resume
    return result


_T = TypeVar("_T")

_ASYNC_SLOTS: RunVar[weakref.WeakKeyDictionary[_Limits, anyio.CapacityLimiter]] = RunVar(
    "agentkit_tool_slots"
)
"""Per event loop: each capped agent's limiter (anyio's limiters belong to one loop)."""

_STILL_RUNNING: dict[tuple[int, str], threading.Event] = {}
"""Calls of this process still running (in a worker thread whose run was interrupted), by
journal and idempotency key: a resume waits for their outcome instead of calling it unknown."""


def _recorded(call: FunctionCallStep, wire: Mapping[str, Any]) -> FunctionResultStep:
    step = FunctionResultStep.model_validate(wire)
    return step.model_copy(update={"call_id": call.id or "", "name": call.name})


def _unknown(
    call: FunctionCallStep, key: str, decision: Any, *, raise_errors: bool
) -> FunctionResultStep:
    if decision is not False and decision is not None:
        if isinstance(decision, FunctionResultStep):
            return decision.model_copy(update={"call_id": call.id or "", "name": call.name})
        return FunctionResultStep(
            call_id=call.id or "", name=call.name, result=result_content(decision)
        )
    message = (
        f"An earlier attempt of this call to {call.name!r} started but its outcome is unknown "
        "(the process running it stopped or was interrupted); it was not run again. Check "
        "whether it took effect before calling it again."
    )
    if raise_errors:
        raise ToolOutcomeUnknown(message, call=call, idempotency_key=key)
    return error_result(call, message)
