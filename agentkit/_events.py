"""Events an agent run yields while it streams (`Agent.stream()` / `Agent.stream_sync()`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentkit._result import RunResult
from agentkit.types import FunctionCallStep, FunctionResultStep, Step

__all__ = [
    "RunCompleteEvent",
    "RunEvent",
    "ServerToolEvent",
    "StatusEvent",
    "TextDeltaEvent",
    "ThoughtSummaryEvent",
    "ToolCallEvent",
    "ToolResultEvent",
]


@dataclass(frozen=True)
class TextDeltaEvent:
    """A piece of the model's answer text, as it arrives."""

    text: str
    interaction_id: str | None


@dataclass(frozen=True)
class ThoughtSummaryEvent:
    """A piece of a thought summary (with `thinking_summaries` enabled)."""

    text: str
    interaction_id: str | None


@dataclass(frozen=True)
class ToolCallEvent:
    """The model called a function tool; it is about to run (or wait for approval)."""

    call: FunctionCallStep

    @property
    def name(self) -> str:
        """The tool's name."""
        return self.call.name

    @property
    def arguments(self) -> dict[str, Any]:
        """The arguments the model gave."""
        return self.call.arguments


@dataclass(frozen=True)
class ToolResultEvent:
    """A function tool finished: `result.is_error` tells whether it failed."""

    call: FunctionCallStep
    result: FunctionResultStep

    @property
    def ok(self) -> bool:
        """True when the tool succeeded."""
        return not self.result.is_error


@dataclass(frozen=True)
class ServerToolEvent:
    """A step of a tool the server ran itself (google_search_call, its result, ...)."""

    step: Step


@dataclass(frozen=True)
class StatusEvent:
    """An interaction of the run changed status (created, requires_action, completed...)."""

    status: str
    interaction_id: str | None


@dataclass(frozen=True)
class RunCompleteEvent:
    """The run ended (or paused for approval); always the last event."""

    result: RunResult[Any]


RunEvent = (
    TextDeltaEvent
    | ThoughtSummaryEvent
    | ToolCallEvent
    | ToolResultEvent
    | ServerToolEvent
    | StatusEvent
    | RunCompleteEvent
)
