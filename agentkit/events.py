"""What a run streams, and the streams of the wire.

`Agent.stream()` / `Agent.stream_sync()` yield run events (`RunEvent`: text deltas, tool
calls and results, server tool steps, status changes, and last a `RunCompleteEvent` holding
the result). `client.interactions.create(..., stream=True)` returns an `EventStream` (an
`AsyncEventStream` from `AsyncClient`) of the wire events in `agentkit.types`, resumed after
a dropped connection.
"""

from agentkit._client_stream import AsyncEventStream, EventStream
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

__all__ = [
    "AsyncEventStream",
    "EventStream",
    "RunCompleteEvent",
    "RunEvent",
    "ServerToolEvent",
    "StatusEvent",
    "TextDeltaEvent",
    "ThoughtSummaryEvent",
    "ToolCallEvent",
    "ToolResultEvent",
]
