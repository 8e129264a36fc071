"""Shared helpers for the agent scenario tests (background, streaming, approval).

Each scenario runs through both drivers: `driver="async"` awaits `run`/`resume`/`stream`,
`driver="sync"` calls `run_sync`/`resume_sync`/`stream_sync` in a worker thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import anyio
import anyio.to_thread

from agentkit import Agent, RunResult, RunState
from agentkit.events import (
    RunCompleteEvent,
    RunEvent,
    ServerToolEvent,
    StatusEvent,
    TextDeltaEvent,
    ThoughtSummaryEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from agentkit.testing import Emulator, ModelRequest

DRIVERS = ["async", "sync"]
MODEL = "gemini-test"


async def run(agent: Agent[Any, Any], input: Any, driver: str, **kwargs: Any) -> RunResult[Any]:
    """`agent.run(...)`, or `agent.run_sync(...)` in a worker thread."""
    if driver == "async":
        return await agent.run(input, **kwargs)
    return await anyio.to_thread.run_sync(partial(agent.run_sync, input, **kwargs))


async def resume(
    agent: Agent[Any, Any],
    state: RunResult[Any] | RunState,
    approvals: Mapping[str, Any],
    driver: str,
    **kwargs: Any,
) -> RunResult[Any]:
    """`agent.resume(...)`, or `agent.resume_sync(...)` in a worker thread."""
    if driver == "async":
        return await agent.resume(state, approvals, **kwargs)
    return await anyio.to_thread.run_sync(partial(agent.resume_sync, state, approvals, **kwargs))


async def stream(agent: Agent[Any, Any], input: Any, driver: str, **kwargs: Any) -> list[RunEvent]:
    """Every event of `agent.stream(...)`, or of `agent.stream_sync(...)` in a worker thread."""
    if driver == "async":
        return [event async for event in agent.stream(input, **kwargs)]
    return await anyio.to_thread.run_sync(lambda: list(agent.stream_sync(input, **kwargs)))


def final_result(events: list[RunEvent]) -> RunResult[Any]:
    """The result of the one `RunCompleteEvent`, which must be the last event."""
    completes = [e for e in events if isinstance(e, RunCompleteEvent)]
    assert len(completes) == 1
    assert events[-1] is completes[0]
    return completes[0].result


def streamed_text(events: list[RunEvent]) -> str:
    """The concatenated text deltas."""
    return "".join(e.text for e in events if isinstance(e, TextDeltaEvent))


def describe(event: RunEvent) -> tuple[Any, ...]:
    """A comparable summary of a run event (consecutive text deltas are not merged)."""
    if isinstance(event, TextDeltaEvent):
        return ("text", event.text, event.interaction_id)
    if isinstance(event, ThoughtSummaryEvent):
        return ("thought_summary", event.text)
    if isinstance(event, ToolCallEvent):
        return ("tool_call", event.call.id, event.name, event.arguments)
    if isinstance(event, ToolResultEvent):
        return ("tool_result", event.call.id, event.ok)
    if isinstance(event, ServerToolEvent):
        return ("server_tool", event.step.type)
    if isinstance(event, StatusEvent):
        return ("status", event.status, event.interaction_id)
    return ("complete", event.result.status, event.result.interaction_id)


def kinds(events: list[RunEvent]) -> list[str]:
    """Event kinds, with each run of text deltas collapsed into one `text`."""
    out: list[str] = []
    for event in events:
        kind = str(describe(event)[0])
        if not (kind == "text" and out and out[-1] == "text"):
            out.append(kind)
    return out


def calls_summary(emulator: Emulator) -> list[tuple[str, str]]:
    """The requests the emulator received as `(method, what)`: `create`, `get <id>`, ..."""
    summary: list[tuple[str, str]] = []
    for request in emulator.requests:
        parts = request.path.rstrip("/").split("/")
        tail = parts[parts.index("interactions") + 1 :]
        if not tail:
            summary.append((request.method, "create"))
        elif len(tail) == 2:
            summary.append((request.method, f"{tail[1]} {tail[0]}"))
        elif request.query.get("stream") == "true":
            summary.append((request.method, f"stream {tail[0]}"))
        else:
            summary.append((request.method, f"get {tail[0]}"))
    return summary


def creates(emulator: Emulator) -> list[dict[str, Any]]:
    """The bodies of every create request."""
    return [
        r.body
        for r in emulator.requests
        if r.method == "POST" and r.path.rstrip("/").endswith("/interactions")
    ]


def text_result(value: Any) -> list[dict[str, Any]]:
    """The wire `result` a tool returning `value` produces (strings as is, else JSON)."""
    rendered = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return [{"type": "text", "text": rendered}]


def dropping(emulator: Emulator, k: int, reply: Any) -> Callable[[ModelRequest], Any]:
    """A Script reply that breaks its own SSE response after `k` events."""

    def answer(request: ModelRequest) -> Any:
        emulator.drop_stream_after(k)
        return reply

    return answer
