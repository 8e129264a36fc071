"""The async client's sockets and HTTP/1.1 connections, against real loopback servers: plain
and TLS connections, timeouts, refused, failed and cancelled connections, chunked bodies, and
bodies larger than the socket buffers in both directions. On trio the same requests go through
httpcore's anyio backend.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import anyio.abc
import anyio.streams.tls
import httpx
import pytest
import trustme

from agentkit import AsyncClient, Client
from agentkit._asyncio_net import AsyncioBackend
from agentkit._pool import AsyncPool
from agentkit.exceptions import NotFoundError

pytestmark = pytest.mark.anyio

ASYNCIO_ONLY = pytest.mark.parametrize("anyio_backend", ["asyncio"])

Handler = Callable[[anyio.abc.ByteStream], Awaitable[None]]


async def read_request(stream: anyio.abc.ByteStream) -> bytes:
    """One request's head and body (by Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive()
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.lower().split(b"\r\n")
    length = next((int(line[15:]) for line in lines if line.startswith(b"content-length:")), 0)
    while len(body) < length:
        body += await stream.receive()
    return body


def reply(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


async def echo_length(stream: anyio.abc.ByteStream) -> None:
    """Answer each request with the length of its body."""
    while True:
        body = await read_request(stream)
        await stream.send(reply(str(len(body)).encode()))


@asynccontextmanager
async def server(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncGenerator[str, None]:
    listener: anyio.abc.Listener[anyio.abc.ByteStream] = await anyio.create_tcp_listener(
        local_host="127.0.0.1"
    )
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    if tls is not None:
        listener = anyio.streams.tls.TLSListener(listener, tls, standard_compatible=False)

    async def serve(stream: anyio.abc.ByteStream) -> None:
        async with stream:
            with suppress(anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                await handler(stream)

    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, serve)
        yield f"{'https' if tls else 'http'}://localhost:{port}"
        group.cancel_scope.cancel()


def client(ssl_context: ssl.SSLContext | None = None, **timeouts: float) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport()
    transport._pool = AsyncPool(  # pyright: ignore[reportPrivateUsage]
        ssl_context=ssl_context, max_connections=10, network_backend=AsyncioBackend()
    )
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(10.0, **timeouts))


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def contexts(ca: trustme.CA) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """The server's context (a certificate for localhost) and a client's that trusts it."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)  # pyright: ignore[reportUnknownMemberType]
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)  # pyright: ignore[reportUnknownMemberType]
    return server_context, client_context


async def test_requests_reuse_a_plain_connection() -> None:
    async with server(echo_length) as url, client() as http:
        for size in (0, 5, 1000):
            response = await http.post(url, content=b"x" * size)
            assert response.text == str(size)
        stream = response.extensions["network_stream"]
        assert stream.get_extra_info("ssl_object") is None
        assert stream.get_extra_info("server_addr")[0] == "127.0.0.1"
        assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
        assert stream.get_extra_info("socket") is not None
        assert stream.get_extra_info("no such thing") is None


async def test_https_works_and_an_untrusted_certificate_is_refused(ca: trustme.CA) -> None:
    server_context, client_context = contexts(ca)
    async with server(echo_length, tls=server_context) as url:
        async with client(client_context) as http:
            response = await http.post(url, content=b"secret")
            assert response.text == "6"
            stream = response.extensions["network_stream"]
            assert stream.get_extra_info("ssl_object") is not None
        async with client(ssl.create_default_context()) as untrusting:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await untrusting.post(url, content=b"secret")


async def test_a_refused_connection_is_a_connect_error() -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()  # nothing listens there any more
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")


async def test_an_address_and_a_host_name_both_connect() -> None:
    async with server(echo_length) as url, client() as http:
        by_address = url.replace("localhost", "127.0.0.1")
        assert (await http.post(by_address, content=b"abc")).text == "3"
        assert (await http.post(url, content=b"abcd")).text == "4"  # ::1 refused, then 127.0.0.1


@ASYNCIO_ONLY  # its own timeout messages; trio goes through anyio
async def test_a_connection_not_made_in_time_is_a_connect_timeout() -> None:
    async with server(echo_length) as url, client(connect=1e-9) as http:
        with pytest.raises(httpx.ConnectTimeout, match=r"Could not connect to 127\.0\.0\.1:"):
            await http.get(url.replace("localhost", "127.0.0.1"))


@ASYNCIO_ONLY  # its own timeout messages; trio goes through anyio
async def test_a_server_that_never_answers_times_the_read_out() -> None:
    async def silent(stream: anyio.abc.ByteStream) -> None:
        await read_request(stream)
        await anyio.sleep_forever()

    async with server(silent) as url, client(read=0.05) as http:
        with pytest.raises(httpx.ReadTimeout, match="No data arrived in time"):
            await http.get(url)


@ASYNCIO_ONLY  # its own timeout messages; trio goes through anyio
async def test_a_server_that_never_reads_times_the_write_out() -> None:
    # Listening, never accepting: the kernel completes the connection and takes a few MB,
    # never 64 MB.
    with socket.create_server(("127.0.0.1", 0)) as deaf:
        port = deaf.getsockname()[1]
        async with client(write=0.05) as http:
            with pytest.raises(httpx.WriteTimeout, match="could not be sent in time"):
                await http.post(f"http://127.0.0.1:{port}/", content=b"x" * 64_000_000)


async def test_bodies_larger_than_the_socket_buffers_arrive_whole() -> None:
    size = 8_000_000

    async def big(stream: anyio.abc.ByteStream) -> None:
        body = await read_request(stream)
        await stream.send(reply(body[::-1] + b"!" * size))

    async with server(big) as url, client() as http:
        response = await http.post(url, content=b"ab" * size)
        assert len(response.content) == 3 * size
        assert response.content[:4] == b"baba"


async def test_a_server_that_closes_mid_response_is_a_protocol_error() -> None:
    async def cut(stream: anyio.abc.ByteStream) -> None:
        await read_request(stream)
        await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")

    async with server(cut) as url, client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(url)


async def test_chunked_responses_over_a_socket_keep_one_connection() -> None:
    connections = 0

    async def chunks(stream: anyio.abc.ByteStream) -> None:
        nonlocal connections
        connections += 1
        while True:
            data = b""
            while b"\r\n\r\n" not in data:
                data += await stream.receive()
            for piece in (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"3\r\nab"):
                await stream.send(piece)
            await stream.send(b"c\r\n4\r\ndefg\r\n0\r\n\r\n")

    async with server(chunks) as url, client() as http:
        bodies = [(await http.get(url)).content for _ in range(3)]
    assert bodies == [b"abcdefg"] * 3
    assert connections == 1


async def test_a_cancelled_read_closes_its_connection_and_the_next_request_opens_another() -> None:
    connections = 0

    async def slow_body(stream: anyio.abc.ByteStream) -> None:
        nonlocal connections
        connections += 1
        data = b""
        while b"\r\n\r\n" not in data:
            data += await stream.receive()
        await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
        if connections == 1:
            await anyio.sleep_forever()
        await stream.send(b"cd")

    async with server(slow_body) as url, client() as http:
        with anyio.move_on_after(0.2):
            async with http.stream("GET", url) as response:
                await response.aread()
        assert (await http.get(url)).content == b"abcd"
    assert connections == 2


async def test_https_offers_only_http_1_1(ca: trustme.CA) -> None:
    server_context, client_context = contexts(ca)
    protocols: list[str | None] = []

    async def answer(stream: anyio.abc.ByteStream) -> None:
        protocols.append(stream.extra(anyio.streams.tls.TLSAttribute.alpn_protocol))
        data = b""
        while b"\r\n\r\n" not in data:
            data += await stream.receive()
        await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    server_context.set_alpn_protocols(["h2", "http/1.1"])
    async with server(answer, server_context) as url, client(client_context) as http:
        assert (await http.get(url)).content == b"ok"
    assert protocols == ["http/1.1"]


async def test_a_header_with_a_line_break_never_reaches_the_server() -> None:
    seen: list[bytes] = []

    async def record(stream: anyio.abc.ByteStream) -> None:
        seen.append(await stream.receive())

    async with server(record) as url, client() as http:
        with pytest.raises(httpx.LocalProtocolError):
            await http.get(url, headers={"X-Bad": "a\r\nInjected: yes"})
    assert seen == []


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_both_clients_go_through_the_proxy_the_environment_names(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bytes] = []

    async def proxy(stream: anyio.abc.ByteStream) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += await stream.receive()
        seen.append(data.split(b"\r\n", 1)[0])
        body = b'{"error": {"code": 404, "message": "no such interaction"}}'
        await stream.send(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )

    async with server(proxy) as proxy_url:
        for name in ("ALL_PROXY", "HTTPS_PROXY", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        # A host that cannot resolve: only the proxy can answer for it.
        options: dict[str, Any] = {
            "api_key": "test-key",
            "base_url": "http://agentkit-fence.invalid",
            "max_retries": 0,
        }
        if kind == "async":
            async with AsyncClient(**options) as client:
                with pytest.raises(NotFoundError, match="no such interaction"):
                    await client.interactions.get("abc")
        else:
            with Client(**options) as sync_client, pytest.raises(NotFoundError, match="no such"):
                await anyio.to_thread.run_sync(sync_client.interactions.get, "abc")
    assert len(seen) == 1
    assert seen[0].startswith(b"GET http://agentkit-fence.invalid/v1beta/interactions/abc")


async def test_hosts_the_environment_exempts_skip_the_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def answer(stream: anyio.abc.ByteStream) -> None:
        await read_request(stream)
        body = b'{"id": "abc", "status": "completed"}'
        await stream.send(reply(body))

    async with server(answer) as url:
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        monkeypatch.setenv("NO_PROXY", "localhost")
        async with AsyncClient(api_key="test-key", base_url=url, max_retries=0) as client:
            interaction = await client.interactions.get("abc")
    assert interaction.status == "completed"
