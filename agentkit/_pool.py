"""The async client's connection pool: constant work per request, however many are in flight.

httpcore's pool rescans every connection and every queued request each time a request starts
or ends, so its cost grows with the number in flight: thousands of concurrent runs on one
client spend the event loop there and never finish. This pool keeps the idle connections of
each origin on a stack and the requests waiting for a connection in a queue, so taking and
giving back a connection touches only those. Its connections are `AsyncHTTP11Connection`s.
httpx's transports map requests, responses and exceptions to and from it as httpx's own do,
without checking again what httpx and the response parser checked.
"""

# httpx keeps its transport's pool in `_pool`; it has been there since httpx 0.18.
# pyright: reportPrivateUsage=false
# httpcore's request and response extensions are untyped dicts.
# pyright: reportUnknownMemberType=false, reportUnknownArgumentType=false, reportUnknownVariableType=false

from __future__ import annotations

import socket
import ssl
import sys
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Final, TypeVar, cast

import anyio
import anyio.lowlevel
import httpcore
import httpx
from httpx._transports.default import (  # how httpx maps its pool's responses and errors
    AsyncResponseStream,
    ResponseStream,
    map_httpcore_exceptions,
)

from agentkit._asyncio_net import AsyncioBackend
from agentkit._http11 import AsyncHTTP11Connection, HTTP11Connection

__all__ = ["AsyncPool", "async_transport", "proxy_mounts", "sync_transport"]

KEEPALIVE_EXPIRY: Final = 5.0
"""Seconds an idle connection is kept (httpx's default)."""


def async_transport(max_connections: int) -> httpx.AsyncHTTPTransport:
    """An httpx transport over an `AsyncPool` (HTTP/1.1, certificates as httpx finds them).

    On asyncio, its connections use asyncio's sockets directly (`AsyncioBackend`).
    """
    ssl_context = httpx.create_ssl_context()
    transport = _AsyncTransport(verify=ssl_context)
    transport._pool = AsyncPool(
        ssl_context=ssl_context, max_connections=max_connections, network_backend=AsyncioBackend()
    )
    return transport


def sync_transport(max_connections: int) -> httpx.HTTPTransport:
    """An httpx transport whose pool opens `HTTP11Connection`s (certificates as httpx finds them).

    httpcore's own sync pool keeps the books: a sync client has one request in flight per
    thread, never the thousands that make its bookkeeping costly.
    """
    ssl_context = httpx.create_ssl_context()
    transport = _Transport(verify=ssl_context)
    transport._pool = _SyncPool(
        ssl_context=ssl_context,
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )
    return transport


def _core_request(request: httpx.Request) -> httpcore.Request:
    """Map `request` to httpcore's form as httpx's transports do, without checking it again.

    httpcore's constructor checks each header anew (httpx checked them), through `typing`
    aliases whose isinstance checks cost more than writing the request does.
    """
    url = request.url
    extensions = request.extensions
    core = object.__new__(httpcore.Request)
    core.method = request.method.encode("ascii")
    core.url = httpcore.URL(
        scheme=url.raw_scheme,
        host=url.raw_host,
        port=url.port,
        target=extensions.get("target", url.raw_path),
    )
    core.headers = request.headers.raw
    core.stream = request.stream
    core.extensions = extensions
    return core


def _httpx_response(
    response: httpcore.Response, body: httpx.SyncByteStream | httpx.AsyncByteStream
) -> httpx.Response:
    return httpx.Response(
        status_code=response.status,
        headers=response.headers,
        stream=body,
        extensions=response.extensions,
    )


class _AsyncTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, mapping requests and responses without checking them twice."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with map_httpcore_exceptions():
            response = await self._pool.handle_async_request(_core_request(request))
        body = cast("AsyncIterable[bytes]", response.stream)
        return _httpx_response(response, AsyncResponseStream(body))


class _Transport(httpx.HTTPTransport):
    """httpx's sync transport, mapping requests and responses without checking them twice."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with map_httpcore_exceptions():
            response = self._pool.handle_request(_core_request(request))
        return _httpx_response(response, ResponseStream(cast("Iterable[bytes]", response.stream)))


class _SyncPool(httpcore.ConnectionPool):
    def create_connection(self, origin: httpcore.Origin) -> httpcore.ConnectionInterface:
        return HTTP11Connection(
            origin,
            ssl_context=self._ssl_context,
            keepalive_expiry=self._keepalive_expiry,
            network_backend=self._network_backend,
        )


_TransportT = TypeVar("_TransportT", httpx.HTTPTransport, httpx.AsyncHTTPTransport)


def proxy_mounts(kind: type[_TransportT], limits: httpx.Limits) -> dict[str, _TransportT | None]:
    """The proxies the environment names (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`...), as mounts.

    httpx mounts them only when it makes the client's transport itself; a client given this
    module's transport gets them here, the way httpx would have made them.
    """
    from httpx._utils import get_environment_proxies  # what httpx itself reads them with

    return {
        pattern: None if url is None else kind(proxy=httpx.Proxy(url=url), limits=limits)
        for pattern, url in get_environment_proxies().items()
    }


_Origin = tuple[bytes, bytes, int]
"""An origin as a dict key (httpcore's `Origin` is not hashable)."""


def _key(origin: httpcore.Origin) -> _Origin:
    return origin.scheme, origin.host, origin.port


class _Waiter:
    """A request waiting for a connection: on wake, `connection` holds one or None (room)."""

    __slots__ = ("connection", "event", "origin")

    def __init__(self, origin: httpcore.Origin) -> None:
        self.origin = origin
        self.event = anyio.Event()
        self.connection: httpcore.AsyncConnectionInterface | None = None


class AsyncPool(httpcore.AsyncConnectionPool):
    """An HTTP/1.1 connection pool whose bookkeeping costs the same at 1 or 10,000 requests.

    At most `max_connections` connections are open; every connection that is idle stays open
    for `keepalive_expiry` seconds. A request finding no idle connection opens one, or waits
    (first come, first served) for one to be given back, at most the pool timeout.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int,
        keepalive_expiry: float = KEEPALIVE_EXPIRY,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        super().__init__(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=keepalive_expiry,
            network_backend=network_backend,
        )
        self._origins: dict[httpcore.AsyncConnectionInterface, _Origin] = {}
        """Every open connection (busy or idle), with the origin it serves."""
        self._idle: dict[_Origin, deque[httpcore.AsyncConnectionInterface]] = {}
        """Per origin, the idle connections: the most recently used on the right."""
        self._waiters: deque[_Waiter] = deque()
        self._reserved = 0
        """Room handed to woken waiters that have not opened their connection yet."""
        self._loop: object = None
        """The event loop the connections belong to (see `_running_loop`)."""

    def create_connection(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        """A new HTTP/1.1 connection to `origin`, opened by its first request."""
        return AsyncHTTP11Connection(
            origin,
            ssl_context=self._ssl_context,
            keepalive_expiry=self._keepalive_expiry,
            network_backend=self._network_backend,
        )

    @property
    def connections(self) -> list[httpcore.AsyncConnectionInterface]:
        """The open connections."""
        return list(self._origins)

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        """Send `request` on an idle connection of its origin, or a new one."""
        if request.url.scheme not in (b"http", b"https"):
            scheme = request.url.scheme.decode()
            raise httpcore.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme}://'."
                if scheme
                else "Request URL is missing an 'http://' or 'https://' protocol."
            )
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        self._serve(_running_loop())
        while True:
            connection = await self._acquire(request.url.origin, timeouts.get("pool"))
            try:
                response = await connection.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:
                await self._release(connection)  # it closed under us: take another
                continue
            except BaseException:
                await self._release(connection)
                raise
            # The same response, its body now giving the connection back when closed.
            response.stream = _PooledStream(response.stream, connection, self)
            return response

    def _serve(self, loop: object) -> None:
        """Serve requests on `loop`, letting go of the connections of the one served before.

        A connection works only on the loop that opened it: another loop would wait for its
        answer for ever (`asyncio.run()` twice with one client, `Agent.run_sync` of an agent
        with an agent as a tool). Its requests are over, as that loop stopped or moved on.
        """
        if loop == self._loop:
            return
        for connection in self._origins:
            _abandon(connection)
        self._origins.clear()
        self._idle.clear()
        self._waiters.clear()
        self._reserved = 0
        self._loop = loop

    async def _acquire(
        self, origin: httpcore.Origin, wait_at_most: float | None
    ) -> httpcore.AsyncConnectionInterface:
        idle = self._idle.get(_key(origin))
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to be stale
            if connection.is_available() and not connection.has_expired():
                return connection
            await self._discard(connection)
        full = len(self._origins) + self._reserved >= self._max_connections
        if full and not await self._close_an_idle_connection():
            return await self._wait(origin, wait_at_most) or self._open(origin)
        return self._open(origin)

    async def _wait(
        self, origin: httpcore.Origin, wait_at_most: float | None
    ) -> httpcore.AsyncConnectionInterface | None:
        """Queue for a connection of `origin`, or (None) for room to open one."""
        waiter = _Waiter(origin)
        self._waiters.append(waiter)
        try:
            with anyio.fail_after(wait_at_most):
                await waiter.event.wait()
        except BaseException as exc:
            if not waiter.event.is_set():
                self._waiters.remove(waiter)
            elif waiter.connection is not None:  # handed over just as we gave up: pass it on
                await self._hand_over(waiter.connection)
            else:
                self._reserved -= 1
                await self._hand_over(None)
            if isinstance(exc, TimeoutError):
                raise httpcore.PoolTimeout("No connection became free in time.") from None
            raise
        if waiter.connection is None:
            self._reserved -= 1
        return waiter.connection

    def _open(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        connection = self.create_connection(origin)
        self._origins[connection] = _key(origin)
        return connection

    async def _close_an_idle_connection(self) -> bool:
        """Make room by closing an idle connection of another origin, if there is one."""
        for idle in self._idle.values():
            if idle:
                await self._discard(idle.popleft())
                return True
        return False

    async def _discard(self, connection: httpcore.AsyncConnectionInterface) -> None:
        self._origins.pop(connection, None)  # gone already if the pool closed meanwhile
        with anyio.CancelScope(shield=True):
            await connection.aclose()

    async def _release(self, connection: httpcore.AsyncConnectionInterface) -> None:
        """Take back a connection whose response ended, or whose request failed."""
        if connection not in self._origins:  # the pool was closed meanwhile
            with anyio.CancelScope(shield=True):
                await connection.aclose()
        elif connection.is_idle():
            await self._hand_over(connection)
        else:
            await self._discard(connection)
            await self._hand_over(None)

    async def _hand_over(self, connection: httpcore.AsyncConnectionInterface | None) -> None:
        """Give an idle connection (or, for None, room for one) to the first waiter."""
        if self._waiters:
            waiter = self._waiters.popleft()
            if connection is not None and connection.can_handle_request(waiter.origin):
                waiter.connection = connection
            else:
                if connection is not None:  # a waiter of another origin needs its room
                    await self._discard(connection)
                self._reserved += 1
            waiter.event.set()
        elif connection is not None:
            idle = self._idle.setdefault(self._origins[connection], deque())
            idle.append(connection)
            # The cold end outlived its keep-alive: closed. The connection just given back is
            # checked when taken, not twice (a check of a socket costs a system call). Taken
            # off first, then closed: a request starting while one closes may take `connection`.
            stale: list[httpcore.AsyncConnectionInterface] = []
            while idle[0] is not connection and idle[0].has_expired():
                stale.append(idle.popleft())
            for expired in stale:
                await self._discard(expired)

    async def aclose(self) -> None:
        """Close every connection; requests in flight fail."""
        self._serve(_running_loop())  # the connections of another loop are closed at once
        connections = list(self._origins)
        self._origins.clear()
        self._idle.clear()
        with anyio.CancelScope(shield=True):
            for connection in connections:
                await connection.aclose()

    def __repr__(self) -> str:
        idle = sum(len(idle) for idle in self._idle.values())
        return (
            f"<{type(self).__name__} [Connections: {len(self._origins) - idle} active, "
            f"{idle} idle | {len(self._waiters)} waiting]>"
        )


def _running_loop() -> object:
    """The event loop running now: asyncio's loop, or another library's token (trio's)."""
    asyncio = sys.modules.get("asyncio")  # not imported: no asyncio loop runs anywhere
    loop = None if asyncio is None else asyncio.events._get_running_loop()
    return loop if loop is not None else anyio.lowlevel.current_token()


def _abandon(connection: httpcore.AsyncConnectionInterface) -> None:
    """Close a connection without its event loop, which may be closed."""
    stream = getattr(connection, "_stream", None)  # agentkit's own connections
    if not isinstance(stream, httpcore.AsyncNetworkStream):
        return
    abandon = getattr(stream, "abandon", None)  # on asyncio's sockets
    if callable(abandon):
        abandon()
        return
    raw = stream.get_extra_info("socket")  # httpcore's anyio streams (trio) hand theirs
    if isinstance(raw, socket.socket):
        raw.close()


class _PooledStream:
    """A response body that gives its connection back to the pool once closed."""

    def __init__(
        self,
        stream: AsyncIterator[bytes] | object,
        connection: httpcore.AsyncConnectionInterface,
        pool: AsyncPool,
    ) -> None:
        self._stream = stream
        self._connection = connection
        self._pool = pool
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:  # type: ignore[union-attr]
                yield part
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        # No shield of its own: the only waits in here, closing a socket, are shielded where
        # they happen, so even a cancelled task gives its connection back.
        aclose = getattr(self._stream, "aclose", None)
        if aclose is not None:
            await aclose()
        await self._pool._release(self._connection)
