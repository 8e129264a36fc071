"""The emulator served on 127.0.0.1: same answers as the in-process transport, SSE included."""

from __future__ import annotations

import json
import logging
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from agentkit import Agent, AsyncClient
from agentkit.testing import Emulator, ModelRequest

KEY = {"x-goog-api-key": "k"}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
Call = tuple[str, str, dict[str, Any]]


def fixed_clock() -> float:
    return 1_767_225_600.0


SESSION: list[Call] = [
    ("POST", "/v1beta/interactions", {"json": {"model": "m", "input": "Hi", "tools": [WEATHER]}}),
    ("GET", "/v1beta/interactions/v1_emu_0001", {"params": {"stream": "false"}}),
    (
        "POST",
        "/v1beta/interactions",
        {
            "json": {
                "model": "m",
                "previous_interaction_id": "v1_emu_0001",
                "input": [{"type": "function_result", "call_id": "fc_0001", "result": "sunny"}],
            }
        },
    ),
    ("POST", "/v1/interactions", {"json": {"model": "m", "input": "Zürich", "stream": True}}),
    (
        "GET",
        "/v1/interactions/v1_emu_0003",
        {"params": {"stream": "true", "last_event_id": "evt_000023"}},
    ),
    ("POST", "/v1beta/interactions", {"json": {"model": "m", "input": "x", "background": True}}),
    ("GET", "/v1beta/interactions/v1_emu_0004", {}),
    ("POST", "/v1beta/interactions/v1_emu_0004/cancel", {}),
    ("POST", "/v1beta/interactions", {"content": b"{broken"}),
    ("POST", "/v1beta/interactions", {"json": {"model": "m", "agent": "a"}}),
    ("GET", "/v1beta/interactions/v1_missing", {}),
    ("DELETE", "/v1beta/interactions/v1_emu_0001", {}),
    ("GET", "/v1beta/interactions/v1_emu_0001", {}),
    ("POST", "/v1beta/interactions", {"json": {"model": "m", "input": "x"}, "headers": {}}),
]


def replay(http: httpx.Client) -> list[tuple[int, str, bytes]]:
    answers: list[tuple[int, str, bytes]] = []
    for method, path, options in SESSION:
        kwargs = dict(options)
        headers = kwargs.pop("headers", KEY)
        response = http.request(method, path, headers=headers, **kwargs)
        answers.append((response.status_code, response.headers["content-type"], response.content))
    return answers


@pytest.fixture
def served() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(clock=fixed_clock)
    with emulator.serve() as base_url:
        yield emulator, base_url


def test_server_answers_exactly_like_the_transport(served: tuple[Emulator, str]) -> None:
    _, base_url = served
    assert base_url.startswith("http://127.0.0.1:")
    with httpx.Client(base_url=base_url) as http:
        over_socket = replay(http)
    with httpx.Client(transport=Emulator(clock=fixed_clock), base_url="http://x") as http:
        in_process = replay(http)
    assert over_socket == in_process
    statuses = [status for status, _, _ in over_socket]
    assert statuses == [200, 200, 200, 200, 200, 200, 200, 200, 400, 400, 404, 200, 404, 401]
    assert over_socket[3][1] == "text/event-stream"


def test_server_streams_events_one_by_one(served: tuple[Emulator, str]) -> None:
    _, base_url = served
    body = {"model": "m", "input": "one two three", "stream": True, "tools": [WEATHER]}
    with (
        httpx.Client(base_url=base_url, headers=KEY) as http,
        http.stream("POST", "/v1beta/interactions", json=body) as response,
    ):
        assert response.headers["transfer-encoding"] == "chunked"
        data = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
    assert data[0]["event_type"] == "interaction.created"
    assert data[-1]["interaction"]["status"] == "requires_action"
    assert all("event_id" in event for event in data)


def test_dropped_stream_breaks_the_connection_and_resumes(served: tuple[Emulator, str]) -> None:
    emulator, base_url = served
    emulator.drop_stream_after(2)
    lines: list[str] = []
    body = {"model": "m", "input": "x", "stream": True}
    with httpx.Client(base_url=base_url, headers=KEY) as http:
        with (
            pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)),
            http.stream("POST", "/v1beta/interactions", json=body) as response,
        ):
            lines.extend(response.iter_lines())
        events = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
        assert len(events) == 2
        params = {"stream": "true", "last_event_id": events[-1]["event_id"]}
        rest = http.get("/v1beta/interactions/v1_emu_0001", params=params)
        assert rest.text.rstrip().endswith("}}")
        assert "interaction.completed" in rest.text
        # The server survived the broken connection.
        assert http.get("/v1beta/interactions/v1_emu_0001").status_code == 200


def test_a_stream_ended_mid_event_closes_the_body_cleanly(served: tuple[Emulator, str]) -> None:
    emulator, base_url = served
    emulator.end_stream_after(2, mid_event=True)
    body = {"model": "m", "input": "x", "stream": True}
    with httpx.Client(base_url=base_url, headers=KEY) as http:
        cut = http.post("/v1beta/interactions", json=body)  # the chunked body ends properly
        whole = http.get("/v1beta/interactions/v1_emu_0001", params={"stream": "true"})
    assert cut.status_code == 200
    assert whole.text.startswith(cut.text)
    assert cut.text.count("\n\n") == 2
    assert not cut.text.endswith("\n\n")


def test_faults_and_latency_over_the_socket() -> None:
    waits: list[float] = []
    emulator = Emulator(latency=0.125, sleep=waits.append)
    emulator.fail_next(1, 429, retry_after=7)
    with emulator.serve() as base_url, httpx.Client(base_url=base_url, headers=KEY) as http:
        failed = http.post("/v1beta/interactions", json={"model": "m", "input": "x"})
        assert (failed.status_code, failed.headers["retry-after"]) == (429, "7")
        assert http.post("/v1beta/interactions", json={"model": "m", "input": "x"}).is_success
    assert waits == [0.125, 0.125]


def test_a_failing_behaviour_is_a_500(served: tuple[Emulator, str]) -> None:
    emulator, base_url = served

    def broken(request: ModelRequest) -> str:
        raise RuntimeError("bug in the test's model")

    emulator.behaviour = broken
    with httpx.Client(base_url=base_url, headers=KEY) as http:
        response = http.post("/v1beta/interactions", json={"model": "m", "input": "x"})
    assert response.status_code == 500
    assert "bug in the test's model" in response.json()["error"]["message"]


@pytest.mark.anyio
async def test_async_httpx_against_the_server(served: tuple[Emulator, str]) -> None:
    _, base_url = served
    async with httpx.AsyncClient(base_url=base_url, headers=KEY) as http:
        made = await http.post("/v1beta/interactions", json={"model": "m", "input": "hi"})
        assert made.json()["status"] == "completed"
        body = {"model": "m", "input": "hi", "stream": True}
        async with http.stream("POST", "/v1beta/interactions", json=body) as response:
            lines = [line async for line in response.aiter_lines() if line.startswith("event: ")]
    assert lines[0] == "event: interaction.created"
    assert lines[-1] == "event: interaction.completed"


def test_agentkit_client_over_the_socket(served: tuple[Emulator, str]) -> None:
    from agentkit._client import Client

    emulator, base_url = served
    with Client(api_key="emulator-key", base_url=base_url) as client:
        made = client.interactions.create(model="m", input="Hello", tools=[WEATHER])
    assert made.status == "requires_action"
    assert emulator.requests[0].headers["x-goog-api-key"] == "***"


def test_the_server_log_hides_a_key_sent_in_the_url(
    served: tuple[Emulator, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="agentkit.testing")
    emulator, base_url = served
    with httpx.Client(base_url=base_url) as http:
        http.get("/v1beta/interactions/v1_x", params={"a": "1", "key": "SECRET-Q", "z": "2"})
        http.get("/v1beta/interactions/v1_x?key=SECRET-R")
    lines = [record.getMessage() for record in caplog.records]
    assert any("key=***&z=2" in line for line in lines), lines
    assert not [line for line in lines if "SECRET" in line]
    assert [r.query["key"] for r in emulator.requests] == ["***", "***"]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_non_loopback_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"), Emulator().serve(host=host):
        pass


def test_localhost_and_ipv6_loopback() -> None:
    with Emulator().serve(host="localhost") as base_url:
        assert base_url.startswith("http://127.0.0.1:")
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        with Emulator().serve(host="::1") as base_url, httpx.Client(base_url=base_url) as http:
            assert base_url.startswith("http://[::1]:")
            assert http.get("/v1/interactions/x", headers=KEY).status_code == 404
    except OSError:
        pytest.skip("IPv6 loopback unavailable")


def test_server_stops_on_exit() -> None:
    with Emulator().serve() as base_url, httpx.Client(base_url=base_url) as http:
        # Leave a keep-alive connection open: stopping must not wait for it.
        assert http.get("/v1/interactions/x", headers=KEY).status_code == 404
    with httpx.Client(base_url=base_url) as http, pytest.raises(httpx.ConnectError):
        http.get("/v1/interactions/x")


def test_serve_forever_in_a_subprocess() -> None:
    code = (
        "import sys\n"
        "from agentkit.testing import Emulator\n"
        "Emulator().serve_forever(port=0, ready=lambda url: print(url, flush=True))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=base_url, headers=KEY) as http:
            made = http.post("/v1beta/interactions", json={"model": "m", "input": "hi"})
        assert made.json()["id"] == "v1_emu_0001"
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert "KeyboardInterrupt" in stderr


@pytest.mark.anyio
async def test_a_burst_of_concurrent_runs_is_served_not_reset() -> None:
    """Many runs connecting at once are queued by the server, none is refused or reset."""
    emulator = Emulator()
    with emulator.serve() as base_url:
        async with AsyncClient(api_key="k", base_url=base_url, max_retries=0) as client:
            agent = Agent("gemini-3-flash-preview", client=client)
            answers: list[str | None] = []

            async def one() -> None:
                answers.append((await agent.run("Hi")).output_text)

            async with anyio.create_task_group() as group:
                for _ in range(300):
                    group.start_soon(one)
    assert len(answers) == 300
    assert len(set(answers)) == 1


@pytest.mark.anyio
async def test_hundreds_of_clients_connecting_at_once_each_get_their_own_answer() -> None:
    """300 clients, each on its own connection, connect in one burst and are all answered."""
    count = 300
    # One TLS context for all: httpx builds one per client otherwise (~20 ms each), unused here.
    context = ssl.create_default_context()
    ready = 0
    everyone_ready = anyio.Event()
    answers: dict[int, tuple[int, str]] = {}

    async def one(n: int, base_url: str) -> None:
        nonlocal ready
        async with httpx.AsyncClient(base_url=base_url, headers=KEY, verify=context) as http:
            ready += 1
            if ready == count:
                everyone_ready.set()
            await everyone_ready.wait()  # then all of them connect at once
            body = {"model": "m", "input": f"Question {n}", "stream": n % 2 == 1}
            response = await http.post("/v1beta/interactions", json=body)
            if n % 2:  # streamed: the answer is the text deltas
                events = [
                    json.loads(line[6:])
                    for line in response.text.splitlines()
                    if line[:6] == "data: "
                ]
                deltas = [event["delta"] for event in events if "delta" in event]
                answer = "".join(delta["text"] for delta in deltas if delta["type"] == "text")
            else:
                answer = response.json()["steps"][-1]["content"][0]["text"]
            answers[n] = (response.status_code, answer)

    emulator = Emulator()
    with anyio.fail_after(60), emulator.serve() as base_url:
        async with anyio.create_task_group() as group:
            for n in range(count):
                group.start_soon(one, n, base_url)

    assert answers == {n: (200, f"You said: Question {n}") for n in range(count)}
    assert len(emulator.interactions) == count
