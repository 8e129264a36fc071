"""Benchmarks: agentkit's own cost next to plain httpx + json, on a loopback emulator.

Run: `python tools/bench.py` (add `--quick` for a short run). Prints three figures:

1. one `interactions.create()` round trip through `AsyncClient` vs plain `httpx` + `json`
   (target: at most 1.5x);
2. a 2-turn tool run through `Agent.run` vs a hand-written loop with plain httpx, as in the
   API docs (target: at most 1.5x);
3. one response with 20 tool calls, each tool taking 0.1 s (target: within 0.12 s);
4. the cost of creating stored interactions through a stream (so their id arrives first and a
   lost connection re-attaches instead of forking): one create streamed and rebuilt vs one
   plain JSON create, through `AsyncClient`.

Timings use the median of several rounds, each the mean of many sequential operations, so a
busy machine shifts both sides alike. These are never run as tests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentkit import Agent, AsyncClient, tool
from agentkit._streaming import StreamAccumulator
from agentkit.testing import Emulator

MODEL = "gemini-3.5-flash"
KEY = "bench-key"
HEADERS = {"x-goog-api-key": KEY, "Content-Type": "application/json", "Api-Revision": "2026-05-20"}


@tool
def get_stock(sku: str) -> dict[str, Any]:
    """Look up the stock level of a product.

    Args:
        sku: The product's stock keeping unit.
    """
    return {"sku": sku, "quantity": 3}


async def measure(operation: Callable[[], Awaitable[None]], count: int, rounds: int) -> float:
    """Median over `rounds` of the mean seconds per operation."""
    for _ in range(max(count // 10, 3)):  # warm up connections and caches
        await operation()
    samples: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(count):
            await operation()
        samples.append((time.perf_counter() - start) / count)
    return statistics.median(samples)


async def bench_create(base_url: str, count: int, rounds: int) -> tuple[float, float]:
    body = {"model": MODEL, "input": "Say hello."}
    async with httpx.AsyncClient(base_url=base_url, headers=HEADERS) as raw:

        async def raw_create() -> None:
            response = await raw.post(
                "/v1beta/interactions", content=json.dumps(body).encode(), headers=HEADERS
            )
            response.raise_for_status()
            data = response.json()
            assert data["status"] == "completed"

        raw_time = await measure(raw_create, count, rounds)

    async with AsyncClient(api_key=KEY, base_url=base_url) as client:

        async def our_create() -> None:
            interaction = await client.interactions.create(model=MODEL, input="Say hello.")
            assert interaction.status == "completed"

        our_time = await measure(our_create, count, rounds)
    return raw_time, our_time


async def bench_agent(base_url: str, count: int, rounds: int) -> tuple[float, float]:
    declaration = get_stock.declaration
    async with httpx.AsyncClient(base_url=base_url, headers=HEADERS) as raw:

        async def hand_loop() -> None:
            # The loop of the API docs, written with plain httpx + json.
            body: dict[str, Any] = {
                "model": MODEL,
                "input": "How many A-1 are in stock?",
                "tools": [declaration],
            }
            while True:
                response = await raw.post("/v1beta/interactions", content=json.dumps(body))
                response.raise_for_status()
                interaction = response.json()
                calls = [s for s in interaction.get("steps", []) if s["type"] == "function_call"]
                if not calls:
                    break
                results = [
                    {
                        "type": "function_result",
                        "call_id": call["id"],
                        "name": call["name"],
                        "result": [
                            {"type": "text", "text": json.dumps(get_stock(**call["arguments"]))}
                        ],
                    }
                    for call in calls
                ]
                body = {
                    "model": MODEL,
                    "previous_interaction_id": interaction["id"],
                    "input": results,
                    "tools": [declaration],
                }
            assert interaction["status"] == "completed"

        hand_time = await measure(hand_loop, count, rounds)

    async with AsyncClient(api_key=KEY, base_url=base_url) as client:
        agent = Agent(MODEL, tools=[get_stock], client=client)

        async def agent_run() -> None:
            result = await agent.run("How many A-1 are in stock?")
            assert result.status == "completed"

        agent_time = await measure(agent_run, count, rounds)
    return hand_time, agent_time


async def bench_stream_first(base_url: str, count: int, rounds: int) -> tuple[float, float]:
    async with AsyncClient(api_key=KEY, base_url=base_url) as client:

        async def json_create() -> None:
            interaction = await client.interactions.create(model=MODEL, input="Say hello.")
            assert interaction.status == "completed"

        async def streamed_create() -> None:
            accumulator = StreamAccumulator()
            stream = await client.interactions.create(model=MODEL, input="Say hello.", stream=True)
            async with stream:
                async for event in stream:
                    accumulator.apply(event)
            assert accumulator.result().status == "completed"

        json_time = await measure(json_create, count, rounds)
        stream_time = await measure(streamed_create, count, rounds)
    return json_time, stream_time


async def bench_parallel_tools(rounds: int) -> float:
    tools = []
    for index in range(20):

        def slow(index: int = index) -> str:
            time.sleep(0.1)  # noqa: TID251 - a blocking tool is what this measures
            return f"done {index}"

        slow.__name__ = f"slow_{index:02d}"
        slow.__doc__ = "Take a tenth of a second."
        tools.append(tool(slow))
    emulator = Emulator()
    async with emulator.async_client() as client:
        agent = Agent(MODEL, tools=tools, client=client)
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            result = await agent.run("Run every tool.")
            samples.append(time.perf_counter() - start)
            assert len(result.function_calls) == 20
    return statistics.median(samples)


async def main(quick: bool) -> None:
    count, rounds = (50, 3) if quick else (300, 5)
    emulator = Emulator()
    with emulator.serve(host="127.0.0.1", port=0) as base_url:
        raw_time, our_time = await bench_create(base_url, count, rounds)
        print(
            f"create round trip : httpx+json {raw_time * 1e3:.3f} ms, AsyncClient "
            f"{our_time * 1e3:.3f} ms, ratio {our_time / raw_time:.2f}x (target <= 1.5x)"
        )
        hand_time, agent_time = await bench_agent(base_url, count // 2, rounds)
        print(
            f"2-turn tool run   : hand loop {hand_time * 1e3:.3f} ms, Agent.run "
            f"{agent_time * 1e3:.3f} ms, ratio {agent_time / hand_time:.2f}x (target <= 1.5x)"
        )
        json_time, stream_time = await bench_stream_first(base_url, count, rounds)
        print(
            f"stored create     : JSON {json_time * 1e3:.3f} ms, through a stream "
            f"{stream_time * 1e3:.3f} ms, ratio {stream_time / json_time:.2f}x"
        )
    parallel = await bench_parallel_tools(rounds)
    print(f"20 tools x 0.1 s  : whole run {parallel:.3f} s (target <= 0.12 s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    anyio.run(main, parser.parse_args().quick)
