"""When to retry a request and how long to wait first (pure: no I/O, no clock of its own).

The policy follows the official SDK: retry 408, 409, 429, 5xx, connection
errors and timeouts; wait 0.5 s x 2^n, capped at 8 s, times a random factor in (0.75, 1];
a `retry-after-ms` or `retry-after` header (seconds or an HTTP date) replaces that wait.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from agentkit._exceptions import APIConnectionError, APIError, APIStatusError, ResponseLostError

__all__ = [
    "INITIAL_DELAY",
    "MAX_DELAY",
    "MAX_RETRY_AFTER",
    "RetryPolicy",
    "retry_after",
    "retry_delay",
    "should_retry",
]

INITIAL_DELAY = 0.5
"""Seconds before the first retry, before jitter."""
MAX_DELAY = 8.0
"""Cap of the exponential backoff, before jitter."""
MAX_RETRY_AFTER = 60.0
"""Longest server-requested wait honoured; longer hints fall back to the backoff, as the
OpenAI and Anthropic SDKs do, so a daily-quota `Retry-After` cannot hang a program."""

_RETRIED_STATUSES = frozenset({408, 409, 429})
# Failures that happen before a request is complete on the wire: the server cannot have acted.
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.WriteError,
    httpx.WriteTimeout,
    httpx.UnsupportedProtocol,
    httpx.ProxyError,
    httpx.LocalProtocolError,
)
# What httpcore says when a kept-alive connection turns out to be closed by the server before
# it read the request, the usual fate of a connection reused after an idle spell. agentkit's
# own connections say it only of a reused one: a new one that the server closed unanswered
# may have had its request read and acted on.
_STALE_CONNECTION = "Server disconnected without sending a response"


def should_retry(status_code: int) -> bool:
    """Tell whether a response with this status is worth sending again."""
    return status_code in _RETRIED_STATUSES or status_code >= 500


def retry_after(
    headers: Mapping[str, str], *, now: Callable[[], float] = time.time
) -> float | None:
    """Read the wait the server asked for, in seconds, or None if it asked for none.

    Args:
        headers: Response headers; keys are looked up in lower case (httpx.Headers is
            case-insensitive).
        now: The wall clock, in seconds since the epoch, used for an HTTP-date value.
    """
    value = headers.get("retry-after-ms")
    if value:
        try:
            seconds = float(value) / 1000
        except ValueError:
            pass
        else:
            if 0 <= seconds <= MAX_RETRY_AFTER:
                return seconds
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            date = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        # An HTTP date in the past means "now": clamp rather than ignore it.
        seconds = max(0.0, date.timestamp() - now())
    if 0 <= seconds <= MAX_RETRY_AFTER:
        return seconds
    return None


def retry_delay(
    retries_done: int,
    headers: Mapping[str, str] | None = None,
    *,
    rng: Callable[[], float] = random.random,
    now: Callable[[], float] = time.time,
) -> float:
    """Return how many seconds to wait before retry number `retries_done + 1`.

    Args:
        retries_done: Retries already made (0 before the first retry).
        headers: Headers of the failed response, if there was one.
        rng: Returns a float in [0, 1); the jitter factor is `1 - 0.25 * rng()`.
        now: The wall clock, for an HTTP-date `retry-after`.
    """
    if headers is not None:
        requested = retry_after(headers, now=now)
        if requested is not None:
            return requested
    backoff = min(INITIAL_DELAY * 2.0 ** min(retries_done, 16), MAX_DELAY)
    return backoff * (1.0 - 0.25 * rng())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a client retries: the budget, and the randomness and clock behind the waits."""

    max_retries: int = 4
    """Retries after the first attempt; 0 sends each request once."""
    resend_lost_creates: bool = False
    """Re-send a stored create whose response was lost after it was sent (the server may have
    acted: a second interaction); by default `ResponseLostError` is raised instead."""
    rng: Callable[[], float] = field(default=random.random, repr=False)
    """Source of jitter; inject a constant in tests."""
    now: Callable[[], float] = field(default=time.time, repr=False)
    """Wall clock for HTTP-date `retry-after` values; inject a fixed one in tests."""

    def delay(self, retries_done: int, headers: Mapping[str, str] | None = None) -> float | None:
        """Return the wait before the next retry, or None when the budget is spent."""
        if retries_done >= self.max_retries:
            return None
        return retry_delay(retries_done, headers, rng=self.rng, now=self.now)

    def lost(self, error: APIError, *, creates: bool) -> ResponseLostError | None:
        """The error to raise instead of `error` when re-sending might repeat a server action.

        Only a connection that broke after the request went out can hide a server that acted;
        one that was refused, or never got a connection from the pool, cannot.
        """
        if not creates or self.resend_lost_creates or not isinstance(error, APIConnectionError):
            return None
        cause = error.__cause__
        if isinstance(cause, _NOT_SENT):
            return None
        if isinstance(cause, httpx.RemoteProtocolError) and _STALE_CONNECTION in str(cause):
            return None
        return ResponseLostError(
            f"{error.message} The create request was sent, so the server may have made the "
            "interaction: it was not sent again, to avoid a second one. An agent run resumes "
            "from `error.partial`; Client(resend_lost_creates=True) re-sends instead.",
            request=error.request,
        )

    def delay_after(self, error: APIError, retries_done: int) -> float | None:
        """Return the wait before retrying after `error`, or None to give up.

        Connection errors and timeouts are retried; status errors when `should_retry` says
        so, waiting as their `retry-after` headers ask; other errors never.
        """
        if isinstance(error, APIStatusError):
            if not should_retry(error.status_code):
                return None
            response = error.response
            return self.delay(retries_done, None if response is None else response.headers)
        if isinstance(error, APIConnectionError):
            return self.delay(retries_done)
        return None
