"""`Client` and `AsyncClient`: thin httpx shells over the pure code of `_http` and `_retry`.

Each shell only sends: the request comes from `RequestBuilder`, the reply becomes an
`Interaction` or an exception in `_http`, and `RetryPolicy` picks the waits. `_BaseClient`
holds the constructor and all that does not send, generic in the httpx client, transport and
sleep types. `_AsyncClientShell` adds the send, sleep and close lines, and `_ClientShell` is
generated from it by `tools/unasync.py` (edit the async class, then run the tool); `Client`
and `AsyncClient` add what differs by more than `await`. The endpoints live in
`_client_interactions` and `_client_files`, the event streams in `_client_stream`.
"""

# `_twin` copies the private settings of one client into a client of the other flavour.
# pyright: reportPrivateUsage=false

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, overload

import anyio
import anyio.from_thread
import anyio.to_thread
import httpx
import pydantic
from typing_extensions import Self

from agentkit._client_interactions import AsyncInteractions, Interactions
from agentkit._deadline import DEADLINE, left
from agentkit._exceptions import APIError, APIStatusError, UsageError
from agentkit._http import (
    BROKEN_BODY,
    DEFAULT_API_REVISION,
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    RequestBuilder,
    RequestSpec,
    connection_error,
    redact,
    redact_url,
    resolve_api_key,
    status_error,
)
from agentkit._retry import RetryPolicy
from agentkit._timeline import retried

if TYPE_CHECKING:
    from agentkit._client_files import AsyncFiles, Files

__all__ = ["AsyncClient", "Client", "sending_once"]

logger: Final = logging.getLogger("agentkit")


def default_max_connections() -> int:
    """Half the process's open-file limit: connections never starve the rest of the program.

    Concurrent runs are bounded by the model's latency, not by a fixed pool size, so the
    default lets as many connections open as the process can afford.
    """
    try:
        import resource
    except ImportError:  # Windows: no descriptor limit for sockets to respect
        return 1000
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1_000_000 if soft == resource.RLIM_INFINITY else max(soft // 2, 10)


# Many concurrent runs share one client: connections are bounded by the descriptors the
# process can spare, not by httpx's default of 100, and every idle one is kept for reuse.
_MAX_CONNECTIONS: Final = default_max_connections()
_LIMITS: Final = httpx.Limits(
    max_connections=_MAX_CONNECTIONS, max_keepalive_connections=_MAX_CONNECTIONS
)

Timeout = float | httpx.Timeout | None
_Sleep = Callable[[float], None]
_AsyncSleep = Callable[[float], Awaitable[None]]

HttpT = TypeVar("HttpT", bound="httpx.Client | httpx.AsyncClient")
TransportT = TypeVar("TransportT", bound="httpx.BaseTransport | httpx.AsyncBaseTransport")
SleepT = TypeVar("SleepT", bound="_Sleep | _AsyncSleep")


@dataclass(frozen=True, slots=True)
class _Settings:
    """What a twin needs besides the key, which stays a SecretStr inside the builder."""

    base_url: str
    api_version: str
    api_revision: str | None
    timeout: Timeout
    max_retries: int
    headers: Mapping[str, str] | None = field(repr=False)  # may hold credentials

    def options(self) -> dict[str, Any]:
        """The keyword arguments that give another client these settings."""
        return {option.name: getattr(self, option.name) for option in fields(self)}


class _BaseClient(ABC, Generic[HttpT, TransportT, SleepT]):
    """What both clients share: construction, request building and retry decisions.

    A subclass supplies its flavour (the httpx client, transport and sleep types), opens its
    httpx client in `_open_http`, and sends and closes in its own `await`-or-not lines.
    """

    def __init__(
        self,
        *,
        api_key: str | pydantic.SecretStr | None = None,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = DEFAULT_API_VERSION,
        api_revision: str | None = DEFAULT_API_REVISION,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 4,
        transport: TransportT | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: SleepT | None = None,
        http_client: HttpT | None = None,
        resend_lost_creates: bool = False,
    ) -> None:
        """Configure the client.

        Args:
            api_key: The Gemini API key; defaults to `GEMINI_API_KEY`, then `GOOGLE_API_KEY`.
            api_revision: The `Api-Revision` header; None leaves it out.
            timeout: Seconds, or an `httpx.Timeout`; the default waits 10 s to connect and
                600 s for the answer.
            max_retries: Retries after the first attempt (0 sends each request once).
            transport: An httpx transport, e.g. `agentkit.testing.Emulator()`.
            headers: Extra headers sent with every request.
            sleep: Waits before retries and when polling (awaited by `AsyncClient`); defaults
                to `time.sleep`, or `anyio.sleep` for `AsyncClient`.
            http_client: An `httpx.Client` (`httpx.AsyncClient` for `AsyncClient`) to use as
                is; it is not closed by `close()` (`aclose()`).
            resend_lost_creates: When the connection breaks after a create of a stored
                interaction was sent (a reset, a read timeout), the server may have made it.
                By default such a create is not sent again and `ResponseLostError` is raised
                (an agent run re-attaches or keeps a resumable state); True re-sends it, which
                may make a second interaction.

        Raises:
            UsageError: No API key could be found, or conflicting arguments.
        """
        if http_client is not None and transport is not None:
            raise UsageError("Pass transport= or http_client=, not both.")
        if not isinstance(max_retries, int) or max_retries < 0:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UsageError(f"max_retries must be an int >= 0, not {max_retries!r}.")
        self._settings = _Settings(
            base_url.rstrip("/"), api_version, api_revision, timeout, max_retries, headers
        )
        self._builder = RequestBuilder(
            base_url=base_url,
            api_version=api_version,
            api_revision=api_revision,
            api_key=resolve_api_key(api_key, headers),
            headers=headers,
        )
        self._retry = RetryPolicy(max_retries=max_retries, resend_lost_creates=resend_lost_creates)
        # An external http_client keeps its own timeout unless one was passed explicitly.
        explicit = http_client is not None and timeout is not DEFAULT_TIMEOUT
        self._timeout_kwargs: dict[str, Any] = {"timeout": timeout} if explicit else {}
        self._sleep: SleepT = sleep or self._default_sleep()
        self._custom_sleep = sleep is not None
        self._owns_http = http_client is None
        self._transport = transport
        self._http: HttpT = http_client or self._open_http(transport, timeout)
        ours = {name.lower() for name in self._builder.headers(stream=True)}
        self._http_headers = {k: v for k, v in self._http.headers.items() if k.lower() not in ours}
        """httpx's own default headers that the request builder does not set (e.g. the
        accepted encodings), for requests built without `build_request`."""

    @abstractmethod
    def _default_sleep(self) -> SleepT: ...

    @abstractmethod
    def _open_http(self, transport: TransportT | None, timeout: Timeout) -> HttpT: ...

    def __repr__(self) -> str:
        settings = self._settings
        return (
            f"{type(self).__name__}(base_url={settings.base_url!r}, "
            f"api_version={settings.api_version!r})"
        )

    @property
    def base_url(self) -> str:
        """The API host, e.g. `https://generativelanguage.googleapis.com`."""
        return self._settings.base_url

    @property
    def api_version(self) -> str:
        """The version path segment, e.g. `v1beta`."""
        return self._settings.api_version

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt of each request."""
        return self._retry.max_retries

    def _build(self, spec: RequestSpec) -> httpx.Request:
        if self._owns_http:
            # Our own httpx client has no cookies, auth or headers of its user to merge in:
            # a request built directly costs a third of one built by `build_request`.
            http = self._http
            headers = {**self._http_headers, **spec.headers}
            extensions = {"timeout": http.timeout.as_dict()}
            return httpx.Request(
                spec.method,
                spec.url,  # absolute: the builder joins it to the client's base URL
                params=spec.params,
                headers=headers,
                content=spec.content,
                extensions=extensions,
            )
        return self._http.build_request(
            spec.method,
            spec.url,
            params=spec.params,
            headers=spec.headers,
            content=spec.content,
            **self._timeout_kwargs,
        )

    def _connection_error(self, exc: httpx.HTTPError, request: httpx.Request) -> APIError:
        secrets = self._builder.secrets
        return connection_error(exc, redact(request, secrets), secrets=secrets)

    def _status_error(self, response: httpx.Response, request: httpx.Request) -> APIStatusError:
        secrets = self._builder.secrets
        return status_error(response, redact(request, secrets), secrets=secrets)

    def _bounded(self, request: httpx.Request) -> httpx.Request:
        """`request`, its timeouts capped at the time left to the sync run making it."""
        deadline = DEADLINE.get()
        if deadline is None:
            return request
        remaining = left(deadline)
        if remaining <= 0:
            exc = httpx.TimeoutException("the run's timeout ran out", request=request)
            raise self._connection_error(exc, request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        request.extensions["timeout"] = {
            name: remaining if value is None else min(value, remaining)
            for name, value in timeouts.items()
        }
        return request

    def _retry_delay(self, error: APIError, retries_done: int) -> float | None:
        """Return the wait before retrying after `error`, or None to give up."""
        delay = self._retry.delay_after(error, retries_done)
        deadline = DEADLINE.get()
        if delay is not None and deadline is not None:
            delay = min(delay, left(deadline))  # then the attempt finds the time is up
        if delay is not None:
            retried(error, delay)
            logger.debug(
                "retrying in %.3f s (retry %d of %d) after: %s",
                delay,
                retries_done + 1,
                self._retry.max_retries,
                error.message,
            )
        return delay


def _unread(response: httpx.Response) -> httpx.Response:
    """An error response whose body broke while being read, with an empty body instead."""
    return httpx.Response(response.status_code, headers=response.headers, request=response.request)


def _log_response(
    request: httpx.Request, response: httpx.Response, secrets: tuple[str, ...]
) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        url = redact_url(request.url, secrets)
        logger.debug("%s %s -> %d", request.method, url, response.status_code)


class _AsyncClientShell(_BaseClient[httpx.AsyncClient, httpx.AsyncBaseTransport, _AsyncSleep]):
    """What `AsyncClient` adds to the base to wait, close and send (in step by unasync)."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` with the injected sleep (tests inject one that returns at once)."""
        await self._sleep(seconds)

    async def aclose(self) -> None:
        """Close the connection pool, unless it came from `http_client=`."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _transmit(self, request: httpx.Request) -> httpx.Response:
        """Send `request`; the response comes back with its body unread."""
        if not self._owns_http:
            return await self._http.send(request, stream=True)
        # Our own httpx client has no auth, cookies, redirects or event hooks to apply: the
        # request goes straight to its transport (or proxy), which costs a fifth of `send`.
        if self._http.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        transport = self._http._transport_for_url(request.url)
        try:
            response = await transport.handle_async_request(request)
        except httpx.RequestError as exc:
            exc.request = request  # as `send` does: the error says which request failed
            raise
        response.request = request
        return response

    async def _attempt(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        """Send once: return a 2xx response or raise the translated error."""
        # Always opened as a stream: a body that breaks is told apart from no answer at all.
        try:
            response = await self._transmit(request)
        except httpx.TransportError as exc:
            raise self._connection_error(exc, request) from exc
        _log_response(request, response, self._builder.secrets)
        if response.is_success:
            if not stream:
                try:
                    await response.aread()
                except BaseException as exc:
                    await response.aclose()
                    if isinstance(exc, BROKEN_BODY):
                        raise self._connection_error(exc, request) from exc
                    raise
            return response
        answer = response
        try:
            await answer.aread()
        except BROKEN_BODY:
            answer = _unread(response)  # the status arrived: the answer is still an error
        finally:
            await response.aclose()
        raise self._status_error(answer, request)

    async def _send(self, spec: RequestSpec) -> tuple[httpx.Request, httpx.Response]:
        """Send with retries; a streamed response comes back open."""
        request = self._build(spec)
        retries = 0
        while True:
            bounded = self._bounded(request)  # before `try`: an unsent request is not lost
            try:
                return request, await self._attempt(bounded, stream=spec.stream)
            except APIError as error:
                lost = self._retry.lost(error, creates=spec.creates)
                if lost is not None:
                    raise lost from error.__cause__
                delay = self._retry_delay(error, retries)
                if delay is None:
                    raise
            await self._sleep(delay)
            retries += 1


# -- generated by tools/unasync.py from _AsyncClientShell: do not edit --
class _ClientShell(_BaseClient[httpx.Client, httpx.BaseTransport, _Sleep]):
    """What `Client` adds to the base to wait, close and send (in step by unasync)."""

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` with the injected sleep (tests inject one that returns at once)."""
        self._sleep(seconds)

    def close(self) -> None:
        """Close the connection pool, unless it came from `http_client=`."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _transmit(self, request: httpx.Request) -> httpx.Response:
        """Send `request`; the response comes back with its body unread."""
        if not self._owns_http:
            return self._http.send(request, stream=True)
        # Our own httpx client has no auth, cookies, redirects or event hooks to apply: the
        # request goes straight to its transport (or proxy), which costs a fifth of `send`.
        if self._http.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        transport = self._http._transport_for_url(request.url)
        try:
            response = transport.handle_request(request)
        except httpx.RequestError as exc:
            exc.request = request  # as `send` does: the error says which request failed
            raise
        response.request = request
        return response

    def _attempt(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        """Send once: return a 2xx response or raise the translated error."""
        # Always opened as a stream: a body that breaks is told apart from no answer at all.
        try:
            response = self._transmit(request)
        except httpx.TransportError as exc:
            raise self._connection_error(exc, request) from exc
        _log_response(request, response, self._builder.secrets)
        if response.is_success:
            if not stream:
                try:
                    response.read()
                except BaseException as exc:
                    response.close()
                    if isinstance(exc, BROKEN_BODY):
                        raise self._connection_error(exc, request) from exc
                    raise
            return response
        answer = response
        try:
            answer.read()
        except BROKEN_BODY:
            answer = _unread(response)  # the status arrived: the answer is still an error
        finally:
            response.close()
        raise self._status_error(answer, request)

    def _send(self, spec: RequestSpec) -> tuple[httpx.Request, httpx.Response]:
        """Send with retries; a streamed response comes back open."""
        request = self._build(spec)
        retries = 0
        while True:
            bounded = self._bounded(request)  # before `try`: an unsent request is not lost
            try:
                return request, self._attempt(bounded, stream=spec.stream)
            except APIError as error:
                lost = self._retry.lost(error, creates=spec.creates)
                if lost is not None:
                    raise lost from error.__cause__
                delay = self._retry_delay(error, retries)
                if delay is None:
                    raise
            self._sleep(delay)
            retries += 1


# -- end generated --


class Client(_ClientShell):
    """Synchronous client of the Interactions API (`httpx.Client` underneath).

    The arguments are described on `__init__`: keyword-only, with a sync `transport`, a
    `sleep` that is called (`time.sleep` by default) and an `httpx.Client` as `http_client`.
    """

    def _default_sleep(self) -> _Sleep:
        return time.sleep  # noqa: TID251 - the one real sleep, injectable

    def _open_http(self, transport: httpx.BaseTransport | None, timeout: Timeout) -> httpx.Client:
        if transport is not None:
            return httpx.Client(transport=transport, timeout=timeout, limits=_LIMITS)
        from agentkit._pool import proxy_mounts, sync_transport

        return httpx.Client(
            transport=sync_transport(_MAX_CONNECTIONS),
            mounts=proxy_mounts(httpx.HTTPTransport, _LIMITS),
            timeout=timeout,
            limits=_LIMITS,
        )

    @cached_property
    def interactions(self) -> Interactions:
        """The `/interactions` endpoints: create, get, cancel and delete."""
        return Interactions(self)

    @cached_property
    def files(self) -> Files:
        """The Files API: upload, get, list, delete and wait_until_active."""
        # Loaded on first use: `import agentkit` does not pay for it.
        from agentkit._client_files import Files

        return Files(self)

    def async_twin(self) -> AsyncClient:
        """Build an `AsyncClient` with this client's settings (key, URL, retries, transport).

        A custom `sleep` is called in a worker thread. The twin has its own connection pool:
        close it too.

        Raises:
            UsageError: This client has an `http_client=` or a sync-only transport.
        """
        return _twin(self)


class AsyncClient(_AsyncClientShell):
    """Asynchronous client of the Interactions API (`httpx.AsyncClient`; asyncio or trio).

    The arguments are described on `__init__`: keyword-only, with an async `transport`, a
    `sleep` that is awaited (`anyio.sleep` by default) and an `httpx.AsyncClient` as
    `http_client`.
    """

    def _default_sleep(self) -> _AsyncSleep:
        return anyio.sleep

    def _open_http(
        self, transport: httpx.AsyncBaseTransport | None, timeout: Timeout
    ) -> httpx.AsyncClient:
        if transport is not None:
            return httpx.AsyncClient(transport=transport, timeout=timeout, limits=_LIMITS)
        # Loaded with the first async client, not with agentkit: it imports httpcore, and
        # httpcore imports trio when it is installed (70 ms together).
        from agentkit._pool import async_transport, proxy_mounts

        return httpx.AsyncClient(
            transport=async_transport(_MAX_CONNECTIONS),
            mounts=proxy_mounts(httpx.AsyncHTTPTransport, _LIMITS),
            timeout=timeout,
            limits=_LIMITS,
        )

    @cached_property
    def interactions(self) -> AsyncInteractions:
        """The `/interactions` endpoints: create, get, cancel and delete."""
        return AsyncInteractions(self)

    @cached_property
    def files(self) -> AsyncFiles:
        """The Files API: upload, get, list, delete and wait_until_active."""
        from agentkit._client_files import (
            AsyncFiles,
        )  # loaded on first use, not by `import agentkit`

        return AsyncFiles(self)

    def sync_twin(self) -> Client:
        """Build a `Client` with this client's settings (key, URL, retries, transport).

        A custom async `sleep` runs on the event loop that started the calling worker
        thread (`anyio.to_thread.run_sync`). The twin has its own connection pool: close it
        too.

        Raises:
            UsageError: This client has an `http_client=` or an async-only transport.
        """
        return _twin(self)


@overload
def _twin(client: Client) -> AsyncClient: ...
@overload
def _twin(client: AsyncClient) -> Client: ...
def _twin(client: Client | AsyncClient) -> Client | AsyncClient:
    """Build `client`'s twin of the other flavour: same settings, retry policy and transport.

    A custom sleep is wrapped to suit the other flavour.

    Raises:
        UsageError: `client` has an `http_client=`, or a transport of its flavour only.
    """
    if not client._owns_http:
        raise UsageError(
            f"This {type(client).__name__} was built with http_client=: build its sync/async "
            "counterpart yourself, with its own http_client."
        )
    options: dict[str, Any] = {"api_key": client._builder.key, "transport": client._transport}
    options |= client._settings.options()
    custom = client._custom_sleep
    twin: Client | AsyncClient
    if isinstance(client, Client):
        _check_transport(client, httpx.AsyncBaseTransport)
        twin = AsyncClient(**options, sleep=_sleep_in_thread(client._sleep) if custom else None)
    else:
        _check_transport(client, httpx.BaseTransport)
        twin = Client(**options, sleep=_sleep_on_loop(client._sleep) if custom else None)
    twin._retry = client._retry
    return twin


def sending_once(client: AsyncClient) -> AsyncClient:
    """`client`'s settings and transport, each request sent once: no retry, no stream resume.

    For a caller that retries on its own (a durable engine): one retry layer, not two.

    Raises:
        UsageError: `client` retries and has an `http_client=`, which cannot be shared.
    """
    if client.max_retries == 0:
        return client
    if not client._owns_http:
        raise UsageError(
            "This AsyncClient was built with http_client= and retries: pass one with "
            "max_retries=0 instead."
        )
    options: dict[str, Any] = {"api_key": client._builder.key, "transport": client._transport}
    options |= client._settings.options() | {"max_retries": 0}
    return AsyncClient(**options, sleep=client._sleep if client._custom_sleep else None)


def _check_transport(client: Client | AsyncClient, kind: type[object]) -> None:
    """Raise `UsageError` unless `client` has no transport or one of `kind`."""
    transport = client._transport
    if transport is not None and not isinstance(transport, kind):
        raise UsageError(
            f"The transport of this {type(client).__name__} is not an {kind.__qualname__}: "
            "build its sync/async counterpart yourself."
        )


def _sleep_in_thread(sleep: _Sleep) -> _AsyncSleep:
    """Wrap a sync sleep for an `AsyncClient`: it is called in a worker thread."""

    async def wait(seconds: float) -> None:
        await anyio.to_thread.run_sync(sleep, seconds)

    return wait


def _sleep_on_loop(sleep: _AsyncSleep) -> _Sleep:
    """Wrap an async sleep for a `Client`: it is awaited on the calling worker thread's loop."""

    async def wait(seconds: float) -> None:
        await sleep(seconds)

    def wait_from_thread(seconds: float) -> None:
        try:
            anyio.from_thread.run(wait, seconds)
        except RuntimeError as exc:  # anyio's NoEventLoopError: not in a worker thread
            raise UsageError(
                "The sync twin of an AsyncClient with a custom async sleep can only wait "
                "in a worker thread (anyio.to_thread.run_sync); pass a Client instead."
            ) from exc

    return wait_from_thread
