"""`Agent` runs against the emulator: the tool loop, history, errors, statuses and limits.

Every scenario runs through both drivers (`run` and `run_sync`) on asyncio and trio, and
asserts on what the emulator received. Inputs, outputs (media, structured), request fields,
hooks, logging and the loopback socket are in `test_agent_inputs.py`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import anyio
import anyio.lowlevel
import httpx
import pytest
from _agent_helpers import (
    MODEL,
    Driver,
    Rendezvous,
    Rewriting,
    Weather,
    bodies,
    get_time,
    result_text,
    results_json,
    stored_usage,
    user_input,
)

from agentkit import (
    Agent,
    RunContext,
    RunResult,
    RunState,
    UsageLimits,
    code_execution,
    google_search,
    tool,
    url_context,
)
from agentkit.exceptions import (
    InteractionFailed,
    MaxTurnsExceeded,
    RepeatedCallError,
    UnexpectedStatusError,
    UsageLimitExceeded,
)
from agentkit.testing import Emulator, ModelRequest, Reply, Script, function_call, text, thought
from agentkit.types import Citation, UnknownStep

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["async", "sync"])
def run(request: pytest.FixtureRequest) -> Driver:
    return Driver(request.param)


def paris_and_rome() -> list[Any]:
    return [
        thought(),
        function_call("get_weather", {"city": "Paris"}),
        function_call("get_weather", {"city": "Rome"}),
    ]


# --- the stateful loop -------------------------------------------------------------------------


async def test_stateful_run_sends_every_result_in_one_chained_request(run: Driver) -> None:
    weather = Weather()
    emulator = Emulator(Script([paris_and_rome(), "Sunny in both."]))
    agent = Agent(
        MODEL,
        tools=[weather.tool, google_search()],
        system_instruction="Be brief.",
        generation_config={"thinking_level": "low"},
        client=emulator.async_client(),
    )

    result = await run(agent, "Weather in Paris and Rome?")

    declarations = [weather.tool.declaration, {"type": "google_search"}]
    first, second = bodies(emulator)
    assert first == {
        "model": MODEL,
        "input": "Weather in Paris and Rome?",
        "tools": declarations,
        "system_instruction": "Be brief.",
        "generation_config": {"thinking_level": "low"},
    }
    results = emulator.function_results
    assert second == {
        "model": MODEL,
        "previous_interaction_id": "v1_emu_0001",
        "input": results,
        "tools": declarations,
        "system_instruction": "Be brief.",
        "generation_config": {"thinking_level": "low"},
    }
    assert [(r["call_id"], r["name"]) for r in results] == [
        ("fc_0001", "get_weather"),
        ("fc_0002", "get_weather"),
    ]
    assert results_json(emulator) == [
        {"city": "Paris", "temperature_c": 21},
        {"city": "Rome", "temperature_c": 21},
    ]
    assert sorted(weather.cities) == ["Paris", "Rome"]

    assert result.status == "completed"
    assert result.output_text == "Sunny in both."
    assert result.interaction_id == "v1_emu_0002"
    assert [step.type for step in result.steps] == [
        "user_input",
        "thought",
        "function_call",
        "function_call",
        "function_result",
        "function_result",
        "model_output",
    ]
    assert result.step_interaction_ids == ["v1_emu_0001"] * 4 + ["v1_emu_0002"] * 3
    assert [call.arguments for call in result.function_calls] == [
        {"city": "Paris"},
        {"city": "Rome"},
    ]


async def test_usage_is_summed_over_every_request_of_the_run(run: Driver) -> None:
    weather = Weather()
    script = Script([[function_call("get_weather", {"city": "Paris"})], paris_and_rome(), "Done."])
    emulator = Emulator(script)
    agent = Agent(MODEL, tools=[weather.tool], client=emulator.async_client())

    result = await run(agent, "Weather, twice please")

    assert len(emulator.interactions) == 3
    for key in ("total_tokens", "total_input_tokens", "total_output_tokens"):
        assert getattr(result.usage, key) == stored_usage(emulator, key) > 0


async def test_tools_see_one_run_context_across_turns(run: Driver) -> None:
    seen: list[RunContext[str]] = []

    def count(ctx: RunContext[str]) -> int:
        """Count the calls of this run."""
        seen.append(ctx)
        ctx.metadata["calls"] = ctx.metadata.get("calls", 0) + 1
        return int(ctx.metadata["calls"])

    script = Script([[function_call("count", {})], [function_call("count", {})], "Twice."])
    emulator = Emulator(script)
    agent = Agent(MODEL, tools=[count], client=emulator.async_client())

    await run(agent, "Count twice.", deps="d")

    first, second = seen
    assert results_json(emulator) == [1, 2]  # the metadata of one call reached the next turn
    assert (first.deps, first.run_id, first.tool_name) == (second.deps, second.run_id, "count")
    assert first.deps == "d"
    assert (first.turn, second.turn) == (1, 2)
    assert first.interaction_id != second.interaction_id
    assert (first.call_id, second.call_id) == (
        bodies(emulator)[1]["input"][0]["call_id"],
        bodies(emulator)[2]["input"][0]["call_id"],
    )


async def test_parallel_calls_in_one_response_all_run(run: Driver) -> None:
    weather = Weather()
    calls = [
        function_call("get_weather", {"city": "Paris"}),
        function_call("get_time", {"city": "Paris"}),
        function_call("get_weather", {"city": "Oslo"}),
    ]
    emulator = Emulator(Script([calls, "All done."]))
    agent = Agent(MODEL, tools=[weather.tool, get_time], client=emulator.async_client())

    result = await run(agent, "Paris weather and time, Oslo weather")

    assert sorted(weather.cities) == ["Oslo", "Paris"]
    assert len(bodies(emulator)) == 2
    assert [(r["call_id"], r["name"]) for r in emulator.function_results] == [
        ("fc_0001", "get_weather"),
        ("fc_0002", "get_time"),
        ("fc_0003", "get_weather"),
    ]
    assert json.loads(result_text(emulator.function_results[2])) == {
        "city": "Oslo",
        "temperature_c": 21,
    }
    assert result_text(emulator.function_results[1]) == "12:00 in Paris"
    assert result.output_text == "All done."


# --- stateless ---------------------------------------------------------------------------------

HOLOGRAM = {
    "type": "hologram_call",
    "beam": {"angle": 1.5, "colours": ["red", None], "on": True},
    "note": None,
}


async def test_stateless_run_resends_the_whole_history_exactly(run: Driver) -> None:
    weather = Weather()
    script = Script(
        [
            [thought(), HOLOGRAM, function_call("get_weather", {"city": "Paris"})],
            [thought("Rome too."), function_call("get_weather", {"city": "Rome"})],
            "Sunny.",
        ]
    )
    emulator = Emulator(script)
    agent = Agent(MODEL, tools=[weather.tool], store=False, client=emulator.async_client())

    result = await run(agent, "Weather in Paris and Rome?")

    sent = bodies(emulator)
    assert len(sent) == 3
    for body in sent:
        assert body["store"] is False
        assert "previous_interaction_id" not in body
    first, second, third = (body["input"] for body in sent)
    assert first == [user_input("Weather in Paris and Rome?")]
    # The emulator verified every thought signature over the model steps re-sent after it, so
    # getting here proves those steps came back byte for byte; this checks the order too.
    assert [step["type"] for step in second] == [
        "user_input",
        "thought",
        "hologram_call",
        "function_call",
        "function_result",
    ]
    assert second[0] == first[0]
    assert second[2] == HOLOGRAM
    assert isinstance(second[1]["signature"], str)
    assert second[3] == {
        "type": "function_call",
        "id": "fc_0001",
        "name": "get_weather",
        "arguments": {"city": "Paris"},
    }
    assert third[: len(second)] == second
    assert [step["type"] for step in third[len(second) :]] == [
        "thought",
        "function_call",
        "function_result",
    ]
    assert third[len(second)]["summary"] == [{"type": "text", "text": "Rome too."}]
    assert result.output_text == "Sunny."
    assert result.status == "completed"
    holograms = [step for step in result.steps if isinstance(step, UnknownStep)]
    assert [step.to_wire() for step in holograms] == [HOLOGRAM]


async def test_stateless_history_the_model_sees_holds_every_turn(run: Driver) -> None:
    seen: list[list[dict[str, Any]]] = []

    def answer(request: ModelRequest) -> str:
        seen.append(request.history)
        return "Sunny."

    weather = Weather()
    emulator = Emulator(Script([paris_and_rome(), answer]))
    agent = Agent(MODEL, tools=[weather.tool], store=False, client=emulator.async_client())

    await run(agent, "Weather?")

    assert [step["type"] for step in seen[0]] == [
        "user_input",
        "thought",
        "function_call",
        "function_call",
        "function_result",
        "function_result",
    ]
    assert [step["call_id"] for step in seen[0][4:]] == ["fc_0001", "fc_0002"]


async def test_stateless_run_resends_server_tool_steps_exactly(run: Driver) -> None:
    weather = Weather()
    emulator = Emulator()  # a signed thought, server call/result steps, then a function call
    agent = Agent(
        MODEL,
        tools=[weather.tool, google_search(), code_execution()],
        store=False,
        client=emulator.async_client(),
    )

    result = await run(agent, "Weather in Paris?")

    first, second = (body["input"] for body in bodies(emulator))
    assert [step["type"] for step in second[len(first) :]] == [
        "thought",
        "google_search_call",
        "google_search_result",
        "code_execution_call",
        "code_execution_result",
        "function_call",
        "function_result",
    ]
    sent_steps = second[len(first) : -1]
    received = [step.to_wire() for step in result.steps[1 : len(sent_steps) + 1]]
    assert sent_steps == received
    assert [c.title for c in result.citations] == ["example.com"]


# --- the next turn -----------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["result", "state_json"])
async def test_next_turn_chains_previous_interaction_id(run: Driver, via: str) -> None:
    seen: list[list[dict[str, Any]]] = []

    def answer(request: ModelRequest) -> str:
        seen.append(request.history)
        return "You're welcome."

    weather = Weather()
    script = Script([[function_call("get_weather", {"city": "Paris"})], "Sunny.", answer])
    emulator = Emulator(script)
    agent = Agent(MODEL, tools=[weather.tool], client=emulator.async_client())

    first = await run(agent, "Weather in Paris?")
    previous: RunResult[Any] | RunState = first
    if via == "state_json":
        previous = RunState.from_json(first.state.to_json())
    second = await run(agent, "Thanks!", previous=previous)

    assert bodies(emulator)[2] == {
        "model": MODEL,
        "input": "Thanks!",
        "previous_interaction_id": first.interaction_id,
        "tools": [weather.tool.declaration],
    }
    assert [step["type"] for step in seen[0]] == [
        "user_input",
        "function_call",
        "function_result",
        "model_output",
        "user_input",
    ]
    assert second.output_text == "You're welcome."
    assert second.interaction_id == "v1_emu_0003"
    assert weather.cities == ["Paris"]


@pytest.mark.parametrize("via", ["result", "state_json"])
async def test_next_turn_stateless_carries_the_history(run: Driver, via: str) -> None:
    weather = Weather()
    script = Script(
        [[thought(), function_call("get_weather", {"city": "Paris"})], "Sunny.", "Bye."]
    )
    emulator = Emulator(script)
    agent = Agent(MODEL, tools=[weather.tool], store=False, client=emulator.async_client())

    first = await run(agent, "Weather in Paris?")
    previous: RunResult[Any] | RunState = first
    if via == "state_json":
        previous = RunState.from_json(first.state.to_json())
    second = await run(agent, "Thanks!", previous=previous)

    turn_two, turn_three = (body["input"] for body in bodies(emulator)[1:])
    assert turn_three == [
        *turn_two,
        {"type": "model_output", "content": [{"type": "text", "text": "Sunny."}]},
        user_input("Thanks!"),
    ]
    assert "previous_interaction_id" not in bodies(emulator)[2]
    assert second.output_text == "Bye."


async def test_a_runs_state_saved_without_its_unset_fields_still_holds_the_whole_run(
    run: Driver,
) -> None:
    script = Script([function_call("get_weather", {"city": "Paris"}), "Sunny."])
    emulator = Emulator(script)
    agent = Agent(MODEL, tools=[Weather().tool], store=False, client=emulator.async_client())

    result = await run(agent, "Weather in Paris?")

    saved = RunState.model_validate_json(result.state.model_dump_json(exclude_unset=True))
    assert saved == result.state
    assert len(saved.steps) == len(saved.history) == 4


# --- tool errors -------------------------------------------------------------------------------


async def test_unknown_tool_gets_an_error_listing_the_available_tools(run: Driver) -> None:
    weather = Weather()
    emulator = Emulator(Script([[function_call("launch_rocket", {"to": "Mars"})], "Sorry."]))
    agent = Agent(MODEL, tools=[weather.tool, get_time], client=emulator.async_client())

    result = await run(agent, "Go to Mars")

    (error,) = emulator.function_results
    assert error["is_error"] is True
    assert error["call_id"] == "fc_0001"
    message = result_text(error)
    assert "'launch_rocket'" in message
    assert "get_time" in message
    assert "get_weather" in message
    assert weather.cities == []
    assert result.output_text == "Sorry."


async def test_unknown_and_known_calls_of_one_response_answer_in_call_order(run: Driver) -> None:
    weather = Weather()
    calls = [
        function_call("launch_rocket", {"to": "Mars"}),
        function_call("get_weather", {"city": "Paris"}),
    ]
    emulator = Emulator(Script([calls, "Only the weather."]))
    agent = Agent(MODEL, tools=[weather.tool], client=emulator.async_client())

    await run(agent, "Rocket, then weather")

    unknown, known = emulator.function_results
    assert (unknown["call_id"], unknown["is_error"]) == ("fc_0001", True)
    assert (known["call_id"], known.get("is_error")) == ("fc_0002", None)
    assert weather.cities == ["Paris"]


@pytest.mark.parametrize(
    ("arguments", "named"),
    [({}, "city"), ({"city": ["Paris"]}, "city"), ({"city": "Paris", "planet": "Mars"}, "planet")],
    ids=["missing", "wrong-type", "unexpected"],
)
async def test_invalid_arguments_get_an_error_naming_the_field(
    run: Driver, arguments: dict[str, Any], named: str
) -> None:
    weather = Weather()
    emulator = Emulator(Script([[function_call("get_weather", arguments)], "Let me retry."]))
    agent = Agent(MODEL, tools=[weather.tool], client=emulator.async_client())

    await run(agent, "Weather?")

    (error,) = emulator.function_results
    assert error["is_error"] is True
    assert f"- {named}:" in result_text(error)
    assert weather.cities == []


async def test_a_raising_tool_becomes_an_error_result(run: Driver) -> None:
    weather = Weather(fail_for="Atlantis")
    emulator = Emulator(Script([[function_call("get_weather", {"city": "Atlantis"})], "Hmm."]))
    agent = Agent(MODEL, tools=[weather.tool], client=emulator.async_client())

    result = await run(agent, "Weather in Atlantis?")

    (error,) = emulator.function_results
    assert error["is_error"] is True
    assert result_text(error) == "LookupError: no weather station in Atlantis"
    assert result.status == "completed"


async def test_raise_tool_errors_lets_the_exception_propagate(run: Driver) -> None:
    weather = Weather(fail_for="Atlantis")
    emulator = Emulator(Script([[function_call("get_weather", {"city": "Atlantis"})], "Hmm."]))
    agent = Agent(
        MODEL, tools=[weather.tool], raise_tool_errors=True, client=emulator.async_client()
    )

    with pytest.raises(LookupError, match="no weather station in Atlantis"):
        await run(agent, "Weather in Atlantis?")


async def test_raise_tool_errors_stops_the_run_before_results_are_sent(run: Driver) -> None:
    weather = Weather(fail_for="Atlantis")
    emulator = Emulator(Script([[function_call("get_weather", {"city": "Atlantis"})], "Hmm."]))
    agent = Agent(
        MODEL, tools=[weather.tool], raise_tool_errors=True, client=emulator.async_client()
    )

    with pytest.raises(Exception) as caught:  # noqa: PT011 - the exact type is the bug above
        await run(agent, "Weather in Atlantis?")

    assert "no weather station in Atlantis" in repr(caught.value) + repr(
        getattr(caught.value, "exceptions", ())
    )
    assert len(bodies(emulator)) == 1
    assert emulator.function_results == []


@pytest.mark.parametrize("failing", [0, 2], ids=["first", "last"])
async def test_a_raising_call_cancels_the_calls_running_beside_it(failing: int) -> None:
    all_started = anyio.Event()
    started: list[str] = []
    cancelled: list[str] = []

    async def lookup(item: str) -> str:
        """Look an item up."""
        started.append(item)
        if len(started) == 3:
            all_started.set()
        if item == "bad":
            await all_started.wait()
            raise LookupError("no such item")
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.append(item)
        return item

    items = ["one", "two"]
    items.insert(failing, "bad")
    calls = [function_call("lookup", {"item": item}) for item in items]
    emulator = Emulator(Script([calls, "never"]))
    agent = Agent(MODEL, tools=[lookup], raise_tool_errors=True, client=emulator.async_client())

    with anyio.fail_after(10), pytest.raises(LookupError, match="no such item"):
        await agent.run("Look them up.")

    assert sorted(cancelled) == ["one", "two"]
    assert len(bodies(emulator)) == 1


# --- server tools ------------------------------------------------------------------------------


async def test_server_tools_are_declared_and_never_run_locally(run: Driver) -> None:
    emulator = Emulator()  # the default behaviour answers server tools with their steps
    agent = Agent(
        MODEL,
        tools=[google_search(), url_context(), code_execution()],
        client=emulator.async_client(),
    )
    prompt = "Summarise https://example.org/page"

    result = await run(agent, prompt)

    (body,) = bodies(emulator)
    assert body["tools"] == [
        {"type": "google_search"},
        {"type": "url_context"},
        {"type": "code_execution"},
    ]
    assert emulator.function_results == []
    assert [step.type for step in result.steps] == [
        "user_input",
        "thought",
        "google_search_call",
        "google_search_result",
        "url_context_call",
        "url_context_result",
        "code_execution_call",
        "code_execution_result",
        "model_output",
    ]
    assert result.citations == [
        Citation(
            url=f"https://example.com/search?q={quote(prompt)}",
            title="example.com",
            text=f"{prompt} is well documented",
            start_index=result.citations[0].start_index,
            end_index=result.citations[0].end_index,
        )
    ]
    output = result.output_text or ""
    start, end = result.citations[0].start_index, result.citations[0].end_index
    assert start is not None
    assert end is not None
    assert output.encode()[start:end].decode() == f"{prompt} is well documented"


async def test_function_and_server_tools_mix_and_raw_dicts_pass_through(run: Driver) -> None:
    weather = Weather()
    raw = {"type": "future_tool", "knob": {"level": 3, "labels": ["a", None]}}
    emulator = Emulator()
    agent = Agent(
        MODEL,
        tools=[weather.tool, google_search(search_types=["web_search"]), raw],
        client=emulator.async_client(),
    )

    result = await run(agent, "Weather in Paris?")

    first, second = bodies(emulator)
    expected = [
        weather.tool.declaration,
        {"type": "google_search", "search_types": ["web_search"]},
        raw,
    ]
    assert first["tools"] == expected
    assert second["tools"] == expected
    assert [r["name"] for r in emulator.function_results] == ["get_weather"]
    assert len(weather.cities) == 1
    types = [step.type for step in result.steps]
    assert types.index("google_search_call") < types.index("google_search_result")
    assert types.index("google_search_result") < types.index("function_call")
    assert [c.title for c in result.citations] == ["example.com"]
    assert "get_weather returned" in (result.output_text or "")


# --- statuses ----------------------------------------------------------------------------------


async def test_failed_interaction_raises_with_id_errors_and_partial(run: Driver) -> None:
    weather = Weather()
    failure = Reply(
        [text("Half an ans")],
        status="failed",
        errors=[{"code": "internal", "message": "The model crashed."}],
    )
    emulator = Emulator(Script([[function_call("get_weather", {"city": "Paris"})], failure]))
    agent = Agent(MODEL, tools=[weather.tool], client=emulator.async_client())

    with pytest.raises(InteractionFailed, match="The model crashed") as caught:
        await run(agent, "Weather?")

    error = caught.value
    assert error.interaction_id == "v1_emu_0002"
    assert [(e.code, e.message) for e in error.errors] == [("internal", "The model crashed.")]
    assert error.partial is not None
    assert error.partial.status == "failed"
    assert error.partial.output_text == "Half an ans"
    assert [step.type for step in error.partial.steps] == [
        "user_input",
        "function_call",
        "function_result",
        "model_output",
    ]


@pytest.mark.parametrize("status", ["cancelled", "incomplete", "budget_exceeded"])
async def test_terminal_statuses_return_a_result_keeping_partial_output(
    run: Driver, status: str
) -> None:
    emulator = Emulator(Script([Reply([thought(), text("The answer is so")], status=status)]))
    agent = Agent(MODEL, client=emulator.async_client())

    result = await run(agent, "Tell me everything")

    assert result.status == status
    assert result.output_text == "The answer is so"
    assert result.interaction_id == "v1_emu_0001"
    assert len(bodies(emulator)) == 1


LONG = "One two three four five six seven eight nine ten eleven twelve."


async def test_requires_continuation_is_continued_with_the_token(run: Driver) -> None:
    emulator = Emulator(Script([Reply([text(LONG)], hops=3)]))
    agent = Agent(MODEL, system_instruction="Be thorough.", client=emulator.async_client())

    result = await run(agent, "Count")

    first, second, third = bodies(emulator)
    assert first["input"] == "Count"
    assert second == {
        "model": MODEL,
        "system_instruction": "Be thorough.",
        "previous_interaction_id": "v1_emu_0001",
        "continuation_token": "emu-ct-0001",
    }
    assert third["previous_interaction_id"] == "v1_emu_0002"
    assert third["continuation_token"] == "emu-ct-0002"
    assert "input" not in third
    assert result.status == "completed"
    assert result.output_text == LONG
    assert result.interaction_id == "v1_emu_0003"
    assert result.usage.total_input_tokens == stored_usage(emulator, "total_input_tokens")


async def test_next_turn_after_continuation_chains_from_the_last_hop(run: Driver) -> None:
    emulator = Emulator(Script([Reply([text(LONG)], hops=2), "Short."]))
    agent = Agent(MODEL, client=emulator.async_client())

    first = await run(agent, "Count")
    second = await run(agent, "Again, briefly", previous=first)

    assert first.interaction_id == "v1_emu_0002"
    assert bodies(emulator)[2] == {
        "model": MODEL,
        "input": "Again, briefly",
        "previous_interaction_id": "v1_emu_0002",
    }
    assert second.output_text == "Short."


async def test_stateless_continuation_resends_the_request_with_the_token(run: Driver) -> None:
    weather = Weather()
    script = Script(
        [[function_call("get_weather", {"city": "Paris"})], Reply([text(LONG)], hops=3)]
    )
    emulator = Emulator(script)
    agent = Agent(MODEL, tools=[weather.tool], store=False, client=emulator.async_client())

    result = await run(agent, "Weather, at length")

    sent = bodies(emulator)
    assert len(sent) == 4
    for hop, token in zip(sent[2:], ["emu-ct-0001", "emu-ct-0002"], strict=True):
        assert hop == {**sent[1], "continuation_token": token}
    assert result.output_text == LONG
    assert weather.cities == ["Paris"]


@pytest.mark.parametrize("stall", ["no-token", "same-token"])
async def test_a_continuation_that_makes_no_progress_stops(run: Driver, stall: str) -> None:
    emulator = Emulator(Script([Reply([text(LONG)], hops=3)]))

    def no_progress(request: httpx.Request, body: dict[str, Any]) -> None:
        if body.get("status") == "requires_continuation":
            if stall == "no-token":
                del body["continuation_token"]
            else:  # every hop hands back the first hop's token
                body["continuation_token"] = "emu-ct-0001"

    client = emulator.async_client(transport=Rewriting(emulator, no_progress))
    agent = Agent(MODEL, client=client)

    with pytest.raises(UnexpectedStatusError, match="no progress") as caught:
        await run(agent, "Count")

    assert len(bodies(emulator)) == (1 if stall == "no-token" else 2)
    assert caught.value.status == "requires_continuation"
    partial = caught.value.partial
    assert partial is not None
    assert partial.output_text
    assert LONG.startswith(partial.output_text)


async def test_queued_is_polled_like_in_progress(run: Driver) -> None:
    emulator = Emulator(Script(["Done."]), background_polls=2)

    def queued(request: httpx.Request, body: dict[str, Any]) -> None:
        if body.get("status") == "in_progress":
            body["status"] = "queued"

    client = emulator.async_client(transport=Rewriting(emulator, queued))
    agent = Agent(MODEL, background=True, client=client)

    result = await run(agent, "Go.")

    assert result.status == "completed"
    assert result.output_text == "Done."
    gets = [r for r in emulator.requests if r.method == "GET"]
    assert len(gets) == len(emulator.sleeps) == 3


async def test_unknown_status_raises_unexpected_status_error(run: Driver) -> None:
    emulator = Emulator(Script([Reply([text("Zzz")], status="hibernating")]))
    agent = Agent(MODEL, client=emulator.async_client())

    with pytest.raises(UnexpectedStatusError, match="hibernating") as caught:
        await run(agent, "Wake up")

    assert caught.value.status == "hibernating"
    assert caught.value.partial is not None
    assert caught.value.partial.output_text == "Zzz"


# --- limits ------------------------------------------------------------------------------------


def partial_of(resume_sync: Callable[[RunResult[Any]], RunResult[Any]]) -> Any:
    """`resume_sync` as an async function, run in a worker thread."""

    async def resume(partial: RunResult[Any]) -> RunResult[Any]:
        return await anyio.to_thread.run_sync(resume_sync, partial)

    return resume


def city_calls(*cities: str) -> list[Any]:
    return [[function_call("get_weather", {"city": city})] for city in cities]


async def test_max_turns_raises_with_the_partial_run(run: Driver) -> None:
    weather = Weather()
    emulator = Emulator(Script(city_calls("Paris", "Rome", "Oslo")))
    agent = Agent(MODEL, tools=[weather.tool], max_turns=2, client=emulator.async_client())

    with pytest.raises(MaxTurnsExceeded, match="max_turns=2") as caught:
        await run(agent, "Weather everywhere")

    assert len(bodies(emulator)) == 2
    assert weather.cities == ["Paris", "Rome"]
    partial = caught.value.partial
    assert partial is not None
    assert [call.arguments["city"] for call in partial.function_calls] == ["Paris", "Rome"]
    assert partial.interaction_id == "v1_emu_0002"
    # Resumed, past the limit (its caller chose to go on), the run sends Rome's result.
    resume = agent.resume if run.mode == "async" else partial_of(agent.resume_sync)
    with pytest.raises(MaxTurnsExceeded):  # that request, Oslo's call, then the limit again
        await resume(partial)
    assert weather.cities == ["Paris", "Rome", "Oslo"]
    assert results_json(emulator)[1] == {"city": "Rome", "temperature_c": 21}


async def test_request_limit_stops_before_the_next_request(run: Driver) -> None:
    weather = Weather()
    emulator = Emulator(Script(city_calls("Paris", "Rome")))
    limits = UsageLimits(request_limit=1)
    agent = Agent(MODEL, tools=[weather.tool], limits=limits, client=emulator.async_client())

    with pytest.raises(UsageLimitExceeded, match="request_limit of 1") as caught:
        await run(agent, "Weather")

    assert len(bodies(emulator)) == 1
    assert caught.value.partial is not None


async def test_tool_call_limit_stops_before_running_the_tools(run: Driver) -> None:
    weather = Weather()
    emulator = Emulator(Script([paris_and_rome()]))
    limits = UsageLimits(tool_call_limit=1)
    agent = Agent(MODEL, tools=[weather.tool], limits=limits, client=emulator.async_client())

    with pytest.raises(UsageLimitExceeded, match="tool_call_limit of 1"):
        await run(agent, "Weather")

    assert weather.cities == []
    assert len(bodies(emulator)) == 1


@pytest.mark.parametrize(("limit", "stops"), [(50, True), (10_000, False)])
async def test_total_tokens_limit_counts_the_usage_so_far(
    run: Driver, limit: int, stops: bool
) -> None:
    weather = Weather()
    costly = Reply([function_call("get_weather", {"city": "Paris"})], usage={"total_tokens": 500})
    emulator = Emulator(Script([costly, "Sunny."]))
    limits = UsageLimits(total_tokens_limit=limit)
    agent = Agent(MODEL, tools=[weather.tool], limits=limits, client=emulator.async_client())

    if stops:
        with pytest.raises(UsageLimitExceeded, match="500 tokens"):
            await run(agent, "Weather")
        assert len(bodies(emulator)) == 1
    else:
        result = await run(agent, "Weather")
        assert result.output_text == "Sunny."
        assert len(bodies(emulator)) == 2


async def test_identical_repeated_call_is_stopped_with_a_clear_message(run: Driver) -> None:
    weather = Weather()
    emulator = Emulator(Script(city_calls("Paris", "Paris", "Paris")))
    agent = Agent(MODEL, tools=[weather.tool], max_repeated_calls=2, client=emulator.async_client())

    with pytest.raises(RepeatedCallError) as caught:
        await run(agent, "Weather")

    message = str(caught.value)
    assert "'get_weather'" in message
    assert "same arguments 3 times" in message
    assert "limit 2" in message
    assert weather.cities == ["Paris", "Paris"]
    assert len(bodies(emulator)) == 3


# --- concurrency -------------------------------------------------------------------------------


async def test_async_tools_of_one_response_run_concurrently(run: Driver) -> None:
    events = Rendezvous()

    @tool
    async def ping() -> str:
        """Wait for pong."""
        events["ping"].set()
        with anyio.fail_after(5):  # inside the tool, so it also bounds the sync driver
            await events["pong"].wait()
        return "ping met pong"

    @tool
    async def pong() -> str:
        """Wait for ping."""
        events["pong"].set()
        with anyio.fail_after(5):
            await events["ping"].wait()
        return "pong met ping"

    emulator = Emulator(Script([[function_call("ping"), function_call("pong")], "Both met."]))
    agent = Agent(MODEL, tools=[ping, pong], client=emulator.async_client())

    with anyio.fail_after(5):
        result = await run(agent, "Meet")

    assert [(r.get("is_error"), result_text(r)) for r in emulator.function_results] == [
        (None, "ping met pong"),
        (None, "pong met ping"),
    ]
    assert result.output_text == "Both met."


async def test_results_keep_call_order_when_the_first_call_finishes_last(run: Driver) -> None:
    events = Rendezvous()
    finished: list[str] = []

    @tool
    async def slow() -> str:
        """Finish after fast."""
        with anyio.fail_after(5):
            await events["fast done"].wait()
        finished.append("slow")
        return "slow"

    @tool
    async def fast() -> str:
        """Finish at once."""
        finished.append("fast")
        events["fast done"].set()
        return "fast"

    emulator = Emulator(Script([[function_call("slow"), function_call("fast")], "Done."]))
    agent = Agent(MODEL, tools=[slow, fast], client=emulator.async_client())

    with anyio.fail_after(5):
        await run(agent, "Go")

    assert finished == ["fast", "slow"]
    assert [result_text(r) for r in emulator.function_results] == ["slow", "fast"]
    assert [r["call_id"] for r in emulator.function_results] == ["fc_0001", "fc_0002"]


async def test_sync_tools_of_one_response_run_in_parallel_threads(run: Driver) -> None:
    left_ready, right_ready = threading.Event(), threading.Event()

    def left() -> bool:
        """Wait for right."""
        left_ready.set()
        return right_ready.wait(timeout=5)

    def right() -> bool:
        """Wait for left."""
        right_ready.set()
        return left_ready.wait(timeout=5)

    emulator = Emulator(Script([[function_call("left"), function_call("right")], "Both."]))
    agent = Agent(MODEL, tools=[left, right], client=emulator.async_client())

    await run(agent, "Meet")

    assert results_json(emulator) == [True, True]


async def test_many_parallel_calls_each_get_their_own_result(run: Driver) -> None:
    calls = [function_call("echo", {"n": n}) for n in range(12)]
    emulator = Emulator(Script([calls, "Echoed."]))

    async def echo(n: int) -> int:
        """Echo a number."""
        await anyio.lowlevel.checkpoint()
        return n

    agent = Agent(MODEL, tools=[echo], client=emulator.async_client())

    await run(agent, "Echo")

    assert results_json(emulator) == list(range(12))
    sent = json.dumps(bodies(emulator)[1]["input"])
    assert sent.count("function_result") == 12


async def test_run_sync_works_inside_a_running_event_loop() -> None:
    # As in Jupyter: blocking code called straight from a coroutine, not from a worker thread.
    weather = Weather()
    emulator = Emulator(Script([paris_and_rome(), "Sunny."]))
    agent = Agent(MODEL, tools=[weather.tool], client=emulator.async_client())

    result = agent.run_sync("Weather in Paris and Rome?")

    assert result.output_text == "Sunny."
    assert sorted(weather.cities) == ["Paris", "Rome"]
