"""The tools of one agent: declarations to send, and the concurrent execution of a batch."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import anyio

from agentkit._content import result_content
from agentkit._context import RunContext
from agentkit._exceptions import ToolOutcomeUnknown, UsageError
from agentkit._tool import FunctionTool, describe_exception, error_result, tool
from agentkit.types import (
    CodeExecution,
    FunctionCallStep,
    FunctionResultStep,
    GoogleSearch,
    UrlContext,
    WireModel,
    to_jsonable,
)

if TYPE_CHECKING:
    from agentkit._journal import CallRecord, Journal

__all__ = ["ToolHooks", "ToolSet", "code_execution", "google_search", "url_context"]

logger = logging.getLogger("agentkit.agent")

UnknownOutcome = Callable[[FunctionCallStep], Any]
"""Decides a call that started earlier and never recorded an outcome: True runs it again,
False (or None) tells the model its outcome is unknown, any other value is sent as its result."""

AgentTool = FunctionTool[..., Any] | Callable[..., Any] | WireModel | Mapping[str, Any]
"""What `Agent(tools=...)` takes: @tool functions, plain functions, server tools, raw dicts."""


def google_search(*, search_types: Sequence[str] | None = None) -> GoogleSearch:
    """The server-side Google Search tool; answers come back with `url_citation` annotations.

    Args:
        search_types: Any of `web_search`, `image_search`, `enterprise_web_search`.
    """
    if search_types is None:
        return GoogleSearch()
    return GoogleSearch(search_types=list(search_types))


def url_context() -> UrlContext:
    """The server-side URL context tool: the model may read the URLs in the prompt."""
    return UrlContext()


def code_execution() -> CodeExecution:
    """The server-side code execution tool: the model may run Python in a sandbox."""
    return CodeExecution()


@dataclasses.dataclass(frozen=True)
class ToolHooks:
    """Callbacks around each tool call (plain functions; they must not block for long)."""

    before: Callable[[FunctionCallStep], None] | None = None
    after: Callable[[FunctionCallStep, FunctionResultStep], None] | None = None


class ToolSet:
    """The function tools an agent runs locally, and the server tools it only declares."""

    def __init__(self, tools: Sequence[AgentTool]) -> None:
        self.functions: dict[str, FunctionTool[..., Any]] = {}
        declarations: list[dict[str, Any]] = []
        for item in tools:
            if isinstance(item, FunctionTool):
                function = cast("FunctionTool[..., Any]", item)
            elif isinstance(item, WireModel | Mapping):
                declarations.append(to_jsonable(item))
                continue
            elif callable(item):
                function = tool(item)
            else:
                raise UsageError(
                    f"Cannot use {item!r} as a tool: pass an @tool function, a plain function, "
                    "a server tool such as google_search(), or a tool declaration dict."
                )
            if function.name in self.functions:
                raise UsageError(
                    f"Two tools are named {function.name!r}; give one another name with "
                    "@tool(name=...)."
                )
            self.functions[function.name] = function
            declarations.append(function.declaration)
        self.declarations: tuple[dict[str, Any], ...] = tuple(declarations)

    @property
    def names(self) -> frozenset[str]:
        """Names of the function tools executed locally."""
        return frozenset(self.functions)

    def needs_approval(self, call: FunctionCallStep) -> bool:
        """Whether this call must be approved by a person before it runs."""
        function = self.functions.get(call.name)
        return function is not None and function.requires_approval(call.arguments)

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

        Async tools share one task group; sync tools run in worker threads under one limiter
        sized to the batch, so a batch of slow sync tools overlaps too. Each call is claimed in
        the journal under its idempotency key (`keys`) before its body runs and its result is
        recorded when it ends: a call whose result is recorded is answered from the journal,
        and one that started without recording an outcome runs again only if its tool is
        idempotent (or `unknown_outcome` says so).

        Args:
            finished: Receives each result as soon as its tool finishes, so a caller that is
                cancelled midway still has the results of the tools that did finish.
        """
        results: list[FunctionResultStep | None] = [None] * len(calls)
        limiter = anyio.CapacityLimiter(max(len(calls), 1))

        failures: list[Exception] = []

        async def run_one(index: int, call: FunctionCallStep) -> None:
            try:
                if hooks and hooks.before:
                    hooks.before(call)
                result = await self._once(
                    call,
                    keys[index],
                    context,
                    journal,
                    raise_errors=raise_errors,
                    limiter=limiter,
                    unknown_outcome=unknown_outcome,
                )
                results[index] = result
                if finished is not None:
                    finished.append(result)
                if hooks and hooks.after:
                    hooks.after(call, result)
            except Exception as exc:
                # Raised as is after the group, not wrapped in an ExceptionGroup: callers
                # write `except LookupError`; the other tools of the batch are cancelled.
                failures.append(exc)
                group.cancel_scope.cancel()

        async with anyio.create_task_group() as group:
            for index, call in enumerate(calls):
                group.start_soon(run_one, index, call)
        if failures:
            raise failures[0]
        return [result for result in results if result is not None]

    async def _once(
        self,
        call: FunctionCallStep,
        key: str,
        context: RunContext[Any],
        journal: Journal,
        *,
        raise_errors: bool,
        limiter: anyio.CapacityLimiter,
        unknown_outcome: UnknownOutcome | None,
    ) -> FunctionResultStep:
        function = self.functions[call.name]
        record = journal.begin(key, retry=function.idempotent)
        if record is not None and record.result is None and key in _STILL_RUNNING:
            # This process's own abandoned worker thread runs the call: wait for its outcome.
            await anyio.to_thread.run_sync(_STILL_RUNNING[key].wait, abandon_on_cancel=True)
            record = journal.begin(key, retry=function.idempotent)
        if record is not None:
            answer = _known(call, key, record, journal, unknown_outcome, raise_errors=raise_errors)
            if answer is not None:
                return answer
        logger.debug("running tool %s (call %s)", call.name, call.id)
        running = _STILL_RUNNING.setdefault(key, threading.Event())

        def record_late(result: FunctionResultStep | None) -> None:
            if result is not None:
                journal.finish(key, result.to_wire())
            _STILL_RUNNING.pop(key, None)
            running.set()

        try:
            # invoke() fills in call_id and tool_name, only for a tool that takes a context.
            result = await function.invoke(
                call,
                dataclasses.replace(context, idempotency_key=key),
                raise_errors=raise_errors,
                limiter=limiter,
                on_late=record_late,
            )
        except Exception as exc:  # raise_errors: the call ended by raising, a known outcome
            record_late(error_result(call, describe_exception(exc)))
            raise
        except BaseException:
            if function.is_async:  # a cancelled coroutine is over; a sync thread goes on
                record_late(None)
            raise
        record_late(result)
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


_STILL_RUNNING: dict[str, threading.Event] = {}
"""Calls of this process still running (in a worker thread whose run was interrupted), by
idempotency key: a resume waits for their outcome instead of calling it unknown."""


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
