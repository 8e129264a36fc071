"""Where the examples send their requests: the Gemini API when a key is set, else the emulator.

Every example builds its client here, so the choice lives in one place and is announced once:

    Backend: Gemini API (GEMINI_API_KEY is set)
    Backend: built-in emulator (offline; set GEMINI_API_KEY to use the real API)

In your own code you need none of this: `Agent(...)` makes a client from `GEMINI_API_KEY`
(or `GOOGLE_API_KEY`), and tests pass `client=Emulator().client()` (see `agentkit.testing`).
"""

from __future__ import annotations

import os

from agentkit import AsyncClient, Client
from agentkit.testing import Emulator

_KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
_emulator: Emulator | None = None  # one per process, shared by every client below


def online() -> bool:
    """True when an API key is set, so the examples talk to the real Gemini API."""
    return any(os.environ.get(name) for name in _KEY_VARIABLES)


def _offline_emulator() -> Emulator:
    global _emulator
    if _emulator is None:
        print("Backend: built-in emulator (offline; set GEMINI_API_KEY to use the real API)")
        _emulator = Emulator()
    return _emulator


_announced_online = False


def _announce_online() -> None:
    global _announced_online
    if not _announced_online:
        name = next(name for name in _KEY_VARIABLES if os.environ.get(name))
        print(f"Backend: Gemini API ({name} is set)")
        _announced_online = True


def client_for_examples() -> Client:
    """A sync client for `run_sync()` / `stream_sync()`."""
    if online():
        _announce_online()
        return Client()
    return _offline_emulator().client()


def async_client_for_examples() -> AsyncClient:
    """An async client for `await agent.run()`, `agent.stream()`, `agent.start()`."""
    if online():
        _announce_online()
        return AsyncClient()
    return _offline_emulator().async_client()
