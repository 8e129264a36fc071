"""Event streams of Client and AsyncClient: decoding, resume after a drop, errors, closing.

Bodies come from `httpx.MockTransport`; `Body` can break the connection after some chunks.
As in test_client.py, `client._retry` is replaced to fix the jitter.
"""

# pyright: reportPrivateUsage=false

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import traceback
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import httpx
import pytest
from _sse_helpers import Body, sse

import agentkit._client_stream
from agentkit import _exceptions as exc
from agentkit._client import AsyncClient, Client
from agentkit._retry import RetryPolicy
from agentkit.types import Event, InteractionCompletedEvent, StepDeltaEvent, TextDelta

KEY = "AIzaSy-DISTINCTIVE-stream-key-9876543210"
RAW_EVENTS: list[dict[str, Any]] = [
    {"event_type": "interaction.created", "interaction": {"id": "v1_X", "status": "in_progress"}},
    {"event_type": "step.start", "index": 0, "step": {"type": "model_output"}},
    {"event_type": "step.delta", "index": 0, "delta": {"type": "text", "text": "Hel"}},
    {"event_type": "step.delta", "index": 0, "delta": {"type": "text", "text": "lo"}},
    {"event_type": "step.stop", "index": 0},
    {"event_type": "interaction.completed", "interaction": {"id": "v1_X", "status": "completed"}},
]
EVENTS = [{**event, "event_id": f"e{i}"} for i, event in enumerate(RAW_EVENTS)]
IDS = [f"e{i}" for i in range(len(EVENTS))]
Handler = Callable[[httpx.Request], httpx.Response]


def stream_reply(events: list[dict[str, Any]], error: Exception | None = None) -> httpx.Response:
    body = Body([sse(event) for event in events], error)
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body)


def garbled_reply(events: list[dict[str, Any]]) -> httpx.Response:
    """`events` gzip-compressed, then bytes that do not decompress."""
    packer = zlib.compressobj(wbits=31)
    good = packer.compress(b"".join(sse(event) for event in events))
    body = Body([good + packer.flush(zlib.Z_SYNC_FLUSH), b"\x00not deflate\xff\xff" * 4])
    headers = {"content-type": "text/event-stream", "content-encoding": "gzip"}
    return httpx.Response(200, headers=headers, stream=body)


def replies(*responses: httpx.Response | Exception) -> Handler:
    queue = list(responses)

    def handle(_: httpx.Request) -> httpx.Response:
        reply = queue.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    return handle


def fixed(max_retries: int = 4) -> RetryPolicy:
    return RetryPolicy(max_retries=max_retries, rng=lambda: 0.0)


@dataclass
class Outcome:
    events: list[Event] = field(default_factory=list[Event])
    error: BaseException | None = None
    interaction_id: str | None = None
    last_event_id: str | None = None

    @property
    def ids(self) -> list[str | None]:
        return [event.event_id for event in self.events]


class Api:
    """Opens a stream through a fresh Client or AsyncClient and reads it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.delays: list[float] = []
        self.requests: list[httpx.Request] = []

    async def stream(
        self,
        handler: Handler,
        op: str = "create",
        *args: Any,
        policy: RetryPolicy | None = None,
        read: int | None = None,
        **kwargs: Any,
    ) -> Outcome:
        """Read `read` events (all by default), then close; errors while reading are kept."""

        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return handler(request)

        if op == "create":
            kwargs = {"model": "m", "input": "hi", **kwargs}
        transport = httpx.MockTransport(record)
        if self.kind == "async":
            return await self._read_async(transport, policy, read, op, args, kwargs)
        return await anyio.to_thread.run_sync(
            lambda: self._read_sync(transport, policy, read, op, args, kwargs)
        )

    async def _read_async(
        self,
        transport: httpx.MockTransport,
        policy: RetryPolicy | None,
        read: int | None,
        op: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Outcome:
        async def sleep(seconds: float) -> None:
            self.delays.append(seconds)

        outcome = Outcome()
        async with AsyncClient(api_key=KEY, transport=transport, sleep=sleep) as client:
            client._retry = policy or fixed()
            method = getattr(client.interactions, op)
            async with await method(*args, stream=True, **kwargs) as stream:
                try:
                    async for event in stream:
                        outcome.events.append(event)
                        if len(outcome.events) == read:
                            break
                except exc.APIError as error:
                    outcome.error = error
                outcome.interaction_id = stream.interaction_id
                outcome.last_event_id = stream.last_event_id
        return outcome

    def _read_sync(
        self,
        transport: httpx.MockTransport,
        policy: RetryPolicy | None,
        read: int | None,
        op: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Outcome:
        outcome = Outcome()
        with Client(api_key=KEY, transport=transport, sleep=self.delays.append) as client:
            client._retry = policy or fixed()
            method = getattr(client.interactions, op)
            with method(*args, stream=True, **kwargs) as stream:
                try:
                    for event in stream:
                        outcome.events.append(event)
                        if len(outcome.events) == read:
                            break
                except exc.APIError as error:
                    outcome.error = error
                outcome.interaction_id = stream.interaction_id
                outcome.last_event_id = stream.last_event_id
        return outcome


@pytest.fixture(params=["async", "sync"])
def api(request: pytest.FixtureRequest) -> Api:
    return Api(str(request.param))


@pytest.mark.anyio
async def test_events_arrive_in_order(api: Api) -> None:
    outcome = await api.stream(replies(stream_reply(EVENTS)), tools=[{"type": "google_search"}])
    assert outcome.error is None
    assert [e.event_type for e in outcome.events] == [e["event_type"] for e in EVENTS]
    assert outcome.ids == IDS
    delta = outcome.events[2]
    assert isinstance(delta, StepDeltaEvent)
    assert isinstance(delta.delta, TextDelta)
    assert delta.delta.text == "Hel"
    assert outcome.interaction_id == "v1_X"
    assert outcome.last_event_id == "e5"
    [request] = api.requests
    assert (request.method, request.url.path) == ("POST", "/v1beta/interactions")
    assert request.headers["accept"] == "text/event-stream"
    assert json.loads(request.content) == {
        "model": "m",
        "input": "hi",
        "tools": [{"type": "google_search"}],
        "stream": True,
    }


@pytest.mark.anyio
@pytest.mark.parametrize("size", [1, 7, 64])
async def test_chunk_boundaries_do_not_matter(api: Api, size: int) -> None:
    data = b": keep-alive\r\n\r\n" + b"".join(sse(e) for e in EVENTS).replace(b"\n", b"\r\n")
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    reply = httpx.Response(200, stream=Body(chunks))
    outcome = await api.stream(replies(reply))
    assert outcome.ids == IDS


DROPS = [
    pytest.param(httpx.ReadError("connection reset"), id="ReadError"),
    pytest.param(httpx.RemoteProtocolError("peer closed"), id="RemoteProtocolError"),
    pytest.param(httpx.ReadTimeout("read timed out"), id="ReadTimeout"),
    pytest.param(None, id="body-ends-early"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("drop", DROPS)
async def test_drop_resumes_from_last_event_without_duplicates(
    api: Api, drop: Exception | None
) -> None:
    # The server replays the last event the client saw (e2) before the new ones.
    handler = replies(stream_reply(EVENTS[:3], drop), stream_reply(EVENTS[2:]))
    outcome = await api.stream(handler)
    assert outcome.error is None
    assert outcome.ids == IDS
    first, resume = api.requests
    assert first.method == "POST"
    assert resume.method == "GET"
    assert resume.url.path == "/v1beta/interactions/v1_X"
    assert dict(resume.url.params) == {"last_event_id": "e2", "stream": "true"}
    assert resume.headers["accept"] == "text/event-stream"
    assert resume.headers["x-goog-api-key"] == KEY
    assert resume.content == b""
    assert api.delays == [0.5]


# httpx leaves its own byte generators unclosed when decoding fails; trio reports them.
GARBLED_BODY = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.mark.anyio
@GARBLED_BODY
async def test_a_body_that_stops_decompressing_resumes_from_the_last_event(api: Api) -> None:
    handler = replies(garbled_reply(EVENTS[:3]), stream_reply(EVENTS[2:]))
    outcome = await api.stream(handler)
    assert outcome.error is None
    assert outcome.ids == IDS
    assert dict(api.requests[1].url.params) == {"last_event_id": "e2", "stream": "true"}


@pytest.mark.anyio
@GARBLED_BODY
async def test_a_body_that_stops_decompressing_is_a_typed_error_without_the_key(api: Api) -> None:
    outcome = await api.stream(replies(garbled_reply(EVENTS[:2])), policy=fixed(0))
    error = outcome.error
    assert isinstance(error, exc.APIConnectionError)
    assert isinstance(error.__cause__, httpx.DecodingError)
    assert error.request is not None
    texts = ["".join(traceback.format_exception(error))]
    texts += [repr(error.request.headers), repr(error.__cause__.request.headers)]
    assert all(KEY not in text for text in texts)


@pytest.mark.anyio
async def test_partial_event_at_the_drop_is_not_delivered_twice(api: Api) -> None:
    cut = sse(EVENTS[3])[:20]
    first = httpx.Response(
        200, stream=Body([*(sse(e) for e in EVENTS[:3]), cut], httpx.ReadError("reset"))
    )
    outcome = await api.stream(replies(first, stream_reply(EVENTS[3:])))
    assert outcome.ids == IDS


@pytest.mark.anyio
async def test_progress_resets_the_reconnect_budget(api: Api) -> None:
    # Every connection brings one new event, then drops: more drops than max_retries.
    connections = [stream_reply([event], httpx.ReadError("reset")) for event in EVENTS[:-1]]
    handler = replies(*connections, stream_reply(EVENTS[-1:]))
    outcome = await api.stream(handler, policy=fixed(max_retries=1))
    assert outcome.error is None
    assert outcome.ids == IDS
    assert len(api.requests) == len(EVENTS)
    assert api.delays == [0.5] * (len(EVENTS) - 1)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("failure", "cls"),
    [
        (lambda: httpx.Response(503), exc.InternalServerError),
        (lambda: httpx.ConnectError("refused"), exc.APIConnectionError),
        (lambda: stream_reply([], httpx.ReadError("reset")), exc.APIConnectionError),
        (lambda: stream_reply(EVENTS[1:2], httpx.ReadError("reset")), exc.APIConnectionError),
    ],
)
async def test_reconnects_give_up_after_max_retries(
    api: Api, failure: Callable[[], httpx.Response | Exception], cls: type[exc.APIError]
) -> None:
    # The last failure kind replays an old event: a replay is not progress.
    handler = replies(
        stream_reply(EVENTS[:2], httpx.ReadError("reset")), *(failure() for _ in range(3))
    )
    outcome = await api.stream(handler, policy=fixed(max_retries=3))
    assert type(outcome.error) is cls
    assert outcome.ids == IDS[:2]
    assert len(api.requests) == 4
    assert api.delays == [0.5, 1.0, 2.0]


@pytest.mark.anyio
async def test_reconnect_honours_retry_after(api: Api) -> None:
    handler = replies(
        stream_reply(EVENTS[:2], httpx.ReadError("reset")),
        httpx.Response(429, headers={"retry-after": "3"}),
        stream_reply(EVENTS[2:]),
    )
    outcome = await api.stream(handler)
    assert outcome.ids == IDS
    assert api.delays == [0.5, 3.0]


@pytest.mark.anyio
async def test_reconnect_to_a_missing_interaction_raises_at_once(api: Api) -> None:
    body = {"error": {"code": "not_found", "message": "not stored"}}
    handler = replies(
        stream_reply(EVENTS[:2], httpx.ReadError("reset")), httpx.Response(404, json=body)
    )
    outcome = await api.stream(handler)
    assert isinstance(outcome.error, exc.NotFoundError)
    assert outcome.error.code == "not_found"
    assert len(api.requests) == 2


@pytest.mark.anyio
async def test_drop_before_the_interaction_is_named_raises(api: Api) -> None:
    # Status errors before the stream opens are retried; a drop after it opened is not
    # re-sent, since that would create a second interaction.
    handler = replies(
        httpx.Response(503), httpx.ConnectError("refused"), stream_reply([], httpx.ReadError("x"))
    )
    outcome = await api.stream(handler)
    # The server answered the (stored) create: it may have made the interaction.
    assert type(outcome.error) is exc.ResponseLostError
    assert "cannot be resumed" in str(outcome.error)
    assert outcome.events == []
    assert [r.method for r in api.requests] == ["POST", "POST", "POST"]
    assert api.delays == [0.5, 1.0]


@pytest.mark.anyio
async def test_failure_before_the_stream_opens_raises_from_create(api: Api) -> None:
    with pytest.raises(exc.APIConnectionError):
        await api.stream(replies(*[httpx.ConnectError("refused")] * 3), policy=fixed(2))
    with pytest.raises(exc.BadRequestError):
        await api.stream(replies(httpx.Response(400)))
    assert len(api.requests) == 4


@pytest.mark.anyio
async def test_error_body_that_breaks_before_the_stream_opens(api: Api) -> None:
    broken = [httpx.Response(503, stream=Body([b'{"err'], httpx.ReadError("x"))) for _ in "ab"]
    with pytest.raises(exc.InternalServerError):
        await api.stream(replies(*broken), policy=fixed(1))
    assert len(api.requests) == 2
    assert api.delays == [0.5]


@pytest.mark.anyio
async def test_events_without_ids_cannot_be_resumed(api: Api) -> None:
    handler = replies(stream_reply(RAW_EVENTS[:3], httpx.ReadError("reset")))
    outcome = await api.stream(handler)
    assert isinstance(outcome.error, exc.APIConnectionError)
    assert "no event_id" in str(outcome.error)
    assert len(outcome.events) == 3
    assert len(api.requests) == 1


@pytest.mark.anyio
async def test_error_event_raises_stream_error_after_earlier_events(api: Api) -> None:
    error = {
        "event_type": "error",
        "event_id": "e2",
        "error": {"code": "resource_exhausted", "message": "quota"},
    }
    reply = httpx.Response(200, stream=Body([sse(EVENTS[0]) + sse(EVENTS[1]) + sse(error)]))
    outcome = await api.stream(replies(reply))
    assert isinstance(outcome.error, exc.StreamError)
    assert outcome.error.code == "resource_exhausted"
    assert str(outcome.error) == "Stream error resource_exhausted: quota"
    assert outcome.ids == IDS[:2]
    assert len(api.requests) == 1


@pytest.mark.anyio
async def test_done_sentinel_ends_the_stream(api: Api) -> None:
    reply = httpx.Response(200, stream=Body([sse(EVENTS[0]), b"data: [DONE]\n\n", sse(EVENTS[1])]))
    outcome = await api.stream(replies(reply))
    assert outcome.error is None
    assert outcome.ids == IDS[:1]
    assert len(api.requests) == 1


@pytest.mark.anyio
async def test_nothing_after_completion_is_delivered(api: Api) -> None:
    late = {"event_type": "step.start", "event_id": "late", "index": 9, "step": {"type": "x"}}
    outcome = await api.stream(replies(stream_reply([*EVENTS, late])))
    assert outcome.ids == IDS
    assert isinstance(outcome.events[-1], InteractionCompletedEvent)


@pytest.mark.anyio
async def test_events_after_completion_in_the_same_chunk_are_dropped(api: Api) -> None:
    late = {"event_type": "step.start", "event_id": "late", "index": 9, "step": {"type": "x"}}
    body = Body([b"".join(sse(e) for e in [*EVENTS, late])])
    outcome = await api.stream(replies(httpx.Response(200, stream=body)))
    assert outcome.ids == IDS


@pytest.mark.anyio
async def test_a_long_tail_after_completion_is_drained_then_closed(api: Api) -> None:
    body = Body([sse(e) for e in EVENTS] + [b": tail\n\n"] * 100)
    outcome = await api.stream(replies(httpx.Response(200, stream=body)))
    assert outcome.ids == IDS
    assert body.closed


class LingeringServer:
    """Streams `EVENTS` on 127.0.0.1, then keeps each body open (no last chunk) until closed."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):  # the listener was closed
            while True:
                connection, _ = self.listener.accept()
                self.connections.append(connection)
                request = b""
                while b"\r\n\r\n" not in request:
                    request += connection.recv(65536)
                head, _, body = request.partition(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])  # type: ignore[index]
                while len(body) < length:
                    body += connection.recv(65536)
                events = b"".join(sse(event) for event in EVENTS)
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n" % (len(events), events)
                )

    def close(self) -> None:
        self.listener.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def lingering(monkeypatch: pytest.MonkeyPatch) -> Iterator[LingeringServer]:
    monkeypatch.setattr(agentkit._client_stream, "_DRAIN_WAIT", 0.01)
    server = LingeringServer()
    yield server
    server.close()


@pytest.mark.anyio
async def test_a_body_kept_open_after_the_last_event_costs_its_connection_not_a_wait(
    lingering: LingeringServer,
) -> None:
    # Without a bound, the client would wait for the server as long as its read timeout.
    options: dict[str, Any] = {"api_key": KEY, "base_url": lingering.url, "timeout": 60}

    def read_twice_sync() -> None:
        with Client(**options) as client:
            for _ in range(2):
                with client.interactions.create(model="m", input="hi", stream=True) as events:
                    assert [event.event_id for event in events] == IDS

    with anyio.fail_after(30):
        async with AsyncClient(**options) as client:
            for _ in range(2):
                stream = await client.interactions.create(model="m", input="hi", stream=True)
                async with stream as events:
                    assert [event.event_id async for event in events] == IDS
        await anyio.to_thread.run_sync(read_twice_sync, abandon_on_cancel=True)
    assert len(lingering.connections) == 4  # none could be reused


@pytest.mark.anyio
@pytest.mark.parametrize("tail", [b"\n", b""], ids=["data-line-ended", "mid-line"])
async def test_a_last_event_without_its_blank_line_is_cut_and_fetched_again(
    api: Api, tail: bytes
) -> None:
    # The body ended cleanly, but inside the completion event: it was cut short (the SSE spec
    # drops such an event), so the stream resumes after the last whole event and gets it again.
    data = b"".join(sse(e) for e in EVENTS).removesuffix(b"\n\n") + tail
    handler = replies(httpx.Response(200, stream=Body([data])), stream_reply(EVENTS[4:]))
    outcome = await api.stream(handler)
    assert outcome.error is None
    assert outcome.ids == IDS
    assert [dict(r.url.params) for r in api.requests[1:]] == [
        {"last_event_id": "e4", "stream": "true"}
    ]


@pytest.mark.anyio
async def test_status_update_names_the_interaction_for_resume(api: Api) -> None:
    update = {"event_type": "interaction.status_update", "event_id": "s1"}
    update |= {"interaction_id": "v1_S", "status": "in_progress"}
    handler = replies(stream_reply([update], httpx.ReadError("reset")), stream_reply(EVENTS[5:]))
    outcome = await api.stream(handler)
    assert outcome.ids == ["s1", "e5"]
    assert api.requests[1].url.path == "/v1beta/interactions/v1_S"


@pytest.mark.anyio
async def test_unknown_and_empty_events(api: Api) -> None:
    unknown = {"event_type": "interaction.hologram", "event_id": "u1", "beam": 1}
    chunks = [sse(EVENTS[0]), b"event: ping\ndata:\n\n", sse(unknown), sse(EVENTS[-1])]
    outcome = await api.stream(replies(httpx.Response(200, stream=Body(chunks))))
    assert outcome.ids == ["e0", "u1", "e5"]
    assert outcome.events[1].to_wire() == unknown


@pytest.mark.anyio
async def test_invalid_event_data_raises_validation_error(api: Api) -> None:
    body = Body([sse(EVENTS[0]) + b"data: {oops\n\n" + sse(EVENTS[1])])
    outcome = await api.stream(replies(httpx.Response(200, stream=body)))
    assert isinstance(outcome.error, exc.APIResponseValidationError)
    assert "stream event" in str(outcome.error)
    assert outcome.ids == IDS[:1]
    assert body.closed


@pytest.mark.anyio
async def test_get_stream_resumes_from_the_given_event(api: Api) -> None:
    handler = replies(stream_reply([], httpx.ReadError("reset")), stream_reply(EVENTS[3:]))
    outcome = await api.stream(handler, "get", "v1_X", last_event_id="e2")
    assert outcome.ids == IDS[3:]
    assert [dict(r.url.params) for r in api.requests] == [
        {"last_event_id": "e2", "stream": "true"}
    ] * 2
    assert all(
        r.method == "GET" and r.url.path == "/v1beta/interactions/v1_X" for r in api.requests
    )


@pytest.mark.anyio
async def test_get_stream_skips_the_given_event_if_replayed(api: Api) -> None:
    outcome = await api.stream(replies(stream_reply(EVENTS[2:])), "get", "v1_X", last_event_id="e2")
    assert outcome.ids == IDS[3:]


@pytest.mark.anyio
async def test_closing_early_releases_the_connection(api: Api) -> None:
    body = Body([sse(e) for e in EVENTS])
    outcome = await api.stream(replies(httpx.Response(200, stream=body)), read=2)
    assert outcome.ids == IDS[:2]
    assert body.closed


@pytest.mark.anyio
async def test_async_stream_stops_after_close() -> None:
    transport = httpx.MockTransport(replies(stream_reply(EVENTS)))
    async with AsyncClient(api_key=KEY, transport=transport) as client:
        stream = await client.interactions.create(model="m", stream=True)
        assert (await stream.__anext__()).event_id == "e0"
        await stream.aclose()
        assert [event async for event in stream] == []


def test_sync_stream_stops_after_close() -> None:
    with Client(api_key=KEY, transport=httpx.MockTransport(replies(stream_reply(EVENTS)))) as c:
        stream = c.interactions.create(model="m", stream=True)
        assert next(stream).event_id == "e0"
        stream.close()
        assert list(stream) == []


@pytest.mark.anyio
async def test_stream_errors_do_not_leak_the_key(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    error_event = {"event_type": "error", "error": {"code": 1, "message": f"bad {KEY}"}}
    scenarios: list[Handler] = [
        replies(stream_reply(EVENTS[:2], httpx.ReadError(f"reset {KEY}")), httpx.Response(500)),
        replies(stream_reply([], httpx.ReadError("reset"))),
        replies(stream_reply([error_event])),
        replies(stream_reply(RAW_EVENTS[:2], httpx.ReadError("reset"))),
    ]
    for handler in scenarios:
        outcome = await api.stream(handler, policy=fixed(1))
        error = outcome.error
        assert isinstance(error, exc.APIError)
        assert error.request is not None
        assert error.request.headers["x-goog-api-key"] == "[REDACTED]"
        texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
        texts.append(repr(error.request.headers))
        texts += [r.getMessage() for r in caplog.records]
        assert all(KEY not in text for text in texts)
    assert all(r.headers["x-goog-api-key"] == KEY for r in api.requests)
