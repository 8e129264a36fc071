"""Runs on the emulator with something to show: a parallel batch, a failed tool, a retry."""

from __future__ import annotations

import json
import re
from typing import Any

from agentkit import Agent, RunResult, tool
from agentkit.testing import Emulator, Script, function_call

MODEL = "gemini-test"
CALL_IDS = ["call_paris", "call_rome", "call_broken"]


@tool
def weather(city: str) -> dict[str, Any]:
    """Get the weather of a city."""
    return {"city": city, "temperature": 21}


@tool
def broken(reason: str) -> str:
    """A tool that fails."""
    raise ValueError(f"no luck: {reason}")


def parallel_calls() -> list[Any]:
    """Three calls of one turn: the weather in Paris and Rome, and a call of `broken`."""
    return [
        function_call("weather", {"city": "Paris"}, id="call_paris"),
        function_call("weather", {"city": "Rome"}, id="call_rome"),
        function_call("broken", {"reason": "storm"}, id="call_broken"),
    ]


def multi_tool_run(
    *, background: bool = False, answer: str = "Paris and Rome are mild."
) -> RunResult[Any]:
    """Three calls in one turn (one fails), the first request retried once, then the answer."""
    emulator = Emulator(Script([parallel_calls(), answer]), background_polls=1)
    emulator.fail_next(1, 503)
    with emulator.client() as client:
        agent = Agent(MODEL, tools=[weather, broken], background=background, client=client)
        return agent.run_sync("Weather in Paris and Rome?")


def embedded_data(page: str) -> dict[str, Any]:
    """The run data a page carries in its JSON block."""
    found = re.search(
        r'<script type="application/json" id="agentkit-data">(.*?)</script>', page, re.S
    )
    assert found is not None
    data: dict[str, Any] = json.loads(found[1])
    return data
