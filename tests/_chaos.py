"""A fault-injecting HTTP/1.1 proxy on 127.0.0.1, in front of an emulator served on 127.0.0.1.

`ChaosProxy` forwards each request to the upstream server (a new connection per request) and
reads the whole answer first: the emulator writes its SSE streams at once, so the proxy can
then send the client exactly what a fault plan says, event by event. A plan is a list of
`Rule`s: a fault for the n-th request of a kind (create, get, get_stream, cancel), for one
request or for every one from then on. Faults:

- `Status(code, retry_after)`: answer with an HTTP error; the server never sees the request.
- `ResetBefore()`: read the request, then reset the connection (the server never acted).
- `ResetAfter()`: forward it, then reset instead of answering (the server acted).
- `Hold(events)`: forward it, send the first `events` SSE events (0: nothing at all), then
  send nothing more until the client gives up and closes (its read timeout fires).
- `Cut(events, mid_event, clean)`: send `events` whole events (and half of the next one with
  `mid_event`), then close without the chunked terminator, or with it when `clean`.
- `Malformed(event)`: a JSON body, or the data of SSE event number `event`, is not JSON.
- `UnknownStep()`, `UnknownEvent(after)`, `UnknownStatus(status)`: inject what a newer API
  could send: a step of an unknown type, an event of an unknown type, an unknown status.

Every request is logged as an `Applied` record (what was done, the interaction a create made,
and whether the client could have learnt its id). The proxy stops with `serve()`'s block,
waking any handler that holds a connection; it only listens on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import socket
import socketserver
import struct
import threading
from collections.abc import Generator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any, BinaryIO, Literal, cast
from urllib.parse import parse_qsl, urlsplit

from agentkit.testing._server import TrackedConnections

__all__ = [
    "Applied",
    "ChaosProxy",
    "Cut",
    "Fault",
    "Hold",
    "Malformed",
    "RequestKind",
    "ResetAfter",
    "ResetBefore",
    "Rule",
    "Status",
    "UnknownEvent",
    "UnknownStatus",
    "UnknownStep",
]

RequestKind = Literal["create", "get", "get_stream", "cancel", "other"]

_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "te", "upgrade"}
)
_REASONS = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error"}
_ERROR_STATUS = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
UNKNOWN_STEP: dict[str, Any] = {"type": "hologram", "id": "hg_0001", "frames": [1, 2, 3]}
"""The step `UnknownStep` injects: a type no version of agentkit knows."""


# -- faults ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """Answer with this HTTP error status (and `Retry-After`) instead of forwarding."""

    code: int
    retry_after: str | None = None


@dataclass(frozen=True)
class ResetBefore:
    """Reset the connection once the request was read, before forwarding it."""


@dataclass(frozen=True)
class ResetAfter:
    """Forward the request, then reset the connection instead of answering."""


@dataclass(frozen=True)
class Hold:
    """Forward, send the first `events` SSE events (0: nothing), then wait for the client."""

    events: int = 0


@dataclass(frozen=True)
class Cut:
    """Send `events` whole SSE events, then end the body early.

    `mid_event` also sends the first half of the next event; `clean` ends the body with the
    chunked terminator (a proper end, in the wrong place) instead of just closing.
    """

    events: int
    mid_event: bool = False
    clean: bool = False


@dataclass(frozen=True)
class Malformed:
    """Replace a JSON body, or the data of SSE event number `event` (from 0), with bad JSON."""

    event: int = 1


@dataclass(frozen=True)
class UnknownStep:
    """Add `UNKNOWN_STEP` to the interaction (JSON) or as a streamed step before the end."""


@dataclass(frozen=True)
class UnknownEvent:
    """Insert an event of an unknown type after `after` events."""

    after: int = 1


@dataclass(frozen=True)
class UnknownStatus:
    """Replace the interaction's final status (JSON, or the `interaction.completed` event)."""

    status: str = "hibernating"


Fault = (
    Status
    | ResetBefore
    | ResetAfter
    | Hold
    | Cut
    | Malformed
    | UnknownStep
    | UnknownEvent
    | UnknownStatus
)


@dataclass(frozen=True)
class Rule:
    """Apply `fault` to the `nth` request of `kind` (from 1), and to `times - 1` more after it.

    `times=None` applies it to every request of that kind from the `nth` on.
    """

    kind: RequestKind
    fault: Fault
    nth: int = 1
    times: int | None = 1

    def matches(self, kind: RequestKind, n: int) -> bool:
        if kind != self.kind or n < self.nth:
            return False
        return self.times is None or n < self.nth + self.times


@dataclass(frozen=True)
class Applied:
    """What the proxy did with one request."""

    kind: RequestKind
    nth: int
    method: str
    target: str
    fault: Fault | None
    """None: passed through untouched."""
    interaction_id: str | None = None
    """The interaction a create made upstream (None when it never reached the server)."""
    id_delivered: bool = False
    """Whether the client received that id intact (a whole first event, or the whole body)."""
    events: int | None = None
    """How many events the upstream SSE body held (None: not a stream)."""


# -- HTTP pieces ----------------------------------------------------------------------------------


@dataclass
class _Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class _Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    events: list[bytes] | None = None
    """SSE: the body cut into events, each with its closing blank line."""


def _read_request(reader: BinaryIO) -> _Request | None:
    line = reader.readline(65537)
    if not line.strip():
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: list[tuple[str, str]] = []
    while True:
        raw = reader.readline(65537)
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
    body = reader.read(length) if length else b""
    return _Request(method.upper(), target, headers, body)


def _kind(method: str, target: str) -> RequestKind:
    split = urlsplit(target)
    parts = [part for part in split.path.split("/") if part]
    if "interactions" not in parts:
        return "other"
    rest = parts[parts.index("interactions") + 1 :]
    if method == "POST" and not rest:
        return "create"
    if method == "POST" and len(rest) == 2 and rest[1] == "cancel":
        return "cancel"
    if method == "GET" and len(rest) == 1:
        query = dict(parse_qsl(split.query))
        return "get_stream" if query.get("stream") == "true" else "get"
    return "other"


def _split_events(body: bytes) -> list[bytes]:
    return [part + b"\n\n" for part in body.split(b"\n\n") if part.strip()]


def _event_data(event: bytes) -> Any:
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            try:
                return json.loads(line[5:])
            except ValueError:
                return None
    return None


def _frame(data: dict[str, Any]) -> bytes:
    payload = json.dumps(data, separators=(",", ":")).encode()
    return b"event: " + str(data["event_type"]).encode() + b"\ndata: " + payload + b"\n\n"


def _head(response: _Response, *, chunked: bool, length: int = 0) -> bytes:
    lines = [f"HTTP/1.1 {response.status} {response.reason or 'OK'}"]
    lines += [f"{k}: {v}" for k, v in response.headers if k.lower() not in _HOP_HEADERS]
    lines.append("transfer-encoding: chunked" if chunked else f"content-length: {length}")
    lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


_LAST_CHUNK = b"0\r\n\r\n"


# -- the proxy ------------------------------------------------------------------------------------


class ChaosProxy:
    """Forwards to `upstream` (a base URL on 127.0.0.1), applying the armed fault plan."""

    def __init__(self, upstream: str) -> None:
        split = urlsplit(upstream)
        if split.hostname != "127.0.0.1" or split.port is None:
            raise ValueError(f"The upstream must be http://127.0.0.1:<port>, not {upstream!r}.")
        self._upstream = (split.hostname, split.port)
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._counts: dict[RequestKind, int] = {}
        self._log: list[Applied] = []
        self.errors: list[str] = []
        """Exceptions of the proxy itself (a bug in it, not a fault it injected)."""

    # -- the plan ---------------------------------------------------------------------------

    def arm(self, rules: Sequence[Rule]) -> None:
        """Start a new plan: count requests from zero again and forget the log."""
        with self._lock:
            self._rules = list(rules)
            self._counts = {}
            self._log = []

    def disarm(self) -> None:
        """Pass everything through from now on (the log and the counts go on)."""
        with self._lock:
            self._rules = []

    @property
    def log(self) -> list[Applied]:
        """Every request handled since `arm()`, logged as it was answered."""
        with self._lock:
            return list(self._log)

    @property
    def faults(self) -> list[Applied]:
        """The requests a fault was applied to."""
        return [entry for entry in self.log if entry.fault is not None]

    def undelivered(self) -> set[str]:
        """Interactions that creates made upstream whose id the client never received."""
        return {
            entry.interaction_id
            for entry in self.log
            if entry.kind == "create" and entry.interaction_id and not entry.id_delivered
        }

    def _decide(self, kind: RequestKind) -> tuple[Fault | None, int]:
        with self._lock:
            n = self._counts.get(kind, 0) + 1
            self._counts[kind] = n
            fault = next((rule.fault for rule in self._rules if rule.matches(kind, n)), None)
            return fault, n

    def _record(self, entry: Applied) -> None:
        with self._lock:
            self._log.append(entry)

    # -- serving ----------------------------------------------------------------------------

    @contextmanager
    def serve(self) -> Generator[str, None, None]:
        """Listen on 127.0.0.1 while the block runs; yield the proxy's base URL."""
        server = _Server(self)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="chaos-proxy"
        )
        thread.start()
        try:
            host, port = server.server_address[:2]
            yield f"http://{host!s}:{port}"
        finally:
            server.shutdown()
            thread.join()
            server.close_connections()
            server.server_close()

    # -- one request ------------------------------------------------------------------------

    def handle(self, conn: socket.socket) -> None:
        """Serve one request on `conn` (one request per connection: `connection: close`).

        The request is logged before the client gets its last byte: once a client has its
        answer, the log already tells what happened to it.
        """
        with conn.makefile("rb") as reader:
            request = _read_request(cast(BinaryIO, reader))
        if request is None:
            return
        kind = _kind(request.method, request.target)
        fault, n = self._decide(kind)
        entry = Applied(kind, n, request.method, request.target, fault)
        if isinstance(fault, Status):
            self._record(entry)
            _send_all(conn, _status_response(fault))
            return
        if isinstance(fault, ResetBefore):
            self._record(entry)
            _reset(conn)
            return
        response = self._forward(request)
        if response.status != 200:
            fault = None  # an error answer passes through as it is
        made = _interaction_id(response) if kind == "create" else None
        delivered = _prepare(response, fault)
        events = len(response.events) if response.events is not None else None
        self._record(
            replace(
                entry,
                fault=fault,
                interaction_id=made,
                events=events,
                id_delivered=made is not None and delivered,
            )
        )
        _deliver(conn, response, fault)

    def _forward(self, request: _Request) -> _Response:
        host, port = self._upstream
        upstream = http.client.HTTPConnection(host, port, timeout=30)
        try:
            headers = {k: v for k, v in request.headers if k.lower() not in _HOP_HEADERS}
            headers["connection"] = "close"
            upstream.request(request.method, request.target, body=request.body, headers=headers)
            answer = upstream.getresponse()
            body = answer.read()
            response = _Response(answer.status, answer.reason, answer.getheaders(), body)
        finally:
            upstream.close()
        kind = next((v for k, v in response.headers if k.lower() == "content-type"), "")
        if response.status == 200 and kind.startswith("text/event-stream"):
            response.events = _split_events(body)
        return response


def _prepare(response: _Response, fault: Fault | None) -> bool:
    """Edit the response as `fault` says; return whether its interaction id still arrives."""
    stream = response.events is not None
    if isinstance(fault, ResetAfter):
        return False
    if isinstance(fault, Hold):
        return stream and fault.events >= 1
    if isinstance(fault, Cut):
        return stream and fault.events >= 1
    if isinstance(fault, Malformed):
        return _malformed(response, fault.event)
    if fault is not None:
        _inject(response, fault)
    return True


def _deliver(conn: socket.socket, response: _Response, fault: Fault | None) -> None:
    """Send the client what `fault` lets through of the (prepared) response."""
    if isinstance(fault, ResetAfter):
        _reset(conn)
    elif isinstance(fault, Hold):
        _hold(conn, response, fault.events)
    elif isinstance(fault, Cut):
        _cut(conn, response, fault)
    else:
        _send_whole(conn, response)


def _object(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def _interaction_id(response: _Response) -> str | None:
    if response.status != 200:
        return None
    if response.events is not None:
        first = _object(_event_data(response.events[0]) if response.events else None)
        made = _object(first.get("interaction")).get("id")
    else:
        try:
            made = _object(json.loads(response.body)).get("id")
        except ValueError:
            return None
    return made if isinstance(made, str) else None


def _status_response(fault: Status) -> bytes:
    body = json.dumps(
        {
            "error": {
                "code": fault.code,
                "message": f"Injected {fault.code} by the chaos proxy.",
                "status": _ERROR_STATUS.get(fault.code, "UNKNOWN"),
            }
        }
    ).encode()
    headers = [("content-type", "application/json")]
    if fault.retry_after is not None:
        headers.append(("retry-after", fault.retry_after))
    reason = _REASONS.get(fault.code, "Service Unavailable")
    response = _Response(fault.code, reason, headers, body)
    return _head(response, chunked=False, length=len(body)) + body


def _send_all(conn: socket.socket, data: bytes) -> None:
    with suppress(OSError):  # the client may have gone: nothing to tell it any more
        conn.sendall(data)


def _send_whole(conn: socket.socket, response: _Response) -> None:
    if response.events is None:
        body = response.body
        _send_all(conn, _head(response, chunked=False, length=len(body)) + body)
        return
    data = _head(response, chunked=True) + b"".join(_chunk(e) for e in response.events)
    _send_all(conn, data + _LAST_CHUNK)


def _send_events(conn: socket.socket, response: _Response, count: int) -> None:
    events = response.events or []
    _send_all(conn, _head(response, chunked=True) + b"".join(_chunk(e) for e in events[:count]))


def _reset(conn: socket.socket) -> None:
    """Close with an RST instead of a FIN: the client reads `connection reset by peer`."""
    with suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()


def _hold(conn: socket.socket, response: _Response, events: int) -> None:
    """Send `events` events (none at all for 0), then wait until the client closes."""
    if events and response.events is not None:
        _send_events(conn, response, events)
    with suppress(OSError):
        while conn.recv(4096):  # b"": the client gave up; the server's close wakes it too
            pass


def _cut(conn: socket.socket, response: _Response, fault: Cut) -> None:
    events = response.events
    if events is None:
        # A JSON body cut in half: the declared length is never reached.
        body = response.body
        _send_all(conn, _head(response, chunked=False, length=len(body)) + body[: len(body) // 2])
        return
    _send_events(conn, response, fault.events)
    if fault.mid_event and fault.events < len(events):
        following = events[fault.events]
        _send_all(conn, _chunk(following[: len(following) // 2]))
    if fault.clean:
        _send_all(conn, _LAST_CHUNK)
    with suppress(OSError):
        conn.shutdown(socket.SHUT_WR)


def _malformed(response: _Response, event: int) -> bool:
    """Break the body's JSON; return whether the interaction id still arrives intact."""
    if response.events is None:
        response.body = response.body[: len(response.body) // 2] + b"<!-- not json"
        return False
    if event < len(response.events):
        original = response.events[event]
        name = original.split(b"\n", 1)[0]
        response.events[event] = name + b'\ndata: {"event_type": "step.delta", "index": \n\n'
    return event >= 1


def _inject(response: _Response, fault: Fault) -> None:
    if response.events is None:
        try:
            body = _object(json.loads(response.body))
        except ValueError:
            return
        if body:
            _inject_json(body, fault)
            response.body = json.dumps(body).encode()
        return
    if isinstance(fault, UnknownEvent):
        extra = {"event_type": "interaction.teleported", "detail": {"from": "the future"}}
        response.events.insert(min(fault.after, len(response.events)), _frame(extra))
    elif isinstance(fault, UnknownStep):
        _inject_step_events(response.events)
    elif isinstance(fault, UnknownStatus):
        response.events[:] = [_with_status(event, fault.status) for event in response.events]


def _inject_json(body: dict[str, Any], fault: Fault) -> None:
    if isinstance(fault, UnknownStep):
        steps: list[Any] = body.setdefault("steps", [])
        steps.append(dict(UNKNOWN_STEP))
    elif isinstance(fault, UnknownStatus):
        body["status"] = fault.status


def _inject_step_events(events: list[bytes]) -> None:
    """Stream `UNKNOWN_STEP` as the last step, just before `interaction.completed`."""
    indexes = [0]
    for event in events:
        seen = _object(_event_data(event)).get("index")
        if isinstance(seen, int):
            indexes.append(seen + 1)
    index = max(indexes)
    position = next(
        (i for i, e in enumerate(events) if e.startswith(b"event: interaction.completed")),
        len(events),
    )
    start = {"event_type": "step.start", "index": index, "step": dict(UNKNOWN_STEP)}
    stop = {"event_type": "step.stop", "index": index}
    events[position:position] = [_frame(start), _frame(stop)]


def _with_status(event: bytes, status: str) -> bytes:
    fields = _object(_event_data(event))
    kind = fields.get("event_type")
    interaction = _object(fields.get("interaction"))
    if kind == "interaction.completed" and interaction:
        interaction["status"] = status
    elif kind == "interaction.status_update":
        fields["status"] = status
    else:
        return event
    return _frame(fields)


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server = cast(_Server, self.server)
        conn = cast(socket.socket, self.request)
        try:
            server.proxy.handle(conn)
        except OSError:  # the client or the proxy's own shutdown closed the connection
            pass
        except Exception as error:  # kept for the test to see, not lost in a thread
            server.proxy.errors.append(f"{type(error).__name__}: {error}")


class _Server(TrackedConnections):
    # Handler threads are joined on close, after their sockets were shut down.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, proxy: ChaosProxy) -> None:
        self.proxy = proxy
        super().__init__(("127.0.0.1", 0), _Handler)
