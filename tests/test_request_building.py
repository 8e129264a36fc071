"""What goes out on the wire: the client's own httpx client and a user's `http_client` both
send every header once, with the user's own headers and cookies when the client is theirs.
"""

from __future__ import annotations

import httpx
import pytest

from agentkit import AsyncClient, Client

pytestmark = pytest.mark.anyio

BODY: dict[str, object] = {"id": "int_1", "status": "completed", "steps": []}


def recorder() -> tuple[list[httpx.Request], httpx.MockTransport]:
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=BODY)

    return sent, httpx.MockTransport(handle)


async def test_a_request_of_the_clients_own_http_client_carries_each_header_once() -> None:
    sent, transport = recorder()
    async with AsyncClient(api_key="k", base_url="http://api.test", transport=transport) as client:
        await client.interactions.create(model="m", input="hi", store=False)
        await client.interactions.get("int_1")
    create, get = sent
    assert str(create.url) == "http://api.test/v1beta/interactions"
    assert str(get.url) == "http://api.test/v1beta/interactions/int_1?stream=false"
    for request in sent:
        names = [name.lower() for name, _ in request.headers.multi_items()]
        assert len(names) == len(set(names))
        assert request.headers["x-goog-api-key"] == "k"
        assert request.headers["user-agent"].startswith("agentkit/")
        assert request.headers["accept-encoding"] == "gzip, deflate"
        assert request.extensions["timeout"] == {
            "connect": 10.0,
            "read": 600.0,
            "write": 600.0,
            "pool": 600.0,
        }


def test_a_users_http_client_adds_its_own_headers_and_cookies() -> None:
    sent, transport = recorder()
    http = httpx.Client(transport=transport, headers={"X-Team": "a"}, cookies={"session": "s1"})
    with Client(api_key="k", base_url="http://api.test", http_client=http) as client:
        client.interactions.create(model="m", input="hi", store=False)
    (request,) = sent
    assert request.headers["x-team"] == "a"
    assert request.headers["cookie"] == "session=s1"
    assert request.headers["x-goog-api-key"] == "k"
    http.close()
