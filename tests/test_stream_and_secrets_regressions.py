"""A stream whose body ends inside an event, and the API key echoed in errors.

1. A body that ends cleanly (no transport error) before the blank line closing its last
   event was cut short, like a dropped connection: the cut event is dropped (WHATWG SSE) and
   the stream resumes from the last whole event, never failing on the half event's JSON.
2. A server or proxy that echoes the API key (in an error body, a header, an `error` event,
   an invalid 2xx body) must not expose it through anything reachable from the exception.

Every scenario runs through `Client` and `AsyncClient` (the `kind` fixture); the last test
checks the scrubbing itself against every escaped form of the key.
"""

from __future__ import annotations

import json
import traceback
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from typing import Any, cast
from urllib.parse import quote, unquote_plus

import anyio.to_thread
import httpx
import pydantic
import pytest
from _sse_helpers import Body, sse

from agentkit import Agent, APIError, AsyncClient, Client, RunResult
from agentkit._http import scrub, scrub_bytes
from agentkit.exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    InternalServerError,
    NotFoundError,
    ResponseLostError,
    StreamError,
)
from agentkit.testing import Emulator, Script
from agentkit.types import Event

KEY = "AIzaSy-PLANTED/key+0123456789"
MODEL = "gemini-3-flash-preview"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(params=["async", "sync"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- 1. a body that ends inside an event -----------------------------------------------------


class Outcome:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.error: APIError | None = None

    @property
    def ids(self) -> list[str | None]:
        return [event.event_id for event in self.events]


async def read(kind: str, clients: Callable[[str], Client | AsyncClient], op: str) -> Outcome:
    """Open a stream (`create`, or `get` of v1_emu_0001) and read it all; keep its error."""
    outcome = Outcome()
    client = clients(kind)
    if isinstance(client, AsyncClient):
        async with client:
            stream = await (
                client.interactions.create(model=MODEL, input="Say hi", stream=True)
                if op == "create"
                else client.interactions.get("v1_emu_0001", stream=True)
            )
            async with stream:
                try:
                    async for event in stream:
                        outcome.events.append(event)
                except APIError as error:
                    outcome.error = error
        return outcome

    def run() -> Outcome:
        assert isinstance(client, Client)
        with client:
            stream = (
                client.interactions.create(model=MODEL, input="Say hi", stream=True)
                if op == "create"
                else client.interactions.get("v1_emu_0001", stream=True)
            )
            with stream:
                try:
                    outcome.events.extend(stream)
                except APIError as error:
                    outcome.error = error
        return outcome

    return await anyio.to_thread.run_sync(run)


def emulator_clients(emulator: Emulator) -> Callable[[str], Client | AsyncClient]:
    return lambda kind: emulator.async_client() if kind == "async" else emulator.client()


async def whole_stream(kind: str, emulator: Emulator) -> list[str | None]:
    outcome = await read(kind, emulator_clients(emulator), "get")
    assert outcome.error is None
    return outcome.ids


@pytest.mark.anyio
@pytest.mark.parametrize("mid_event", [True, False], ids=["inside-an-event", "between-events"])
@pytest.mark.parametrize("after", [1, 3, 5])
async def test_a_body_that_ends_before_the_stream_is_over_resumes_from_the_last_whole_event(
    kind: str, mid_event: bool, after: int
) -> None:
    emulator = Emulator(Script(["Hello there, how are you doing today?"]))
    emulator.end_stream_after(after, mid_event=mid_event)
    outcome = await read(kind, emulator_clients(emulator), "create")
    assert outcome.error is None
    events = await whole_stream(kind, emulator)
    assert outcome.ids == events  # each event once, in order, the cut one included
    assert outcome.events[-1].event_type == "interaction.completed"
    post, resume, _replay = emulator.requests
    assert post.method == "POST"
    assert (resume.method, resume.path) == ("GET", "/v1beta/interactions/v1_emu_0001")
    assert resume.query == {"last_event_id": events[after - 1], "stream": "true"}
    assert len(emulator.sleeps) == 1  # waited as for any reconnection


@pytest.mark.anyio
async def test_a_body_that_ends_after_its_last_whole_event_is_a_normal_end(kind: str) -> None:
    emulator = Emulator(Script(["Hello there."]))
    emulator.end_stream_after(1000, mid_event=True)  # more events than the stream has
    outcome = await read(kind, emulator_clients(emulator), "create")
    assert outcome.error is None
    assert outcome.events[-1].event_type == "interaction.completed"
    assert [r.method for r in emulator.requests] == ["POST"]
    assert emulator.sleeps == []


@pytest.mark.anyio
async def test_a_body_cut_inside_its_first_event_fails_as_a_drop_there_does(kind: str) -> None:
    # Nothing names the interaction yet: resuming is impossible, and re-sending the create
    # would make a second interaction. The same typed error as for a dropped connection.
    emulator = Emulator(Script(["Hello there."] * 2))
    emulator.end_stream_after(0, mid_event=True)
    cut = await read(kind, emulator_clients(emulator), "create")
    emulator.drop_stream_after(0)
    dropped = await read(kind, emulator_clients(emulator), "create")
    for outcome in (cut, dropped):
        assert type(outcome.error) is ResponseLostError  # the server answered: it acted
        assert "cannot be resumed" in str(outcome.error)
        assert outcome.events == []
    assert [r.method for r in emulator.requests] == ["POST", "POST"]
    assert "in the middle of an event" in str(cut.error)


@pytest.mark.anyio
async def test_a_get_stream_cut_inside_its_first_event_starts_over(kind: str) -> None:
    # get(id, stream=True) knows its interaction: with no event yet, it resumes from the start.
    emulator = Emulator(Script(["Hello there."]))
    assert (await read(kind, emulator_clients(emulator), "create")).error is None
    events = await whole_stream(kind, emulator)
    emulator.end_stream_after(0, mid_event=True)
    outcome = await read(kind, emulator_clients(emulator), "get")
    assert outcome.error is None
    assert outcome.ids == events
    assert [r.query for r in emulator.requests[-2:]] == [{"stream": "true"}] * 2


RAW_EVENTS: list[dict[str, Any]] = [
    {"event_type": "interaction.created", "interaction": {"id": "v1_X", "status": "in_progress"}},
    {"event_type": "step.start", "index": 0, "step": {"type": "model_output"}},
    {"event_type": "step.delta", "index": 0, "delta": {"type": "text", "text": "Hi"}},
    {"event_type": "step.stop", "index": 0},
    {"event_type": "interaction.completed", "interaction": {"id": "v1_X", "status": "completed"}},
]
EVENTS = [{**event, "event_id": f"e{i}"} for i, event in enumerate(RAW_EVENTS)]


def sse_reply(chunks: list[bytes], error: Exception | None = None) -> httpx.Response:
    headers = {"content-type": "text/event-stream"}
    return httpx.Response(200, headers=headers, stream=Body(chunks, error))


def replies(*responses: httpx.Response | Exception) -> Handler:
    queue = deque(responses)

    def handle(_: httpx.Request) -> httpx.Response:
        reply = queue.popleft()
        if isinstance(reply, Exception):
            raise reply
        return reply

    return handle


def mock_clients(
    handler: Handler, requests: list[httpx.Request], **options: Any
) -> Callable[[str], Client | AsyncClient]:
    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return handler(request)

    async def no_wait(_: float) -> None:
        pass

    def make(kind: str) -> Client | AsyncClient:
        transport = httpx.MockTransport(record)
        options.setdefault("api_key", KEY)
        if kind == "async":
            return AsyncClient(transport=transport, sleep=no_wait, **options)
        return Client(transport=transport, sleep=lambda _: None, **options)

    return make


@pytest.mark.anyio
async def test_a_half_event_at_a_clean_end_is_not_parsed_but_fetched_again(kind: str) -> None:
    # The reported failure: the decoder handed the half event on at the end of the body,
    # and its truncated JSON raised APIResponseValidationError.
    half = sse(EVENTS[3])[:30]
    requests: list[httpx.Request] = []
    handler = replies(sse_reply([*map(sse, EVENTS[:3]), half]), sse_reply([*map(sse, EVENTS[2:])]))
    outcome = await read(kind, mock_clients(handler, requests), "create")
    assert outcome.error is None
    assert outcome.ids == ["e0", "e1", "e2", "e3", "e4"]
    assert dict(requests[1].url.params) == {"last_event_id": "e2", "stream": "true"}


@pytest.mark.anyio
async def test_a_half_event_with_no_event_id_to_resume_from_fails_as_a_drop(kind: str) -> None:
    # Events without ids cannot be resumed without duplicates: the drop's typed error.
    half = sse(RAW_EVENTS[2])[:30]
    requests: list[httpx.Request] = []
    handler = replies(sse_reply([*map(sse, RAW_EVENTS[:2]), half]))
    outcome = await read(kind, mock_clients(handler, requests), "create")
    assert type(outcome.error) is APIConnectionError
    assert "no event_id" in str(outcome.error)
    assert len(outcome.events) == 2
    assert len(requests) == 1


# --- 2. the API key echoed back ------------------------------------------------------------

# The key as servers and proxies echo it: as is, percent-encoded (lower-case hex), as JSON
# \u escapes, in a `key=` query parameter.
PERCENT = "".join(f"%{byte:02x}" for byte in KEY.encode())
JSON_ESCAPED = "".join(f"\\u{ord(char):04x}" for char in KEY)
ECHO = {
    "error": {
        "code": f"bad-key-{KEY}",
        "message": f"API key {KEY} not valid",
        "details": [{KEY: [f"https://proxy.invalid/v1?key={quote(KEY)}", PERCENT, "escaped"]}],
    }
}
ECHO_JSON = json.dumps(ECHO).replace('"escaped"', f'"{JSON_ESCAPED}"').encode()


class Reachable:
    """Every text reachable from an exception: its attributes at any depth, its str, repr and
    traceback, the chained exceptions, the request and response (text, content, JSON, headers,
    URL), the pydantic errors (their inputs included)."""

    _MODULES = ("agentkit", "httpx", "pydantic", "pydantic_core", "builtins")

    def __init__(self, root: BaseException) -> None:
        self.texts: list[str] = []
        self._seen: set[int] = set()
        self.walk(root, 0)

    def walk(self, value: object, depth: int) -> None:
        if depth > 15 or id(value) in self._seen:
            return
        self._seen.add(id(value))
        if isinstance(value, str):
            self.texts.append(value)
        elif isinstance(value, (bytes, bytearray)):
            self.texts.append(bytes(value).decode("latin-1"))
        elif not (value is None or isinstance(value, (bool, int, float)) or callable(value)):
            self.texts.append(repr(value))
            for item in self._children(value):
                self.walk(item, depth + 1)

    def _children(self, value: object) -> list[object]:
        return [*self._parts(value), *self._attributes(value)]

    def _parts(self, value: object) -> list[object]:
        if isinstance(value, BaseException):
            return self._exception(value)
        if isinstance(value, (httpx.Request, httpx.Response)):
            return self._message(value)
        if isinstance(value, dict):
            return [*cast("dict[object, object]", value).items()]
        if isinstance(value, (list, tuple, set, frozenset, deque)):
            return list(cast("list[object]", value))
        return []

    def _attributes(self, value: object) -> list[object]:
        if type(value).__module__.split(".")[0] not in self._MODULES:
            return []
        slots: tuple[str, ...] = getattr(type(value), "__slots__", ())
        return [getattr(value, "__dict__", None), *(getattr(value, name, None) for name in slots)]

    def _exception(self, error: BaseException) -> list[object]:
        texts = [str(error), "".join(traceback.format_exception(error))]
        if isinstance(error, pydantic.ValidationError):
            texts += [repr(error.errors()), error.json()]
        children: list[object] = [*texts, error.args, error.__cause__, error.__context__]
        if isinstance(error, httpx.RequestError):
            with suppress(RuntimeError):  # no request attached
                children.append(error.request)
        return children

    def _message(self, message: httpx.Request | httpx.Response) -> list[object]:
        children: list[object] = [str(message.url), message.headers.multi_items()]
        if isinstance(message, httpx.Request):
            return [*children, message.content]
        children += [message.text, message.content, message.reason_phrase, message.request]
        with suppress(ValueError):
            children.append(message.json())
        return children


def shows_key(text: str) -> bool:
    forms = [text, unquote_plus(text), text.replace("\\/", "/")]
    with suppress(UnicodeDecodeError):
        forms.append(text.encode("latin-1", "backslashreplace").decode("unicode_escape"))
    return any(KEY in form for form in forms)


def assert_key_free(error: BaseException) -> list[str]:
    texts = Reachable(error).texts
    leaks = [text for text in texts if shows_key(text)]
    assert leaks == []
    return texts


async def failure(kind: str, clients: Callable[[str], Client | AsyncClient], op: str) -> APIError:
    """Run one call (`get`, `create`, or reading a `stream`) and return the error it raised."""
    if op == "stream":
        outcome = await read(kind, clients, "create")
        assert outcome.error is not None
        return outcome.error
    client = clients(kind)
    if isinstance(client, AsyncClient):
        async with client:
            with pytest.raises(APIError) as info:
                await (
                    client.interactions.get("v1_X")
                    if op == "get"
                    else client.interactions.create(model=MODEL, input="hi")
                )
        return info.value

    def call(client: Client) -> object:
        if op == "get":
            return client.interactions.get("v1_X")
        return client.interactions.create(model=MODEL, input="hi")

    def run() -> APIError:
        assert isinstance(client, Client)
        with client, pytest.raises(APIError) as info:
            call(client)
        return info.value

    return await anyio.to_thread.run_sync(run)


def echo_reply(status: int) -> httpx.Response:
    headers = {"content-type": "application/json", "x-debug-echo": f"key={KEY}"}
    return httpx.Response(status, headers=headers, content=ECHO_JSON)


@pytest.mark.anyio
async def test_a_status_error_echoing_the_key_shows_it_nowhere(kind: str) -> None:
    requests: list[httpx.Request] = []
    clients = mock_clients(replies(echo_reply(401)), requests)
    error = await failure(kind, clients, "get")
    assert isinstance(error, AuthenticationError)
    texts = assert_key_free(error)
    assert requests[0].headers["x-goog-api-key"] == KEY  # it was really sent
    assert json.loads(ECHO_JSON)["error"]["details"][0][KEY][2] == KEY  # escaped, it still is
    # Scrubbed, not dropped: the rest of the body is still there to read.
    assert error.response is not None
    assert error.response.status_code == 401
    assert error.response.json()["error"]["message"] == "API key [REDACTED] not valid"
    assert error.body == error.response.json()
    assert error.code == "bad-key-[REDACTED]"
    assert error.response.headers["x-debug-echo"] == "key=[REDACTED]"
    assert error.response.request is error.request
    assert str(error) == "Error code: 401 - API key [REDACTED] not valid"
    assert len(texts) > 20


@pytest.mark.anyio
async def test_a_server_error_echoing_the_key_after_retries_shows_it_nowhere(kind: str) -> None:
    text = f"<html>proxy saw x-goog-api-key: {KEY} ({PERCENT}) at /v1?key={quote(KEY)}</html>"
    answers = [httpx.Response(502, text=text) for _ in range(3)]
    requests: list[httpx.Request] = []
    error = await failure(kind, mock_clients(replies(*answers), requests, max_retries=2), "get")
    assert isinstance(error, InternalServerError)
    assert len(requests) == 3
    assert_key_free(error)
    assert error.response is not None
    assert error.response.text.startswith("<html>proxy saw x-goog-api-key: [REDACTED] ([REDACTED])")
    assert error.body == error.response.text


@pytest.mark.anyio
async def test_an_emulator_echoing_the_key_in_errors_shows_it_nowhere(kind: str) -> None:
    emulator = Emulator(Script(["Hello there, how are you?"] * 3))

    def clients(kind: str) -> Client | AsyncClient:
        if kind == "async":
            return emulator.async_client(api_key=KEY, max_retries=1)
        return emulator.client(api_key=KEY, max_retries=1)

    emulator.fail_next(2, 503, body=ECHO)
    status = await failure(kind, clients, "get")
    assert isinstance(status, InternalServerError)
    emulator.error_stream_after(2, code=KEY, message=f"key {KEY} is over quota")
    streamed = await failure(kind, clients, "stream")
    assert isinstance(streamed, StreamError)
    assert str(streamed) == "Stream error [REDACTED]: key [REDACTED] is over quota"
    assert streamed.code == "[REDACTED]"
    for error in (status, streamed):
        assert_key_free(error)


@pytest.mark.anyio
async def test_a_stream_error_event_or_reconnection_echoing_the_key_shows_it_nowhere(
    kind: str,
) -> None:
    error_event: dict[str, Any] = {"event_type": "error", "event_id": "e2"}
    error_event["error"] = {"code": KEY, "message": f"key {PERCENT} over quota"}
    in_stream = mock_clients(replies(sse_reply([sse(EVENTS[0]), sse(error_event)])), [])
    reconnect = mock_clients(
        replies(sse_reply([sse(EVENTS[0])], httpx.ReadError(f"reset {KEY}")), echo_reply(404)),
        [],
    )
    first = await failure(kind, in_stream, "stream")
    second = await failure(kind, reconnect, "stream")
    assert isinstance(first, StreamError)
    assert first.code == "[REDACTED]"
    assert isinstance(second, NotFoundError)
    for error in (first, second):
        assert_key_free(error)


INVALID_BODIES = [
    pytest.param(b"{not json " + KEY.encode(), id="not-json"),
    pytest.param(json.dumps([KEY]).encode(), id="not-an-object"),
    pytest.param(
        json.dumps({"id": "v1_X", "status": "completed", "usage": {"total_tokens": KEY}}).encode(),
        id="invalid-field",
    ),
    pytest.param(
        json.dumps(
            {
                "id": "v1_X",
                "steps": [{"type": "function_call", "id": "c", "name": 3, "arguments": KEY}],
            }
        ).encode(),
        id="invalid-step",
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize("content", INVALID_BODIES)
async def test_an_invalid_body_holding_the_key_shows_it_nowhere(kind: str, content: bytes) -> None:
    reply = httpx.Response(200, headers={"content-type": "application/json"}, content=content)
    error = await failure(kind, mock_clients(replies(reply), []), "create")
    assert isinstance(error, APIResponseValidationError)
    assert_key_free(error)
    # The cause is kept for debugging, only without the key.
    assert isinstance(error.__cause__, pydantic.ValidationError)


async def run_failure(kind: str, clients: Callable[[str], Client | AsyncClient]) -> APIError:
    """The error that ends an agent's run (its stored creates are streamed) over `clients`."""
    client = clients(kind)
    if isinstance(client, AsyncClient):
        async with client:
            with pytest.raises(APIError) as info:
                await Agent(MODEL, client=client).run("hi")
        return info.value

    def run() -> APIError:
        assert isinstance(client, Client)
        with client, pytest.raises(APIError) as info:
            Agent(MODEL, client=client).run_sync("hi")
        return info.value

    return await anyio.to_thread.run_sync(run)


@pytest.mark.anyio
async def test_a_run_whose_stream_drops_folds_the_replayed_events_once(kind: str) -> None:
    # The server resumes inclusively: e2, the text delta, comes again after the drop.
    requests: list[httpx.Request] = []
    handler = replies(
        sse_reply([*map(sse, EVENTS[:3])], httpx.ReadError("reset")),
        sse_reply([*map(sse, EVENTS[2:])]),
    )
    client = mock_clients(handler, requests)(kind)
    if isinstance(client, AsyncClient):
        async with client:
            result = await Agent(MODEL, client=client).run("hi")
    else:
        sync_client = client

        def run() -> RunResult[Any]:
            with sync_client:
                return Agent(MODEL, client=sync_client).run_sync("hi")

        result = await anyio.to_thread.run_sync(run)
    assert result.output_text == "Hi"
    assert [request.method for request in requests] == ["POST", "GET"]
    assert dict(requests[1].url.params) == {"last_event_id": "e2", "stream": "true"}


# A step whose fields have their JSON types but not the models' (a run folds it unparsed and
# validates it with the interaction), and events a run parses as they come.
INVALID_RUN_EVENTS = [
    pytest.param(
        {
            "event_type": "step.start",
            "index": 0,
            "step": {"type": "function_call", "id": "c", "name": 3, "arguments": KEY},
        },
        id="invalid-step",
    ),
    pytest.param({"event_type": "step.start", "index": KEY, "step": {"type": KEY}}, id="bad-index"),
    pytest.param(
        {"event_type": "step.delta", "index": 0, "delta": {"type": "text", "text": [KEY]}},
        id="bad-delta",
    ),
    pytest.param({"event_type": "interaction.status_update", "status": [KEY]}, id="bad-status"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("bad", INVALID_RUN_EVENTS)
async def test_a_run_over_an_invalid_stream_event_holding_the_key_shows_it_nowhere(
    kind: str, bad: dict[str, Any]
) -> None:
    events = [EVENTS[0], {**bad, "event_id": "e1"}, *EVENTS[2:]]
    clients = mock_clients(replies(sse_reply([*map(sse, events)])), [])
    error = await run_failure(kind, clients)
    assert isinstance(error, APIResponseValidationError)
    assert isinstance(error.__cause__, pydantic.ValidationError)
    assert "not a valid stream" in str(error)
    assert_key_free(error)


# Event data that json.loads takes and the wire models refuse, or that json.loads cannot
# take: a run reports each as the invalid event it is, never with another exception.
MALFORMED_DATA = [
    pytest.param(
        '{"event_type": "step.delta", "event_id": "e2", "index": 0, '
        '"delta": {"type": "text", "text": "\\ud800' + KEY + '"}}',
        id="lone-surrogate",
    ),
    pytest.param(
        '{"event_type": "interaction.status_update", "event_id": "e2", "usage": '
        '{"total_tokens": NaN}, "status": "' + KEY + '"}',
        id="nan",
    ),
    pytest.param("[" * 100_000, id="nested-too-deeply"),
    pytest.param(
        '{"event_type": "interaction.status_update", "event_id": "e2", "usage": '
        '{"total_tokens": 1, "x": ' + "[" * 300 + "]" * 300 + "}}",
        id="usage-nested-past-the-parser",
    ),
    pytest.param(
        '{"event_type": "interaction.completed", "event_id": "e2", '
        '"interaction": {"id": "v1_X", "status": "completed", "x": '
        + "[" * 5_000
        + json.dumps(KEY)
        + "]" * 5_000
        + "}}",
        id="snapshot-nested-too-deeply",
    ),
    pytest.param(
        json.dumps(
            {
                "event_type": "step.start",
                "event_id": "e2",
                "index": 0,
                "step": {"type": "model_output", "content": [{"type": "text", "text": 5}]},
            }
        ),
        id="invalid-step-content",
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize("data", MALFORMED_DATA)
async def test_a_run_over_malformed_event_data_fails_as_over_an_invalid_event(
    kind: str, data: str
) -> None:
    body = [sse(EVENTS[0]), f"data: {data}\n\n".encode(), *map(sse, EVENTS[1:])]
    error = await run_failure(kind, mock_clients(replies(sse_reply(body)), []))
    assert isinstance(error, APIResponseValidationError)
    assert_key_free(error)


@pytest.mark.anyio
async def test_an_invalid_stream_event_holding_the_key_shows_it_nowhere(kind: str) -> None:
    bad = {"event_type": "step.start", "event_id": "e1", "index": KEY, "step": {"type": KEY}}
    clients = mock_clients(replies(sse_reply([sse(EVENTS[0]), sse(bad)])), [])
    error = await failure(kind, clients, "stream")
    assert isinstance(error, APIResponseValidationError)
    assert isinstance(error.__cause__, pydantic.ValidationError)
    assert_key_free(error)


@pytest.mark.anyio
async def test_a_key_query_parameter_and_a_key_in_the_request_are_redacted(kind: str) -> None:
    # An http_client that sends the key as `?key=` (as some Google API samples do), and
    # text holding it: the request an error carries shows neither.
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return echo_reply(400)

    transport = httpx.MockTransport(record)
    params = {"key": KEY}
    if kind == "async":
        async with (
            httpx.AsyncClient(transport=transport, params=params) as http,
            AsyncClient(api_key=KEY, http_client=http) as client,
        ):
            with pytest.raises(APIStatusError) as info:
                await client.interactions.create(model=MODEL, input=f"my key is {KEY}")
    else:

        def run() -> pytest.ExceptionInfo[APIStatusError]:
            with (
                httpx.Client(transport=transport, params=params) as http,
                Client(api_key=KEY, http_client=http) as client,
                pytest.raises(APIStatusError) as raised,
            ):
                client.interactions.create(model=MODEL, input=f"my key is {KEY}")
            return raised

        info = await anyio.to_thread.run_sync(run)
    assert requests[0].url.params["key"] == KEY  # it was really sent that way
    error = info.value
    assert_key_free(error)
    assert error.request is not None
    assert error.request.url.params["key"] == "[REDACTED]"
    assert json.loads(error.request.content)["input"] == "my key is [REDACTED]"


@pytest.mark.anyio
async def test_a_connection_error_holding_the_key_shows_it_nowhere(kind: str) -> None:
    broken = [httpx.ReadError(f"reset while sending {KEY}") for _ in range(2)]
    error = await failure(kind, mock_clients(replies(*broken), [], max_retries=1), "get")
    assert isinstance(error, APIConnectionError)
    assert isinstance(error.__cause__, httpx.ReadError)
    assert_key_free(error)


def test_every_escaped_form_of_the_key_is_scrubbed() -> None:
    forms = [
        KEY,
        PERCENT,  # lower-case hex
        PERCENT.upper(),
        quote(KEY, safe=""),
        JSON_ESCAPED,
        KEY.replace("/", "\\/"),  # JSON's optional escape of "/"
        repr(KEY)[1:-1],
        KEY[:6] + PERCENT[18:],  # a mix of forms
    ]
    for form in forms:
        assert scrub(f"<{form}>", (KEY,)) == "<[REDACTED]>", form
    assert scrub(f"<{KEY[:-1]}>", (KEY,)) == f"<{KEY[:-1]}>"  # only the whole key
    assert scrub(KEY, ("",)) == KEY  # an empty secret hides nothing (and not everything)
    # Bytes keep every byte that is not the key, in the body's own charset.
    utf16 = f"clé {KEY}".encode("utf-16")
    assert scrub_bytes(utf16, (KEY,), "utf-16").decode("utf-16") == "clé [REDACTED]"
    assert scrub_bytes(b"\xff" + KEY.encode(), (KEY,)) == b"\xff[REDACTED]"
    assert scrub_bytes(KEY.encode(), (KEY,), "no-such-charset") == b"[REDACTED]"
