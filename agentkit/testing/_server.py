"""Serve the emulator core over HTTP/1.1 on a loopback address (stdlib `http.server`)."""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import socketserver
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Protocol, cast
from urllib.parse import parse_qsl, urlsplit

from agentkit.testing._wire import ConnectionDropped, EmuResponse, StreamDropped, error_response

__all__ = ["TrackedConnections", "serve", "serve_forever"]

_log = logging.getLogger("agentkit.testing")
# A `key=` query parameter (Google APIs accept the API key there too), hidden in log lines.
_KEY_PARAM = re.compile(r"([?&]key=)[^&\s\"]*")


class Handles(Protocol):
    """What the server needs from the emulator core."""

    def handle(
        self, method: str, path: str, query: Any, headers: Any, body: bytes
    ) -> EmuResponse: ...


class TrackedConnections(socketserver.ThreadingTCPServer):
    """A threading server that can wake the handler threads still holding a connection."""

    # socketserver listens with a backlog of 5: a burst of clients connecting at once (50
    # concurrent runs) overflows it and the kernel resets their connections.
    request_queue_size = socket.SOMAXCONN

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every connection still open, so the threads handling them end."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Server(TrackedConnections, HTTPServer):
    # Handler threads are joined on close, after their sockets were shut down.
    daemon_threads = False
    block_on_close = True

    def __init__(
        self,
        address: tuple[str, int],
        family: socket.AddressFamily,
        core: Handles,
        latency: Callable[[], None],
    ) -> None:
        self.address_family = family
        self.core = core
        self.latency = latency
        super().__init__(address, _Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        text = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{text}]" if ":" in text else text
        return f"http://{shown}:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; Nagle would hold the body for ~40 ms.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        server = cast(_Server, self.server)
        server.latency()
        try:
            answer = server.core.handle(
                self.command, split.path, query, dict(self.headers.items()), body
            )
        except ConnectionDropped:
            # An injected fault: close without answering, as a server that went away.
            self.close_connection = True
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        except Exception as error:  # a behaviour bug must not kill the server thread
            _log.exception("Emulator behaviour failed")
            answer = error_response(500, f"Emulator error: {type(error).__name__}: {error}")
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        if isinstance(answer.body, bytes):
            self.send_header("content-length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
            return
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self._stream(answer.body)

    def _stream(self, chunks: Iterator[bytes]) -> None:
        try:
            for chunk in chunks:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except StreamDropped:
            # Close without the last chunk: the client sees the body break mid-stream.
            self.close_connection = True
            with suppress(OSError):
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("emulator: %s", _KEY_PARAM.sub(r"\1***", format % args))


def _make_server(core: Handles, host: str, port: int, latency: Callable[[], None]) -> _Server:
    address = "127.0.0.1" if host == "localhost" else host
    try:
        loopback = ipaddress.ip_address(address).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"Refusing to serve on {host!r}: use a loopback address such as 127.0.0.1."
        )
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return _Server((address, port), family, core, latency)


@contextmanager
def serve(
    core: Handles, host: str, port: int, latency: Callable[[], None]
) -> Generator[str, None, None]:
    """Run a threaded server in the background while the block runs; yield its base URL."""
    server = _make_server(core, host, port, latency)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="agentkit-emulator"
    )
    thread.start()
    try:
        yield server.base_url
    finally:
        server.shutdown()
        thread.join()
        server.close_connections()
        server.server_close()


def serve_forever(
    core: Handles,
    host: str,
    port: int,
    latency: Callable[[], None],
    ready: Callable[[str], None] | None,
) -> None:
    """Serve in the calling thread until interrupted (KeyboardInterrupt propagates)."""
    server = _make_server(core, host, port, latency)
    try:
        if ready is not None:
            ready(server.base_url)
        server.serve_forever()
    finally:
        server.close_connections()
        server.server_close()
