r"""The recording file: HTTP exchanges as versioned JSON, with every credential redacted.

One JSON document, indented so that a re-recording diffs line by line:

    {
      "version": 1,
      "exchanges": [
        {
          "request": {"method": "POST", "url": "https://.../v1beta/interactions",
                      "headers": {...}, "json": {...}},
          "response": {"status": 200, "headers": {"content-type": "text/event-stream"},
                       "sse": ["event: interaction.created\\ndata: {...}\\n\\n", ...]}
        }
      ]
    }

A body is kept as `json` (a JSON content type that parses), `sse` (an event stream, one
string per event: joined, they are the body byte for byte), `text` (other UTF-8) or
`base64`; an empty body has none of these keys. `error` (`{"type": "ReadError",
"message": ...}`) records the httpx error that cut a response's body short, or, with no
`response`, the one raised instead of a response.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, cast

import httpx

from agentkit._exceptions import AgentkitError
from agentkit._http import REDACTED, scrub, scrub_bytes

__all__ = [
    "SECRET_PARAMS",
    "VERSION",
    "Exchange",
    "Recording",
    "RecordingError",
    "RequestNotRecorded",
    "collect_secrets",
    "content_type",
    "recorded_headers",
    "redact_exchange",
    "split_events",
]

VERSION: Final = 1
"""The version of the file format this agentkit writes and reads."""

# Credentials in headers and query parameters, replaced whole (see agentkit._http).
SECRET_HEADERS: Final = frozenset(
    {"x-goog-api-key", "authorization", "proxy-authorization", "cookie", "set-cookie"}
)
SECRET_PARAMS: Final = frozenset({"key", "access_token"})
# Left out of the file: how the bytes travelled (the file keeps the decoded body; the URL
# has the host), and values that change on every recording (diff noise, never read back).
_UNRECORDED_HEADERS: Final = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "accept-encoding",
        "content-length",
        "content-encoding",
        "transfer-encoding",
        "date",
        "server-timing",
    }
)
_EVENT_END: Final = re.compile(r"(?<=\r\n\r\n)|(?<=\n\n)|(?<=\r\r)")
_BODY_KEYS: Final = ("json", "sse", "text", "base64")


class RecordingError(AgentkitError):
    """A recording cannot be read or written, or a replay did not use all of it."""


class RequestNotRecorded(RecordingError):
    """A replayed client sent a request that the recording does not hold.

    The message names the request, the first difference from the closest recorded one,
    and what the recording holds.
    """

    def __init__(self, message: str, *, method: str, path: str) -> None:
        super().__init__(message)
        self.method = method
        """The HTTP method of the request."""
        self.path = path
        """The URL path of the request, e.g. `/v1beta/interactions`."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """One recorded request and what came back: a response, an httpx error, or both.

    Bodies are bytes as they travelled (a compressed response decoded); headers have
    lower-case names.
    """

    method: str
    url: str
    request_headers: Mapping[str, str] = field(default_factory=dict[str, str])
    request_body: bytes = b""
    status: int | None = None
    """The response's status; None when the request got no response (see `error`)."""
    response_headers: Mapping[str, str] = field(default_factory=dict[str, str])
    response_body: bytes = b""
    error: tuple[str, str] | None = None
    """The httpx exception (class name, message) raised instead of a response, or after
    `response_body` when the body broke part-way."""

    @property
    def path(self) -> str:
        """The URL path, e.g. `/v1beta/interactions/v1_abc`."""
        return httpx.URL(self.url).path

    @property
    def request_json(self) -> Any:
        """The request body parsed as JSON (None when empty or not JSON)."""
        return _parse_json(self.request_body)

    @property
    def response_json(self) -> Any:
        """The response body parsed as JSON (None when empty, an event stream or not JSON)."""
        return _parse_json(self.response_body)

    @property
    def is_stream(self) -> bool:
        """Whether the response is a server-sent event stream."""
        return content_type(self.response_headers) == "text/event-stream"


@dataclass(frozen=True, slots=True)
class Recording:
    """The exchanges of a recorded session, in the order their requests were sent."""

    exchanges: tuple[Exchange, ...] = ()
    path: Path | None = field(default=None, compare=False)
    """The file it was loaded from, if any."""

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Recording:
        """Read a recording file.

        Raises:
            RecordingError: The file is missing, is not a recording, or has another version.
        """
        where = Path(path)
        try:
            text = where.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RecordingError(
                f"No recording at {where}: record it first (mode='record' or 'auto')."
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise RecordingError(f"Cannot read the recording {where}: {exc}.") from exc
        return replace(cls.from_json(text, source=str(where)), path=where)

    @classmethod
    def from_json(cls, text: str, *, source: str = "the recording") -> Recording:
        """Parse the text of a recording file.

        Raises:
            RecordingError: It is not a recording, or has another version.
        """
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise RecordingError(f"{source} is not JSON: {exc}.") from None
        return cls(_read_document(document, source))

    def to_json(self) -> str:
        """Return the text of the recording file: indented JSON ending with a newline."""
        document = {"version": VERSION, "exchanges": [_write(ex) for ex in self.exchanges]}
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the recording file, atomically: a reader sees the old file or the new one.

        Raises:
            RecordingError: The file cannot be written.
        """
        where = Path(path)
        text = self.to_json()
        try:
            where.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{where.name}.", dir=where.parent)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as file:
                    file.write(text)
                os.replace(temporary, where)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise RecordingError(f"Cannot write the recording {where}: {exc}.") from exc


# -- redaction ----------------------------------------------------------------------------------


def collect_secrets(request: httpx.Request) -> list[str]:
    """The credentials `request` carries: key and authorization headers, `key=` parameters."""
    found: list[str] = []
    for name, value in request.headers.multi_items():
        if name.lower() in SECRET_HEADERS - {"cookie", "set-cookie"}:
            found += [value, value.partition(" ")[2]]  # "Bearer <token>": the token alone too
    for name, value in request.url.params.multi_items():
        if name in SECRET_PARAMS:
            found.append(value)
    return [secret for secret in found if secret and secret != REDACTED]


def redact_exchange(exchange: Exchange, secrets: Iterable[str]) -> Exchange:
    """Copy `exchange` with credentials replaced by "[REDACTED]".

    Credential headers and query parameters are replaced whole; `secrets` are scrubbed from
    the URL, every header and both bodies, also where JSON or URL escaping changed them.
    """
    known = tuple(dict.fromkeys(secret for secret in secrets if secret))
    url = httpx.URL(exchange.url)
    for name in SECRET_PARAMS.intersection(url.params):
        url = url.copy_set_param(name, REDACTED)
    charset = _charset(exchange.response_headers)
    return replace(
        exchange,
        url=scrub(str(url), known),
        request_headers=_redact_headers(exchange.request_headers, known),
        request_body=scrub_bytes(exchange.request_body, known),
        response_headers=_redact_headers(exchange.response_headers, known),
        response_body=scrub_bytes(exchange.response_body, known, charset),
        error=None if exchange.error is None else _scrub_pair(exchange.error, known),
    )


def _redact_headers(headers: Mapping[str, str], secrets: tuple[str, ...]) -> dict[str, str]:
    return {
        name: REDACTED if name in SECRET_HEADERS else scrub(value, secrets)
        for name, value in headers.items()
    }


def _scrub_pair(pair: tuple[str, str], secrets: tuple[str, ...]) -> tuple[str, str]:
    return (pair[0], scrub(pair[1], secrets))


def recorded_headers(headers: httpx.Headers) -> dict[str, str]:
    """Headers worth keeping in the file: lower-case names, without transfer and date noise."""
    return {name: value for name, value in headers.items() if name not in _UNRECORDED_HEADERS}


# -- bodies -------------------------------------------------------------------------------------


def content_type(headers: Mapping[str, str]) -> str:
    """The media type of `headers`' content type, lower-case, without parameters."""
    return headers.get("content-type", "").partition(";")[0].strip().lower()


def _charset(headers: Mapping[str, str]) -> str | None:
    found = re.search(r"charset=\"?([\w.:-]+)", headers.get("content-type", ""), re.IGNORECASE)
    return found[1] if found else None


def split_events(text: str) -> list[str]:
    """Cut an event stream after each blank line; the pieces join back into `text`."""
    return [piece for piece in _EVENT_END.split(text) if piece]


def _parse_json(body: bytes) -> Any:  # whatever JSON the body holds
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _dump_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _encode_body(body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    if not body:
        return {}
    kind = content_type(headers)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode("ascii")}
    if kind == "text/event-stream":
        return {"sse": split_events(text)}
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return {"json": json.loads(text)}
        except ValueError:
            pass  # a JSON content type with another body (an HTML error page): kept as text
    return {"text": text}


def _decode_body(part: Mapping[str, Any], where: str) -> bytes:
    present = [key for key in _BODY_KEYS if key in part]
    if len(present) > 1:
        raise RecordingError(f"{where} has more than one body ({', '.join(present)}).")
    if not present:
        return b""
    key = present[0]
    value = part[key]
    if key == "json":
        return _dump_json(value)
    if key == "sse":
        events = cast("list[object]", value) if isinstance(value, list) else None
        if events is None or not all(isinstance(event, str) for event in events):
            raise RecordingError(f"{where}.sse must be a list of strings.")
        return "".join(cast("list[str]", events)).encode()
    if not isinstance(value, str):
        raise RecordingError(f"{where}.{key} must be a string.")
    if key == "text":
        return value.encode()
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise RecordingError(f"{where}.base64 is not valid base64.") from None


# -- the document -------------------------------------------------------------------------------


def _write(exchange: Exchange) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": exchange.method,
        "url": exchange.url,
        "headers": dict(exchange.request_headers),
        **_encode_body(exchange.request_body, exchange.request_headers),
    }
    entry: dict[str, Any] = {"request": request}
    if exchange.status is not None:
        entry["response"] = {
            "status": exchange.status,
            "headers": dict(exchange.response_headers),
            **_encode_body(exchange.response_body, exchange.response_headers),
        }
    if exchange.error is not None:
        entry["error"] = {"type": exchange.error[0], "message": exchange.error[1]}
    return entry


def _read_document(document: Any, source: str) -> tuple[Exchange, ...]:
    if not isinstance(document, dict) or "version" not in document:
        raise RecordingError(f'{source} is not an agentkit recording (no "version" field).')
    fields = cast("dict[str, Any]", document)
    version = fields["version"]
    if version != VERSION:
        raise RecordingError(
            f"{source} has format version {version!r}; this agentkit reads version {VERSION}: "
            "upgrade agentkit, or record it again."
        )
    exchanges = fields.get("exchanges")
    if not isinstance(exchanges, list):
        raise RecordingError(f'{source}: "exchanges" must be a list.')
    items = cast("list[object]", exchanges)
    return tuple(_read(item, f"{source}: exchanges[{index}]") for index, item in enumerate(items))


def _read(entry: Any, where: str) -> Exchange:
    fields = _object(entry, where)
    request = _object(fields.get("request"), f"{where}.request")
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or not isinstance(url, str):
        raise RecordingError(f"{where}.request needs a string method and url.")
    exchange = Exchange(
        method=method,
        url=url,
        request_headers=_headers(request.get("headers"), f"{where}.request.headers"),
        request_body=_decode_body(request, f"{where}.request"),
    )
    if "response" in fields:
        response = _object(fields["response"], f"{where}.response")
        status = response.get("status")
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise RecordingError(f"{where}.response.status must be an HTTP status code.")
        exchange = replace(
            exchange,
            status=status,
            response_headers=_headers(response.get("headers"), f"{where}.response.headers"),
            response_body=_decode_body(response, f"{where}.response"),
        )
    if "error" in fields:
        error = _object(fields["error"], f"{where}.error")
        kind, message = error.get("type"), error.get("message", "")
        if not isinstance(kind, str) or not isinstance(message, str):
            raise RecordingError(f"{where}.error needs a string type and message.")
        exchange = replace(exchange, error=(kind, message))
    elif exchange.status is None:
        raise RecordingError(f'{where} has neither a "response" nor an "error".')
    return exchange


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordingError(f"{where} must be a JSON object.")
    return cast("dict[str, Any]", value)


def _headers(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    headers = _object(value, where)
    if not all(isinstance(item, str) for item in headers.values()):
        raise RecordingError(f"{where} must map names to strings.")
    return {name.lower(): item for name, item in headers.items()}
