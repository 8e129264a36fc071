"""Cancelling the caller keeps the results of the tools that finished, and a resume (or a
second await of a handle) runs only the (idempotent) tools that did not.

anyio cancellation is exercised on asyncio and trio; Ctrl-C in sync code with a real SIGINT
delivered to the main thread while it waits for the tool batch.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from _agent_bg_helpers import DRIVERS, MODEL, calls_summary, creates, resume, text_result
from _agent_helpers import Rendezvous

from agentkit import Agent, Hooks, RunResult, tool
from agentkit.testing import Emulator, Script, function_call
from agentkit.types import FunctionCallStep, FunctionResultStep

pytestmark = pytest.mark.anyio

CALLS = [function_call("fast", {"item": "a"}), function_call("slow", {"item": "b"})]


class FastAndSlow:
    """`fast` answers once `slow` runs; `slow` blocks until cancelled, on its first call only.

    `on_fast_result` is called (in the tools' event loop) once the run has recorded the
    result of `fast`.
    """

    def __init__(self) -> None:
        self.events = Rendezvous()
        self.log: list[str] = []
        self.partials: list[RunResult[Any]] = []
        self.on_fast_result: Callable[[], None] = lambda: self.events["fast recorded"].set()

        async def fast(item: str) -> str:
            """Answer as soon as slow has started.

            Args:
                item: Anything.
            """
            with anyio.fail_after(5):
                await self.events["slow started"].wait()
            self.log.append("fast ran")
            return f"fast {item}"

        async def slow(item: str) -> str:
            """Block the first time, until cancelled.

            Args:
                item: Anything.
            """
            if "slow cancelled" not in self.log:
                self.events["slow started"].set()
                try:
                    await anyio.sleep_forever()
                except anyio.get_cancelled_exc_class():
                    self.log.append("slow cancelled")
                    raise
            self.log.append("slow ran")
            return f"slow {item}"

        # A cancelled call's outcome is unknown: only an idempotent tool may run it again.
        self.tools = [tool(fast), tool(slow, idempotent=True)]

    @property
    def hooks(self) -> Hooks:
        return Hooks(after_tool=self._after_tool, on_cancel=self.partials.append)

    def _after_tool(self, call: FunctionCallStep, result: FunctionResultStep) -> None:
        if call.name == "fast":
            self.on_fast_result()

    def agent(self, emulator: Emulator, **options: Any) -> Agent[Any, Any]:
        return Agent(
            MODEL, tools=self.tools, hooks=self.hooks, client=emulator.async_client(), **options
        )

    def check_partial(self) -> RunResult[Any]:
        """The one partial result: cancelled, with fast's result and not slow's."""
        (partial,) = self.partials
        assert partial.status == "cancelled"
        results = [s for s in partial.steps if isinstance(s, FunctionResultStep)]
        assert [(s.call_id, s.name) for s in results] == [("fc_0001", "fast")]
        assert results[0].to_wire()["result"] == text_result("fast a")
        assert [call["id"] for call in partial.state.calls] == ["fc_0001", "fc_0002"]
        return partial


def check_resumed(emulator: Emulator, result: RunResult[Any]) -> None:
    """Both results went to the model in one request, in call order; the run completed."""
    assert result.status == "completed"
    assert result.output_text == "Both done."
    sent = creates(emulator)[-1]["input"]
    assert [(step["call_id"], step["result"]) for step in sent] == [
        ("fc_0001", text_result("fast a")),
        ("fc_0002", text_result("slow b")),
    ]
    assert [s.type for s in result.steps].count("function_result") == 2


@pytest.mark.parametrize("background", [False, True], ids=["foreground", "background"])
@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_cancelled_run_hands_its_finished_tools_to_on_cancel_and_resumes(
    driver: str, background: bool
) -> None:
    tools = FastAndSlow()
    emulator = Emulator(Script([CALLS, "Both done."]), background_polls=1)
    agent = tools.agent(emulator, background=background)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(agent.run, "Do both.")
            await tools.events["fast recorded"].wait()
            group.cancel_scope.cancel()

    assert tools.log == ["fast ran", "slow cancelled"]
    assert emulator.function_results == []  # nothing was sent for the unfinished batch
    # Waiting for tool results is not running server-side: nothing to cancel there.
    assert not [r for r in calls_summary(emulator) if r[1].startswith("cancel")]
    partial = tools.check_partial()

    # Resume the saved state (here through either driver): only slow runs again.
    with anyio.fail_after(5):
        result = await resume(agent, partial.state, {}, driver)

    assert tools.log == ["fast ran", "slow cancelled", "slow ran"]
    check_resumed(emulator, result)


async def test_awaiting_a_cancelled_handle_again_runs_only_the_unfinished_tools() -> None:
    tools = FastAndSlow()
    emulator = Emulator(Script([CALLS, "Both done."]), background_polls=1)
    agent = tools.agent(emulator)

    with anyio.fail_after(5):
        handle = await agent.start("Do both.")
        async with anyio.create_task_group() as group:
            group.start_soon(handle.result)
            await tools.events["fast recorded"].wait()
            group.cancel_scope.cancel()
        partial = tools.check_partial()
        assert handle.partial is partial

        result = await handle

    assert tools.log == ["fast ran", "slow cancelled", "slow ran"]
    check_resumed(emulator, result)


async def test_a_handle_whose_wait_is_cancelled_keeps_the_interaction_running() -> None:
    # Unlike a cancelled run(), a handle outlives its waiters: the interaction goes on
    # server-side until handle.cancel(), and another await polls it on.
    emulator = Emulator(Script(["Done at last."]), background_polls=3)
    polling = anyio.Event()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:  # the first wait blocks until the waiter is cancelled
            polling.set()
            await anyio.sleep_forever()

    agent = Agent(MODEL, client=emulator.async_client(sleep=sleep))

    with anyio.fail_after(5):
        handle = await agent.start("Go.")
        async with anyio.create_task_group() as group:
            group.start_soon(handle.result)
            await polling.wait()
            group.cancel_scope.cancel()
        assert handle.partial is not None
        assert handle.partial.status == "cancelled"
        assert emulator.interactions["v1_emu_0001"]["status"] == "in_progress"

        result = await handle

    assert result.status == "completed"
    assert result.output_text == "Done at last."
    assert not [r for r in calls_summary(emulator) if r[1].startswith("cancel")]


@pytest.mark.parametrize("waiter", ["run", "handle"])
async def test_a_failing_on_cancel_hook_is_logged_and_the_cancellation_goes_on(
    caplog: pytest.LogCaptureFixture, waiter: str
) -> None:
    tools = FastAndSlow()
    emulator = Emulator(Script([CALLS, "Both done."]), background_polls=1)
    seen: list[RunResult[Any]] = []

    def broken(partial: RunResult[Any]) -> None:
        seen.append(partial)
        raise RuntimeError("the hook is broken")

    agent = Agent(
        MODEL,
        tools=tools.tools,
        hooks=Hooks(after_tool=tools.hooks.after_tool, on_cancel=broken),
        client=emulator.async_client(),
    )

    with anyio.fail_after(5):
        handle = await agent.start("Do both.") if waiter == "handle" else None
        async with anyio.create_task_group() as group:
            if handle is None:
                group.start_soon(agent.run, "Do both.")
            else:
                group.start_soon(handle.result)
            await tools.events["fast recorded"].wait()
            group.cancel_scope.cancel()

    (record,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.getMessage() == "the on_cancel hook failed"
    assert tools.log == ["fast ran", "slow cancelled"]
    (cancelled,) = seen
    assert cancelled.status == "cancelled"
    if handle is not None:
        # The handle learned of the cancellation all the same: awaiting it again resumes.
        assert handle.partial is cancelled
        with anyio.fail_after(5):
            result = await handle
        assert tools.log == ["fast ran", "slow cancelled", "slow ran"]
        check_resumed(emulator, result)


def test_ctrl_c_while_tools_run_cancels_them_and_keeps_the_finished_results() -> None:
    # A real SIGINT, sent once fast's result is recorded: it lands in the main thread, which
    # waits for the tool batch running in the portal's thread.
    tools = FastAndSlow()
    tools.on_fast_result = lambda: os.kill(os.getpid(), signal.SIGINT)
    emulator = Emulator(Script([CALLS, "Both done."]))
    agent = Agent(MODEL, tools=tools.tools, hooks=tools.hooks, client=emulator.client())

    with pytest.raises(KeyboardInterrupt):
        agent.run_sync("Do both.")

    assert tools.log == ["fast ran", "slow cancelled"]
    assert emulator.function_results == []
    partial = tools.check_partial()

    result = agent.resume_sync(partial)

    assert tools.log == ["fast ran", "slow cancelled", "slow ran"]
    check_resumed(emulator, result)
