"""httpcore's network backend on asyncio: each socket read and written by an asyncio protocol.

httpcore's own backend goes through anyio, which wraps every read and every write in a cancel
scope with a deadline; with thousands of requests in flight that bookkeeping costs as much
CPU as the HTTP itself. On asyncio, this backend waits on a plain future with a timer for the
timeout; cancellation (an anyio cancel scope cancels the task) reaches that future as it would
any other. On any other event loop (trio) every call goes to httpcore's anyio backend.
"""

from __future__ import annotations

import asyncio  # noqa: TID251 (asyncio's own fast path; other loops use anyio)
import contextlib
import contextvars
import ipaddress
import select
import socket
import ssl
import sys
from collections.abc import Awaitable, Iterable
from typing import Any, Final, TypeVar

import httpcore
import sniffio
from httpcore._backends.anyio import AnyIOBackend  # typed there, not in httpcore's root

__all__ = ["AsyncioBackend"]

_HAPPY_EYEBALLS_DELAY: Final = 0.25
"""Seconds before trying the next address of a host (anyio's and RFC 8305's value)."""

_READ_AHEAD: Final = 256 * 1024
"""Bytes received but not yet read above which the socket stops reading (back-pressure)."""

_TRANSPORT_INFO: Final = {
    "ssl_object": "ssl_object",
    "client_addr": "sockname",
    "server_addr": "peername",
    "socket": "socket",
}
"""httpcore's names for a stream's details, and asyncio's for the same on its transport."""

_NO_CONTEXT: Final = contextvars.Context()
"""What a timer that only fails a future runs in: no copy of the caller's context per read."""

_TIMEOUTS = (TimeoutError, asyncio.TimeoutError)  # distinct classes before Python 3.11

_T = TypeVar("_T")


async def _within(awaitable: Awaitable[_T], timeout: float | None) -> _T:
    """`awaitable`'s result, or TimeoutError after `timeout` seconds.

    From Python 3.11 on without `wait_for`'s extra task: with thousands of connections opening
    at once, each task is one more pass of the event loop before a connect even starts.
    """
    if timeout is None:
        return await awaitable
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout):
            return await awaitable
    return await asyncio.wait_for(awaitable, timeout)  # pragma: no cover (Python 3.10)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _Socket(asyncio.Protocol):
    """The receiving end of one connection: buffers what arrives and wakes the reader."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.received = bytearray()
        self.ended = False  # end of stream, or connection lost
        self.error: Exception | None = None
        self.reader: asyncio.Future[None] | None = None
        self.writable: asyncio.Future[None] | None = None  # set while writing is paused

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received += data
        if len(self.received) > _READ_AHEAD and self.transport is not None:
            self.transport.pause_reading()
        _wake(self.reader)

    def eof_received(self) -> None:
        self.ended = True
        _wake(self.reader)

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.error = exc
        _wake(self.reader)
        _wake(self.writable)

    def pause_writing(self) -> None:
        self.writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        _wake(self.writable)
        self.writable = None


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


async def _wait(waiter: asyncio.Future[None], timeout: float | None) -> None:
    """Wait for `waiter`, at most `timeout` seconds (TimeoutError)."""
    if timeout is None:
        await waiter
        return
    timer = asyncio.get_running_loop().call_later(timeout, _expire, waiter, context=_NO_CONTEXT)
    try:
        await waiter
    finally:
        timer.cancel()


def _readable(raw: socket.socket) -> bool:
    """Whether the kernel has something to read on `raw` (the loop may not have read it yet)."""
    if hasattr(select, "poll"):
        poll = select.poll()
        poll.register(raw, select.POLLIN)
        return bool(poll.poll(0))
    return bool(select.select([raw], [], [], 0)[0])  # Windows: no poll, and few sockets


def _close_now(transport: asyncio.BaseTransport) -> None:
    """What the closed loop of `transport` would have run to close its socket, run now."""
    ssl_protocol = getattr(transport, "_ssl_protocol", None)  # TLS: the TCP transport under it
    inner = transport if ssl_protocol is None else getattr(ssl_protocol, "_transport", None)
    lost = getattr(inner, "_call_connection_lost", None)  # asyncio's selector transports
    if lost is not None:
        with contextlib.suppress(RuntimeError):  # the protocol's own callbacks cannot run
            lost(None)  # closes the socket whatever the protocol does


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Socket) -> None:
        self._transport = transport
        self._socket = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        sock = self._socket
        if not sock.received and not sock.ended:
            sock.reader = asyncio.get_running_loop().create_future()
            try:
                await _wait(sock.reader, timeout)
            except TimeoutError:
                raise httpcore.ReadTimeout("No data arrived in time.") from None
            finally:
                sock.reader = None
        if sock.received:
            data = bytes(sock.received[:max_bytes])
            del sock.received[:max_bytes]
            if not sock.ended and not self._transport.is_reading():
                self._transport.resume_reading()
            return data
        if sock.error is not None:
            raise httpcore.ReadError(str(sock.error) or type(sock.error).__name__)
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        sock = self._socket
        if self._transport.is_closing():
            error = sock.error
            raise httpcore.WriteError(str(error) if error else "The connection is closed.")
        self._transport.write(buffer)
        if sock.writable is not None:  # the kernel's buffer is full: wait until it drains
            try:
                await _wait(sock.writable, timeout)
            except TimeoutError:
                raise httpcore.WriteTimeout("The data could not be sent in time.") from None

    async def aclose(self) -> None:
        self._transport.close()

    def abandon(self) -> None:
        """Close the socket at once: the event loop that ran it may be closed."""
        transport = self._transport
        try:
            transport.abort()
        except RuntimeError:  # it is: abort could not schedule the socket's close
            _close_now(transport)

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            transport = await _within(
                loop.start_tls(
                    self._transport, self._socket, ssl_context, server_hostname=server_hostname
                ),
                timeout,
            )
        except _TIMEOUTS:
            self._transport.abort()
            raise httpcore.ConnectTimeout("The TLS handshake did not finish in time.") from None
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.abort()
            raise httpcore.ConnectError(str(exc)) from exc
        if transport is None:  # the connection closed during the handshake
            raise httpcore.ConnectError("The connection closed during the TLS handshake.")
        return _Stream(transport, self._socket)

    def get_extra_info(self, info: str) -> Any:  # whatever the transport holds
        if info == "is_readable":  # an idle connection with data or an end: the server left
            sock = self._socket
            raw = self._transport.get_extra_info("socket")
            return bool(sock.received) or sock.ended or (raw is not None and _readable(raw))
        name = _TRANSPORT_INFO.get(info)
        return None if name is None else self._transport.get_extra_info(name)


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Connections on asyncio through `_Stream`; on any other loop, httpcore's anyio backend."""

    def __init__(self) -> None:
        self._other: httpcore.AsyncNetworkBackend = AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,  # (level, option, value) tuples
    ) -> httpcore.AsyncNetworkStream:
        if sniffio.current_async_library() != "asyncio":
            return await self._other.connect_tcp(host, port, timeout, local_address, socket_options)
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await _within(
                loop.create_connection(
                    _Socket,
                    host,
                    port,
                    local_addr=None if local_address is None else (local_address, 0),
                    # An address has nothing to race (racing costs a task per connect).
                    happy_eyeballs_delay=None if _is_address(host) else _HAPPY_EYEBALLS_DELAY,
                ),
                timeout,
            )
        except _TIMEOUTS:
            raise httpcore.ConnectTimeout(f"Could not connect to {host}:{port} in time.") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        raw = transport.get_extra_info("socket")
        if raw is not None:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for option in socket_options or ():
                raw.setsockopt(*option)
        return _Stream(transport, protocol)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,  # (level, option, value) tuples
    ) -> httpcore.AsyncNetworkStream:
        return await self._other.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._other.sleep(seconds)
