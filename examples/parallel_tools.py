"""Parallel tools: every function call of one model response runs at the same time.

The model may ask for several calls at once (here: the weather in three cities). agentkit
runs async tools together in one task group and sync tools in worker threads, then sends
all the results back in call order, in one request.

    python examples/parallel_tools.py
"""

import time

import anyio
from _backend import async_client_for_examples

from agentkit import Agent, Hooks, tool
from agentkit.types import FunctionCallStep, FunctionResultStep

DELAY = 0.5  # each tool pretends to wait this long on a slow service


@tool
async def get_weather(city: str) -> dict:
    """Get the current weather in a city.

    Args:
        city: The city name.
    """
    await anyio.sleep(DELAY)
    return {"city": city, "temperature": 18, "sky": "cloudy"}


@tool
async def get_air_quality(city: str) -> dict:
    """Get the air quality index of a city.

    Args:
        city: The city name.
    """
    await anyio.sleep(DELAY)
    return {"city": city, "aqi": 42, "level": "good"}


@tool
def get_pollen(city: str) -> str:
    """Get today's pollen forecast for a city (a sync tool: it runs in a worker thread).

    Args:
        city: The city name.
    """
    time.sleep(DELAY)  # noqa: TID251 - blocking I/O is fine in a sync tool
    return f"{city}: low pollen"


# Hooks see each tool call start and finish: count how many run at the same time.
running = peak = 0


def tool_started(call: FunctionCallStep) -> None:
    global running, peak
    running += 1
    peak = max(peak, running)


def tool_finished(call: FunctionCallStep, result: FunctionResultStep) -> None:
    global running
    running -= 1


agent = Agent(
    "gemini-3.5-flash",
    tools=[get_weather, get_air_quality, get_pollen],
    system_instruction="Call every tool you need at once, then summarise in two sentences.",
    hooks=Hooks(before_tool=tool_started, after_tool=tool_finished),
    client=async_client_for_examples(),
)


async def main() -> None:
    result = await agent.run("Weather, air quality and pollen in Lyon?")
    calls = result.function_calls
    print(f"{len(calls)} tool calls: {', '.join(call.name for call in calls)}")
    print(f"Up to {peak} tools ran at the same time")
    print(f"Answer: {result.output_text}")


anyio.run(main)
