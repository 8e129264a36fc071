"""Background runs (polling, handles, re-attaching), cancellation, and the sync driver's edges."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
from _agent_bg_helpers import DRIVERS, MODEL, calls_summary, creates, run, text_result

import agentkit._drivers
from agentkit import (
    Agent,
    AsyncClient,
    FunctionTool,
    Hooks,
    PollPolicy,
    RunError,
    RunHandle,
    tool,
)
from agentkit.exceptions import InteractionFailed
from agentkit.testing import Emulator, Reply, Script, function_call, text
from agentkit.types import Interaction

pytestmark = pytest.mark.anyio

WEATHER_SCRIPT = [function_call("get_weather", {"city": "Paris"}), "Sunny in Paris."]


def weather_tool(calls: list[str]) -> FunctionTool[..., Any]:
    @tool
    def get_weather(city: str) -> str:
        """Get the weather in a city.

        Args:
            city: The city.
        """
        calls.append(city)
        return f"sunny in {city}"

    return get_weather


class Blocking:
    """Two async tools: `fast` returns at once, `slow` blocks until cancelled."""

    def __init__(self) -> None:
        self.slow_started = anyio.Event()
        self.fast_done = anyio.Event()
        self.log: list[str] = []
        # Set once `fast`'s result is recorded by the run (after_tool runs after that).
        self.hooks = Hooks(after_tool=lambda call, result: self.fast_done.set())

        async def fast(item: str) -> str:
            """Answer at once.

            Args:
                item: Anything.
            """
            self.log.append(f"fast finished {item}")
            return f"fast {item}"

        async def slow(item: str) -> str:
            """Never answer.

            Args:
                item: Anything.
            """
            self.slow_started.set()
            try:
                await anyio.Event().wait()
            except anyio.get_cancelled_exc_class():
                self.log.append(f"slow cancelled {item}")
                raise
            finally:
                self.log.append(f"slow finally {item}")
            return "unreachable"  # pragma: no cover - the wait above only ends by cancellation

        self.tools = [tool(fast), tool(slow)]

    async def both_busy(self) -> None:
        """Wait until `fast` finished and `slow` is blocked."""
        await self.slow_started.wait()
        await self.fast_done.wait()

    def script(self) -> Script:
        calls = [function_call("fast", {"item": "a"}), function_call("slow", {"item": "b"})]
        return Script([calls, "never reached"])


# -- polling ----------------------------------------------------------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
async def test_background_run_polls_runs_tools_and_continues_in_background(driver: str) -> None:
    emulator = Emulator(Script(WEATHER_SCRIPT), background_polls=2)
    calls: list[str] = []
    agent = Agent(
        MODEL, tools=[weather_tool(calls)], background=True, client=emulator.async_client()
    )

    with anyio.fail_after(5):
        result = await run(agent, "Weather in Paris?", driver)

    assert result.status == "completed"
    assert result.output_text == "Sunny in Paris."
    assert calls == ["Paris"]
    first, second = "v1_emu_0001", "v1_emu_0002"
    assert calls_summary(emulator) == [
        ("POST", "create"),
        *[("GET", f"get {first}")] * 3,
        ("POST", "create"),
        *[("GET", f"get {second}")] * 3,
    ]
    bodies = creates(emulator)
    assert [body.get("background") for body in bodies] == [True, True]
    assert "previous_interaction_id" not in bodies[0]
    assert bodies[1]["previous_interaction_id"] == first
    assert bodies[1]["input"] == [
        {
            "type": "function_result",
            "call_id": "fc_0001",
            "name": "get_weather",
            "result": text_result("sunny in Paris"),
        }
    ]
    # Each interaction's polling starts over quickly.
    policy = PollPolicy()
    expected = [policy.delay(attempt) for attempt in range(3)]
    assert emulator.sleeps == expected * 2
    assert emulator.sleeps[0] == policy.first < policy.max_interval


@pytest.mark.parametrize("driver", DRIVERS)
async def test_poll_delays_grow_by_the_factor_and_stop_at_the_cap(driver: str) -> None:
    emulator = Emulator(Script(["Done."]), background_polls=6)
    policy = PollPolicy(first=0.1, factor=2.0, max_interval=0.5)
    agent = Agent(MODEL, background=True, poll=policy, client=emulator.async_client())

    with anyio.fail_after(5):
        result = await run(agent, "Go.", driver)

    assert result.output_text == "Done."
    assert emulator.sleeps == [0.1, 0.2, 0.4, 0.5, 0.5, 0.5, 0.5]
    assert calls_summary(emulator).count(("GET", "get v1_emu_0001")) == 7


@pytest.mark.parametrize("driver", DRIVERS)
async def test_background_can_be_chosen_per_run(driver: str) -> None:
    emulator = Emulator(Script(["One.", "Two."]), background_polls=1)
    foreground = Agent(MODEL, client=emulator.async_client())
    background = Agent(MODEL, background=True, client=emulator.async_client())

    with anyio.fail_after(5):
        first = await run(foreground, "Go.", driver, background=True)
        second = await run(background, "Go.", driver, background=False)

    assert (first.output_text, second.output_text) == ("One.", "Two.")
    assert [body.get("background") for body in creates(emulator)] == [True, None]
    assert calls_summary(emulator) == [
        ("POST", "create"),
        ("GET", "get v1_emu_0001"),
        ("GET", "get v1_emu_0001"),
        ("POST", "create"),
    ]


@pytest.mark.parametrize("driver", DRIVERS)
async def test_poll_deadline_gives_up_and_cancels_the_interaction(driver: str) -> None:
    emulator = Emulator(Script(["Too late."]), background_polls=50)
    policy = PollPolicy(first=1.0, factor=1.0, max_interval=1.0, deadline=3.0)
    agent = Agent(MODEL, background=True, poll=policy, client=emulator.async_client())

    with anyio.fail_after(5), pytest.raises(RunError) as caught:
        await run(agent, "Go.", driver)

    assert sum(emulator.sleeps) <= 3.0
    assert calls_summary(emulator)[-1] == ("POST", "cancel v1_emu_0001")
    assert emulator.interactions["v1_emu_0001"]["status"] == "cancelled"
    # A typed error that names the interaction, as InteractionFailed does.
    assert getattr(caught.value, "interaction_id", None) == "v1_emu_0001"
    assert caught.value.partial is not None
    assert caught.value.partial.interaction_id == "v1_emu_0001"


# -- handles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["await", "result"])
async def test_start_returns_a_handle_to_poll_and_await(how: str) -> None:
    emulator = Emulator(Script(WEATHER_SCRIPT), background_polls=2)
    calls: list[str] = []
    agent = Agent(MODEL, tools=[weather_tool(calls)], client=emulator.async_client())

    with anyio.fail_after(5):
        handle = await agent.start("Weather in Paris?")
        assert isinstance(handle, RunHandle)
        assert handle.interaction_id == "v1_emu_0001"
        assert calls_summary(emulator) == [("POST", "create")]
        assert creates(emulator)[0]["background"] is True

        polled = await handle.poll()
        assert isinstance(polled, Interaction)
        assert (polled.id, polled.status) == ("v1_emu_0001", "in_progress")
        assert calls == []

        result = await handle if how == "await" else await handle.result()

    assert result.status == "completed"
    assert result.output_text == "Sunny in Paris."
    assert calls == ["Paris"]
    assert creates(emulator)[1]["background"] is True


async def test_handle_cancel_cancels_the_server_interaction() -> None:
    emulator = Emulator(Script(["Never delivered."]), background_polls=10)
    agent = Agent(MODEL, client=emulator.async_client())

    with anyio.fail_after(5):
        handle = await agent.start("Write a long essay.")
        result = await handle.cancel()

    assert result.status == "cancelled"
    assert result.interaction_id == handle.interaction_id == "v1_emu_0001"
    assert result.output_text is None
    assert calls_summary(emulator) == [("POST", "create"), ("POST", "cancel v1_emu_0001")]
    assert emulator.interactions["v1_emu_0001"]["status"] == "cancelled"


async def test_handle_cancel_ends_a_run_awaited_in_another_task() -> None:
    emulator = Emulator(Script(["Never delivered."]), background_polls=1000)
    polling = anyio.Event()
    go_on = anyio.Event()

    async def gated_sleep(seconds: float) -> None:
        polling.set()
        await go_on.wait()

    agent = Agent(MODEL, client=emulator.async_client(sleep=gated_sleep))
    awaited: list[str] = []
    cancelled: list[str] = []

    with anyio.fail_after(5):
        handle = await agent.start("Write a long essay.")

        async def wait_for_it() -> None:
            awaited.append((await handle).status)

        async with anyio.create_task_group() as group:
            group.start_soon(wait_for_it)
            await polling.wait()
            cancelled.append((await handle.cancel()).status)
            go_on.set()

    assert cancelled == ["cancelled"]
    assert awaited == ["cancelled"]
    assert ("POST", "cancel v1_emu_0001") in calls_summary(emulator)


async def test_attach_from_another_process_finishes_the_run() -> None:
    emulator = Emulator(Script(WEATHER_SCRIPT), background_polls=2)
    starter_calls: list[str] = []
    starter = Agent(MODEL, tools=[weather_tool(starter_calls)], client=emulator.async_client())

    with anyio.fail_after(5):
        handle = await starter.start("Weather in Paris?")
        saved_id = handle.interaction_id
        del handle  # the first process goes away; only the id survives

        # Another process: its own agent and client, the same server.
        worker_calls: list[str] = []
        worker = Agent(MODEL, tools=[weather_tool(worker_calls)], client=emulator.async_client())
        attached = worker.attach(saved_id)
        assert attached.interaction_id == saved_id
        result = await attached

    assert result.status == "completed"
    assert result.output_text == "Sunny in Paris."
    assert (starter_calls, worker_calls) == ([], ["Paris"])
    assert calls_summary(emulator) == [
        ("POST", "create"),
        *[("GET", f"get {saved_id}")] * 3,
        ("POST", "create"),
        *[("GET", "get v1_emu_0002")] * 3,
    ]
    resumed = creates(emulator)[1]
    assert resumed["background"] is True
    assert resumed["previous_interaction_id"] == saved_id


async def test_awaiting_a_handle_twice_gives_the_same_result() -> None:
    emulator = Emulator(Script(["Hello."]), background_polls=1)
    agent = Agent(MODEL, client=emulator.async_client())

    with anyio.fail_after(5):
        handle = await agent.start("Hi.")
        first = await handle
        requests = len(emulator.requests)
        second = await handle

    assert first.output_text == "Hello."
    assert second.output_text == "Hello."
    assert second.steps == first.steps
    assert len(emulator.requests) == requests


async def test_a_failed_handle_raises_the_same_error_on_every_await() -> None:
    failure = Reply([text("Half")], status="failed", errors=[{"code": "internal", "message": "x"}])
    emulator = Emulator(Script([failure]), background_polls=1)
    seen: list[str] = []
    hooks = Hooks(
        before_request=lambda body: seen.append("before_request"),
        after_request=lambda interaction: seen.append(f"after_request {interaction.status}"),
    )
    agent = Agent(MODEL, hooks=hooks, client=emulator.async_client())

    with anyio.fail_after(5):
        handle = await agent.start("Go.")
        assert seen == ["before_request", "after_request in_progress"]
        with pytest.raises(InteractionFailed) as first:
            await handle
        requests = len(emulator.requests)
        with pytest.raises(InteractionFailed) as second:
            await handle.result()

    assert second.value is first.value
    assert len(emulator.requests) == requests
    assert seen[-1] == "after_request failed"


# -- cancelling the caller --------------------------------------------------------------------


@pytest.mark.parametrize("background", [False, True])
async def test_cancelling_the_caller_cancels_running_tools(background: bool) -> None:
    tools = Blocking()
    emulator = Emulator(tools.script(), background_polls=1)
    agent = Agent(
        MODEL,
        tools=tools.tools,
        hooks=tools.hooks,
        background=background,
        client=emulator.async_client(),
    )
    outcome: list[Any] = []

    async def caller() -> None:
        outcome.append(await agent.run("Do both."))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(caller)
            await tools.both_busy()
            group.cancel_scope.cancel()

    assert outcome == []
    assert tools.log == ["fast finished a", "slow cancelled b", "slow finally b"]
    # The results were never sent: the run stopped with the tools.
    assert emulator.function_results == []
    assert [r for r in calls_summary(emulator) if r == ("POST", "create")] == [("POST", "create")]


@pytest.mark.parametrize("background_polls", [1, 3])
async def test_cancelling_the_caller_while_polling_cancels_the_server_interaction(
    background_polls: int,
) -> None:
    emulator = Emulator(Script(["Never delivered."]), background_polls=background_polls)
    polling = anyio.Event()

    async def endless_sleep(seconds: float) -> None:
        polling.set()
        await anyio.sleep_forever()

    agent = Agent(MODEL, background=True, client=emulator.async_client(sleep=endless_sleep))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(agent.run, "Write a long essay.")
            await polling.wait()
            group.cancel_scope.cancel()

    assert calls_summary(emulator) == [("POST", "create"), ("POST", "cancel v1_emu_0001")]
    assert emulator.interactions["v1_emu_0001"]["status"] == "cancelled"


class UnansweredCancels(httpx.AsyncBaseTransport):
    """The emulator, but a request to cancel an interaction gets no answer for 30 s."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/cancel"):
            await anyio.sleep(30)  # a caller waiting that long fails the test, not hangs it
            return httpx.Response(504)
        return await self.emulator.handle_async_request(request)


async def test_a_cancelled_caller_waits_for_the_servers_cancel_a_bounded_time(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(agentkit._drivers, "_CANCEL_WAIT", 0.01)
    emulator = Emulator(Script(["Never delivered."]), background_polls=3)
    polling = anyio.Event()

    async def endless_sleep(seconds: float) -> None:
        polling.set()
        await anyio.sleep_forever()

    transport = UnansweredCancels(emulator)
    client = AsyncClient(
        api_key="test-key", transport=transport, sleep=endless_sleep, max_retries=0
    )
    agent = Agent(MODEL, background=True, client=client)

    with caplog.at_level(logging.WARNING, logger="agentkit"), anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(agent.run, "Write a long essay.")
            await polling.wait()
            group.cancel_scope.cancel()

    assert "gave up cancelling background interaction v1_emu_0001" in caplog.text
    assert emulator.interactions["v1_emu_0001"]["status"] == "in_progress"


async def test_cancelling_during_tools_sends_no_pointless_cancel(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tools = Blocking()
    emulator = Emulator(tools.script(), background_polls=1)
    agent = Agent(
        MODEL,
        tools=tools.tools,
        hooks=tools.hooks,
        background=True,
        client=emulator.async_client(),
    )

    with caplog.at_level(logging.WARNING, logger="agentkit"), anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(agent.run, "Do both.")
            await tools.both_busy()
            group.cancel_scope.cancel()

    assert "slow cancelled b" in tools.log
    assert emulator.interactions["v1_emu_0001"]["status"] == "requires_action"
    assert not [r for r in calls_summary(emulator) if r[1].startswith("cancel")]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# -- the sync driver --------------------------------------------------------------------------


async def test_run_sync_works_inside_a_running_event_loop() -> None:
    # As in Jupyter: called straight from the event loop's thread, not from a worker thread.
    emulator = Emulator(Script(WEATHER_SCRIPT))
    calls: list[str] = []
    agent = Agent(MODEL, tools=[weather_tool(calls)], client=emulator.async_client())

    result = agent.run_sync("Weather in Paris?")

    assert result.output_text == "Sunny in Paris."
    assert calls == ["Paris"]
    await anyio.lowlevel.checkpoint()  # the loop is still usable


def test_ctrl_c_while_polling_cancels_the_background_interaction() -> None:
    # Ctrl-C lands in the caller's thread, most likely while it waits between two polls.
    emulator = Emulator(Script(["Never delivered."]), background_polls=5)
    waits: list[float] = []

    def interrupted_sleep(seconds: float) -> None:
        waits.append(seconds)
        raise KeyboardInterrupt

    agent = Agent(MODEL, background=True, client=emulator.client(sleep=interrupted_sleep))

    with pytest.raises(KeyboardInterrupt):
        agent.run_sync("Write a long essay.")

    assert waits == [PollPolicy().first]
    assert calls_summary(emulator) == [("POST", "create"), ("POST", "cancel v1_emu_0001")]
    assert emulator.interactions["v1_emu_0001"]["status"] == "cancelled"
