"""A base URL no request could reach fails when the client is made, naming it (never the key)."""

from __future__ import annotations

import httpx
import pytest

from agentkit import AsyncClient, Client, UsageError

KEY = "AIzaSy-not-a-real-key-0123456789"
CLIENTS = [Client, AsyncClient]


@pytest.mark.parametrize("make", CLIENTS)
@pytest.mark.parametrize(
    ("base_url", "problem"),
    [
        ("localhost:8080", "it has no scheme; did you mean 'http://localhost:8080'?"),
        ("127.0.0.1:9000/api", "it has no scheme; did you mean 'http://127.0.0.1:9000/api'?"),
        ("example.com", "it has no scheme; did you mean 'https://example.com'?"),
        ("//example.com/x", "it has no scheme; did you mean 'https://example.com/x'?"),
        ("ftp://example.com", "the scheme 'ftp' is not http or https."),
        ("ws://example.com", "the scheme 'ws' is not http or https."),
        ("http:example.com", "the scheme is not followed by '//'."),
        ("https://", "it has no host."),
        ("http:///v1", "it has no host."),
        ("https://exa mple.com", "it holds a space or a control character."),
        (" https://example.com", "it holds a space or a control character."),
        ("https://example.com\n", "it holds a space or a control character."),
        ("", "it is empty."),
        ("https://example.com:99999", "the port 99999 is not between 1 and 65535."),
        ("https://example.com:0", "the port 0 is not between 1 and 65535."),
        ("https://example.com:http", "Invalid port: 'http'."),
        (
            "https://example.com/?alt=json",
            "a base URL takes no query (?...) and no fragment (#...).",
        ),
        ("https://example.com/#top", "a base URL takes no query (?...) and no fragment (#...)."),
    ],
)
def test_a_malformed_base_url_is_a_usage_error_naming_it(
    make: type[Client | AsyncClient], base_url: str, problem: str
) -> None:
    with pytest.raises(UsageError) as raised:
        make(api_key=KEY, base_url=base_url)

    assert str(raised.value) == f"base_url {base_url!r} is not a usable URL: {problem}"


@pytest.mark.parametrize("make", CLIENTS)
@pytest.mark.parametrize(
    "base_url",
    [
        f"https://user:{KEY}@example.com:bad",
        f"https://example.com/?key={KEY}",
        f"https://{KEY}.example.com/?x=1",
        "https://example.com/?access_token=ya29.secret-token&alt=json",
    ],
)
def test_the_message_never_shows_a_credential(
    make: type[Client | AsyncClient], base_url: str
) -> None:
    with pytest.raises(UsageError) as raised:
        make(api_key=KEY, base_url=base_url)

    message = str(raised.value)
    assert message.startswith("base_url 'https://")
    assert KEY not in message
    assert "ya29.secret-token" not in message
    assert "[REDACTED]" in message


@pytest.mark.parametrize(
    "base_url", ["user:hunter2@example.com", "https:/user:hunter2@example.com"]
)
def test_a_password_is_hidden_in_a_url_without_its_slashes(base_url: str) -> None:
    with pytest.raises(UsageError) as raised:
        AsyncClient(api_key=KEY, base_url=base_url)

    assert "hunter2" not in str(raised.value)
    assert "user:[REDACTED]@example.com" in str(raised.value)


def test_a_token_in_the_headers_is_hidden_too() -> None:
    headers = {"Authorization": "Bearer header-secret-token"}

    with pytest.raises(UsageError) as raised:
        Client(base_url="https://header-secret-token.example.com:x", headers=headers)

    assert "header-secret-token" not in str(raised.value)


@pytest.mark.parametrize("make", CLIENTS)
@pytest.mark.parametrize(
    "base_url",
    [
        "https://generativelanguage.googleapis.com",
        "https://generativelanguage.googleapis.com/",
        "http://127.0.0.1:8080",
        "http://localhost:8080/prefix/",
        "http://[::1]:9000",
        "HTTPS://Example.COM",
        "https://exämple.com",
        "http://user:password@proxy.internal:3128",
    ],
)
def test_usable_base_urls_are_accepted(make: type[Client | AsyncClient], base_url: str) -> None:
    client = make(api_key=KEY, base_url=base_url, transport=httpx.MockTransport(answer))

    assert client.base_url == base_url.rstrip("/")


def answer(request: httpx.Request) -> httpx.Response:  # pragma: no cover - never sent
    return httpx.Response(200)


def test_the_error_comes_before_any_request_or_retry() -> None:
    requests: list[httpx.Request] = []
    sleeps: list[float] = []

    def record(request: httpx.Request) -> httpx.Response:  # pragma: no cover - never sent
        requests.append(request)
        return httpx.Response(200)

    with pytest.raises(UsageError, match="'localhost:8080'"):
        Client(
            api_key=KEY,
            base_url="localhost:8080",
            transport=httpx.MockTransport(record),
            sleep=sleeps.append,
        )

    assert requests == []
    assert sleeps == []
