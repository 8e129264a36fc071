"""`Agent.stream(..., background=True)`: a background run streamed live, on both drivers."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from _agent_bg_helpers import DRIVERS, MODEL, final_result, stream, streamed_text

from agentkit import Agent, tool
from agentkit.events import ToolCallEvent, ToolResultEvent
from agentkit.testing import Emulator, Script, function_call

pytestmark = pytest.mark.anyio

ANSWER = "Sunny in Paris, all day long."


def create_requests(emulator: Emulator) -> list[dict[str, Any]]:
    return [
        r.body for r in emulator.requests if r.method == "POST" and r.path.endswith("/interactions")
    ]


def weather_agent(emulator: Emulator, calls: list[str]) -> Agent[Any, Any]:
    @tool
    def get_weather(city: str) -> str:
        """Weather in a city."""
        calls.append(city)
        return "sunny"

    return Agent(MODEL, tools=[get_weather], client=emulator.async_client())


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_background_run_streams_live(driver: str) -> None:
    emulator = Emulator(Script([function_call("get_weather", {"city": "Paris"}), ANSWER]))
    calls: list[str] = []
    agent = weather_agent(emulator, calls)

    with anyio.fail_after(10):
        events = await stream(agent, "Weather in Paris?", driver, background=True)

    result = final_result(events)
    assert result.output_text == ANSWER
    assert streamed_text(events) == ANSWER
    assert calls == ["Paris"]
    assert [type(e) for e in events if isinstance(e, ToolCallEvent | ToolResultEvent)] == [
        ToolCallEvent,
        ToolResultEvent,
    ]
    sent = create_requests(emulator)
    assert [(body["background"], body["stream"]) for body in sent] == [(True, True)] * 2
    assert result.state.background is True


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_broken_background_stream_is_resumed_not_created_again(driver: str) -> None:
    emulator = Emulator(Script([ANSWER]))
    agent = Agent(MODEL, client=emulator.async_client())
    emulator.drop_stream_after(3)

    with anyio.fail_after(10):
        events = await stream(agent, "Weather?", driver, background=True)

    assert final_result(events).output_text == ANSWER
    assert streamed_text(events) == ANSWER
    assert len(create_requests(emulator)) == 1
    (resume,) = [r.query for r in emulator.requests if r.method == "GET"]
    assert resume["stream"] == "true"
    assert "last_event_id" in resume  # from the last event received: no text twice
