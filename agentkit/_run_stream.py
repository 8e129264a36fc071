"""`RunStream`: a streamed model turn folded into its interaction, and told as run events.

Loaded with a run's first streamed request: `import agentkit` leaves the stream's models out.
"""

from __future__ import annotations

from collections.abc import Iterator

from agentkit._events import RunEvent, ServerToolEvent, TextDeltaEvent, ThoughtSummaryEvent
from agentkit._streaming import StreamAccumulator
from agentkit.types import Event, StepDeltaEvent, StepStopEvent, TextDelta, ThoughtSummaryDelta

__all__ = ["RunStream"]


class RunStream(StreamAccumulator):
    """The accumulator of one streamed turn, which also tells each event as run events."""

    def run_events(self, event: Event) -> Iterator[RunEvent]:
        """Run events for one wire event, once `apply()` has folded it in."""
        if isinstance(event, StepDeltaEvent):
            delta = event.delta
            if isinstance(delta, TextDelta):
                yield TextDeltaEvent(delta.text, self.interaction_id)
            elif isinstance(delta, ThoughtSummaryDelta):
                text = getattr(delta.content, "text", None)
                if isinstance(text, str):
                    yield ThoughtSummaryEvent(text, self.interaction_id)
        elif isinstance(event, StepStopEvent):
            kind = self.step_type(event.index)  # parse the step only when it is reported
            if kind is not None and _is_server_tool_step(kind):
                step = self.step_at(event.index)
                if step is not None:
                    yield ServerToolEvent(step)


def _is_server_tool_step(step_type: str) -> bool:
    return step_type.endswith(("_call", "_result")) and not step_type.startswith("function_")
