"""A run keeps its timings: requests with their retries, polls, stream resumptions, tool calls."""

from __future__ import annotations

import anyio
import pytest
from _agent_bg_helpers import DRIVERS, MODEL, resume, run, stream
from _timeline_helpers import broken, parallel_calls, weather

from agentkit import Agent, APIError, Hooks, RunState, tool
from agentkit.events import RunCompleteEvent
from agentkit.testing import Emulator, Script, function_call
from agentkit.timeline import Timeline
from agentkit.types import FunctionCallStep

pytestmark = pytest.mark.anyio


def parallel() -> Script:
    return Script([parallel_calls(), "Paris and Rome are mild."])


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_parallel_batch_is_one_turn_of_tool_spans_between_two_requests(
    driver: str,
) -> None:
    emulator = Emulator(parallel())
    agent = Agent(MODEL, tools=[weather, broken], client=emulator.async_client())

    with anyio.fail_after(5):
        result = await run(agent, "Weather?", driver)

    timeline = result.timeline
    first, second = timeline.requests
    assert (first.turn, first.status, first.interaction_id) == (1, "requires_action", "v1_emu_0001")
    assert (second.turn, second.status, second.interaction_id) == (2, "completed", "v1_emu_0002")
    tools = sorted(timeline.tool_calls, key=lambda span: span.call_id or "")
    assert [(span.name, span.call_id, span.turn) for span in tools] == [
        ("broken", "call_broken", 1),
        ("weather", "call_paris", 1),
        ("weather", "call_rome", 1),
    ]
    assert [span.error for span in tools] == ["ValueError: no luck: storm", None, None]
    for span in tools:
        assert first.end <= span.start <= span.end <= second.start
    assert second.usage is not None
    assert second.usage["total_tokens"] > 0
    assert timeline.started_at == result.state.started_at
    assert timeline.duration == second.end
    assert [span.label for span in timeline.requests] == ["turn 1", "turn 2"]


async def test_tool_calls_of_one_batch_overlap_in_time() -> None:
    # Each tool waits for the other to start: run one after the other, they would deadlock.
    started = {"first": anyio.Event(), "second": anyio.Event()}

    @tool
    async def meet(me: str, other: str) -> str:
        """Wait until the other call is running too."""
        started[me].set()
        await started[other].wait()
        return "met"

    calls = [
        function_call("meet", {"me": "first", "other": "second"}),
        function_call("meet", {"me": "second", "other": "first"}),
    ]
    emulator = Emulator(Script([calls, "Both ran."]))
    agent = Agent(MODEL, tools=[meet], client=emulator.async_client())

    with anyio.fail_after(5):
        result = await agent.run("Go.")

    a, b = result.timeline.tool_calls
    assert a.start < b.end
    assert b.start < a.end


@pytest.mark.parametrize("hook", ["before_tool", "after_tool"])
async def test_tool_hooks_of_the_agent_still_run_beside_the_timeline(hook: str) -> None:
    seen: list[str] = []

    def record(call: FunctionCallStep, *_: object) -> None:
        seen.append(call.name)

    hooks = Hooks(before_tool=record) if hook == "before_tool" else Hooks(after_tool=record)
    emulator = Emulator(parallel())
    agent = Agent(MODEL, tools=[weather, broken], hooks=hooks, client=emulator.async_client())

    with anyio.fail_after(5):
        result = await agent.run("Weather?")

    assert sorted(seen) == ["broken", "weather", "weather"]
    assert len(result.timeline.tool_calls) == 3


@pytest.mark.parametrize("driver", DRIVERS)
async def test_retried_requests_keep_each_failed_attempt(driver: str) -> None:
    emulator = Emulator(Script(["Fine."]))
    emulator.fail_next(2, 503)
    agent = Agent(MODEL, client=emulator.async_client())

    with anyio.fail_after(5):
        result = await run(agent, "Hi.", driver)

    (request,) = result.timeline.requests
    assert [retry.error for retry in request.retries] == ["Error code: 503 - Injected fault."] * 2
    assert [retry.delay for retry in request.retries] == emulator.sleeps
    assert request.start <= request.retries[0].at <= request.retries[1].at <= request.end
    assert request.status == "completed"


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_background_run_records_each_poll_with_its_wait(driver: str) -> None:
    emulator = Emulator(Script(["Long answer."]), background_polls=2)
    agent = Agent(MODEL, background=True, client=emulator.async_client())

    with anyio.fail_after(5):
        result = await run(agent, "Think.", driver)

    spans = result.timeline.spans
    assert [(span.kind, span.turn, span.status) for span in spans] == [
        ("request", 1, "in_progress"),
        ("poll", 1, "in_progress"),
        ("poll", 1, "in_progress"),
        ("poll", 1, "completed"),
    ]
    assert [span.delay for span in spans[1:]] == emulator.sleeps
    assert [span.label for span in spans[1:]] == ["poll 1"] * 3


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_resumed_stream_is_noted_on_its_request(driver: str) -> None:
    emulator = Emulator(Script(["One two three four five six."]))
    emulator.drop_stream_after(3)
    agent = Agent(MODEL, client=emulator.async_client())

    with anyio.fail_after(5):
        events = await stream(agent, "Count.", driver)

    complete = events[-1]
    assert isinstance(complete, RunCompleteEvent)
    (request,) = complete.result.timeline.requests
    (resumed,) = request.resumes
    assert "connection" in resumed.error.lower() or "broke" in resumed.error.lower()
    assert request.retries == ()
    assert request.start <= resumed.at <= request.end


@pytest.mark.parametrize("driver", DRIVERS)
async def test_the_partial_result_of_a_failed_run_keeps_the_timings(driver: str) -> None:
    emulator = Emulator(parallel())

    @tool
    def weather(city: str) -> str:
        """Get the weather; the next request is refused."""
        emulator.fail_next(1, 400)
        return "mild"

    agent = Agent(MODEL, tools=[weather, broken], client=emulator.async_client())

    with anyio.fail_after(5), pytest.raises(APIError) as raised:
        await run(agent, "Weather?", driver)

    partial = raised.value.partial
    assert partial is not None
    *_, failed = partial.timeline.spans
    assert failed.kind == "request"
    assert failed.error is not None
    assert "400" in failed.error
    assert len(partial.timeline.tool_calls) == 3


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_saved_and_resumed_run_goes_on_with_the_same_timeline(driver: str) -> None:
    @tool(needs_approval=True)
    def pay(amount: int) -> str:
        """Pay an amount."""
        return f"paid {amount}"

    emulator = Emulator(Script([function_call("pay", {"amount": 5}), "Paid."]))
    agent = Agent(MODEL, tools=[pay], client=emulator.async_client())

    with anyio.fail_after(5):
        paused = await run(agent, "Pay.", driver)
        saved = RunState.from_json(paused.state.to_json())
        (call,) = saved.pending_calls
        done = await resume(agent, saved, {call.id or "": True}, driver)

    assert saved.timeline == paused.state.timeline
    assert done.state.started_at == paused.state.started_at
    before, after = paused.timeline.spans, done.timeline.spans
    assert after[: len(before)] == before
    assert [span.kind for span in after[len(before) :]] == ["tool", "request"]
    assert after[len(before)].start >= before[-1].end
    assert paused.state.timeline is not done.state.timeline  # a result is a snapshot


def test_spans_saved_by_a_newer_version_load_without_their_new_keys() -> None:
    raw = {"kind": "tool", "start": 0.5, "end": 1.0, "turn": 1, "name": "f", "cost": 3}

    (span,) = Timeline.of(RunState(started_at=1.0, timeline=[raw])).spans

    assert (span.name, span.duration, span.label) == ("f", 0.5, "f")


def test_a_state_without_timings_has_an_empty_timeline() -> None:
    timeline = Timeline.of(RunState())

    assert timeline == Timeline(None, ())
    assert timeline.duration == 0.0
