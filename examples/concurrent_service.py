"""An async service: 50 agent runs at the same time on one event loop.

A support inbox receives 50 tickets; each is triaged by its own agent run, all
concurrently in an anyio task group and sharing one `AsyncClient` (one connection pool).
Failures are collected per ticket instead of stopping the service.

    python examples/concurrent_service.py
"""

import time
from collections import Counter

import anyio
from _backend import async_client_for_examples

from agentkit import Agent, AgentkitError, RunResult, tool

TICKETS = [f"Ticket {n}: my order #{1000 + n} has not arrived yet." for n in range(50)]
MAX_CONCURRENT = 50  # lower it to stay under your API rate limit


@tool
async def lookup_order(order_number: int) -> dict:
    """Look up an order's shipping status.

    Args:
        order_number: The order number, without '#'.
    """
    await anyio.sleep(0.05)  # a database query
    return {"order": order_number, "status": "in transit", "eta_days": 2}


agent = Agent(
    "gemini-3.5-flash",
    tools=[lookup_order],
    system_instruction="Triage the ticket: look up the order, reply in one sentence.",
    client=async_client_for_examples(),
)


async def main() -> None:
    results: dict[int, RunResult] = {}
    errors: dict[int, Exception] = {}
    limiter = anyio.CapacityLimiter(MAX_CONCURRENT)

    async def handle(number: int, ticket: str) -> None:
        async with limiter:
            try:
                results[number] = await agent.run(ticket)
            except AgentkitError as exc:  # one failed ticket must not stop the others
                errors[number] = exc

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for number, ticket in enumerate(TICKETS):
            group.start_soon(handle, number, ticket)
    elapsed = time.perf_counter() - started

    statuses = Counter(result.status for result in results.values())
    tokens = sum(result.usage.total_tokens or 0 for result in results.values())
    tool_calls = sum(len(result.function_calls) for result in results.values())
    print(f"{len(results)} of {len(TICKETS)} runs done in {elapsed:.2f} s: {dict(statuses)}")
    print(f"{tool_calls} tool calls, {tokens} tokens, {len(errors)} errors")
    if results:
        print(f"First reply: {results[min(results)].output_text}")
    for number, error in sorted(errors.items()):
        print(f"Ticket {number} failed: {error}")


anyio.run(main)
