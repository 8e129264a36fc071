"""The emulator's Files API: resumable uploads, get, list, delete, and file URIs in inputs."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from agentkit.testing._replies import StepDict
from agentkit.testing._wire import (
    ConnectionDropped,
    EmuError,
    EmuResponse,
    as_dict,
    as_list,
    clone,
    dumps,
    json_response,
)

__all__ = ["FileStore", "NextUpload"]

_LIFETIME = 48 * 3600
"""Seconds an uploaded file is kept, as the API keeps them."""
_DEFAULT_PAGE_SIZE = 10
_MAX_PAGE_SIZE = 100
_PAGE_TOKEN_PREFIX = "emu-page-"


@dataclass(frozen=True)
class NextUpload:
    """How the next uploaded file is processed (set by `Emulator.process_next_upload`)."""

    polls: int
    fail: bool
    message: str


@dataclass
class _Upload:
    """An open resumable upload session."""

    version: str
    origin: str
    size: int
    mime_type: str
    display_name: str | None
    data: bytearray = field(default_factory=bytearray)
    file: str | None = None
    """The name of the file made by the finalize, once final."""


@dataclass
class _File:
    """A stored file: its wire view and content, and where its processing stands."""

    serial: int
    view: dict[str, Any]
    content: bytes
    polls: int
    """GETs left that answer `PROCESSING`."""
    outcome: NextUpload


class FileStore:
    """Files and upload sessions of one emulator (called under the emulator's lock)."""

    def __init__(
        self,
        *,
        next_id: Callable[[str], int],
        clock: Callable[[], float],
        processing_polls: int,
        granularity: int | None,
    ) -> None:
        self._next_id = next_id
        self._clock = clock
        self.processing_polls = processing_polls
        self.granularity = granularity
        self.uploads: dict[str, _Upload] = {}
        self.files: dict[str, _File] = {}
        self.origins: set[str] = set()
        """The hosts the emulator was reached at: a file URI on one of them names its file."""
        self.next_upload: NextUpload | None = None
        self.drop_chunk: tuple[int | None] | None = None
        """Break the next chunk request: keep this many of its bytes (None: all of them)."""

    # -- routing -------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        parts: list[str],
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        origin: str,
    ) -> EmuResponse:
        """Answer a request whose path holds a `files` segment (`parts`: the path's segments).

        Raises:
            EmuError: A 4xx answer.
            ConnectionDropped: An injected fault broke the connection.
        """
        index = parts.index("files")
        if index >= 2 and parts[index - 2] == "upload" and len(parts) == index + 1:
            if method != "POST":
                raise EmuError(405, f"{method} is not allowed on uploads.")
            version = parts[index - 1]
            if "upload_id" in query:
                return self._session(query["upload_id"], headers, body)
            return self._start(version, headers, body, origin)
        rest = parts[index + 1 :]
        if not rest and method == "GET":
            return json_response(self._page(query))
        if len(rest) == 1 and method == "GET":
            return json_response(self._get(rest[0]))
        if len(rest) == 1 and method == "DELETE":
            self._stored(rest[0])
            del self.files[rest[0]]
            return json_response({})
        if len(rest) <= 1:
            raise EmuError(405, f"{method} is not allowed on /{'/'.join(parts)}")
        raise EmuError(404, f"No such endpoint: /{'/'.join(parts)}")

    # -- uploads ---------------------------------------------------------------------------

    def _start(
        self, version: str, headers: Mapping[str, str], body: bytes, origin: str
    ) -> EmuResponse:
        if headers.get("x-goog-upload-protocol", "").lower() != "resumable":
            raise EmuError(400, "The emulator takes resumable uploads only.")
        if headers.get("x-goog-upload-command", "").lower() != "start":
            raise EmuError(400, "A resumable upload begins with X-Goog-Upload-Command: start.")
        size_text = headers.get("x-goog-upload-header-content-length", "")
        if not size_text.isdigit():
            raise EmuError(400, "X-Goog-Upload-Header-Content-Length must be the size in bytes.")
        metadata = as_dict(_json_object(body).get("file"))
        mime_type = headers.get("x-goog-upload-header-content-type") or _either(
            metadata, "mime_type", "mimeType"
        )
        if not isinstance(mime_type, str) or "/" not in mime_type:
            raise EmuError(400, "X-Goog-Upload-Header-Content-Type must be a MIME type.")
        display_name = _either(metadata, "display_name", "displayName")
        upload_id = f"emu-upload-{self._next_id('upload'):04d}"
        self.uploads[upload_id] = _Upload(
            version,
            origin,
            int(size_text),
            mime_type,
            display_name if isinstance(display_name, str) else None,
        )
        self.origins.add(_host(origin))
        url = f"{origin}/upload/{version}/files?upload_id={upload_id}&upload_protocol=resumable"
        answer = [("x-goog-upload-url", url), ("x-goog-upload-status", "active")]
        if self.granularity:
            answer.append(("x-goog-upload-chunk-granularity", str(self.granularity)))
        return EmuResponse(200, answer, b"")

    def _session(self, upload_id: str, headers: Mapping[str, str], body: bytes) -> EmuResponse:
        upload = self.uploads.get(upload_id)
        if upload is None:
            raise EmuError(404, f"No upload session {upload_id!r}.")
        commands = {c.strip() for c in headers.get("x-goog-upload-command", "").lower().split(",")}
        if commands == {"query"}:
            return self._status(upload)
        if not commands or not commands <= {"upload", "finalize"}:
            raise EmuError(400, f"Unknown X-Goog-Upload-Command {commands}.")
        if upload.file is not None:
            raise EmuError(400, f"Upload {upload_id} is already finalized.")
        _check_chunk(upload, headers.get("x-goog-upload-offset", ""), body)
        drop, self.drop_chunk = self.drop_chunk, None
        if drop is not None and drop[0] is not None:
            upload.data += body[: drop[0]]
            raise ConnectionDropped(f"Injected fault: the chunk broke after {drop[0]} bytes.")
        upload.data += body
        if "finalize" in commands:
            if len(upload.data) != upload.size:
                raise EmuError(400, f"Finalized after {len(upload.data)} of {upload.size} bytes.")
            upload.file = self._finalize(upload)
        if drop is not None:
            raise ConnectionDropped("Injected fault: the answer to the chunk was lost.")
        return self._status(upload)

    def _status(self, upload: _Upload) -> EmuResponse:
        """The answer to a chunk or a query: the session's status (and the file, if final)."""
        if upload.file is None:
            headers = [
                ("x-goog-upload-status", "active"),
                ("x-goog-upload-size-received", str(len(upload.data))),
            ]
            return EmuResponse(200, headers, b"")
        # The file may have been deleted since; the answer still names it as it was made.
        stored = self.files.get(upload.file.removeprefix("files/"))
        view = clone(stored.view) if stored is not None else {"name": upload.file}
        headers = [("content-type", "application/json"), ("x-goog-upload-status", "final")]
        return EmuResponse(200, headers, dumps({"file": view}))

    def _finalize(self, upload: _Upload) -> str:
        serial = self._next_id("file")
        file_id = f"emu{serial:04d}"
        outcome = self.next_upload or NextUpload(self.processing_polls, False, "")
        self.next_upload = None
        content = bytes(upload.data)
        now = self._clock()
        view: dict[str, Any] = {"name": f"files/{file_id}"}
        if upload.display_name is not None:
            view["displayName"] = upload.display_name
        view |= {
            "mimeType": upload.mime_type,
            "sizeBytes": str(len(content)),
            "createTime": _timestamp(now),
            "updateTime": _timestamp(now),
            "expirationTime": _timestamp(now + _LIFETIME),
            "sha256Hash": base64.b64encode(hashlib.sha256(content).digest()).decode(),
            "uri": f"{upload.origin}/{upload.version}/files/{file_id}",
            "state": "PROCESSING",
            "source": "UPLOADED",
        }
        stored = _File(serial, view, content, outcome.polls, outcome)
        self.files[file_id] = stored
        if outcome.polls == 0:
            self._processed(stored)
        return f"files/{file_id}"

    def _processed(self, stored: _File) -> None:
        stored.view["updateTime"] = _timestamp(self._clock())
        if stored.outcome.fail:
            stored.view["state"] = "FAILED"
            stored.view["error"] = {"code": 3, "message": stored.outcome.message}
        else:
            stored.view["state"] = "ACTIVE"

    # -- get / list ------------------------------------------------------------------------

    def _stored(self, file_id: str) -> _File:
        stored = self.files.get(file_id)
        if stored is None:
            raise EmuError(404, f"File files/{file_id} not found.")
        return stored

    def _get(self, file_id: str) -> dict[str, Any]:
        stored = self._stored(file_id)
        if stored.view["state"] == "PROCESSING":
            if stored.polls > 0:
                stored.polls -= 1
            else:
                self._processed(stored)
        return clone(stored.view)

    def _page(self, query: Mapping[str, str]) -> dict[str, Any]:
        size_text = query.get("pageSize", "")
        if size_text and not size_text.isdigit():
            raise EmuError(400, f"pageSize must be a number, not {size_text!r}.")
        size = min(int(size_text or 0) or _DEFAULT_PAGE_SIZE, _MAX_PAGE_SIZE)
        token = query.get("pageToken", "")
        after = 0
        if token:
            serial = token.removeprefix(_PAGE_TOKEN_PREFIX)
            if not token.startswith(_PAGE_TOKEN_PREFIX) or not serial.isdigit():
                raise EmuError(400, f"Invalid pageToken {token!r}.")
            after = int(serial)
        listed = [stored for stored in self.files.values() if stored.serial > after]
        page: dict[str, Any] = {}
        if listed:
            page["files"] = [clone(stored.view) for stored in listed[:size]]
        if len(listed) > size:
            page["nextPageToken"] = f"{_PAGE_TOKEN_PREFIX}{listed[size - 1].serial}"
        return page

    # -- file URIs in inputs -----------------------------------------------------------------

    def check_uris(self, steps: list[StepDict], origin: str) -> None:
        """Check the content blocks of `steps` that refer to this emulator's files.

        Raises:
            EmuError: A block names a file this emulator does not have, or one not yet active.
        """
        hosts = self.origins | {_host(origin)}
        for step in steps:
            for key in ("content", "result"):
                for block in as_list(step.get(key)):
                    uri = as_dict(block).get("uri")
                    file_id = _file_id(uri, hosts) if isinstance(uri, str) else None
                    if file_id is not None:
                        self._check_usable(file_id, uri)

    def _check_usable(self, file_id: str, uri: object) -> None:
        stored = self.files.get(file_id)
        if stored is None:
            raise EmuError(400, f"The file {uri} does not exist (or it was deleted).")
        state = stored.view["state"]
        if state != "ACTIVE":
            raise EmuError(
                400,
                f"The file files/{file_id} is {state}, not ACTIVE: wait until it is active.",
                code="failed_precondition",
            )


def _check_chunk(upload: _Upload, offset: str, body: bytes) -> None:
    if offset != str(len(upload.data)):
        raise EmuError(
            400,
            f"X-Goog-Upload-Offset is {offset!r}, but the server holds {len(upload.data)} "
            "bytes: query the upload and go on from there.",
        )
    if len(upload.data) + len(body) > upload.size:
        raise EmuError(400, f"More bytes than the {upload.size} announced.")


def _json_object(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        return as_dict(json.loads(body))
    except ValueError as error:
        raise EmuError(400, f"Malformed JSON body: {error}") from None


def _either(metadata: dict[str, Any], snake: str, camel: str) -> Any:  # a JSON value
    return metadata.get(snake, metadata.get(camel))


def _host(origin: str) -> str:
    return urlsplit(origin).netloc.lower()


def _file_id(uri: str, hosts: set[str]) -> str | None:
    """The id in `uri` when it is a file URI of this emulator (`{origin}/{version}/files/{id}`)."""
    split = urlsplit(uri)
    parts = [part for part in split.path.split("/") if part]
    if split.netloc.lower() not in hosts or len(parts) != 3 or parts[1] != "files":
        return None
    return parts[2]


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
