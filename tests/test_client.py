"""Client and AsyncClient: request shape, errors, retries, key handling (httpx.MockTransport).

Most scenarios run through both clients via the `api` fixture. Some tests reach into
`client._retry` to inject a fixed RNG and clock: those are not constructor arguments, to keep
the public surface small.
"""

# pyright: reportPrivateUsage=false

from __future__ import annotations

import json
import logging
import math
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timezone
from email.utils import format_datetime
from functools import partial
from typing import Any

import anyio.to_thread
import httpx
import pydantic
import pytest

from agentkit import _exceptions as exc
from agentkit._client import AsyncClient, Client
from agentkit._http import DEFAULT_TIMEOUT, resolve_api_key
from agentkit._retry import MAX_DELAY, RetryPolicy, retry_after, retry_delay, should_retry
from agentkit.testing import Emulator, Script
from agentkit.types import FunctionDeclaration, Interaction, TextContent, UserInputStep

KEY = "AIzaSy-DISTINCTIVE-test-key-0123456789"
MODEL = "gemini-3-flash-preview"
DONE: dict[str, Any] = {"id": "v1_done", "status": "completed", "steps": []}
Handler = Callable[[httpx.Request], httpx.Response]


def ok(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=DONE)


def replies(*responses: httpx.Response | Exception) -> Handler:
    """A handler answering with `responses` in order (an exception is raised instead)."""
    queue = list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        reply = queue.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    return handle


class Api:
    """Runs one call through a fresh Client or AsyncClient over a MockTransport."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.delays: list[float] = []
        self.requests: list[httpx.Request] = []
        self.client: Client | AsyncClient | None = None

    def _transport(self, handler: Handler) -> httpx.MockTransport:
        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return handler(request)

        return httpx.MockTransport(record)

    async def call(
        self,
        handler: Handler,
        op: str,
        *args: Any,
        client_options: dict[str, Any] | None = None,
        policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> Any:
        options: dict[str, Any] = {"api_key": KEY, "transport": self._transport(handler)}
        options.update(client_options or {})
        if self.kind == "async":

            async def sleep(seconds: float) -> None:
                self.delays.append(seconds)

            async with AsyncClient(sleep=sleep, **options) as client:
                self.client = client
                if policy is not None:
                    client._retry = policy
                return await getattr(client.interactions, op)(*args, **kwargs)

        def run() -> Any:
            with Client(sleep=self.delays.append, **options) as client:
                self.client = client
                if policy is not None:
                    client._retry = policy
                return getattr(client.interactions, op)(*args, **kwargs)

        return await anyio.to_thread.run_sync(run)

    @property
    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


@pytest.fixture(params=["async", "sync"])
def api(request: pytest.FixtureRequest) -> Api:
    return Api(str(request.param))


def fixed(max_retries: int = 4, rng: float = 0.0, now: float = 0.0) -> RetryPolicy:
    return RetryPolicy(max_retries=max_retries, rng=lambda: rng, now=lambda: now)


# --- request shape -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_create_sends_only_given_fields_with_models_serialised(api: Api) -> None:
    result = await api.call(
        ok,
        "create",
        model="gemini-3-flash-preview",
        input=[UserInputStep(content=[TextContent(text="hi")])],
        tools=[FunctionDeclaration(name="f", description="d", parameters={"type": "object"})],
        generation_config={"thinking_level": "low"},
        store=False,
    )
    assert isinstance(result, Interaction)
    assert result.id == "v1_done"
    [request] = api.requests
    assert request.method == "POST"
    assert request.url == "https://generativelanguage.googleapis.com/v1beta/interactions"
    assert request.content == (
        b'{"model":"gemini-3-flash-preview","input":[{"type":"user_input","content":'
        b'[{"type":"text","text":"hi"}]}],"tools":[{"type":"function","name":"f",'
        b'"description":"d","parameters":{"type":"object"}}],'
        b'"generation_config":{"thinking_level":"low"},"store":false}'
    )


@pytest.mark.anyio
async def test_create_headers(api: Api) -> None:
    await api.call(ok, "create", model="m", input="hi")
    headers = api.requests[0].headers
    assert headers["x-goog-api-key"] == KEY
    assert headers["api-revision"] == "2026-05-20"
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert headers["user-agent"].startswith("agentkit/")


@pytest.mark.anyio
async def test_api_revision_none_is_not_sent_and_custom_headers_are(api: Api) -> None:
    options = {"api_revision": None, "headers": {"X-Trace": "t1"}}
    await api.call(ok, "create", model="m", client_options=options)
    headers = api.requests[0].headers
    assert "api-revision" not in headers
    assert headers["x-trace"] == "t1"


@pytest.mark.anyio
async def test_base_url_and_version_are_configurable(api: Api) -> None:
    options = {"base_url": "http://127.0.0.1:9/", "api_version": "v1"}
    await api.call(ok, "get", "v1_a", client_options=options)
    assert str(api.requests[0].url) == "http://127.0.0.1:9/v1/interactions/v1_a?stream=false"


@pytest.mark.anyio
async def test_extra_body_is_merged_last(api: Api) -> None:
    await api.call(ok, "create", model="m", store=True, extra_body={"store": False, "x": [1]})
    assert api.bodies == [{"model": "m", "store": False, "x": [1]}]


@pytest.mark.anyio
async def test_wire_models_go_out_in_wire_form_wherever_they_sit_in_the_body(api: Api) -> None:
    text = TextContent(text="hi")
    step = UserInputStep(content=[text])
    await api.call(
        ok,
        "create",
        model="m",
        input=(step, {"type": "user_input", "content": (text,)}),
        extra_body={"x": {"nested": [text]}},
    )
    wire_step = {"type": "user_input", "content": [{"type": "text", "text": "hi"}]}
    assert api.bodies == [
        {
            "model": "m",
            "input": [wire_step, wire_step],
            "x": {"nested": [{"type": "text", "text": "hi"}]},
        }
    ]


@pytest.mark.anyio
async def test_a_body_value_json_cannot_encode_is_refused_before_sending(api: Api) -> None:
    with pytest.raises(exc.UsageError, match="Object of type datetime is not JSON serializable"):
        await api.call(ok, "create", model="m", extra_body={"when": datetime.now(timezone.utc)})
    assert api.requests == []


@pytest.mark.anyio
async def test_an_unknown_create_field_is_refused_before_sending(api: Api) -> None:
    with pytest.raises(
        exc.UsageError, match=r"unexpected keyword arguments: temprature.*extra_body"
    ):
        await api.call(ok, "create", model="m", input="hi", temprature=0.2)
    assert api.requests == []


@pytest.mark.anyio
async def test_agent_mode_body(api: Api) -> None:
    await api.call(
        ok,
        "create",
        agent="deep-research-pro-preview-12-2025",
        input="research",
        background=True,
        agent_config={"type": "deep-research", "thinking_summaries": "auto"},
        environment="remote",
    )
    assert api.bodies == [
        {
            "agent": "deep-research-pro-preview-12-2025",
            "input": "research",
            "background": True,
            "agent_config": {"type": "deep-research", "thinking_summaries": "auto"},
            "environment": "remote",
        }
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("args", "kwargs", "method", "url"),
    [
        (("v1_a",), {}, "GET", "/v1beta/interactions/v1_a?stream=false"),
        (
            ("v1_a",),
            {"include_input": True},
            "GET",
            "/v1beta/interactions/v1_a?include_input=true&stream=false",
        ),
        (("a/b?c",), {}, "GET", "/v1beta/interactions/a%2Fb%3Fc?stream=false"),
    ],
)
async def test_get_path_and_query(
    api: Api, args: tuple[str], kwargs: dict[str, Any], method: str, url: str
) -> None:
    await api.call(ok, "get", *args, **kwargs)
    [request] = api.requests
    assert request.method == method
    assert request.url.raw_path.decode() == url
    assert request.content == b""
    assert request.headers["accept"] == "application/json"


@pytest.mark.anyio
async def test_cancel_and_delete(api: Api) -> None:
    cancelled = await api.call(ok, "cancel", "v1_a")
    assert isinstance(cancelled, Interaction)
    assert await api.call(replies(httpx.Response(200, content=b"{}")), "delete", "v1_a") is None
    assert [(r.method, r.url.path) for r in api.requests] == [
        ("POST", "/v1beta/interactions/v1_a/cancel"),
        ("DELETE", "/v1beta/interactions/v1_a"),
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"model": "m", "agent": "a"}, "not both"),
        ({"input": "hi"}, "model="),
        ({"agent": "a", "generation_config": {"seed": 1}}, "generation_config"),
        ({"model": "m", "agent_config": {"type": "dynamic"}}, "agent_config"),
    ],
)
async def test_invalid_create_raises_usage_error_without_sending(
    api: Api, kwargs: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(exc.UsageError, match=fragment):
        await api.call(ok, "create", **kwargs)
    assert api.requests == []


@pytest.mark.anyio
@pytest.mark.parametrize(("args", "kwargs"), [(("",), {}), (("v1_a",), {"last_event_id": "e1"})])
async def test_invalid_get_raises_usage_error(
    api: Api, args: tuple[str], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(exc.UsageError):
        await api.call(ok, "get", *args, **kwargs)
    assert api.requests == []


# --- responses and errors ------------------------------------------------------------------

STATUS_CLASSES = [
    (400, exc.BadRequestError),
    (401, exc.AuthenticationError),
    (403, exc.PermissionDeniedError),
    (404, exc.NotFoundError),
    (409, exc.ConflictError),
    (418, exc.APIStatusError),
    (422, exc.UnprocessableEntityError),
    (429, exc.RateLimitError),
    (500, exc.InternalServerError),
    (503, exc.InternalServerError),
    (599, exc.InternalServerError),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
@pytest.mark.parametrize("code", ["invalid_argument", 3])
async def test_status_maps_to_error_class(
    api: Api, status: int, cls: type[exc.APIStatusError], code: str | int
) -> None:
    body = {"error": {"code": code, "message": "it went wrong", "status": "X"}}
    handler = replies(*(httpx.Response(status, json=body) for _ in range(5)))
    with pytest.raises(exc.APIStatusError) as info:
        await api.call(handler, "create", model="m", policy=fixed(max_retries=0))
    error = info.value
    assert type(error) is cls
    assert error.status_code == status
    assert error.code == code
    assert error.message == f"Error code: {status} - it went wrong"
    assert str(error) == error.message
    assert error.body == body
    assert error.response is not None
    assert error.response.status_code == status
    assert error.request is not None
    assert error.request.url.path == "/v1beta/interactions"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content", "message", "body"),
    [
        (b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
        (b"", "Bad Gateway", None),
        (b'["odd"]', '["odd"]', ["odd"]),
        (b'{"error": "flat"}', '{"error": "flat"}', {"error": "flat"}),
        (b'{"error": {"code": true}}', '{"error": {"code": true}}', {"error": {"code": True}}),
    ],
)
async def test_lenient_error_bodies(api: Api, content: bytes, message: str, body: Any) -> None:
    handler = replies(httpx.Response(502, content=content))
    with pytest.raises(exc.InternalServerError) as info:
        await api.call(handler, "get", "v1_a", policy=fixed(max_retries=0))
    assert info.value.message == f"Error code: 502 - {message}"
    assert info.value.code is None
    assert info.value.body == body


@pytest.mark.anyio
@pytest.mark.parametrize("content", [b"not json", b'{"id": 5}', b'{"steps": "no"}'])
async def test_invalid_success_body_raises_validation_error(api: Api, content: bytes) -> None:
    with pytest.raises(exc.APIResponseValidationError, match="not a valid Interaction") as info:
        await api.call(replies(httpx.Response(200, content=content)), "get", "v1_a")
    assert isinstance(info.value.__cause__, pydantic.ValidationError)


# --- retries -------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("status", [408, 409, 429, 500, 503])
async def test_retried_statuses_then_success(api: Api, status: int) -> None:
    handler = replies(
        httpx.Response(status), httpx.Response(status), httpx.Response(200, json=DONE)
    )
    result = await api.call(handler, "create", model="m", policy=fixed(rng=0.0))
    assert result.id == "v1_done"
    assert len(api.requests) == 3
    assert api.delays == [0.5, 1.0]


@pytest.mark.anyio
@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_not_retried(api: Api, status: int) -> None:
    with pytest.raises(exc.APIStatusError):
        await api.call(replies(httpx.Response(status)), "get", "v1_a")
    assert len(api.requests) == 1
    assert api.delays == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("error", "cls"),
    [
        (httpx.ConnectError("refused"), exc.APIConnectionError),
        (httpx.RemoteProtocolError("reset"), exc.APIConnectionError),
        (httpx.ReadTimeout("slow"), exc.APITimeoutError),
        (httpx.ConnectTimeout("slow"), exc.APITimeoutError),
    ],
)
async def test_transport_failures_are_retried_then_raised(
    api: Api, error: Exception, cls: type[exc.APIConnectionError]
) -> None:
    handler = replies(*[error] * 5)
    with pytest.raises(exc.APIConnectionError) as info:
        await api.call(handler, "get", "v1_a", policy=fixed(max_retries=2, rng=0.5))
    assert type(info.value) is cls
    assert info.value.__cause__ is error
    assert len(api.requests) == 3
    assert api.delays == [0.4375, 0.875]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "error", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.WriteError("x")]
)
async def test_a_create_that_never_reached_the_server_is_retried(
    api: Api, error: Exception
) -> None:
    handler = replies(error, httpx.Response(200, json=DONE))
    result = await api.call(handler, "create", model="m", policy=fixed(max_retries=2))
    assert result.id == "v1_done"
    assert len(api.requests) == 2


@pytest.mark.anyio
@pytest.mark.parametrize(
    "error",
    [httpx.ReadError("reset"), httpx.RemoteProtocolError("reset"), httpx.ReadTimeout("slow")],
)
async def test_a_stored_create_whose_response_was_lost_is_not_sent_again(
    api: Api, error: Exception
) -> None:
    handler = replies(error, httpx.Response(200, json=DONE))
    with pytest.raises(exc.ResponseLostError, match="may have made the interaction") as info:
        await api.call(handler, "create", model="m", policy=fixed(max_retries=2))
    assert info.value.__cause__ is error
    assert len(api.requests) == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("store", "resend"), [(False, False), (None, True)], ids=["stateless", "opted-in"]
)
async def test_a_lost_create_is_sent_again_when_nothing_can_fork(
    api: Api, store: bool | None, resend: bool
) -> None:
    handler = replies(httpx.ReadError("reset"), httpx.Response(200, json=DONE))
    policy = RetryPolicy(max_retries=2, rng=lambda: 0.0, resend_lost_creates=resend)
    result = await api.call(handler, "create", model="m", store=store, policy=policy)
    assert result.id == "v1_done"
    assert len(api.requests) == 2


class BrokenBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """An error body whose connection breaks before it is read."""

    def __iter__(self) -> Iterator[bytes]:
        raise httpx.ReadError("reset")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        raise httpx.ReadError("reset")
        yield b""  # pragma: no cover - makes this an async generator


@pytest.mark.anyio
async def test_a_kept_alive_connection_the_server_had_closed_is_retried(api: Api) -> None:
    # httpcore's words when a reused idle connection was closed before the request was read.
    stale = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    handler = replies(stale, httpx.Response(200, json=DONE))
    result = await api.call(handler, "create", model="m", policy=fixed(max_retries=2))
    assert result.id == "v1_done"
    assert len(api.requests) == 2


@pytest.mark.anyio
# httpx leaves its own byte generators unclosed when decoding fails; trio reports them.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_a_body_that_cannot_be_decoded_is_a_typed_error_without_the_key(api: Api) -> None:
    garbled = httpx.Response(
        200, headers={"content-encoding": "gzip"}, stream=httpx.ByteStream(b"not gzip")
    )
    with pytest.raises(exc.APIConnectionError) as info:
        await api.call(replies(garbled), "get", "v1_a", policy=fixed(max_retries=0))
    assert isinstance(info.value.__cause__, httpx.DecodingError)
    assert info.value.request is not None
    assert KEY not in str(info.value.request.headers)


@pytest.mark.anyio
async def test_a_created_interaction_whose_body_breaks_was_lost_after_the_server_acted(
    api: Api,
) -> None:
    handler = replies(httpx.Response(200, stream=BrokenBody()), httpx.Response(200, json=DONE))
    with pytest.raises(exc.ResponseLostError):
        await api.call(handler, "create", model="m", policy=fixed(max_retries=2))
    assert len(api.requests) == 1


@pytest.mark.anyio
async def test_an_error_status_whose_body_breaks_is_still_that_status(api: Api) -> None:
    # The server answered: a create is retried as for any 500, never taken for a lost response.
    handler = replies(*(httpx.Response(500, stream=BrokenBody()) for _ in range(2)))
    with pytest.raises(exc.InternalServerError) as info:
        await api.call(handler, "create", model="m", policy=fixed(max_retries=1))
    assert info.value.status_code == 500
    assert len(api.requests) == 2


@pytest.mark.anyio
async def test_transport_failure_then_success(api: Api) -> None:
    handler = replies(httpx.ConnectError("refused"), httpx.Response(200, json=DONE))
    assert (await api.call(handler, "cancel", "v1_a")).id == "v1_done"
    assert len(api.requests) == 2


@pytest.mark.anyio
async def test_max_retries_zero_sends_once(api: Api) -> None:
    with pytest.raises(exc.InternalServerError):
        await api.call(
            replies(httpx.Response(500)), "get", "v1_a", client_options={"max_retries": 0}
        )
    assert len(api.requests) == 1
    assert api.delays == []


@pytest.mark.anyio
async def test_max_retries_is_respected(api: Api) -> None:
    handler = replies(*(httpx.Response(503) for _ in range(10)))
    with pytest.raises(exc.InternalServerError):
        await api.call(handler, "get", "v1_a", client_options={"max_retries": 3})
    assert len(api.requests) == 4
    assert len(api.delays) == 3


@pytest.mark.anyio
async def test_default_backoff_sequence_is_capped(api: Api) -> None:
    handler = replies(*(httpx.Response(500) for _ in range(10)))
    with pytest.raises(exc.InternalServerError):
        await api.call(handler, "get", "v1_a", policy=fixed(max_retries=7, rng=0.0))
    assert api.delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        (
            {
                "retry-after": format_datetime(
                    datetime(2030, 1, 1, 0, 0, 30, tzinfo=timezone.utc), usegmt=True
                )
            },
            30.0,
        ),
        ({"retry-after": "soon"}, 0.5),
        ({"retry-after": "3600"}, 0.5),
    ],
)
async def test_retry_after_headers(api: Api, headers: dict[str, str], delay: float) -> None:
    now = datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp()
    handler = replies(httpx.Response(429, headers=headers), httpx.Response(200, json=DONE))
    await api.call(handler, "create", model="m", policy=fixed(rng=0.0, now=now))
    assert api.delays == [delay]


def test_retry_delay_is_jittered_within_bounds() -> None:
    assert retry_delay(0, rng=lambda: 0.0) == 0.5
    assert math.isclose(retry_delay(0, rng=lambda: 0.999999), 0.375, abs_tol=1e-6)
    assert retry_delay(2, rng=lambda: 0.5) == 2.0 * 0.875
    assert retry_delay(50, rng=lambda: 0.0) == MAX_DELAY
    assert all(0.375 < retry_delay(0) <= 0.5 for _ in range(200))


def test_retry_after_parsing() -> None:
    assert retry_after(httpx.Headers({})) is None
    assert retry_after(httpx.Headers({"Retry-After": "3"})) == 3.0
    assert retry_after(httpx.Headers({"retry-after-ms": "x", "retry-after": "1"})) == 1.0
    assert retry_after(httpx.Headers({"retry-after": "-1"})) is None
    past = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert retry_after(httpx.Headers({"retry-after": past}), now=lambda: 2e9) == 0.0


def test_should_retry() -> None:
    assert [
        s for s in (400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 504) if should_retry(s)
    ] == [
        408,
        409,
        429,
        500,
        502,
        504,
    ]


def test_policy_budget() -> None:
    policy = fixed(max_retries=1)
    assert policy.delay(0) == 0.5
    assert policy.delay(1) is None


def test_policy_retries_connection_and_retryable_status_errors_only() -> None:
    policy = fixed()
    throttled = httpx.Response(429, headers={"retry-after": "3"})
    assert policy.delay_after(exc.RateLimitError("slow", status_code=429, response=throttled), 0)
    assert policy.delay_after(exc.RateLimitError("slow", status_code=429), 0) == 0.5
    assert policy.delay_after(exc.BadRequestError("bad", status_code=400), 0) is None
    assert policy.delay_after(exc.APITimeoutError(), 1) == 1.0
    assert policy.delay_after(exc.APIResponseValidationError("odd"), 0) is None


# --- configuration -------------------------------------------------------------------------


def test_api_key_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"GEMINI_API_KEY": "gemini", "GOOGLE_API_KEY": "google"}
    assert resolve_api_key("arg", environ=env).get_secret_value() == "arg"  # type: ignore[union-attr]
    assert resolve_api_key(None, environ=env).get_secret_value() == "gemini"  # type: ignore[union-attr]
    google = resolve_api_key(None, environ={"GOOGLE_API_KEY": "google"})
    assert google is not None
    assert google.get_secret_value() == "google"
    with pytest.raises(exc.UsageError, match=r"GEMINI_API_KEY.*GOOGLE_API_KEY"):
        resolve_api_key(None, environ={})
    assert resolve_api_key(" padded\n", environ={}).get_secret_value() == "padded"  # type: ignore[union-attr]
    # Credentials already in the headers are sent as they are.
    assert resolve_api_key(None, {"Authorization": "Bearer t"}, environ=env) is None
    with pytest.raises(exc.UsageError, match="not both"):
        resolve_api_key("arg", {"X-Goog-Api-Key": "k"}, environ={})


@pytest.mark.anyio
async def test_credentials_in_headers_are_sent_unchanged(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "from-env")
    options = {"api_key": None, "headers": {"X-Goog-Api-Key": "mine"}}
    await api.call(ok, "get", "v1_a", client_options=options)
    assert api.requests[0].headers.get_list("x-goog-api-key") == ["mine"]


@pytest.mark.anyio
@pytest.mark.parametrize("variable", ["GEMINI_API_KEY", "GOOGLE_API_KEY"])
async def test_client_reads_the_key_from_the_environment(
    api: Api, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "from-env")
    await api.call(ok, "get", "v1_a", client_options={"api_key": None})
    assert api.requests[0].headers["x-goog-api-key"] == "from-env"


@pytest.mark.anyio
async def test_gemini_key_wins_over_google_key(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "gemini")
    monkeypatch.setenv("GOOGLE_API_KEY", "google")
    await api.call(ok, "get", "v1_a", client_options={"api_key": None})
    assert api.requests[0].headers["x-goog-api-key"] == "gemini"


@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_missing_key_names_both_variables(cls: type[Client] | type[AsyncClient]) -> None:
    with pytest.raises(exc.UsageError, match=r"GEMINI_API_KEY.*GOOGLE_API_KEY"):
        cls()


@pytest.mark.anyio
async def test_constructor_checks() -> None:
    with pytest.raises(exc.UsageError, match="max_retries"):
        Client(api_key=KEY, max_retries=-1)
    with httpx.Client() as http, pytest.raises(exc.UsageError, match="not both"):
        Client(api_key=KEY, http_client=http, transport=httpx.MockTransport(ok))
    async with httpx.AsyncClient() as ahttp:
        with pytest.raises(exc.UsageError, match="not both"):
            AsyncClient(api_key=KEY, http_client=ahttp, transport=httpx.MockTransport(ok))


@pytest.mark.anyio
async def test_secret_str_key_is_accepted(api: Api) -> None:
    options = {"api_key": pydantic.SecretStr(KEY)}
    await api.call(ok, "get", "v1_a", client_options=options)
    assert api.requests[0].headers["x-goog-api-key"] == KEY


def test_default_timeout_and_properties() -> None:
    with Client(api_key=KEY) as client:
        assert client._http.timeout == httpx.Timeout(600.0, connect=10.0) == DEFAULT_TIMEOUT
        assert client.max_retries == 4
        assert client.base_url == "https://generativelanguage.googleapis.com"
        assert client.api_version == "v1beta"
    with Client(api_key=KEY, timeout=5.0) as client:
        assert client._http.timeout == httpx.Timeout(5.0)


def test_external_http_client_is_used_and_left_open() -> None:
    with httpx.Client(transport=httpx.MockTransport(ok), timeout=3.0) as http:
        client = Client(api_key=KEY, http_client=http)
        assert client.interactions.get("v1_a").id == "v1_done"
        client.close()
        assert not http.is_closed
        # An explicit timeout is applied per request; otherwise the client's own stays.
        seen: list[Any] = []

        def capture(request: httpx.Request) -> httpx.Response:
            seen.append(request.extensions["timeout"])
            return ok(request)

    with httpx.Client(transport=httpx.MockTransport(capture), timeout=3.0) as http:
        Client(api_key=KEY, http_client=http).interactions.get("v1_a")
        Client(api_key=KEY, http_client=http, timeout=7.0).interactions.get("v1_a")
    assert [t["read"] for t in seen] == [3.0, 7.0]


@pytest.mark.anyio
async def test_async_external_http_client_is_left_open() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(ok)) as http:
        async with AsyncClient(api_key=KEY, http_client=http) as client:
            assert (await client.interactions.get("v1_a")).id == "v1_done"
        assert not http.is_closed


@pytest.mark.anyio
async def test_public_sleep_uses_the_injected_sleep() -> None:
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    async with AsyncClient(api_key=KEY, sleep=sleep, transport=httpx.MockTransport(ok)) as client:
        await client.sleep(5.0)
    with Client(api_key=KEY, sleep=waited.append, transport=httpx.MockTransport(ok)) as sync:
        sync.sleep(2.0)
    assert waited == [5.0, 2.0]


# --- twins: the same settings, the other flavour ------------------------------------------


@pytest.mark.anyio
async def test_async_twin_keeps_settings_transport_and_sleep() -> None:
    seen: list[httpx.Request] = []
    waited: list[float] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503) if len(seen) == 1 else ok(request)

    options: dict[str, Any] = {"base_url": "http://127.0.0.1:9", "api_version": "v9"}
    options |= {"api_revision": None, "max_retries": 1, "headers": {"X-A": "1"}}
    with Client(
        api_key=KEY, transport=httpx.MockTransport(handle), sleep=waited.append, **options
    ) as client:
        client._retry = fixed(max_retries=1)
        async with client.async_twin() as twin:
            assert repr(twin) == "AsyncClient(base_url='http://127.0.0.1:9', api_version='v9')"
            assert (await twin.interactions.get("v1_a")).id == "v1_done"
            await twin.sleep(3.0)
    assert waited == [0.5, 3.0]
    assert [str(r.url) for r in seen] == [
        "http://127.0.0.1:9/v9/interactions/v1_a?stream=false"
    ] * 2
    assert seen[0].headers["x-goog-api-key"] == KEY
    assert seen[0].headers["x-a"] == "1"
    assert "api-revision" not in seen[0].headers


@pytest.mark.anyio
async def test_sync_twin_keeps_settings_and_waits_on_the_loop() -> None:
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    transport = httpx.MockTransport(ok)
    async with AsyncClient(api_key=KEY, transport=transport, sleep=sleep) as client:
        with client.sync_twin() as twin:
            assert twin.max_retries == 4
            result = await anyio.to_thread.run_sync(twin.interactions.get, "v1_a")
            assert result.id == "v1_done"
            await anyio.to_thread.run_sync(twin.sleep, 2.0)
            assert waited == [2.0]
            with pytest.raises(exc.UsageError, match="worker thread"):
                twin.sleep(1.0)


@pytest.mark.anyio
async def test_twins_with_default_sleep_and_no_transport() -> None:
    with Client(api_key=KEY) as client:
        async with client.async_twin() as twin:
            assert not twin._custom_sleep
            assert twin._sleep is anyio.sleep
    async with AsyncClient(api_key=KEY) as aclient:
        with aclient.sync_twin() as sync:
            assert not sync._custom_sleep


class SyncOnly(httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:  # pragma: no cover
        return ok(request)


def test_twins_that_cannot_be_built() -> None:
    sync_only = Client(api_key=KEY, transport=SyncOnly())
    with sync_only, pytest.raises(exc.UsageError, match="AsyncBaseTransport"):
        sync_only.async_twin()
    with httpx.Client() as http, pytest.raises(exc.UsageError, match="http_client"):
        Client(api_key=KEY, http_client=http).async_twin()


# --- the key never leaks -------------------------------------------------------------------


def _leak_checks(error: BaseException, client: object, caplog: pytest.LogCaptureFixture) -> None:
    texts = [str(error), repr(error), "".join(traceback.format_exception(error)), repr(client)]
    request = getattr(error, "request", None)
    if request is not None:
        texts.append(repr(request.headers))
        texts.append(str(list(request.headers.items())))
        assert request.headers.get("x-goog-api-key") in (None, "[REDACTED]")
    response = getattr(error, "response", None)
    if response is not None:
        texts.append(str(list(response.request.headers.items())))
    cause = error.__cause__
    if isinstance(cause, httpx.RequestError):
        texts.append(str(list(cause.request.headers.items())))
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.args) for record in caplog.records]
    for text in texts:
        assert KEY not in text


LEAKY_REPLIES: list[Callable[[], httpx.Response | Exception]] = [
    *[
        partial(httpx.Response, status, json={"error": {"message": "no"}})
        for status, _ in STATUS_CLASSES
    ],
    partial(httpx.Response, 401, json={"error": {"message": f"API key {KEY} not valid"}}),
    partial(httpx.Response, 500, text=f"proxy saw x-goog-api-key: {KEY}"),
    partial(httpx.Response, 200, content=b"{not json"),
    partial(httpx.ConnectError, "refused"),
    partial(httpx.ReadTimeout, "slow"),
    partial(httpx.ConnectError, f"refused {KEY}"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("make_reply", LEAKY_REPLIES)
async def test_key_never_leaks_from_errors(
    api: Api, caplog: pytest.LogCaptureFixture, make_reply: Callable[[], httpx.Response | Exception]
) -> None:
    caplog.set_level(logging.DEBUG)
    handler = replies(*[make_reply() for _ in range(3)])
    with pytest.raises(exc.APIError) as info:
        await api.call(handler, "create", model="m", policy=fixed(max_retries=2))
    assert api.requests[0].headers["x-goog-api-key"] == KEY  # it was really sent
    _leak_checks(info.value, api.client, caplog)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "headers", [{"x-goog-api-key": KEY}, {"Authorization": f"Bearer {KEY}"}], ids=["key", "bearer"]
)
@pytest.mark.parametrize("make_reply", LEAKY_REPLIES)
async def test_credentials_in_headers_never_leak_either(
    api: Api,
    caplog: pytest.LogCaptureFixture,
    headers: dict[str, str],
    make_reply: Callable[[], httpx.Response | Exception],
) -> None:
    caplog.set_level(logging.DEBUG)
    handler = replies(make_reply())
    options = {"api_key": None, "headers": headers}
    with pytest.raises(exc.APIError) as info:
        await api.call(handler, "create", model="m", client_options=options, policy=fixed(0))
    _leak_checks(info.value, api.client, caplog)
    assert KEY not in repr(vars(api.client))


def test_repr_shows_no_key() -> None:
    with Client(api_key=KEY) as client:
        assert repr(client) == (
            "Client(base_url='https://generativelanguage.googleapis.com', api_version='v1beta')"
        )
        assert KEY not in repr(vars(client))
        assert KEY not in repr(client._builder)


@pytest.mark.anyio
async def test_debug_log_records_requests_and_retries(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="agentkit")
    handler = replies(httpx.Response(503), httpx.Response(200, json=DONE))
    await api.call(handler, "get", "v1_a", policy=fixed())
    messages = [r.getMessage() for r in caplog.records if r.name == "agentkit"]
    assert messages[0].startswith("GET https://generativelanguage.googleapis.com/v1beta/")
    assert messages[0].endswith("-> 503")
    assert messages[1].startswith("retrying in 0.500 s (retry 1 of 4)")
    assert messages[2].endswith("-> 200")
    assert all(KEY not in m for m in messages)


@pytest.mark.anyio
async def test_a_key_in_the_base_url_stays_out_of_the_debug_log(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="agentkit")
    options = {"base_url": f"https://gateway.test/{KEY}"}  # a gateway taking it in the path
    await api.call(ok, "get", "v1_a", client_options=options)
    (message,) = [r.getMessage() for r in caplog.records if r.name == "agentkit"]
    assert (
        message
        == "GET https://gateway.test/[REDACTED]/v1beta/interactions/v1_a?stream=false -> 200"
    )


# --- end to end through agentkit.testing.Emulator ------------------------------------------


@pytest.mark.anyio
async def test_emulator_round_trip(api: Api) -> None:
    emulator = Emulator(Script(["Paris.", "Rome.", "Oslo."]))
    options = {"transport": emulator}
    first = await api.call(ok, "create", model=MODEL, input="Capital?", client_options=options)
    assert (first.status, first.output_text) == ("completed", "Paris.")
    again = await api.call(ok, "get", first.id, client_options=options)
    assert again.output_text == "Paris."
    started = await api.call(
        ok, "create", model=MODEL, input="Slow?", background=True, client_options=options
    )
    assert started.status == "in_progress"
    cancelled = await api.call(ok, "cancel", started.id, client_options=options)
    assert cancelled.status == "cancelled"
    assert await api.call(ok, "delete", first.id, client_options=options) is None
    with pytest.raises(exc.NotFoundError):
        await api.call(ok, "get", first.id, client_options=options)
    assert [(r.method, r.path) for r in emulator.requests] == [
        ("POST", "/v1beta/interactions"),
        ("GET", f"/v1beta/interactions/{first.id}"),
        ("POST", "/v1beta/interactions"),
        ("POST", f"/v1beta/interactions/{started.id}/cancel"),
        ("DELETE", f"/v1beta/interactions/{first.id}"),
        ("GET", f"/v1beta/interactions/{first.id}"),
    ]
    assert api.requests == []  # everything went to the emulator


@pytest.mark.anyio
async def test_emulator_faults_are_retried_with_retry_after(api: Api) -> None:
    emulator = Emulator(Script(["Hi."]))
    emulator.fail_next(2, 429, retry_after=1)
    result = await api.call(
        ok, "create", model=MODEL, input="x", client_options={"transport": emulator}
    )
    assert result.output_text == "Hi."
    assert api.delays == [1.0, 1.0]
    assert len(emulator.requests) == 3


@pytest.mark.anyio
async def test_emulator_rejects_invalid_requests_with_typed_errors(api: Api) -> None:
    emulator = Emulator(Script(["Hi."]))
    with pytest.raises(exc.NotFoundError) as info:
        await api.call(
            ok,
            "create",
            model=MODEL,
            input="x",
            previous_interaction_id="v1_missing",
            client_options={"transport": emulator},
        )
    assert info.value.message == "Error code: 404 - Interaction v1_missing not found."
    assert len(emulator.requests) == 1


async def _read_stream(kind: str, emulator: Emulator) -> list[str | None]:
    if kind == "async":
        async with (
            emulator.async_client() as client,
            await client.interactions.create(model=MODEL, input="x", stream=True) as stream,
        ):
            return [event.event_id async for event in stream]

    def run() -> list[str | None]:
        with (
            emulator.client() as client,
            client.interactions.create(model=MODEL, input="x", stream=True) as stream,
        ):
            return [event.event_id for event in stream]

    return await anyio.to_thread.run_sync(run)


@pytest.mark.anyio
async def test_emulator_stream_resumes_after_a_drop(api: Api) -> None:
    emulator = Emulator(Script(["One two three four five."] * 2))
    whole = await _read_stream(api.kind, emulator)
    emulator.drop_stream_after(3)
    resumed = await _read_stream(api.kind, emulator)
    assert len(whole) > 4
    assert resumed == [f"evt_{int(i.removeprefix('evt_')) + len(whole):06d}" for i in whole]  # type: ignore[union-attr]
    gets = [r for r in emulator.requests if r.method == "GET"]
    assert len(gets) == 1
    assert gets[0].query == {"last_event_id": resumed[2], "stream": "true"}


@pytest.mark.anyio
async def test_emulator_stream_error_event(api: Api) -> None:
    emulator = Emulator(Script(["Hello there."]))
    emulator.error_stream_after(2, code="resource_exhausted", message="quota")
    with pytest.raises(exc.StreamError) as info:
        await _read_stream(api.kind, emulator)
    assert info.value.code == "resource_exhausted"


@pytest.mark.anyio
async def test_loopback_server_with_real_sockets() -> None:
    # httpcore's real async generators: closing a stream early must not leave any of them
    # to the garbage collector (trio warns, and warnings are errors here).
    emulator = Emulator(Script(["A long answer in many words."] * 3))
    with emulator.serve() as base_url:
        async with AsyncClient(api_key=KEY, base_url=base_url) as client:
            result = await client.interactions.create(model=MODEL, input="x")
            assert result.output_text == "A long answer in many words."
            async with await client.interactions.create(
                model=MODEL, input="x", stream=True
            ) as stream:
                first = await stream.__anext__()
                assert first.event_type == "interaction.created"
            async with await client.interactions.create(
                model=MODEL, input="x", stream=True
            ) as stream:
                events = [event async for event in stream]
            assert events[-1].event_type == "interaction.completed"


def test_loopback_server_sync() -> None:
    emulator = Emulator(Script(["Sync answer here."] * 2))
    with emulator.serve() as base_url, Client(api_key=KEY, base_url=base_url) as client:
        with client.interactions.create(model=MODEL, input="x", stream=True) as stream:
            assert next(stream).event_type == "interaction.created"
        assert client.interactions.create(model=MODEL, input="x").output_text == (
            "Sync answer here."
        )
