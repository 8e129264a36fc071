"""Testing your own agent with agentkit's pytest plugin (it comes with agentkit).

The fixtures give each test a fresh emulator of the Interactions API and clients bound to it;
no key, no network. From the repository root:

    pytest examples/tests/test_my_agent.py
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from agentkit import Agent, AsyncClient, Client, tool
from agentkit.testing import Emulator, Script, function_call

# -- the code under test: your tools and your agent -------------------------------------------


@tool
def get_weather(city: str) -> dict[str, Any]:
    """Get the current weather in a city.

    Args:
        city: The city name, e.g. Paris.
    """
    return {"city": city, "temperature": 21, "sky": "sunny"}


def weather_agent(client: Client | AsyncClient) -> Agent:
    return Agent(
        "gemini-3.5-flash",
        tools=[get_weather],
        system_instruction="You are a concise weather assistant.",
        client=client,
    )


# -- its tests ----------------------------------------------------------------------------------


def test_the_agent_answers_from_the_weather_tool(
    agentkit_client: Client, agentkit_script: Callable[..., Script], agentkit_emulator: Emulator
) -> None:
    agentkit_script(
        function_call("get_weather", {"city": "Paris"}),  # turn 1: the model calls the tool
        "Sunny in Paris, 21 degrees.",  # turn 2: it answers
    )

    result = weather_agent(agentkit_client).run_sync("What's the weather in Paris?")

    assert result.output_text == "Sunny in Paris, 21 degrees."
    # What the agent sent back to the model, as the API saw it:
    (sent,) = agentkit_emulator.function_results
    assert sent["name"] == "get_weather"
    assert sent["call_id"] == agentkit_emulator.function_calls[0]["id"]
    assert "sunny" in str(sent["result"])


@pytest.mark.anyio
async def test_the_agent_works_async_with_the_default_model(
    agentkit_async_client: AsyncClient, agentkit_emulator: Emulator
) -> None:
    # Unscripted, the emulated model calls every tool once, then answers from the results.
    result = await weather_agent(agentkit_async_client).run("Weather, please.")

    assert result.status == "completed"
    assert [call["name"] for call in agentkit_emulator.function_calls] == ["get_weather"]


def test_the_agent_rides_out_a_rate_limit(
    agentkit_client: Client, agentkit_script: Callable[..., Script], agentkit_emulator: Emulator
) -> None:
    agentkit_script("Sunny.")
    agentkit_emulator.fail_next(1, 429, retry_after=2)

    result = weather_agent(agentkit_client).run_sync("Weather in Rome?")

    assert result.output_text == "Sunny."
    assert agentkit_emulator.sleeps == [2.0]  # the retry waited as asked, without sleeping
