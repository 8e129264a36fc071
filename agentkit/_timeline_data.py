"""What the views of a run show: its spans, steps and usage as one JSON-able dict.

Shared by the HTML page, the Jupyter view and the terminal summary. It holds what the model and
the tools produced, never what the run sent to authenticate: `RunState.outbox` (a request
with server tools' credentials) and the stateless `history` stay out. Thought signatures and
inline media are replaced by their size, so a page stays small.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentkit._result import RunState
from agentkit._spans import Span, Timeline

__all__ = ["RunSummary", "run_data", "seconds", "summary"]

_BULKY = frozenset({"signature", "data"})
_KEEP = 2_000  # characters of a bulky string shown as is


def run_data(state: RunState, status: str | None) -> dict[str, Any]:
    """The run as the page's script reads it."""
    steps: list[dict[str, Any]] = []
    ids = state.step_interactions
    for index, step in enumerate(state.steps):
        clean = _slim(step)
        clean["interaction_id"] = ids[index] if index < len(ids) else None
        steps.append(clean)
    if status is None:  # a saved state: the last status the run received
        received = [span["status"] for span in state.timeline if span.get("status")]
        status = received[-1] if received else None
    return {
        "status": status,
        "run_id": state.run_id,
        "started_at": state.started_at,
        "spans": state.timeline,
        "steps": steps,
        "usage": _totals(state.usage),
    }


def _slim(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            key: _bulky(item) if key in _BULKY and isinstance(item, str) else _slim(item)
            for key, item in value.items()  # pyright: ignore[reportUnknownVariableType]
        }
    if isinstance(value, list):
        return [_slim(item) for item in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def _bulky(text: str) -> str:
    return text if len(text) <= _KEEP else f"[{len(text):,} characters]"


def _totals(usage: Mapping[str, Any]) -> dict[str, int]:
    return {key: value for key, value in usage.items() if type(value) is int}


class RunSummary:
    """Counts of a run for one-line summaries: turns, tool calls, errors, tokens, time."""

    def __init__(self, state: RunState, status: str | None = None) -> None:
        timeline = Timeline.of(state)
        self.status = status
        self.turns = state.turns
        tools = timeline.tool_calls
        self.tool_calls = len(tools)
        self.tool_errors = sum(1 for span in tools if span.error is not None)
        self.retries = sum(len(span.retries) + len(span.resumes) for span in timeline.spans)
        self.tokens = _totals(state.usage).get("total_tokens", 0)
        self.seconds = timeline.duration
        self.spans: tuple[Span, ...] = timeline.spans

    def __str__(self) -> str:
        parts = [
            _count(self.turns, "turn"),
            _count(self.tool_calls, "tool call")
            + (f" ({self.tool_errors} failed)" if self.tool_errors else ""),
        ]
        if self.retries:
            parts.append(_count(self.retries, "retry", "retries"))
        parts += [f"{self.tokens:,} tokens", seconds(self.seconds)]
        head = f"{self.status}: " if self.status else ""
        return head + ", ".join(parts)


def summary(state: RunState, status: str | None = None) -> str:
    """One line: `completed: 2 turns, 3 tool calls (1 failed), 1,234 tokens, 1.20 s`."""
    return str(RunSummary(state, status))


def seconds(value: float) -> str:
    """A duration for people: `850 ms`, `1.20 s`."""
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"
