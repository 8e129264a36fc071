"""What a run did, and when: spans of its requests, polls and tool calls.

Timings are observations, not decisions, so the sans-IO machine never sees a clock: the
drivers feed a `TimelineRecorder`, which appends finished spans, as plain JSON dicts, to
`RunState.timeline`. The state is the one copy of the data: a partial result on error, a saved
and resumed run, and `RunResult.timeline` all read it. Times are seconds since the run started
(`RunState.started_at`, epoch seconds) measured on the monotonic clock; a resumed run goes on
from the wall clock.

Retries and stream resumptions happen inside the client, which knows nothing of runs: the
request in flight is in a context variable that the client's retry points read (`retried`,
`resumed`); between requests and outside runs it holds nothing, and they cost one look-up.
While a run streams, the consumer's own code between events shares the run's context: its
requests' retries, if any, would be noted on the run's request in flight. The variable holds
the span and the run's clock, never the recorder: a connection opened during a request keeps a
copy of the context for as long as it stays in the pool, and must not keep the run's state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Literal

from agentkit._spans import SpanKind
from agentkit.types import FunctionCallStep, FunctionResultStep, Interaction, Usage

if TYPE_CHECKING:
    from agentkit._result import RunState

__all__ = ["TimelineRecorder", "resumed", "retried"]

_MAX_ERROR = 300  # characters of an error message kept in a span
_USAGE_TOTALS = tuple(name for name in Usage.model_fields if name.startswith("total_"))
# The span of the request in flight and the origin of its run's clock (`time.monotonic()` at
# its start); None between requests and outside runs.
_current: ContextVar[tuple[float, dict[str, Any]] | None] = ContextVar(
    "agentkit_timeline", default=None
)


def retried(error: Exception, delay: float) -> None:
    """The client sends its request again after `error`: note it on the request in flight."""
    _note("retries", error, delay)


def resumed(error: Exception, delay: float) -> None:
    """The client resumes a broken stream: note it on the request in flight."""
    _note("resumes", error, delay)


def _note(key: Literal["retries", "resumes"], error: Exception, delay: float) -> None:
    if (current := _current.get()) is not None:
        origin, span = current
        entry = {"at": _since(origin), "error": _message(error), "delay": delay}
        span.setdefault(key, []).append(entry)


def _since(origin: float) -> float:
    return round(time.monotonic() - origin, 6)


class TimelineRecorder:
    """Records the spans of one driving of a run into its state (see the module docstring)."""

    __slots__ = ("_origin", "_request", "_state", "_tools")

    def __init__(self, state: RunState) -> None:
        wall = time.time()
        if state.started_at is None:
            state.started_at = wall
        self._state = state
        self._origin = time.monotonic() - (wall - state.started_at)
        self._request: dict[str, Any] | None = None
        self._tools: dict[int, tuple[float, FunctionCallStep, int]] = {}

    def _now(self) -> float:
        return _since(self._origin)

    def request(self, kind: SpanKind, turn: int, delay: float = 0.0) -> None:
        """A request (or a poll, waiting `delay` first) starts."""
        span: dict[str, Any] = {"kind": kind, "start": self._now(), "turn": turn}
        if delay:
            span["delay"] = delay
        self._request = span
        _current.set((self._origin, span))

    def received(self, interaction: Interaction) -> None:
        """The request in flight got this interaction."""
        span = self._end_request()
        if span is not None:
            span["interaction_id"] = interaction.id
            span["status"] = interaction.status
            usage = interaction.usage
            if usage is not None:  # the totals only: read directly, cheaper than a dump
                span["usage"] = {
                    key: count
                    for key in _USAGE_TOTALS
                    if (count := getattr(usage, key)) is not None
                }
            self._state.timeline.append(span)

    def failed(self, error: BaseException | str) -> None:
        """The request in flight, or the tools still running, ended with `error`."""
        message = error if isinstance(error, str) else _message(error)
        span = self._end_request()
        if span is not None:
            span["error"] = message
            self._state.timeline.append(span)
        while self._tools:
            _, (start, call, turn) = self._tools.popitem()
            self._state.timeline.append(self._tool_span(start, call, turn, message))

    def _end_request(self) -> dict[str, Any] | None:
        span, self._request = self._request, None
        if span is not None:
            span["end"] = self._now()
            _current.set(None)
        return span

    def tool_hooks(
        self,
        before: Callable[[FunctionCallStep], None] | None,
        after: Callable[[FunctionCallStep, FunctionResultStep], None] | None,
    ) -> tuple[
        Callable[[FunctionCallStep], None], Callable[[FunctionCallStep, FunctionResultStep], None]
    ]:
        """`before_tool` and `after_tool` hooks that record the calls, then call these."""
        if before is None and after is None:
            return self.tool_started, self.tool_ended

        def started(call: FunctionCallStep) -> None:
            self.tool_started(call)
            if before is not None:
                before(call)

        def ended(call: FunctionCallStep, result: FunctionResultStep) -> None:
            self.tool_ended(call, result)
            if after is not None:
                after(call, result)

        return started, ended

    def tool_started(self, call: FunctionCallStep) -> None:
        """A tool call of the batch starts (a `before_tool` hook)."""
        self._tools[id(call)] = (self._now(), call, self._state.turns)

    def tool_ended(self, call: FunctionCallStep, result: FunctionResultStep) -> None:
        """A tool call ended with `result` (an `after_tool` hook)."""
        started = self._tools.pop(id(call), None)
        if started is not None:
            start, _, turn = started
            error = _result_text(result) if result.is_error else None
            self._state.timeline.append(self._tool_span(start, call, turn, error))

    def _tool_span(
        self, start: float, call: FunctionCallStep, turn: int, error: str | None
    ) -> dict[str, Any]:
        span: dict[str, Any] = {
            "kind": "tool",
            "start": start,
            "end": self._now(),
            "turn": turn,
            "name": call.name,
            "call_id": call.id,
        }
        if error is not None:
            span["error"] = error[:_MAX_ERROR]
        return span


def _message(error: BaseException) -> str:
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    return str(text)[:_MAX_ERROR]


def _result_text(result: FunctionResultStep) -> str:
    value = result.result  # content blocks, as in agentkit's own error results, or any value
    blocks = value if isinstance(value, list) else [value]
    return " ".join(str(getattr(block, "text", None) or block) for block in blocks)
