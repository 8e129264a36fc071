"""The agentkit contenders: an `Agent` with tools `tool_00`..., run as a user would run it.

The async side gives the agent async tools and uses `Agent.run` / `Agent.stream`; the sync
side gives it sync tools and uses `Agent.run_sync`. The tools look a stock level up, so they
are declared idempotent, as a read-only tool should be (a sync run may then call a lone one in
its own thread, as the raw loop does). The clients are agentkit's defaults
(`AsyncClient` / `Client` with a base URL), or the same over an `httpx.MockTransport`. Only
public API is used, except `StreamAccumulator` to rebuild a streamed create for the extra
"stored create" row, as a stream-first run does.
"""

from __future__ import annotations

import time
from contextlib import aclosing
from typing import Any

import anyio

from agentkit import Agent, AsyncClient, Client, tool
from agentkit._streaming import StreamAccumulator
from agentkit.events import RunCompleteEvent, TextDeltaEvent
from benchmarks._plan import API_KEY, MODEL, Plan, stock
from benchmarks._side import (
    MOCK_URL,
    AsyncSide,
    BenchmarkFailure,
    Side,
    check_answer,
    mock_transport,
)

__all__ = ["AgentAsync", "AgentSync"]

_DOC = """Look up the stock level of a product.

Args:
    sku: The product's stock keeping unit.
"""


def _tools(count: int, delay: float, *, asynchronous: bool) -> list[Any]:
    """`count` tools `tool_00`... that return `stock(sku)`, after `delay` seconds if any."""
    tools: list[Any] = []
    for index in range(count):
        if asynchronous:

            async def lookup(sku: str) -> dict[str, Any]:
                if delay:
                    await anyio.sleep(delay)
                return stock(sku)

            function: Any = lookup
        else:

            def lookup_sync(sku: str) -> dict[str, Any]:
                if delay:
                    time.sleep(delay)  # a blocking tool is what this measures
                return stock(sku)

            function = lookup_sync
        function.__doc__ = _DOC
        tools.append(tool(name=f"tool_{index:02d}", idempotent=True)(function))
    return tools


class AgentAsync(AsyncSide):
    """`Agent.run` / `Agent.stream` on one `AsyncClient`."""

    def __init__(self, plan: Plan, base_url: str | None, *, tool_delay: float = 0.0) -> None:
        super().__init__(plan)
        self.client, self.agent = self.drive(self._open(base_url, tool_delay))
        self.validate()

    async def _open(self, base_url: str | None, tool_delay: float) -> tuple[AsyncClient, Agent]:
        if base_url:
            client = AsyncClient(api_key=API_KEY, base_url=base_url)
        else:
            client = AsyncClient(api_key=API_KEY, base_url=MOCK_URL, transport=mock_transport())
        tools = _tools(self.plan.tool_count, tool_delay, asynchronous=True)
        return client, Agent(MODEL, tools=tools, client=client)

    async def _run(self, plan: Plan) -> None:
        result = await self.agent.run(plan.prompt)
        check_answer(result.output_text, plan)

    def runs(self, count: int, *, concurrent: bool, plan: Plan | None = None) -> None:
        """Run the agent `count` times."""
        chosen = plan or self.plan
        self.drive(self.gather(count, concurrent, lambda: self._run(chosen)))

    async def _stream(self, plan: Plan) -> tuple[float, float]:
        start = time.perf_counter()
        first = 0.0
        seen = False
        answer: str | None = None
        async with aclosing(self.agent.stream(plan.prompt)) as events:
            async for event in events:
                if isinstance(event, TextDeltaEvent) and not seen:
                    first, seen = time.perf_counter() - start, True
                elif isinstance(event, RunCompleteEvent):
                    answer = event.result.output_text
        total = time.perf_counter() - start
        check_answer(answer, plan)
        return first, total

    def streams(self, count: int, plan: Plan | None = None) -> list[tuple[float, float]]:
        """Stream the run `count` times, one after the other."""
        chosen = plan or self.plan
        return [self.drive(self._stream(chosen)) for _ in range(count)]

    async def _create(self, stream: bool) -> None:
        if stream:
            accumulator = StreamAccumulator()
            events = await self.client.interactions.create(
                model=MODEL, input=self.plan.prompt, stream=True
            )
            async with events:
                async for event in events:
                    accumulator.apply(event)
            status = accumulator.result().status
        else:
            interaction = await self.client.interactions.create(model=MODEL, input=self.plan.prompt)
            status = interaction.status
        if status != "completed":
            raise BenchmarkFailure(f"a create of plan {self.plan.key} ended {status!r}")

    def creates(self, count: int, *, stream: bool) -> None:
        """Create `count` interactions, one after the other."""

        async def all_creates() -> None:
            for _ in range(count):
                await self._create(stream)

        self.drive(all_creates())

    def close(self) -> None:
        """Close the client and the loop."""
        self.drive(self.client.aclose())
        self.loop.close()


class AgentSync(Side):
    """`Agent.run_sync` on one `Client`."""

    def __init__(self, plan: Plan, base_url: str | None, *, tool_delay: float = 0.0) -> None:
        super().__init__(plan)
        if base_url:
            self.client = Client(api_key=API_KEY, base_url=base_url)
        else:
            self.client = Client(api_key=API_KEY, base_url=MOCK_URL, transport=mock_transport())
        tools = _tools(plan.tool_count, tool_delay, asynchronous=False)
        self.agent: Agent = Agent(MODEL, tools=tools, client=self.client)
        self.validate()

    def runs(self, count: int, *, concurrent: bool, plan: Plan | None = None) -> None:
        """Run the agent `count` times, one after the other."""
        if concurrent:
            raise NotImplementedError("sync runs go one after the other")
        chosen = plan or self.plan
        for _ in range(count):
            check_answer(self.agent.run_sync(chosen.prompt).output_text, chosen)

    def close(self) -> None:
        """Close the client."""
        self.client.close()
