"""A stateless (`store=false`) stream that breaks: the server kept nothing to resume, so the
run sends the same request again instead of failing with a 404 on a resume.

Every scenario runs through both drivers (`stream` and `stream_sync`) on asyncio and trio.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from _agent_bg_helpers import DRIVERS, MODEL, final_result, run, stream
from _agent_helpers import bodies

from agentkit import Agent, Client, Hooks
from agentkit.exceptions import APIConnectionError, StreamNotResumable
from agentkit.testing import Emulator, Script, function_call

pytestmark = pytest.mark.anyio

ANSWER = "One two three four five six."


def creates(emulator: Emulator) -> list[dict[str, Any]]:
    return bodies(emulator)


def gets(emulator: Emulator) -> list[str]:
    return [r.path for r in emulator.requests if r.method == "GET"]


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_broken_stateless_stream_sends_the_request_again(driver: str) -> None:
    emulator = Emulator(Script([ANSWER, ANSWER]))  # one answer for each request
    agent = Agent(MODEL, store=False, client=emulator.async_client())
    emulator.drop_stream_after(3)

    with anyio.fail_after(10):
        events = await stream(agent, "Count.", driver)

    result = final_result(events)
    assert result.output_text == ANSWER
    first, second = creates(emulator)
    assert first == second  # the same request, nothing stored to fork
    assert gets(emulator) == []  # no resume of an interaction the server does not keep
    assert result.state.turns == 1


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_stateless_run_with_tools_goes_on_after_a_broken_stream(driver: str) -> None:
    calls: list[str] = []

    def get_weather(city: str) -> str:
        """Weather in a city."""
        calls.append(city)
        return "sunny"

    emulator = Emulator(Script([[function_call("get_weather", {"city": "Oslo"})], ANSWER, ANSWER]))
    agent = Agent(MODEL, store=False, tools=[get_weather], client=emulator.async_client())

    dropped: list[bool] = []

    def drop_the_answer(body: dict[str, Any]) -> None:
        if len(body["input"]) > 1 and not dropped:  # the first request with the tool's result
            dropped.append(True)
            emulator.drop_stream_after(2)

    agent.hooks = Hooks(before_request=drop_the_answer)

    with anyio.fail_after(10):
        result = final_result(await stream(agent, "Weather?", driver))

    assert result.output_text == ANSWER
    assert calls == ["Oslo"]  # the tool ran once: only the answer's request was sent again
    assert [len(body["input"]) for body in creates(emulator)] == [1, 3, 3]


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_stateless_stream_that_keeps_breaking_fails_the_run(driver: str) -> None:
    emulator = Emulator(Script([ANSWER] * 3))
    agent = Agent(MODEL, store=False, client=emulator.async_client())
    agent.hooks = Hooks(before_request=lambda body: emulator.drop_stream_after(2))

    with anyio.fail_after(10), pytest.raises(StreamNotResumable, match="stateless") as caught:
        await stream(agent, "Count.", driver)

    assert len(creates(emulator)) == 3  # the first request and two more
    assert gets(emulator) == []
    assert caught.value.partial is not None
    assert caught.value.partial.status == "error"


def test_a_stateless_request_that_never_connects_is_retried_by_the_client_only() -> None:
    attempts: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("refused", request=request)

    client = Client(
        api_key="test-key", max_retries=1, transport=httpx.MockTransport(refuse), sleep=no_wait
    )
    agent = Agent(MODEL, store=False, client=client)

    with pytest.raises(APIConnectionError) as caught:
        agent.run_sync("Count.")

    assert not isinstance(caught.value, StreamNotResumable)
    assert len(attempts) == 2  # the first and the client's one retry: no resend on top


def no_wait(seconds: float) -> None:
    pass


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_broken_stored_stream_still_resumes_where_it_broke(driver: str) -> None:
    emulator = Emulator(Script([ANSWER]))
    agent = Agent(MODEL, client=emulator.async_client())
    emulator.drop_stream_after(3)

    with anyio.fail_after(10):
        result = await run(agent, "Count.", driver)

    assert result.output_text == ANSWER
    assert len(creates(emulator)) == 1
    assert len(gets(emulator)) == 1


def test_a_client_stream_of_a_stateless_create_says_to_send_it_again() -> None:
    emulator = Emulator(Script([ANSWER]))
    emulator.drop_stream_after(3)
    client = emulator.client()

    with (
        pytest.raises(StreamNotResumable, match="only sending the request again can"),
        client.interactions.create(model=MODEL, input="Count.", store=False, stream=True) as events,
    ):
        for _ in events:
            pass

    assert gets(emulator) == []
