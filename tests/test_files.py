"""The Files API: `client.files` against the emulator, in process and over its loopback server.

Every scenario runs on `AsyncClient` and on `Client` (awaited in a worker thread), over the
emulator as an httpx transport and over HTTP on 127.0.0.1. Faults are armed from the
`on_progress` callback, so they hit a chosen chunk; no test sleeps or times anything.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, cast

import anyio
import anyio.to_thread
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentkit import Agent, AsyncClient, Client, UsageError, audio, document, image, video
from agentkit.exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    BadRequestError,
    FileProcessingFailed,
    FileProcessingTimeout,
    InternalServerError,
    NotFoundError,
)
from agentkit.testing import Emulator
from agentkit.types import File

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
SECRET = "AIzaSy-very-secret-test-key"


def uploads(emulator: Emulator) -> list[tuple[str, str | None, int]]:
    """(command, offset, bytes sent) of every upload request, in order."""
    return [
        (
            request.headers.get("x-goog-upload-command", ""),
            request.headers.get("x-goog-upload-offset"),
            len(request.body) if isinstance(request.body, bytes) else 0,
        )
        for request in emulator.requests
        if request.path.startswith("/upload/")
    ]


def record(progress: list[tuple[int, int]]) -> Callable[[int, int], None]:
    """An `on_progress` callback that appends its arguments to `progress`."""

    def callback(sent: int, total: int) -> None:
        progress.append((sent, total))

    return callback


class FilesAPI:
    """`client.files` of either flavour, awaited from async tests (the sync one in a thread)."""

    def __init__(self, client: Client | AsyncClient) -> None:
        self.client = client

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:  # whatever it returns
        method = getattr(self.client.files, name)
        if isinstance(self.client, AsyncClient):
            return await method(*args, **kwargs)
        return await anyio.to_thread.run_sync(partial(method, *args, **kwargs))

    async def upload(self, source: Any, **kwargs: Any) -> File:
        file: File = await self._call("upload", source, **kwargs)
        return file

    async def get(self, name: str | File) -> File:
        file: File = await self._call("get", name)
        return file

    async def delete(self, name: str | File) -> None:
        await self._call("delete", name)

    async def wait_until_active(self, file: str | File, **kwargs: float) -> File:
        active: File = await self._call("wait_until_active", file, **kwargs)
        return active

    async def list(self, page_size: int | None = None) -> list[str]:
        client = self.client
        if isinstance(client, AsyncClient):
            return [file.name async for file in client.files.list(page_size)]
        return await anyio.to_thread.run_sync(
            lambda: [file.name for file in client.files.list(page_size)]
        )


@pytest.fixture(params=["in-process", "loopback"])
def base_url(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[str | None]:
    """None for the emulator as a transport, else the URL of its loopback server."""
    if request.param == "in-process":
        yield None
        return
    with emulator.serve() as url:
        yield url


@pytest.fixture(params=["async", "sync"])
async def files(
    request: pytest.FixtureRequest, emulator: Emulator, base_url: str | None
) -> AsyncIterator[FilesAPI]:
    over: dict[str, Any] = {} if base_url is None else {"base_url": base_url, "transport": None}
    if request.param == "async":
        async with emulator.async_client(**over) as client:
            yield FilesAPI(client)
    else:
        with emulator.client(**over) as sync_client:
            yield FilesAPI(sync_client)


# -- upload ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_path_uploads_with_its_mime_type_guessed_and_progress_reported(
    files: FilesAPI, emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "cat.png"
    path.write_bytes(PNG)
    progress: list[tuple[int, int]] = []

    file = await files.upload(path, display_name="A cat", on_progress=record(progress))

    assert (file.name, file.display_name, file.mime_type) == ("files/emu0001", "A cat", "image/png")
    assert (file.size_bytes, file.state, file.source) == (len(PNG), "ACTIVE", "UPLOADED")
    assert file.uri is not None
    assert file.uri.endswith("/v1beta/files/emu0001")
    assert progress == [(len(PNG), len(PNG))]
    assert emulator.file_content(file.name) == PNG
    start = next(r for r in emulator.requests if r.path == "/upload/v1beta/files")
    assert start.body == {"file": {"display_name": "A cat"}}
    assert start.headers["x-goog-upload-protocol"] == "resumable"
    assert start.headers["x-goog-upload-command"] == "start"
    assert start.headers["x-goog-upload-header-content-length"] == str(len(PNG))
    assert start.headers["x-goog-upload-header-content-type"] == "image/png"
    assert start.headers["x-goog-upload-file-name"] == "cat.png"
    assert uploads(emulator)[1:] == [("upload, finalize", "0", len(PNG))]


@pytest.mark.anyio
async def test_bytes_and_file_objects_upload(
    files: FilesAPI, emulator: Emulator, tmp_path: Path
) -> None:
    sniffed = await files.upload(PNG)  # the magic bytes tell the type
    given_type = await files.upload(b"name,age\n", mime_type="text/csv")
    in_memory = await files.upload(io.BytesIO(b"%PDF-1.7 ..."), mime_type="application/pdf")
    (tmp_path / "notes.txt").write_bytes(b"skip:hello")
    with (tmp_path / "notes.txt").open("rb") as handle:
        handle.seek(5)  # read from the current position
        named = await files.upload(handle)
        assert not handle.closed

    assert [sniffed.mime_type, given_type.mime_type, in_memory.mime_type, named.mime_type] == [
        "image/png",
        "text/csv",
        "application/pdf",
        "text/plain",
    ]
    assert emulator.file_content(named.name) == b"hello"
    assert emulator.file_content(in_memory.name) == b"%PDF-1.7 ..."


@pytest.mark.anyio
async def test_a_file_larger_than_a_chunk_goes_in_chunks(
    files: FilesAPI, emulator: Emulator
) -> None:
    data = bytes(range(250)) * 4
    progress: list[tuple[int, int]] = []

    file = await files.upload(
        data,
        mime_type="application/octet-stream",
        chunk_size=256,
        on_progress=record(progress),
    )

    assert uploads(emulator) == [
        ("start", None, 0),
        ("upload", "0", 256),
        ("upload", "256", 256),
        ("upload", "512", 256),
        ("upload, finalize", "768", 232),
    ]
    assert progress == [(256, 1000), (512, 1000), (768, 1000), (1000, 1000)]
    assert emulator.file_content(file.name) == data


@pytest.mark.anyio
async def test_a_connection_dropped_mid_chunk_resumes_at_the_servers_offset(
    files: FilesAPI, emulator: Emulator
) -> None:
    data = bytes(range(250)) * 4

    def drop_the_second_chunk(sent: int, total: int) -> None:
        if sent == 256:
            emulator.drop_next_chunk(received=100)

    file = await files.upload(
        data, mime_type="application/zip", chunk_size=256, on_progress=drop_the_second_chunk
    )

    assert uploads(emulator) == [
        ("start", None, 0),
        ("upload", "0", 256),
        ("upload", "256", 256),  # the server kept 100 bytes, then the connection broke
        ("query", None, 0),
        ("upload", "356", 156),  # only what the server lacks
        ("upload", "512", 256),
        ("upload, finalize", "768", 232),
    ]
    assert emulator.file_content(file.name) == data
    assert list(emulator.files) == [file.name]  # one upload, one file
    assert len(emulator.sleeps) == 1  # the retry policy's wait


@pytest.mark.anyio
async def test_a_lost_answer_to_the_last_chunk_is_found_by_a_query(
    files: FilesAPI, emulator: Emulator
) -> None:
    emulator.drop_next_chunk()  # the whole chunk arrives and finalizes; the answer is lost

    file = await files.upload(b"tiny", mime_type="text/plain")

    assert [command for command, _, _ in uploads(emulator)] == [
        "start",
        "upload, finalize",
        "query",
    ]
    assert file.name == "files/emu0001"
    assert list(emulator.files) == ["files/emu0001"]


@pytest.mark.anyio
async def test_a_retryable_status_on_a_chunk_is_retried_after_a_query(
    files: FilesAPI, emulator: Emulator
) -> None:
    def fail_the_second_chunk(sent: int, total: int) -> None:
        if sent == 4:
            emulator.fail_next(1, 503)

    file = await files.upload(
        b"abcdefgh", mime_type="text/plain", chunk_size=4, on_progress=fail_the_second_chunk
    )

    commands = [(command, offset) for command, offset, _ in uploads(emulator)]
    assert commands == [
        ("start", None),
        ("upload", "0"),
        ("upload, finalize", "4"),  # 503
        ("query", None),
        ("upload, finalize", "4"),
    ]
    assert emulator.file_content(file.name) == b"abcdefgh"


@pytest.mark.anyio
async def test_an_empty_file_is_one_finalizing_request(files: FilesAPI, emulator: Emulator) -> None:
    file = await files.upload(b"", mime_type="text/plain")

    assert uploads(emulator)[1:] == [("upload, finalize", "0", 0)]
    assert file.size_bytes == 0


@pytest.mark.anyio
async def test_chunks_follow_the_servers_granularity(files: FilesAPI, emulator: Emulator) -> None:
    emulator.upload_chunk_granularity = 256

    await files.upload(bytes(600), mime_type="text/plain", chunk_size=300)

    assert [size for _, _, size in uploads(emulator)] == [0, 256, 256, 88]


def test_the_retry_budget_counts_failures_in_a_row(emulator: Emulator) -> None:
    def fail_twice(sent: int, total: int) -> None:
        emulator.fail_next(2, 503)

    with emulator.client(max_retries=1) as client:
        with pytest.raises(InternalServerError):
            client.files.upload(
                b"abcd", mime_type="text/plain", chunk_size=2, on_progress=fail_twice
            )
        # The second chunk failed, then the query after it: the one retry is spent.
        assert [c for c, _, _ in uploads(emulator)] == [
            "start",
            "upload",
            "upload, finalize",
            "query",
        ]
        emulator.reset()

        # Progress resets the count: a drop per chunk gets through with one retry each.
        progress: list[int] = []

        def drop_each_chunk(sent: int, total: int) -> None:
            progress.append(sent)
            if sent < total:
                emulator.drop_next_chunk(received=1)

        emulator.drop_next_chunk(received=1)
        file = client.files.upload(
            b"abcdef", mime_type="text/plain", chunk_size=2, on_progress=drop_each_chunk
        )
        assert emulator.file_content(file.name) == b"abcdef"
        assert progress == [1, 2, 3, 4, 5, 6]


@pytest.mark.anyio
async def test_a_chunk_refused_with_a_client_error_is_not_retried(
    files: FilesAPI, emulator: Emulator
) -> None:
    def refuse(sent: int, total: int) -> None:
        emulator.fail_next(1, 400)

    with pytest.raises(BadRequestError):
        await files.upload(b"abcd", mime_type="text/plain", chunk_size=2, on_progress=refuse)

    assert [c for c, _, _ in uploads(emulator)] == ["start", "upload", "upload, finalize"]
    with pytest.raises(UsageError, match="chunk_size must be an int > 0, not True"):
        await files.upload(b"x", mime_type="text/plain", chunk_size=True)


# -- get, list, delete ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_list_iterates_over_every_page(files: FilesAPI, emulator: Emulator) -> None:
    for index in range(5):
        await files.upload(b"%d" % index, mime_type="text/plain")

    names = await files.list(page_size=2)

    assert names == [f"files/emu000{n}" for n in range(1, 6)]
    pages = [r.query for r in emulator.requests if r.method == "GET"]
    assert pages == [
        {"pageSize": "2"},
        {"pageSize": "2", "pageToken": "emu-page-2"},
        {"pageSize": "2", "pageToken": "emu-page-4"},
    ]
    assert await files.list() == names


@pytest.mark.anyio
async def test_get_and_delete_by_name_id_or_file(files: FilesAPI, emulator: Emulator) -> None:
    file = await files.upload(b"data", mime_type="text/plain", display_name="notes")

    assert (await files.get("files/emu0001")).display_name == "notes"
    assert await files.get("emu0001") == await files.get(file)
    assert (await files.get(str(file.uri))).name == file.name
    await files.delete(file)

    with pytest.raises(NotFoundError, match="files/emu0001 not found") as info:
        await files.get(file)
    assert info.value.status_code == 404
    with pytest.raises(NotFoundError):
        await files.delete("emu0001")
    assert await files.list() == []


# -- wait_until_active ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_wait_until_active_polls_through_processing(
    files: FilesAPI, emulator: Emulator
) -> None:
    emulator.process_next_upload(polls=2)
    file = await files.upload(b"video", mime_type="video/mp4")
    assert file.state == "PROCESSING"

    active = await files.wait_until_active(file, poll_interval=1.5)

    assert active.state == "ACTIVE"
    assert emulator.sleeps == [1.5, 1.5, 1.5]
    # Given by name, the file is fetched first; an active file needs no wait.
    assert (await files.wait_until_active("emu0001")).state == "ACTIVE"
    assert emulator.sleeps == [1.5, 1.5, 1.5]


@pytest.mark.anyio
async def test_wait_until_active_raises_when_processing_fails(
    files: FilesAPI, emulator: Emulator
) -> None:
    emulator.process_next_upload(polls=1, fail=True, message="Unsupported codec.")
    file = await files.upload(b"video", mime_type="video/mp4")

    with pytest.raises(FileProcessingFailed, match="Unsupported codec") as info:
        await files.wait_until_active(file.name, poll_interval=1)

    assert info.value.file.state == "FAILED"
    assert info.value.file.error is not None
    assert info.value.file.error.message == "Unsupported codec."


@pytest.mark.anyio
async def test_wait_until_active_times_out(files: FilesAPI, emulator: Emulator) -> None:
    emulator.file_processing_polls = 1000
    file = await files.upload(b"video", mime_type="video/mp4")

    with pytest.raises(FileProcessingTimeout, match=r"still PROCESSING after 2\.5 s") as info:
        await files.wait_until_active(file, timeout=2.5, poll_interval=1)

    assert isinstance(info.value, TimeoutError)
    assert (info.value.timeout, info.value.file.state) == (2.5, "PROCESSING")
    assert emulator.sleeps == [1, 1, 0.5]  # the last wait ends at the timeout


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"poll_interval": 0}, "poll_interval must be a number of seconds above 0"),
        ({"poll_interval": -1}, "poll_interval must be a number of seconds above 0"),
        ({"timeout": -1}, "timeout must be a number of seconds >= 0"),
    ],
)
async def test_a_wait_that_could_never_end_is_refused(
    files: FilesAPI, emulator: Emulator, settings: dict[str, float], says: str
) -> None:
    emulator.file_processing_polls = 1000
    file = await files.upload(b"video", mime_type="video/mp4")
    requests = len(emulator.requests)

    with pytest.raises(UsageError, match=says):
        await files.wait_until_active(file, **settings)

    assert len(emulator.requests) == requests


# -- files as input -------------------------------------------------------------------------


def test_an_uploaded_file_is_agent_input(emulator: Emulator) -> None:
    with emulator.client() as client:
        file = client.files.upload(PNG, display_name="cat")
        result = Agent("gemini-3.5-flash", client=client).run_sync(["Describe", image(file)])

    assert result.status == "completed"
    sent = emulator.requests[-1].body["input"]
    assert sent == [
        {
            "type": "user_input",
            "content": [
                {"type": "text", "text": "Describe"},
                {"type": "image", "uri": file.uri, "mime_type": "image/png"},
            ],
        }
    ]


@pytest.mark.anyio
async def test_the_emulator_refuses_a_file_it_does_not_have_or_that_is_not_active(
    emulator: Emulator, base_url: str | None
) -> None:
    over: dict[str, Any] = {} if base_url is None else {"base_url": base_url, "transport": None}
    async with emulator.async_client(**over) as client:
        agent = Agent("gemini-3.5-flash", client=client)
        file = await client.files.upload(PNG)
        await client.files.delete(file)
        with pytest.raises(BadRequestError, match="does not exist"):
            await agent.run(["Describe", image(file)])

        emulator.process_next_upload(polls=1)
        processing = await client.files.upload(PNG)
        with pytest.raises(BadRequestError, match="PROCESSING, not ACTIVE") as info:
            await agent.run(["Describe", image(processing)])
        assert info.value.code == "failed_precondition"

        # Another host's URI is not the emulator's business.
        other = File(
            name="files/x", uri="https://example.com/v1beta/files/x", mime_type="image/png"
        )
        assert (await agent.run(["Describe", image(other)])).status == "completed"


def test_media_helpers_take_a_file() -> None:
    def uploaded(mime_type: str | None, uri: str | None = "https://h/v1beta/files/a") -> File:
        return File(name="files/a", uri=uri, mime_type=mime_type)

    assert image(uploaded("image/png")).to_wire() == {
        "type": "image",
        "uri": "https://h/v1beta/files/a",
        "mime_type": "image/png",
    }
    assert audio(uploaded("audio/mp3")).mime_type == "audio/mp3"
    assert video(uploaded("video/mp4"), resolution="low").resolution == "low"
    assert document(uploaded("application/pdf")).uri == "https://h/v1beta/files/a"
    assert image(uploaded(None), mime_type="image/jpeg").mime_type == "image/jpeg"
    with pytest.raises(UsageError, match=r"looks like video/mp4, not image\. Use video\(\)"):
        image(uploaded("video/mp4"))
    with pytest.raises(UsageError, match="has no uri"):
        image(uploaded("image/png", uri=None))
    with pytest.raises(UsageError, match="pass it"):
        image(uploaded(None))


# -- usage errors and secrets ---------------------------------------------------------------


def test_an_upload_without_a_known_mime_type_says_to_pass_it(
    emulator: Emulator, tmp_path: Path
) -> None:
    (tmp_path / "data.unknownext").write_bytes(b"?")
    (tmp_path / "text.txt").write_text("hi")
    with emulator.client() as client:
        for source in (b"\x00\x01", io.BytesIO(b"x"), tmp_path / "data.unknownext"):
            with pytest.raises(UsageError, match=r"pass it, e\.g\. upload\(\.\.\., mime_type="):
                client.files.upload(source)
        text = (tmp_path / "text.txt").open()
        with text, pytest.raises(UsageError, match="binary mode"):
            client.files.upload(cast("Any", text))  # a wrong type, on purpose
        with pytest.raises(UsageError, match="cannot seek"):
            client.files.upload(cast("Any", Unseekable()), mime_type="text/plain")
        with pytest.raises(UsageError, match="mime_type must look like"):
            client.files.upload(b"x", mime_type="image/pngé")
        with pytest.raises(UsageError, match="chunk_size must be"):
            client.files.upload(b"x", mime_type="text/plain", chunk_size=0)
        with pytest.raises(UsageError, match="looks like 'files/abc123'"):
            client.files.get("files/")
        with pytest.raises(UsageError, match="not 3"):
            client.files.get(cast("Any", 3))
        with pytest.raises(UsageError, match="not object"):
            client.files.upload(cast("Any", object()), mime_type="text/plain")
        with pytest.raises(FileNotFoundError):
            client.files.upload(tmp_path / "missing.png")
    assert emulator.requests == []


class Unseekable(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        raise OSError("not seekable")


def test_a_source_that_shrinks_during_the_upload_is_a_usage_error(emulator: Emulator) -> None:
    source = io.BytesIO(b"0123456789")

    def truncate(sent: int, total: int) -> None:
        source.truncate(4)

    with emulator.client() as client, pytest.raises(UsageError, match="ended after 4 of its 10"):
        client.files.upload(source, mime_type="text/plain", chunk_size=4, on_progress=truncate)


def test_the_api_key_shows_nowhere(emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="agentkit")
    errors: list[Exception] = []
    with emulator.client(api_key=SECRET, max_retries=0) as client:
        file = client.files.upload(PNG, chunk_size=512)
        emulator.drop_next_chunk(received=3)
        with pytest.raises(APIConnectionError) as dropped:
            client.files.upload(PNG)
        errors.append(dropped.value)
        with pytest.raises(NotFoundError) as missing:
            client.files.get("nope")
        errors.append(missing.value)
        client.files.delete(file)

    for error in errors:
        assert isinstance(error, APIConnectionError | NotFoundError)
        assert error.request is not None
        shown = f"{error} {error!r} {error.request.headers!r} {error.request.url}"
        assert SECRET not in shown
        assert error.request.headers["x-goog-api-key"] == "[REDACTED]"
    assert SECRET not in caplog.text
    assert SECRET not in repr(client) + repr(client.files) + repr(file)
    assert all(r.headers.get("x-goog-api-key") in (None, "***") for r in emulator.requests)


class ForeignUploadURL(httpx.BaseTransport):
    """The emulator, with an upload URL on another host in the answer to `start`."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.hosts: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.hosts.append(request.url.host)
        response = self.emulator.handle_request(request)
        if "x-goog-upload-url" in response.headers:
            url = httpx.URL(response.headers["x-goog-upload-url"])
            response.headers["x-goog-upload-url"] = str(url.copy_with(host="elsewhere.example"))
        return response


def test_chunks_go_to_the_clients_own_host(emulator: Emulator) -> None:
    transport = ForeignUploadURL(emulator)
    with emulator.client(transport=transport) as client:
        client.files.upload(b"abc", mime_type="text/plain")

    assert transport.hosts == ["emulator.invalid", "emulator.invalid"]


def protocol_client(answer: Callable[[httpx.Request], httpx.Response]) -> Client:
    return Client(api_key="k", transport=httpx.MockTransport(answer), max_retries=0)


def test_answers_off_the_protocol_are_response_validation_errors() -> None:
    session = "https://upload.invalid/upload/v1beta/files?upload_id=u"  # never resolves

    def no_url(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    def status(value: str, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
        def answer(request: httpx.Request) -> httpx.Response:
            if request.headers["x-goog-upload-command"] == "start":
                return httpx.Response(200, headers={"x-goog-upload-url": session})
            return httpx.Response(200, headers={"x-goog-upload-status": value, **headers})

        return answer

    cases = [
        (no_url, "no X-Goog-Upload-URL"),
        (status("cancelled"), "X-Goog-Upload-Status: cancelled"),
        (status("active"), "did not finalize"),
        (status("final"), "not a valid Uploaded"),
    ]
    for answer, message in cases:
        with protocol_client(answer) as client, pytest.raises(APIResponseValidationError) as info:
            client.files.upload(b"abc", mime_type="text/plain")
        assert message in str(info.value)

    def query_out_of_range(request: httpx.Request) -> httpx.Response:
        command = request.headers["x-goog-upload-command"]
        if command == "start":
            return httpx.Response(200, headers={"x-goog-upload-url": session})
        if command == "query":
            return httpx.Response(
                200, headers={"x-goog-upload-status": "active", "x-goog-upload-size-received": "9"}
            )
        return httpx.Response(503)

    client = Client(api_key="k", transport=httpx.MockTransport(query_out_of_range), sleep=no_wait)
    with client, pytest.raises(APIResponseValidationError, match="holds '9' bytes"):
        client.files.upload(b"abc", mime_type="text/plain")

    not_a_page = protocol_client(lambda r: httpx.Response(200, json={"files": 3}))
    with not_a_page, pytest.raises(APIResponseValidationError, match="not a valid Page"):
        list(not_a_page.files.list())
    failing = protocol_client(lambda r: httpx.Response(500))
    with failing, pytest.raises(InternalServerError):
        failing.files.get("a")


def no_wait(seconds: float) -> None:
    pass


# -- the emulator's own rules ---------------------------------------------------------------


def test_the_emulator_checks_the_upload_protocol(emulator: Emulator, http: httpx.Client) -> None:
    upload = "http://emulator.invalid/upload/v1beta/files"
    start = {
        "x-goog-upload-protocol": "resumable",
        "x-goog-upload-command": "start",
        "x-goog-upload-header-content-length": "4",
        "x-goog-upload-header-content-type": "text/plain",
    }
    assert (
        http.post(upload, headers={**start, "x-goog-upload-protocol": "multipart"}).status_code
        == 400
    )
    assert (
        http.post(upload, headers={**start, "x-goog-upload-command": "upload"}).status_code == 400
    )
    assert (
        http.post(upload, headers={**start, "x-goog-upload-header-content-length": "x"}).status_code
        == 400
    )
    assert (
        http.post(upload, headers={**start, "x-goog-upload-header-content-type": ""}).status_code
        == 400
    )
    assert http.post(upload, headers=start, content=b"{").status_code == 400
    assert http.get(upload).status_code == 405
    opened = http.post(upload, headers=start, json={"file": {"displayName": "camel"}})
    session = opened.headers["x-goog-upload-url"]
    assert opened.headers["x-goog-upload-status"] == "active"

    # The session URL is the credential: no key needed.
    keyless = httpx.Client(transport=emulator)
    command = "x-goog-upload-command"
    offset = "x-goog-upload-offset"
    answer = keyless.post(session, headers={command: "upload", offset: "0"}, content=b"ab")
    assert (answer.status_code, answer.headers["x-goog-upload-status"]) == (200, "active")
    wrong = keyless.post(session, headers={command: "upload", offset: "0"}, content=b"cd")
    assert wrong.status_code == 400
    assert "holds 2 bytes" in wrong.text
    too_much = keyless.post(session, headers={command: "upload", offset: "2"}, content=b"cde")
    assert too_much.status_code == 400
    early = keyless.post(session, headers={command: "finalize", offset: "2"})
    assert early.status_code == 400
    assert "after 2 of 4" in early.text
    assert keyless.post(session, headers={command: "cancel"}).status_code == 400
    query = keyless.post(session, headers={command: "query"})
    assert query.headers["x-goog-upload-size-received"] == "2"
    done = keyless.post(session, headers={command: "upload, finalize", offset: "2"}, content=b"cd")
    assert done.json()["file"]["displayName"] == "camel"
    assert keyless.post(session, headers={command: "query"}).json() == done.json()
    again = keyless.post(session, headers={command: "upload", offset: "4"}, content=b"e")
    assert again.status_code == 400
    assert "already finalized" in again.text
    unknown = keyless.post(f"{upload}?upload_id=nope", headers={command: "query"})
    assert unknown.status_code == 404
    assert keyless.post(upload, headers=start).status_code == 401  # starting needs the key
    keyless.close()


def test_the_emulator_checks_list_and_file_requests(http: httpx.Client) -> None:
    assert http.get("/files").json() == {}
    assert http.get("/files", params={"pageSize": "x"}).status_code == 400
    assert http.get("/files", params={"pageToken": "bogus"}).status_code == 400
    assert http.get("/files/missing").status_code == 404
    assert http.put("/files/missing").status_code == 405
    assert http.get("/files/a/b/c").status_code == 404
    assert http.get("/files", headers={"x-goog-api-key": ""}).status_code == 401


def test_the_file_model_round_trips_the_wire() -> None:
    wire = {
        "name": "files/abc",
        "displayName": "Cat",
        "mimeType": "image/png",
        "sizeBytes": "1234",
        "createTime": "2026-01-02T03:04:05.123456Z",
        "sha256Hash": "aGFzaA==",
        "state": "ACTIVE",
        "videoMetadata": {"videoDuration": "1.5s"},
        "aNewField": {"kept": True},
    }
    file = File.model_validate(wire)
    assert (file.size_bytes, file.display_name, file.id) == (1234, "Cat", "abc")
    assert file.to_wire() == wire
    assert File(name="files/x", size_bytes=2).to_wire() == {"name": "files/x", "sizeBytes": "2"}
    assert File(name="files/y").to_wire() == {"name": "files/y"}


# -- properties -----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(max_size=300),
    chunk_size=st.integers(1, 64),
    drops=st.lists(st.integers(0, 70), max_size=4),
)
def test_any_drops_at_any_point_upload_the_same_bytes_once(
    data: bytes, chunk_size: int, drops: list[int]
) -> None:
    emulator = Emulator()
    pending = list(drops)
    progress: list[int] = []

    def arm(sent: int, total: int) -> None:
        progress.append(sent)
        if pending:
            emulator.drop_next_chunk(received=pending.pop())

    if pending:
        emulator.drop_next_chunk(received=pending.pop())
    with emulator.client(max_retries=len(drops) + 1) as client:
        file = client.files.upload(
            data, mime_type="application/octet-stream", chunk_size=chunk_size, on_progress=arm
        )

    assert emulator.file_content(file.name) == data
    assert list(emulator.files) == [file.name]
    assert progress == sorted(progress)
    assert not data or progress[-1] == len(data)
    starts = [command for command, _, _ in uploads(emulator) if command == "start"]
    assert starts == ["start"]
