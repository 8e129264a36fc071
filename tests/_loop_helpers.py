"""Builders for the `_loop.RunMachine` unit tests: raw wire dicts in, typed models out."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from agentkit._loop import Action, LoopConfig
from agentkit.types import FunctionResultStep, Interaction, TextContent

T = TypeVar("T")

MODEL = "gemini-test"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
TIME = {
    "type": "function",
    "name": "get_time",
    "description": "Time in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
SEARCH = {"type": "google_search"}
LOCAL = frozenset({"get_weather", "get_time"})


def config(**overrides: Any) -> LoopConfig:
    """A model-mode config with two local function tools and one server tool."""
    fields: dict[str, Any] = {
        "model": MODEL,
        "tools": (WEATHER, TIME, SEARCH),
        "local_tools": LOCAL,
    }
    fields.update(overrides)
    return LoopConfig(**fields)


def interaction(
    id: str,
    status: str = "completed",
    steps: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> Interaction:
    """Parse an interaction from its raw wire form, as the client would."""
    raw: dict[str, Any] = {"id": id, "object": "interaction", "status": status, **extra}
    if steps is not None:
        raw["steps"] = steps
    return Interaction.model_validate(raw)


def user(text: str) -> dict[str, Any]:
    return {"type": "user_input", "content": [{"type": "text", "text": text}]}


def output(text: str) -> dict[str, Any]:
    return {"type": "model_output", "content": [{"type": "text", "text": text}]}


def thought(signature: str) -> dict[str, Any]:
    return {"type": "thought", "signature": signature}


def call(call_id: str, name: str = "get_weather", **arguments: Any) -> dict[str, Any]:
    return {"type": "function_call", "id": call_id, "name": name, "arguments": arguments}


def ok(call_id: str, name: str = "get_weather", value: Any = "sunny") -> FunctionResultStep:
    """What a tool run returns for a call: a text result with the JSON of `value`."""
    return FunctionResultStep(
        call_id=call_id, name=name, result=[TextContent(text=json.dumps(value))]
    )


def usage(total: int, *, inputs: int = 0, outputs: int = 0) -> dict[str, Any]:
    return {"total_tokens": total, "total_input_tokens": inputs, "total_output_tokens": outputs}


def expect(action: Action, kind: type[T]) -> T:
    """Assert the action's kind and narrow its type."""
    assert isinstance(action, kind), f"expected {kind.__name__}, got {action!r}"
    return action
