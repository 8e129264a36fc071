"""The deadline of the sync run in progress, which the blocking requests it makes respect.

An async run is stopped by a cancel scope; a blocking call cannot be, so the sync driver
sets this deadline around each call of the client, which caps the request's timeouts at the
time left and gives up retrying when the next attempt would start too late; agentkit's own
HTTP/1.1 connections cut each read of a response to it as well.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["DEADLINE", "Expired", "check", "left", "until"]

DEADLINE: ContextVar[float | None] = ContextVar("agentkit_deadline", default=None)
"""When the run must end (`time.monotonic()`), or None without a timeout."""


@contextmanager
def until(deadline: float | None) -> Generator[None]:
    """Requests made inside end by `deadline` (None: no deadline)."""
    token = DEADLINE.set(deadline)
    try:
        yield
    finally:
        DEADLINE.reset(token)


def left(deadline: float) -> float:
    """Seconds until `deadline` (0 when it has passed)."""
    return max(deadline - time.monotonic(), 0.0)


class Expired(Exception):
    """The sync run's deadline passed while it waited (for its tools, or between polls)."""


def check(deadline: float | None) -> None:
    """Raise `Expired` when `deadline` has passed."""
    if deadline is not None and time.monotonic() >= deadline:
        raise Expired
