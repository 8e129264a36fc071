"""The fake Interactions API server: a bare `asyncio.Protocol` speaking just enough HTTP/1.1.

Run as `python -m benchmarks._server`: it listens on 127.0.0.1 (a free port, with a large
backlog), prints `{"port": N}` on a line, and serves until its stdin closes. It keeps every
connection alive, reads bodies by Content-Length, answers JSON with a Content-Length and SSE
chunked, and waits a plan's model latency with `call_later` (no task, no thread per request),
so 10,000 concurrent connections cost it little. Answers come from `_plan.Responder`.

`GET /_stats` answers `{"pending": requests not answered yet, "requests": total,
"connections": open now, "finished": {plan key: runs answered to the end}}`.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from typing import Any

from benchmarks._plan import ENDPOINT, Answer, Responder, not_found, unauthenticated

__all__ = ["Server", "main"]

_BACKLOG = 16384  # the kernel caps it at net.core.somaxconn
_MAX_HEAD = 65536


class Server:
    """The shared state of all connections: the responder and the counters."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.responder = Responder()
        self.pending = 0
        self.requests = 0
        self.connections = 0
        self.finished: dict[str, int] = {}

    def stats(self) -> bytes:
        """The `/_stats` answer."""
        body = json.dumps(
            {
                "pending": self.pending,
                "requests": self.requests,
                "connections": self.connections,
                "finished": self.finished,
            }
        ).encode()
        head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
        return head.encode() + b"\r\n\r\n" + body


class Connection(asyncio.Protocol):
    """One client connection: requests are answered one at a time, in order."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.busy = False  # a request is being answered (its latency is running)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Count the connection."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection (a delayed answer to it is dropped)."""
        self.server.connections -= 1
        self.transport = None

    def data_received(self, data: bytes) -> None:
        """Buffer bytes and answer every complete request."""
        self.buffer += data
        self._next_request()

    def _next_request(self) -> None:
        while not self.busy and self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEAD:
                    self.transport.close()
                return
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if "chunked" in headers.get("transfer-encoding", ""):
                self.transport.write(b"HTTP/1.1 411 Length Required\r\ncontent-length: 0\r\n\r\n")
                self.transport.close()
                return
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            close = headers.get("connection", "").lower() == "close"
            self._answer(method, target.partition("?")[0], headers, body, close)

    def _answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes, close: bool
    ) -> None:
        server = self.server
        if method == "GET" and path == "/_stats":
            self._send(server.stats(), close)
            return
        server.requests += 1
        answer: Answer
        if method != "POST" or path != ENDPOINT:
            answer = not_found(wire=True)
        elif not headers.get("x-goog-api-key"):
            answer = unauthenticated(wire=True)
        else:
            answer = server.responder.answer(body, wire=True)
        server.pending += 1
        self.busy = True
        if answer.delay:
            server.loop.call_later(answer.delay, self._deliver, answer, close)
        else:
            self._deliver(answer, close)

    def _deliver(self, answer: Answer, close: bool) -> None:
        server = self.server
        server.pending -= 1
        self.busy = False
        if answer.finished is not None:
            server.finished[answer.finished] = server.finished.get(answer.finished, 0) + 1
        self._send(answer.payload, close)
        self._next_request()

    def _send(self, payload: bytes, close: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(payload)
        if close:
            self.transport.close()


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    server = Server(loop)
    listener = await loop.create_server(
        lambda: Connection(server), "127.0.0.1", 0, backlog=_BACKLOG
    )
    sockets = listener.sockets
    port: Any = sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
    # Serve until the parent closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    listener.close()


def _raise_descriptor_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    """Serve until stdin closes."""
    _raise_descriptor_limit()
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
