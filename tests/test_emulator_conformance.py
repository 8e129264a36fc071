"""Every emulator response and SSE event parses into the official SDK's types, exactly.

"Exactly" means: known SDK classes only (no `Unknown*` fallback), no extra keys anywhere
(except the documented `object` on an Interaction and `errors` on the interaction of an
`interaction.completed` event), and the SDK's dump gives back the JSON we sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

import httpx
import pydantic
import pytest
from google.genai._gaos.errors.createinteraction import CreateInteractionClientErrorData
from google.genai._gaos.types.interactions.interaction import Interaction
from google.genai._gaos.types.interactions.interactionsseevent import InteractionSSEEvent

from agentkit.testing import (
    Emulator,
    Reply,
    Script,
    code_execution,
    function_call,
    google_search,
    model_output,
    text,
    thought,
    url_context,
)

EVENT = pydantic.TypeAdapter(InteractionSSEEvent)
KEY = {"x-goog-api-key": "k"}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
        "required": ["city"],
    },
}
SEARCH = {"type": "google_search"}
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


class Recorder(httpx.BaseTransport):
    """Sits in front of the emulator and keeps every response body and SSE event."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.bodies: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.emulator.handle_request(request)
        raw = response.read()
        if response.headers["content-type"] == "text/event-stream":
            for block in raw.decode().split("\n\n"):
                data = [line[6:] for line in block.split("\n") if line.startswith("data: ")]
                if data:
                    self.events.append(json.loads("\n".join(data)))
        elif response.status_code == 200 and request.method != "DELETE":
            self.bodies.append(json.loads(raw))
        elif response.status_code >= 400:
            self.errors.append(json.loads(raw))
        return httpx.Response(response.status_code, headers=response.headers, content=raw)


Scenario = Callable[[httpx.Client, Emulator], None]


def post(http: httpx.Client, **body: Any) -> dict[str, Any]:
    """Create; for a stream, return the stored interaction (or the final event's snapshot)."""
    body.setdefault("model", "gemini-3-flash-preview")
    response = http.post("/interactions", json=body)
    if response.headers["content-type"] != "text/event-stream":
        result: dict[str, Any] = response.json()
        return result
    last = [line for line in response.text.split("\n") if line.startswith("data: ")][-1]
    snapshot: dict[str, Any] = json.loads(last[6:]).get("interaction", {})
    stored = http.get(f"/interactions/{snapshot.get('id')}")
    return stored.json() if stored.status_code == 200 else snapshot


def results(interaction: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"type": "function_result", "call_id": s["id"], "name": s["name"], "result": {"t": 1}}
        for s in interaction["steps"]
        if s["type"] == "function_call"
    ]


def tool_loop(http: httpx.Client, emulator: Emulator) -> None:
    config = {"thinking_summaries": "auto"}
    for stream in (False, True):
        first = post(http, input="Weather?", tools=[WEATHER, SEARCH], generation_config=config)
        post(http, previous_interaction_id=first["id"], input=results(first), stream=stream)
    first = post(http, input="Weather?", tools=[WEATHER], stream=True)
    post(http, previous_interaction_id=first["id"], input=results(first), tools=[WEATHER])


def stateless(http: httpx.Client, emulator: Emulator) -> None:
    history: list[dict[str, Any]] = [
        {"type": "user_input", "content": [{"type": "text", "text": "hi"}]}
    ]
    first = post(http, store=False, input=history, tools=[WEATHER])
    history += [*first["steps"], *results(first)]
    post(http, store=False, input=history, tools=[WEATHER], stream=True)


def server_tools(http: httpx.Client, emulator: Emulator) -> None:
    tools = [SEARCH, {"type": "code_execution"}, {"type": "url_context"}]
    for stream in (False, True):
        post(http, input="Zürich https://a.example/", tools=tools, stream=stream)


def structured(http: httpx.Client, emulator: Emulator) -> None:
    fmt = {"type": "text", "mime_type": "application/json", "schema": SCHEMA}
    post(http, input="n?", response_format=fmt)
    post(http, input="n?", response_format=[fmt], stream=True)


def scripted(http: httpx.Client, emulator: Emulator) -> None:
    image = {"type": "image", "data": "aGk=", "mime_type": "image/png"}
    emulator.behaviour = Script(
        [
            [
                thought("Plan"),
                google_search("q"),
                code_execution("print(1)", "1"),
                url_context("https://a.example/"),
                text("Sure, “cited”.", citations=[("cited", "https://a.example/", "A")]),
                model_output({"type": "text", "text": "a"}, image),
            ],
            [thought(), function_call("f", {"a": [1, {"b": None}]}), function_call("g")],
            Reply(["Broken"], status="failed", errors=[{"code": "internal", "message": "x"}]),
            Reply(["Cut"], status="incomplete"),
            Reply(["Out"], status="budget_exceeded"),
            Reply([thought(), text("one two three four")], hops=3),
        ]
        * 2
    )
    for stream in (False, True):
        for _ in range(5):
            post(http, input="go", stream=stream)
        hop = post(http, input="go", stream=stream)
        while hop["status"] == "requires_continuation":
            token = hop["continuation_token"]
            hop = post(
                http, previous_interaction_id=hop["id"], continuation_token=token, stream=stream
            )
        assert hop["status"] == "completed"


def background(http: httpx.Client, emulator: Emulator) -> None:
    made = post(http, input="slow", background=True, tools=[WEATHER])
    http.get(f"/interactions/{made['id']}")
    http.get(f"/interactions/{made['id']}", params={"include_input": "true"})
    running = post(http, input=[{"type": "text", "text": "slow"}], background=True)
    http.post(f"/interactions/{running['id']}/cancel")
    http.get(f"/interactions/{running['id']}", params={"stream": "true"})
    other = post(http, input="slow", background=True, stream=True)
    assert other is not None
    streamed = post(http, input="slow", background=True)
    events = http.get(f"/interactions/{streamed['id']}", params={"stream": "true"})
    assert events.status_code == 200


def agents_and_echoes(http: httpx.Client, emulator: Emulator) -> None:
    http.post(
        "/interactions",
        json={"agent": "deep-research-pro-preview-12-2025", "input": "x", "environment": "remote"},
    )
    made = post(http, input=[{"type": "user_input", "content": "plain string content"}])
    http.get(f"/interactions/{made['id']}", params={"include_input": "true"})
    emulator.error_stream_after(2, message="quota exceeded")
    post(http, input="x", stream=True)


def errors(http: httpx.Client, emulator: Emulator) -> None:
    http.post("/interactions", content=b"{")
    http.post("/interactions", json={"model": "m", "agent": "a"})
    http.get("/interactions/nope")
    emulator.fail_next(1, 429, retry_after=1)
    http.get("/interactions/nope")


SCENARIOS: dict[str, Scenario] = {
    "tool_loop": tool_loop,
    "stateless": stateless,
    "server_tools": server_tools,
    "structured": structured,
    "scripted": scripted,
    "background": background,
    "agents_and_echoes": agents_and_echoes,
    "errors": errors,
}


@pytest.fixture(params=list(SCENARIOS))
def recorded(request: pytest.FixtureRequest) -> Recorder:
    emulator = Emulator()
    recorder = Recorder(emulator)
    with httpx.Client(transport=recorder, base_url="http://x/v1beta", headers=KEY) as http:
        SCENARIOS[request.param](http, emulator)
    return recorder


def walk(value: Any, path: str, allowed: dict[str, set[str]]) -> None:
    """Fail on an Unknown* SDK class or an extra key anywhere below `value`."""
    if isinstance(value, pydantic.BaseModel):
        name = type(value).__name__
        assert not name.startswith("Unknown"), f"{path} parsed as {name}"
        extra = set(value.model_extra or {}) - allowed.get(path, set())
        assert not extra, f"{path} ({name}) has unknown keys {extra}"
        # __dict__, not getattr: reading a deprecated field would warn.
        for field in type(value).model_fields:
            walk(value.__dict__.get(field), f"{path}.{field}", allowed)
    elif isinstance(value, list):
        for item in cast("list[object]", value):
            walk(item, f"{path}[]", allowed)


SDK_COMPUTED = {"output_text", "output_image", "output_audio", "output_video", "continuation_ids"}


def dumped(model: pydantic.BaseModel) -> Any:
    data = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return {k: v for k, v in data.items() if k not in SDK_COMPUTED}


def test_every_response_body_is_an_sdk_interaction(recorded: Recorder) -> None:
    for body in recorded.bodies:
        interaction = Interaction.model_validate(body)
        walk(interaction, "interaction", {"interaction": {"object"}})
        assert dumped(interaction) == body


def test_every_event_is_an_sdk_event(recorded: Recorder) -> None:
    allowed = {"event.interaction": {"errors"}}
    for data in recorded.events:
        event = EVENT.validate_python(data)
        assert event.event_type == data["event_type"]
        walk(event, "event", allowed)
        assert dumped(event) == data


def test_every_error_body_is_an_sdk_error(recorded: Recorder) -> None:
    for body in recorded.errors:
        walk(CreateInteractionClientErrorData.model_validate(body), "error", {})


def test_scenarios_cover_every_event_and_step_type() -> None:
    seen_events: set[str] = set()
    seen_steps: set[str] = set()
    seen_deltas: set[str] = set()
    for scenario in SCENARIOS.values():
        emulator = Emulator()
        recorder = Recorder(emulator)
        with httpx.Client(transport=recorder, base_url="http://x/v1", headers=KEY) as http:
            scenario(http, emulator)
        seen_events |= {e["event_type"] for e in recorder.events}
        seen_deltas |= {e["delta"]["type"] for e in recorder.events if "delta" in e}
        seen_steps |= {s["type"] for b in recorder.bodies for s in b.get("steps", [])}
    assert seen_events == {
        "interaction.created",
        "step.start",
        "step.delta",
        "step.stop",
        "interaction.status_update",
        "interaction.completed",
        "error",
    }
    assert seen_steps == {
        "thought",
        "model_output",
        "function_call",
        "google_search_call",
        "google_search_result",
        "code_execution_call",
        "code_execution_result",
        "url_context_call",
        "url_context_result",
    }
    assert seen_deltas == {
        "text",
        "image",
        "text_annotation_delta",
        "thought_signature",
        "thought_summary",
        "arguments_delta",
        "google_search_call",
        "google_search_result",
        "code_execution_call",
        "code_execution_result",
        "url_context_call",
        "url_context_result",
    }
