"""The deadline of the sync run in progress, which the blocking requests it makes respect.

An async run is stopped by a cancel scope; a blocking call cannot be, so the sync driver
sets this deadline around each call of the client, which caps the request's timeouts at the
time left and gives up retrying when the next attempt would start too late; agentkit's own
HTTP/1.1 connections cut each read of a response to it as well.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["DEADLINE", "Expired", "check", "left", "patiently", "until"]

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


_SLICE = 0.2
"""Seconds the main thread blocks at most in one wait for a sync run's tools."""


def patiently(wait: Callable[[float | None], bool], deadline: float | None) -> bool:
    """`wait(timeout)` until it returns True, or False once `deadline` passed (None: never).

    In the main thread the wait goes in slices: Python runs a signal handler (Ctrl-C's) only
    there, once its wait returns, and the kernel may hand SIGINT to a tool's thread, which
    does not end the main thread's wait. Without slices, Ctrl-C would wait for the tools.
    """
    if threading.current_thread() is not threading.main_thread():
        return wait(None if deadline is None else left(deadline))
    while True:
        remaining = None if deadline is None else left(deadline)
        if remaining is not None and remaining <= _SLICE:
            return wait(remaining)
        if wait(_SLICE):
            return True
