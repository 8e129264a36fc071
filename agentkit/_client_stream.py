"""Event streams of the Interactions API, resumed after a dropped connection.

`StreamCore` holds every decision (decode, dedupe, when and how to reconnect) and does
no I/O; `EventStream` and `AsyncEventStream` only move bytes between httpx and the core,
and share all but their read, close and wait lines in `_StreamShell`. `EventStream` is
generated from `AsyncEventStream` by `tools/unasync.py`: edit the async class, then run the
tool; what differs by more than `await` sits in the `_close_body` / `_aclose_body` helpers.

A stream is retried like any request until its response opens (see `Client._send`). After
that, a broken connection, or a body that ends before `interaction.completed`, `error` or
`[DONE]` (an event the end of the body cuts short is dropped, per the SSE spec, and fetched
again), is never re-sent blindly: the stream reconnects with
`GET /interactions/{id}?stream=true&last_event_id=...`, waiting as for a retry, at most
`max_retries` times in a row without a new event, and drops the events the server replays.
"""

# The streams are the client's own helpers: they use its private members.
# pyright: reportPrivateUsage=false

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Final, Generic, NoReturn, TypeVar, cast

import anyio
import httpx
import pydantic
from typing_extensions import Self

from agentkit._deadline import DEADLINE, left, until
from agentkit._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    ResponseLostError,
    StreamError,
    StreamNotResumable,
)
from agentkit._http import (
    BROKEN_BODY,
    RequestBuilder,
    RequestSpec,
    connection_error,
    redact,
    response_validation_error,
    scrub,
)
from agentkit._retry import RetryPolicy, should_retry
from agentkit._streaming import (
    UNPARSED_EVENTS,
    EventDeduper,
    Json,
    ServerSentEvent,
    SSEDecoder,
    StreamAccumulator,
    is_done,
    str_or_none,
)
from agentkit._timeline import resumed
from agentkit.types import (
    ErrorEvent,
    Event,
    Interaction,
    InteractionCompletedEvent,
    InteractionCreatedEvent,
    InteractionStatusUpdateEvent,
    parse_event,
)

if TYPE_CHECKING:
    from agentkit._client import AsyncClient, Client

__all__ = ["AsyncEventStream", "EventStream", "StreamCore"]

logger: Final = logging.getLogger("agentkit")

_DRAIN_CHUNKS: Final = 64
"""Chunks read after the last event for the body to end, before giving up on it."""
_DRAIN_WAIT = 0.5
"""Seconds the reads after the last event may take in all, on agentkit's own connections: a
server that keeps the body open (heartbeats) costs its connection, not the caller's time."""


class StreamCore:
    """The state of one logical stream across its connections (pure: no I/O).

    The shells call `connected` for each response, `feed` with each chunk, `ended` at a
    clean end of the body, and `reconnect` when the connection broke.
    """

    __slots__ = (
        "_creates",
        "_cut",
        "_decoder",
        "_deduper",
        "_redacted",
        "_secrets",
        "_sent",
        "_stateless",
        "delivered",
        "error",
        "finished",
        "interaction_id",
        "last_event_id",
        "reconnects",
        "unparsed",
    )
    _decoder: SSEDecoder

    def __init__(
        self,
        *,
        interaction_id: str | None,
        last_event_id: str | None = None,
        secrets: tuple[str, ...] = (),
        creates: bool = False,
        stateless: bool = False,
    ) -> None:
        self.interaction_id = interaction_id
        """Known from `get(id)`, else from the first event that names it."""
        self.last_event_id = last_event_id
        """The id of the last event delivered: where a reconnection resumes (kept here only)."""
        self.finished: bool = False
        """A terminal event (`interaction.completed`, `error`, `[DONE]`) arrived."""
        self.error: APIError | None = None
        """Set by an `error` event or an invalid one; the shell raises it after earlier events.

        An event delivered unparsed is checked by its reader instead (see `unparsed`).
        """
        self.reconnects: int = 0
        """Reconnections since the last new event; capped by `max_retries`."""
        self.delivered: int = 0
        """Events let through so far, across connections."""
        self.unparsed: bool = False
        """Deliver the events that `StreamAccumulator.apply_wire` folds as JSON objects."""
        self._sent: httpx.Request | None = None  # redacted only if an exception needs it
        self._redacted: httpx.Request | None = None
        # `_decoder` is set by `connected`, with the response: none waits with the request.
        self._cut = False  # the last body ended cleanly, but inside an event
        self._deduper = EventDeduper()
        if last_event_id is not None:
            # The caller has seen it: a server that resumes inclusively must not repeat it.
            self._deduper.admit_id(last_event_id)
        self._secrets = secrets  # the credentials, to scrub from server text
        self._creates = creates  # the stream of a stored create (see RequestSpec.creates)
        self._stateless = stateless  # nothing stored: a GET would answer 404

    @property
    def request(self) -> httpx.Request | None:
        """The current request, redacted, for exceptions."""
        if self._redacted is None and self._sent is not None:
            self._redacted = redact(self._sent, self._secrets)
        return self._redacted

    def connected(self, request: httpx.Request) -> None:
        """Start decoding a new response body (a partial event of the old one is dropped)."""
        self._sent, self._redacted = request, None
        self._decoder = SSEDecoder()
        self._cut = False

    def feed(self, chunk: bytes) -> list[Event | Json]:
        """Decode a chunk of the body; return the events to deliver, in order.

        They are parsed, but those left as JSON objects when `unparsed` is set.
        """
        return self._events(self._decoder.feed(chunk))

    def ended(self) -> None:
        """The body ended cleanly; unless `finished`, the stream must resume (`broken(None)`).

        An event the end of the body cut short (no blank line closed it) is dropped, as the
        SSE spec says: its data may be cut too, and resuming from the last event fetches it
        again.
        """
        self._cut = self._decoder.end()

    def parse(self, data: str | Json) -> Event:
        """Parse one event from its JSON text or object.

        Raises:
            APIResponseValidationError: It does not fit the wire models.
        """
        try:
            return parse_event(data)
        except pydantic.ValidationError as exc:
            error = self.invalid(exc, "stream event")
        # Raised outside the handler: the key-holding original must not be its context.
        raise error

    def invalid(self, exc: pydantic.ValidationError, what: str) -> APIResponseValidationError:
        """The error for a `what` of this stream that does not fit, the credentials scrubbed."""
        request = self.request or httpx.Request("GET", "/")
        return response_validation_error(exc, request, what=what, secrets=self._secrets)

    def _read(self, data: str) -> tuple[Event | Json, str | None, str | None]:
        """An event (unparsed if it may be), its `event_id` and the interaction it names."""
        if self.unparsed and (unparsed := _unparsed(data)) is not None:
            return unparsed
        event = self.parse(data)
        return event, event.event_id, _interaction_id(event)

    def _events(self, sses: list[ServerSentEvent]) -> list[Event | Json]:
        events: list[Event | Json] = []
        for sse in sses:
            if self.finished:
                break  # Nothing after a terminal event belongs to this interaction's stream.
            if is_done(sse):
                self.finished = True
                break
            if not sse.data:
                continue  # e.g. a keep-alive `event: ping` with no data
            try:
                event, event_id, interaction_id = self._read(sse.data)
            except APIResponseValidationError as error:
                self.error = error
                self.finished = True
                break
            if not self._deduper.admit_id(event_id):
                continue  # replayed by the server after a reconnection
            self.reconnects = 0
            self.delivered += 1
            self.last_event_id = event_id or sse.id or self.last_event_id
            if self.interaction_id is None:
                self.interaction_id = interaction_id
            if isinstance(event, ErrorEvent):
                self.error = _stream_error(event, self.request, self._secrets)
                self.finished = True
                break
            if _completes(event):
                self.finished = True
            events.append(event)
        return events

    def reconnect(
        self, builder: RequestBuilder, policy: RetryPolicy, error: APIError
    ) -> tuple[RequestSpec, float]:
        """Plan the next reconnection after `error`: the request and the wait before it.

        Raises:
            APIError: `error` itself (or why resuming is impossible) when the stream cannot go
                on: no interaction id yet, a status that is not retried, or `max_retries`
                reconnections in a row without a new event.
        """
        if isinstance(error, APIStatusError) and not should_retry(error.status_code):
            raise error
        if self._stateless:
            raise StreamNotResumable(
                "The stream of a stateless interaction (store=false) broke; the server keeps "
                f"nothing to resume it from, so only sending the request again can: "
                f"{error.message}",
                request=error.request,
            )
        if self.interaction_id is None:
            # Re-sending the create would start a second interaction: report the drop instead.
            # The server answered a stored create, so it may well have made the interaction.
            lost = ResponseLostError if self._creates else APIConnectionError
            raise lost(
                f"The stream broke before it named its interaction, so it cannot be resumed: "
                f"{error.message}",
                request=error.request,
            )
        if self.delivered and self.last_event_id is None:
            # Without an event id the server would replay from the start: duplicates.
            raise APIConnectionError(
                f"The stream broke and its events carry no event_id to resume from: "
                f"{error.message}",
                request=error.request,
            )
        delay = policy.delay_after(error, self.reconnects)
        if delay is None:  # the budget is spent
            raise error
        self.reconnects += 1
        resumed(error, delay)
        spec = builder.get(self.interaction_id, stream=True, last_event_id=self.last_event_id)
        logger.debug(
            "stream of %s broke (%s); reconnecting in %.3f s (%d of %d) after event %s",
            self.interaction_id,
            error.message,
            delay,
            self.reconnects,
            policy.max_retries,
            self.last_event_id,
        )
        return spec, delay

    def broken(self, exc: httpx.HTTPError | None) -> APIConnectionError:
        """Describe why the current connection stopped before the stream finished."""
        request = self.request or httpx.Request("GET", "/")
        if exc is None:
            inside = " in the middle of an event," if self._cut else ""
            return APIConnectionError(
                f"The stream ended{inside} before the interaction completed.", request=request
            )
        error = connection_error(exc, request, secrets=self._secrets)
        error.__cause__ = exc
        return error


def _unparsed(data: str) -> tuple[Json, str | None, str | None] | None:
    """An event `StreamAccumulator.apply_wire` folds, unparsed, with its two ids.

    None when it must be parsed: another kind of event, or an id of the wrong type.
    """
    wire = _loaded(data)
    if wire is None:
        return None
    kind, event_id = wire.get("event_type"), wire.get("event_id")
    if not isinstance(kind, str) or kind not in UNPARSED_EVENTS:
        return None
    if not str_or_none(event_id):
        return None
    if kind == "interaction.status_update":
        interaction_id = wire.get("interaction_id")
    elif kind in ("interaction.created", "interaction.completed"):
        interaction = wire.get("interaction")
        if not isinstance(interaction, dict):
            return None
        interaction_id = cast("Json", interaction).get("id")
    else:
        return wire, event_id, None
    if not str_or_none(interaction_id):
        return None
    return wire, event_id, interaction_id or None


def _loaded(data: str) -> Json | None:
    """The JSON object of `data`, unless parsing may judge it otherwise than json.loads."""
    if "\\u" in data and ("\\ud" in data or "\\uD" in data):
        return None  # a surrogate escape, which may be unpaired: parsing rejects those
    if data.count("{") + data.count("[") > _MAX_UNPARSED_OPENINGS:
        return None  # possibly nested deeper than parsing allows
    try:
        event = _DECODER.decode(data)
    except ValueError:
        return None
    return cast("Json", event) if isinstance(event, dict) else None


_MAX_UNPARSED_OPENINGS: Final = 100
"""Most `{` and `[` in an event delivered unparsed; the wire models' parser stops at a depth
of 200 (the fold's copies and the serializer go no deeper either)."""


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")  # nor is it an int or a str the fold reads


_DECODER: Final = json.JSONDecoder(parse_constant=_no_constant)
"""Made once: json.loads makes a decoder per call when given any option."""


def _completes(event: Event | Json) -> bool:
    if isinstance(event, dict):
        kind: object = event["event_type"]
        return kind == "interaction.completed"
    return isinstance(event, InteractionCompletedEvent)


def _interaction_id(event: Event) -> str | None:
    if isinstance(event, (InteractionCreatedEvent, InteractionCompletedEvent)):
        return event.interaction.id or None
    if isinstance(event, InteractionStatusUpdateEvent):
        return event.interaction_id or None
    return None


def _stream_error(
    event: ErrorEvent, request: httpx.Request | None, secrets: tuple[str, ...]
) -> StreamError:
    code = event.error.code if event.error is not None else None
    if isinstance(code, str):
        code = scrub(code, secrets)
    message = (event.error.message if event.error is not None else None) or "no message"
    prefix = f"Stream error {code}" if code is not None else "Stream error"
    return StreamError(scrub(f"{prefix}: {message}", secrets), code=code, request=request)


def _drain(chunks: Generator[bytes]) -> bool:
    """Read what is left of a finished body, so the connection goes back to the pool.

    Returns whether the body ended; a body going on after its last event is left alone.
    """
    try:
        with _draining():
            for _ in range(_DRAIN_CHUNKS):
                next(chunks)
    except (StopIteration, httpx.HTTPError, httpx.StreamError):
        return True
    return False


async def _adrain(chunks: AsyncGenerator[bytes]) -> bool:
    """Read what is left of a body, as `_drain` does.

    Running httpx's generators to their end also matters under trio: closing only the
    outer one would leave the inner ones to the garbage collector, and trio warns about
    every async generator finalised that way.
    """
    try:
        with _draining():
            for _ in range(_DRAIN_CHUNKS):
                await chunks.__anext__()
    except (StopAsyncIteration, httpx.HTTPError, httpx.StreamError):
        return True
    return False


def _draining() -> AbstractContextManager[None]:
    """Reads end by `_DRAIN_WAIT` from now (a read that times out closes its connection)."""
    deadline, cap = DEADLINE.get(), time.monotonic() + _DRAIN_WAIT
    return until(cap if deadline is None else min(deadline, cap))


def _close_body(chunks: Generator[bytes], response: httpx.Response, *, finished: bool) -> None:
    """Release a response; the body of a `finished` stream is drained first, for the pool."""
    if not (finished and _drain(chunks)):
        chunks.close()  # sync generators are finalised cleanly: no need to drain
    response.close()


async def _aclose_body(
    chunks: AsyncGenerator[bytes], response: httpx.Response, *, finished: bool
) -> None:
    """Release a response as `_close_body` does, but always drain its body (see `_adrain`)."""
    if finished and await _adrain(chunks):
        await response.aclose()
        return
    # A stream closed before its end is closed fully even in a cancelled task.
    with anyio.CancelScope(shield=not finished):
        await response.aclose()  # stop the transfer first: the reads below then end at once
        if not await _adrain(chunks):  # pragma: no cover - a transport that ignores close
            await chunks.aclose()


ClientT = TypeVar("ClientT", bound="Client | AsyncClient")
ChunksT = TypeVar("ChunksT", bound="Generator[bytes] | AsyncGenerator[bytes]")


class _StreamShell(Generic[ClientT, ChunksT]):
    """What both streams share: everything but reading, closing and waiting."""

    def __init__(self, client: ClientT, core: StreamCore) -> None:
        self._client = client
        self._core = core
        self._ready: deque[Event | Json] = deque()
        self._response: httpx.Response | None = None
        self._chunks: ChunksT | None = None

    @classmethod
    def _for(cls, client: ClientT, spec: RequestSpec, interaction_id: str | None) -> Self:
        """Make the stream that `spec` will open (not sent yet)."""
        last_event_id = spec.params.get("last_event_id") if spec.params else None
        core = StreamCore(
            interaction_id=interaction_id,
            last_event_id=last_event_id,
            secrets=client._builder.secrets,
            creates=spec.creates,
            stateless=spec.stateless,
        )
        return cls(client, core)

    @property
    def interaction_id(self) -> str | None:
        """The interaction's id, once known."""
        return self._core.interaction_id

    @property
    def last_event_id(self) -> str | None:
        """The id of the last event delivered (resume from it with `get(..., stream=True)`)."""
        return self._core.last_event_id

    def _connected(self, request: httpx.Request, response: httpx.Response, chunks: ChunksT) -> None:
        self._core.connected(request)
        self._response = response
        self._chunks = chunks

    def _detach(self) -> tuple[ChunksT, httpx.Response] | None:
        """Forget the current response; return it with its chunks for closing, if any."""
        chunks, response = self._chunks, self._response
        self._chunks = self._response = None
        return None if chunks is None or response is None else (chunks, response)

    def _parse(self, event: Json) -> Event:
        """An event this stream delivered unparsed, parsed (see `StreamCore.parse`)."""
        return self._core.parse(event)

    def _result(self, accumulator: StreamAccumulator) -> Interaction:
        """The interaction `accumulator` rebuilt from this stream's events.

        Raises:
            APIResponseValidationError: It does not fit the wire models; reported, as an
                invalid event is, without the credentials.
        """
        try:
            return accumulator.result()
        except APIResponseValidationError as exc:
            if not isinstance(exc.__cause__, pydantic.ValidationError):
                raise
            error = self._core.invalid(exc.__cause__, "streamed interaction")
        raise error

    def _stop(self) -> None:
        self._core.finished = True
        self._ready.clear()

    def _reading(self) -> ChunksT | None:
        """Return the chunks to read next, or None when the stream is over."""
        core = self._core
        return None if core.error is not None or core.finished else self._chunks

    def _end(self, stop: type[Exception]) -> NoReturn:
        """Finish iteration: raise the stream's error, or `stop`."""
        self._core.finished = True
        if self._core.error is not None:
            raise self._core.error
        raise stop

    def _deliver(self, chunk: bytes | None) -> bool:
        """Decode a chunk (None: the body ended); return False when the stream must resume."""
        core = self._core
        if chunk is not None:
            self._ready.extend(core.feed(chunk))
            return True
        core.ended()
        return core.finished or core.error is not None

    def _reconnection(self, error: APIError) -> tuple[httpx.Request, float]:
        """Plan the next reconnection after `error`: the request and the wait before it."""
        spec, delay = self._core.reconnect(self._client._builder, self._client._retry, error)
        deadline = DEADLINE.get()
        if deadline is not None:  # a sync run's: the attempt then finds its time is up
            delay = min(delay, left(deadline))
        return self._client._build(spec), delay


class AsyncEventStream(_StreamShell["AsyncClient", "AsyncGenerator[bytes]"], AsyncIterator[Event]):
    """The events of one interaction, in order and each once; close it when done.

    Use it as `async with await client.interactions.create(..., stream=True) as stream:
    async for event in stream: ...`. A dropped connection is resumed from the last event.

    Raises (while iterating):
        StreamError: The server sent an `error` event.
        APIResponseValidationError: An event does not fit the wire models.
        APIConnectionError: The connection broke and could not be resumed.
        APIStatusError: A reconnection was answered with an error status that is not retried.
    """

    @classmethod
    async def open(
        cls, client: AsyncClient, spec: RequestSpec, *, interaction_id: str | None
    ) -> Self:
        """Send `spec` (with retries) and return the stream over its open response."""
        sent = await client._send(spec)
        stream = cls._for(client, spec, interaction_id)  # made once answered: none waits
        stream._attach(*sent)
        return stream

    def _attach(self, request: httpx.Request, response: httpx.Response) -> None:
        # The AsyncGenerator that aiter_bytes() returns in fact (it is typed as an AsyncIterator)
        self._connected(request, response, cast("AsyncGenerator[bytes]", response.aiter_bytes()))

    async def _release(self, *, finished: bool = True) -> None:
        detached = self._detach()
        if detached is not None:
            await _aclose_body(*detached, finished=finished)

    async def aclose(self) -> None:
        """Release the connection; iteration stops."""
        self._stop()
        await self._release(finished=False)

    async def __aenter__(self) -> Self:
        return self

    def _unparsed(self) -> AsyncIterator[Event | Json]:
        """This stream, delivering the events `StreamAccumulator.apply_wire` folds unparsed.

        Such an event comes as its JSON object; one that `apply_wire` then declines is
        parsed with `_parse`.
        """
        self._core.unparsed = True
        return cast("AsyncIterator[Event | Json]", self)

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def __anext__(self) -> Event:
        while not self._ready:
            chunks = self._reading()
            if chunks is None:
                await self._release()
                self._end(StopAsyncIteration)
            broken: httpx.HTTPError | None = None
            try:
                if self._deliver(await anext(chunks, None)):
                    continue
            except BROKEN_BODY as exc:
                broken = exc
            await self._resume(self._core.broken(broken))
        return cast("Event", self._ready.popleft())  # JSON objects only when `_unparsed()`

    async def _resume(self, error: APIError) -> None:
        await self._release()
        while True:
            request, delay = self._reconnection(error)
            await self._client._sleep(delay)
            request = self._client._bounded(request)
            try:
                self._attach(request, await self._client._attempt(request, stream=True))
            except APIError as exc:
                error = exc
            else:
                return


# -- generated by tools/unasync.py from AsyncEventStream: do not edit --
class EventStream(_StreamShell["Client", "Generator[bytes]"], Iterator[Event]):
    """The events of one interaction, in order and each once; close it when done.

    Use it as `with client.interactions.create(..., stream=True) as stream:
    for event in stream: ...`. A dropped connection is resumed from the last event.

    Raises (while iterating):
        StreamError: The server sent an `error` event.
        APIResponseValidationError: An event does not fit the wire models.
        APIConnectionError: The connection broke and could not be resumed.
        APIStatusError: A reconnection was answered with an error status that is not retried.
    """

    @classmethod
    def open(cls, client: Client, spec: RequestSpec, *, interaction_id: str | None) -> Self:
        """Send `spec` (with retries) and return the stream over its open response."""
        sent = client._send(spec)
        stream = cls._for(client, spec, interaction_id)  # made once answered: none waits
        stream._attach(*sent)
        return stream

    def _attach(self, request: httpx.Request, response: httpx.Response) -> None:
        # The Generator that iter_bytes() returns in fact (it is typed as an Iterator)
        self._connected(request, response, cast("Generator[bytes]", response.iter_bytes()))

    def _release(self, *, finished: bool = True) -> None:
        detached = self._detach()
        if detached is not None:
            _close_body(*detached, finished=finished)

    def close(self) -> None:
        """Release the connection; iteration stops."""
        self._stop()
        self._release(finished=False)

    def __enter__(self) -> Self:
        return self

    def _unparsed(self) -> Iterator[Event | Json]:
        """This stream, delivering the events `StreamAccumulator.apply_wire` folds unparsed.

        Such an event comes as its JSON object; one that `apply_wire` then declines is
        parsed with `_parse`.
        """
        self._core.unparsed = True
        return cast("Iterator[Event | Json]", self)

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __next__(self) -> Event:
        while not self._ready:
            chunks = self._reading()
            if chunks is None:
                self._release()
                self._end(StopIteration)
            broken: httpx.HTTPError | None = None
            try:
                if self._deliver(next(chunks, None)):
                    continue
            except BROKEN_BODY as exc:
                broken = exc
            self._resume(self._core.broken(broken))
        return cast("Event", self._ready.popleft())  # JSON objects only when `_unparsed()`

    def _resume(self, error: APIError) -> None:
        self._release()
        while True:
            request, delay = self._reconnection(error)
            self._client._sleep(delay)
            request = self._client._bounded(request)
            try:
                self._attach(request, self._client._attempt(request, stream=True))
            except APIError as exc:
                error = exc
            else:
                return


# -- end generated --
