"""What every contender offers the command loop, and the pieces raw and agentkit sides share."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import httpx

from benchmarks._plan import Plan, Responder

__all__ = ["MOCK_URL", "AsyncSide", "BenchmarkFailure", "Side", "check_answer", "mock_transport"]

_T = TypeVar("_T")


class BenchmarkFailure(Exception):
    """A run did not end as its plan says: the numbers would mean nothing."""


def check_answer(text: str | None, plan: Plan) -> None:
    """Fail unless a run ended with the plan's answer."""
    if text != plan.answer:
        shown = text if text is None or len(text) < 80 else text[:80] + "..."
        raise BenchmarkFailure(
            f"plan {plan.key}: expected the answer {plan.answer[:80]!r}, got {shown!r}"
        )


MOCK_URL = "http://interactions.invalid"
"""The base URL of every client over `mock_transport()`: a host no resolver knows (`.invalid`
is reserved), so a request that missed the mock could never reach a real API."""


def mock_transport() -> httpx.MockTransport:
    """An in-process transport answering like the fake server (bodies only, no socket)."""
    responder = Responder()

    def handle(request: httpx.Request) -> httpx.Response:
        answer = responder.answer(request.content, wire=False)
        headers = [("content-type", answer.content_type)]
        return httpx.Response(answer.status, headers=headers, content=answer.payload)

    return httpx.MockTransport(handle)


class Side(ABC):
    """One contender: the runs of one plan, through agentkit or through raw httpx.

    The constructor makes the clients and validates the server with one run of the plan
    (without its latency), so a fake that the contender cannot use fails before any number.
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def validate(self) -> None:
        """One run (a stream for a streamed plan) of the plan, answered at once."""
        quick = self.plan.without_latency()
        if self.plan.deltas:
            self.streams(1, quick)
        else:
            self.runs(1, concurrent=False, plan=quick)

    @abstractmethod
    def runs(self, count: int, *, concurrent: bool, plan: Plan | None = None) -> None:
        """Run the plan `count` times, one after the other or all at once; check each answer."""

    def streams(self, count: int, plan: Plan | None = None) -> list[tuple[float, float]]:
        """Stream the plan's answer `count` times: (first text delta, end) seconds of each."""
        raise NotImplementedError(f"{type(self).__name__} does not stream")

    def creates(self, count: int, *, stream: bool) -> None:
        """Create `count` interactions of the plan, as JSON or through a stream."""
        raise NotImplementedError(f"{type(self).__name__} does not create alone")

    @abstractmethod
    def close(self) -> None:
        """Close the clients."""


class AsyncSide(Side):
    """A side whose work runs on one asyncio loop, kept across commands (and its pool with it)."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self.loop = asyncio.new_event_loop()

    def drive(self, work: Coroutine[Any, Any, _T]) -> _T:
        """Run `work` on the side's loop."""
        return self.loop.run_until_complete(work)

    async def gather(
        self, count: int, concurrent: bool, run: Callable[[], Awaitable[None]]
    ) -> None:
        """Await `run()` `count` times, all at once or one after the other."""
        if concurrent:
            await asyncio.gather(*(run() for _ in range(count)))
        else:
            for _ in range(count):
                await run()
