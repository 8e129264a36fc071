"""Interactions steps as the GenAI semantic conventions' messages (`gen_ai.input.messages`...).

Only with `include_content=True`: these hold the prompts, the answers and the tools' data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, cast

from agentkit.types import Interaction, to_jsonable

__all__ = ["input_messages", "output_messages", "system_instructions", "to_json"]

_ECHOES = frozenset({"user_input", "function_result"})
_MODALITIES = {"image": "image", "audio": "audio", "video": "video"}


def to_json(value: Any) -> str:
    """A value as compact JSON (what isn't JSON becomes its text)."""
    return json.dumps(to_jsonable(value), ensure_ascii=False, separators=(",", ":"), default=str)


def system_instructions(text: str) -> str:
    """`gen_ai.system_instructions`."""
    return to_json([{"type": "text", "content": text}])


def input_messages(value: Any) -> str:
    """`gen_ai.input.messages`: a request's `input` (text, content blocks or steps)."""
    if isinstance(value, str):
        return to_json([{"role": "user", "parts": [{"type": "text", "content": value}]}])
    items: list[Any] = to_jsonable(value) if isinstance(value, list | tuple) else [value]
    steps = [cast("Mapping[str, Any]", item) for item in items if isinstance(item, Mapping)]
    return to_json(_messages(_step(step) for step in steps))


def output_messages(interaction: Interaction) -> str:
    """`gen_ai.output.messages`: what the model added to the interaction."""
    steps = [to_jsonable(step) for step in interaction.steps or ()]
    produced = (_step(step) for step in steps if step.get("type") not in _ECHOES)
    messages = _messages(produced)
    for message in messages:
        message["finish_reason"] = interaction.status
    return to_json(messages)


def _messages(parts: Iterable[tuple[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """One message per run of parts of the same role."""
    messages: list[dict[str, Any]] = []
    for role, found in parts:
        if messages and messages[-1]["role"] == role:
            messages[-1]["parts"].extend(found)
        else:
            messages.append({"role": role, "parts": list(found)})
    return messages


def _step(step: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """A wire step's role and message parts."""
    kind = step.get("type")
    if kind == "user_input":
        return "user", _contents(step.get("content"))
    if kind == "function_result":
        response = {"type": "tool_call_response", "id": step.get("call_id")}
        return "tool", [{**response, "response": step.get("result")}]
    if kind == "model_output":
        return "assistant", _contents(step.get("content"))
    if kind == "function_call":
        call = {"type": "tool_call", "id": step.get("id"), "name": step.get("name")}
        return "assistant", [{**call, "arguments": step.get("arguments")}]
    if kind == "thought":
        summary = _contents(step.get("summary"))
        return "assistant", [{"type": "reasoning", "content": _text(summary)}]
    if kind in _CONTENT_TYPES:  # a bare content block given as input
        return "user", _contents([step])
    return "assistant", [dict(step)]  # server tools' steps, and types newer than agentkit


_CONTENT_TYPES = frozenset({"text", "image", "audio", "video", "document"})


def _contents(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    for item in content or ():
        if not isinstance(item, Mapping):
            continue
        block = cast("Mapping[str, Any]", item)
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "content": block.get("text", "")})
        elif kind in _MODALITIES and block.get("uri"):
            modality = _MODALITIES[kind]
            parts.append(
                {"type": "uri", "modality": modality, "mime_type": block.get("mime_type"),
                 "uri": block["uri"]}
            )  # fmt: skip
        elif kind in _MODALITIES and block.get("data"):
            modality = _MODALITIES[kind]
            parts.append(
                {"type": "blob", "modality": modality, "mime_type": block.get("mime_type"),
                 "content": block["data"]}
            )  # fmt: skip
        else:
            parts.append(dict(block))
    return parts


def _text(parts: list[dict[str, Any]]) -> str:
    return "".join(str(part.get("content", "")) for part in parts if part.get("type") == "text")
