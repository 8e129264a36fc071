"""A run's `timeout`: past it the run stops with `RunTimeout`, a `TimeoutError` holding the run
so far, which resumes without running a finished tool again.

Every scenario runs through both drivers: the async one is stopped by a cancel scope, the sync
one by a deadline that its requests, poll waits and tool waits respect.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Generator
from contextlib import aclosing, contextmanager
from typing import Any

import anyio
import anyio.to_thread
import pytest
from _agent_bg_helpers import DRIVERS, MODEL, final_result, resume, run, stream, text_result

from agentkit import Agent, AsyncClient, Client, FunctionTool, Hooks, PollPolicy, RunResult, tool
from agentkit.exceptions import APIConnectionError, RunTimeout, UsageError
from agentkit.hooks import RunScope
from agentkit.testing import Emulator, Script, function_call
from agentkit.types import FunctionResultStep

pytestmark = pytest.mark.anyio

CALLS = [function_call("fast", {"item": "a"}), function_call("slow", {"item": "b"})]


class Tools:
    """`fast` answers at once; `slow` blocks, the first time, until `release` is set.

    The async `slow` is cancelled by the timeout; a sync one cannot be: its thread goes on,
    and records its outcome once released.
    """

    def __init__(self, *, sync: bool) -> None:
        self.log: list[str] = []
        self.release = threading.Event()
        self.slow_started = threading.Event()
        self.slow_ended = threading.Event()
        self.slow_cancelled = anyio.Event()

        def fast(item: str) -> str:
            """Answer at once.

            Args:
                item: Anything.
            """
            self.log.append("fast ran")
            return f"fast {item}"

        def slow_sync(item: str) -> str:
            """Block the first time until released.

            Args:
                item: Anything.
            """
            self.slow_started.set()
            self.release.wait(10)
            self.log.append("slow ran")
            self.slow_ended.set()
            return f"slow {item}"

        async def slow_async(item: str) -> str:
            """Block the first time until cancelled.

            Args:
                item: Anything.
            """
            if "slow cancelled" not in self.log:
                try:
                    await anyio.sleep_forever()
                except anyio.get_cancelled_exc_class():
                    self.log.append("slow cancelled")
                    self.slow_cancelled.set()
                    raise
            self.log.append("slow ran")
            return f"slow {item}"

        slow: Callable[..., Any] = slow_sync if sync else slow_async
        self.tools: list[FunctionTool[..., Any]] = [
            tool(fast),
            tool(slow, name="slow", idempotent=True),
        ]


def results_of(result: RunResult[Any]) -> list[tuple[str, Any]]:
    return [
        (step.name or "", step.to_wire()["result"])
        for step in result.steps
        if isinstance(step, FunctionResultStep)
    ]


@pytest.mark.parametrize("sync_tools", [False, True], ids=["async-tools", "sync-tools"])
@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_run_past_its_timeout_raises_RunTimeout_with_the_finished_tools_and_resumes(
    driver: str, sync_tools: bool
) -> None:
    tools = Tools(sync=sync_tools)
    emulator = Emulator(Script([CALLS, "Both done."]))
    client = emulator.async_client() if driver == "async" else emulator.client()
    agent = Agent(MODEL, tools=tools.tools, client=client, timeout=0.2)

    with pytest.raises(RunTimeout) as caught:
        await run(agent, "Do both.", driver)

    error = caught.value
    assert isinstance(error, TimeoutError)
    assert error.timeout == 0.2
    assert "timeout of 0.2 s" in str(error)
    assert "Agent.resume(error.partial) continues it" in str(error)
    assert error.partial is not None
    assert error.partial.status == "error"
    assert results_of(error.partial) == [("fast", text_result("fast a"))]
    assert [call["id"] for call in error.partial.state.calls] == ["fc_0001", "fc_0002"]

    if sync_tools:  # the abandoned thread records its outcome when it ends
        tools.release.set()
        assert tools.slow_ended.wait(5)
    result = await resume(agent, error.partial, {}, driver, timeout=10)

    assert result.status == "completed"
    assert result.output_text == "Both done."
    assert results_of(result)[-2:] == [
        ("fast", text_result("fast a")),
        ("slow", text_result("slow b")),
    ]
    expected = (
        ["fast ran", "slow ran"] if sync_tools else ["fast ran", "slow cancelled", "slow ran"]
    )
    assert tools.log == expected  # nothing ran twice but the cancelled (idempotent) call


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_run_that_finishes_in_time_is_not_affected(driver: str) -> None:
    call = [function_call("fast", {"item": "a"})]
    emulator = Emulator(Script([call, "Done.", call, "Done."]))
    client = emulator.async_client() if driver == "async" else emulator.client()
    agent = Agent(MODEL, tools=Tools(sync=True).tools, client=client, timeout=60)

    result = await run(agent, "Go.", driver)
    streamed = final_result(await stream(agent, "Go.", driver))

    assert result.output_text == "Done."
    assert streamed.output_text == "Done."


@pytest.mark.parametrize("driver", DRIVERS)
async def test_the_runs_own_timeout_replaces_the_agents(driver: str) -> None:
    tools = Tools(sync=False)
    emulator = Emulator(Script([CALLS, "Both done."]))
    client = emulator.async_client() if driver == "async" else emulator.client()
    agent = Agent(MODEL, tools=tools.tools, client=client, timeout=3600)

    with pytest.raises(RunTimeout) as caught:
        await run(agent, "Do both.", driver, timeout=0.1)

    assert caught.value.timeout == 0.1


class Gate:
    """A `sleep` for the emulator's latency that a test releases, recording each wait."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.opened.wait(seconds)

    async def async_wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        await anyio.sleep(seconds)


@contextmanager
def stalled_server(gate: Gate) -> Generator[tuple[Emulator, str]]:
    emulator = Emulator(
        Script(["Late answer."]), latency=30, sleep=gate, async_sleep=gate.async_wait
    )
    with emulator.serve() as base_url:
        try:
            yield emulator, base_url
        finally:
            gate.opened.set()


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_request_that_outlives_the_timeout_ends_the_run(driver: str) -> None:
    gate = Gate()
    with stalled_server(gate) as (_, base_url):
        client = AsyncClient if driver == "async" else Client
        agent = Agent(MODEL, client=client(api_key="k", base_url=base_url), timeout=0.3)
        with pytest.raises(RunTimeout) as caught:
            await run(agent, "Hello?", driver)

    error = caught.value
    assert error.partial is not None
    assert error.partial.state.outbox is not None  # resuming sends the request again
    if driver == "sync":  # the read's timeout was cut to the time the run had left
        assert isinstance(error.__cause__, APIConnectionError)
        assert "timed out" in str(error.__cause__)


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_retry_wait_is_cut_to_the_time_left(driver: str) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        threading.Event().wait(seconds)

    async def async_sleep(seconds: float) -> None:
        slept.append(seconds)
        await anyio.sleep(seconds)

    emulator = Emulator(Script(["Hi."]))
    emulator.fail_next(1, 503, retry_after=30)
    if driver == "async":
        client: Any = emulator.async_client(sleep=async_sleep)
    else:
        client = emulator.client(sleep=sleep)
    agent = Agent(MODEL, client=client, timeout=0.2)

    with pytest.raises(RunTimeout):
        await run(agent, "Hello?", driver)

    assert len(slept) == 1
    if driver == "sync":  # the async run is cancelled in the middle of its wait instead
        assert slept[0] <= 0.2


def wait_then_record(sleeps: list[float]) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        threading.Event().wait(seconds)

    return sleep


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_background_run_past_its_timeout_is_cancelled_on_the_server(driver: str) -> None:
    emulator = Emulator(Script(["Finally."]), background_polls=10**9)
    sleeps: list[float] = []
    if driver == "async":
        client: Any = emulator.async_client(sleep=anyio.sleep)
    else:
        client = emulator.client(sleep=wait_then_record(sleeps))
    agent = Agent(MODEL, client=client, background=True, poll=PollPolicy(first=0.05), timeout=0.3)

    with pytest.raises(RunTimeout) as caught:
        await run(agent, "Take your time.", driver)

    interaction_id = caught.value.partial.state.awaiting  # type: ignore[union-attr]
    assert interaction_id is not None
    assert f"background interaction {interaction_id} was cancelled" in str(caught.value)
    cancels = [r.path for r in emulator.requests if r.path.endswith("/cancel")]
    assert cancels == [f"/v1beta/interactions/{interaction_id}/cancel"]
    assert all(wait <= 0.3 for wait in sleeps)


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_handle_wait_past_its_timeout_leaves_the_run_going(driver: str) -> None:
    emulator = Emulator(Script(["Finally."]), background_polls=10**9)
    if driver == "async":
        agent = Agent(MODEL, client=emulator.async_client(sleep=anyio.sleep))
        handle = await agent.start("Take your time.")
        with pytest.raises(RunTimeout):
            await handle.result(timeout=0.2)
    else:
        agent = Agent(MODEL, client=emulator.client(sleep=wait_then_record([])))
        handle = await anyio.to_thread.run_sync(agent.start_sync, "Take your time.")
        with pytest.raises(RunTimeout):
            await anyio.to_thread.run_sync(lambda: handle.result_sync(timeout=0.2))

    assert not [r for r in emulator.requests if r.path.endswith("/cancel")]
    assert handle.partial is not None
    emulator.complete(handle.interaction_id)
    result = await handle.result() if driver == "async" else handle.result_sync()
    assert result.output_text == "Finally."


async def test_a_timed_stream_never_cancels_what_its_consumer_awaits() -> None:
    emulator = Emulator(Script([CALLS, "Both done."]))
    ended: list[BaseException] = []

    @contextmanager
    def around_run(scope: RunScope) -> Generator[None]:
        try:
            yield
        except BaseException as error:
            ended.append(error)
            raise

    agent = Agent(
        MODEL,
        tools=Tools(sync=False).tools,
        client=emulator.async_client(),
        hooks=Hooks(around_run=around_run),
    )
    seen: list[str] = []
    slept: list[bool] = []

    async def consume() -> None:
        async with aclosing(agent.stream("Do both.", timeout=0.2)) as events:
            async for event in events:
                seen.append(type(event).__name__)
                # The consumer's own work outlives the run's timeout, and is not cancelled by
                # it: the run ends when the stream is read again.
                await anyio.sleep(0.3)
                slept.append(True)

    with pytest.raises(RunTimeout) as caught:
        await consume()

    assert seen == ["StatusEvent"]
    assert slept == [True]
    assert ended == [caught.value]
    assert caught.value.partial is not None
    assert caught.value.partial.state.awaiting == "v1_emu_0001"  # resuming fetches it


@pytest.mark.parametrize("limit", [None, 30])
async def test_a_consumer_may_wait_for_each_event_in_a_scope_of_its_own(
    limit: float | None,
) -> None:
    # No tools: while a batch runs, the stream holds its task group across yields.
    emulator = Emulator(Script(["Hello there."]))
    agent = Agent(MODEL, client=emulator.async_client())
    names: list[str] = []

    async with aclosing(agent.stream("Do both.", timeout=limit)) as events:
        while True:
            with anyio.fail_after(5):
                event = await anext(events, None)
            if event is None:
                break
            names.append(type(event).__name__)

    assert names[-1] == "RunCompleteEvent"
    assert "TextDeltaEvent" in names


async def test_leaving_a_timed_stream_early_stops_its_tools() -> None:
    tools = Tools(sync=False)
    emulator = Emulator(Script([CALLS, "Both done."]))
    agent = Agent(MODEL, tools=tools.tools, client=emulator.async_client(), timeout=30)

    with anyio.fail_after(5):
        async with aclosing(agent.stream("Do both.")) as events:
            async for event in events:
                if type(event).__name__ == "ToolResultEvent":
                    break

    assert tools.log == ["fast ran", "slow cancelled"]


async def test_a_sync_stream_past_its_timeout_raises_RunTimeout() -> None:
    tools = Tools(sync=True)
    emulator = Emulator(Script([CALLS, "Both done."]))
    agent = Agent(MODEL, tools=tools.tools, client=emulator.client())

    def consume() -> tuple[list[str], RunTimeout]:
        seen: list[str] = []
        events = agent.stream_sync("Do both.", timeout=0.2)
        with pytest.raises(RunTimeout) as caught:
            seen.extend(type(event).__name__ for event in events)
        return seen, caught.value

    seen, error = await anyio.to_thread.run_sync(consume)
    tools.release.set()
    assert seen == [
        "StatusEvent",
        "StatusEvent",
        "ToolCallEvent",
        "ToolCallEvent",
        "ToolResultEvent",  # fast's, as it ended
    ]
    assert error.partial is not None
    assert results_of(error.partial) == [("fast", text_result("fast a"))]


@pytest.mark.parametrize("bad", [0, -1, True, "5", float("nan")])
def test_a_timeout_that_is_not_a_positive_number_is_refused(bad: Any) -> None:
    with pytest.raises(UsageError, match="timeout must be a number of seconds > 0"):
        Agent(MODEL, timeout=bad)
    agent = Agent(MODEL, client=Emulator().client())
    with pytest.raises(UsageError, match="timeout must be a number of seconds > 0"):
        agent.run_sync("Hi.", timeout=bad)


async def test_a_sync_resume_waits_for_a_still_running_call_no_longer_than_its_timeout() -> None:
    tools = Tools(sync=True)
    emulator = Emulator(Script([CALLS, "Both done."]))
    agent = Agent(MODEL, tools=tools.tools, client=emulator.client())

    def run_then_resume() -> tuple[RunTimeout, RunTimeout]:
        with pytest.raises(RunTimeout) as first:
            agent.run_sync("Do both.", timeout=0.2)
        assert first.value.partial is not None
        # slow's thread still runs: the resume waits for its outcome, within its own timeout.
        with pytest.raises(RunTimeout) as second:
            agent.resume_sync(first.value.partial, timeout=0.2)
        return first.value, second.value

    first, second = await anyio.to_thread.run_sync(run_then_resume)

    assert not tools.slow_ended.is_set()
    tools.release.set()
    assert tools.slow_ended.wait(5)
    assert second.partial is not None
    result = await anyio.to_thread.run_sync(agent.resume_sync, second.partial)
    assert result.output_text == "Both done."
    assert tools.log == ["fast ran", "slow ran"]  # the thread's outcome was used, not a rerun
    assert first.timeout == second.timeout == 0.2


def test_a_sync_stream_over_a_socket_ends_at_the_deadline_even_while_the_server_is_silent() -> None:
    # The server takes most of the run's time to answer, then goes silent after the first
    # event: the wait for the next one must end with the run's time, not a read timeout later.
    timeout, latency = 2.0, 1.6
    emulator = Emulator(Script(["Hello there."]), latency=latency)
    release = emulator.pause_stream_after(1, timeout=30)
    with emulator.serve() as base_url, Client(api_key="k", base_url=base_url) as client:
        agent = Agent(MODEL, client=client)
        start = time.monotonic()
        try:
            with pytest.raises(RunTimeout) as caught:
                agent.run_sync("Hi.", timeout=timeout)
            elapsed = time.monotonic() - start
        finally:
            release.set()
        assert caught.value.partial is not None
        resumed = agent.resume_sync(caught.value.partial)

    assert elapsed < timeout + latency / 2
    assert resumed.output_text == "Hello there."
    assert len(emulator.interactions) == 1  # the resume fetched the interaction, made no other


@contextmanager
def trickling_server(pieces: int, every: float) -> Generator[str]:
    """A server that answers the first request with a head it sends a byte at a time."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)  # a test that fails before connecting must not hang here
    stop = threading.Event()

    def serve() -> None:
        with listener:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                return
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * pieces:
                if stop.wait(every):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:  # the client left
                    return

    server = threading.Thread(target=serve)
    server.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        server.join()


def test_a_sync_run_ends_at_the_deadline_even_while_the_server_trickles_its_answer() -> None:
    # Each byte comes well within a read timeout, so only cutting every read to the time the
    # run has left ends the wait (the trickle itself lasts 5 s).
    timeout = 0.5
    with (
        trickling_server(pieces=100, every=0.05) as base_url,
        Client(api_key="k", base_url=base_url) as client,
    ):
        agent = Agent(MODEL, client=client)
        start = time.monotonic()
        with pytest.raises(RunTimeout):
            agent.run_sync("Hi.", timeout=timeout)
        elapsed = time.monotonic() - start

    assert elapsed < timeout + 2.0
