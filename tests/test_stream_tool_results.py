"""A streamed run announces each tool's result as soon as that tool ends, while the other tools
of the same response still run; the results still go back in one request, in call order."""

from __future__ import annotations

import threading
from contextlib import aclosing, closing
from typing import Any

import anyio
import pytest

from agentkit import Agent, APIError, Hooks, RunResult, tool
from agentkit.events import RunCompleteEvent, RunEvent, ToolCallEvent, ToolResultEvent
from agentkit.testing import Emulator, Script, function_call
from agentkit.types import FunctionResultStep

MODEL = "gemini-3-flash-preview"
BOTH = [function_call("slow"), function_call("fast")]


def result_text(event: ToolResultEvent) -> str:
    return "".join(block["text"] for block in event.result.to_wire()["result"])


def sent_results(emulator: Emulator) -> list[tuple[str, str]]:
    """The (name, text) of each function_result the model received, in order."""
    return [
        (step["name"], "".join(block["text"] for block in step["result"]))
        for step in emulator.function_results
    ]


@pytest.mark.anyio
async def test_stream_announces_the_fast_result_while_the_slow_tool_runs() -> None:
    released = anyio.Event()

    async def slow() -> str:
        """Wait until the reader has seen fast's result: announced after the batch, never."""
        await released.wait()
        return "slow done"

    async def fast() -> str:
        """Answer at once."""
        return "fast done"

    emulator = Emulator(Script([BOTH, "Both done."]))
    agent = Agent(MODEL, tools=[slow, fast], client=emulator.async_client())
    order: list[str] = []

    with anyio.fail_after(5):
        async with aclosing(agent.stream("Go.")) as events:
            async for event in events:
                if isinstance(event, ToolCallEvent):
                    order.append(f"call {event.name}")
                elif isinstance(event, ToolResultEvent):
                    order.append(f"result {event.call.name}: {result_text(event)}")
                    released.set()

    assert order == [
        "call slow",
        "call fast",
        "result fast: fast done",
        "result slow: slow done",
    ]
    assert sent_results(emulator) == [("slow", "slow done"), ("fast", "fast done")]


def test_stream_sync_announces_the_fast_result_while_the_slow_tool_runs() -> None:
    # An async tool in the batch: it runs in the run's event loop thread (a blocking portal).
    released = threading.Event()

    def slow() -> str:
        """Wait until the reader has seen fast's result."""
        return "slow done" if released.wait(10) else "timed out"

    async def fast() -> str:
        """Answer at once."""
        return "fast done"

    emulator = Emulator(Script([BOTH, "Both done."]))
    agent = Agent(MODEL, tools=[slow, fast], client=emulator.client())
    order: list[str] = []

    for event in agent.stream_sync("Go."):
        if isinstance(event, ToolResultEvent):
            order.append(event.call.name)
            released.set()
        elif isinstance(event, RunCompleteEvent):
            assert event.result.output_text == "Both done."

    assert order == ["fast", "slow"]
    assert sent_results(emulator) == [("slow", "slow done"), ("fast", "fast done")]


def test_stream_sync_announces_each_result_of_a_batch_of_sync_tools_as_it_ends() -> None:
    # Sync tools only: they run in worker threads, with no event loop at all.
    released = threading.Event()

    def slow() -> str:
        """Wait until the reader has seen fast's result."""
        return "slow done" if released.wait(10) else "timed out"

    def fast() -> str:
        """Answer at once."""
        return "fast done"

    emulator = Emulator(Script([BOTH, "Both done."]))
    agent = Agent(MODEL, tools=[slow, fast], client=emulator.client())
    order: list[str] = []

    for event in agent.stream_sync("Go."):
        if isinstance(event, ToolResultEvent):
            order.append(f"{event.call.name}: {result_text(event)}")
            released.set()

    assert order == ["fast: fast done", "slow: slow done"]
    assert sent_results(emulator) == [("slow", "slow done"), ("fast", "fast done")]


def test_leaving_a_stream_sync_mid_batch_stops_waiting_for_its_sync_tools() -> None:
    released = threading.Event()
    ended = threading.Event()

    def slow() -> str:
        """Block until released."""
        released.wait(10)
        ended.set()
        return "slow done"

    def fast() -> str:
        """Answer at once."""
        return "fast done"

    emulator = Emulator(Script([BOTH, "Both done."]))
    agent = Agent(MODEL, tools=[slow, fast], client=emulator.client())

    with closing(agent.stream_sync("Go.")) as events:
        for event in events:
            if isinstance(event, ToolResultEvent):
                break

    assert not ended.is_set()  # left while slow still ran: its thread goes on unobserved
    released.set()
    assert ended.wait(5)
    assert emulator.function_results == []


@pytest.mark.anyio
async def test_cancelling_a_stream_after_a_result_cancels_the_tools_still_running() -> None:
    cancelled: list[RunResult[Any]] = []
    slow_cancelled = anyio.Event()

    async def slow() -> str:
        """Run until cancelled."""
        try:
            await anyio.sleep_forever()
        finally:
            slow_cancelled.set()
        return "never"  # pragma: no cover - cancelled above

    async def fast() -> str:
        """Answer at once."""
        return "fast done"

    emulator = Emulator(Script([BOTH, "Both done."]))
    hooks = Hooks(on_cancel=cancelled.append)
    agent = Agent(MODEL, tools=[slow, fast], client=emulator.async_client(), hooks=hooks)

    with anyio.fail_after(5), anyio.CancelScope() as scope:
        async with aclosing(agent.stream("Go.")) as events:
            async for event in events:
                if isinstance(event, ToolResultEvent):
                    scope.cancel()

    assert scope.cancelled_caught
    assert slow_cancelled.is_set()
    (partial,) = cancelled
    assert [s.name for s in partial.steps if isinstance(s, FunctionResultStep)] == ["fast"]
    assert emulator.function_results == []


@pytest.mark.anyio
async def test_leaving_a_stream_after_a_result_cancels_the_tools_still_running() -> None:
    slow_cancelled = anyio.Event()

    async def slow() -> str:
        """Run until cancelled."""
        try:
            await anyio.sleep_forever()
        finally:
            slow_cancelled.set()
        return "never"  # pragma: no cover - cancelled above

    @tool
    def fast() -> str:
        """Answer at once (a sync tool, in a worker thread)."""
        return "fast done"

    emulator = Emulator(Script([BOTH, "Both done."]))
    agent = Agent(MODEL, tools=[slow, fast], client=emulator.async_client())

    with anyio.fail_after(5):
        async with aclosing(agent.stream("Go.")) as events:
            async for event in events:
                if isinstance(event, ToolResultEvent):
                    break

    assert slow_cancelled.is_set()
    assert emulator.function_results == []


@pytest.mark.anyio
async def test_a_tool_error_raised_mid_batch_still_raises_from_the_stream() -> None:
    async def broken() -> str:
        """Fail."""
        raise LookupError("no such order")

    async def fine() -> str:
        """Succeed."""
        return "fine"

    emulator = Emulator(Script([[function_call("fine"), function_call("broken")], "Done."]))
    agent = Agent(
        MODEL, tools=[broken, fine], client=emulator.async_client(), raise_tool_errors=True
    )

    async def read_all() -> None:
        async with aclosing(agent.stream("Go.")) as events:
            async for _ in events:
                pass

    with anyio.fail_after(5), pytest.raises(LookupError, match="no such order"):
        await read_all()

    assert emulator.function_results == []


@pytest.mark.anyio
async def test_calls_sharing_an_id_are_announced_with_the_batch() -> None:
    # Results name their call by id: with two calls of one id, which is which is known only
    # from the batch's call order.
    async def echo(n: int) -> int:
        """Echo n."""
        return n

    same = [function_call("echo", {"n": 1}, id="dup"), function_call("echo", {"n": 2}, id="dup")]
    emulator = Emulator(Script([same, "Done."]))
    agent = Agent(MODEL, tools=[echo], client=emulator.async_client())

    events: list[RunEvent] = []

    async def read_all() -> None:
        async with aclosing(agent.stream("Go.")) as stream:
            async for event in stream:
                events.append(event)

    # The emulator refuses two results for one call id: the events before that are the point.
    with anyio.fail_after(5), pytest.raises(APIError, match="more than one function_result"):
        await read_all()

    # Both are announced when the batch ends, each with its own call. (Their results are the
    # same: the journal keys a call by its id, so the second is answered with the first's.)
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    assert [e.call.arguments["n"] for e in results] == [1, 2]
    assert [e.result.call_id for e in results] == ["dup", "dup"]
