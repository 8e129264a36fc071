"""The offline guard of agentkit's pytest plugin: no real key, no real Google host in a test.

The plugin itself (the hooks, the fixtures, the `agentkit_live` marker) is the top-level
module `_agentkit_pytest_plugin`, which pytest loads without importing agentkit; it enters
`offline_guard` around each test that did not opt in. This module holds what needs agentkit,
and takes pytest's `fail` as an argument, so that it never imports pytest itself.

While the guard is on:

- building a `Client` / `AsyncClient` with what looks like a real Google credential (an
  `AIza...` API key or a `ya29.` OAuth token, from `api_key=`, a credential header or an
  environment variable the test set) fails the test;
- building one with no key at all, while the plugin hides `GEMINI_API_KEY` / `GOOGLE_API_KEY`
  of the developer's shell, fails it with a message saying so (instead of agentkit's
  `UsageError`, which would not say why the key is missing);
- a request agentkit sends to `*.googleapis.com` or `*.google.com` fails the test before any
  connection is made. The check sits in the httpcore connection pools, the last step before
  the network, and applies to agentkit's own requests only: in-process transports (the
  emulator, `httpx.MockTransport`) never get there, and so never trip it.
"""

# The guard wraps private methods: the client's `_attempt` and the pools' request handlers.
# pyright: reportPrivateUsage=false

from __future__ import annotations

import contextvars
import os
import re
from collections.abc import Awaitable, Callable, Collection, Generator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Final, NoReturn, TypeVar

import httpcore
import httpx
import pydantic

from agentkit import _client
from agentkit._client import _AsyncClientShell, _ClientShell
from agentkit._pool import AsyncPool

__all__ = ["KEY_VARIABLES", "is_google_host", "looks_real", "offline_guard"]

KEY_VARIABLES: Final = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
"""The environment variables agentkit reads a key from, hidden from tests by the plugin."""

_GOOGLE_DOMAINS: Final = ("googleapis.com", "google.com")
_CREDENTIAL_HEADERS: Final = frozenset({"x-goog-api-key", "authorization", "proxy-authorization"})
# Google API keys are "AIza" and 35 characters of this alphabet; OAuth access tokens "ya29.".
_GOOGLE_CREDENTIAL: Final = re.compile(r"AIza[0-9A-Za-z_-]{35}|ya29\.[0-9A-Za-z_.-]{10,}")
# A random key holds none of these (each has odds below 1e-5 in 35 random characters): a
# credential-shaped string that does is a test's stand-in, like "AIzaSy-test-...".
_PLACEHOLDER: Final = re.compile(
    r"test|fake|dummy|mock|example|emulat|placeholder|sample|secret|invalid|1234|0000|xxxx",
    re.IGNORECASE,
)

_WHAT_TO_DO: Final = (
    "use the agentkit_client / agentkit_async_client fixtures (the emulator), or mark the "
    "test with @pytest.mark.agentkit_live to call the real API on purpose "
    "(pytest --agentkit-allow-live allows it for the whole run)."
)

_sending: contextvars.ContextVar[bool] = contextvars.ContextVar("agentkit_sending", default=False)
"""True while an agentkit client sends: the pools check only agentkit's own requests."""

Fail = Callable[[str], NoReturn]


def is_google_host(host: str) -> bool:
    """Whether `host` is `googleapis.com`, `google.com` or a subdomain of either."""
    host = host.lower().rstrip(".")
    return any(host == domain or host.endswith("." + domain) for domain in _GOOGLE_DOMAINS)


def looks_real(credential: str) -> bool:
    """Whether `credential` has the shape of a real Google API key or OAuth token.

    A leading `Bearer ` is ignored. A credential-shaped value holding an obvious placeholder
    word or run (`test`, `fake`, `example`, `1234`, ...) counts as a test key.
    """
    value = credential.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return bool(_GOOGLE_CREDENTIAL.fullmatch(value)) and not _PLACEHOLDER.search(value)


def _real_credential_source(
    api_key: str | pydantic.SecretStr | None,
    headers: Mapping[str, str] | None,
    environ: Mapping[str, str],
) -> str | None:
    """Say where a real-looking credential comes from (never the value), or return None."""
    if isinstance(api_key, pydantic.SecretStr):
        api_key = api_key.get_secret_value()
    if api_key and looks_real(api_key):
        return "passed as api_key="
    for name, value in (headers or {}).items():
        if name.lower() in _CREDENTIAL_HEADERS and looks_real(value):
            return f"passed in the {name} header"
    if not api_key and not headers:
        for variable in KEY_VARIABLES:
            if looks_real(environ.get(variable, "")):
                return f"read from {variable}, which the test set"
    return None


def _has_credentials(
    api_key: str | pydantic.SecretStr | None,
    headers: Mapping[str, str] | None,
    environ: Mapping[str, str],
) -> bool:
    if isinstance(api_key, pydantic.SecretStr):
        api_key = api_key.get_secret_value()
    if api_key or any(name.lower() in _CREDENTIAL_HEADERS for name in headers or {}):
        return True
    return any(environ.get(variable, "").strip() for variable in KEY_VARIABLES)


def _check_host(fail: Fail, request: httpcore.Request) -> None:
    __tracebackhide__ = True
    host = request.url.host.decode("ascii", "replace")
    if _sending.get() and is_google_host(host):
        fail(
            f"agentkit: this test sent a request to {host}, a real Google host. Tests run "
            f"offline: {_WHAT_TO_DO}"
        )


@contextmanager
def offline_guard(*, fail: Fail, hidden: Collection[str] = ()) -> Generator[None, None, None]:
    """Fail the running test, through `fail`, when agentkit would go live.

    Args:
        fail: Ends the test with a message (`pytest.fail`); it must raise.
        hidden: The key variables the plugin removed from the environment for this test.
    """
    with ExitStack() as undo:

        def patch(owner: object, name: str, value: object) -> None:
            before = vars(owner).get(name, _MISSING)
            setattr(owner, name, value)
            undo.callback(_restore, owner, name, before)

        resolve: _Resolve = vars(_client)["resolve_api_key"]  # maybe an outer guard's
        patch(_client, "resolve_api_key", _checked_resolve(resolve, fail, hidden))
        patch(_ClientShell, "_attempt", _marked_attempt(_ClientShell._attempt))
        patch(_AsyncClientShell, "_attempt", _marked_async_attempt(_AsyncClientShell._attempt))
        pool = httpcore.ConnectionPool
        patch(pool, "handle_request", _checked_handle(pool.handle_request, fail))
        async_pool = httpcore.AsyncConnectionPool
        checked = _checked_async_handle(async_pool.handle_async_request, fail)
        patch(async_pool, "handle_async_request", checked)
        # agentkit's own pool replaces httpcore's handler rather than extending it.
        checked_ours = _checked_async_handle(AsyncPool.handle_async_request, fail)
        patch(AsyncPool, "handle_async_request", checked_ours)
        yield


_MISSING: Final = object()


def _restore(owner: object, name: str, before: object) -> None:
    if before is _MISSING:
        delattr(owner, name)
    else:
        setattr(owner, name, before)


_Resolve = Callable[..., pydantic.SecretStr | None]
_Attempt = Callable[..., httpx.Response]
_AsyncAttempt = Callable[..., Awaitable[httpx.Response]]
_Handle = Callable[[httpcore.ConnectionPool, httpcore.Request], httpcore.Response]
PoolT = TypeVar("PoolT", bound=httpcore.AsyncConnectionPool)


def _checked_resolve(resolve: _Resolve, fail: Fail, hidden: Collection[str]) -> _Resolve:
    def resolve_api_key(
        api_key: str | pydantic.SecretStr | None,
        headers: Mapping[str, str] | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> pydantic.SecretStr | None:
        __tracebackhide__ = True
        source = _real_credential_source(api_key, headers, environ)
        if source is not None:
            fail(
                f"agentkit: this test builds a client with what looks like a real Google API "
                f"key ({source}). Pass an obvious test key (api_key='test-key') to an emulator, "
                f"{_WHAT_TO_DO}"
            )
        if hidden and not _has_credentials(api_key, headers, environ):
            names = " and ".join(hidden) + (" are" if len(hidden) > 1 else " is")
            fail(
                f"agentkit: this test builds a client without an API key, and {names} hidden "
                "from tests, so that your environment's real key never reaches one: "
                f"{_WHAT_TO_DO}"
            )
        return resolve(api_key, headers, environ)

    return resolve_api_key


def _marked_attempt(attempt: _Attempt) -> _Attempt:
    def _attempt(self: _ClientShell, request: httpx.Request, *, stream: bool) -> httpx.Response:
        token = _sending.set(True)
        try:
            return attempt(self, request, stream=stream)
        finally:
            _sending.reset(token)

    return _attempt


def _marked_async_attempt(attempt: _AsyncAttempt) -> _AsyncAttempt:
    async def _attempt(
        self: _AsyncClientShell, request: httpx.Request, *, stream: bool
    ) -> httpx.Response:
        token = _sending.set(True)
        try:
            return await attempt(self, request, stream=stream)
        finally:
            _sending.reset(token)

    return _attempt


def _checked_handle(handle: _Handle, fail: Fail) -> _Handle:
    def handle_request(
        self: httpcore.ConnectionPool, request: httpcore.Request
    ) -> httpcore.Response:
        __tracebackhide__ = True
        _check_host(fail, request)
        return handle(self, request)

    return handle_request


def _checked_async_handle(
    handle: Callable[[PoolT, httpcore.Request], Awaitable[httpcore.Response]], fail: Fail
) -> Callable[[PoolT, httpcore.Request], Awaitable[httpcore.Response]]:
    async def handle_async_request(self: PoolT, request: httpcore.Request) -> httpcore.Response:
        __tracebackhide__ = True
        _check_host(fail, request)
        return await handle(self, request)

    return handle_async_request
