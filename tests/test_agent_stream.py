"""Streaming runs: typed run events across turns, server tools, resumed streams, stateless."""

from __future__ import annotations

import gc
import logging
import warnings
from contextlib import aclosing
from typing import Any

import anyio
import anyio.to_thread
import pytest
from _agent_bg_helpers import (
    DRIVERS,
    MODEL,
    calls_summary,
    creates,
    describe,
    dropping,
    final_result,
    kinds,
    run,
    stream,
    streamed_text,
)

from agentkit import Agent, FunctionTool, google_search, tool
from agentkit.events import (
    RunCompleteEvent,
    RunEvent,
    ServerToolEvent,
    StatusEvent,
    TextDeltaEvent,
    ThoughtSummaryEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from agentkit.exceptions import StreamError
from agentkit.testing import Emulator, Reply, Script, function_call, text, thought
from agentkit.testing import google_search as search_steps

pytestmark = pytest.mark.anyio

ANSWER = "Paris is sunny today, and Atlantis could not be found on any map."


def weather_tool(calls: list[str]) -> FunctionTool[..., Any]:
    @tool
    def get_weather(city: str) -> str:
        """Get the weather in a city.

        Args:
            city: The city.
        """
        calls.append(city)
        if city == "Atlantis":
            raise ValueError("no such city")
        return f"sunny in {city}"

    return get_weather


def in_call_order(events: list[RunEvent]) -> list[RunEvent]:
    """The events with each batch's tool results in call order.

    Results stream in the order their tools end, and the two calls of `two_turns` run
    concurrently in worker threads: either may end first.
    """
    calls = [e.call.id for e in events if isinstance(e, ToolCallEvent)]
    ordered: list[RunEvent] = []
    batch: list[ToolResultEvent] = []
    for event in [*events, None]:
        if isinstance(event, ToolResultEvent):
            batch.append(event)
            continue
        batch.sort(key=lambda result: calls.index(result.call.id))
        ordered += batch
        batch = []
        if event is not None:
            ordered.append(event)
    return ordered


def two_turns() -> list[Any]:
    """A search and two calls (one fails), then a text answer after a thought."""
    return [
        [
            thought("Let me look it up."),
            *search_steps("weather Paris"),
            function_call("get_weather", {"city": "Paris"}),
            function_call("get_weather", {"city": "Atlantis"}),
        ],
        [thought("Now I can answer."), text(ANSWER)],
    ]


@pytest.mark.parametrize("driver", DRIVERS)
async def test_stream_yields_typed_events_across_every_turn(driver: str) -> None:
    emulator = Emulator(Script(two_turns()))
    calls: list[str] = []
    agent = Agent(
        MODEL, tools=[weather_tool(calls), google_search()], client=emulator.async_client()
    )

    with anyio.fail_after(5):
        events = await stream(agent, "Weather in Paris and Atlantis?", driver)

    # The same sequence through both drivers.
    assert kinds(events) == [
        "status",
        "thought_summary",
        "server_tool",
        "server_tool",
        "status",
        "tool_call",
        "tool_call",
        "tool_result",
        "tool_result",
        "status",
        "thought_summary",
        "text",
        "status",
        "complete",
    ]
    result = final_result(events)
    assert result.status == "completed"
    assert result.interaction_id == "v1_emu_0002"
    assert streamed_text(events) == result.output_text == ANSWER
    assert len([e for e in events if isinstance(e, TextDeltaEvent)]) > 1
    assert {e.interaction_id for e in events if isinstance(e, TextDeltaEvent)} == {"v1_emu_0002"}

    summaries = [e.text for e in events if isinstance(e, ThoughtSummaryEvent)]
    assert summaries == ["Let me look it up.", "Now I can answer."]
    server = [e.step.type for e in events if isinstance(e, ServerToolEvent)]
    assert server == ["google_search_call", "google_search_result"]
    statuses = [(e.status, e.interaction_id) for e in events if isinstance(e, StatusEvent)]
    # Each status change once: created (in_progress), then how the interaction settled.
    assert statuses == [
        ("in_progress", "v1_emu_0001"),
        ("requires_action", "v1_emu_0001"),
        ("in_progress", "v1_emu_0002"),
        ("completed", "v1_emu_0002"),
    ]

    tool_calls = [e for e in events if isinstance(e, ToolCallEvent)]
    assert [(e.name, e.arguments) for e in tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Atlantis"}),
    ]
    tool_results = [e for e in in_call_order(events) if isinstance(e, ToolResultEvent)]
    assert [(e.call.id, e.ok) for e in tool_results] == [("fc_0001", True), ("fc_0002", False)]
    assert tool_results[1].result.is_error
    for call_event in tool_calls:
        result_event = next(e for e in tool_results if e.call.id == call_event.call.id)
        assert events.index(call_event) < events.index(result_event)
    assert sorted(calls) == ["Atlantis", "Paris"]
    # The server tool steps stay in the result.
    assert [s.type for s in result.steps if s.type.startswith("google_search")] == [
        "google_search_call",
        "google_search_result",
    ]


LONG = "One two three four five six seven eight nine ten eleven twelve."


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_streamed_continuation_goes_on_until_the_last_hop(driver: str) -> None:
    emulator = Emulator(Script([Reply([text(LONG)], hops=3)]))
    agent = Agent(MODEL, client=emulator.async_client())

    with anyio.fail_after(5):
        events = await stream(agent, "Count.", driver)

    result = final_result(events)
    assert streamed_text(events) == result.output_text == LONG
    assert result.interaction_id == "v1_emu_0003"
    statuses = [(e.status, e.interaction_id) for e in events if isinstance(e, StatusEvent)]
    assert statuses == [
        ("in_progress", "v1_emu_0001"),
        ("requires_continuation", "v1_emu_0001"),
        ("in_progress", "v1_emu_0002"),
        ("requires_continuation", "v1_emu_0002"),
        ("in_progress", "v1_emu_0003"),
        ("completed", "v1_emu_0003"),
    ]
    bodies = creates(emulator)
    assert [body.get("continuation_token") for body in bodies] == [
        None,
        "emu-ct-0001",
        "emu-ct-0002",
    ]
    # Usage is per HTTP request in a stream: the run sums every hop.
    total = sum(record["usage"]["total_tokens"] for record in emulator.interactions.values())
    assert result.usage.total_tokens == total > 0


@pytest.mark.parametrize("summaries", ["auto", None])
@pytest.mark.parametrize("driver", DRIVERS)
async def test_thought_summaries_stream_when_enabled(driver: str, summaries: str | None) -> None:
    emulator = Emulator()  # the default model thinks aloud only when asked to
    config = {"thinking_summaries": summaries} if summaries else None
    agent = Agent(MODEL, generation_config=config, client=emulator.async_client())

    with anyio.fail_after(5):
        events = await stream(agent, "Hello there.", driver)

    thoughts = [e.text for e in events if isinstance(e, ThoughtSummaryEvent)]
    assert thoughts == (["Thinking about the request."] if summaries else [])
    assert streamed_text(events) == final_result(events).output_text == "You said: Hello there."


@pytest.mark.parametrize("driver", DRIVERS)
async def test_stream_sync_and_stream_give_the_same_events(driver: str) -> None:
    # Deterministic emulator ids make two fresh runs comparable event by event.
    emulator = Emulator(Script(two_turns()))
    agent = Agent(MODEL, tools=[weather_tool([]), google_search()], client=emulator.async_client())
    reference_emulator = Emulator(Script(two_turns()))
    reference = Agent(
        MODEL, tools=[weather_tool([]), google_search()], client=reference_emulator.async_client()
    )

    with anyio.fail_after(5):
        events = await stream(agent, "Weather?", driver)
        expected = await stream(reference, "Weather?", "async")

    assert [describe(e) for e in in_call_order(events)] == [
        describe(e) for e in in_call_order(expected)
    ]


async def _clean_run(driver: str) -> tuple[list[RunEvent], list[str]]:
    emulator = Emulator(Script(two_turns()))
    calls: list[str] = []
    agent = Agent(
        MODEL, tools=[weather_tool(calls), google_search()], client=emulator.async_client()
    )
    return await stream(agent, "Weather?", driver), calls


@pytest.mark.parametrize("turn", [0, 1])
@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_dropped_stream_resumes_without_duplicates(driver: str, turn: int) -> None:
    with anyio.fail_after(10):
        expected, expected_calls = await _clean_run(driver)
        dropped_at: list[int] = []
        for k in range(1, 100):  # every cut point, until the stream is shorter than k
            replies = two_turns()
            emulator = Emulator()
            replies[turn] = dropping(emulator, k, replies[turn])
            emulator.behaviour = Script(replies)
            calls: list[str] = []
            agent = Agent(
                MODEL,
                tools=[weather_tool(calls), google_search()],
                client=emulator.async_client(),
            )

            events = await stream(agent, "Weather?", driver)

            resumes = [r for r in emulator.requests if r.query.get("last_event_id")]
            if not resumes:
                break  # k reached past the end of the stream: nothing was dropped
            dropped_at.append(k)
            assert len(resumes) == 1
            interaction_id = f"v1_emu_{turn + 1:04d}"
            assert calls_summary(emulator).count(("GET", f"stream {interaction_id}")) == 1
            ordered = [describe(e) for e in in_call_order(events)]
            assert ordered == [describe(e) for e in in_call_order(expected)], k
            result = final_result(events)
            assert streamed_text(events) == result.output_text == ANSWER
            assert [s.to_wire() for s in result.steps] == [
                s.to_wire() for s in final_result(expected).steps
            ]
            assert sorted(calls) == sorted(expected_calls)

    assert len(dropped_at) >= 5, dropped_at  # the stream was cut at many places


async def test_the_resume_starts_after_the_last_event_received() -> None:
    emulator = Emulator(Script(["One two three four five six."]))
    agent = Agent(MODEL, client=emulator.async_client())
    emulator.drop_stream_after(3)

    with anyio.fail_after(5):
        events = await stream(agent, "Count.", "async")

    # Event ids are numbered from evt_000001; the third one was the last to arrive.
    resumes = [r.query for r in emulator.requests if r.method == "GET"]
    assert resumes == [{"stream": "true", "last_event_id": "evt_000003"}]
    assert streamed_text(events) == "One two three four five six."


@pytest.mark.parametrize("driver", DRIVERS)
async def test_stateless_stream_resends_the_rebuilt_steps_exactly(driver: str) -> None:
    # The emulator checks thought signatures: a step rebuilt from deltas that differs in any
    # way from what the model produced makes the next request fail with 400.
    def script() -> Script:
        return Script(
            [
                [thought("Planning."), function_call("get_weather", {"city": "Paris"})],
                [thought(), function_call("get_weather", {"city": "Lyon"})],
                [thought(), text(ANSWER)],
            ]
        )

    emulator = Emulator(script())
    calls: list[str] = []
    agent = Agent(MODEL, tools=[weather_tool(calls)], store=False, client=emulator.async_client())
    reference_emulator = Emulator(script())
    reference = Agent(
        MODEL, tools=[weather_tool([])], store=False, client=reference_emulator.async_client()
    )

    with anyio.fail_after(5):
        events = await stream(agent, "Weather in Paris, then Lyon?", driver)
        unstreamed = await run(reference, "Weather in Paris, then Lyon?", driver)

    result = final_result(events)
    assert result.status == "completed"
    assert streamed_text(events) == result.output_text == ANSWER
    assert calls == ["Paris", "Lyon"]
    bodies = creates(emulator)
    assert len(bodies) == 3
    assert all(body["store"] is False for body in bodies)
    assert all("previous_interaction_id" not in body for body in bodies)
    # Each turn re-sends exactly what a non-streamed run sends.
    assert [b["input"] for b in bodies] == [b["input"] for b in creates(reference_emulator)]
    assert [step["type"] for step in bodies[2]["input"]] == [
        "user_input",
        "thought",
        "function_call",
        "function_result",
        "thought",
        "function_call",
        "function_result",
    ]
    assert result.state.history == unstreamed.state.history


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_background_agent_streams_too(driver: str) -> None:
    emulator = Emulator(Script(["Streamed from the background."]), background_polls=3)
    agent = Agent(MODEL, background=True, client=emulator.async_client())

    with anyio.fail_after(5):
        events = await stream(agent, "Go.", driver)

    result = final_result(events)
    assert result.status == "completed"
    assert streamed_text(events) == result.output_text == "Streamed from the background."
    assert creates(emulator)[0]["background"] is True


async def test_stream_sync_works_inside_a_running_event_loop() -> None:
    # As in Jupyter: straight from the event loop's thread.
    emulator = Emulator(Script(two_turns()))
    agent = Agent(MODEL, tools=[weather_tool([]), google_search()], client=emulator.async_client())

    events = list(agent.stream_sync("Weather?"))

    assert streamed_text(events) == final_result(events).output_text == ANSWER
    assert len([e for e in events if isinstance(e, ToolResultEvent)]) == 2


@pytest.mark.parametrize("stop_at", [ToolCallEvent, TextDeltaEvent])
async def test_breaking_out_of_a_stream_stops_and_cleans_up(stop_at: type[RunEvent]) -> None:
    # trio warns (ResourceWarning) about async generators collected before they finished.
    emulator = Emulator(Script(two_turns()))
    calls: list[str] = []
    agent = Agent(
        MODEL, tools=[weather_tool(calls), google_search()], client=emulator.async_client()
    )

    with warnings.catch_warnings(record=True) as caught, anyio.fail_after(5):
        warnings.simplefilter("always")
        async with aclosing(agent.stream("Weather?")) as events:
            async for event in events:
                if isinstance(event, stop_at):
                    break
        gc.collect()

    assert sorted(calls) == ([] if stop_at is ToolCallEvent else ["Atlantis", "Paris"])
    assert len(creates(emulator)) == (1 if stop_at is ToolCallEvent else 2)
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


async def test_cancelling_a_background_stream_cancels_the_server_interaction(
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator = Emulator(Script([LONG]), background_polls=3)
    agent = Agent(MODEL, background=True, client=emulator.async_client())
    seen: list[RunEvent] = []

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:

            async def consume() -> None:
                async with aclosing(agent.stream("Count.")) as events:
                    async for event in events:
                        seen.append(event)
                        if isinstance(event, TextDeltaEvent):
                            group.cancel_scope.cancel()  # lands in the stream's next read

            group.start_soon(consume)

    assert kinds(seen)[-1] == "text"
    assert calls_summary(emulator)[-1] == ("POST", "cancel v1_emu_0001")
    # The emulator finishes streamed work at once, so it refuses the cancel: the run logs
    # that and lets the cancellation go on.
    assert emulator.interactions["v1_emu_0001"]["status"] == "completed"
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "could not cancel background interaction v1_emu_0001"
    ]


@pytest.mark.parametrize("driver", DRIVERS)
async def test_an_error_event_ends_the_run_with_stream_error(driver: str) -> None:
    emulator = Emulator(Script([LONG]))
    agent = Agent(MODEL, client=emulator.async_client())
    emulator.error_stream_after(4, code="resource_exhausted", message="Quota exceeded.")
    seen: list[RunEvent] = []

    async def consume() -> None:
        if driver == "async":
            async with aclosing(agent.stream("Count.")) as events:
                async for event in events:
                    seen.append(event)
        else:

            def consume_sync() -> None:
                for event in agent.stream_sync("Count."):
                    seen.append(event)

            await anyio.to_thread.run_sync(consume_sync)

    with anyio.fail_after(5), pytest.raises(StreamError, match="Quota exceeded") as caught:
        await consume()

    assert caught.value.code == "resource_exhausted"
    # What arrived before the error was delivered, once.
    assert kinds(seen)[0] == "status"
    assert LONG.startswith(streamed_text(seen))
    assert not any(isinstance(e, RunCompleteEvent) for e in seen)
