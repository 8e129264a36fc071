"""Record a session once, replay it offline: `Recorder`, `Replayer` and `recording()`.

Both are httpx transports, sync and async at once (like `Emulator`), so a `Client`, an
`AsyncClient` and the twins an `Agent` makes of them all share one. The file format lives
in `_recording_file`, the matching rule in `_recording_match`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio.lowlevel
import httpx

from agentkit._exceptions import UsageError
from agentkit._http import scrub_bytes
from agentkit.testing._recording_file import (
    Exchange,
    Recording,
    RecordingError,
    collect_secrets,
    recorded_headers,
    redact_exchange,
    split_events,
)
from agentkit.testing._recording_match import Matcher

if TYPE_CHECKING:
    from agentkit._client import AsyncClient, Client

__all__ = ["Recorder", "Replayer", "recording"]

_Done = Callable[[bytes, "Exception | None"], None]
"""Called once when a response body ends: its raw bytes, and the error that cut it short."""


class Recorder(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport that forwards every request and records the exchange to a file.

    Use it as the `transport=` of `Client` or `AsyncClient` (or `recorder.client()`). The
    file is written when the recorder is made (so an unwritable path fails at once) and
    again, atomically, after each exchange, with every credential redacted: the key header,
    `Authorization`, `key=` parameters, and their values wherever else they appear.
    Responses reach the client unchanged, streams included, as they arrive.

    Args:
        path: The recording file; an existing one is replaced.
        transport: The transport to record; by default a real httpx transport (a sync or an
            async one, as the client needs). A transport passed here is not closed by
            `close()`: the caller owns it.
        secrets: More strings to redact (other tokens your requests carry).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        *,
        secrets: Iterable[str] = (),
    ) -> None:
        self.path: Path = Path(path)
        """The recording file."""
        self._transport = transport
        self._own_sync: httpx.HTTPTransport | None = None
        self._own_async: httpx.AsyncHTTPTransport | None = None
        self._secrets = dict.fromkeys(secret for secret in secrets if secret)
        self._done: dict[int, Exchange] = {}  # by the order the requests were sent
        self._sent = 0
        self._lock = threading.Lock()
        self._save()

    def __repr__(self) -> str:
        return f"Recorder({str(self.path)!r})"

    @property
    def recording(self) -> Recording:
        """What is recorded so far (finished exchanges, redacted), as in the file."""
        with self._lock:
            return self._snapshot()

    def client(self, **kwargs: Any) -> Client:
        """Build an `agentkit.Client` whose requests go through this recorder.

        The keyword arguments are `Client`'s (the key comes from the environment by default).
        """
        from agentkit._client import Client

        kwargs.setdefault("transport", self)
        return Client(**kwargs)

    def async_client(self, **kwargs: Any) -> AsyncClient:
        """Build an `agentkit.AsyncClient` whose requests go through this recorder."""
        from agentkit._client import AsyncClient

        kwargs.setdefault("transport", self)
        return AsyncClient(**kwargs)

    # -- httpx transports ------------------------------------------------------------------

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Forward a request of a sync `httpx.Client`, recording the exchange."""
        body = request.read()
        finish = self._begin(request, body)
        try:
            response = self._sync_transport().handle_request(request)
        except httpx.TransportError as exc:
            finish(None, b"", exc)
            raise
        stream = response.stream
        assert isinstance(stream, httpx.SyncByteStream), "a sync transport answers sync streams"
        tee = _SyncTee(stream, lambda raw, error: finish(response, raw, error))
        return _forwarded(response, tee)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Forward a request of an `httpx.AsyncClient`, recording the exchange."""
        body = await request.aread()
        finish = self._begin(request, body)
        try:
            response = await self._async_transport().handle_async_request(request)
        except httpx.TransportError as exc:
            finish(None, b"", exc)
            raise
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream), "an async transport answers async streams"
        tee = _AsyncTee(stream, lambda raw, error: finish(response, raw, error))
        return _forwarded(response, tee)

    def close(self) -> None:
        """Close the real sync transport this recorder made (it makes another if used again)."""
        with self._lock:
            own, self._own_sync = self._own_sync, None
        if own is not None:
            own.close()

    async def aclose(self) -> None:
        """Close the real async transport this recorder made (it makes another if used again)."""
        with self._lock:
            own, self._own_async = self._own_async, None
        if own is not None:
            await own.aclose()

    # -- internals -------------------------------------------------------------------------

    def _sync_transport(self) -> httpx.BaseTransport:
        if self._transport is None:
            with self._lock:
                if self._own_sync is None:
                    self._own_sync = httpx.HTTPTransport()
                return self._own_sync
        if not isinstance(self._transport, httpx.BaseTransport):
            raise UsageError(
                "This Recorder wraps an async-only transport: use it with an AsyncClient, or "
                "pass a sync transport (e.g. httpx.HTTPTransport()) for a Client."
            )
        return self._transport

    def _async_transport(self) -> httpx.AsyncBaseTransport:
        if self._transport is None:
            with self._lock:
                if self._own_async is None:
                    self._own_async = httpx.AsyncHTTPTransport()
                return self._own_async
        if not isinstance(self._transport, httpx.AsyncBaseTransport):
            raise UsageError(
                "This Recorder wraps a sync-only transport: use it with a Client, or pass an "
                "async transport (e.g. httpx.AsyncHTTPTransport()) for an AsyncClient."
            )
        return self._transport

    def _begin(
        self, request: httpx.Request, body: bytes
    ) -> Callable[[httpx.Response | None, bytes, Exception | None], None]:
        """Reserve the request's place in the recording; the result records its outcome."""
        with self._lock:
            number = self._sent
            self._sent += 1
            self._secrets.update(dict.fromkeys(collect_secrets(request)))

        def finish(response: httpx.Response | None, raw: bytes, error: Exception | None) -> None:
            exchange = Exchange(
                method=request.method,
                url=str(request.url),
                request_headers=recorded_headers(request.headers),
                request_body=body,
                error=None if error is None else (type(error).__name__, str(error)),
            )
            if response is not None:
                exchange = _with_response(exchange, response, raw)
            with self._lock:
                self._done[number] = exchange
                # Written on every exchange, so a crash loses nothing recorded so far. The
                # file is small; an async caller blocks on it briefly, as on a log write.
                self._save()

        return finish

    def _snapshot(self) -> Recording:
        secrets = tuple(self._secrets)
        exchanges = (redact_exchange(self._done[key], secrets) for key in sorted(self._done))
        return Recording(tuple(exchanges), self.path)

    def _save(self) -> None:
        self._snapshot().save(self.path)


def _with_response(exchange: Exchange, response: httpx.Response, raw: bytes) -> Exchange:
    """`exchange` with the response: headers and the body decoded as the client reads it."""
    headers = recorded_headers(response.headers)
    body = raw
    if raw and "content-encoding" in response.headers:
        try:
            body = httpx.Response(200, headers=response.headers, content=raw).content
        except httpx.DecodingError:
            # A body cut short cannot be decompressed: keep it as sent, encoding and all.
            headers["content-encoding"] = response.headers["content-encoding"]
    return Exchange(
        method=exchange.method,
        url=exchange.url,
        request_headers=exchange.request_headers,
        request_body=exchange.request_body,
        status=response.status_code,
        response_headers=headers,
        response_body=body,
        error=exchange.error,
    )


def _forwarded(
    response: httpx.Response, stream: httpx.SyncByteStream | httpx.AsyncByteStream
) -> httpx.Response:
    """The response as the wrapped transport gave it, with its body passing through `stream`."""
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        stream=stream,
        extensions=response.extensions,
    )


class _SyncTee(httpx.SyncByteStream):
    """Passes a body through, keeping a copy; reports it once, at its end or close."""

    def __init__(self, stream: httpx.SyncByteStream, done: _Done) -> None:
        self._stream = stream
        self._chunks: list[bytes] = []
        self._done: _Done | None = done

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._stream:
                self._chunks.append(chunk)
                yield chunk
        except httpx.TransportError as exc:
            self._report(exc)
            raise
        self._report(None)

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._report(None)

    def _report(self, error: Exception | None) -> None:
        done, self._done = self._done, None
        if done is not None:
            done(b"".join(self._chunks), error)


class _AsyncTee(httpx.AsyncByteStream):
    """The async `_SyncTee`."""

    def __init__(self, stream: httpx.AsyncByteStream, done: _Done) -> None:
        self._stream = stream
        self._chunks: list[bytes] = []
        self._done: _Done | None = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                self._chunks.append(chunk)
                yield chunk
        except httpx.TransportError as exc:
            self._report(exc)
            raise
        self._report(None)

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._report(None)

    def _report(self, error: Exception | None) -> None:
        done, self._done = self._done, None
        if done is not None:
            done(b"".join(self._chunks), error)


class Replayer(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport that answers from a recording, with no network and no emulator.

    Each request gets the first unplayed recorded exchange with the same method, path,
    query and JSON body (headers, host and credentials are not compared; a redacted secret
    matches any value); equal requests get their answers in recorded order. Recorded event
    streams replay as streams, one event per chunk, byte for byte; a recorded connection
    failure is raised again.

    Args:
        recording: A recording file, or a loaded `Recording`.
        ignore: Dotted paths of body fields not to compare, for values of your own that vary
            between runs (`"input.result"`: the results of every input step).

    Raises:
        RecordingError: The file is missing, unreadable or of another format version.
    """

    def __init__(
        self, recording: str | os.PathLike[str] | Recording, *, ignore: Iterable[str] = ()
    ) -> None:
        if not isinstance(recording, Recording):
            recording = Recording.load(recording)
        self.recording: Recording = recording
        """What this replayer answers from."""
        source = "the recording" if recording.path is None else f"The recording {recording.path}"
        self._matcher = Matcher(recording.exchanges, ignore=ignore, source=source)

    def __repr__(self) -> str:
        return f"Replayer({len(self.recording.exchanges)} exchanges)"

    @property
    def unplayed(self) -> list[Exchange]:
        """The recorded exchanges no request has asked for yet, in order."""
        return self._matcher.unplayed()

    def check_all_played(self) -> None:
        """Check that the replay asked for every recorded exchange.

        Raises:
            RecordingError: Some were not asked for: the code under test sent fewer
                requests than when it was recorded.
        """
        unplayed = self.unplayed
        if unplayed:
            names = ", ".join(f"{ex.method} {ex.path}" for ex in unplayed[:5])
            more = f" and {len(unplayed) - 5} more" if len(unplayed) > 5 else ""
            raise RecordingError(
                f"{len(unplayed)} recorded exchanges were never requested: {names}{more}. "
                "The code sent fewer requests than when it was recorded; record it again "
                "(mode='record') if that is intended."
            )

    def client(self, **kwargs: Any) -> Client:
        """Build an `agentkit.Client` that replays from this recording.

        Defaults: a placeholder API key (none is needed), this replayer as transport, and a
        `sleep` that returns at once, so recorded retries and polls never wait.
        """
        from agentkit._client import Client

        def no_wait(seconds: float) -> None:
            """Return at once: a replay has nothing to wait for."""

        return Client(**_replay_defaults(self, kwargs, no_wait))

    def async_client(self, **kwargs: Any) -> AsyncClient:
        """Build an `agentkit.AsyncClient` that replays from this recording (see `client`)."""
        from agentkit._client import AsyncClient

        async def no_wait(seconds: float) -> None:
            await anyio.lowlevel.checkpoint()

        return AsyncClient(**_replay_defaults(self, kwargs, no_wait))

    # -- httpx transports ------------------------------------------------------------------

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request of a sync `httpx.Client` from the recording."""
        exchange = self._take(request, request.read())
        chunks, error = _answer(exchange, request)
        return _replayed(exchange, _SyncReplay(chunks, error))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request of an `httpx.AsyncClient` from the recording."""
        exchange = self._take(request, await request.aread())
        chunks, error = _answer(exchange, request)
        return _replayed(exchange, _AsyncReplay(chunks, error))

    def close(self) -> None:
        """Do nothing: a client closing its transport leaves the replayer usable."""

    async def aclose(self) -> None:
        """Do nothing: a client closing its transport leaves the replayer usable."""

    def _take(self, request: httpx.Request, body: bytes) -> Exchange:
        # Scrubbed as the recording was, so a secret in the body matches its "[REDACTED]".
        secrets = tuple(collect_secrets(request))
        return self._matcher.take(request.method, request.url, scrub_bytes(body, secrets))


def _replay_defaults(replayer: Replayer, kwargs: dict[str, Any], sleep: object) -> dict[str, Any]:
    kwargs.setdefault("api_key", "replay")  # the key is not compared: any placeholder does
    kwargs.setdefault("sleep", sleep)
    if "http_client" not in kwargs:
        kwargs.setdefault("transport", replayer)
    return kwargs


def _answer(
    exchange: Exchange, request: httpx.Request
) -> tuple[list[bytes], httpx.HTTPError | None]:
    """The chunks of the recorded body and the error after them; raise a recorded failure."""
    error = None if exchange.error is None else _transport_error(exchange.error, request)
    if exchange.status is None:
        assert error is not None, "an exchange without a response has an error"
        raise error
    body = exchange.response_body
    if exchange.is_stream:
        try:
            return [event.encode() for event in split_events(body.decode())], error
        except UnicodeDecodeError:
            pass  # an event stream that is not UTF-8: replayed in one piece
    return ([body] if body else []), error


def _transport_error(error: tuple[str, str], request: httpx.Request) -> httpx.TransportError:
    """The recorded httpx exception, by class name (`TransportError` for one unknown here)."""
    name, message = error
    kind: Any = getattr(httpx, name, None)  # any attribute: checked below
    if not (isinstance(kind, type) and issubclass(kind, httpx.TransportError)):
        kind = httpx.TransportError
    made: httpx.TransportError = kind(message, request=request)
    return made


def _replayed(
    exchange: Exchange, stream: httpx.SyncByteStream | httpx.AsyncByteStream
) -> httpx.Response:
    assert exchange.status is not None
    return httpx.Response(exchange.status, headers=dict(exchange.response_headers), stream=stream)


class _SyncReplay(httpx.SyncByteStream):
    def __init__(self, chunks: list[bytes], error: httpx.HTTPError | None) -> None:
        self._chunks = chunks
        self._error = error

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks
        if self._error is not None:
            raise self._error


class _AsyncReplay(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes], error: httpx.HTTPError | None) -> None:
        self._chunks = chunks
        self._error = error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            # Yield to the event loop between events, as a network read would.
            await anyio.lowlevel.checkpoint()
            yield chunk
        if self._error is not None:
            raise self._error


Mode = Literal["auto", "record", "replay"]


@contextmanager
def recording(
    path: str | os.PathLike[str],
    mode: Mode = "auto",
    *,
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    secrets: Iterable[str] = (),
    ignore: Iterable[str] = (),
) -> Generator[Recorder | Replayer, None, None]:
    """Record a session to `path`, or replay it from there; yields the transport.

    Build clients with `session.client()` / `session.async_client()`: in replay mode they
    need no key and never wait. In replay mode, leaving the block normally checks that
    every recorded exchange was asked for. A recording session whose block raises leaves the
    file as it found it (missing, or the previous recording); `Recorder` keeps failures.

    Args:
        mode: `"record"` records (replacing the file), `"replay"` replays (the file must
            exist), `"auto"` replays when the file exists and records otherwise.
        transport: What a recording wraps (see `Recorder`).
        secrets: More strings to redact when recording.
        ignore: Body fields not compared when replaying (see `Replayer`).

    Raises:
        UsageError: An unknown mode.
        RecordingError: Replaying a missing or unreadable file, or leaving exchanges unplayed.
        RequestNotRecorded: A replayed request that the recording does not hold.
    """
    if mode not in ("auto", "record", "replay"):
        raise UsageError(f"mode must be 'auto', 'record' or 'replay', not {mode!r}.")
    if mode == "replay" or (mode == "auto" and Path(path).exists()):
        replayer = Replayer(path, ignore=ignore)
        yield replayer
        replayer.check_all_played()
        return
    # A session that fails (no key, a dead host, the test's own error) leaves the file as it
    # was, so the next run records again instead of replaying the failure.
    before = Path(path).read_bytes() if Path(path).exists() else None
    recorder = Recorder(path, transport, secrets=secrets)
    try:
        yield recorder
    except BaseException:
        if before is None:
            recorder.path.unlink(missing_ok=True)
        else:
            recorder.path.write_bytes(before)
        raise
    finally:
        recorder.close()
