"""Every request body sent on the wire fits the official SDK's request types.

`test_client_conformance.py` checks the bodies `client.interactions.create(...)` builds from
hand-written arguments. Here the bodies are the ones really sent during whole agent runs
(stateful and stateless tool loops, server tools, structured output, streaming, background
runs, approvals, continuation hops, managed agents, media input), as the emulator received
them. Each must parse into `CreateModelInteraction` / `CreateAgentInteraction` with no extra
key, no `Unknown*` object and no unrecognised enum value, and dump back unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from google.genai._gaos.types.interactions.createagentinteraction import CreateAgentInteraction
from google.genai._gaos.types.interactions.createmodelinteraction import CreateModelInteraction
from pydantic import BaseModel
from test_client_conformance import sdk_dump, strangers

from agentkit import Agent, code_execution, google_search, image, tool, url_context
from agentkit.testing import Emulator, Reply, Script, function_call, text, thought

MODEL = "gemini-3-flash-preview"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
URL = "https://example.com/a.jpg"


@tool
def get_weather(city: str, days: int = 1) -> dict[str, Any]:
    """Get the weather forecast for a city.

    Args:
        city: The city name, e.g. Paris.
        days: How many days ahead.
    """
    return {"city": city, "days": days, "sky": "sunny"}


@tool
def broken(city: str) -> str:
    """A tool that always fails.

    Args:
        city: Any city.
    """
    raise LookupError(f"no station in {city}")


@tool(needs_approval=True)
def send_payment(recipient: str, amount: float) -> str:
    """Send money to someone.

    Args:
        recipient: Who gets the money.
        amount: How much, in EUR.
    """
    return f"sent {amount} to {recipient}"


class City(BaseModel):
    name: str
    population: int


def stateful_tools(emulator: Emulator) -> None:
    agent = Agent(
        MODEL,
        tools=[get_weather, broken, google_search(), code_execution(), url_context()],
        system_instruction="Be brief.",
        generation_config={"thinking_level": "low", "thinking_summaries": "auto"},
        client=emulator.client(),
    )
    first = agent.run_sync("Weather in Paris? https://example.com/")
    agent.run_sync("And tomorrow?", previous=first)


def stateless_tools(emulator: Emulator) -> None:
    agent = Agent(
        MODEL,
        tools=[get_weather, google_search()],
        generation_config={"thinking_summaries": "auto"},
        store=False,
        client=emulator.client(),
    )
    first = agent.run_sync("Weather in Oslo?")
    agent.run_sync("And in Rome?", previous=first)


def structured_output(emulator: Emulator) -> None:
    Agent(MODEL, output_type=City, tools=[get_weather], client=emulator.client()).run_sync(
        "Tell me about Lyon."
    )


def streaming(emulator: Emulator) -> None:
    agent = Agent(MODEL, tools=[get_weather], store=False, client=emulator.client())
    for _ in agent.stream_sync("Weather in Paris?"):
        pass
    emulator.drop_stream_after(4)
    for _ in Agent(MODEL, tools=[get_weather], client=emulator.client()).stream_sync("Again?"):
        pass


def background(emulator: Emulator) -> None:
    Agent(MODEL, tools=[get_weather], background=True, client=emulator.client()).run_sync(
        "Long report on Paris weather."
    )


def approvals(emulator: Emulator) -> None:
    emulator.behaviour = Script(
        [
            function_call("send_payment", {"recipient": "Alice", "amount": 450}),
            "Paid.",
            function_call("send_payment", {"recipient": "Bob", "amount": 10}),
            "Not paid.",
        ]
    )
    for store in (True, False):
        agent = Agent(MODEL, tools=[send_payment], store=store, client=emulator.client())
        paused = agent.run_sync("Pay")
        call_id = paused.pending_calls[0].id
        assert call_id is not None
        agent.resume_sync(paused, approvals={call_id: store})


def continuation_hops(emulator: Emulator) -> None:
    emulator.behaviour = Script(
        [Reply([thought("Plan."), text("one two three four five six")], hops=3)] * 2
    )
    for store in (True, False):
        Agent(MODEL, store=store, client=emulator.client()).run_sync("Count.")


def media_input(emulator: Emulator) -> None:
    agent = Agent(MODEL, client=emulator.client())
    agent.run_sync([{"type": "text", "text": "Describe these."}, image(PNG), image(URL)])


def managed_agent(emulator: Emulator) -> None:
    Agent(
        agent="deep-research-pro-preview-12-2025",
        agent_config={"type": "deep-research", "thinking_summaries": "auto"},
        tools=[google_search()],
        background=True,
        client=emulator.client(),
    ).run_sync("Research the history of Go.")
    Agent(
        agent="antigravity-preview-05-2026", environment="remote", client=emulator.client()
    ).run_sync("Build it.")


SCENARIOS: dict[str, Callable[[Emulator], None]] = {
    "stateful_tools": stateful_tools,
    "stateless_tools": stateless_tools,
    "structured_output": structured_output,
    "streaming": streaming,
    "background": background,
    "approvals": approvals,
    "continuation_hops": continuation_hops,
    "media_input": media_input,
    "managed_agent": managed_agent,
}


def sent_bodies(scenario: Callable[[Emulator], None]) -> list[dict[str, Any]]:
    emulator = Emulator()
    scenario(emulator)
    bodies = [r.body for r in emulator.requests if r.method == "POST" and r.path.endswith("s")]
    assert bodies, "the scenario sent no create request"
    return bodies


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_body_an_agent_run_sends_fits_the_sdk(name: str) -> None:
    for body in sent_bodies(SCENARIOS[name]):
        kind = CreateAgentInteraction if "agent" in body else CreateModelInteraction
        parsed = kind.model_validate(body)
        assert strangers(parsed) == [], body
        assert sdk_dump(parsed) == body


@pytest.mark.parametrize("name", SCENARIOS)
def test_other_requests_carry_only_documented_query_parameters(name: str) -> None:
    emulator = Emulator()
    SCENARIOS[name](emulator)
    for request in emulator.requests:
        if request.method != "POST" or request.path.endswith("/cancel"):
            assert request.body is None
        assert set(request.query) <= {"stream", "last_event_id", "include_input"}
        assert request.path.startswith("/v1beta/interactions")


def test_the_scenarios_send_every_kind_of_step_and_tool() -> None:
    steps: set[str] = set()
    tools: set[str] = set()
    for scenario in SCENARIOS.values():
        for body in sent_bodies(scenario):
            inputs: list[dict[str, Any]] = (
                body["input"] if isinstance(body.get("input"), list) else []
            )
            steps |= {str(item["type"]) for item in inputs if "type" in item}
            tools |= {str(t["type"]) for t in body.get("tools", [])}
    assert {"user_input", "thought", "function_call", "function_result", "model_output"} <= steps
    assert {"google_search_call", "google_search_result"} <= steps
    assert tools == {"function", "google_search", "code_execution", "url_context"}
