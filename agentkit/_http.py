"""Requests and responses of the Interactions API, with no I/O.

`Client` and `AsyncClient` share everything here: building each request, checking the
arguments locally, turning a response into an `Interaction` or into the matching
exception, and keeping the API key out of everything an exception or log can show.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any, Final, cast
from urllib.parse import quote

import httpx
import pydantic

from agentkit._client_params import BODY_FIELDS, CREATE_PARAMS
from agentkit._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    UsageError,
)
from agentkit.types import Interaction, WireModel

__all__ = [
    "DEFAULT_API_REVISION",
    "DEFAULT_API_VERSION",
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "REDACTED",
    "RequestBuilder",
    "RequestSpec",
    "check_base_url",
    "connection_error",
    "parse_interaction",
    "redact",
    "resolve_api_key",
    "response_validation_error",
    "scrub",
    "scrub_bytes",
    "scrub_value",
    "status_error",
]

DEFAULT_BASE_URL: Final = "https://generativelanguage.googleapis.com"
DEFAULT_API_VERSION: Final = "v1beta"
DEFAULT_API_REVISION: Final = "2026-05-20"
DEFAULT_TIMEOUT: Final = httpx.Timeout(600.0, connect=10.0)
"""Connect fails fast; a long generation may legitimately take minutes to answer."""
REDACTED: Final = "[REDACTED]"

_KEY_HEADER: Final = "x-goog-api-key"
# Credentials a caller may also send through `headers=` (e.g. a Vertex bearer token).
_SECRET_HEADERS: Final = frozenset({_KEY_HEADER, "authorization", "proxy-authorization"})
# Query parameters that carry credentials in Google APIs.
_SECRET_PARAMS: Final = frozenset({"key", "access_token"})
# How a secret's characters may be escaped besides %XX, \xXX and \uXXXX (see `scrub`).
_ESCAPES: Final[dict[str, tuple[str, ...]]] = {
    " ": ("+",),
    "/": ("\\/",),
    "\\": ("\\\\",),
    '"': ('\\"',),
    "'": ("\\'",),
    "\n": ("\\n",),
    "\r": ("\\r",),
    "\t": ("\\t",),
}
# Headers about how a body was sent, which do not hold for its decoded copy.
_TRANSFER_HEADERS: Final = frozenset({"content-length", "content-encoding", "transfer-encoding"})
_MAX_ERROR_TEXT: Final = 500

_STATUS_ERRORS: Final[dict[int, type[APIStatusError]]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


@cache
def user_agent() -> str:
    """Return `agentkit/<installed version>`."""
    from importlib.metadata import PackageNotFoundError, version  # import cost paid once

    try:
        return f"agentkit/{version('agentkit')}"
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "agentkit/0"


def resolve_api_key(
    api_key: str | pydantic.SecretStr | None,
    headers: Mapping[str, str] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> pydantic.SecretStr | None:
    """Pick the API key: the argument, else `GEMINI_API_KEY`, else `GOOGLE_API_KEY`.

    Credentials already in `headers` (`x-goog-api-key` or `Authorization`, e.g. a Vertex
    token) are sent unchanged instead, as the official SDK does: then this returns None.

    Raises:
        UsageError: No key anywhere, or both `api_key` and credential headers.
    """
    if isinstance(api_key, pydantic.SecretStr):
        api_key = api_key.get_secret_value()
    if headers and any(name.lower() in _SECRET_HEADERS for name in headers):
        if api_key:
            raise UsageError("Pass api_key= or credentials in headers=, not both.")
        return None
    key = api_key or environ.get("GEMINI_API_KEY") or environ.get("GOOGLE_API_KEY") or ""
    key = key.strip()  # a key read from a file often ends with "\n", illegal in a header
    if not key:
        raise UsageError(
            "No API key: pass api_key=... or set the GEMINI_API_KEY (or GOOGLE_API_KEY) "
            "environment variable."
        )
    if not (key.isascii() and key.isprintable()):
        # httpx would fail deep inside with the key in its message (or a bare
        # UnicodeEncodeError); say what is wrong instead, without the key.
        raise UsageError(
            "The API key holds a character that cannot be sent in an HTTP header (a line "
            "break, a control or a non-ASCII character): check how it was read."
        )
    return pydantic.SecretStr(key)


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """Everything needed to send one request; the shells hand it to httpx."""

    method: str
    url: str | httpx.URL
    headers: dict[str, str] = field(repr=False)  # holds the key: keep it out of reprs
    params: dict[str, str] | None = None
    content: bytes | None = None
    stream: bool = False
    creates: bool = False
    """A create the server stores: sending it again after a lost response may fork."""
    stateless: bool = False
    """A create with `store: false`: the server keeps nothing to resume its stream from."""


def _wire(value: Any) -> Any:  # what json cannot encode itself
    if isinstance(value, WireModel):
        return value.to_wire()
    raise UsageError(
        f"Object of type {type(value).__name__} is not JSON serializable: a create sends JSON "
        "values (str, int, float, bool, None, lists, dicts) and agentkit's wire models only."
    )


def _json(body: Mapping[str, Any]) -> bytes:
    """The request body: wire models by their wire form, encoded as json meets them.

    Encoding in one pass, with no plain-JSON copy of the body first, matters for runs that
    send many tool declarations and a long history on every turn.
    """
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=_wire).encode()


def _check_create(body: Mapping[str, Any]) -> None:
    has_model, has_agent = "model" in body, "agent" in body
    if has_model and has_agent:
        raise UsageError("Pass either model= or agent=, not both: an interaction runs one of them.")
    if not has_model and not has_agent:
        raise UsageError(
            "Pass model= (e.g. 'gemini-3-flash-preview') or agent= "
            "(e.g. 'deep-research-pro-preview-12-2025')."
        )
    if has_agent and "generation_config" in body:
        raise UsageError(
            "generation_config= applies to models only; configure an agent with agent_config=."
        )
    if has_model and "agent_config" in body:
        raise UsageError(
            "agent_config= applies to agents only; configure a model with generation_config=."
        )


def _path_id(interaction_id: str) -> str:
    if not interaction_id or not isinstance(interaction_id, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise UsageError(f"An interaction id must be a non-empty string, not {interaction_id!r}.")
    # Quote everything, "/" included, so an id can never reach another path.
    return quote(interaction_id, safe="")


def check_base_url(base_url: str, secrets: tuple[str, ...] = ()) -> None:
    """Refuse at once a base URL no request could reach, instead of after every retry.

    Raises:
        UsageError: Naming the URL (with any credential in it hidden) and what is wrong.
    """
    shown = _SHOWN_PASSWORD.sub(rf"\1{REDACTED}@", scrub(base_url, secrets))
    shown = _SHOWN_PARAM.sub(rf"\1{REDACTED}", shown)
    problem = _base_url_problem(base_url, shown, secrets)
    if problem is not None:
        raise UsageError(f"base_url {shown!r} is not a usable URL: {problem}")


# What `check_base_url` hides of the URL it names: a password, and credentials in the query.
_SHOWN_PASSWORD: Final = re.compile(r"((?:^|/)[^/?#@:]*:)[^/?#@]*@")
_SHOWN_PARAM: Final = re.compile(rf"([?&;](?:{'|'.join(sorted(_SECRET_PARAMS))})=)[^&;#]*")


def _base_url_problem(base_url: str, shown: str, secrets: tuple[str, ...]) -> str | None:
    if not base_url:
        return "it is empty."
    if not base_url.isprintable() or any(char.isspace() for char in base_url):
        return "it holds a space or a control character."
    if "://" not in base_url:
        if base_url.lower().startswith(("http:", "https:")):
            return "the scheme is not followed by '//'."
        host = shown.lstrip("/")
        scheme = "http" if host.startswith(("localhost", "127.", "[::1]")) else "https"
        return f"it has no scheme; did you mean {f'{scheme}://{host}'!r}?"
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:  # e.g. a port that is not a number
        return f"{scrub(str(exc), secrets).rstrip('.')}."
    if url.scheme not in ("http", "https"):
        return f"the scheme {url.scheme!r} is not http or https."
    if not url.host:
        return "it has no host."
    if url.port is not None and not 0 < url.port < 65536:
        return f"the port {url.port} is not between 1 and 65535."
    if url.query or url.fragment:
        return "a base URL takes no query (?...) and no fragment (#...)."
    return None


class RequestBuilder:
    """Builds the requests of one client; made once, in the client's constructor."""

    __slots__ = ("_create_url", "_json_headers", "_key", "_secrets", "_sse_headers", "_url")

    def __init__(
        self,
        *,
        base_url: str,
        api_version: str,
        api_revision: str | None,
        api_key: pydantic.SecretStr | None,
        headers: Mapping[str, str] | None,
    ) -> None:
        self._url = f"{base_url.rstrip('/')}/{api_version.strip('/')}/interactions"
        self._key = api_key
        common = {"Content-Type": "application/json", "User-Agent": user_agent()}
        if api_revision is not None:
            common["Api-Revision"] = api_revision
        user = dict(headers or {})
        secrets = [] if api_key is None else [api_key.get_secret_value()]
        for name, value in user.items():
            if name.lower() in _SECRET_HEADERS:
                secrets += [value, value.partition(" ")[2]]  # "Bearer <token>": the token too
        self._secrets = tuple(secret for secret in dict.fromkeys(secrets) if secret)
        check_base_url(base_url, self._secrets)
        self._create_url = httpx.URL(self._url)  # parsed once: every turn of a run posts here
        self._json_headers = {**common, "Accept": "application/json", **user}
        self._sse_headers = {**common, "Accept": "text/event-stream", **user}

    def __repr__(self) -> str:
        return f"RequestBuilder(url={self._url!r})"

    @property
    def key(self) -> pydantic.SecretStr | None:
        """The API key (None when the headers carry the credentials)."""
        return self._key

    @property
    def secrets(self) -> tuple[str, ...]:
        """The API key or the credentials in `headers`, to scrub from server-provided text."""
        return self._secrets

    def headers(self, *, stream: bool = False) -> dict[str, str]:
        """Return a fresh header dict for one request, the API key included."""
        headers = dict(self._sse_headers if stream else self._json_headers)
        if self._key is not None:
            headers[_KEY_HEADER] = self._key.get_secret_value()
        return headers

    def create(self, params: Mapping[str, Any], *, stream: bool) -> RequestSpec:
        """Build `POST /interactions` from `CreateParams`; fields that are None are left out.

        Raises:
            UsageError: An unknown parameter, `model` and `agent` both or neither, or a config
                of the other mode.
        """
        if not CREATE_PARAMS.issuperset(params):
            unknown = ", ".join(sorted(set(params) - CREATE_PARAMS))
            raise UsageError(
                f"create() got unexpected keyword arguments: {unknown}; "
                "send fields agentkit does not know with extra_body=."
            )
        body: dict[str, Any] = {}
        for name in BODY_FIELDS:  # a fixed order, whatever the caller's
            value = params.get(name)
            if value is not None:
                body[name] = value
        if stream:
            body["stream"] = True
        extra_body = params.get("extra_body")
        if extra_body:
            body.update(extra_body)
        _check_create(body)
        content = _json(body)
        return RequestSpec(
            "POST",
            self._create_url,
            self.headers(stream=stream),
            content=content,
            stream=stream,
            creates=body.get("store") is not False,
            stateless=body.get("store") is False,
        )

    def get(
        self,
        interaction_id: str,
        *,
        stream: bool = False,
        last_event_id: str | None = None,
        include_input: bool | None = None,
    ) -> RequestSpec:
        """Build `GET /interactions/{id}`, as JSON or as an SSE stream."""
        if last_event_id is not None and not stream:
            raise UsageError("last_event_id= resumes a stream: pass stream=True with it.")
        params: dict[str, str] = {}
        if include_input is not None:
            params["include_input"] = "true" if include_input else "false"
        if last_event_id is not None:
            params["last_event_id"] = last_event_id
        # The SDK always states the mode, `stream=false` included.
        params["stream"] = "true" if stream else "false"
        url = f"{self._url}/{_path_id(interaction_id)}"
        return RequestSpec("GET", url, self.headers(stream=stream), params=params, stream=stream)

    def cancel(self, interaction_id: str) -> RequestSpec:
        """Build `POST /interactions/{id}/cancel`."""
        return RequestSpec("POST", f"{self._url}/{_path_id(interaction_id)}/cancel", self.headers())

    def delete(self, interaction_id: str) -> RequestSpec:
        """Build `DELETE /interactions/{id}`."""
        return RequestSpec("DELETE", f"{self._url}/{_path_id(interaction_id)}", self.headers())


def redact(request: httpx.Request, secrets: tuple[str, ...] = ()) -> httpx.Request:
    """Copy `request` with every credential replaced by "[REDACTED]".

    Credential headers are replaced whole, and so is a `key` (or `access_token`) query
    parameter; `secrets` are scrubbed from the URL, the other headers and the body too.
    """
    headers = [
        (name, REDACTED if name.lower() in _SECRET_HEADERS else scrub(value, secrets))
        for name, value in request.headers.multi_items()
    ]
    try:
        content: bytes | None = request.content
    except httpx.RequestNotRead:  # pragma: no cover - agentkit only sends bytes bodies
        content = None
    if content and secrets:
        cleaned = scrub_bytes(content, secrets)
        if cleaned != content:  # the length changed: let httpx count it again
            content = cleaned
            headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
    return httpx.Request(
        request.method, redact_url(request.url, secrets), headers=headers, content=content
    )


def redact_url(url: httpx.URL, secrets: tuple[str, ...] = ()) -> httpx.URL:
    """`url` with a credential query parameter replaced whole and `secrets` scrubbed."""
    for name in _SECRET_PARAMS.intersection(url.params):
        url = url.copy_set_param(name, REDACTED)
    text = str(url)
    cleaned = scrub(text, secrets)
    return url if cleaned == text else httpx.URL(cleaned)


@lru_cache(maxsize=16)
def _secret_pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    r"""A regex matching any of `secrets`, each character as is or escaped.

    Escaped means percent-encoded (URLs, form bodies; `+` for a space), `\uXXXX` / `\xXX`
    (JSON, Python reprs) or backslash-escaped (`\/` in JSON, `\n` in reprs), in any mix,
    so that an echo of the key is caught whatever quoting it went through.
    """
    forms = ["".join(_char_pattern(char) for char in secret) for secret in secrets if secret]
    if not forms:
        return None
    # Longest first: "Bearer <token>" wins over "<token>" alone.
    return re.compile("|".join(sorted(forms, key=len, reverse=True)))


def _char_pattern(char: str) -> str:
    data = char.encode("utf-8", "surrogatepass")
    code = ord(char)
    forms = [char, *_ESCAPES.get(char, ()), "".join(f"%{byte:02X}" for byte in data)]
    forms += ["".join(f"\\x{byte:02x}" for byte in data)]
    forms += [f"\\x{code:02x}"] if code < 0x100 else []
    forms += [f"\\u{code:04x}"] if code < 0x10000 else [f"\\U{code:08x}"]
    alternatives = dict.fromkeys(_hex_insensitive(re.escape(form), form != char) for form in forms)
    return (
        "(?:" + "|".join(alternatives) + ")" if len(alternatives) > 1 else next(iter(alternatives))
    )


def _hex_insensitive(pattern: str, escaped: bool) -> str:
    """Let the hex digits of an escape match in either case ("%2f" and "%2F")."""
    if not escaped:
        return pattern
    return re.sub(r"[a-fA-F]", lambda m: f"[{m[0].lower()}{m[0].upper()}]", pattern)


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """Replace each secret, also in its escaped forms, in text bound for a message or a log."""
    # Defence in depth: a proxy or a fake server could echo the key back in an error body.
    pattern = _secret_pattern(secrets) if secrets else None
    return text if pattern is None else pattern.sub(REDACTED, text)


def scrub_bytes(content: bytes, secrets: tuple[str, ...], encoding: str | None = None) -> bytes:
    """Scrub `content` as UTF-8 (and as `encoding`, if another), keeping every other byte."""
    for codec in dict.fromkeys(("utf-8", encoding or "utf-8")):
        try:
            text = content.decode(codec, "surrogateescape")
            cleaned = scrub(text, secrets)
            if cleaned != text:
                content = cleaned.encode(codec, "surrogateescape")
        except (LookupError, UnicodeError):  # an unknown charset, or one that cannot round-trip
            continue
    return content


def scrub_value(value: Any, secrets: tuple[str, ...]) -> Any:
    """Scrub a parsed JSON value: every string in it (keys too), at any depth."""
    if not secrets:
        return value
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, (bytes, bytearray)):
        return scrub_bytes(bytes(value), secrets)
    if isinstance(value, dict):
        items = cast("dict[object, object]", value).items()
        return {scrub_value(k, secrets): scrub_value(v, secrets) for k, v in items}
    if isinstance(value, list):
        return [scrub_value(item, secrets) for item in cast("list[object]", value)]
    if isinstance(value, tuple):  # a pydantic error location
        return tuple(scrub_value(item, secrets) for item in cast("tuple[object, ...]", value))
    return value


def _clean_response(
    response: httpx.Response, request: httpx.Request, secrets: tuple[str, ...]
) -> httpx.Response:
    """Copy a read `response` around `request`, with `secrets` scrubbed from it.

    The copy holds the decoded body, so the headers that described its transfer are left
    out; redirects (`history`) are left out too, since their requests carried the key.
    """
    headers = [
        (name, scrub(value, secrets))
        for name, value in response.headers.multi_items()
        if name.lower() not in _TRANSFER_HEADERS
    ]
    extensions: dict[str, Any] = {}
    if "http_version" in response.extensions:
        extensions["http_version"] = response.extensions["http_version"]
    if "reason_phrase" in response.extensions:
        reason: bytes = response.extensions["reason_phrase"]
        extensions["reason_phrase"] = scrub_bytes(reason, secrets)
    clean = httpx.Response(
        response.status_code,
        headers=headers,
        content=scrub_bytes(response.content, secrets, response.charset_encoding),
        request=request,
        extensions=extensions,
        default_encoding=response.default_encoding,
    )
    with suppress(RuntimeError):  # a response built by hand has no elapsed time
        clean.elapsed = response.elapsed
    return clean


def _error_details(response: httpx.Response) -> tuple[Any, str | int | None, str]:
    """Return (body, code, message) from an error response, whatever its shape."""
    content = response.content
    try:
        body: Any = json.loads(content) if content else None  # whatever JSON the server sent
    except ValueError:
        text = response.text.strip()
        return text, None, text[:_MAX_ERROR_TEXT] or response.reason_phrase
    if body is None:
        return None, None, response.reason_phrase or "no body"
    if not isinstance(body, dict):
        return body, None, json.dumps(body, ensure_ascii=False)[:_MAX_ERROR_TEXT]
    document = cast("dict[str, Any]", body)
    error: Any = document.get("error")
    code: Any = None
    message: Any = None
    if isinstance(error, dict):
        fields = cast("dict[str, Any]", error)
        code, message = fields.get("code"), fields.get("message")
    if not isinstance(code, (str, int)) or isinstance(code, bool):
        code = None
    if not isinstance(message, str) or not message:
        message = json.dumps(document, ensure_ascii=False)[:_MAX_ERROR_TEXT]
    return document, code, message


def status_error(
    response: httpx.Response, request: httpx.Request, *, secrets: tuple[str, ...]
) -> APIStatusError:
    """Translate a read 4xx/5xx response into its exception class.

    `request` must already be redacted. The exception holds a copy of the response around
    it, with `secrets` scrubbed from its headers and body, and a body parsed from that copy
    and scrubbed again: a server or proxy that echoes the key shows it nowhere.
    """
    response = _clean_response(response, request, secrets)
    status = response.status_code
    body, code, message = _error_details(response)
    cls = _STATUS_ERRORS.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    return cls(
        scrub(f"Error code: {status} - {message}", secrets),
        status_code=status,
        code=scrub(code, secrets) if isinstance(code, str) else code,
        body=scrub_value(body, secrets),
        request=request,
        response=response,
    )


BROKEN_BODY = (httpx.TransportError, httpx.DecodingError)
"""A body that could not be read to its end (cut, or not decodable)."""


def connection_error(
    exc: httpx.HTTPError, request: httpx.Request, *, secrets: tuple[str, ...]
) -> APIConnectionError:
    """Translate an httpx transport failure; `request` must already be redacted."""
    # The httpx exception is chained as __cause__, and tracebacks print the whole chain
    # (httpx -> httpcore -> h11): clean every link. A message can hold the key, e.g. h11's
    # "Illegal header value" for a credential header read with its "\n".
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, httpx.RequestError):
            link.request = request  # its own request carried the key header
        cleaned = tuple(scrub(str(arg), secrets) for arg in link.args)
        if secrets and cleaned != tuple(str(arg) for arg in link.args):
            link.args = cleaned
        link = link.__cause__ or link.__context__
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"Request timed out ({detail}).", request=request)
    return APIConnectionError(f"Connection error ({detail}).", request=request)


def response_validation_error(
    exc: pydantic.ValidationError,
    request: httpx.Request,
    *,
    what: str,
    secrets: tuple[str, ...] = (),
) -> APIResponseValidationError:
    """Describe a 2xx body that does not fit the wire models, without dumping the body.

    `request` must already be redacted. The validation error becomes the `__cause__`, or a
    copy of it with `secrets` scrubbed from its inputs, locations and messages when they
    hold one. Raise the result outside the `except` block that caught `exc`, or `exc` would
    also be chained as `__context__`.
    """
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "<root>"
    count = exc.error_count()
    more = f" (and {count - 1} more errors)" if count > 1 else ""
    error = APIResponseValidationError(
        scrub(
            f"The response to {request.method} {request.url.path} is not a valid {what}: "
            f"{where}: {first['msg']}{more}.",
            secrets,
        ),
        request=request,
    )
    error.__cause__ = _clean_validation_error(exc, secrets)
    return error


def _clean_validation_error(
    exc: pydantic.ValidationError, secrets: tuple[str, ...]
) -> pydantic.ValidationError | None:
    """Return `exc`, or a copy without `secrets` (None if no copy can be made without them)."""
    pattern = _secret_pattern(secrets) if secrets else None
    details = exc.errors(include_url=False)
    if pattern is None or not pattern.search(f"{exc} {details!r}"):
        return exc
    line_errors: list[Any] = []
    for detail in details:
        line: dict[str, Any] = {
            "type": detail["type"],
            "loc": scrub_value(detail["loc"], secrets),
            "input": scrub_value(detail["input"], secrets),
        }
        if "ctx" in detail:
            line["ctx"] = {
                key: scrub_value(
                    value if isinstance(value, (str, int, float)) else str(value), secrets
                )
                for key, value in detail["ctx"].items()
            }
        line_errors.append(line)
    for hide_input in (False, True):
        try:
            copy = pydantic.ValidationError.from_exception_data(
                exc.title, line_errors, hide_input=hide_input
            )
        except (TypeError, ValueError, KeyError):  # an error type it cannot rebuild
            return None
        if not pattern.search(f"{copy} {copy.errors(include_url=False)!r}"):
            return copy
    return None  # pragma: no cover - the inputs were scrubbed


def parse_interaction(
    response: httpx.Response, request: httpx.Request, *, secrets: tuple[str, ...] = ()
) -> Interaction:
    """Parse a 2xx body into an `Interaction` in one pass.

    Raises:
        APIResponseValidationError: The body is not JSON or not an interaction.
    """
    try:
        return Interaction.from_json(response.content)
    except pydantic.ValidationError as exc:
        error = response_validation_error(
            exc, redact(request, secrets), what="Interaction", secrets=secrets
        )
    raise error  # out of the except block: `exc` is not chained as __context__
