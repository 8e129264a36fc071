"""Turn steps into the SSE events of a streamed interaction and frame them for the wire (pure)."""

from __future__ import annotations

import json
from typing import Any

from agentkit.testing._replies import StepDict
from agentkit.testing._wire import as_dict, as_list, dumps

__all__ = ["frame", "split_text", "step_events"]

Event = dict[str, Any]

# Server-tool steps stream as a skeleton (kept keys plus empty placeholders for the fields
# the SDK requires) followed by one delta of the same type carrying the rest.
_TOOL_STEPS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "google_search_call": (("id", "search_type"), {"arguments": {}}),
    "google_search_result": (("call_id",), {"result": []}),
    "code_execution_call": (("id",), {"arguments": {}}),
    "code_execution_result": (("call_id",), {"result": ""}),
    "url_context_call": (("id",), {"arguments": {}}),
    "url_context_result": (("call_id",), {"result": []}),
    "google_maps_call": (("id",), {}),
    "google_maps_result": (("call_id",), {"result": []}),
}
_MEDIA_DELTA_FIELDS: dict[str, tuple[str, ...]] = {
    "image": ("data", "uri", "mime_type", "resolution"),
    "audio": ("data", "uri", "mime_type", "sample_rate", "channels"),
    "video": ("data", "uri", "mime_type", "resolution"),
    "document": ("data", "uri", "mime_type"),
}


def frame(event: Event) -> bytes:
    """Encode one event as an SSE block: an `event:` line and one `data:` line."""
    return b"event: " + str(event["event_type"]).encode() + b"\ndata: " + dumps(event) + b"\n\n"


def split_text(value: str, parts: int = 3) -> list[str]:
    """Cut `value` into up to `parts` non-empty pieces at word boundaries where possible."""
    if len(value) < 2:
        return [value]
    words = value.split(" ")
    if len(words) < parts:
        size = -(-len(value) // min(parts, len(value)))
        return [value[i : i + size] for i in range(0, len(value), size)]
    per = -(-len(words) // parts)
    chunks = [" ".join(words[i : i + per]) for i in range(0, len(words), per)]
    pieces = [c + " " for c in chunks[:-1]] + [chunks[-1]]
    return [p for p in pieces if p]


def step_events(index: int, step: StepDict) -> list[Event]:
    """Return the `step.start`, `step.delta`... and `step.stop` events for one step."""
    kind = step.get("type")
    skeleton: dict[str, Any]
    if kind == "thought":
        skeleton, deltas = {"type": "thought"}, _thought_deltas(step)
    elif kind == "model_output":
        skeleton = {k: v for k, v in step.items() if k != "content"}
        blocks = [as_dict(b) for b in as_list(step.get("content"))]
        deltas = [d for block in blocks for d in _content_deltas(block)]
    elif kind == "function_call":
        skeleton = {"type": kind, "id": step.get("id"), "name": step.get("name"), "arguments": {}}
        raw = json.dumps(step.get("arguments", {}), ensure_ascii=False)
        deltas = [{"type": "arguments_delta", "arguments": piece} for piece in split_text(raw)]
    elif kind in _TOOL_STEPS and _streamable(step):
        kept, placeholders = _TOOL_STEPS[kind]
        skeleton = {"type": kind, **placeholders, **{k: step[k] for k in kept if k in step}}
        rest = {k: v for k, v in step.items() if k not in kept}
        deltas = [rest] if len(rest) > 1 else []
    else:
        # Other steps (unknown types included) arrive whole in their step.start.
        skeleton, deltas = dict(step), []
    events: list[Event] = [{"event_type": "step.start", "index": index, "step": skeleton}]
    events += [{"event_type": "step.delta", "index": index, "delta": d} for d in deltas]
    events.append({"event_type": "step.stop", "index": index})
    return events


def _streamable(step: StepDict) -> bool:
    # The code_execution_result delta only carries a string result.
    return step.get("type") != "code_execution_result" or isinstance(step.get("result"), str)


def _thought_deltas(step: StepDict) -> list[dict[str, Any]]:
    deltas: list[dict[str, Any]] = [
        {"type": "thought_summary", "content": block} for block in as_list(step.get("summary"))
    ]
    if "signature" in step:
        deltas.append({"type": "thought_signature", "signature": step["signature"]})
    return deltas


def _content_deltas(block: dict[str, Any]) -> list[dict[str, Any]]:
    kind = block.get("type")
    if kind == "text":
        deltas: list[dict[str, Any]] = [
            {"type": "text", "text": piece} for piece in split_text(str(block.get("text", "")))
        ]
        if block.get("annotations"):
            deltas.append({"type": "text_annotation_delta", "annotations": block["annotations"]})
        return deltas
    fields = _MEDIA_DELTA_FIELDS.get(str(kind))
    if fields is None:
        return [dict(block)]
    return [{"type": kind, **{k: block[k] for k in fields if k in block}}]
