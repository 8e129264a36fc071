"""The timings of a run as data: `Timeline`, its `Span`s and their `Retry`s (no clock here).

`RunState.timeline` holds the spans as JSON dicts, recorded by the drivers (`_timeline.py`);
these read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from agentkit._result import RunState

__all__ = ["Retry", "Span", "SpanKind", "Timeline"]

SpanKind = Literal["request", "poll", "tool"]


@dataclass(frozen=True)
class Retry:
    """A request sent again by the client, or a broken stream resumed, after an error."""

    at: float
    """When the error happened, in seconds since the run started."""
    error: str
    delay: float
    """Seconds waited before trying again."""


@dataclass(frozen=True)
class Span:
    """One request, poll or tool call of a run; times are seconds since the run started."""

    kind: SpanKind
    start: float
    end: float
    turn: int
    """The model turn: the request's number, or the one whose calls a tool batch runs."""
    name: str = ""
    """The tool's name (tool calls)."""
    call_id: str | None = None
    """The function call's id (tool calls)."""
    interaction_id: str | None = None
    status: str | None = None
    """The interaction's status when the request or poll ended."""
    error: str | None = None
    """Why it failed: the error that ended the request, or the tool's error result."""
    retries: tuple[Retry, ...] = ()
    """Attempts that failed before the one that counted (requests and polls)."""
    resumes: tuple[Retry, ...] = ()
    """Times a streamed response broke and was resumed from its last event."""
    usage: Mapping[str, Any] | None = None
    """The token usage the interaction reported (requests and polls)."""
    delay: float = 0.0
    """Seconds a poll waited before its request (included in the span)."""

    @property
    def duration(self) -> float:
        """Seconds from start to end."""
        return self.end - self.start

    @property
    def label(self) -> str:
        """A short name: `turn 2`, `poll 2`, or the tool's name."""
        if self.kind == "tool":
            return self.name
        return f"{'turn' if self.kind == 'request' else 'poll'} {self.turn}"

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Span:
        """A span from its dict in `RunState.timeline` (keys it does not know are left out)."""
        values = {key: value for key, value in raw.items() if key in _SPAN_FIELDS}
        for name in ("retries", "resumes"):
            values[name] = tuple(Retry(**entry) for entry in values.get(name, ()))
        return cls(**values)


_SPAN_FIELDS = frozenset(field.name for field in fields(Span))


@dataclass(frozen=True)
class Timeline:
    """The timings of a run: `RunResult.timeline`."""

    started_at: float | None
    """When the run started, in seconds since the epoch (None: nothing was recorded)."""
    spans: tuple[Span, ...] = ()
    """Every request, poll and tool call that ended, in the order they ended."""

    @classmethod
    def of(cls, state: RunState) -> Timeline:
        """The timeline kept in a run's state."""
        return cls(state.started_at, tuple(Span.from_wire(raw) for raw in state.timeline))

    @property
    def duration(self) -> float:
        """Seconds from the start of the run to the end of its last span."""
        return max((span.end for span in self.spans), default=0.0)

    @property
    def requests(self) -> list[Span]:
        """The model requests (create calls)."""
        return [span for span in self.spans if span.kind == "request"]

    @property
    def tool_calls(self) -> list[Span]:
        """The function tool calls."""
        return [span for span in self.spans if span.kind == "tool"]
