"""The suite cannot reach the real API, or any host but this machine, by any road."""

from __future__ import annotations

import socket

import httpx
import pytest
from _offline import OfflineError

from agentkit import Client
from agentkit.exceptions import APIConnectionError

# Hosts that can never answer (RFC 6761 `.invalid`, RFC 5737 TEST-NET-1): a broken fence
# fails these tests without anything leaving the machine.


def test_a_plain_httpx_request_to_a_remote_host_is_refused_before_any_lookup() -> None:
    with pytest.raises(httpx.ConnectError, match="tests run offline"):
        httpx.get("https://agentkit-fence.invalid/v1beta/interactions", timeout=5)


def test_a_socket_to_a_public_address_is_refused() -> None:
    with socket.socket() as sock, pytest.raises(OfflineError, match="loopback only"):
        sock.connect(("192.0.2.1", 443))


@pytest.mark.agentkit_live
def test_an_agentkit_client_on_a_remote_host_cannot_get_out() -> None:
    # A live test steps out of the pytest plugin's guard: the fence still holds.
    client = Client(api_key="test-key", base_url="https://agentkit-fence.invalid", max_retries=0)
    with client, pytest.raises(APIConnectionError) as caught:
        client.interactions.get("v1_anything")
    assert "tests run offline" in str(caught.value)


def test_loopback_stays_open() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
