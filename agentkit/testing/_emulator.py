"""`Emulator`: the emulator core as an httpx transport (sync and async) and a loopback server."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import httpx

from agentkit.testing._core import EmulatorCore, Fault
from agentkit.testing._files import NextUpload
from agentkit.testing._records import RecordedRequest
from agentkit.testing._replies import Behaviour, StepDict
from agentkit.testing._server import serve, serve_forever
from agentkit.testing._wire import ConnectionDropped, EmuResponse, StreamDropped, clone

if TYPE_CHECKING:
    from agentkit._client import AsyncClient, Client

__all__ = ["Emulator"]


class Emulator(EmulatorCore, httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An in-process fake of the Interactions API and of the Files API.

    Plug it into `Client`/`AsyncClient` as their httpx transport (`emulator.client()`), or
    serve it on 127.0.0.1 for other programs (`with emulator.serve() as base_url:`).
    Everything is deterministic: ids (`v1_emu_0001`, call ids `fc_0001`, event ids
    `evt_000001`, files `files/emu0001`), token counts (words), generated arguments and
    thought signatures.

    Args:
        behaviour: The model: a `Script`, a function of `ModelRequest`, or None for
            `EchoToolsBehaviour`. Replaceable later through the `behaviour` attribute.
        background_polls: A background interaction answers `in_progress` to this many
            GETs before its final state (`complete(id)` finishes it at once).
        background_delay: ...and also until `clock()` advanced this many seconds.
        latency: Seconds to wait before answering each request (attribute, changeable).
        clock: Seconds since the epoch (default `time.time`): `created`/`updated`
            timestamps and `background_delay`.
        sleep: How the sync transport and the server wait for `latency`.
        async_sleep: How the async transport waits for `latency` (default `anyio.sleep`).
        api_key: When set, requests must carry exactly this key (else any key is accepted).
        signing_key: The HMAC key of thought signatures.
        file_processing_polls: An uploaded file is `PROCESSING` in the answer to its upload
            and to this many GETs, then `ACTIVE` (0: active at once). Attribute, changeable;
            `process_next_upload` overrides it for one upload.
        upload_chunk_granularity: Sent as `X-Goog-Upload-Chunk-Granularity` when an upload
            starts (None: not sent).

    A behaviour's exception propagates to the caller of the in-process transports (so a
    test sees it), and becomes a 500 answer over the loopback server.
    """

    def __init__(
        self,
        behaviour: Behaviour | None = None,
        *,
        background_polls: int = 1,
        background_delay: float = 0.0,
        latency: float = 0.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,  # noqa: TID251 - real latency, on request
        async_sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        api_key: str | None = None,
        signing_key: bytes = b"agentkit-emulator",
        file_processing_polls: int = 0,
        upload_chunk_granularity: int | None = None,
    ) -> None:
        super().__init__(
            behaviour,
            background_polls=background_polls,
            background_delay=background_delay,
            clock=clock,
            api_key=api_key,
            signing_key=signing_key,
            file_processing_polls=file_processing_polls,
            upload_chunk_granularity=upload_chunk_granularity,
        )
        self.latency = latency
        self.sleep = sleep
        self.async_sleep = async_sleep
        self.sleeps: list[float] = []
        """Every delay the clients built by `client()`/`async_client()` asked to sleep."""

    # -- fault injection ---------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        *,
        retry_after: float | str | None = None,
        retry_after_ms: float | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next `n` requests (any endpoint) with an HTTP error.

        Args:
            n: How many requests fail.
            status: Their HTTP status.
            retry_after: Sent as the `Retry-After` header (seconds, or an HTTP date string).
            retry_after_ms: Sent as the `retry-after-ms` header.
            body: Replaces the JSON error body (bytes and str are sent as is).
        """
        headers: list[tuple[str, str]] = []
        if retry_after is not None:
            headers.append(("retry-after", _number(retry_after)))
        if retry_after_ms is not None:
            headers.append(("retry-after-ms", _number(retry_after_ms)))
        with self._lock:
            self._faults.extend(Fault(status, headers, body) for _ in range(n))

    def drop_stream_after(self, k: int) -> None:
        """Break the next SSE response after `k` events (the stored events stay resumable)."""
        with self._lock:
            self._drop_after = k

    def end_stream_after(self, k: int, *, mid_event: bool = False) -> None:
        """End the next SSE response cleanly after `k` events, before the stream is over.

        The body just stops (no transport error), as when a server or a proxy closes it
        early; the stored events stay resumable with `last_event_id`, as after a drop.

        Args:
            k: How many whole events are sent.
            mid_event: Also send the first half of the next event, with no blank line closing
                it: the body ends in the middle of an event.
        """
        with self._lock:
            self._end_after = (k, mid_event)

    def pause_stream_after(self, k: int, *, timeout: float = 60.0) -> threading.Event:
        """Hold the next SSE response after `k` events until the returned event is set.

        The interaction exists (and answers a GET) meanwhile, as a real one would while the
        model works: a client that dies during the pause left it behind. The pause blocks
        the thread that serves the stream, so use it with `serve()`; it ends by itself after
        `timeout` seconds.
        """
        release = threading.Event()
        with self._lock:
            self._pause_after = (k, release, timeout)
        return release

    def error_stream_after(
        self, k: int, *, code: str = "resource_exhausted", message: str = "Injected stream error."
    ) -> None:
        """End the next SSE response after `k` events with an `error` event."""
        with self._lock:
            self._error_after = (k, {"code": code, "message": message})

    def process_next_upload(
        self, polls: int = 0, *, fail: bool = False, message: str = "Injected processing failure."
    ) -> None:
        """Set how the next uploaded file is processed (for `files.wait_until_active` tests).

        Args:
            polls: The file is `PROCESSING` in the answer to its upload and to this many GETs.
            fail: Then it ends `FAILED` (with `error.message` = `message`), not `ACTIVE`.
        """
        with self._lock:
            self._files.next_upload = NextUpload(polls, fail, message)

    def drop_next_chunk(self, received: int | None = None) -> None:
        """Break the connection of the next upload chunk request: no answer comes back.

        Args:
            received: The server keeps this many bytes of the chunk (an upload `query` then
                reports them); None keeps the whole chunk, finalizing the upload if asked:
                only the answer is lost.
        """
        with self._lock:
            self._files.drop_chunk = (received,)

    # -- introspection -----------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in order (faulted and rejected ones included)."""
        with self._lock:
            return list(self._requests)

    @property
    def interactions(self) -> dict[str, dict[str, Any]]:
        """The stored interactions by id, as a GET would return them (copies)."""
        with self._lock:
            return {key: record.snapshot() for key, record in self._records.items()}

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        """The stored files by name (`files/emu0001`), as the API shows them (copies)."""
        with self._lock:
            return {view["name"]: clone(view) for view in self._file_views()}

    def file_content(self, name: str) -> bytes:
        """The bytes uploaded to the file `name` (`files/emu0001` or `emu0001`).

        Raises:
            KeyError: No such file.
        """
        with self._lock:
            return self._files.files[name.removeprefix("files/")].content

    def _file_views(self) -> list[dict[str, Any]]:
        return [stored.view for stored in self._files.files.values()]

    @property
    def function_calls(self) -> list[StepDict]:
        """Every `function_call` step the model made, in order."""
        with self._lock:
            return clone(self._calls)

    @property
    def function_results(self) -> list[StepDict]:
        """Every `function_result` step received as new input, in order."""
        with self._lock:
            return clone(self._results)

    def reset(self) -> None:
        """Forget everything: interactions, requests, faults, counters (and rewind a Script)."""
        with self._lock:
            self._clear()
            self.sleeps.clear()
            rewind = getattr(self.behaviour, "reset", None)
            if callable(rewind):
                rewind()

    # -- httpx transports --------------------------------------------------------------

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request from a sync `httpx.Client`."""
        if self.latency:
            self.sleep(self.latency)
        answer = self._handle_httpx(request, request.read())
        if isinstance(answer.body, bytes):
            return httpx.Response(answer.status, headers=answer.headers, content=answer.body)
        return httpx.Response(
            answer.status, headers=answer.headers, stream=_SyncStream(answer.body, request)
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request from an `httpx.AsyncClient`."""
        if self.latency:
            await self.async_sleep(self.latency)
        answer = self._handle_httpx(request, await request.aread())
        if isinstance(answer.body, bytes):
            return httpx.Response(answer.status, headers=answer.headers, content=answer.body)
        return httpx.Response(
            answer.status, headers=answer.headers, stream=_AsyncStream(answer.body, request)
        )

    def _handle_httpx(self, request: httpx.Request, body: bytes) -> EmuResponse:
        query = dict(request.url.params.multi_items())
        try:
            return self.handle(request.method, request.url.path, query, dict(request.headers), body)
        except ConnectionDropped:
            # What httpcore raises when the server closes the connection without answering.
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None

    def close(self) -> None:
        """Do nothing: a client closing its transport leaves the emulator usable."""

    async def aclose(self) -> None:
        """Do nothing: a client closing its transport leaves the emulator usable."""

    # -- clients and servers -----------------------------------------------------------

    def client(self, **kwargs: Any) -> Client:
        """Build an `agentkit.Client` that talks to this emulator.

        Defaults: `api_key="emulator-key"`, `base_url="http://emulator.invalid"`, this
        emulator as transport, and a `sleep` that returns at once and records the delay in
        `emulator.sleeps` (so retries and polling never wait).
        """
        from agentkit._client import Client

        return Client(**self._client_defaults(kwargs, self.sleeps.append))

    def async_client(self, **kwargs: Any) -> AsyncClient:
        """Build an `agentkit.AsyncClient` that talks to this emulator (see `client`)."""
        from agentkit._client import AsyncClient

        async def no_wait(seconds: float) -> None:
            self.sleeps.append(seconds)
            await anyio.lowlevel.checkpoint()

        return AsyncClient(**self._client_defaults(kwargs, no_wait))

    def _client_defaults(self, kwargs: dict[str, Any], sleep: Any) -> dict[str, Any]:
        kwargs.setdefault("api_key", "emulator-key")
        kwargs.setdefault("base_url", "http://emulator.invalid")
        kwargs.setdefault("sleep", sleep)
        if "http_client" not in kwargs:
            kwargs.setdefault("transport", self)
        return kwargs

    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Generator[str, None, None]:
        """Serve the emulator over HTTP/1.1 on a loopback address, in a background thread.

        Yields:
            The base URL, e.g. `"http://127.0.0.1:54321"`.

        Raises:
            ValueError: `host` is not a loopback address.
        """
        with serve(self, host, port, self._latency_sleep) as base_url:
            yield base_url

    def serve_forever(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        ready: Callable[[str], None] | None = None,
    ) -> None:
        """Serve on a loopback address until interrupted (for `python -m agentkit emulator`).

        Args:
            ready: Called with the base URL once the server listens.
        """
        serve_forever(self, host, port, self._latency_sleep, ready)

    def _latency_sleep(self) -> None:
        """Wait for `latency` the sync way (used by the loopback server)."""
        if self.latency:
            self.sleep(self.latency)


def _number(value: float | str) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _SyncStream(httpx.SyncByteStream):
    def __init__(self, chunks: Iterator[bytes], request: httpx.Request) -> None:
        self._chunks = chunks
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        except StreamDropped as error:
            raise httpx.ReadError(str(error), request=self._request) from None


class _AsyncStream(httpx.AsyncByteStream):
    def __init__(self, chunks: Iterator[bytes], request: httpx.Request) -> None:
        self._chunks = chunks
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            for chunk in self._chunks:
                # Yield to the event loop between events, as a network read would.
                await anyio.lowlevel.checkpoint()
                yield chunk
        except StreamDropped as error:
            raise httpx.ReadError(str(error), request=self._request) from None
