"""The async client's HTTP/1.1 connections: one request at a time, parsed without h11.

httpcore's HTTP/1.1 connection runs every request through h11's state machine, a trace
context per phase, a lock and half a dozen nested coroutines. With thousands of runs in flight
those are a large share of the CPU and of the objects the garbage collector keeps walking.
This connection writes the request in one piece and reads the response straight from the
buffer of bytes received: head to the blank line, then the body by Content-Length, by chunks,
or to the end of the connection (RFC 9112). It speaks to the pool and to httpx in httpcore's
terms (`AsyncConnectionInterface`, httpcore's exceptions), so everything above it is unchanged.
"""

# httpcore's request and response extensions are untyped dicts.
# pyright: reportUnknownMemberType=false, reportUnknownArgumentType=false, reportUnknownVariableType=false

from __future__ import annotations

import logging
import re
import ssl
import time
from collections.abc import AsyncIterable, Iterable
from typing import Any, Final, cast

import anyio
import httpcore
import httpx

from agentkit._deadline import DEADLINE, left

__all__ = ["AsyncHTTP11Connection", "HTTP11Connection"]

logger: Final = logging.getLogger("agentkit.http")

_READ_SIZE: Final = 64 * 1024
_MAX_HEAD: Final = 64 * 1024
"""Bytes a response head (status line and headers) may take, like h11's limit."""
_MAX_CHUNK_LINE: Final = 4 * 1024
_PIECE_ROOM: Final = 2 * 1024
"""Bytes of buffered chunks gathered into one piece of a chunked body."""

_NEW, _IDLE, _ACTIVE, _CLOSED = "NEW", "IDLE", "ACTIVE", "CLOSED"
_NO_BODY_STATUS: Final = frozenset({204, 304})
_CHUNK_SIZE: Final = re.compile(rb"[0-9A-Fa-f]{1,16}")
_BAD_TARGET: Final = re.compile(rb"[\x00-\x20\x7f]")
"""A byte that cannot be part of a request target (it would end the request line early)."""
_BAD_VALUE: Final = re.compile(rb"[\r\n\0]")
"""A byte that would end a header value early and let it forge the rest of the request."""
_BAD_NAME: Final = re.compile(rb"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")
"""A byte that cannot be part of a header name (RFC 9110's token)."""


class _Framing:
    """How the body of one response is delimited."""

    __slots__ = ("chunked", "left", "to_close")

    def __init__(self, *, left: int = 0, chunked: bool = False, to_close: bool = False) -> None:
        self.left = left  # bytes still to come (by length), or of the current chunk
        self.chunked = chunked
        self.to_close = to_close  # the body ends when the server closes the connection


class AsyncHTTP11Connection(httpcore.AsyncConnectionInterface):
    """One HTTP/1.1 connection to `origin`, opened by its first request and kept alive."""

    def __init__(
        self,
        origin: httpcore.Origin,
        *,
        ssl_context: ssl.SSLContext | None,
        keepalive_expiry: float | None,
        network_backend: httpcore.AsyncNetworkBackend,
    ) -> None:
        self._origin = origin
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._backend = network_backend
        self._stream: httpcore.AsyncNetworkStream | None = None
        self._state = _NEW
        self._expire_at: float | None = None
        self._buffer = bytearray()  # received and not yet parsed
        self._requests = 0

    # -- the pool's view -------------------------------------------------------------------------

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return origin == self._origin

    def is_available(self) -> bool:
        return self._state == _IDLE

    def has_expired(self) -> bool:
        if self._state != _IDLE:
            return False
        if self._expire_at is not None and time.monotonic() > self._expire_at:
            return True
        # Idle, anything to read means the server closed the connection (or broke the protocol).
        assert self._stream is not None
        return bool(self._buffer) or bool(self._stream.get_extra_info("is_readable"))

    def is_idle(self) -> bool:
        return self._state == _IDLE

    def is_closed(self) -> bool:
        return self._state == _CLOSED

    def info(self) -> str:
        return f"HTTP/1.1, {self._state}, Request Count: {self._requests}"

    def __repr__(self) -> str:
        origin = (
            f"{self._origin.scheme.decode()}://{self._origin.host.decode()}:{self._origin.port}"
        )
        return f"<{type(self).__name__} [{origin!r}, {self.info()}]>"

    async def aclose(self) -> None:
        self._state = _CLOSED
        stream, self._stream = self._stream, None
        if stream is not None:
            await _aclose_stream(stream)

    # -- one request -----------------------------------------------------------------------------

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        """Send `request` and read its response head; the body streams as it is read.

        Raises:
            httpcore.ConnectionNotAvailable: The connection is busy or closed: use another.
        """
        if not self.can_handle_request(request.url.origin):
            raise RuntimeError(f"Attempted to send request to {request.url.origin} on {self!r}")
        if self._state not in (_NEW, _IDLE):
            raise httpcore.ConnectionNotAvailable()
        self._state = _ACTIVE
        self._expire_at = None
        self._requests += 1
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        try:
            if self._stream is None:
                self._stream = await self._connect(request, timeouts.get("connect"))
            try:
                keep_alive = await self._send(request, timeouts.get("write"))
            except httpcore.WriteError:
                # A server may answer and close before it reads the whole request (a 413, say):
                # its answer, if one came, is the outcome; the connection is done either way.
                keep_alive = False
            status, reason, headers, version = await self._head(timeouts.get("read"))
            framing, keep_alive = _framing(request, status, headers, version, keep_alive)
        except BaseException:
            await self.aclose()
            raise
        body = _AsyncBody(self, framing, keep_alive, timeouts.get("read"))
        extensions = {
            "http_version": version,
            "reason_phrase": reason,
            "network_stream": self._stream,
        }
        return _response(status, headers, body, extensions)

    async def _connect(
        self, request: httpcore.Request, within: float | None
    ) -> httpcore.AsyncNetworkStream:
        host = self._origin.host.decode("ascii")
        stream = await self._backend.connect_tcp(host, self._origin.port, timeout=within)
        logger.debug("connected to %s port %d", host, self._origin.port)
        if self._origin.scheme == b"https":
            context = self._ssl_context or httpcore.default_ssl_context()
            context.set_alpn_protocols(["http/1.1"])
            sni: str | None = request.extensions.get("sni_hostname")
            try:
                stream = await stream.start_tls(
                    context, server_hostname=sni or host, timeout=within
                )
            except BaseException:
                await _aclose_stream(stream)
                raise
        return stream

    async def _send(self, request: httpcore.Request, within: float | None) -> bool:
        """Write the request; whether it lets the connection stay open.

        A body already in memory goes out with the head in one write; a streamed one piece by
        piece as it comes.

        Raises:
            httpcore.LocalProtocolError: The body does not match its Content-Length.
        """
        stream = self._writable()
        head, framing, keep_alive = _request_head(request)
        body = request.stream
        if isinstance(body, bytes | httpx.ByteStream):
            whole = [body] if isinstance(body, bytes) else list(body)
            await stream.write(head + b"".join(framing.encode(piece) for piece in whole), within)
        else:
            await stream.write(head, within)
            pieces = cast("AsyncIterable[bytes]", body).__aiter__()
            try:
                async for piece in pieces:
                    await stream.write(framing.encode(piece), within)
            finally:  # a generator left mid-way is closed now, not by the garbage collector
                close = getattr(pieces, "aclose", None)
                if close is not None:
                    await close()
        await stream.write(framing.end(), within)
        return keep_alive

    def _writable(self) -> httpcore.AsyncNetworkStream:
        if self._stream is None:  # the client was closed meanwhile
            raise httpcore.WriteError("The connection is closed.")
        return self._stream

    async def _fill(self, within: float | None) -> bool:
        """Read more into the buffer; False at the end of the connection."""
        if self._stream is None:  # the client was closed meanwhile
            raise httpcore.ReadError("The connection is closed.")
        data = await self._stream.read(_READ_SIZE, _read_within(within))
        if not data:
            return False
        self._buffer += data
        return True

    async def _line(self, within: float | None, limit: int, what: str) -> bytes:
        """The next CRLF-terminated line of the buffer, without its CRLF."""
        start = 0
        while (end := self._buffer.find(b"\r\n", start)) < 0:
            if len(self._buffer) > limit:
                raise httpcore.RemoteProtocolError(f"The {what} is too long.")
            start = max(len(self._buffer) - 1, 0)
            if not await self._fill(within):
                raise httpcore.RemoteProtocolError(f"The server disconnected within the {what}.")
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    async def _head(
        self, within: float | None
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]], bytes]:
        """Status, reason, headers and version of the final response (1xx ones skipped)."""
        informed = False  # an informational head came: the server read the request
        while True:
            start = 0
            while (end := self._buffer.find(b"\r\n\r\n", start)) < 0:
                if len(self._buffer) > _MAX_HEAD:
                    raise httpcore.RemoteProtocolError("The response head is too long.")
                start = max(len(self._buffer) - 3, 0)
                if not await self._fill(within):
                    answered = informed or bool(self._buffer)
                    raise httpcore.RemoteProtocolError(_unanswered(answered, self._requests))
            head = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            status, reason, headers, version = _parse_head(head)
            if not 100 <= status < 200 or status == 101:
                return status, reason, headers, version
            informed = True

    async def next_piece(self, framing: _Framing, within: float | None) -> bytes | None:
        """The next piece of the body as it arrives, or None at its end."""
        if framing.chunked and not framing.left:
            size = _chunk_size(await self._line(within, _MAX_CHUNK_LINE, "chunk size line"))
            if size == 0:
                while await self._line(within, _MAX_HEAD, "trailer"):
                    pass  # trailers carry nothing httpx reads
                framing.chunked = False
                return None
            framing.left = size
        if not framing.left and not framing.to_close:
            return None
        if not self._buffer and not await self._fill(within):
            if framing.to_close:
                framing.to_close = False
                return None
            raise httpcore.RemoteProtocolError(
                f"The server disconnected with {framing.left} bytes of the body unsent."
            )
        take = len(self._buffer) if framing.to_close else min(framing.left, len(self._buffer))
        piece = bytes(self._buffer[:take])
        del self._buffer[:take]
        if not framing.to_close:
            framing.left -= take
            if framing.chunked and not framing.left:
                if await self._line(within, 2, "chunk"):
                    raise httpcore.RemoteProtocolError("A chunk is longer than its size.")
                piece += _whole_chunks(self._buffer, _PIECE_ROOM - len(piece))
        return piece

    async def response_ended(self, keep_alive: bool) -> None:
        """The response was read to its end: idle for the next request, or closed."""
        if keep_alive and not self._buffer and self._state == _ACTIVE:
            self._state = _IDLE
            if self._keepalive_expiry is not None:
                self._expire_at = time.monotonic() + self._keepalive_expiry
        else:  # not to be reused, or bytes beyond the response (the server broke the protocol)
            await self.aclose()


class _AsyncBody:
    """A response body; read to its end, its connection serves the next request.

    An iterator of its own rather than an async generator: closing it early then leaves no
    generator for the garbage collector to finalise.
    """

    __slots__ = ("_closed", "_connection", "_framing", "_keep_alive", "_timeout")

    def __init__(
        self,
        connection: AsyncHTTP11Connection,
        framing: _Framing,
        keep_alive: bool,
        timeout: float | None,
    ) -> None:
        self._connection = connection
        self._framing = framing
        self._keep_alive = keep_alive
        self._timeout = timeout
        self._closed = False

    def __aiter__(self) -> _AsyncBody:
        return self

    async def __anext__(self) -> bytes:
        if self._closed:
            raise StopAsyncIteration
        try:
            piece = await self._connection.next_piece(self._framing, self._timeout)
        except BaseException:
            await self.aclose()
            raise
        framing = self._framing
        if piece is None or not (framing.left or framing.chunked or framing.to_close):
            # The end, known as soon as the last byte of a sized body is read.
            self._closed = True
            await self._connection.response_ended(self._keep_alive)
        if piece is None:
            raise StopAsyncIteration
        return piece

    async def aclose(self) -> None:
        """Stop reading; unless the body was read to its end, the connection is closed."""
        if not self._closed:
            self._closed = True
            await self._connection.aclose()


def _response(
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: _AsyncBody | _Body,
    extensions: dict[str, Any],
) -> httpcore.Response:
    """The response for httpx, made without httpcore's checks: `_parse_head` made the headers.

    httpcore's constructor checks each header again, through `typing` aliases whose isinstance
    checks cost more than reading the head did.
    """
    response = object.__new__(httpcore.Response)
    response.status = status
    response.headers = headers
    response.stream = body
    response.extensions = extensions
    response._stream_consumed = False  # pyright: ignore[reportPrivateUsage]
    return response


async def _aclose_stream(stream: httpcore.AsyncNetworkStream) -> None:
    with anyio.CancelScope(shield=True):  # even in a cancelled task: no socket left open
        await stream.aclose()


def _close_stream(stream: httpcore.NetworkStream) -> None:
    stream.close()


# -- generated by tools/unasync.py from AsyncHTTP11Connection: do not edit --
class HTTP11Connection(httpcore.ConnectionInterface):
    """One HTTP/1.1 connection to `origin`, opened by its first request and kept alive."""

    def __init__(
        self,
        origin: httpcore.Origin,
        *,
        ssl_context: ssl.SSLContext | None,
        keepalive_expiry: float | None,
        network_backend: httpcore.NetworkBackend,
    ) -> None:
        self._origin = origin
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._backend = network_backend
        self._stream: httpcore.NetworkStream | None = None
        self._state = _NEW
        self._expire_at: float | None = None
        self._buffer = bytearray()  # received and not yet parsed
        self._requests = 0

    # -- the pool's view -------------------------------------------------------------------------

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return origin == self._origin

    def is_available(self) -> bool:
        return self._state == _IDLE

    def has_expired(self) -> bool:
        if self._state != _IDLE:
            return False
        if self._expire_at is not None and time.monotonic() > self._expire_at:
            return True
        # Idle, anything to read means the server closed the connection (or broke the protocol).
        assert self._stream is not None
        return bool(self._buffer) or bool(self._stream.get_extra_info("is_readable"))

    def is_idle(self) -> bool:
        return self._state == _IDLE

    def is_closed(self) -> bool:
        return self._state == _CLOSED

    def info(self) -> str:
        return f"HTTP/1.1, {self._state}, Request Count: {self._requests}"

    def __repr__(self) -> str:
        origin = (
            f"{self._origin.scheme.decode()}://{self._origin.host.decode()}:{self._origin.port}"
        )
        return f"<{type(self).__name__} [{origin!r}, {self.info()}]>"

    def close(self) -> None:
        self._state = _CLOSED
        stream, self._stream = self._stream, None
        if stream is not None:
            _close_stream(stream)

    # -- one request -----------------------------------------------------------------------------

    def handle_request(self, request: httpcore.Request) -> httpcore.Response:
        """Send `request` and read its response head; the body streams as it is read.

        Raises:
            httpcore.ConnectionNotAvailable: The connection is busy or closed: use another.
        """
        if not self.can_handle_request(request.url.origin):
            raise RuntimeError(f"Attempted to send request to {request.url.origin} on {self!r}")
        if self._state not in (_NEW, _IDLE):
            raise httpcore.ConnectionNotAvailable()
        self._state = _ACTIVE
        self._expire_at = None
        self._requests += 1
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        try:
            if self._stream is None:
                self._stream = self._connect(request, timeouts.get("connect"))
            try:
                keep_alive = self._send(request, timeouts.get("write"))
            except httpcore.WriteError:
                # A server may answer and close before it reads the whole request (a 413, say):
                # its answer, if one came, is the outcome; the connection is done either way.
                keep_alive = False
            status, reason, headers, version = self._head(timeouts.get("read"))
            framing, keep_alive = _framing(request, status, headers, version, keep_alive)
        except BaseException:
            self.close()
            raise
        body = _Body(self, framing, keep_alive, timeouts.get("read"))
        extensions = {
            "http_version": version,
            "reason_phrase": reason,
            "network_stream": self._stream,
        }
        return _response(status, headers, body, extensions)

    def _connect(self, request: httpcore.Request, within: float | None) -> httpcore.NetworkStream:
        host = self._origin.host.decode("ascii")
        stream = self._backend.connect_tcp(host, self._origin.port, timeout=within)
        logger.debug("connected to %s port %d", host, self._origin.port)
        if self._origin.scheme == b"https":
            context = self._ssl_context or httpcore.default_ssl_context()
            context.set_alpn_protocols(["http/1.1"])
            sni: str | None = request.extensions.get("sni_hostname")
            try:
                stream = stream.start_tls(context, server_hostname=sni or host, timeout=within)
            except BaseException:
                _close_stream(stream)
                raise
        return stream

    def _send(self, request: httpcore.Request, within: float | None) -> bool:
        """Write the request; whether it lets the connection stay open.

        A body already in memory goes out with the head in one write; a streamed one piece by
        piece as it comes.

        Raises:
            httpcore.LocalProtocolError: The body does not match its Content-Length.
        """
        stream = self._writable()
        head, framing, keep_alive = _request_head(request)
        body = request.stream
        if isinstance(body, bytes | httpx.ByteStream):
            whole = [body] if isinstance(body, bytes) else list(body)
            stream.write(head + b"".join(framing.encode(piece) for piece in whole), within)
        else:
            stream.write(head, within)
            pieces = cast("Iterable[bytes]", body).__iter__()
            try:
                for piece in pieces:
                    stream.write(framing.encode(piece), within)
            finally:  # a generator left mid-way is closed now, not by the garbage collector
                close = getattr(pieces, "close", None)
                if close is not None:
                    close()
        stream.write(framing.end(), within)
        return keep_alive

    def _writable(self) -> httpcore.NetworkStream:
        if self._stream is None:  # the client was closed meanwhile
            raise httpcore.WriteError("The connection is closed.")
        return self._stream

    def _fill(self, within: float | None) -> bool:
        """Read more into the buffer; False at the end of the connection."""
        if self._stream is None:  # the client was closed meanwhile
            raise httpcore.ReadError("The connection is closed.")
        data = self._stream.read(_READ_SIZE, _read_within(within))
        if not data:
            return False
        self._buffer += data
        return True

    def _line(self, within: float | None, limit: int, what: str) -> bytes:
        """The next CRLF-terminated line of the buffer, without its CRLF."""
        start = 0
        while (end := self._buffer.find(b"\r\n", start)) < 0:
            if len(self._buffer) > limit:
                raise httpcore.RemoteProtocolError(f"The {what} is too long.")
            start = max(len(self._buffer) - 1, 0)
            if not self._fill(within):
                raise httpcore.RemoteProtocolError(f"The server disconnected within the {what}.")
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    def _head(self, within: float | None) -> tuple[int, bytes, list[tuple[bytes, bytes]], bytes]:
        """Status, reason, headers and version of the final response (1xx ones skipped)."""
        informed = False  # an informational head came: the server read the request
        while True:
            start = 0
            while (end := self._buffer.find(b"\r\n\r\n", start)) < 0:
                if len(self._buffer) > _MAX_HEAD:
                    raise httpcore.RemoteProtocolError("The response head is too long.")
                start = max(len(self._buffer) - 3, 0)
                if not self._fill(within):
                    answered = informed or bool(self._buffer)
                    raise httpcore.RemoteProtocolError(_unanswered(answered, self._requests))
            head = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            status, reason, headers, version = _parse_head(head)
            if not 100 <= status < 200 or status == 101:
                return status, reason, headers, version
            informed = True

    def next_piece(self, framing: _Framing, within: float | None) -> bytes | None:
        """The next piece of the body as it arrives, or None at its end."""
        if framing.chunked and not framing.left:
            size = _chunk_size(self._line(within, _MAX_CHUNK_LINE, "chunk size line"))
            if size == 0:
                while self._line(within, _MAX_HEAD, "trailer"):
                    pass  # trailers carry nothing httpx reads
                framing.chunked = False
                return None
            framing.left = size
        if not framing.left and not framing.to_close:
            return None
        if not self._buffer and not self._fill(within):
            if framing.to_close:
                framing.to_close = False
                return None
            raise httpcore.RemoteProtocolError(
                f"The server disconnected with {framing.left} bytes of the body unsent."
            )
        take = len(self._buffer) if framing.to_close else min(framing.left, len(self._buffer))
        piece = bytes(self._buffer[:take])
        del self._buffer[:take]
        if not framing.to_close:
            framing.left -= take
            if framing.chunked and not framing.left:
                if self._line(within, 2, "chunk"):
                    raise httpcore.RemoteProtocolError("A chunk is longer than its size.")
                piece += _whole_chunks(self._buffer, _PIECE_ROOM - len(piece))
        return piece

    def response_ended(self, keep_alive: bool) -> None:
        """The response was read to its end: idle for the next request, or closed."""
        if keep_alive and not self._buffer and self._state == _ACTIVE:
            self._state = _IDLE
            if self._keepalive_expiry is not None:
                self._expire_at = time.monotonic() + self._keepalive_expiry
        else:  # not to be reused, or bytes beyond the response (the server broke the protocol)
            self.close()


# -- end generated --


# -- generated by tools/unasync.py from _AsyncBody: do not edit --
class _Body:
    """A response body; read to its end, its connection serves the next request.

    An iterator of its own rather than an async generator: closing it early then leaves no
    generator for the garbage collector to finalise.
    """

    __slots__ = ("_closed", "_connection", "_framing", "_keep_alive", "_timeout")

    def __init__(
        self,
        connection: HTTP11Connection,
        framing: _Framing,
        keep_alive: bool,
        timeout: float | None,
    ) -> None:
        self._connection = connection
        self._framing = framing
        self._keep_alive = keep_alive
        self._timeout = timeout
        self._closed = False

    def __iter__(self) -> _Body:
        return self

    def __next__(self) -> bytes:
        if self._closed:
            raise StopIteration
        try:
            piece = self._connection.next_piece(self._framing, self._timeout)
        except BaseException:
            self.close()
            raise
        framing = self._framing
        if piece is None or not (framing.left or framing.chunked or framing.to_close):
            # The end, known as soon as the last byte of a sized body is read.
            self._closed = True
            self._connection.response_ended(self._keep_alive)
        if piece is None:
            raise StopIteration
        return piece

    def close(self) -> None:
        """Stop reading; unless the body was read to its end, the connection is closed."""
        if not self._closed:
            self._closed = True
            self._connection.close()


# -- end generated --


class _RequestFraming:
    """How a request body goes out: in chunks, or exactly its Content-Length (none: empty)."""

    __slots__ = ("chunked", "left")

    def __init__(self, *, chunked: bool, length: int | None) -> None:
        self.chunked = chunked
        self.left = length or 0

    def encode(self, piece: bytes) -> bytes:
        """`piece` as it goes on the wire.

        Raises:
            httpcore.LocalProtocolError: More bytes than the Content-Length announced.
        """
        if self.chunked:
            return b"%x\r\n%s\r\n" % (len(piece), piece) if piece else b""
        self.left -= len(piece)
        if self.left < 0:
            raise httpcore.LocalProtocolError("Too much data for declared Content-Length.")
        return piece

    def end(self) -> bytes:
        """What ends the body on the wire.

        Raises:
            httpcore.LocalProtocolError: Fewer bytes than the Content-Length announced.
        """
        if self.chunked:
            return b"0\r\n\r\n"
        if self.left:
            raise httpcore.LocalProtocolError("Too little data for declared Content-Length.")
        return b""


def _unanswered(answered: bool, requests: int) -> str:
    """Why no response head came; retries tell a stale connection by these words."""
    if answered:
        return "The server disconnected within the response head."
    if requests > 1:
        # httpcore's words, said of a kept-alive connection the server closed while idle:
        # it never read the request, which may be sent again.
        return "Server disconnected without sending a response."
    return (
        "The server closed a new connection without sending a response: it may have read "
        "the request and acted on it."
    )


def _request_head(request: httpcore.Request) -> tuple[bytes, _RequestFraming, bool]:
    """The request line and headers, how the body is framed, and whether to keep alive.

    Raises:
        httpcore.LocalProtocolError: The method, the target or a header would break the
            request's framing.
    """
    url = request.url
    parts = [*_request_line(request.method, url.target), b"\r\n"]
    has_host = chunked = False
    length: int | None = None
    keep_alive = True
    for name, value in request.headers:
        if not name or _BAD_VALUE.search(value) or _BAD_NAME.search(name):
            raise httpcore.LocalProtocolError(f"Invalid header: {name!r}")
        lowered = name.lower()
        if lowered == b"host":
            has_host = True
        elif lowered == b"transfer-encoding":
            chunked = _tokens(value) == [b"chunked"]
            if not chunked:
                raise httpcore.LocalProtocolError("Only Transfer-Encoding: chunked is supported.")
        elif lowered == b"content-length":
            length = _content_length(value, httpcore.LocalProtocolError)
        elif lowered == b"connection":
            keep_alive = keep_alive and b"close" not in _tokens(value)
        parts += (name, b": ", value, b"\r\n")
    if not has_host:
        parts[5:5] = (b"Host: ", _host(url), b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts), _RequestFraming(chunked=chunked, length=length), keep_alive


def _request_line(method: bytes, target: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """The parts of the request line, checked.

    Raises:
        httpcore.LocalProtocolError: The method or the target would break the request line.
    """
    if not method or _BAD_NAME.search(method):
        raise httpcore.LocalProtocolError(f"Invalid method: {method[:40]!r}")
    if not target or _BAD_TARGET.search(target):
        raise httpcore.LocalProtocolError(f"Invalid request target: {target[:100]!r}")
    return method, b" ", target, b" HTTP/1.1"


def _host(url: httpcore.URL) -> bytes:
    """The Host header of a request to `url` that has none."""
    host = b"[%s]" % url.host if b":" in url.host else url.host
    if url.port not in (None, {b"http": 80, b"https": 443}.get(url.scheme)):
        host += b":%d" % url.port
    return host


def _content_length(value: bytes, error: type[httpcore.ProtocolError]) -> int:
    """A Content-Length value (a list of one number repeated counts as that number)."""
    lengths = {item.strip() for item in value.split(b",")}
    (length,) = lengths if len(lengths) == 1 else (b"",)
    if not length.isdigit() or len(length) > 18:
        raise error(f"Invalid Content-Length: {value[:40]!r}")
    return int(length)


def _tokens(value: bytes) -> list[bytes]:
    return [token.strip().lower() for token in value.split(b",")]


def _parse_head(head: bytes) -> tuple[int, bytes, list[tuple[bytes, bytes]], bytes]:
    lines = head.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code, _, reason = rest.partition(b" ")
    if not version.startswith(b"HTTP/1.") or len(version) != 8:
        raise httpcore.RemoteProtocolError(f"Not an HTTP/1.1 status line: {lines[0][:100]!r}")
    if len(code) != 3 or not code.isdigit() or code[0] == ord("0"):
        raise httpcore.RemoteProtocolError(f"Not a status code: {code[:10]!r}")
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t") and headers:  # obs-fold: a continuation, read as a space
            name, value = headers[-1]
            headers[-1] = (name, b"%s %s" % (value, line.strip(b" \t")))
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name or _BAD_NAME.search(name):
            raise httpcore.RemoteProtocolError(f"Not a header line: {line[:100]!r}")
        headers.append((name, value.strip(b" \t")))
    return int(code), reason, headers, version


def _framing(
    request: httpcore.Request,
    status: int,
    headers: list[tuple[bytes, bytes]],
    version: bytes,
    keep_alive: bool,
) -> tuple[_Framing, bool]:
    """How the response body is delimited, and whether the connection stays open after it.

    Raises:
        httpcore.RemoteProtocolError: The response's framing headers are invalid, or it
            switches protocols (agentkit's client upgrades nothing).
    """
    length, coding, connection = _framing_headers(headers)
    if status == 101:
        raise httpcore.RemoteProtocolError("The server switched protocols, which is not asked.")
    keep_alive = keep_alive and _keeps_alive(version, connection)
    if request.method == b"HEAD" or status in _NO_BODY_STATUS or status < 200:
        return _Framing(), keep_alive
    if coding:
        if coding != [b"chunked"]:
            raise httpcore.RemoteProtocolError("Only Transfer-Encoding: chunked is supported.")
        # RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding ends with its connection.
        return _Framing(chunked=True), keep_alive and version != b"HTTP/1.0"
    if length is not None:
        return _Framing(left=length), keep_alive
    return _Framing(to_close=True), False


def _framing_headers(
    headers: list[tuple[bytes, bytes]],
) -> tuple[int | None, list[bytes], list[bytes]]:
    """The response's Content-Length, and its Transfer-Encoding and Connection tokens."""
    length: int | None = None
    coding: list[bytes] = []
    connection: list[bytes] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-length":
            declared = _content_length(value, httpcore.RemoteProtocolError)
            if length is not None and declared != length:
                raise httpcore.RemoteProtocolError("Conflicting Content-Length headers.")
            length = declared
        elif lowered == b"transfer-encoding":
            coding += _tokens(value)
        elif lowered == b"connection":
            connection += _tokens(value)
    return length, coding, connection


def _keeps_alive(version: bytes, connection: list[bytes]) -> bool:
    """Whether the server lets the connection serve another request after this response."""
    if b"close" in connection:
        return False
    return version != b"HTTP/1.0" or b"keep-alive" in connection


def _read_within(timeout: float | None) -> float | None:
    """A socket read's timeout: `timeout`, cut to the time a sync run has left.

    The request's timeouts were cut to it when the request was sent, but a response is read
    in many reads, a stream's body long after: each read is cut again, so neither a silent
    server nor one that trickles bytes can keep the run past its deadline. A read past the
    deadline still gets a millisecond: it then fails as a read timeout rather than reading a
    non-blocking socket.
    """
    deadline = DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = max(left(deadline), _LAST_READ)
    return remaining if timeout is None else min(timeout, remaining)


_LAST_READ: Final = 0.001
"""Seconds a body read gets when a sync run's deadline has passed."""


def _whole_chunks(buffer: bytearray, room: int) -> bytes:
    """The data of the whole chunks at the start of `buffer`, up to `room` bytes (no I/O).

    A stream's events come one chunk each; those that arrived together go up a few together
    rather than one pass through httpx and the SSE decoder per chunk. `room` bounds the wait
    for the first of them: every event of a piece is decoded before that one is delivered. A
    partial chunk, the last (empty) one and anything malformed are left for `next_piece`.
    """
    pieces: list[bytes] = []
    while (line_end := buffer.find(b"\r\n", 0, _MAX_CHUNK_LINE)) > 0:
        try:
            size = _chunk_size(bytes(buffer[:line_end]))
        except httpcore.RemoteProtocolError:
            break
        start = line_end + 2
        end = start + size
        if not size or size > room or not buffer.startswith(b"\r\n", end):
            break
        pieces.append(bytes(buffer[start:end]))
        del buffer[: end + 2]
        room -= size
    return b"".join(pieces)


def _chunk_size(line: bytes) -> int:
    size = line.split(b";", 1)[0].strip()
    if not _CHUNK_SIZE.fullmatch(size):
        raise httpcore.RemoteProtocolError(f"Not a chunk size: {line[:40]!r}")
    return int(size, 16)
