"""The async client's connection pool, against a real HTTP/1.1 server on a loopback socket.

Requests wait in line for a connection when the pool is full, idle connections are reused
(the most recent first) until their keep-alive expires or the server closes them, and a
request cancelled or timed out while waiting leaves nothing behind.
"""

from __future__ import annotations

import collections
import gc
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import anyio
import anyio.abc
import anyio.lowlevel
import httpcore
import httpx
import pytest

from agentkit import AsyncClient
from agentkit._client import default_max_connections
from agentkit._http11 import _response  # pyright: ignore[reportPrivateUsage]
from agentkit._pool import AsyncPool, _core_request, async_transport  # pyright: ignore[reportPrivateUsage]
from agentkit.exceptions import ResponseLostError
from agentkit.testing import Emulator, Script

pytestmark = pytest.mark.anyio

MODEL = "gemini-3.5-flash"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"


@dataclass
class Server:
    """Answers every request with `{}`, once `gate` lets it (default: at once)."""

    url: str = ""
    gate: anyio.Event | None = None
    close_after_reply: bool = False
    reply: bytes = RESPONSE
    hang_up_on: frozenset[int] = frozenset()
    """The requests (the first is 1) read, then left unanswered: the connection closes."""
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    waiting: int = 0
    requests: list[int] = field(default_factory=list[int])
    """The connection number each request arrived on."""

    async def handle(self, stream: anyio.abc.SocketStream) -> None:
        self.connections += 1
        number = self.connections
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        buffer = b""
        try:
            async with stream:
                while True:
                    while b"\r\n\r\n" not in buffer:
                        buffer += await stream.receive()
                    head, buffer = buffer.split(b"\r\n\r\n", 1)
                    length = _content_length(head)
                    while len(buffer) < length:
                        buffer += await stream.receive()
                    buffer = buffer[length:]
                    self.requests.append(number)
                    if len(self.requests) in self.hang_up_on:
                        return
                    if self.gate is not None:
                        self.waiting += 1
                        await self.gate.wait()
                        self.waiting -= 1
                    await stream.send(self.reply)
                    if self.close_after_reply:
                        return
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            self.open_now -= 1


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@asynccontextmanager
async def serving(server: Server) -> AsyncGenerator[Server, None]:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    server.url = f"http://127.0.0.1:{port}"
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, server.handle)
        try:
            yield server
        finally:
            group.cancel_scope.cancel()


def client(max_connections: int, *, pool_timeout: float | None = None) -> httpx.AsyncClient:
    timeout = httpx.Timeout(10.0, pool=pool_timeout)
    return httpx.AsyncClient(transport=async_transport(max_connections), timeout=timeout)


def pool_of(http: httpx.AsyncClient) -> AsyncPool:
    pool = http._transport._pool  # type: ignore[attr-defined]
    assert isinstance(pool, AsyncPool)
    return pool


async def until(condition: Callable[[], bool]) -> None:
    """Let the server's and the client's tasks run until `condition` holds."""
    while not condition():
        await anyio.lowlevel.checkpoint()


async def test_sequential_requests_reuse_one_connection() -> None:
    async with serving(Server()) as server, client(10) as http:
        for _ in range(5):
            assert (await http.get(server.url)).json() == {}
        assert server.connections == 1
        assert len(pool_of(http).connections) == 1


async def test_a_full_pool_queues_requests_and_serves_them_all_on_its_connections() -> None:
    async with serving(Server(gate=anyio.Event())) as server, client(3) as http:
        statuses: list[int] = []

        async def get() -> None:
            statuses.append((await http.get(server.url)).status_code)

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(get)
            await until(lambda: server.waiting == 3)
            assert "3 active, 0 idle | 17 waiting" in repr(pool_of(http))
            assert server.gate is not None
            server.gate.set()
        assert statuses == [200] * 20
        assert server.connections == 3
        assert server.most_open == 3


async def test_thousands_of_concurrent_requests_each_get_a_connection() -> None:
    async with serving(Server(gate=anyio.Event())) as server, client(5000) as http:
        async with anyio.create_task_group() as group:
            for _ in range(2000):
                group.start_soon(http.get, server.url)
            await until(lambda: server.waiting == 2000)
            assert server.gate is not None
            server.gate.set()
        assert server.connections == 2000
        assert "0 active, 2000 idle" in repr(pool_of(http))


async def test_a_request_waits_for_a_connection_at_most_the_pool_timeout() -> None:
    async with serving(Server(gate=anyio.Event())) as server, client(1, pool_timeout=0.05) as http:
        async with anyio.create_task_group() as group:
            group.start_soon(http.get, server.url)
            await until(lambda: server.waiting == 1)
            with pytest.raises(httpx.PoolTimeout, match="No connection became free"):
                await http.get(server.url)
            assert "0 waiting" in repr(pool_of(http))
            assert server.gate is not None
            server.gate.set()
        assert (await http.get(server.url)).status_code == 200  # the timed-out one took nothing
        assert server.connections == 1


async def test_a_cancelled_waiter_leaves_the_line_and_the_connection_serves_the_next() -> None:
    async with serving(Server(gate=anyio.Event())) as server, client(1) as http:
        served: list[str] = []

        async def get(name: str) -> None:
            await http.get(server.url)
            served.append(name)

        async with anyio.create_task_group() as group:
            group.start_soon(get, "first")
            await until(lambda: server.waiting == 1)
            async with anyio.create_task_group() as cancelled:
                cancelled.start_soon(get, "cancelled")
                await until(lambda: "1 waiting" in repr(pool_of(http)))
                cancelled.cancel_scope.cancel()
            group.start_soon(get, "last")
            await until(lambda: "1 waiting" in repr(pool_of(http)))
            assert server.gate is not None
            server.gate.set()
        assert served == ["first", "last"]
        assert server.connections == 1


async def test_a_response_closed_in_a_cancelled_task_still_gives_its_connection_back() -> None:
    async with serving(Server()) as server, client(1, pool_timeout=5) as http:
        with anyio.CancelScope() as scope:
            async with http.stream("GET", server.url):
                scope.cancel()  # the body is left unread: closing it closes its connection
        assert (await http.get(server.url)).status_code == 200  # the one connection is free
        assert server.connections == 2


async def test_a_connection_the_server_closed_is_replaced() -> None:
    async with serving(Server(close_after_reply=True)) as server, client(10) as http:
        for _ in range(3):
            assert (await http.get(server.url)).status_code == 200
            await until(lambda: server.open_now == 0)
        assert server.requests == [1, 2, 3]
        assert len(pool_of(http).connections) <= 1


CREATED = b'{"id": "v1_made", "status": "completed"}'
INTERACTION = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(CREATED), CREATED)


async def test_a_create_a_new_connection_took_and_lost_unanswered_is_not_sent_again() -> None:
    # The server read the request before it hung up: it may have made the interaction.
    server = Server(reply=INTERACTION, hang_up_on=frozenset({1}))
    async with serving(server), AsyncClient(api_key="test-key", base_url=server.url) as api:
        with pytest.raises(ResponseLostError, match="closed a new connection"):
            await api.interactions.create(model="m", input="Hi.")
    assert server.requests == [1]


async def test_a_create_a_kept_alive_connection_lost_unanswered_is_sent_again() -> None:
    # What a server closing an idle connection as it is reused looks like: sent again.
    server = Server(reply=INTERACTION, hang_up_on=frozenset({2}))
    async with serving(server), AsyncClient(api_key="test-key", base_url=server.url) as api:
        for _ in range(2):
            assert (await api.interactions.create(model="m", input="Hi.")).id == "v1_made"
    assert server.requests == [1, 1, 2]  # the connection each arrived on


def test_a_client_serves_one_event_loop_after_another() -> None:
    # A connection works only on the loop that opened it: each loop opens its own.
    emulator = Emulator(Script(["One.", "Two.", "Three.", "Four."]))
    with emulator.serve() as url:
        api = AsyncClient(api_key="test-key", base_url=url, timeout=10, max_retries=0)

        async def create() -> str | None:
            return (await api.interactions.create(model=MODEL, input="Hi.")).output_text

        answers = [anyio.run(create), anyio.run(create)]  # as two asyncio.run() calls
        answers += [anyio.run(create, backend="trio"), anyio.run(create)]
        anyio.run(api.aclose, backend="trio")
        gc.collect()  # no socket was left for the garbage collector to close (a warning)
    assert answers == ["One.", "Two.", "Three.", "Four."]


async def test_an_idle_connection_past_its_keep_alive_is_closed_and_replaced() -> None:
    pool = AsyncPool(max_connections=10, keepalive_expiry=0.0)
    transport = httpx.AsyncHTTPTransport()
    transport._pool = pool  # pyright: ignore[reportPrivateUsage]
    async with serving(Server()) as server, httpx.AsyncClient(transport=transport) as http:
        for _ in range(3):
            assert (await http.get(server.url)).status_code == 200
        assert server.requests == [1, 2, 3]
        await until(lambda: server.open_now <= 1)


async def test_a_connection_given_back_closes_the_idle_ones_past_their_keep_alive_not_itself() -> (
    None
):
    pool = AsyncPool(max_connections=10, keepalive_expiry=0.0)
    transport = httpx.AsyncHTTPTransport()
    transport._pool = pool  # pyright: ignore[reportPrivateUsage]
    gate = anyio.Event()
    async with serving(Server(gate=gate)) as server, httpx.AsyncClient(transport=transport) as http:
        async with anyio.create_task_group() as group:
            for _ in range(2):
                group.start_soon(http.get, server.url)
            await until(lambda: server.waiting == 2)
            gate.set()
        # The first given back outlived its keep-alive when the second came back: closed.
        assert len(pool.connections) == 1
        await until(lambda: server.open_now == 1)


class _Idle(httpcore.AsyncConnectionInterface):
    """An idle connection whose close lets other tasks run until `may_end` (trio's socket may)."""

    def __init__(self, *, expired: bool, closing: anyio.Event, may_end: anyio.Event) -> None:
        self.expired = expired
        self.closing = closing
        self.may_end = may_end
        self.closed = False

    def has_expired(self) -> bool:
        return self.expired

    def is_idle(self) -> bool:
        return not self.closed

    def is_available(self) -> bool:
        return not self.closed

    def is_closed(self) -> bool:
        return self.closed

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return True

    def info(self) -> str:
        return "idle"

    async def aclose(self) -> None:
        self.closing.set()
        await self.may_end.wait()
        self.closed = True


async def test_a_request_may_take_the_connection_given_back_while_an_expired_one_closes() -> None:
    origin = httpcore.Origin(b"http", b"example.com", 80)
    key = (origin.scheme, origin.host, origin.port)
    pool = AsyncPool(max_connections=10)
    closing, may_end = anyio.Event(), anyio.Event()
    stale = _Idle(expired=True, closing=closing, may_end=may_end)
    given_back = _Idle(expired=False, closing=closing, may_end=may_end)
    pool._origins.update({stale: key, given_back: key})  # pyright: ignore[reportPrivateUsage]
    pool._idle[key] = collections.deque([stale])  # pyright: ignore[reportPrivateUsage]
    taken: list[httpcore.AsyncConnectionInterface] = []

    async def take() -> None:
        taken.append(await pool._acquire(origin, None))  # pyright: ignore[reportPrivateUsage]

    async with anyio.create_task_group() as group:
        group.start_soon(pool._release, given_back)  # pyright: ignore[reportPrivateUsage]
        await closing.wait()  # the expired one is closing
        group.start_soon(take)
        await until(lambda: bool(taken))
        may_end.set()

    assert taken == [given_back]
    assert stale.closed
    assert pool.connections == [given_back]


async def test_a_full_pool_closes_an_idle_connection_to_another_origin_to_make_room() -> None:
    async with (
        serving(Server()) as first,
        serving(Server()) as second,
        client(1) as http,
    ):
        assert (await http.get(first.url)).status_code == 200
        assert (await http.get(second.url)).status_code == 200
        assert (await http.get(first.url)).status_code == 200
        assert (first.connections, second.connections) == (2, 1)
        await until(lambda: first.open_now + second.open_now == 1)


async def test_closing_the_pool_closes_every_connection() -> None:
    async with serving(Server()) as server:
        http = client(10)
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(http.get, server.url)
        assert len(pool_of(http).connections) == 3
        await http.aclose()
        assert pool_of(http).connections == []
        await until(lambda: server.open_now == 0)


async def test_a_url_without_a_usable_scheme_is_refused() -> None:
    transport = httpx.AsyncHTTPTransport()
    transport._pool = AsyncPool(max_connections=1)  # pyright: ignore[reportPrivateUsage]
    with pytest.raises(httpx.UnsupportedProtocol, match="ftp://"):
        await transport.handle_async_request(httpx.Request("GET", "ftp://127.0.0.1/"))


async def test_the_client_pool_allows_as_many_connections_as_the_process_can_spare() -> None:
    async with serving(Server()) as server, AsyncClient(api_key="k", base_url=server.url) as api:
        http = api._http  # pyright: ignore[reportPrivateUsage]
        assert pool_of(http)._max_connections == default_max_connections()  # pyright: ignore[reportPrivateUsage]
    assert default_max_connections() >= 10


def test_the_requests_and_responses_made_for_httpcore_hold_what_its_constructors_set() -> None:
    request = httpx.Request(
        "POST", "http://example.com/v1/x?key=1", headers={"a": "b"}, content=b"{}"
    )
    made = _core_request(request)
    built = httpcore.Request(
        b"POST",
        httpcore.URL(scheme=b"http", host=b"example.com", port=None, target=b"/v1/x?key=1"),
        headers=request.headers.raw,
        content=request.stream,
        extensions=request.extensions,
    )
    assert vars(made) == vars(built)
    request.extensions["target"] = b"/elsewhere"
    assert _core_request(request).url.target == b"/elsewhere"

    headers = [(b"content-type", b"application/json")]
    answer = _response(200, headers, cast("Any", [b"{}"]), {"http_version": b"HTTP/1.1"})
    expected = httpcore.Response(
        200, headers=headers, content=[b"{}"], extensions={"http_version": b"HTTP/1.1"}
    )
    assert vars(answer) == vars(expected)
