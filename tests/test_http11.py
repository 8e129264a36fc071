"""The async client's HTTP/1.1 connection: how it frames requests and reads responses.

Each check feeds a connection scripted bytes, split as a network may split them, and reads
what it makes of them (`test_asyncio_net` has it talk to real servers through httpx).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterable
from typing import Any

import anyio
import httpcore
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentkit._http11 import AsyncHTTP11Connection, HTTP11Connection

pytestmark = pytest.mark.anyio

ORIGIN = httpcore.Origin(b"http", b"example.test", 80)


class Scripted(httpcore.AsyncNetworkStream):
    """A connection that hands out `pieces` one read at a time, then the end."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self.pieces = list(pieces)
        self.sent = b""
        self.closed = False
        self.fail_writes = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return self.take(max_bytes)

    def take(self, max_bytes: int) -> bytes:
        if not self.pieces:
            return b""
        piece = self.pieces.pop(0)
        if len(piece) > max_bytes:
            self.pieces.insert(0, piece[max_bytes:])
        return piece[:max_bytes]

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if self.fail_writes:
            raise httpcore.WriteError("Connection reset by peer")
        self.sent += buffer

    async def aclose(self) -> None:
        self.closed = True

    def get_extra_info(self, info: str) -> Any:  # only whether the idle peer left
        return bool(self.pieces) if info == "is_readable" else None


class Backend(httpcore.AsyncNetworkBackend):
    def __init__(self, stream: Scripted) -> None:
        self.stream = stream
        self.connects = 0

    async def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        self.connects += 1
        return self.stream


class SyncScripted(httpcore.NetworkStream):
    """`Scripted` for the sync connection."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self.script = Scripted(pieces)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.script.take(max_bytes)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.script.sent += buffer

    def close(self) -> None:
        self.script.closed = True

    def get_extra_info(self, info: str) -> Any:
        return self.script.get_extra_info(info)


class SyncBackend(httpcore.NetworkBackend):
    def __init__(self, stream: SyncScripted) -> None:
        self.stream = stream

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return self.stream


def sync_exchange(*pieces: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
    """Status, headers, body and whether the connection is idle after, over `pieces`."""
    made = HTTP11Connection(
        ORIGIN,
        ssl_context=None,
        keepalive_expiry=5.0,
        network_backend=SyncBackend(SyncScripted(pieces)),
    )
    response = made.handle_request(request())
    body = b"".join(response.stream)  # type: ignore[arg-type]
    return response.status, response.headers, body, made.is_idle()


def connection(*pieces: bytes) -> tuple[AsyncHTTP11Connection, Scripted]:
    stream = Scripted(pieces)
    made = AsyncHTTP11Connection(
        ORIGIN, ssl_context=None, keepalive_expiry=5.0, network_backend=Backend(stream)
    )
    return made, stream


def request(method: bytes = b"GET", **options: Any) -> httpcore.Request:
    return httpcore.Request(method, "http://example.test/path?q=1", **options)


async def exchange(
    made: AsyncHTTP11Connection, sent: httpcore.Request | None = None
) -> tuple[httpcore.Response, bytes]:
    response = await made.handle_async_request(sent or request())
    body = b"".join([piece async for piece in response.stream])  # type: ignore[union-attr]
    return response, body


async def pieces(made: AsyncHTTP11Connection) -> list[bytes]:
    """The pieces of a response's body as the connection hands them up."""
    response = await made.handle_async_request(request())
    return [piece async for piece in response.stream]  # type: ignore[union-attr]


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` cut at the given offsets, as a network might deliver it."""
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


def chunked(body: bytes, sizes: list[int]) -> bytes:
    out, rest = b"", body
    for size in sizes:
        if not rest:
            break
        piece, rest = rest[: max(size, 1)], rest[max(size, 1) :]
        out += b"%x;ext=1\r\n%s\r\n" % (len(piece), piece)
    if rest:
        out += b"%X\r\n%s\r\n" % (len(rest), rest)
    return out + b"0\r\nTrailer: yes\r\n\r\n"


@settings(max_examples=150, deadline=None)
@given(
    body=st.binary(max_size=3000),
    framing=st.sampled_from(["length", "chunked", "close"]),
    sizes=st.lists(st.integers(1, 700), max_size=8),
    cuts=st.lists(st.integers(0, 10_000), max_size=25),
)
def test_any_framing_and_any_split_give_back_the_body(
    body: bytes, framing: str, sizes: list[int], cuts: list[int]
) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
    if framing == "length":
        wire = head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    elif framing == "chunked":
        wire = head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body, sizes)
    else:
        wire = head + b"\r\n" + body

    async def main() -> None:
        made, _ = connection(*split(wire, cuts))
        response, received = await exchange(made)
        assert (response.status, received) == (200, body)
        assert (b"Content-Type", b"text/plain") in response.headers
        # A sized body lets the connection serve the next request; one ended by closing not.
        assert made.is_idle() is (framing != "close")
        assert sync_exchange(*split(wire, cuts)) == (
            200,
            response.headers,
            body,
            framing != "close",
        )

    anyio.run(main)


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(0, 400), max_size=20), reason=st.sampled_from([b"OK", b""]))
def test_a_head_split_anywhere_parses_the_same(cuts: list[int], reason: bytes) -> None:
    wire = (
        b"HTTP/1.1 201 " + reason + b"\r\nX-One:  spaced value \t\r\nX-Empty:\r\n"
        b"X-Folded: first\r\n \t second\r\n"
        b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2, 2\r\n\r\n{}"
    )

    async def main() -> None:
        made, _ = connection(*split(wire, cuts))
        response, body = await exchange(made)
        assert response.status == 201
        extensions: dict[str, Any] = dict(response.extensions)  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
        assert extensions["reason_phrase"] == reason
        assert extensions["http_version"] == b"HTTP/1.1"
        assert response.headers == [
            (b"X-One", b"spaced value"),
            (b"X-Empty", b""),
            (b"X-Folded", b"first second"),
            (b"Set-Cookie", b"a=1"),
            (b"Set-Cookie", b"b=2"),
            (b"Content-Length", b"2, 2"),
        ]
        assert body == b"{}"

    anyio.run(main)


async def test_the_request_goes_out_in_one_write_with_its_host_and_body() -> None:
    made, stream = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    sent = request(b"POST", headers=[(b"Content-Length", b"2")], content=b"{}")
    await exchange(made, sent)
    assert stream.sent == (
        b"POST /path?q=1 HTTP/1.1\r\nHost: example.test\r\nContent-Length: 2\r\n\r\n{}"
    )


async def test_a_body_of_unknown_length_is_sent_in_chunks() -> None:
    async def pieces() -> AsyncIterator[bytes]:
        yield b"hello "
        yield b""
        yield b"world"

    made, stream = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    headers = [(b"Host", b"h"), (b"Transfer-Encoding", b"chunked")]
    await exchange(made, request(b"POST", headers=headers, content=pieces()))
    assert stream.sent.endswith(b"\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n")


@pytest.mark.parametrize(
    ("name", "value"),
    [(b"X-Bad", b"a\r\nInjected: yes"), (b"X-Bad", b"a\nb"), (b"Bad Name", b"v"), (b"", b"v")],
)
async def test_a_header_that_would_split_the_request_is_refused_before_sending(
    name: bytes, value: bytes
) -> None:
    made, stream = connection()
    with pytest.raises(httpcore.LocalProtocolError):
        await made.handle_async_request(request(headers=[(name, value)]))
    assert stream.sent == b""
    assert made.is_closed()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"headers": [(b"Content-Length", b"5")], "content": b"hello GET /smuggled"}, "Too much"),
        ({"headers": [(b"Content-Length", b"50")], "content": b"short"}, "Too little"),
        ({"content": b"a body without a length"}, "Too much"),
        ({"headers": [(b"Transfer-Encoding", b"gzip")], "content": b"x"}, "chunked is"),
    ],
)
async def test_a_body_that_does_not_fit_its_framing_is_refused_before_it_goes_out(
    options: dict[str, Any], message: str
) -> None:
    made, stream = connection()
    with pytest.raises(httpcore.LocalProtocolError, match=message):
        await made.handle_async_request(request(b"POST", **options))
    assert b"smuggled" not in stream.sent
    assert made.is_closed()


@pytest.mark.parametrize(
    ("method", "target"), [(b"GET / HTTP/1.1\r\nX: y\r\n\r\nDELETE", b"/"), (b"GET", b"/a b")]
)
async def test_a_method_or_target_that_would_split_the_request_line_is_refused(
    method: bytes, target: bytes
) -> None:
    made, stream = connection()
    sent = httpcore.Request(
        method, httpcore.URL(scheme=b"http", host=b"example.test", target=target)
    )
    with pytest.raises(httpcore.LocalProtocolError):
        await made.handle_async_request(sent)
    assert stream.sent == b""


async def test_a_streamed_body_goes_out_piece_by_piece_as_it_comes() -> None:
    made, stream = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    seen: list[bytes] = []

    async def pieces() -> AsyncIterator[bytes]:
        seen.append(stream.sent)  # what had gone out before the first piece was asked for
        yield b"ab"
        seen.append(stream.sent)
        yield b"cd"

    headers = [(b"Host", b"h"), (b"Content-Length", b"4")]
    await exchange(made, request(b"POST", headers=headers, content=pieces()))
    assert seen[0].endswith(b"Content-Length: 4\r\n\r\n")
    assert seen[1].endswith(b"\r\n\r\nab")
    assert stream.sent.endswith(b"\r\n\r\nabcd")


async def test_an_answer_the_server_sent_before_the_write_failed_is_returned() -> None:
    made, stream = connection(b"HTTP/1.1 413 Too Large\r\nContent-Length: 3\r\n\r\nbig")
    stream.fail_writes = True
    response, body = await exchange(
        made, request(b"POST", content=b"x" * 10, headers=[(b"Content-Length", b"10")])
    )
    assert (response.status, body) == (413, b"big")
    assert made.is_closed()  # the request was cut short: the connection is not reused


async def test_reading_from_a_connection_closed_meanwhile_is_a_read_error() -> None:
    made, _ = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", b"cd")
    response = await made.handle_async_request(request())
    body: Any = response.stream
    assert await body.__anext__() == b"ab"
    await made.aclose()  # the client closed its pool while the body was being read
    with pytest.raises(httpcore.ReadError):
        await body.__anext__()


async def test_informational_responses_are_skipped() -> None:
    made, _ = connection(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    )
    response, body = await exchange(made)
    assert (response.status, body) == (200, b"ok")


async def test_chunks_received_together_come_up_as_one_piece() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    made, _ = connection(
        head + b"3\r\none\r\n3;x=y\r\ntwo\r\n5\r\nth",  # the third chunk is cut short
        b"ree\r\n4\r\nfour\r\n0\r\n\r\n",
    )
    assert await pieces(made) == [b"onetwo", b"th", b"reefour"]
    assert made.is_idle()


async def test_chunks_received_together_come_up_a_few_kilobytes_at_a_time() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"1f4\r\n" + b"x" * 500 + b"\r\n"
    made, _ = connection(head + chunk * 10 + b"0\r\n\r\n")
    # Each piece's events are decoded before its first is delivered: a piece stays small.
    assert [len(piece) for piece in await pieces(made)] == [2000, 2000, 1000]


@pytest.mark.parametrize(
    ("method", "head"),
    [
        (b"HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"),
        (b"GET", b"HTTP/1.1 204 No Content\r\n\r\n"),
        (b"GET", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n"),
    ],
)
async def test_responses_without_a_body_leave_the_connection_ready(
    method: bytes, head: bytes
) -> None:
    made, _ = connection(head, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
    _, body = await exchange(made, request(method))
    assert body == b""
    assert made.is_idle()
    _, body = await exchange(made)
    assert body == b"x"


@pytest.mark.parametrize(
    ("head", "request_headers", "reused"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", [], True),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", [], False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", [(b"Connection", b"close")], False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", [], False),
        (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n", [], True),
    ],
)
async def test_the_connection_stays_open_only_when_both_sides_allow(
    head: bytes, request_headers: list[tuple[bytes, bytes]], reused: bool
) -> None:
    made, stream = connection(head + b"x")
    await exchange(made, request(headers=request_headers))
    assert made.is_idle() is reused
    assert stream.closed is not reused


async def test_bytes_beyond_the_response_close_the_connection() -> None:
    made, stream = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxGARBAGE")
    _, body = await exchange(made)
    assert body == b"x"
    assert made.is_closed()
    assert stream.closed


async def test_an_idle_connection_the_server_wrote_to_has_expired() -> None:
    made, _ = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", b"late bytes")
    await exchange(made)
    assert made.is_idle()
    assert made.has_expired()


BROKEN = [
    (b"", "closed a new connection without sending a response: it may have read"),
    (b"HTTP/1.1 200 OK\r\nContent-Len", "within the response head"),
    (b"ICY 200 OK\r\n\r\n", "status line"),
    (b"HTTP/1.1 2000 OK\r\n\r\n", "status code"),
    (b"HTTP/1.1 -12 OK\r\n\r\n", "status code"),
    (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nframes", "switched protocols"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "chunked is supported"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", "Content-Length"),
    (b"HTTP/1.1 abc OK\r\n\r\n", "status code"),
    (b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "header line"),
    (b"HTTP/1.1 200 OK\r\n folded: value\r\n\r\n", "header line"),  # folds nothing
    (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "Conflicting"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", "Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "5 bytes"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", "longer"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "3 bytes"),
    (b"HTTP/1.1 200 OK\r\n" + b"X: " + b"y" * 70_000, "too long"),
]


async def test_only_a_kept_alive_connection_closed_unanswered_says_so_as_httpcore_does() -> None:
    # Retries send a request again after httpcore's words, not after a new connection's.
    made, _ = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    await exchange(made)
    with pytest.raises(httpcore.RemoteProtocolError) as info:
        await exchange(made)
    assert str(info.value) == "Server disconnected without sending a response."
    fresh, _ = connection(b"HTTP/1.1 100 Continue\r\n\r\n")
    with pytest.raises(httpcore.RemoteProtocolError, match="within the response head"):
        await exchange(fresh)


@pytest.mark.parametrize(("wire", "message"), BROKEN)
async def test_a_broken_response_is_a_protocol_error_and_closes_the_connection(
    wire: bytes, message: str
) -> None:
    made, stream = connection(wire)
    with pytest.raises(httpcore.RemoteProtocolError, match=message):
        await exchange(made)
    assert made.is_closed()
    assert stream.closed


@pytest.mark.parametrize(("wire", "message"), BROKEN)
def test_the_sync_connection_refuses_a_broken_response_alike(wire: bytes, message: str) -> None:
    with pytest.raises(httpcore.RemoteProtocolError, match=message):
        sync_exchange(wire)


async def test_a_body_closed_before_its_end_closes_the_connection() -> None:
    made, stream = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", b"cd")
    response = await made.handle_async_request(request())
    body: Any = response.stream
    assert await body.__anext__() == b"ab"
    await body.aclose()
    assert made.is_closed()
    assert stream.closed


async def test_a_busy_connection_is_not_available_for_another_request() -> None:
    made, _ = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", b"x")
    await made.handle_async_request(request())  # its body not read yet
    assert not made.is_available()
    with pytest.raises(httpcore.ConnectionNotAvailable):
        await made.handle_async_request(request())
