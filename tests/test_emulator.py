"""The emulator over its httpx transports: endpoints, errors, chains, background, SSE, faults."""

from __future__ import annotations

import json
import textwrap
import threading
from typing import Any

import httpx
import pytest
from _emulator_helpers import BASE, KEY, create

import agentkit.testing
from agentkit.testing import (
    Emulator,
    ModelRequest,
    Reply,
    Script,
    function_call,
    text,
    thought,
)

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
        "required": ["city"],
    },
}
TIME = {"type": "function", "name": "get_time", "parameters": {"type": "object"}}


def rejected(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    assert isinstance(body["error"]["code"], str)
    assert isinstance(body["error"]["message"], str)
    error: dict[str, Any] = body["error"]
    return error


def sse(raw: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for block in raw.split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        event = json.loads(lines["data"])
        assert lines["event"] == event["event_type"]
        events.append(event)
    return events


def result_for(call: dict[str, Any], value: Any = None) -> dict[str, Any]:
    return {
        "type": "function_result",
        "call_id": call["id"],
        "name": call["name"],
        "result": value if value is not None else {"ok": call["name"]},
    }


def apply_delta(step: dict[str, Any], delta: dict[str, Any], buffer: list[str]) -> None:
    kind = delta.pop("type")
    if kind == "text":
        content = step.setdefault("content", [])
        if content and content[-1]["type"] == "text":
            content[-1]["text"] += delta["text"]
        else:
            content.append({"type": "text", "text": delta["text"]})
    elif kind == "text_annotation_delta":
        step["content"][-1].setdefault("annotations", []).extend(delta["annotations"])
    elif kind == "thought_signature":
        step["signature"] = delta["signature"]
    elif kind == "thought_summary":
        step.setdefault("summary", []).append(delta["content"])
    elif kind == "arguments_delta":
        buffer.append(delta["arguments"])
    else:
        step.update(delta)


def rebuild(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rebuild steps from step events (start, deltas, stop) as the SDK does."""
    steps: dict[int, dict[str, Any]] = {}
    buffers: dict[int, list[str]] = {}
    for event in events:
        index = event.get("index", -1)
        if event["event_type"] == "step.start":
            steps[index] = json.loads(json.dumps(event["step"]))
        elif event["event_type"] == "step.delta":
            apply_delta(steps[index], dict(event["delta"]), buffers.setdefault(index, []))
        elif event["event_type"] == "step.stop" and buffers.get(index):
            steps[index]["arguments"] = json.loads("".join(buffers[index]))
    return [steps[i] for i in sorted(steps)]


# -- endpoints -------------------------------------------------------------------------


def test_create_get_delete(http: httpx.Client) -> None:
    made = create(http, input="Hello there")
    assert made["id"] == "v1_emu_0001"
    assert made["object"] == "interaction"
    assert made["status"] == "completed"
    assert made["model"] == "gemini-3-flash-preview"
    assert made["created"].endswith("Z")
    assert [s["type"] for s in made["steps"]] == ["thought", "model_output"]
    assert made["steps"][1]["content"][0]["text"] == "You said: Hello there"
    assert made["usage"]["total_tokens"] == (
        made["usage"]["total_input_tokens"] + made["usage"]["total_output_tokens"]
    )
    fetched = http.get(f"/interactions/{made['id']}", params={"stream": "false"})
    assert fetched.json() == made
    assert http.delete(f"/interactions/{made['id']}").status_code == 200
    rejected(http.get(f"/interactions/{made['id']}"), 404)


@pytest.mark.parametrize(
    "prefix",
    ["http://emulator.invalid/v1", "http://emulator.invalid/v1beta1/projects/p/locations/l"],
)
def test_any_version_segment_is_accepted(emulator: Emulator, prefix: str) -> None:
    with httpx.Client(transport=emulator, base_url=prefix, headers=KEY) as http:
        assert create(http, input="hi")["status"] == "completed"


def test_get_include_input_echoes_the_input(http: httpx.Client) -> None:
    made = create(http, input="Hello")
    assert "input" not in made
    fetched = http.get(f"/interactions/{made['id']}", params={"include_input": "true"})
    assert fetched.json()["input"] == "Hello"


def test_ids_and_call_ids_are_deterministic(http: httpx.Client) -> None:
    first = create(http, input="a", tools=[WEATHER, TIME])
    second = create(http, input="b", tools=[WEATHER])
    assert (first["id"], second["id"]) == ("v1_emu_0001", "v1_emu_0002")
    ids = [s["id"] for s in first["steps"] + second["steps"] if s["type"] == "function_call"]
    assert ids == ["fc_0001", "fc_0002", "fc_0003"]


def test_agent_interaction_with_environment(http: httpx.Client) -> None:
    made = http.post(
        "/interactions", json={"agent": "deep-research-pro-preview-12-2025", "input": "x"}
    ).json()
    assert made["agent"] == "deep-research-pro-preview-12-2025"
    assert "model" not in made
    remote = create(http, input="x", environment="remote")
    assert remote["environment_id"] == "env_emu_0001"
    assert create(http, input="x", environment="env_42")["environment_id"] == "env_42"


# -- errors ----------------------------------------------------------------------------


def test_missing_api_key_is_401(emulator: Emulator) -> None:
    with httpx.Client(transport=emulator, base_url=BASE) as http:
        error = rejected(http.post("/interactions", json={"model": "m", "input": "x"}), 401)
    assert error["code"] == "unauthenticated"


def test_a_required_key_must_match() -> None:
    emulator = Emulator(api_key="right")
    with httpx.Client(transport=emulator, base_url=BASE) as http:
        bad = http.post("/interactions", json={"model": "m", "input": "x"}, headers=KEY)
        rejected(bad, 401)
        good = {"x-goog-api-key": "right"}
        assert http.post(
            "/interactions", json={"model": "m", "input": "x"}, headers=good
        ).is_success
    assert "right" not in repr(emulator.requests)


def test_recorded_requests_hide_every_credential() -> None:
    # A Vertex-style bearer token, a proxy credential and a `?key=` query parameter (which
    # Google APIs accept too) are as secret as the API key header.
    emulator = Emulator()
    secrets = {"authorization": "Bearer tok-SECRET-1", "proxy-authorization": "Basic SECRET-2"}
    with httpx.Client(transport=emulator, base_url=BASE) as http:
        http.get("/interactions/v1_x", headers={**KEY, **secrets}, params={"key": "SECRET-3"})
    [request] = emulator.requests
    assert request.headers["x-goog-api-key"] == "***"
    assert request.headers["authorization"] == "***"
    assert request.headers["proxy-authorization"] == "***"
    assert request.query == {"key": "***"}
    assert "SECRET" not in repr(emulator.requests)
    assert "test-key" not in repr(emulator.requests)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "m", "agent": "a", "input": "x"}, "not both"),
        ({"input": "x"}, "Set model"),
        ({"agent": "a", "generation_config": {}, "input": "x"}, "generation_config"),
        ({"model": "m", "agent_config": {"type": "dynamic"}, "input": "x"}, "agent_config"),
        ({"model": "m", "store": False, "previous_interaction_id": "v1_x", "input": "x"}, "store"),
        ({"model": "m", "store": False, "background": True, "input": "x"}, "background"),
        ({"model": "m", "stream": "yes", "input": "x"}, "booleans"),
        ({"model": "m", "tools": [{"name": "f"}], "input": "x"}, "tools"),
        ({"model": "m", "tools": [{"type": "function"}], "input": "x"}, "name"),
        ({"model": "m", "input": 42}, "input"),
        ({"model": "m", "input": [{"type": "text", "text": "a"}, {"type": "user_input"}]}, "mixes"),
        ({"model": "m"}, "input must end"),
        ({"model": "m", "input": [{"type": "function_result", "call_id": "c"}]}, "call_id"),
        ({"model": "m", "input": "x", "continuation_token": "nope"}, "continuation_token"),
        ({"model": "m", "input": [{"type": "user_input", "content": 3}]}, "content"),
        ({"model": "m", "input": [{"type": "thought", "signature": "%%%"}]}, "invalid signature"),
    ],
)
def test_invalid_create_bodies_are_400(
    http: httpx.Client, body: dict[str, Any], message: str
) -> None:
    error = rejected(http.post("/interactions", json=body), 400)
    assert error["code"] == "invalid_argument"
    assert message in error["message"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b""])
def test_malformed_bodies_are_400(http: httpx.Client, raw: bytes) -> None:
    rejected(http.post("/interactions", content=raw), 400)


def test_unknown_ids_are_404(http: httpx.Client) -> None:
    rejected(http.get("/interactions/v1_nope"), 404)
    rejected(http.post("/interactions/v1_nope/cancel"), 404)
    rejected(http.delete("/interactions/v1_nope"), 404)
    error = rejected(
        http.post(
            "/interactions", json={"model": "m", "input": "x", "previous_interaction_id": "v1_nope"}
        ),
        404,
    )
    assert error["code"] == "not_found"


def test_unknown_paths_and_methods(http: httpx.Client) -> None:
    rejected(http.get("/models"), 404)
    rejected(http.put("/interactions/v1_x"), 405)
    rejected(http.get("/interactions"), 405)
    rejected(http.get("/interactions/a/b/c"), 404)


def test_function_result_for_no_pending_call_is_400(http: httpx.Client) -> None:
    done = create(http, input="hi")
    stray = {"type": "function_result", "call_id": "fc_9", "name": "f", "result": "x"}
    body = {"model": "m", "previous_interaction_id": done["id"], "input": [stray]}
    error = rejected(http.post("/interactions", json=body), 400)
    assert "fc_9" in error["message"]


def test_every_pending_call_needs_a_result(http: httpx.Client) -> None:
    first = create(http, input="go", tools=[WEATHER, TIME])
    calls = [s for s in first["steps"] if s["type"] == "function_call"]
    body = {"model": "m", "previous_interaction_id": first["id"], "tools": [WEATHER, TIME]}
    error = rejected(
        http.post("/interactions", json={**body, "input": [result_for(calls[0])]}), 400
    )
    assert "get_time (fc_0002)" in error["message"]
    rejected(http.post("/interactions", json={**body, "input": "never mind"}), 400)
    twice = [result_for(calls[0]), result_for(calls[0]), result_for(calls[1])]
    rejected(http.post("/interactions", json={**body, "input": twice}), 400)
    both = [result_for(c) for c in calls]
    assert create(http, **body, input=both)["status"] == "completed"


def test_cancel_needs_a_running_background_interaction(http: httpx.Client) -> None:
    done = create(http, input="hi")
    error = rejected(http.post(f"/interactions/{done['id']}/cancel"), 400)
    assert error["code"] == "failed_precondition"
    running = create(http, input="hi", background=True)
    assert http.post(f"/interactions/{running['id']}/cancel").json()["status"] == "cancelled"
    rejected(http.post(f"/interactions/{running['id']}/cancel"), 400)


def test_continuing_a_running_interaction_is_400(http: httpx.Client) -> None:
    running = create(http, input="hi", background=True)
    body = {"model": "m", "previous_interaction_id": running["id"], "input": "and?"}
    assert rejected(http.post("/interactions", json=body), 400)["code"] == "failed_precondition"


# -- chains and stateless history ------------------------------------------------------


def test_previous_interaction_id_chains_the_whole_history(emulator: Emulator) -> None:
    seen: list[ModelRequest] = []

    def model(request: ModelRequest) -> list[dict[str, Any]]:
        seen.append(request)
        if request.turn == 0:
            return [thought(), function_call("get_time")]
        return [text(f"turn {request.turn}")]

    emulator.behaviour = model
    with httpx.Client(transport=emulator, base_url=BASE, headers=KEY) as http:
        first = create(http, input="What time is it?", tools=[TIME])
        call = first["steps"][1]
        second = create(http, previous_interaction_id=first["id"], input=[result_for(call)])
        third = create(http, previous_interaction_id=second["id"], input="Thanks")
    assert third["previous_interaction_id"] == second["id"]
    last = seen[-1]
    assert [s["type"] for s in last.history] == [
        "user_input",
        "thought",
        "function_call",
        "function_result",
        "model_output",
        "user_input",
    ]
    assert last.history[1] == first["steps"][0]
    assert last.new_input == [
        {"type": "user_input", "content": [{"type": "text", "text": "Thanks"}]}
    ]
    assert seen[1].function_results == [result_for(call)]
    assert seen[0].tools == [TIME]
    assert [r.interaction_id for r in seen] == [first["id"], second["id"], third["id"]]


def stateless_turn(http: httpx.Client, history: list[dict[str, Any]]) -> dict[str, Any]:
    return create(http, store=False, input=history, tools=[WEATHER, TIME])


def test_stateless_history_is_checked_and_nothing_is_stored(
    http: httpx.Client, emulator: Emulator
) -> None:
    history: list[dict[str, Any]] = [
        {"type": "user_input", "content": [{"type": "text", "text": "Weather and time?"}]}
    ]
    first = stateless_turn(http, history)
    rejected(http.get(f"/interactions/{first['id']}"), 404)
    # The stateless loop of the API docs: each step as received, each result after its call.
    for step in first["steps"]:
        history.append(step)
        if step["type"] == "function_call":
            history.append(result_for(step))
    second = stateless_turn(http, history)
    assert second["status"] == "completed"
    assert [r["call_id"] for r in emulator.function_results] == ["fc_0001", "fc_0002"]
    assert "get_weather returned" in second["steps"][-1]["content"][0]["text"]
    history += [
        *second["steps"],
        {"type": "user_input", "content": [{"type": "text", "text": "ok"}]},
    ]
    # A new user turn: the default model calls the tools again.
    assert stateless_turn(http, history)["status"] == "requires_action"
    assert len(emulator.function_results) == 2  # re-sent results are not new results


def stateless_pair(http: httpx.Client) -> list[dict[str, Any]]:
    user = {"type": "user_input", "content": [{"type": "text", "text": "Weather?"}]}
    first = create(http, store=False, input=[user], tools=[WEATHER])
    calls = [s for s in first["steps"] if s["type"] == "function_call"]
    return [user, *first["steps"], *[result_for(c) for c in calls]]


def test_stateless_tampered_signature_is_rejected(http: httpx.Client) -> None:
    history = stateless_pair(http)
    assert create(http, store=False, input=history, tools=[WEATHER])["status"] == "completed"
    signature = history[1]["signature"]
    forged = signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")
    tampered = [history[0], {**history[1], "signature": forged}, *history[2:]]
    error = rejected(
        http.post("/interactions", json={"model": "m", "store": False, "input": tampered}), 400
    )
    assert "signature" in error["message"]


@pytest.mark.parametrize("change", ["arguments", "drop_thought", "drop_call", "no_signature"])
def test_stateless_history_must_be_resent_exactly(http: httpx.Client, change: str) -> None:
    history = stateless_pair(http)
    if change == "arguments":
        history[2] = {**history[2], "arguments": {"city": "Rome"}}
    elif change == "drop_thought":
        del history[1]
    elif change == "drop_call":
        history[1:3] = [history[1]]
    else:
        history[1] = {"type": "thought"}
    body = {"model": "m", "store": False, "input": history, "tools": [WEATHER]}
    rejected(http.post("/interactions", json=body), 400)


def test_stateless_result_needs_a_preceding_call(http: httpx.Client) -> None:
    history = stateless_pair(http)
    body = {"model": "m", "store": False, "tools": [WEATHER]}
    error = rejected(
        http.post("/interactions", json={**body, "input": [history[0], history[-1]]}), 400
    )
    assert "matches no pending function_call" in error["message"]
    question = {"type": "user_input", "content": [{"type": "text", "text": "?"}]}
    without_result = [*history[:-1], question]
    rejected(http.post("/interactions", json={**body, "input": without_result}), 400)


# -- background ------------------------------------------------------------------------


def poll(http: httpx.Client, interaction_id: str) -> str:
    status: str = http.get(f"/interactions/{interaction_id}").json()["status"]
    return status


def test_background_reports_in_progress_for_the_configured_polls() -> None:
    emulator = Emulator(background_polls=2)
    with httpx.Client(transport=emulator, base_url=BASE, headers=KEY) as http:
        made = create(http, input="long task", background=True)
        assert made["status"] == "in_progress"
        assert "steps" not in made
        assert [poll(http, made["id"]) for _ in range(4)] == [
            "in_progress",
            "in_progress",
            "completed",
            "completed",
        ]


def test_background_delay_follows_the_injected_clock() -> None:
    now = [1_767_225_600.0]
    emulator = Emulator(background_polls=0, background_delay=30, clock=lambda: now[0])
    with httpx.Client(transport=emulator, base_url=BASE, headers=KEY) as http:
        made = create(http, input="task", background=True)
        assert made["created"] == "2026-01-01T00:00:00Z"
        assert poll(http, made["id"]) == "in_progress"
        now[0] += 30
        assert poll(http, made["id"]) == "completed"


def test_complete_forces_a_background_interaction_to_finish(emulator: Emulator) -> None:
    emulator.background_polls = 100
    with httpx.Client(transport=emulator, base_url=BASE, headers=KEY) as http:
        made = create(http, input="task", background=True, tools=[WEATHER])
        assert emulator.function_calls == []
        assert emulator.complete(made["id"])["status"] == "requires_action"
        assert poll(http, made["id"]) == "requires_action"
        assert emulator.complete(made["id"])["status"] == "requires_action"
        assert len(emulator.function_calls) == 1
    with pytest.raises(KeyError):
        emulator.complete("v1_nope")


def test_background_stream_runs_to_the_end_and_is_resumable(http: httpx.Client) -> None:
    made = create(http, input="task", background=True)
    events = sse(http.get(f"/interactions/{made['id']}", params={"stream": "true"}).text)
    kinds = [e["event_type"] for e in events]
    assert kinds[0] == "interaction.created"
    assert kinds[-2:] == ["interaction.status_update", "interaction.completed"]
    assert events[-1]["interaction"]["status"] == "completed"
    again = http.get(
        f"/interactions/{made['id']}",
        params={"stream": "true", "last_event_id": events[2]["event_id"]},
    )
    assert sse(again.text) == events[3:]


def test_cancelled_background_interaction_has_no_output(http: httpx.Client) -> None:
    made = create(http, input="task", background=True, tools=[WEATHER])
    cancelled = http.post(f"/interactions/{made['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert "steps" not in cancelled
    assert poll(http, made["id"]) == "cancelled"
    events = sse(http.get(f"/interactions/{made['id']}", params={"stream": "true"}).text)
    assert events[-1]["interaction"]["status"] == "cancelled"


# -- streaming -------------------------------------------------------------------------


def test_stream_transcript_shape(http: httpx.Client) -> None:
    body = {
        "model": "m",
        "input": "Weather in Paris please",
        "tools": [WEATHER, {"type": "google_search"}],
        "generation_config": {"thinking_summaries": "auto"},
        "stream": True,
    }
    response = http.post("/interactions", json=body)
    assert response.headers["content-type"] == "text/event-stream"
    events = sse(response.text)
    kinds = [e["event_type"] for e in events]
    assert kinds[0] == "interaction.created"
    assert kinds[-1] == "interaction.completed"
    assert events[0]["interaction"]["status"] == "in_progress"
    ids = [e["event_id"] for e in events]
    assert len(set(ids)) == len(ids)
    deltas = [e["delta"]["type"] for e in events if e["event_type"] == "step.delta"]
    assert {"thought_summary", "thought_signature", "arguments_delta"} <= set(deltas)
    assert {"google_search_call", "google_search_result"} <= set(deltas)
    assert deltas.count("arguments_delta") >= 2
    final = events[-1]["interaction"]
    assert final["status"] == "requires_action"
    assert "steps" not in final
    assert "total_tokens" in final["usage"]
    stored = http.get(f"/interactions/{final['id']}").json()
    assert rebuild(events) == stored["steps"]


def test_stream_splits_text_and_rebuilds_citations(http: httpx.Client) -> None:
    body = {"model": "m", "input": "Zürich weather", "tools": [{"type": "google_search"}]}
    events = sse(http.post("/interactions", json={**body, "stream": True}).text)
    texts = [e for e in events if e["event_type"] == "step.delta" and e["delta"]["type"] == "text"]
    assert len(texts) >= 2
    final_id = events[-1]["interaction"]["id"]
    assert rebuild(events) == http.get(f"/interactions/{final_id}").json()["steps"]


def test_resume_with_last_event_id_continues_after_it(http: httpx.Client) -> None:
    events = sse(
        http.post("/interactions", json={"model": "m", "input": "a b c d e", "stream": True}).text
    )
    interaction_id = events[0]["interaction"]["id"]
    for cut in range(len(events)):
        params = {"stream": "true", "last_event_id": events[cut]["event_id"]}
        resumed = http.get(f"/interactions/{interaction_id}", params=params)
        assert sse(resumed.text) == events[cut + 1 :]
    full = http.get(f"/interactions/{interaction_id}", params={"stream": "true"})
    assert sse(full.text) == events
    bad = {"stream": "true", "last_event_id": "evt_nope"}
    rejected(http.get(f"/interactions/{interaction_id}", params=bad), 400)


def test_unstored_stream_is_not_resumable(http: httpx.Client) -> None:
    body = {"model": "m", "input": "x", "store": False, "stream": True}
    events = sse(http.post("/interactions", json=body).text)
    assert events[-1]["interaction"]["status"] == "completed"
    rejected(
        http.get(f"/interactions/{events[0]['interaction']['id']}", params={"stream": "true"}), 404
    )


# -- continuation hops -----------------------------------------------------------------


def test_reply_split_in_hops_continues_with_tokens() -> None:
    answer = "one two three four five six"
    emulator = Emulator(Script([Reply([thought(), text(answer)], hops=3)]))
    with httpx.Client(transport=emulator, base_url=BASE, headers=KEY) as http:
        hop = create(http, input="long")
        hops = [hop]
        while hop["status"] == "requires_continuation":
            token = hop["continuation_token"]
            body = {"previous_interaction_id": hop["id"], "continuation_token": token}
            hop = create(http, **body)
            hops.append(hop)
        retry = {"previous_interaction_id": hops[0]["id"]}
        again = create(http, **retry, continuation_token=hops[0]["continuation_token"])
        wrong = {"model": "m", "previous_interaction_id": hops[2]["id"]}
        rejected(
            http.post(
                "/interactions", json={**wrong, "continuation_token": hops[0]["continuation_token"]}
            ),
            400,
        )
    assert [h["status"] for h in hops] == ["requires_continuation"] * 2 + ["completed"]
    assert len({h["continuation_token"] for h in hops[:2]}) == 2
    steps = [s for h in hops for s in h["steps"]]
    assert "".join(s["content"][0]["text"] for s in steps[1:]) == answer
    assert again["steps"] == hops[1]["steps"]
    assert all(h["usage"]["total_input_tokens"] == 1 for h in hops)


def test_hops_of_a_reply_with_calls_end_in_requires_action() -> None:
    reply = Reply([thought(), function_call("f"), text("calling f now")], hops=3)
    emulator = Emulator(Script([reply, "done"]))
    with httpx.Client(transport=emulator, base_url=BASE, headers=KEY) as http:
        hop = create(http, input="go")
        while hop["status"] == "requires_continuation":
            body = {
                "previous_interaction_id": hop["id"],
                "continuation_token": hop["continuation_token"],
            }
            hop = create(http, **body)
        assert hop["status"] == "requires_action"
        assert all(s["type"] != "function_call" for s in hop["steps"])  # the call came earlier
        call = emulator.function_calls[0]
        rejected(
            http.post(
                "/interactions",
                json={"model": "m", "previous_interaction_id": hop["id"], "input": "?"},
            ),
            400,
        )
        final = create(http, previous_interaction_id=hop["id"], input=[result_for(call)])
    assert answer_text(final) == "done"


def answer_text(interaction: dict[str, Any]) -> str:
    text_value: str = interaction["steps"][-1]["content"][0]["text"]
    return text_value


def test_rejected_requests_use_no_id(http: httpx.Client) -> None:
    rejected(http.post("/interactions", json={"model": "m", "input": 3}), 400)
    rejected(
        http.post(
            "/interactions",
            json={
                "model": "m",
                "input": [{"type": "function_result", "call_id": "x", "result": 1}],
            },
        ),
        400,
    )
    assert create(http, input="x")["id"] == "v1_emu_0001"


def test_stateless_hops_resend_the_original_input() -> None:
    emulator = Emulator(Script([Reply(["first", "second"], status="requires_continuation")]))
    with httpx.Client(transport=emulator, base_url=BASE, headers=KEY) as http:
        body = {"store": False, "input": "go"}
        hop = create(http, **body)
        assert hop["status"] == "requires_continuation"
        token = hop["continuation_token"]
        other = {"model": "m", "store": False, "input": "other", "continuation_token": token}
        rejected(http.post("/interactions", json=other), 400)
        last = create(http, **body, continuation_token=token)
    assert last["status"] == "completed"
    assert last["steps"][0]["content"][0]["text"] == "second"


def test_streamed_hop_carries_the_token(http: httpx.Client, emulator: Emulator) -> None:
    emulator.behaviour = Script([Reply(["a", "b"], hops=2)])
    events = sse(http.post("/interactions", json={"model": "m", "input": "x", "stream": True}).text)
    status, completed = events[-2], events[-1]
    assert status["event_type"] == "interaction.status_update"
    assert status["continuation_token"] == completed["interaction"]["continuation_token"]
    assert completed["interaction"]["status"] == "requires_continuation"


def test_a_text_that_cannot_be_cut_for_hops_still_completes(
    http: httpx.Client, emulator: Emulator
) -> None:
    # "a b " splits into one piece only (its last word is empty): the other hops stay empty.
    emulator.behaviour = Script([Reply([text("a b ")], hops=3)])
    hop = create(http, input="x")
    hops = [hop]
    while hop["status"] == "requires_continuation":
        token = hop["continuation_token"]
        hop = create(http, previous_interaction_id=hop["id"], continuation_token=token)
        hops.append(hop)
    assert [h["status"] for h in hops] == ["requires_continuation"] * 2 + ["completed"]
    assert [s["content"][0]["text"] for h in hops for s in h["steps"]] == ["a b "]


# -- faults ----------------------------------------------------------------------------


def test_fail_next_answers_errors_with_retry_after(http: httpx.Client, emulator: Emulator) -> None:
    emulator.fail_next(2, 429, retry_after=2, retry_after_ms=1500)
    for _ in range(2):
        response = http.post("/interactions", json={"model": "m", "input": "x"})
        assert rejected(response, 429)["code"] == "resource_exhausted"
        assert response.headers["retry-after"] == "2"
        assert response.headers["retry-after-ms"] == "1500"
    assert create(http, input="x")["id"] == "v1_emu_0001"
    emulator.fail_next(status=503, retry_after="Wed, 21 Oct 2026 07:28:00 GMT")
    response = http.get("/interactions/v1_emu_0001")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "Wed, 21 Oct 2026 07:28:00 GMT"


def test_fail_next_with_a_custom_body(http: httpx.Client, emulator: Emulator) -> None:
    emulator.fail_next(1, 500, body={"error": {"code": 13, "message": "x", "status": "INTERNAL"}})
    emulator.fail_next(1, 502, body=b"<html>bad gateway</html>")
    assert http.get("/interactions/x").json()["error"]["code"] == 13
    second = http.get("/interactions/x")
    assert (second.status_code, second.text) == (502, "<html>bad gateway</html>")


def test_drop_stream_after_breaks_mid_body_then_resumes(
    http: httpx.Client, emulator: Emulator
) -> None:
    emulator.drop_stream_after(3)
    received: list[bytes] = []
    with (
        http.stream(
            "POST", "/interactions", json={"model": "m", "input": "a b c", "stream": True}
        ) as response,
        pytest.raises(httpx.ReadError),
    ):
        received.extend(response.iter_raw())
    events = sse(b"".join(received).decode())
    assert len(events) == 3
    params = {"stream": "true", "last_event_id": events[-1]["event_id"]}
    rest = sse(http.get(f"/interactions/{events[0]['interaction']['id']}", params=params).text)
    assert rest[-1]["event_type"] == "interaction.completed"
    assert [e["event_id"] for e in events + rest] == sorted(e["event_id"] for e in events + rest)
    # The fault is used up: the next stream is whole.
    whole = sse(http.post("/interactions", json={"model": "m", "input": "x", "stream": True}).text)
    assert whole[-1]["event_type"] == "interaction.completed"


@pytest.mark.anyio
async def test_drop_stream_after_on_the_async_transport(emulator: Emulator) -> None:
    emulator.drop_stream_after(2)
    chunks: list[bytes] = []
    async with httpx.AsyncClient(transport=emulator, base_url=BASE, headers=KEY) as http:
        body = {"model": "m", "input": "x", "stream": True}

        async def read() -> None:
            async with http.stream("POST", "/interactions", json=body) as response:
                async for chunk in response.aiter_raw():
                    chunks.append(chunk)

        with pytest.raises(httpx.ReadError):
            await read()
        assert len(sse(b"".join(chunks).decode())) == 2
        full = await http.get("/interactions/v1_emu_0001", params={"stream": "true"})
    assert sse(full.text)[:2] == sse(b"".join(chunks).decode())


def test_end_stream_after_ends_the_body_cleanly_at_an_event_boundary(
    http: httpx.Client, emulator: Emulator
) -> None:
    emulator.end_stream_after(3)
    body = {"model": "m", "input": "a b c", "stream": True}
    cut = http.post("/interactions", json=body)  # no transport error: the body just ends
    assert cut.status_code == 200
    assert cut.text.endswith("\n\n")
    events = sse(cut.text)
    assert len(events) == 3
    whole = sse(http.get("/interactions/v1_emu_0001", params={"stream": "true"}).text)
    assert events == whole[:3]
    assert whole[-1]["event_type"] == "interaction.completed"
    # The fault is used up: the next stream is whole.
    assert sse(http.post("/interactions", json=body).text)[-1]["event_type"] == (
        "interaction.completed"
    )


def test_end_stream_after_mid_event_sends_half_of_the_next_event(
    http: httpx.Client, emulator: Emulator
) -> None:
    emulator.end_stream_after(2, mid_event=True)
    body = {"model": "m", "input": "a b c", "stream": True}
    text = http.post("/interactions", json=body).text
    complete, _, half = text.rpartition("\n\n")
    assert len(sse(complete)) == 2
    whole = http.get("/interactions/v1_emu_0001", params={"stream": "true"}).text
    third = whole.split("\n\n")[2] + "\n\n"
    assert half
    assert third.startswith(half)
    assert len(half) == len(third.encode()) // 2
    # Past the end of the stream there is nothing to cut: the body is whole.
    emulator.end_stream_after(1000, mid_event=True)
    assert http.post("/interactions", json=body).text.endswith("\n\n")


@pytest.mark.anyio
async def test_end_stream_after_on_the_async_transport(emulator: Emulator) -> None:
    emulator.end_stream_after(1, mid_event=True)
    async with httpx.AsyncClient(transport=emulator, base_url=BASE, headers=KEY) as http:
        cut = await http.post("/interactions", json={"model": "m", "input": "x", "stream": True})
        whole = await http.get("/interactions/v1_emu_0001", params={"stream": "true"})
    first, _, half = cut.text.partition("\n\n")
    assert sse(first) == sse(whole.text)[:1]
    assert half
    assert whole.text.startswith(cut.text)


def test_error_stream_after_ends_with_an_error_event(
    http: httpx.Client, emulator: Emulator
) -> None:
    emulator.error_stream_after(1, code="resource_exhausted", message="quota exceeded")
    events = sse(http.post("/interactions", json={"model": "m", "input": "x", "stream": True}).text)
    assert [e["event_type"] for e in events] == ["interaction.created", "error"]
    assert events[1]["error"] == {"code": "resource_exhausted", "message": "quota exceeded"}


def test_latency_uses_the_injected_sleeps() -> None:
    waits: list[float] = []
    emulator = Emulator(latency=0.25, sleep=waits.append)
    with httpx.Client(transport=emulator, base_url=BASE, headers=KEY) as http:
        create(http, input="x")
    assert waits == [0.25]


@pytest.mark.anyio
async def test_latency_on_the_async_transport() -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    emulator = Emulator(latency=0.5, async_sleep=record)
    async with httpx.AsyncClient(transport=emulator, base_url=BASE, headers=KEY) as http:
        response = await http.post("/interactions", json={"model": "m", "input": "x"})
    assert response.status_code == 200
    assert waits == [0.5]


# -- introspection, reset, threads -----------------------------------------------------


def test_introspection_and_reset(http: httpx.Client, emulator: Emulator) -> None:
    first = create(http, input="go", tools=[WEATHER])
    call = first["steps"][1]
    create(http, previous_interaction_id=first["id"], input=[result_for(call, "sunny")])
    assert [(r.method, r.path) for r in emulator.requests] == [("POST", "/v1beta/interactions")] * 2
    assert emulator.requests[0].headers["x-goog-api-key"] == "***"
    assert emulator.requests[1].body["previous_interaction_id"] == first["id"]
    assert emulator.function_calls == [call]
    assert emulator.function_results == [result_for(call, "sunny")]
    assert list(emulator.interactions) == ["v1_emu_0001", "v1_emu_0002"]
    emulator.interactions["v1_emu_0001"]["status"] = "mutated"
    assert emulator.interactions["v1_emu_0001"]["status"] == "requires_action"
    emulator.reset()
    assert (emulator.requests, emulator.interactions, emulator.function_calls) == ([], {}, [])
    assert create(http, input="x")["id"] == "v1_emu_0001"


def test_concurrent_requests_from_many_threads(http: httpx.Client, emulator: Emulator) -> None:
    ids: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(10):
            made = create(http, input="x", tools=[WEATHER])
            with lock:
                ids.append(made["id"])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 80
    calls = [c["id"] for c in emulator.function_calls]
    assert sorted(calls) == [f"fc_{n:04d}" for n in range(1, 81)]


# -- agentkit clients --------------------------------------------------------------------


def test_client_talks_to_the_emulator(emulator: Emulator) -> None:
    emulator.fail_next(1, 503, retry_after=3)
    with emulator.client() as client:
        made = client.interactions.create(model="m", input="Hello")
    assert made.status == "completed"
    assert emulator.sleeps == [3.0]
    assert len(emulator.requests) == 2


@pytest.mark.anyio
async def test_async_client_talks_to_the_emulator(emulator: Emulator) -> None:
    emulator.fail_next(1, 429, retry_after=1.5)
    async with emulator.async_client() as client:
        made = await client.interactions.create(model="m", input="Hello", tools=[WEATHER])
        fetched = await client.interactions.get(made.id)
    assert made.status == fetched.status == "requires_action"
    assert made.function_calls[0].name == "get_weather"
    assert emulator.sleeps == [1.5]


def test_the_module_docstring_example_runs() -> None:
    doc = agentkit.testing.__doc__ or ""
    code = textwrap.dedent(doc.split("```python\n")[1].split("```")[0])
    exec(compile(code, "agentkit.testing docstring", "exec"), {})


def test_handle_is_the_transport_agnostic_core(emulator: Emulator) -> None:
    body = json.dumps({"model": "m", "input": "hi"}).encode()
    answer = emulator.handle("POST", "/v1beta/interactions", {}, KEY, body)
    assert (answer.status, answer.is_stream) == (200, False)
    assert answer.json()["status"] == "completed"
    stream = json.dumps({"model": "m", "input": "hi", "stream": True}).encode()
    streamed = emulator.handle("POST", "/v1beta/interactions", {}, {"X-Goog-Api-Key": "k"}, stream)
    assert streamed.is_stream
    assert not isinstance(streamed.body, bytes)
    chunks = list(streamed.body)
    assert all(chunk.startswith(b"event: ") and chunk.endswith(b"\n\n") for chunk in chunks)
    assert ("content-type", "text/event-stream") in streamed.headers
