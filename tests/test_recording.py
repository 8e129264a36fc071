"""Record a session once, replay it offline: `Recorder`, `Replayer`, `recording()`.

Sessions are recorded against the emulator (as a transport, and served on 127.0.0.1 behind a
real httpx transport), then replayed with no emulator at all.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.to_thread
import httpx
import pytest
from _agent_helpers import Driver
from hypothesis import given, settings
from hypothesis import strategies as st

from agentkit import Agent, AsyncClient, Client, RunResult, UsageError, tool
from agentkit.events import RunCompleteEvent, TextDeltaEvent, ToolCallEvent
from agentkit.exceptions import APIConnectionError
from agentkit.testing import (
    Emulator,
    Exchange,
    Recorder,
    Recording,
    RecordingError,
    Replayer,
    RequestNotRecorded,
    Script,
    function_call,
    recording,
)

MODEL = "gemini-3-flash-preview"
KEY = "test-key-123"
ROOT = Path(__file__).resolve().parent.parent


@tool
def get_weather(city: str) -> dict[str, Any]:
    """Get the current weather in a city.

    Args:
        city: The city name.
    """
    return {"city": city, "temperature": 21, "sky": "sunny"}


def weather_script() -> Script:
    return Script(
        [
            function_call("get_weather", {"city": "Paris"}),
            "It is sunny and 21 degrees in Paris.",
        ]
    )


@pytest.fixture(params=["async", "sync"])
def driver(request: pytest.FixtureRequest) -> Driver:
    mode: Literal["async", "sync"] = request.param
    return Driver(mode)


def client_for(
    session: Recorder | Replayer | Emulator, driver: Driver, **kwargs: Any
) -> Client | AsyncClient:
    """The client a driver runs with: a `Client` for `run_sync`, an `AsyncClient` for `run`."""
    if driver.mode == "sync":
        return session.client(**kwargs)
    return session.async_client(**kwargs)


def no_wait(seconds: float) -> None:
    """Polls and retries of a recording against the emulator need not wait either."""


async def no_wait_async(seconds: float) -> None:
    await anyio.lowlevel.checkpoint()


def recording_options(driver: Driver) -> dict[str, Any]:
    return {"api_key": KEY, "sleep": no_wait if driver.mode == "sync" else no_wait_async}


async def close(client: Client | AsyncClient) -> None:
    if isinstance(client, Client):
        client.close()
    else:
        await client.aclose()


def wire(result: RunResult[Any]) -> dict[str, Any]:
    """What a run produced, comparable between a recorded run and its replay."""
    return {
        "status": result.status,
        "output_text": result.output_text,
        "interaction_id": result.interaction_id,
        "steps": [step.to_wire() for step in result.steps],
        "usage": result.usage.to_wire(),
    }


async def record_run(
    path: Path, emulator: Emulator, driver: Driver, prompt: str, **run: Any
) -> RunResult[Any]:
    recorder = Recorder(path, emulator)
    client = client_for(recorder, driver, **recording_options(driver))
    try:
        return await driver(Agent(MODEL, tools=[get_weather], client=client), prompt, **run)
    finally:
        await close(client)


async def replay_run(
    path: Path, driver: Driver, prompt: str, **run: Any
) -> tuple[RunResult[Any], Replayer]:
    replayer = Replayer(path)
    client = client_for(replayer, driver)
    try:
        result = await driver(Agent(MODEL, tools=[get_weather], client=client), prompt, **run)
    finally:
        await close(client)
    return result, replayer


# -- agent runs: recorded against the emulator, replayed without it ----------------------------


@pytest.mark.anyio
async def test_an_agent_run_replays_offline_with_the_same_result(
    tmp_path: Path, driver: Driver
) -> None:
    path = tmp_path / "weather.json"
    recorded = await record_run(path, Emulator(weather_script()), driver, "Weather in Paris?")

    replayed, replayer = await replay_run(path, driver, "Weather in Paris?")

    assert wire(replayed) == wire(recorded)
    assert replayed.output_text == "It is sunny and 21 degrees in Paris."
    assert replayer.unplayed == []


@pytest.mark.anyio
async def test_a_stored_run_is_recorded_as_event_streams_that_replay_as_streams(
    tmp_path: Path, driver: Driver
) -> None:
    path = tmp_path / "weather.json"
    await record_run(path, Emulator(weather_script()), driver, "Weather in Paris?")

    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["version"] == 1
    first = document["exchanges"][0]
    assert first["request"]["json"]["input"] == "Weather in Paris?"  # bodies as JSON
    assert first["response"]["headers"]["content-type"] == "text/event-stream"
    events: list[str] = first["response"]["sse"]
    assert events[0].startswith("event: interaction.created\n")
    assert all(event.endswith("\n\n") for event in events)

    # A streamed answer arrives in pieces, one event each, byte for byte as recorded.
    body = json.dumps(first["request"]["json"]).encode()
    assert streamed_chunks(Replayer(path), body) == [event.encode() for event in events]


def streamed_chunks(replayer: Replayer, body: bytes) -> list[bytes]:
    with (
        httpx.Client(transport=replayer) as http,
        http.stream("POST", "https://example.invalid/v1beta/interactions", content=body) as answer,
    ):
        return list(answer.iter_bytes())


@pytest.mark.anyio
async def test_a_streamed_run_replays_the_same_events(tmp_path: Path, driver: Driver) -> None:
    path = tmp_path / "stream.json"

    async def events(session: Recorder | Replayer, **options: Any) -> list[Any]:
        client = client_for(session, driver, **options)
        agent = Agent(MODEL, tools=[get_weather], client=client)
        try:
            if driver.mode == "async":
                return [event async for event in agent.stream("Weather in Paris?")]
            return await anyio.to_thread.run_sync(
                lambda: list(agent.stream_sync("Weather in Paris?"))
            )
        finally:
            await close(client)

    recorded = await events(Recorder(path, Emulator(weather_script())), **recording_options(driver))
    replayed = await events(Replayer(path))

    def shape(items: list[Any]) -> list[tuple[str, str | None]]:
        return [
            (type(item).__name__, getattr(item, "text", None) or getattr(item, "name", None))
            for item in items
        ]

    assert shape(replayed) == shape(recorded)
    assert any(isinstance(event, TextDeltaEvent) for event in replayed)
    assert any(isinstance(event, ToolCallEvent) for event in replayed)
    final = replayed[-1]
    assert isinstance(final, RunCompleteEvent)
    assert final.result.output_text == "It is sunny and 21 degrees in Paris."


@pytest.mark.anyio
async def test_a_background_run_replays_its_polls_in_order(tmp_path: Path, driver: Driver) -> None:
    path = tmp_path / "background.json"
    emulator = Emulator(weather_script(), background_polls=3)
    recorded = await record_run(path, emulator, driver, "Weather in Paris?", background=True)

    replayed, replayer = await replay_run(path, driver, "Weather in Paris?", background=True)

    assert wire(replayed) == wire(recorded)
    # Equal GETs got different answers: in_progress three times, then the final state.
    polls = [ex for ex in replayer.recording.exchanges if ex.method == "GET"]
    statuses = [ex.response_json["status"] for ex in polls]
    assert statuses[:3] == ["in_progress"] * 3
    assert statuses[3] == "requires_action"
    assert len({ex.url for ex in polls[:4]}) == 1


@pytest.mark.anyio
async def test_a_session_served_on_loopback_is_recorded_through_a_real_transport(
    tmp_path: Path, driver: Driver
) -> None:
    path = tmp_path / "loopback.json"
    emulator = Emulator(weather_script())
    with emulator.serve() as base_url:
        recorder = Recorder(path)  # the default: a real httpx transport, over TCP
        client = client_for(recorder, driver, base_url=base_url, **recording_options(driver))
        try:
            agent = Agent(MODEL, tools=[get_weather], client=client)
            recorded = await driver(agent, "Weather in Paris?")
        finally:
            await close(client)
            await recorder.aclose()

    replayed, _ = await replay_run(path, driver, "Weather in Paris?")  # the server is gone

    assert wire(replayed) == wire(recorded)
    assert Recording.load(path).exchanges[0].url.startswith(base_url)


@pytest.mark.anyio
async def test_concurrent_runs_replay_whatever_order_their_requests_come_in(
    tmp_path: Path,
) -> None:
    path = tmp_path / "concurrent.json"
    cities = ["Paris", "Oslo", "Rome", "Lima"]

    async def run_all(client: AsyncClient) -> dict[str, Any]:
        agent = Agent(MODEL, tools=[get_weather], client=client)
        results: dict[str, Any] = {}

        async def one(city: str) -> None:
            results[city] = wire(await agent.run(f"Weather in {city}?"))

        async with anyio.create_task_group() as group:
            for city in cities:
                group.start_soon(one, city)
        return results

    async with Recorder(path, Emulator()).async_client(api_key=KEY) as client:
        recorded = await run_all(client)
    async with Replayer(path).async_client() as client:
        replayed = await run_all(client)

    assert replayed == recorded


# -- what the file holds: no credentials -------------------------------------------------------


def echo_the_key(request: Any) -> str:
    return f"You said: {request.user_text}"


@pytest.mark.anyio
async def test_the_file_holds_no_credential_and_a_redacted_one_still_matches(
    tmp_path: Path, driver: Driver
) -> None:
    path = tmp_path / "secret.json"
    emulator = Emulator(echo_the_key, api_key=KEY)  # the emulator checks the key is sent
    prompt = f"My key is {KEY}, repeat it."

    recorded = await record_run(path, emulator, driver, prompt)
    record_raw_requests(path.with_suffix(".raw.json"), emulator, recorded.interaction_id)

    assert KEY in (recorded.output_text or "")  # the answer did echo it
    for written in (path, path.with_suffix(".raw.json")):
        text = written.read_text(encoding="utf-8")
        assert KEY not in text
        assert "tok-456" not in text
        assert "[REDACTED]" in text
    replayed, _ = await replay_run(path, driver, prompt)  # another key, the same run
    assert replayed.status == "completed"
    assert replayed.output_text == "You said: My key is [REDACTED], repeat it."


def record_raw_requests(path: Path, emulator: Emulator, interaction_id: str | None) -> None:
    """Credentials in a `key=` parameter and an `Authorization` header (a Vertex token)."""
    with Recorder(path, emulator) as recorder, httpx.Client(transport=recorder) as http:
        http.get(
            f"https://example.invalid/v1beta/interactions/{interaction_id}", params={"key": KEY}
        )
        http.get(
            "https://example.invalid/v1beta/interactions/v1_nope",
            headers={"Authorization": "Bearer tok-456", "x-goog-api-key": KEY},
        )


def test_extra_secrets_are_redacted_too(tmp_path: Path) -> None:
    path = tmp_path / "extra.json"
    with Recorder(path, Emulator(), secrets=["customer-42-token"]).client(api_key=KEY) as client:
        client.interactions.create(model=MODEL, input="Look up customer-42-token please.")

    assert "customer-42-token" not in path.read_text(encoding="utf-8")


# -- replays that do not fit: typed errors that say why ----------------------------------------


@pytest.mark.anyio
async def test_a_request_the_recording_does_not_hold_raises_request_not_recorded(
    tmp_path: Path, driver: Driver
) -> None:
    path = tmp_path / "weather.json"
    await record_run(path, Emulator(weather_script()), driver, "Weather in Paris?")

    with pytest.raises(RequestNotRecorded) as caught:
        await replay_run(path, driver, "Weather in Oslo?")

    error = caught.value
    assert (error.method, error.path) == ("POST", "/v1beta/interactions")
    message = str(error)
    assert f"The recording {path} holds no answer for POST /v1beta/interactions" in message
    assert 'body.input: recorded "Weather in Paris?", sent "Weather in Oslo?"' in message
    assert "The recording holds: POST /v1beta/interactions x2 (0 played)." in message
    assert "replay" not in message.split("differs")[1]  # no key, placeholder or real


def test_a_mismatch_message_shows_no_credential(tmp_path: Path) -> None:
    path = tmp_path / "secret.json"
    with Recorder(path, Emulator()).client(api_key=KEY) as client:
        client.interactions.create(model=MODEL, input="Hi")

    with (
        Replayer(path).client(api_key=KEY) as client,
        pytest.raises(RequestNotRecorded) as caught,
    ):
        client.interactions.create(model=MODEL, input=f"Hi, I am {KEY}")

    assert 'sent "Hi, I am [REDACTED]"' in str(caught.value)
    assert KEY not in str(caught.value)
    assert KEY not in repr(Recorder(tmp_path / "other.json", Emulator()))


def test_a_request_sent_more_often_than_recorded_is_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "once.json"
    with Recorder(path, Emulator()).client(api_key=KEY) as client:
        created = client.interactions.create(model=MODEL, input="Hi")
        client.interactions.get(created.id)

    with Replayer(path).client() as client:
        assert client.interactions.get(created.id).id == created.id
        with pytest.raises(RequestNotRecorded, match=r"x1 \(1 played\)") as caught:
            client.interactions.get(created.id)
    assert caught.value.method == "GET"
    assert "request 2 to it in this replay" in str(caught.value)


def test_a_recording_with_unplayed_exchanges_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "two.json"
    recorder = Recorder(path, Emulator())
    with recorder.client(api_key=KEY) as client:
        client.interactions.create(model=MODEL, input="One")
        client.interactions.create(model=MODEL, input="Two")
    assert recorder.recording == Recording.load(path)  # the file holds what it recorded

    replayer = Replayer(path)
    with replayer.client() as client:
        client.interactions.create(model=MODEL, input="Two")  # out of order: still found

    assert [ex.request_json["input"] for ex in replayer.unplayed] == ["One"]
    assert replayer.recording == Recording.load(path)
    with pytest.raises(RecordingError, match=r"1 recorded exchanges were never requested"):
        replayer.check_all_played()


def test_ignored_fields_are_not_compared(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    ticks = iter(range(100))

    @tool
    def now() -> int:
        """The current time."""
        return next(ticks)

    def run(client: Client) -> RunResult[Any]:
        return Agent(MODEL, tools=[now], client=client).run_sync("What time is it?")

    with Recorder(path, Emulator()).client(api_key=KEY) as client:
        recorded = run(client)
    with Replayer(path).client() as client, pytest.raises(RequestNotRecorded, match="result"):
        run(client)  # the tool answers another time now

    with Replayer(path, ignore=["input.result"]).client() as client:
        assert run(client).output_text == recorded.output_text


# -- failures are recorded and replayed --------------------------------------------------------


@pytest.mark.anyio
async def test_a_broken_stream_and_its_resumption_replay_the_same(
    tmp_path: Path, driver: Driver
) -> None:
    path = tmp_path / "dropped.json"
    emulator = Emulator(weather_script())
    emulator.drop_stream_after(3)
    recorded = await record_run(path, emulator, driver, "Weather in Paris?")

    replayed, _ = await replay_run(path, driver, "Weather in Paris?")

    assert wire(replayed) == wire(recorded)
    first, resumed = Recording.load(path).exchanges[:2]
    assert first.error is not None
    assert first.error[0] == "ReadError"
    assert first.status == 200
    assert resumed.method == "GET"
    assert "last_event_id=" in resumed.url


def test_a_retried_error_replays_with_its_retry(tmp_path: Path) -> None:
    path = tmp_path / "retry.json"
    emulator = Emulator()
    emulator.fail_next(1, 429, retry_after=7)
    with Recorder(path, emulator).client(api_key=KEY, sleep=no_wait) as client:
        recorded = client.interactions.create(model=MODEL, input="Hi")

    delays: list[float] = []
    with Replayer(path).client(sleep=delays.append) as client:
        replayed = client.interactions.create(model=MODEL, input="Hi")

    assert replayed.to_wire() == recorded.to_wire()
    assert delays == [7.0]  # the recorded Retry-After, honoured again
    statuses = [ex.status for ex in Recording.load(path).exchanges]
    assert statuses == [429, 200]


@pytest.mark.anyio
async def test_a_connection_failure_is_recorded_and_raised_again(
    tmp_path: Path, driver: Driver
) -> None:
    path = tmp_path / "refused.json"

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    recorder = Recorder(path, httpx.MockTransport(refuse))
    client = client_for(recorder, driver, api_key=KEY, max_retries=0)
    with pytest.raises(APIConnectionError, match="connection refused"):
        await get(client, "v1_a")

    (exchange,) = Recording.load(path).exchanges
    assert exchange.status is None
    assert exchange.error == ("ConnectError", "connection refused")
    replayed = client_for(Replayer(path), driver, max_retries=0)
    with pytest.raises(APIConnectionError, match="connection refused") as caught:
        await get(replayed, "v1_a")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def get(client: Client | AsyncClient, interaction_id: str) -> Any:
    try:
        if isinstance(client, Client):
            return await anyio.to_thread.run_sync(client.interactions.get, interaction_id)
        return await client.interactions.get(interaction_id)
    finally:
        await close(client)


def test_a_compressed_response_is_recorded_decoded(tmp_path: Path) -> None:
    path = tmp_path / "gzip.json"
    interaction: dict[str, Any] = {"id": "v1_z", "status": "completed", "steps": []}

    def gzipped(request: httpx.Request) -> httpx.Response:
        body = gzip.compress(json.dumps(interaction).encode())
        headers = {"content-type": "application/json", "content-encoding": "gzip"}
        return httpx.Response(200, headers=headers, content=body)

    with Recorder(path, httpx.MockTransport(gzipped)).client(api_key=KEY) as client:
        assert client.interactions.get("v1_z").id == "v1_z"

    (exchange,) = Recording.load(path).exchanges
    assert exchange.response_json == interaction
    assert "content-encoding" not in exchange.response_headers
    with Replayer(path).client() as client:
        assert client.interactions.get("v1_z").status == "completed"


# -- the context manager -----------------------------------------------------------------------


def test_auto_mode_records_once_then_replays_without_the_emulator(tmp_path: Path) -> None:
    path = tmp_path / "auto" / "session.json"  # missing directories are made

    def session(**options: Any) -> tuple[str | None, type[object]]:
        with recording(path, **options) as transport, transport.client(api_key=KEY) as client:
            result = Agent(MODEL, tools=[get_weather], client=client).run_sync("Weather?")
            return result.output_text, type(transport)

    first = session(transport=Emulator(weather_script()))
    second = session()  # no transport: nothing could answer but the file

    assert first[1] is Recorder
    assert second == (first[0], Replayer)


def test_replay_mode_needs_the_file(tmp_path: Path) -> None:
    with (
        pytest.raises(RecordingError, match=r"No recording at .*missing\.json: record it first"),
        recording(tmp_path / "missing.json", "replay"),
    ):
        pass


def test_replay_mode_checks_every_exchange_was_played_on_a_clean_exit(tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    with (
        recording(path, "record", transport=Emulator()) as transport,
        transport.client(api_key=KEY) as client,
    ):
        client.interactions.create(model=MODEL, input="Hi")

    with (
        pytest.raises(RecordingError, match="never requested: POST /v1beta/interactions"),
        recording(path, "replay"),
    ):
        pass
    # An error inside the block is the one that surfaces, not the unplayed exchanges.
    with pytest.raises(KeyError), recording(path, "replay"):
        raise KeyError("the test's own failure")


def test_record_mode_replaces_an_existing_recording(tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    path.write_text("old", encoding="utf-8")

    with recording(path, "record", transport=Emulator()):
        assert Recording.load(path).exchanges == ()


def test_a_failing_recording_session_leaves_the_file_as_it_was(
    tmp_path: Path,
) -> None:
    path = tmp_path / "session.json"
    with pytest.raises(UsageError), recording(path):
        raise UsageError("No API key")  # as a first run without a key fails
    assert not path.exists()  # the next run records again rather than replaying nothing

    path.write_text("the previous recording", encoding="utf-8")
    with pytest.raises(KeyError), recording(path, "record", transport=Emulator()):
        raise KeyError("fails at once")
    assert path.read_text(encoding="utf-8") == "the previous recording"

    # Exchanges recorded before the failure are dropped too: replaying them would replay it.
    def one_exchange_then_a_failure() -> None:
        with (
            recording(path, "record", transport=Emulator()) as transport,
            transport.client(api_key=KEY) as client,
        ):
            client.interactions.create(model=MODEL, input="Hi")
            raise KeyError("fails after one exchange")

    with pytest.raises(KeyError):
        one_exchange_then_a_failure()
    assert path.read_text(encoding="utf-8") == "the previous recording"


def test_an_unknown_mode_is_a_usage_error(tmp_path: Path) -> None:
    bad: Any = "playback"
    with (
        pytest.raises(UsageError, match="mode must be 'auto', 'record' or 'replay'"),
        recording(tmp_path / "x.json", bad),
    ):
        pass


# -- transports and files that cannot work -----------------------------------------------------


def test_a_sync_only_transport_cannot_record_for_an_async_client(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "x.json", SyncOnly())
    recorder_async = Recorder(tmp_path / "y.json", AsyncOnly())

    async def send() -> None:
        async with httpx.AsyncClient(transport=recorder) as http:
            await http.get("https://example.invalid/")

    with pytest.raises(UsageError, match="sync-only transport: use it with a Client"):
        anyio.run(send)
    with (
        httpx.Client(transport=recorder_async) as http,
        pytest.raises(UsageError, match="async-only transport: use it with an AsyncClient"),
    ):
        http.get("https://example.invalid/")


class SyncOnly(httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(204)


class AsyncOnly(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(204)


def test_an_unwritable_path_fails_when_the_recorder_is_made(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")

    with pytest.raises(RecordingError, match="Cannot write the recording"):
        Recorder(blocker / "session.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "is not JSON"),
        ("[]", 'is not an agentkit recording \\(no "version" field\\)'),
        ('{"version": 2, "exchanges": []}', "has format version 2; this agentkit reads version 1"),
        ('{"version": 1, "exchanges": {}}', '"exchanges" must be a list'),
        ('{"version": 1, "exchanges": [{"request": {"method": "GET"}}]}', "string method and url"),
        (
            '{"version": 1, "exchanges": [{"request": {"method": "GET", "url": "u"}}]}',
            'exchanges\\[0\\] has neither a "response" nor an "error"',
        ),
        (
            '{"version": 1, "exchanges": [{"request": {"method": "GET", "url": "u"},'
            ' "response": {"status": 1000}}]}',
            "exchanges\\[0\\].response.status must be an HTTP status code",
        ),
        (
            '{"version": 1, "exchanges": [{"request": {"method": "GET", "url": "u"},'
            ' "response": {"status": 200, "text": "a", "base64": "YQ=="}}]}',
            "more than one body \\(text, base64\\)",
        ),
        (
            '{"version": 1, "exchanges": [{"request": {"method": "GET", "url": "u"},'
            ' "response": {"status": 200, "sse": ["a", 1]}}]}',
            "sse must be a list of strings",
        ),
        (
            '{"version": 1, "exchanges": [{"request": {"method": "GET", "url": "u"},'
            ' "response": {"status": 200, "base64": "***"}}]}',
            "base64 is not valid base64",
        ),
        ('{"version": 1, "exchanges": [1]}', "exchanges\\[0\\] must be a JSON object"),
        (
            '{"version": 1, "exchanges": [{"request": {"method": "GET", "url": "u",'
            ' "headers": {"a": 1}}, "error": {"type": "ReadError"}}]}',
            "request.headers must map names to strings",
        ),
        (
            '{"version": 1, "exchanges": [{"request": {"method": "GET", "url": "u"},'
            ' "error": {"type": 1}}]}',
            "error needs a string type and message",
        ),
        (
            '{"version": 1, "exchanges": [{"request": {"method": "GET", "url": "u"},'
            ' "response": {"status": 200, "text": 1}}]}',
            "response.text must be a string",
        ),
    ],
)
def test_a_file_that_is_not_a_recording_is_a_recording_error(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(RecordingError, match=message):
        Replayer(path)


# -- the format round-trips, credentials redacted ----------------------------------------------

# Shaped like Gemini keys: a word of the file's own structure ("content-type") is no key.
KEYS = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", min_size=12
).map(lambda tail: f"AIza{tail}")
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
SSE = st.lists(st.text(min_size=1).map(lambda text: f"data: {text}\n\n"), max_size=5).map("".join)


@st.composite
def exchanges(draw: st.DrawFn, key: str) -> Exchange:
    """Any exchange, with the key in a header, the query and anywhere in either body."""

    def maybe_key(text: str) -> str:
        return draw(st.sampled_from([text, f"{text}{key}", f"{key}{text}"]))

    request_body = json.dumps({"input": maybe_key(draw(st.text())), "x": draw(JSON)}).encode()
    kind = draw(st.sampled_from(["json", "sse", "text", "bytes", "empty"]))
    response_type = {
        "json": "application/json",
        "sse": "text/event-stream",
        "text": "text/plain",
        "bytes": "application/octet-stream",
        "empty": "application/json",
    }[kind]
    if kind == "json":
        response_body = json.dumps(draw(JSON)).encode()
    elif kind == "sse":
        response_body = maybe_key(draw(SSE)).encode()
    elif kind == "text":
        response_body = maybe_key(draw(st.text())).encode()
    elif kind == "bytes":
        response_body = draw(st.binary()) + key.encode()
    else:
        response_body = b""
    error = draw(st.none() | st.tuples(st.just("ReadError"), st.text().map(maybe_key)))
    return Exchange(
        method=draw(st.sampled_from(["GET", "POST", "DELETE"])),
        url=f"https://example.invalid/v1beta/interactions?key={key}&stream=true",
        request_headers={"x-goog-api-key": key, "content-type": "application/json"},
        request_body=request_body,
        status=draw(st.sampled_from([200, 404, 503])),
        response_headers={"content-type": response_type, "x-echo": maybe_key("v")},
        response_body=response_body,
        error=error,
    )


@settings(max_examples=60, deadline=None)
@given(data=st.data(), key=KEYS)
def test_a_recording_round_trips_through_its_file_without_the_key(
    data: st.DataObject, key: str
) -> None:
    from agentkit.testing._recording_file import redact_exchange  # the Recorder's own step

    originals = data.draw(st.lists(exchanges(key), max_size=3))
    redacted = tuple(redact_exchange(exchange, [key]) for exchange in originals)

    text = Recording(redacted).to_json()
    loaded = Recording.from_json(text)

    assert key not in text
    assert json.dumps(key)[1:-1] not in text
    assert len(loaded.exchanges) == len(redacted)
    for before, after in zip(redacted, loaded.exchanges, strict=True):
        assert (after.method, after.url, after.status, after.error) == (
            before.method,
            before.url,
            before.status,
            before.error,
        )
        assert after.request_headers == before.request_headers
        assert after.response_headers == before.response_headers
        assert after.request_json == before.request_json
        if before.response_headers["content-type"] == "application/json":
            assert after.response_json == before.response_json
        else:  # event streams, text and bytes come back byte for byte
            assert after.response_body == before.response_body


def test_a_json_response_that_does_not_parse_is_kept_as_text() -> None:
    exchange = Exchange(
        "GET",
        "https://example.invalid/",
        status=502,
        response_headers={"content-type": "application/json"},
        response_body=b"<html>Bad gateway</html>",
    )
    text = Recording((exchange,)).to_json()

    assert '"text": "<html>Bad gateway</html>"' in text
    assert Recording.from_json(text).exchanges == (exchange,)


def test_an_event_stream_that_is_not_utf8_is_kept_byte_for_byte(tmp_path: Path) -> None:
    body = b"data: \xff\xfe\n\n"
    exchange = Exchange(
        "GET",
        "https://example.invalid/v1beta/interactions/v1_a?stream=true",
        status=200,
        response_headers={"content-type": "text/event-stream"},
        response_body=body,
    )
    path = tmp_path / "bytes.json"
    Recording((exchange,)).save(path)

    with httpx.Client(transport=Replayer(path)) as http:
        response = http.get("https://example.invalid/v1beta/interactions/v1_a?stream=true")
    assert response.content == body
    assert '"base64"' in path.read_text(encoding="utf-8")


# -- the example -------------------------------------------------------------------------------


@pytest.fixture
def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def test_the_record_replay_example_runs_offline(offline_env: dict[str, str]) -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "record_replay.py")],
        cwd=ROOT,
        env=offline_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert (
        lines[0] == "Backend: built-in emulator (offline; set GEMINI_API_KEY to use the real API)"
    )
    assert "Recorded 2 exchanges to " in completed.stdout
    assert "The API key appears in the file: no" in completed.stdout
    assert "Replayed without the emulator: same answer" in completed.stdout
    assert "A different question: RequestNotRecorded" in completed.stdout


# -- the matching rule, piece by piece ---------------------------------------------------------


@pytest.mark.parametrize(
    ("recorded", "sent", "difference"),
    [
        ({"a": 1}, {"a": 1.0}, None),  # the same JSON number
        ({"a": 1}, {"a": True}, "body.a: recorded 1, sent true"),
        ({"a": [1, 2]}, {"a": [1, 2, 3]}, "body.a: recorded 2 items, sent 3"),
        ({"a": [{"b": "x"}]}, {"a": [{"b": "y"}]}, 'body.a[0].b: recorded "x", sent "y"'),
        ({"a": 1, "b": 2}, {"a": 1}, "body.b: recorded 2, not sent"),
        ({"a": 1}, {"a": 1, "c": 3}, "body.c: not recorded, sent 3"),
        ("key [REDACTED] end", "key AIza-anything end", None),
        ("key [REDACTED] end", "key  end", 'body: recorded "key [REDACTED] end", sent "key  end"'),
        (None, {"a": 1}, 'body: recorded nothing, sent {"a": 1}'),
        ("x" * 200, "y", 'body: recorded "' + "x" * 76 + "..., sent " + '"y"'),
    ],
)
def test_bodies_are_compared_as_json_values(
    recorded: Any, sent: Any, difference: str | None
) -> None:
    from agentkit.testing._recording_match import first_difference  # the rule, unit-tested

    assert first_difference(recorded, sent) == difference


def test_ignored_paths_go_through_every_list_item() -> None:
    from agentkit.testing._recording_match import without  # the rule, unit-tested

    body = {"input": [{"type": "function_result", "result": 1}, {"type": "text"}], "n": 2}
    assert without(body, [("input", "result"), ("n",), ("missing", "x")]) == {
        "input": [{"type": "function_result"}, {"type": "text"}]
    }


def test_a_body_that_is_not_json_is_compared_as_text(tmp_path: Path) -> None:
    exchange = Exchange(
        "POST", "https://example.invalid/upload", request_body=b"plain words", status=204
    )
    replayer = Replayer(Recording((exchange,)))

    with httpx.Client(transport=replayer) as http:
        with pytest.raises(RequestNotRecorded, match='recorded "plain words", sent "other"'):
            http.post("https://example.invalid/upload", content=b"other")
        assert (
            http.post("https://example.invalid/upload", content=b"plain words").status_code == 204
        )
    assert repr(replayer) == "Replayer(1 exchanges)"
