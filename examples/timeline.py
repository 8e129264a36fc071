"""See what a run did: its timeline as one self-contained HTML page.

A run keeps the timings of its requests (with retries), polls and tool calls. This one asks for
four tools at once, one of which fails; the page shows them side by side on a timeline, each
step expandable (arguments, results), and the tokens of each turn. It opens offline.

    python examples/timeline.py [PAGE.html]

`agentkit run "..." --save run.json` then `agentkit view run.json` does the same from the
command line; in Jupyter, a `RunResult` shows as a compact timeline by itself.
"""

import logging
import sys
import tempfile
from pathlib import Path

import anyio
from _backend import async_client_for_examples

from agentkit import Agent, tool


@tool
async def get_weather(city: str) -> dict:
    """Get the current weather in a city.

    Args:
        city: The city name.
    """
    await anyio.sleep(0.6)
    return {"city": city, "temperature": 18, "sky": "cloudy"}


@tool
async def get_air_quality(city: str) -> dict:
    """Get the air quality index of a city.

    Args:
        city: The city name.
    """
    await anyio.sleep(0.35)
    return {"city": city, "aqi": 42, "level": "good"}


@tool
async def get_pollen(city: str) -> str:
    """Get today's pollen forecast for a city.

    Args:
        city: The city name.
    """
    await anyio.sleep(0.2)
    raise ConnectionError("the pollen service is down")  # the model gets an error result


@tool
async def get_events(city: str) -> list[str]:
    """List today's outdoor events in a city.

    Args:
        city: The city name.
    """
    await anyio.sleep(0.45)
    return ["Market on Place Carnot", "Jazz in the park"]


# A raising tool is logged with its traceback (usually a bug); this one fails on purpose.
logging.getLogger("agentkit.tool").setLevel(logging.ERROR)

agent = Agent(
    "gemini-3.5-flash",
    tools=[get_weather, get_air_quality, get_pollen, get_events],
    system_instruction="Call every tool you need at once, then answer in two sentences.",
    client=async_client_for_examples(),
)


async def main() -> None:
    result = await agent.run("Is today a good day to be outside in Lyon?")
    timeline = result.timeline
    for span in timeline.spans:
        outcome = "failed" if span.error else "ok"
        print(f"  {span.label:<16} {span.start:6.2f} s -> {span.end:6.2f} s  {outcome}")
    page = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.gettempdir()) / "run.html"
    result.to_html(page)
    print(f"{len(timeline.tool_calls)} tool calls in {timeline.duration:.2f} s")
    print(f"Wrote the page to {page}")


if __name__ == "__main__":
    anyio.run(main)
