"""Streaming: print the answer as it is generated, and each tool call as it happens.

`agent.stream_sync()` (or `async for ... in agent.stream()`) yields run events across every
turn of the run; the last one, `RunCompleteEvent`, carries the usual `RunResult`.

    python examples/streaming.py
"""

from _backend import client_for_examples

from agentkit import Agent, tool
from agentkit.events import (
    RunCompleteEvent,
    ServerToolEvent,
    TextDeltaEvent,
    ToolCallEvent,
    ToolResultEvent,
)


@tool
def search_flights(origin: str, destination: str, date: str) -> list[dict]:
    """Find direct flights between two airports on a date.

    Args:
        origin: IATA code of the departure airport, e.g. CDG.
        destination: IATA code of the arrival airport, e.g. JFK.
        date: The date, YYYY-MM-DD.
    """
    return [
        {"flight": "AF 006", "departs": f"{date} 10:30", "price_eur": 640},
        {"flight": "DL 263", "departs": f"{date} 13:05", "price_eur": 585},
    ]


agent = Agent(
    "gemini-3.5-flash",
    tools=[search_flights],
    system_instruction="You are a travel agent. Recommend one flight and say why.",
    client=client_for_examples(),
)

for event in agent.stream_sync("Find me a flight from Paris CDG to New York JFK on 2026-07-14."):
    if isinstance(event, TextDeltaEvent):
        print(event.text, end="", flush=True)  # the answer, piece by piece
    elif isinstance(event, ToolCallEvent):
        print(f"[calling {event.name} with {event.arguments}]", flush=True)
    elif isinstance(event, ToolResultEvent):
        print(f"[{event.call.name} {'finished' if event.ok else 'failed'}]", flush=True)
    elif isinstance(event, ServerToolEvent):
        print(f"[server tool step: {event.step.type}]", flush=True)
    elif isinstance(event, RunCompleteEvent):
        result = event.result
        print(f"\n[done: {result.status}, {result.usage.total_tokens} tokens]")
