"""Invalid tool arguments: the model is told what is wrong and may correct them, within a budget.

Every scenario runs through both drivers (`run` and `run_sync`) on asyncio and trio.
"""

from __future__ import annotations

from typing import Any

import pytest
from _agent_helpers import MODEL, Driver, Weather, bodies, result_text

from agentkit import Agent, UsageError, tool
from agentkit.events import ToolCallEvent, ToolResultEvent
from agentkit.exceptions import ToolRetriesExceeded
from agentkit.testing import Emulator, Script, function_call

pytestmark = pytest.mark.anyio

BAD = {"city": 7}


@pytest.fixture(params=["async", "sync"])
def run(request: pytest.FixtureRequest) -> Driver:
    return Driver(request.param)


def errors_sent(emulator: Emulator) -> list[str]:
    """The error results sent to the model, each once (a stateless run sends them again)."""
    sent: dict[str, str] = {}
    for body in bodies(emulator):
        steps: list[dict[str, Any]] | str = body["input"]
        for step in steps if isinstance(steps, list) else []:
            if step.get("type") == "function_result" and step.get("is_error"):
                sent[step["call_id"]] = result_text(step)
    return list(sent.values())


@pytest.mark.parametrize("store", [True, False], ids=["stored", "stateless"])
async def test_the_model_corrects_its_arguments_and_the_tool_runs_once(
    run: Driver, store: bool
) -> None:
    weather = Weather()
    script = Script(
        [
            [function_call("get_weather", BAD)],
            [function_call("get_weather", {"city": "Paris"})],
            "Sunny in Paris.",
        ]
    )
    emulator = Emulator(script)
    agent = Agent(MODEL, tools=[weather.tool], store=store, client=emulator.async_client())

    result = await run(agent, "Weather in Paris?")

    assert result.output_text == "Sunny in Paris."
    assert weather.cities == ["Paris"]  # never called with the invalid arguments
    (error,) = errors_sent(emulator)
    assert "city" in error
    assert "valid string" in error
    assert result.state.invalid_calls == {}


async def test_invalid_calls_past_the_agent_budget_stop_the_run(run: Driver) -> None:
    weather = Weather()
    emulator = Emulator(Script([[function_call("get_weather", BAD)]] * 3))
    agent = Agent(MODEL, tools=[weather.tool], tool_retries=1, client=emulator.async_client())

    with pytest.raises(ToolRetriesExceeded, match=r"2 times in a row \(retries=1\)") as caught:
        await run(agent, "Weather in Paris?")

    assert caught.value.tool == "get_weather"
    assert caught.value.call.arguments == BAD
    assert weather.cities == []
    assert len(bodies(emulator)) == 2  # the run stopped instead of sending the error again
    partial = caught.value.partial
    assert partial is not None
    assert [step.type for step in partial.steps].count("function_call") == 2


async def test_a_tool_budget_overrides_the_agent_default(run: Driver) -> None:
    @tool(retries=0)
    def charge(amount_cents: int) -> str:
        """Charge the card."""
        raise AssertionError("never called with invalid arguments")

    emulator = Emulator(Script([[function_call("charge", {"amount_cents": "lots"})]]))
    agent = Agent(MODEL, tools=[charge], tool_retries=5, client=emulator.async_client())

    with pytest.raises(ToolRetriesExceeded, match=r"\(retries=0\)") as caught:
        await run(agent, "Charge me")

    assert caught.value.tool == "charge"
    assert "amount_cents" in str(caught.value)


async def test_the_default_budget_tells_the_model_twice(run: Driver) -> None:
    weather = Weather()
    emulator = Emulator(Script([[function_call("get_weather", BAD)]] * 3))
    agent = Agent(MODEL, tools=[weather.tool], client=emulator.async_client())

    with pytest.raises(ToolRetriesExceeded, match=r"3 times in a row \(retries=2\)"):
        await run(agent, "Weather in Paris?")

    assert len(errors_sent(emulator)) == 2


async def test_invalid_calls_are_reported_as_run_events() -> None:
    weather = Weather()
    script = Script(
        [[function_call("get_weather", BAD), function_call("get_weather", {"city": "Oslo"})], "ok"]
    )
    agent = Agent(MODEL, tools=[weather.tool], client=Emulator(script).async_client())

    events = [event async for event in agent.stream("Weather?")]

    calls = [event.arguments for event in events if isinstance(event, ToolCallEvent)]
    results = {
        event.call.arguments["city"]: event.ok
        for event in events
        if isinstance(event, ToolResultEvent)
    }
    assert calls == [BAD, {"city": "Oslo"}]
    assert results == {7: False, "Oslo": True}


def test_retries_must_be_a_whole_number() -> None:
    def lookup(key: str) -> str:
        return key

    wrong: list[Any] = [-1, True, 1.5]
    for retries in wrong:
        with pytest.raises(UsageError, match="retries must be a whole number >= 0"):
            tool(retries=retries)(lookup)


def test_a_tool_keeps_its_retries_when_renamed() -> None:
    @tool(retries=4)
    def lookup(key: str) -> str:
        return key

    assert lookup.retries == 4
    assert tool(lookup).retries == 4
    assert tool(name="find", retries=1)(lookup).retries == 1
