"""What the fake model answers, byte for byte: shared by the fake server and the mock transports.

A run follows a `Plan`: `rounds` responses that each ask for `calls` function calls, then a
text answer (streamed as `deltas` text deltas). The plan travels in the prompt
(`"bench plan r1c1d0l0"`) and then in the interaction ids (`v1_r1c1d0l0_<turn>_<serial>`), so
the server keeps no state per run: a follow-up's `previous_interaction_id` tells the plan and
the turn. The JSON shapes are the emulator's (`agentkit.testing`): the `Interaction` of a
create, and for `stream: true` its SSE events (`interaction.created`, `step.start` /
`step.delta` / `step.stop`, `interaction.completed`).

Responses are built once per (plan, turn, form) as templates and only get their id filled
in, so the server's own cost per request stays small. This module never imports agentkit.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any, cast

__all__ = [
    "API_KEY",
    "ENDPOINT",
    "MODEL",
    "Answer",
    "Plan",
    "Responder",
    "function_declarations",
    "stock",
]

MODEL = "gemini-3.5-flash"
API_KEY = "bench-key"
ENDPOINT = "/v1beta/interactions"

_SERIAL_DIGITS = 9  # ids of one (plan, turn) have one length: templates keep their framing
_TIMESTAMP = "2026-05-20T12:00:00Z"
_PLAN_KEY = re.compile(r"r(\d+)c(\d+)d(\d+)l(\d+)")
_PROMPT_PREFIX = "bench plan "


def stock(sku: str) -> dict[str, Any]:
    """The body of every benchmark tool: a stock level lookup."""
    return {"sku": sku, "quantity": 3}


def function_declarations(count: int) -> list[dict[str, Any]]:
    """The function tools `tool_00`... as a hand-written loop declares them."""
    return [
        {
            "type": "function",
            "name": f"tool_{index:02d}",
            "description": "Look up the stock level of a product.",
            "parameters": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string", "description": "The product's stock keeping unit."}
                },
                "required": ["sku"],
            },
        }
        for index in range(count)
    ]


@dataclass(frozen=True)
class Plan:
    """The shape of one benchmark run.

    Attributes:
        rounds: Responses asking for function calls before the answer.
        calls: Function calls in each of those responses (to `tool_00`, `tool_01`...).
        deltas: Text deltas of the streamed answer (0: a short answer in three deltas).
        latency_ms: Milliseconds the server waits before answering each request.
    """

    rounds: int = 1
    calls: int = 1
    deltas: int = 0
    latency_ms: int = 0

    @property
    def key(self) -> str:
        """The plan as a short token, e.g. `r1c1d0l0`."""
        return f"r{self.rounds}c{self.calls}d{self.deltas}l{self.latency_ms}"

    @classmethod
    def parse(cls, key: str) -> Plan:
        """The plan of a `key` token.

        Raises:
            ValueError: `key` is not a plan token.
        """
        match = _PLAN_KEY.fullmatch(key)
        if match is None:
            raise ValueError(f"not a benchmark plan: {key!r}")
        rounds, calls, deltas, latency = (int(group) for group in match.groups())
        return cls(rounds, calls, deltas, latency)

    @property
    def prompt(self) -> str:
        """The user input that starts a run of this plan."""
        return _PROMPT_PREFIX + self.key

    @property
    def tool_count(self) -> int:
        """How many distinct tools the model calls."""
        return self.calls if self.rounds else 0

    @property
    def pieces(self) -> list[str]:
        """The text deltas of the answer."""
        if self.deltas:
            return [f"w{index} " for index in range(self.deltas)]
        return ["Done: ", f"{self.rounds} rounds ", f"of {self.calls} calls."]

    @property
    def answer(self) -> str:
        """The final answer text; every contender checks it."""
        return "".join(self.pieces)

    def without_latency(self) -> Plan:
        """The same plan answered at once (to validate the server before a slow run)."""
        return Plan(self.rounds, self.calls, self.deltas, 0)


@dataclass(frozen=True)
class Answer:
    """One response.

    Attributes:
        status: The HTTP status.
        payload: The whole HTTP/1.1 response when asked `wire=True`, else only the body.
        content_type: The body's media type.
        delay: Seconds to wait before sending it (the plan's model latency).
        finished: The plan key when this answers the last turn of a run.
    """

    status: int
    payload: bytes
    content_type: str
    delay: float = 0.0
    finished: str | None = None


class BadRequest(Exception):
    """The request does not follow the plan; the answer is a 400 with this message."""


class Responder:
    """Answers create requests by their plan; not thread-safe (one per server or transport)."""

    def __init__(self) -> None:
        self._serial = itertools.count(1)
        self._templates: dict[tuple[str, int, bool, bool], bytes] = {}
        self._marks: dict[tuple[str, int], bytes] = {}

    def answer(self, body: bytes, *, wire: bool) -> Answer:
        """Answer the create request with this JSON `body`."""
        try:
            request = json.loads(body)
            plan, turn = _locate(request)
        except (BadRequest, ValueError) as error:
            return _error(400, "invalid_argument", str(error), wire=wire)
        stream = request.get("stream") is True
        interaction_id = f"v1_{plan.key}_{turn}_{next(self._serial):0{_SERIAL_DIGITS}d}"
        mark = self._marks.get((plan.key, turn))
        if mark is None:
            # A placeholder as long as the id, of a character no answer holds otherwise.
            mark = self._marks[plan.key, turn] = b"~" * len(interaction_id)
        template = self._templates.get((plan.key, turn, stream, wire))
        if template is None:
            template = _template(plan, turn, stream, wire, mark.decode())
            self._templates[plan.key, turn, stream, wire] = template
        return Answer(
            200,
            template.replace(mark, interaction_id.encode()),
            "text/event-stream" if stream else "application/json",
            plan.latency_ms / 1000,
            plan.key if turn == plan.rounds else None,
        )


def not_found(*, wire: bool) -> Answer:
    """The 404 answer to any other endpoint."""
    return _error(404, "not_found", "The benchmark server only creates interactions.", wire=wire)


def unauthenticated(*, wire: bool) -> Answer:
    """The 401 answer to a request without an API key."""
    return _error(401, "unauthenticated", "Missing API key.", wire=wire)


def _error(status: int, code: str, message: str, *, wire: bool) -> Answer:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return Answer(status, _json_head(status, body) + body if wire else body, "application/json")


def _object(value: Any) -> dict[str, Any]:
    return cast(Any, value) if isinstance(value, dict) else {}


def _array(value: Any) -> list[Any]:
    return cast(Any, value) if isinstance(value, list) else []


def _locate(request: Any) -> tuple[Plan, int]:
    """The plan and the turn (0 for the first request) a create request is at."""
    body = _object(request)
    if body.get("model") != MODEL:
        raise BadRequest(f"expected a JSON object with model {MODEL!r}")
    previous = body.get("previous_interaction_id")
    if previous is None:
        return Plan.parse(_prompt(body.get("input")).removeprefix(_PROMPT_PREFIX)), 0
    parts = str(previous).split("_")
    if len(parts) != 4 or not parts[2].isdigit():
        raise BadRequest(f"unknown previous_interaction_id {previous!r}")
    plan, turn = Plan.parse(parts[1]), int(parts[2]) + 1
    if turn > plan.rounds:
        raise BadRequest(f"{previous} answered the run already")
    expected = [f"fc_{turn - 1}_{index}" for index in range(plan.calls)]
    steps = [_object(step) for step in _array(body.get("input"))]
    results = [
        s.get("call_id") for s in steps if s.get("type") == "function_result" and "result" in s
    ]
    if results != expected or len(steps) != len(expected):
        raise BadRequest(f"expected function_result steps for {expected}, in order")
    return plan, turn


def _prompt(value: Any) -> str:
    """The text of a create's `input`: a string, or user_input steps / text content."""
    if isinstance(value, str):
        return value
    for item in map(_object, _array(value)):
        if item.get("type") == "user_input":
            return _prompt(item.get("content"))
        if item.get("type") == "text":
            return str(item.get("text", ""))
    raise BadRequest("expected the input to be the benchmark prompt")


def _steps(plan: Plan, turn: int) -> list[dict[str, Any]]:
    if turn < plan.rounds:
        return [
            {
                "type": "function_call",
                "id": f"fc_{turn}_{index}",
                "name": f"tool_{index:02d}",
                "arguments": {"sku": f"A-{turn}-{index}"},
            }
            for index in range(plan.calls)
        ]
    return [{"type": "model_output", "content": [{"type": "text", "text": plan.answer}]}]


def _template(plan: Plan, turn: int, stream: bool, wire: bool, interaction_id: str) -> bytes:
    steps = _steps(plan, turn)
    status = "requires_action" if turn < plan.rounds else "completed"
    words = sum(len(p.split()) for p in plan.pieces) if turn == plan.rounds else 2 * plan.calls
    usage = {"total_tokens": 8 + words, "total_input_tokens": 8, "total_output_tokens": words}
    head: dict[str, Any] = {
        "id": interaction_id,
        "object": "interaction",
        "status": status,
        "model": MODEL,
        "created": _TIMESTAMP,
        "updated": _TIMESTAMP,
    }
    if not stream:
        body = _dumps({**head, "steps": steps, "usage": usage})
        return _json_head(200, body) + body if wire else body
    events: list[dict[str, Any]] = [
        {"event_type": "interaction.created", "interaction": {**head, "status": "in_progress"}}
    ]
    for index, step in enumerate(steps):
        events += _step_events(index, step, plan)
    events.append({"event_type": "interaction.completed", "interaction": {**head, "usage": usage}})
    frames = [
        _frame({"event_type": e.pop("event_type"), "event_id": f"{interaction_id}.{n}", **e})
        for n, e in enumerate(events)
    ]
    if not wire:
        return b"".join(frames)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(frame), frame) for frame in frames)
    head_bytes = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    return head_bytes + chunks + b"0\r\n\r\n"


def _step_events(index: int, step: dict[str, Any], plan: Plan) -> list[dict[str, Any]]:
    """The events of one step, as the emulator streams them."""
    skeleton: dict[str, Any]
    if step["type"] == "function_call":
        skeleton = {**step, "arguments": {}}
        deltas = [{"type": "arguments_delta", "arguments": json.dumps(step["arguments"])}]
    else:
        skeleton = {"type": "model_output"}
        deltas = [{"type": "text", "text": piece} for piece in plan.pieces]
    return [
        {"event_type": "step.start", "index": index, "step": skeleton},
        *({"event_type": "step.delta", "index": index, "delta": d} for d in deltas),
        {"event_type": "step.stop", "index": index},
    ]


def _frame(event: dict[str, Any]) -> bytes:
    kind = str(event["event_type"]).encode()
    return b"event: " + kind + b"\ndata: " + _dumps(event) + b"\n\n"


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _json_head(status: int, body: bytes) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}[status]
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode()
