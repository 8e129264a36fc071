from __future__ import annotations

import sys
from collections.abc import Iterator

import httpx
import pytest
from _emulator_helpers import BASE, KEY
from _offline import loopback_only

from agentkit.testing import Emulator

# The official SDK these modules check the wire against needs Python 3.11 or newer.
collect_ignore_glob = ["test_*_conformance.py"] if sys.version_info < (3, 11) else []


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True, scope="session")
def _offline() -> Iterator[None]:
    """No test reaches beyond this machine: the real API least of all (see `_offline`)."""
    with loopback_only():
        yield


@pytest.fixture(autouse=True)
def _no_real_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see a real key, so nothing can reach Google by accident."""
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)


@pytest.fixture
def emulator() -> Emulator:
    """A fresh emulator with the default behaviour."""
    return Emulator()


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    """Plain httpx over the emulator transport, for raw wire-level tests."""
    with httpx.Client(transport=emulator, base_url=BASE, headers=KEY) as client:
        yield client


@pytest.fixture(scope="session")
def temporal_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Temporal dev server on 127.0.0.1, shared by the session: its `host:port`."""
    from _temporal_helpers import dev_server

    with dev_server(tmp_path_factory.mktemp("temporal") / "server.log") as address:
        yield address
