"""Server-sent events of a streamed interaction."""

from typing import Annotated, Any, Literal, Union

from pydantic import Tag, TypeAdapter

from agentkit.types._base import UNKNOWN, OpenTag, WireModel, build_models
from agentkit.types._deltas import Delta
from agentkit.types._interaction import Interaction
from agentkit.types._steps import Step
from agentkit.types._usage import ErrorDetail, Usage

__all__ = [
    "ErrorEvent",
    "Event",
    "InteractionCompletedEvent",
    "InteractionCreatedEvent",
    "InteractionStatusUpdateEvent",
    "StepDeltaEvent",
    "StepStartEvent",
    "StepStopEvent",
    "UnknownEvent",
    "parse_event",
]


class InteractionCreatedEvent(WireModel):
    """The first event: a partial interaction with its `id` and `status`."""

    event_type: Literal["interaction.created"] = "interaction.created"
    event_id: str | None = None
    interaction: Interaction


class StepStartEvent(WireModel):
    """Opens step `index`; `step` is a skeleton that may lack required fields."""

    event_type: Literal["step.start"] = "step.start"
    event_id: str | None = None
    index: int
    step: Step


class StepDeltaEvent(WireModel):
    """A piece of step `index`."""

    event_type: Literal["step.delta"] = "step.delta"
    event_id: str | None = None
    index: int
    delta: Delta
    metadata: dict[str, Any] | None = None
    """`{"total_usage": Usage}` when present."""


class StepStopEvent(WireModel):
    """Closes step `index`."""

    event_type: Literal["step.stop"] = "step.stop"
    event_id: str | None = None
    index: int
    usage: Usage | None = None
    step_usage: Usage | None = None


class InteractionStatusUpdateEvent(WireModel):
    """A status change; may carry a `continuation_token` checkpoint."""

    event_type: Literal["interaction.status_update"] = "interaction.status_update"
    event_id: str | None = None
    interaction_id: str = ""
    status: str = ""
    continuation_token: str | None = None
    usage: Usage | None = None


class InteractionCompletedEvent(WireModel):
    """The last event of the HTTP stream. Check `interaction.status`: it may not be completed."""

    event_type: Literal["interaction.completed"] = "interaction.completed"
    event_id: str | None = None
    interaction: Interaction


class ErrorEvent(WireModel):
    """An in-stream failure, e.g. `{"code": "resource_exhausted", "message": ...}`."""

    event_type: Literal["error"] = "error"
    event_id: str | None = None
    error: ErrorDetail | None = None


class UnknownEvent(WireModel):
    """An event type this version does not know; every field is kept."""

    event_type: str = ""
    event_id: str | None = None


_EVENT_TAG = OpenTag("event_type")
Event = Annotated[
    # Union[...], not `|`: chained `|` rebuilds the union at each member (slower import).
    Union[  # noqa: UP007
        Annotated[InteractionCreatedEvent, Tag("interaction.created")],
        Annotated[StepStartEvent, Tag("step.start")],
        Annotated[StepDeltaEvent, Tag("step.delta")],
        Annotated[StepStopEvent, Tag("step.stop")],
        Annotated[InteractionStatusUpdateEvent, Tag("interaction.status_update")],
        Annotated[InteractionCompletedEvent, Tag("interaction.completed")],
        Annotated[ErrorEvent, Tag("error")],
        Annotated[UnknownEvent, Tag(UNKNOWN)],
    ],
    _EVENT_TAG.discriminator,
]
"""A stream event (open union on `event_type`)."""
_EVENT_TAG.learn(Event)

_adapter: TypeAdapter[Event] | None = None
"""Built by the first `parse_event()` call, not at import."""


def _event_adapter() -> TypeAdapter[Event]:
    global _adapter
    if _adapter is None:
        build_models(Event)
        _adapter = TypeAdapter(Event)
    return _adapter


def parse_event(data: str | bytes | dict[str, Any]) -> Event:
    """Parse one event from the JSON text of an SSE `data:` field, or from a JSON object."""
    adapter = _adapter or _event_adapter()
    if isinstance(data, (str, bytes)):
        return adapter.validate_json(data)
    return adapter.validate_python(data)
