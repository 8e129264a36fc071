"""Settings one run gives in place of its agent's: system instruction, generation config, tools
and output type; the agent itself is left as it was.

Every scenario runs through both drivers (`run` and `run_sync`) on asyncio and trio.
"""

from __future__ import annotations

from typing import Any

import pytest
from _agent_helpers import MODEL, Driver, Weather, bodies
from pydantic import BaseModel

from agentkit import Agent, Hooks, RunResult, UsageError, google_search, tool
from agentkit.events import RunCompleteEvent
from agentkit.testing import Emulator, Script, function_call
from agentkit.types import FunctionResultStep

pytestmark = pytest.mark.anyio


class Forecast(BaseModel):
    city: str
    celsius: float


@tool
def get_time(city: str) -> str:
    """The local time in a city."""
    return f"12:00 in {city}"


@pytest.fixture(params=["async", "sync"])
def run(request: pytest.FixtureRequest) -> Driver:
    return Driver(request.param)


def results(result: RunResult[Any]) -> list[FunctionResultStep]:
    return [step for step in result.steps if isinstance(step, FunctionResultStep)]


class Opaque:
    """A class pydantic has no schema for."""


def declared(body: dict[str, Any]) -> list[str]:
    return [tool.get("name", tool["type"]) for tool in body.get("tools", [])]


async def test_instruction_and_config_of_one_run_replace_the_agents(run: Driver) -> None:
    emulator = Emulator(Script(["One.", "Two."]))
    agent = Agent(
        MODEL,
        system_instruction="Be brief.",
        generation_config={"temperature": 0.2, "max_output_tokens": 64},
        client=emulator.async_client(),
    )

    await run(
        agent,
        "Hi",
        system_instruction="Answer in French.",
        generation_config={"thinking_level": "low"},
    )
    await run(agent, "Hi again")

    first, second = bodies(emulator)
    assert first["system_instruction"] == "Answer in French."
    assert first["generation_config"] == {"thinking_level": "low"}  # whole, not merged
    assert second["system_instruction"] == "Be brief."
    assert second["generation_config"] == {"temperature": 0.2, "max_output_tokens": 64}


async def test_the_tools_of_one_run_replace_the_agents(run: Driver) -> None:
    weather = Weather()
    script = Script([[function_call("get_time", {"city": "Oslo"})], "Noon.", "Plain."])
    emulator = Emulator(script)
    agent = Agent(MODEL, tools=[weather.tool], client=emulator.async_client())

    result = await run(agent, "Time in Oslo?", tools=[get_time, google_search()])
    plain = await run(agent, "And now?")

    assert result.output_text == "Noon."
    assert plain.output_text == "Plain."
    assert "12:00 in Oslo" in str(results(result)[0].result)
    call_body, answer_body, agent_body = bodies(emulator)
    assert declared(call_body) == declared(answer_body) == ["get_time", "google_search"]
    assert declared(agent_body) == ["get_weather"]
    assert weather.cities == []


async def test_a_call_of_a_tool_the_run_did_not_give_is_unknown(run: Driver) -> None:
    weather = Weather()
    emulator = Emulator(Script([[function_call("get_weather", {"city": "Oslo"})], "Sorry."]))
    agent = Agent(MODEL, tools=[weather.tool], client=emulator.async_client())

    result = await run(agent, "Weather?", tools=[get_time])

    assert weather.cities == []
    (answer,) = results(result)
    assert answer.is_error
    assert "Unknown tool 'get_weather'" in str(answer.result)


async def test_the_output_type_of_one_run(run: Driver) -> None:
    emulator = Emulator(Script(['{"city": "Oslo", "celsius": 4.5}', "Free text."]))
    agent = Agent(MODEL, client=emulator.async_client())

    result = await run(agent, "Forecast", output_type=Forecast)
    plain = await run(agent, "Chat")

    assert result.output == Forecast(city="Oslo", celsius=4.5)
    assert plain.output is None
    assert plain.output_text == "Free text."
    structured, free = bodies(emulator)
    assert structured["response_format"]["schema"] == Forecast.model_json_schema()
    assert "response_format" not in free


async def test_a_run_output_type_is_retried_like_the_agents(run: Driver) -> None:
    emulator = Emulator(Script(['{"city": "Oslo"}', '{"city": "Oslo", "celsius": 4.5}']))
    agent = Agent(MODEL, client=emulator.async_client())

    result = await run(agent, "Forecast", output_type=Forecast)

    assert result.output == Forecast(city="Oslo", celsius=4.5)
    assert "celsius: Field required" in str(bodies(emulator)[1]["input"])


async def test_a_paused_run_resumes_with_the_tools_given_again() -> None:
    @tool(needs_approval=True)
    def refund(order: str) -> str:
        """Refund an order."""
        return f"refunded {order}"

    emulator = Emulator(Script([[function_call("refund", {"order": "A1"})], "Refunded."]))
    agent = Agent(MODEL, client=emulator.async_client())

    paused = await agent.run("Refund A1", tools=[refund])
    (call,) = paused.pending_calls
    resumed = await agent.resume(paused, {call.id or "": True}, tools=[refund])

    assert resumed.output_text == "Refunded."
    assert "refunded A1" in str(results(resumed)[0].result)


async def test_stream_and_start_take_the_settings_of_a_run() -> None:
    emulator = Emulator(
        Script(['{"city": "Rome", "celsius": 20}', '{"city": "Oslo", "celsius": 1}'])
    )
    agent = Agent(MODEL, client=emulator.async_client())

    events = [event async for event in agent.stream("Rome", output_type=Forecast)]
    handle = await agent.start("Oslo", output_type=Forecast, system_instruction="JSON only.")
    result = await handle

    complete = events[-1]
    assert isinstance(complete, RunCompleteEvent)
    assert complete.result.output == Forecast(city="Rome", celsius=20)
    assert result.output == Forecast(city="Oslo", celsius=1)
    assert bodies(emulator)[1]["system_instruction"] == "JSON only."


def test_stream_sync_takes_the_settings_of_a_run() -> None:
    emulator = Emulator(Script(["Hej."]))
    agent = Agent(MODEL, client=emulator.async_client())

    events = list(agent.stream_sync("Hi", system_instruction="Swedish."))

    assert isinstance(events[-1], RunCompleteEvent)
    assert bodies(emulator)[0]["system_instruction"] == "Swedish."


async def test_bad_settings_of_a_run_are_refused_before_any_request() -> None:
    emulator = Emulator(Script([]))
    managed = Agent(agent="deep-research", client=emulator.async_client())
    agent = Agent(MODEL, client=emulator.async_client())

    with pytest.raises(UsageError, match="generation_config is only allowed with a model"):
        await managed.run("Go", generation_config={"temperature": 0})
    with pytest.raises(UsageError, match=r"output_type=.* has no JSON schema"):
        agent.run_sync("Go", output_type=Opaque)
    with pytest.raises(UsageError, match="system_instruction must be a str"):
        await agent.run("Go", system_instruction=["Be brief."])  # type: ignore[call-overload]
    with pytest.raises(UsageError, match="Cannot use 42 as a tool"):
        await agent.run("Go", tools=[42])  # type: ignore[list-item]
    assert emulator.requests == []


async def test_each_request_gets_its_own_response_format(run: Driver) -> None:
    def vandal(body: dict[str, Any]) -> None:
        body["response_format"]["schema"]["title"] = "Changed by a hook"

    emulator = Emulator(Script(['{"city": "Oslo", "celsius": 1}'] * 2))
    edited = Agent(MODEL, hooks=Hooks(before_request=vandal), client=emulator.async_client())
    other = Agent(MODEL, output_type=Forecast, client=emulator.async_client())

    await run(edited, "Forecast", output_type=Forecast)
    await run(other, "Forecast")

    assert bodies(emulator)[1]["response_format"]["schema"] == Forecast.model_json_schema()


def test_an_mcp_server_belongs_to_the_agent_not_to_a_run() -> None:
    mcp = pytest.importorskip("agentkit.mcp")
    server = mcp.MCPServerStdio("python", args=["-c", "pass"])
    agent = Agent(MODEL, client=Emulator(Script([])).async_client())

    with pytest.raises(UsageError, match=r"give it to Agent\(tools=\.\.\.\)"):
        agent.run_sync("Go", tools=[server])
