"""`client.files`: upload, get, list, delete and wait_until_active.

The requests, the upload protocol and the polling decisions live in `_files`; these classes
only read the source and send. `Files` is generated from `AsyncFiles` by `tools/unasync.py`:
edit the async class, then run the tool; reading the source differs by more than `await`,
in `UploadSource.read` / `aread`.
"""

# The files classes are the client's own facade: they use its private members.
# pyright: reportPrivateUsage=false
# `wait_until_active(timeout=)` counts the injected sleeps between polls, as
# `PollPolicy.deadline` does, so tests never wait: `anyio.fail_after` would measure real time.
# ruff: noqa: ASYNC109

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, BinaryIO, cast

import anyio.to_thread

from agentkit._content import guess_mime_type, sniff_mime_type
from agentkit._exceptions import APIError, UsageError
from agentkit._files import (
    DEFAULT_CHUNK_SIZE,
    FileRequests,
    ProgressCallback,
    UploadSession,
    check_mime_type,
    check_wait,
    next_poll,
    parse_file,
    parse_page,
)
from agentkit.types import File

if TYPE_CHECKING:
    from agentkit._client import AsyncClient, Client

__all__ = ["AsyncFiles", "Files", "UploadSource", "UploadSourceLike"]

UploadSourceLike = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO
"""A local path, the bytes themselves, or a binary file object open for reading."""


class UploadSource:
    """What an upload reads: its size, MIME type, and its bytes in order.

    A path is opened here (and closed by `close`); a file object is read from its current
    position and left open.
    """

    __slots__ = ("_data", "_file", "_owned", "_position", "file_name", "mime_type", "total")

    def __init__(self, source: UploadSourceLike, mime_type: str | None) -> None:
        """Open `source`, measure it and tell its MIME type.

        Raises:
            UsageError: No MIME type given nor guessable, or an unusable file object.
            OSError: The path cannot be opened.
        """
        self._data: memoryview | None = None
        self._file: BinaryIO | None = None
        self._owned = False
        self._position = 0
        self.file_name: str | None = None
        path: str | None = None
        guessed: str | None = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._data = memoryview(source).cast("B")
            guessed = None if mime_type else sniff_mime_type(self._data)
        elif isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            self.file_name = os.path.basename(path)
            guessed = None if mime_type else guess_mime_type(path)
        else:
            name = getattr(source, "name", None)
            if isinstance(name, str):
                self.file_name = os.path.basename(name)
                guessed = None if mime_type else guess_mime_type(name)
        chosen = mime_type or guessed
        if not chosen:
            what = f"file {self.file_name!r}" if self.file_name else "this source"
            raise UsageError(
                f"upload(): cannot tell the MIME type of {what}; pass it, e.g. "
                "upload(..., mime_type='application/pdf')."
            )
        self.mime_type = check_mime_type(chosen)
        if self._data is not None:
            self.total = self._data.nbytes
        elif path is not None:
            self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
            self._owned = True
            self.total = os.fstat(self._file.fileno()).st_size
        else:
            self._file = cast("BinaryIO", source)
            self.total = _remaining_size(self._file)

    def read(self, size: int) -> bytes:
        """Read the next `size` bytes (fewer only at the end)."""
        if self._data is not None:
            chunk = self._data[self._position : self._position + size].tobytes()
            self._position += len(chunk)
            return chunk
        assert self._file is not None
        parts: list[bytes] = []
        left = size
        while left > 0:
            part = self._file.read(left)  # a raw stream may return less than asked
            if not part:
                break
            parts.append(part)
            left -= len(part)
        return b"".join(parts)

    async def aread(self, size: int) -> bytes:
        """Read as `read` does, in a worker thread when the bytes come from a file."""
        if self._data is not None:
            return self.read(size)
        return await anyio.to_thread.run_sync(self.read, size)

    def close(self) -> None:
        """Close the file opened from a path (a caller's file object stays open)."""
        if self._owned and self._file is not None:
            self._file.close()


def _remaining_size(file: BinaryIO) -> int:
    """Bytes from the current position of `file` to its end.

    Raises:
        UsageError: A text file, or one that cannot seek (its size is sent first).
    """
    if isinstance(file, io.TextIOBase):
        raise UsageError("upload(): open the file in binary mode ('rb'), not text mode.")
    if not callable(getattr(file, "read", None)):
        raise UsageError(
            f"upload() takes a path, bytes or a binary file object, not {type(file).__name__}."
        )
    try:
        start = file.tell()
        end = file.seek(0, io.SEEK_END)
        file.seek(start)
    except (AttributeError, OSError, ValueError) as exc:
        raise UsageError(
            "upload(): this file object cannot seek, so its size is unknown; pass its "
            "bytes instead (upload(file.read(), mime_type=...))."
        ) from exc
    return max(end - start, 0)


class AsyncFiles:
    """The Files API, reached as `client.files`."""

    __slots__ = ("_client", "_requests")

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._requests = FileRequests(
            client._builder, base_url=client.base_url, api_version=client.api_version
        )

    async def upload(
        self,
        source: UploadSourceLike,
        *,
        mime_type: str | None = None,
        display_name: str | None = None,
        on_progress: ProgressCallback | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> File:
        """Upload a file with the resumable protocol; it is kept 48 hours.

        A chunk whose request fails (a broken connection, a 5xx or 429 answer) is retried as
        the client retries any request: the server is asked how much it received, and the
        upload goes on from there, in the same session.

        Args:
            source: A path, bytes, or a binary file object (read from its current position).
            mime_type: Defaults to the one told by the file name's extension (or by the magic
                bytes of `bytes`).
            display_name: A name for people, up to 512 characters.
            on_progress: Called with (bytes the server holds, total bytes) after each chunk.
            chunk_size: Bytes per request (rounded to the server's granularity, if it says).

        Raises:
            UsageError: The MIME type cannot be told, or an unusable source.
            OSError: The path cannot be read.
            APIStatusError: The API answered with an error status (after retries).
            APIConnectionError: No answer (after retries).
        """
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UsageError(f"chunk_size must be an int > 0, not {chunk_size!r}.")
        client = self._client
        secrets = client._builder.secrets
        data = UploadSource(source, mime_type)
        try:
            start = self._requests.start(
                size=data.total,
                mime_type=data.mime_type,
                display_name=display_name,
                file_name=data.file_name,
            )
            request, response = await client._send(start)
            session = UploadSession.begin(
                self._requests,
                response,
                request,
                total=data.total,
                chunk_size=chunk_size,
                secrets=secrets,
                on_progress=on_progress,
            )
            while True:
                wanted = session.wanted()
                if wanted:
                    session.feed(await data.aread(wanted))
                request = client._build(session.request(self._requests))
                try:
                    response = await client._attempt(request, stream=False)
                except APIError as error:
                    delay = client._retry_delay(error, session.failures)
                    if delay is None:
                        raise
                    session.failed()
                    await client._sleep(delay)
                    continue
                file = session.answered(response, request)
                if file is not None:
                    return file
        finally:
            data.close()

    async def get(self, name: str | File) -> File:
        """Fetch a file's metadata by its name (`files/abc123` or `abc123`) or `File`.

        Raises:
            NotFoundError: No such file (never uploaded, deleted, or expired).
        """
        request, response = await self._client._send(self._requests.get(name))
        return parse_file(response, request, self._client._builder.secrets)

    async def list(self, page_size: int | None = None) -> AsyncIterator[File]:
        """Iterate over every file of the project, fetching the pages as they are reached.

        Args:
            page_size: Files per request (the API's default is 10, its maximum 100).
        """
        token: str | None = None
        while True:
            request, response = await self._client._send(self._requests.list(page_size, token))
            files, token = parse_page(response, request, self._client._builder.secrets)
            while files:
                yield files.popleft()
            if token is None:
                return

    async def delete(self, name: str | File) -> None:
        """Delete a file before it expires.

        Raises:
            NotFoundError: No such file.
        """
        await self._client._send(self._requests.delete(name))

    async def wait_until_active(
        self, file: str | File, *, timeout: float = 600.0, poll_interval: float = 2.0
    ) -> File:
        """Poll a file until its state is `ACTIVE` (videos take a while to process).

        Args:
            file: A `File` (its state is taken as the first poll) or a file name.
            timeout: Seconds of waiting between polls before giving up.
            poll_interval: Seconds between two polls.

        Raises:
            FileProcessingFailed: The file's state became `FAILED`.
            FileProcessingTimeout: It was still not active after `timeout` seconds.
            NotFoundError: No such file.
            UsageError: `poll_interval` is not above 0, or `timeout` is below 0.
        """
        check_wait(timeout, poll_interval)
        current = file if isinstance(file, File) and file.state else await self.get(file)
        waited = 0.0
        while True:
            delay = next_poll(current, waited=waited, timeout=timeout, poll_interval=poll_interval)
            if delay is None:
                return current
            await self._client._sleep(delay)
            waited += delay
            current = await self.get(current.name or file)


# -- generated by tools/unasync.py from AsyncFiles: do not edit --
class Files:
    """The Files API, reached as `client.files`."""

    __slots__ = ("_client", "_requests")

    def __init__(self, client: Client) -> None:
        self._client = client
        self._requests = FileRequests(
            client._builder, base_url=client.base_url, api_version=client.api_version
        )

    def upload(
        self,
        source: UploadSourceLike,
        *,
        mime_type: str | None = None,
        display_name: str | None = None,
        on_progress: ProgressCallback | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> File:
        """Upload a file with the resumable protocol; it is kept 48 hours.

        A chunk whose request fails (a broken connection, a 5xx or 429 answer) is retried as
        the client retries any request: the server is asked how much it received, and the
        upload goes on from there, in the same session.

        Args:
            source: A path, bytes, or a binary file object (read from its current position).
            mime_type: Defaults to the one told by the file name's extension (or by the magic
                bytes of `bytes`).
            display_name: A name for people, up to 512 characters.
            on_progress: Called with (bytes the server holds, total bytes) after each chunk.
            chunk_size: Bytes per request (rounded to the server's granularity, if it says).

        Raises:
            UsageError: The MIME type cannot be told, or an unusable source.
            OSError: The path cannot be read.
            APIStatusError: The API answered with an error status (after retries).
            APIConnectionError: No answer (after retries).
        """
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UsageError(f"chunk_size must be an int > 0, not {chunk_size!r}.")
        client = self._client
        secrets = client._builder.secrets
        data = UploadSource(source, mime_type)
        try:
            start = self._requests.start(
                size=data.total,
                mime_type=data.mime_type,
                display_name=display_name,
                file_name=data.file_name,
            )
            request, response = client._send(start)
            session = UploadSession.begin(
                self._requests,
                response,
                request,
                total=data.total,
                chunk_size=chunk_size,
                secrets=secrets,
                on_progress=on_progress,
            )
            while True:
                wanted = session.wanted()
                if wanted:
                    session.feed(data.read(wanted))
                request = client._build(session.request(self._requests))
                try:
                    response = client._attempt(request, stream=False)
                except APIError as error:
                    delay = client._retry_delay(error, session.failures)
                    if delay is None:
                        raise
                    session.failed()
                    client._sleep(delay)
                    continue
                file = session.answered(response, request)
                if file is not None:
                    return file
        finally:
            data.close()

    def get(self, name: str | File) -> File:
        """Fetch a file's metadata by its name (`files/abc123` or `abc123`) or `File`.

        Raises:
            NotFoundError: No such file (never uploaded, deleted, or expired).
        """
        request, response = self._client._send(self._requests.get(name))
        return parse_file(response, request, self._client._builder.secrets)

    def list(self, page_size: int | None = None) -> Iterator[File]:
        """Iterate over every file of the project, fetching the pages as they are reached.

        Args:
            page_size: Files per request (the API's default is 10, its maximum 100).
        """
        token: str | None = None
        while True:
            request, response = self._client._send(self._requests.list(page_size, token))
            files, token = parse_page(response, request, self._client._builder.secrets)
            while files:
                yield files.popleft()
            if token is None:
                return

    def delete(self, name: str | File) -> None:
        """Delete a file before it expires.

        Raises:
            NotFoundError: No such file.
        """
        self._client._send(self._requests.delete(name))

    def wait_until_active(
        self, file: str | File, *, timeout: float = 600.0, poll_interval: float = 2.0
    ) -> File:
        """Poll a file until its state is `ACTIVE` (videos take a while to process).

        Args:
            file: A `File` (its state is taken as the first poll) or a file name.
            timeout: Seconds of waiting between polls before giving up.
            poll_interval: Seconds between two polls.

        Raises:
            FileProcessingFailed: The file's state became `FAILED`.
            FileProcessingTimeout: It was still not active after `timeout` seconds.
            NotFoundError: No such file.
            UsageError: `poll_interval` is not above 0, or `timeout` is below 0.
        """
        check_wait(timeout, poll_interval)
        current = file if isinstance(file, File) and file.state else self.get(file)
        waited = 0.0
        while True:
            delay = next_poll(current, waited=waited, timeout=timeout, poll_interval=poll_interval)
            if delay is None:
                return current
            self._client._sleep(delay)
            waited += delay
            current = self.get(current.name or file)


# -- end generated --
