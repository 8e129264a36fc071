"""The Files API without I/O: its requests, the resumable upload protocol, and polling.

`Files` and `AsyncFiles` (in `_client_files`) only carry out what this module decides. An
upload follows the protocol of the official SDK (`google/genai/_api_client.py`):

1. `POST {base}/upload/{version}/files` with `X-Goog-Upload-Protocol: resumable`,
   `X-Goog-Upload-Command: start`, the size and MIME type in `X-Goog-Upload-Header-*` and
   `{"file": {"display_name": ...}}`; the answer's `X-Goog-Upload-URL` header is the session.
2. Chunks to that URL, `X-Goog-Upload-Command: upload` (`upload, finalize` for the last one)
   at `X-Goog-Upload-Offset`; each answer's `X-Goog-Upload-Status` is `active`, and `final`
   with `{"file": {...}}` after the last.

Unlike the SDK, a chunk that fails (a broken connection, a retryable status) is not sent
again blindly: after the retry policy's wait, `X-Goog-Upload-Command: query` asks the server
how much it holds (`X-Goog-Upload-Size-Received`), and the upload goes on from there, in the
same session. Retries count failures in a row without progress.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote

import httpx
import pydantic

from agentkit._exceptions import (
    APIResponseValidationError,
    FileProcessingFailed,
    FileProcessingTimeout,
    UsageError,
)
from agentkit._http import (
    RequestBuilder,
    RequestSpec,
    redact,
    response_validation_error,
    scrub,
)
from agentkit.types import File, WireModel

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "FileRequests",
    "ProgressCallback",
    "UploadSession",
    "check_mime_type",
    "check_wait",
    "file_id",
    "next_poll",
    "parse_file",
    "parse_page",
]

DEFAULT_CHUNK_SIZE: Final = 8 * 1024 * 1024
"""Bytes per upload request, as the official SDK sends them."""

ProgressCallback = Callable[[int, int], object]
"""Called with (bytes the server holds, total bytes) after each chunk."""

_STATUS: Final = "x-goog-upload-status"
_SIZE_RECEIVED: Final = "x-goog-upload-size-received"
_GRANULARITY: Final = "x-goog-upload-chunk-granularity"


def file_id(file: str | File) -> str:
    """The id of a file given as `File`, `files/{id}`, `{id}` or its URI, quoted for a path.

    Raises:
        UsageError: No id can be read from it.
    """
    name = file.name if isinstance(file, File) else file
    if not isinstance(name, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise UsageError(f"A file is a File or its name ('files/abc123'), not {name!r}.")
    if "://" in name:
        name = name.rpartition("/files/")[2]
    name = name.removeprefix("files/")
    if not name:
        raise UsageError(f"A file name looks like 'files/abc123', not {file!r}.")
    # Quote everything, "/" included, so a name can never reach another path.
    return quote(name, safe="")


def check_mime_type(mime_type: str) -> str:
    """Return `mime_type` when it can be sent in a header.

    Raises:
        UsageError: It is not of the form `type/subtype` in printable ASCII.
    """
    if not (mime_type.isascii() and mime_type.isprintable() and "/" in mime_type):
        raise UsageError(f"mime_type must look like 'image/png', not {mime_type!r}.")
    return mime_type


class FileRequests:
    """Builds the Files API requests of one client."""

    __slots__ = ("_base", "_builder", "_files_url", "_upload_url")

    def __init__(self, builder: RequestBuilder, *, base_url: str, api_version: str) -> None:
        version = api_version.strip("/")
        self._builder = builder
        self._base = httpx.URL(base_url)
        self._files_url = f"{base_url.rstrip('/')}/{version}/files"
        self._upload_url = f"{base_url.rstrip('/')}/upload/{version}/files"

    def start(
        self, *, size: int, mime_type: str, display_name: str | None, file_name: str | None
    ) -> RequestSpec:
        """Build the request that opens a resumable upload session."""
        headers = self._builder.headers()
        headers["X-Goog-Upload-Protocol"] = "resumable"
        headers["X-Goog-Upload-Command"] = "start"
        headers["X-Goog-Upload-Header-Content-Length"] = str(size)
        headers["X-Goog-Upload-Header-Content-Type"] = mime_type
        if file_name is not None and file_name.isascii() and file_name.isprintable():
            headers["X-Goog-Upload-File-Name"] = file_name  # as the SDK sends it
        metadata = {} if display_name is None else {"display_name": display_name}
        content = json.dumps({"file": metadata}, ensure_ascii=False).encode()
        return RequestSpec("POST", self._upload_url, headers, content=content)

    def session_url(self, location: str) -> httpx.URL:
        """The URL of an upload session, on the client's own host.

        As the SDK does with a base URL: the chunks go where every other request goes
        (through a proxy, to the emulator), and the key never goes to another host.
        """
        url = self._base.join(location)
        return url.copy_with(scheme=self._base.scheme, netloc=self._base.netloc)

    def chunk(self, url: httpx.URL, data: bytes, offset: int, *, final: bool) -> RequestSpec:
        """Build the request that sends `data` at `offset` (and finalizes, if `final`)."""
        headers = self._builder.headers()
        headers["X-Goog-Upload-Command"] = "upload, finalize" if final else "upload"
        headers["X-Goog-Upload-Offset"] = str(offset)
        return RequestSpec("POST", url, headers, content=data)

    def query(self, url: httpx.URL) -> RequestSpec:
        """Build the request that asks how many bytes the session holds."""
        headers = self._builder.headers()
        headers["X-Goog-Upload-Command"] = "query"
        return RequestSpec("POST", url, headers)

    def get(self, file: str | File) -> RequestSpec:
        """Build `GET /files/{id}`."""
        return RequestSpec("GET", f"{self._files_url}/{file_id(file)}", self._builder.headers())

    def list(self, page_size: int | None, page_token: str | None) -> RequestSpec:
        """Build `GET /files`, for one page."""
        params: dict[str, str] = {}
        if page_size is not None:
            params["pageSize"] = str(page_size)
        if page_token:
            params["pageToken"] = page_token
        return RequestSpec("GET", self._files_url, self._builder.headers(), params=params)

    def delete(self, file: str | File) -> RequestSpec:
        """Build `DELETE /files/{id}`."""
        return RequestSpec("DELETE", f"{self._files_url}/{file_id(file)}", self._builder.headers())


class _Uploaded(WireModel):
    """The body of the answer to the last chunk."""

    file: File


class _Page(WireModel):
    """One page of `GET /files`."""

    files: list[File] = pydantic.Field(default_factory=list[File])
    next_page_token: str | None = pydantic.Field(default=None, alias="nextPageToken")


def _parse(
    model: type[_Uploaded] | type[_Page] | type[File],
    response: httpx.Response,
    request: httpx.Request,
    secrets: tuple[str, ...],
) -> Any:  # an instance of `model`
    try:
        return model.model_validate_json(response.content or b"{}")
    except pydantic.ValidationError as exc:
        error = response_validation_error(
            exc, redact(request, secrets), what=model.__name__.strip("_"), secrets=secrets
        )
    raise error  # out of the except block: `exc` is not chained as __context__


def parse_file(response: httpx.Response, request: httpx.Request, secrets: tuple[str, ...]) -> File:
    """Parse the `File` of a 2xx answer to get.

    Raises:
        APIResponseValidationError: The body is not a file.
    """
    file: File = _parse(File, response, request, secrets)
    return file


def parse_page(
    response: httpx.Response, request: httpx.Request, secrets: tuple[str, ...]
) -> tuple[deque[File], str | None]:
    """Parse a page of `GET /files`: its files and the token of the next page (None: last).

    Raises:
        APIResponseValidationError: The body is not a page of files.
    """
    page: _Page = _parse(_Page, response, request, secrets)
    return deque(page.files), page.next_page_token or None


def _protocol_error(
    message: str, request: httpx.Request, secrets: tuple[str, ...]
) -> APIResponseValidationError:
    return APIResponseValidationError(scrub(message, secrets), request=redact(request, secrets))


@dataclass
class UploadSession:
    """The state of one resumable upload (pure: the shells read the source and send).

    The shells loop: read `wanted()` bytes from the source into `feed`, send `request()`,
    and give the answer to `answered`, or the failure to `failed` before waiting.
    """

    url: httpx.URL
    total: int
    chunk_size: int
    secrets: tuple[str, ...] = field(repr=False)
    on_progress: ProgressCallback | None = field(default=None, repr=False)
    offset: int = 0
    """Bytes the server holds."""
    pending: bytes = field(default=b"", repr=False)
    """Bytes after `offset` read from the source, not yet acknowledged."""
    querying: bool = False
    """The last request failed: ask the server where to go on before sending again."""
    failures: int = 0
    """Failed requests in a row without progress."""

    @classmethod
    def begin(
        cls,
        requests: FileRequests,
        response: httpx.Response,
        request: httpx.Request,
        *,
        total: int,
        chunk_size: int,
        secrets: tuple[str, ...],
        on_progress: ProgressCallback | None,
    ) -> UploadSession:
        """Open the session from the answer to the start request.

        Raises:
            APIResponseValidationError: The answer holds no upload URL.
        """
        location = response.headers.get("x-goog-upload-url")
        if not location:
            raise _protocol_error(
                "The answer to the upload start request has no X-Goog-Upload-URL header.",
                request,
                secrets,
            )
        granularity = _int_header(response, _GRANULARITY)
        if granularity:
            # Every chunk but the last must be a multiple of the server's granularity.
            chunk_size = max(granularity, chunk_size // granularity * granularity)
        url = requests.session_url(location)
        return cls(url, total, chunk_size, secrets, on_progress)

    def wanted(self) -> int:
        """Bytes to read from the source (at `offset + len(pending)`) before `request()`."""
        if self.querying or self.pending:
            return 0
        return min(self.chunk_size, self.total - self.offset)

    def feed(self, data: bytes) -> None:
        """Take the bytes read from the source.

        Raises:
            UsageError: The source ended early: it changed since its size was taken.
        """
        if len(data) < self.wanted():
            raise UsageError(
                f"The source ended after {self.offset + len(data)} of its {self.total} bytes: "
                "it changed during the upload."
            )
        self.pending = data

    def request(self, requests: FileRequests) -> RequestSpec:
        """The next request: a query after a failure, else the pending chunk."""
        if self.querying:
            return requests.query(self.url)
        final = self.offset + len(self.pending) >= self.total
        return requests.chunk(self.url, self.pending, self.offset, final=final)

    def failed(self) -> None:
        """Note a failed request (the caller waits as the retry policy says, then goes on)."""
        self.failures += 1
        self.querying = True

    def answered(self, response: httpx.Response, request: httpx.Request) -> File | None:
        """Take a 2xx answer; return the file once the upload is final.

        Raises:
            APIResponseValidationError: The answer does not follow the protocol.
        """
        status = response.headers.get(_STATUS, "").lower()
        if status == "final":
            uploaded: _Uploaded = _parse(_Uploaded, response, request, self.secrets)
            self._advance(self.total - self.offset)
            return uploaded.file
        if status != "active":
            raise _protocol_error(
                f"The upload was not completed: the server says X-Goog-Upload-Status: "
                f"{status or '(none)'} at offset {self.offset} of {self.total}.",
                request,
                self.secrets,
            )
        if self.querying:
            self._resume(response, request)
        elif self.offset + len(self.pending) >= self.total:
            raise _protocol_error(
                "Every byte was sent but the server did not finalize the upload.",
                request,
                self.secrets,
            )
        else:
            self._advance(len(self.pending))
        return None

    def _resume(self, response: httpx.Response, request: httpx.Request) -> None:
        received = _int_header(response, _SIZE_RECEIVED)
        if received is None or not self.offset <= received <= self.offset + len(self.pending):
            raise _protocol_error(
                f"The server says it holds {response.headers.get(_SIZE_RECEIVED)!r} bytes of "
                f"the upload; {self.offset} to {self.offset + len(self.pending)} were expected.",
                request,
                self.secrets,
            )
        self.querying = False
        self._advance(received - self.offset)

    def _advance(self, count: int) -> None:
        self.pending = self.pending[count:]
        self.offset += count
        if count:
            self.failures = 0
            if self.on_progress is not None:
                self.on_progress(self.offset, self.total)


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name, "").strip()
    return int(value) if value.isdigit() and value.isascii() else None


def check_wait(timeout: float, poll_interval: float) -> None:
    """Refuse a wait that could never end, or never pause between polls.

    Raises:
        UsageError: `poll_interval` is not above 0, or `timeout` is below 0.
    """
    if not poll_interval > 0:
        raise UsageError(
            f"poll_interval must be a number of seconds above 0, not {poll_interval!r}."
        )
    if not timeout >= 0:
        raise UsageError(f"timeout must be a number of seconds >= 0, not {timeout!r}.")


def next_poll(file: File, *, waited: float, timeout: float, poll_interval: float) -> float | None:
    """Return the seconds to wait before fetching `file` again, or None once it is active.

    Raises:
        FileProcessingFailed: The file's state is `FAILED`.
        FileProcessingTimeout: `waited` reached `timeout`.
    """
    if file.state == "ACTIVE":
        return None
    if file.state == "FAILED":
        reason = file.error.message if file.error is not None else None
        raise FileProcessingFailed(
            f"File {file.name} failed processing: {reason or 'the API gave no reason'}.",
            file=file,
        )
    remaining = timeout - waited
    if remaining <= 0:
        raise FileProcessingTimeout(
            f"File {file.name} was still {file.state or 'not active'} after {waited:g} s of "
            "waiting; wait again, or pass a longer timeout=.",
            file=file,
            timeout=timeout,
        )
    return min(poll_interval, remaining)
