"""Shared pieces of the emulator core: responses, errors and JSON encoding."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

__all__ = [
    "ConnectionDropped",
    "EmuError",
    "EmuResponse",
    "StreamDropped",
    "as_dict",
    "as_list",
    "clone",
    "dumps",
    "error_response",
    "json_response",
    "stream_chunks",
]

_T = TypeVar("_T")
_CODES = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    408: "deadline_exceeded",
    409: "aborted",
    429: "resource_exhausted",
    500: "internal",
    501: "unimplemented",
    503: "unavailable",
    504: "deadline_exceeded",
}


def as_dict(value: Any) -> dict[str, Any]:
    """Return `value` when it is a JSON object, else an empty dict."""
    return cast(Any, value) if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """Return `value` when it is a JSON array, else an empty list."""
    return cast(Any, value) if isinstance(value, list) else []


def clone(value: _T) -> _T:
    """Copy a JSON value (dicts, lists, scalars) several times faster than `copy.deepcopy`."""
    return cast(_T, _clone(value))


def _clone(value: Any) -> Any:
    kind = value.__class__  # `type(value)` would make pyright see type[Unknown]
    if kind is dict:
        return {k: _clone(v) for k, v in value.items()}
    if kind is list:
        return [_clone(v) for v in value]
    return value


def dumps(value: Any) -> bytes:
    """Encode JSON compactly, keeping non-ASCII text as UTF-8."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class StreamDropped(Exception):
    """Raised by a streamed body where an injected fault breaks the connection."""


class ConnectionDropped(Exception):
    """Raised by `handle` where an injected fault breaks the connection before any answer."""


@dataclass
class EmuResponse:
    """A transport-agnostic HTTP response.

    Attributes:
        status: The HTTP status code.
        headers: Header name/value pairs.
        body: The whole body, or an iterator of SSE chunks (one event each) that may raise
            `StreamDropped` part-way.
    """

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])
    body: bytes | Iterator[bytes] = b""

    @property
    def is_stream(self) -> bool:
        """Whether the body is streamed."""
        return not isinstance(self.body, bytes)

    def json(self) -> Any:
        """Decode a non-streamed JSON body."""
        assert isinstance(self.body, bytes), "streamed responses have no single JSON body"
        return json.loads(self.body)


class EmuError(Exception):
    """An HTTP error the emulator answers with (a 4xx/5xx JSON error body)."""

    def __init__(self, status: int, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "unknown")
        self.message = message

    def response(self) -> EmuResponse:
        """Build the JSON error response."""
        return error_response(self.status, self.message, code=self.code)


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: Any = None,
) -> EmuResponse:
    """Build an error response with the body `{"error": {"code": ..., "message": ...}}`.

    Args:
        body: Replaces the standard body: bytes as is, str as text, anything else as JSON.
    """
    if body is None:
        body = {"error": {"code": code or _CODES.get(status, "unknown"), "message": message}}
    if isinstance(body, bytes):
        raw, kind = body, "application/octet-stream"
    elif isinstance(body, str):
        raw, kind = body.encode(), "text/plain; charset=utf-8"
    else:
        raw, kind = dumps(body), "application/json"
    return EmuResponse(status, [("content-type", kind), *(headers or [])], raw)


def stream_chunks(
    chunks: list[bytes],
    drop_after: int | None,
    pause: tuple[int, threading.Event, float] | None = None,
) -> Iterator[bytes]:
    """Yield the SSE chunks, breaking with `StreamDropped` after `drop_after` of them.

    With `pause` (k, release, timeout), wait after `k` chunks until `release` is set (at most
    `timeout` seconds).
    """
    for index, chunk in enumerate(chunks):
        if pause is not None and index == pause[0]:
            pause[1].wait(pause[2])
        if drop_after is not None and index >= drop_after:
            raise StreamDropped(f"Injected fault: the stream broke after {drop_after} events.")
        yield chunk


def json_response(value: Any) -> EmuResponse:
    """Build a 200 JSON response."""
    return EmuResponse(200, [("content-type", "application/json")], dumps(value))
