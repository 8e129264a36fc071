"""agentkit's pytest plugin: emulator fixtures, and tests that never go live by accident.

Installed with agentkit and loaded by pytest (the `pytest11` entry point `agentkit`; turn it
off with `-p no:agentkit`). It lives outside the `agentkit` package, like Hypothesis's
`_hypothesis_pytestplugin`, so that starting pytest does not import agentkit: `--help`,
`--collect-only` and `pytest --cov=agentkit` see agentkit imported only when a test runs.

Fixtures:

- `agentkit_emulator`: a fresh `agentkit.testing.Emulator` for the test;
- `agentkit_client` / `agentkit_async_client`: an `agentkit.Client` / `AsyncClient` bound to
  it (a test key, no waits on retries and polling), closed after the test;
- `agentkit_script`: `agentkit_script(reply, ...)` scripts the emulated model, one reply per
  model turn, and returns the `Script`.

The guard: each test runs without `GEMINI_API_KEY` / `GOOGLE_API_KEY` in its environment, and
fails if agentkit builds a client with a real-looking Google key or sends a request to a
`*.googleapis.com` / `*.google.com` host (see `agentkit.testing._pytest_plugin`). A test marked
`@pytest.mark.agentkit_live` is left alone; so is every test with `--agentkit-allow-live` or
the ini option `agentkit_allow_live = true`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from agentkit import AsyncClient, Client
    from agentkit.testing import Emulator, Script

__all__ = [
    "agentkit_async_client",
    "agentkit_client",
    "agentkit_emulator",
    "agentkit_script",
]

_LIVE_MARKER = "agentkit_live"
_KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")  # agentkit.testing._pytest_plugin's too


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add `--agentkit-allow-live` and the ini option `agentkit_allow_live`."""
    group = parser.getgroup("agentkit")
    help_text = (
        "let every test use real API keys and real Google hosts (by default only tests "
        "marked agentkit_live may)"
    )
    group.addoption(
        "--agentkit-allow-live", action="store_true", dest="agentkit_allow_live", help=help_text
    )
    parser.addini("agentkit_allow_live", help_text, type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    """Register the `agentkit_live` marker (for `--strict-markers`)."""
    config.addinivalue_line(
        "markers",
        f"{_LIVE_MARKER}: the test may use real API keys and reach real Google hosts "
        "(agentkit's pytest plugin blocks both otherwise)",
    )


def _allows_live(item: pytest.Item) -> bool:
    config = item.config
    if config.getoption("agentkit_allow_live") or config.getini("agentkit_allow_live"):
        return True
    return item.get_closest_marker(_LIVE_MARKER) is not None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Run the test, its fixtures included, offline unless it opted in."""
    if _allows_live(item):
        return (yield)
    # Imported here, not at pytest's start (see the module docstring).
    from agentkit.testing._pytest_plugin import offline_guard

    with pytest.MonkeyPatch.context() as patch:
        hidden = [name for name in _KEY_VARIABLES if name in os.environ]
        for name in hidden:
            patch.delenv(name)
        # No traceback: its frames (with --showlocals, their variables) would show the key.
        with offline_guard(fail=functools.partial(pytest.fail, pytrace=False), hidden=hidden):
            return (yield)


@pytest.fixture
def agentkit_emulator() -> Emulator:
    """A fresh in-process emulator of the Interactions API (`agentkit.testing.Emulator`).

    Set `agentkit_emulator.behaviour` (or use `agentkit_script`) to script the model; inspect
    `.requests`, `.function_calls`, `.function_results` afterwards.
    """
    from agentkit.testing import Emulator

    return Emulator()


@pytest.fixture
def agentkit_client(agentkit_emulator: Emulator) -> Iterator[Client]:
    """An `agentkit.Client` bound to `agentkit_emulator`, closed after the test."""
    with agentkit_emulator.client() as client:
        yield client


@pytest.fixture
async def agentkit_async_client(agentkit_emulator: Emulator) -> AsyncIterator[AsyncClient]:
    """An `agentkit.AsyncClient` bound to `agentkit_emulator`, closed after the test.

    An async fixture: use it from async tests (anyio's `@pytest.mark.anyio`).
    """
    async with agentkit_emulator.async_client() as client:
        yield client


@pytest.fixture
def agentkit_script(agentkit_emulator: Emulator) -> Callable[..., Script]:
    """Script `agentkit_emulator`'s model: `agentkit_script(reply, ...)` returns the `Script`.

    One reply per model turn, in order: a string (the answer), steps built with
    `agentkit.testing` (`function_call(...)`, `text(...)`, ...), a list of steps, a `Reply`,
    or a function of the `ModelRequest`. A turn past the last reply raises `ScriptExhausted`.
    """
    from agentkit.testing import Script

    def script(*replies: object) -> Script:
        behaviour = Script(replies)
        agentkit_emulator.behaviour = behaviour
        return behaviour

    return script
