"""The client's promises end to end, through the public API: `Client`, `AsyncClient`, `Emulator`.

`test_client.py` and `test_client_streaming.py` pin the details with `httpx.MockTransport`
and an injected retry policy. These tests check the same promises end to end, the way a
user sees them: typed errors for every status the emulator can be told to answer, waits
asked by `Retry-After` (seconds, HTTP date) and `retry-after-ms`, the API key kept out of
everything printable, and streams that resume after any number of drops, cut anywhere,
delivering each event exactly once.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable, Iterator
from email.utils import formatdate
from typing import Any, cast

import anyio.to_thread
import httpx
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentkit import AgentkitError, APIError, AsyncClient, Client, UsageError
from agentkit.exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamError,
    UnprocessableEntityError,
)
from agentkit.testing import Emulator, Script
from agentkit.types import Event, Interaction, InteractionCreatedEvent

MODEL = "gemini-3-flash-preview"
KEY = "AIzaSy-FOUNDATION-secret-key-0123456789"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather of a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
TOOLS: list[dict[str, Any]] = [WEATHER, {"type": "google_search"}]


@pytest.fixture(params=["async", "sync"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def call(kind: str, emulator: Emulator, op: str, *args: Any, **options: Any) -> Any:
    """Run `client.interactions.<op>(*args)` through the emulator's Client or AsyncClient.

    `options` go to the client (`max_retries`, `api_key`...), except `call_kwargs`.
    """
    kwargs: dict[str, Any] = options.pop("call_kwargs", {})
    if kind == "async":
        async with emulator.async_client(**options) as client:
            return await getattr(client.interactions, op)(*args, **kwargs)

    def run() -> Any:
        with emulator.client(**options) as client:
            return getattr(client.interactions, op)(*args, **kwargs)

    return await anyio.to_thread.run_sync(run)


# --- every error class ---------------------------------------------------------------------

STATUS_CLASSES: list[tuple[int, type[APIStatusError]]] = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (408, APIStatusError),
    (409, ConflictError),
    (418, APIStatusError),
    (422, UnprocessableEntityError),
    (429, RateLimitError),
    (500, InternalServerError),
    (502, InternalServerError),
    (503, InternalServerError),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
@pytest.mark.parametrize("code", ["failed_precondition", 9], ids=["str-code", "int-code"])
async def test_every_status_raises_its_error_class(
    kind: str, status: int, cls: type[APIStatusError], code: str | int
) -> None:
    emulator = Emulator()
    body = {"error": {"code": code, "message": "nope", "status": "FAILED_PRECONDITION"}}
    emulator.fail_next(1, status, body=body)
    with pytest.raises(APIStatusError) as info:
        await call(kind, emulator, "get", "v1_x", max_retries=0)
    error = info.value
    assert type(error) is cls
    assert isinstance(error, AgentkitError)
    assert (error.status_code, error.code, error.message) == (
        status,
        code,
        f"Error code: {status} - nope",
    )


@pytest.mark.anyio
async def test_emulator_rejections_are_typed_errors(kind: str) -> None:
    emulator = Emulator(Script(["Hi."]))
    with pytest.raises(NotFoundError) as missing:
        await call(kind, emulator, "get", "v1_nope")
    assert missing.value.code == "not_found"
    stray = {"type": "function_result", "call_id": "fc_9", "name": "f", "result": "x"}
    with pytest.raises(BadRequestError) as invalid:
        await call(kind, emulator, "create", call_kwargs={"model": MODEL, "input": [stray]})
    assert (invalid.value.status_code, invalid.value.code) == (400, "invalid_argument")
    assert "fc_9" in invalid.value.message
    with pytest.raises(AuthenticationError):
        await call(kind, Emulator(api_key="right"), "get", "v1_x", api_key="wrong")


class Failing(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A transport whose every request fails with `error`."""

    def __init__(self, error: type[httpx.TransportError]) -> None:
        self.error = error
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        raise self.error("no route", request=request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self.handle_request(request)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("error", "cls"),
    [
        (httpx.ConnectError, APIConnectionError),
        (httpx.ReadError, APIConnectionError),
        (httpx.ConnectTimeout, APITimeoutError),
        (httpx.ReadTimeout, APITimeoutError),
        (httpx.WriteTimeout, APITimeoutError),
        (httpx.PoolTimeout, APITimeoutError),
    ],
)
async def test_transport_failures_are_retried_then_typed(
    kind: str, error: type[httpx.TransportError], cls: type[APIConnectionError]
) -> None:
    transport = Failing(error)
    emulator = Emulator()
    with pytest.raises(APIConnectionError) as info:
        await call(kind, emulator, "get", "v1_x", transport=transport, max_retries=2)
    assert type(info.value) is cls
    assert isinstance(info.value.__cause__, error)
    assert transport.requests == 3
    # Exponential backoff with jitter: 0.5 s then 1 s, each times a factor in (0.75, 1].
    first, second = emulator.sleeps
    assert 0.375 < first <= 0.5
    assert 0.75 < second <= 1.0


# --- Retry-After -------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"retry_after": 3}, (3.0, 3.0)),
        ({"retry_after": 0.25}, (0.25, 0.25)),
        ({"retry_after_ms": 1500}, (1.5, 1.5)),
        ({"retry_after_ms": 200, "retry_after": 7}, (0.2, 0.2)),
        ({"retry_after": "http-date+30s"}, (28.0, 30.0)),
        ({"retry_after": "in a while"}, (0.375, 1.0)),  # unreadable: the backoff applies
    ],
)
async def test_retry_after_sets_the_wait(
    kind: str, fault: dict[str, Any], expected: tuple[float, float]
) -> None:
    if fault.get("retry_after") == "http-date+30s":
        fault = {"retry_after": formatdate(time.time() + 30, usegmt=True)}
    emulator = Emulator(Script(["Hello."]))
    emulator.fail_next(2, 429, **fault)
    result = await call(kind, emulator, "create", call_kwargs={"model": MODEL, "input": "x"})
    assert result.output_text == "Hello."
    assert len(emulator.requests) == 3
    low, high = expected
    assert len(emulator.sleeps) == 2
    assert all(low <= wait <= high for wait in emulator.sleeps), emulator.sleeps


@pytest.mark.anyio
async def test_a_stream_that_never_opened_is_retried_as_a_create(kind: str) -> None:
    emulator = Emulator(Script(["Hello there."]))
    emulator.fail_next(1, 503, retry_after=1)
    events = await read_stream(kind, emulator)
    assert events[-1].event_type == "interaction.completed"
    assert [r.method for r in emulator.requests] == ["POST", "POST"]
    assert emulator.sleeps == [1.0]


# --- speed: validators built once, one connection pool ------------------------------------


@pytest.mark.anyio
async def test_requests_build_no_validators_and_share_one_connection(
    kind: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The official SDK rebuilds pydantic models on every call; agentkit
    # builds its validators once, at import, and keeps one connection pool per client.
    emulator = Emulator(Script(["An answer."] * 10))
    built: list[object] = []
    original = cast("Callable[..., None]", pydantic.TypeAdapter.__init__)  # pyright: ignore[reportUnknownMemberType]

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(args[0] if args else None)
        original(self, *args, **kwargs)

    caplog.set_level(logging.DEBUG, logger="agentkit.http")
    with emulator.serve() as base_url:
        options: dict[str, Any] = {"base_url": base_url, "transport": None}
        await call(kind, emulator, "create", call_kwargs={"model": MODEL, "input": "warm up"})
        monkeypatch.setattr(pydantic.TypeAdapter, "__init__", counting)
        caplog.clear()
        if kind == "async":
            async with emulator.async_client(**options) as client:
                for _ in range(5):
                    await client.interactions.create(model=MODEL, input="x", tools=TOOLS)
        else:

            def run() -> None:
                with emulator.client(**options) as client:
                    for _ in range(5):
                        client.interactions.create(model=MODEL, input="x", tools=TOOLS)

            await anyio.to_thread.run_sync(run)
    assert built == []
    connects = [r for r in caplog.records if r.getMessage().startswith("connected to")]
    assert len(connects) == 1


# --- the API key never shows ---------------------------------------------------------------


def printable(error: BaseException) -> list[str]:
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    if isinstance(error, APIError) and error.request is not None:
        texts += [repr(error.request), str(error.request.url), str(error.request.headers)]
        texts.append(str(list(error.request.headers.items())))
    if isinstance(error, APIStatusError) and error.response is not None:
        texts.append(str(list(error.response.request.headers.items())))
    return texts


def key_free(texts: list[str]) -> bool:
    return not [text for text in texts if KEY in text]


async def provoke_errors(kind: str, emulator: Emulator, base_url: str) -> list[BaseException]:
    """Make every kind of failure happen through a client of `kind` on a real socket."""
    errors: list[BaseException] = []
    options: dict[str, Any] = {"api_key": KEY, "base_url": base_url, "transport": None}
    echo = {"error": {"code": 401, "message": f"API key {KEY} not valid", "status": "X"}}
    for status in (400, 401, 403, 404, 409, 422, 429, 500):
        # A retried status fails twice, so both attempts (and the retry log line) show it.
        emulator.fail_next(2 if status in (409, 429, 500) else 1, status, retry_after=0)
        try:
            await call(kind, emulator, "get", "v1_x", max_retries=1, **options)
        except APIError as error:
            errors.append(error)
    emulator.fail_next(1, 401, body=echo)
    emulator.fail_next(1, 500, body=f"<html>proxy saw x-goog-api-key: {KEY}</html>")
    for _ in range(2):
        try:
            await call(kind, emulator, "get", "v1_x", max_retries=0, **options)
        except APIError as error:
            errors.append(error)
    emulator.error_stream_after(2, message=f"key {KEY} is over quota")
    try:
        await read_stream(kind, emulator, **options)
    except StreamError as error:
        errors.append(error)
    return errors


@pytest.mark.anyio
async def test_the_key_never_shows_in_errors_logs_urls_or_records(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: agentkit, httpx, httpcore, the emulator
    emulator = Emulator(Script(["A fine answer with several words."] * 20), api_key=KEY)
    with emulator.serve() as base_url:
        options: dict[str, Any] = {"api_key": KEY, "base_url": base_url, "transport": None}
        errors = await provoke_errors(kind, emulator, base_url)
        emulator.drop_stream_after(3)
        events = await read_stream(kind, emulator, **options)
        made = events[-1]
        assert made.event_type == "interaction.completed"
        background = {"model": MODEL, "input": "x", "background": True}
        started = await call(kind, emulator, "create", call_kwargs=background, **options)
        await call(kind, emulator, "cancel", started.id, **options)
        await call(kind, emulator, "delete", started.id, **options)
        client_reprs = [repr(Client(api_key=KEY)), repr(AsyncClient(api_key=KEY))]
    assert len(errors) == 11
    assert all(isinstance(error, APIError) for error in errors)
    texts = [text for error in errors for text in printable(error)]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.args) for record in caplog.records]
    texts += [repr(request) for request in emulator.requests]
    texts += [repr(emulator), *client_reprs]
    assert key_free(texts)
    # It really was sent, in the header and never in a URL.
    assert len(emulator.requests) >= 15
    assert all(r.headers["x-goog-api-key"] == "***" for r in emulator.requests)
    assert not [r for r in emulator.requests if KEY in r.path or KEY in json.dumps(r.query)]


# A key that cannot be an HTTP header value is refused up front, and never echoed.


def test_a_key_with_a_line_break_inside_never_leaks_in_a_traceback() -> None:
    key = "AIzaSy-LEAKY\nsecond-half-of-the-key"
    emulator = Emulator()
    with (
        emulator.serve() as base_url,
        pytest.raises(AgentkitError) as info,
        Client(api_key=key, base_url=base_url, max_retries=0) as client,
    ):
        client.interactions.get("v1_x")
    text = "".join(traceback.format_exception(info.value))
    assert "second-half-of-the-key" not in text


def test_a_key_that_cannot_be_sent_is_a_usage_error() -> None:
    with (
        pytest.raises(UsageError, match="API key"),
        Client(api_key="AIzaSy-clé-0123456789", transport=Emulator()) as client,
    ):
        client.interactions.get("v1_x")


# --- streams: resumed after any drops, each event exactly once -----------------------------


async def read_stream(kind: str, emulator: Emulator, **options: Any) -> list[Event]:
    question = "Weather in Paris?"
    if kind == "async":
        async with (
            emulator.async_client(**options) as client,
            await client.interactions.create(
                model=MODEL, input=question, tools=TOOLS, stream=True
            ) as stream,
        ):
            return [event async for event in stream]

    def run() -> list[Event]:
        with (
            emulator.client(**options) as client,
            client.interactions.create(model=MODEL, input=question, tools=TOOLS, stream=True) as s,
        ):
            return list(s)

    return await anyio.to_thread.run_sync(run)


def wire(events: list[Event]) -> list[dict[str, Any]]:
    return [event.to_wire() for event in events]


def replay(emulator: Emulator, interaction_id: str) -> list[Event]:
    """The whole stored stream of an interaction, as an undisturbed client reads it."""
    with emulator.client() as client, client.interactions.get(interaction_id, stream=True) as s:
        return list(s)


def whole_stream_length() -> int:
    emulator = Emulator()
    with (
        emulator.client() as client,
        client.interactions.create(model=MODEL, input="Weather?", tools=TOOLS, stream=True) as s,
    ):
        return len(list(s))


EVENT_COUNT = whole_stream_length()


@pytest.mark.anyio
@pytest.mark.parametrize("drop_after", range(1, EVENT_COUNT))
async def test_a_drop_after_any_event_resumes_without_duplicates(
    kind: str, drop_after: int
) -> None:
    emulator = Emulator()
    emulator.drop_stream_after(drop_after)
    events = await read_stream(kind, emulator)
    created = events[0]
    assert isinstance(created, InteractionCreatedEvent)
    assert wire(events) == wire(replay(emulator, created.interaction.id))
    methods = [(r.method, r.query.get("last_event_id")) for r in emulator.requests]
    assert methods[:2] == [("POST", None), ("GET", events[drop_after - 1].event_id)]


@pytest.mark.anyio
async def test_a_drop_before_the_first_event_is_reported_not_recreated(kind: str) -> None:
    emulator = Emulator()
    emulator.drop_stream_after(0)
    with pytest.raises(APIConnectionError, match="cannot be resumed"):
        await read_stream(kind, emulator)
    assert [r.method for r in emulator.requests] == ["POST"]


class Dropping(httpx.BaseTransport):
    """Forwards to an emulator; re-chunks each SSE body and breaks it at planned offsets.

    `drops[n]` is where the n-th SSE response breaks, as a fraction of its body (None: it
    does not). `sizes` are the chunk sizes used in turn.
    """

    def __init__(self, emulator: Emulator, drops: list[float | None], sizes: list[int]) -> None:
        self.emulator = emulator
        self.drops = list(drops)
        self.sizes = sizes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.emulator.handle_request(request)
        if response.headers.get("content-type") != "text/event-stream":
            return response
        body = response.read()
        cut = self.drops.pop(0) if self.drops else None
        if request.method == "POST" and cut is not None:
            # Drops before the first event cannot be resumed (tested above): keep one event.
            first = body.index(b"\n\n") + 2
            stop = first + int(cut * (len(body) - first))
        else:
            stop = len(body) if cut is None else int(cut * len(body))
        return httpx.Response(
            200, headers=response.headers, stream=Chunks(body, stop, self.sizes, request)
        )


class Chunks(httpx.SyncByteStream):
    def __init__(self, body: bytes, stop: int, sizes: list[int], request: httpx.Request) -> None:
        self.body, self.stop, self.sizes, self.request = body, stop, sizes, request

    def __iter__(self) -> Iterator[bytes]:
        offset, turn = 0, 0
        while offset < self.stop:
            size = self.sizes[turn % len(self.sizes)]
            end = min(offset + size, self.stop)
            yield self.body[offset:end]
            offset, turn = end, turn + 1
        if self.stop < len(self.body):
            raise httpx.ReadError("connection reset by peer", request=self.request)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drops=st.lists(st.none() | st.floats(0, 1, exclude_max=True), max_size=4),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=5),
)
def test_any_drops_and_chunking_deliver_every_event_exactly_once(
    drops: list[float | None], sizes: list[int]
) -> None:
    emulator = Emulator()
    transport = Dropping(emulator, drops, sizes)
    with (
        Client(api_key=KEY, transport=transport, sleep=lambda _: None) as client,
        client.interactions.create(model=MODEL, input="Weather?", tools=TOOLS, stream=True) as s,
    ):
        events = list(s)
        assert s.interaction_id is not None
        assert s.last_event_id == events[-1].event_id
    reference = replay(emulator, s.interaction_id)
    assert wire(events) == wire(reference)
    ids = [event.event_id for event in events]
    assert len(set(ids)) == len(ids) == EVENT_COUNT
    creates = [r for r in emulator.requests if r.method == "POST"]
    assert len(creates) == 1  # never a blind re-create once the stream opened
    stored = Interaction.model_validate(emulator.interactions[s.interaction_id])
    assert stored.status == "requires_action"
