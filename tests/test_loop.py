"""Unit tests of the sans-IO loop: interactions in, actions out; no emulator, no IO, no clock."""

from __future__ import annotations

import ast
import hashlib
import json
import random
from pathlib import Path
from types import ModuleType
from typing import Any

import pydantic
import pytest
from _loop_helpers import (
    LOCAL,
    MODEL,
    SEARCH,
    TIME,
    WEATHER,
    call,
    config,
    expect,
    interaction,
    ok,
    output,
    thought,
    usage,
    user,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from agentkit import _loop, _result
from agentkit._exceptions import (
    InteractionFailed,
    MaxTurnsExceeded,
    OutputValidationError,
    RepeatedCallError,
    ToolRetriesExceeded,
    UnexpectedStatusError,
    UsageError,
    UsageLimitExceeded,
)
from agentkit._loop import (
    Done,
    Fail,
    LoopConfig,
    Poll,
    PollPolicy,
    RunMachine,
    RunTools,
    Send,
    UsageLimits,
)
from agentkit._result import RunState
from agentkit.types import (
    FunctionCallStep,
    FunctionResultStep,
    ImageContent,
    TextContent,
    UnknownStep,
)

FIELDS = {
    "system_instruction": "Be brief.",
    "generation_config": {"thinking_level": "low", "max_output_tokens": 256},
    "response_format": {"type": "text", "mime_type": "text/plain"},
}


# What the machine and the result it builds may import: data handling only, no IO, no
# clock, no threads, no event loop.
PURE_IMPORTS = {
    "__future__",
    "collections.abc",
    "copy",
    "dataclasses",
    "hashlib",
    "json",
    "math",
    "typing",
    "typing_extensions",
    "pydantic",
    "agentkit._exceptions",
    "agentkit._result",
    "agentkit._spans",  # a run's timings as data (the drivers record them)
    # `RunResult.to_html()` / `_repr_html_()` render the result, loaded when called: pure
    # string building (and the file write the caller asks for), never used by the machine.
    "agentkit._timeline_html",
    "agentkit._tool_error",
    "agentkit.types",
    "agentkit.types._interaction",
}


@pytest.mark.parametrize("module", [_loop, _result], ids=["_loop", "_result"])
def test_the_machine_imports_nothing_that_does_io(module: ModuleType) -> None:
    tree = ast.parse(Path(module.__file__ or "").read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported <= PURE_IMPORTS, imported - PURE_IMPORTS


def wire(steps: list[Any]) -> list[dict[str, Any]]:
    return [step.to_wire() for step in steps]


def tool_turn(machine: RunMachine, interaction_id: str, *calls: dict[str, Any]) -> Send:
    """Answer a requires_action response by running every call; return the next request."""
    tools = expect(
        machine.received(interaction(interaction_id, "requires_action", [*calls])), RunTools
    )
    return expect(machine.tools_finished([ok(c.id or "", c.name) for c in tools.calls]), Send)


# --- stateful ----------------------------------------------------------------------------------


def test_first_request_carries_model_input_tools_and_request_fields() -> None:
    send = expect(RunMachine(config(request_fields=FIELDS)).start("Weather in Oslo?"), Send)
    assert send == Send(
        {
            "model": MODEL,
            **FIELDS,
            "tools": [WEATHER, TIME, SEARCH],
            "input": "Weather in Oslo?",
        },
        stream=True,  # a stored interaction is created through a stream: its id comes first
    )


def test_store_background_and_stream_appear_only_when_not_default() -> None:
    send = expect(RunMachine(config(store=False, background=True, stream=True)).start("hi"), Send)
    assert send.body["store"] is False
    assert send.body["background"] is True
    assert send.stream is True
    assert "previous_interaction_id" not in send.body


def test_agent_mode_sends_agent_and_no_model_or_empty_tools() -> None:
    send = expect(RunMachine(LoopConfig(agent="deep-research")).start("Dig."), Send)
    assert send.body == {"agent": "deep-research", "input": "Dig."}


def test_requires_action_runs_exactly_the_unanswered_calls_in_order() -> None:
    machine = RunMachine(config())
    machine.start("Weather and time in Oslo and Rome?")
    steps = [
        thought("c2ln"),
        call("c1", city="Oslo"),
        call("c2", "get_time", city="Oslo"),
        output("Let me check."),
        call("c3", city="Rome"),
    ]
    tools = expect(machine.received(interaction("i1", "requires_action", steps)), RunTools)
    assert [(c.id, c.name, c.arguments) for c in tools.calls] == [
        ("c1", "get_weather", {"city": "Oslo"}),
        ("c2", "get_time", {"city": "Oslo"}),
        ("c3", "get_weather", {"city": "Rome"}),
    ]


def test_results_in_any_order_are_sent_in_call_order_with_previous_id() -> None:
    machine = RunMachine(config(request_fields=FIELDS))
    machine.start("Weather and time in Oslo?")
    calls = [call("c1", city="Oslo"), call("c2", "get_time", city="Oslo"), call("c3", city="X")]
    machine.received(interaction("i1", "requires_action", calls))
    results = [ok("c3", value=3), ok("c1", value=1), ok("c2", "get_time", value=2)]
    send = expect(machine.tools_finished(results), Send)
    assert send.body == {
        "model": MODEL,
        **FIELDS,
        "tools": [WEATHER, TIME, SEARCH],
        "input": [
            {
                "type": "function_result",
                "call_id": "c1",
                "name": "get_weather",
                "result": [{"type": "text", "text": "1"}],
            },
            {
                "type": "function_result",
                "call_id": "c2",
                "name": "get_time",
                "result": [{"type": "text", "text": "2"}],
            },
            {
                "type": "function_result",
                "call_id": "c3",
                "name": "get_weather",
                "result": [{"type": "text", "text": "3"}],
            },
        ],
        "previous_interaction_id": "i1",
    }


def test_tools_finished_without_every_result_is_a_usage_error() -> None:
    machine = RunMachine(config())
    machine.start("hi")
    machine.received(interaction("i1", "requires_action", [call("c1"), call("c2", city="b")]))
    with pytest.raises(UsageError, match=r"missing results for calls \['c2'\]"):
        machine.tools_finished([ok("c1")])


def test_completed_run_gives_text_steps_their_interactions_and_summed_usage() -> None:
    machine = RunMachine(config())
    machine.start("Weather in Oslo?")
    first = [thought("sig1"), call("c1", city="Oslo")]
    machine.received(interaction("i1", "requires_action", first, usage=usage(10, inputs=7)))
    machine.tools_finished([ok("c1")])
    final = [thought("sig2"), output("It is "), output("sunny.")]
    done = expect(machine.received(interaction("i2", "completed", final, usage=usage(20))), Done)

    result = done.result
    assert result.status == "completed"
    assert result.output_text == "It is sunny."
    assert result.interaction_id == "i2"
    assert [s.type for s in result.steps] == [
        "user_input",
        "thought",
        "function_call",
        "function_result",
        "thought",
        "model_output",
        "model_output",
    ]
    assert wire(result.steps)[3] == ok("c1").to_wire()
    # The user input belongs to the first interaction; the results to the one they created.
    assert result.step_interaction_ids == ["i1", "i1", "i1", "i2", "i2", "i2", "i2"]
    assert result.usage.total_tokens == 30
    assert result.usage.total_input_tokens == 7
    assert result.function_calls == [FunctionCallStep.model_validate(call("c1", city="Oslo"))]
    assert result.state.steps == wire(result.steps)
    assert result.state.step_interactions == result.step_interaction_ids
    assert (result.state.turns, result.state.tool_calls) == (2, 1)


def test_usage_of_pending_snapshots_is_not_counted() -> None:
    machine = RunMachine(config(background=True))
    machine.start("hi")
    expect(machine.received(interaction("i1", "in_progress", usage=usage(5))), Poll)
    done = expect(
        machine.received(interaction("i1", "completed", [output("ok")], usage=usage(9))), Done
    )
    assert done.result.usage.total_tokens == 9


def test_echoed_inputs_in_a_stateful_response_are_not_recorded_twice() -> None:
    machine = RunMachine(config())
    machine.start("hi")
    machine.received(interaction("i1", "requires_action", [user("hi"), call("c1")]))
    machine.tools_finished([ok("c1")])
    echo = [ok("c1").to_wire(), output("done")]
    result = expect(machine.received(interaction("i2", "completed", echo)), Done).result
    assert [s.type for s in result.steps] == [
        "user_input",
        "function_call",
        "function_result",
        "model_output",
    ]


def test_continue_from_chains_the_first_request_to_the_previous_turn() -> None:
    send = expect(RunMachine(config()).start("And Rome?", continue_from="prev-9"), Send)
    assert send.body["previous_interaction_id"] == "prev-9"
    assert send.body["input"] == "And Rome?"
    saved = RunMachine(config(), RunState(interaction_id="saved-3")).start("And Rome?")
    assert expect(saved, Send).body["previous_interaction_id"] == "saved-3"


# --- stateless ---------------------------------------------------------------------------------

HOLOGRAM = {"type": "hologram_call", "id": "h1", "depth": [1, 2], "meta": {"x": None}}


def test_stateless_first_request_sends_history_and_store_false() -> None:
    send = expect(RunMachine(config(store=False)).start("hi", continue_from="ignored"), Send)
    assert send.body == {
        "model": MODEL,
        "tools": [WEATHER, TIME, SEARCH],
        "store": False,
        "input": [user("hi")],
    }


def test_stateless_resends_every_step_exactly_as_received() -> None:
    machine = RunMachine(config(store=False))
    machine.start("Weather in Oslo?")
    sig = "Q2lnbmF0dXJl+/=="
    first: list[dict[str, Any]] = [
        {"type": "thought", "signature": sig, "summary": [{"type": "text", "text": "hmm"}]},
        HOLOGRAM,
        {**call("c1", city="Oslo"), "signature": "fc-sig"},
    ]
    tools = expect(machine.received(interaction("i1", "requires_action", first)), RunTools)
    assert [c.id for c in tools.calls] == ["c1"]
    send = expect(machine.tools_finished([ok("c1")]), Send)
    history = [user("Weather in Oslo?"), *first, ok("c1").to_wire()]
    assert send.body["input"] == history
    assert send.body["store"] is False
    assert "previous_interaction_id" not in send.body

    second = [thought("sig2"), output("Sunny.")]
    result = expect(machine.received(interaction("i2", "completed", second)), Done).result
    assert result.state.history == [*history, *second]
    assert isinstance(result.steps[2], UnknownStep)
    assert result.output_text == "Sunny."


def test_stateless_response_echoing_the_sent_history_is_deduplicated() -> None:
    machine = RunMachine(config(store=False))
    machine.start("hi")
    machine.received(interaction("i1", "requires_action", [thought("s"), call("c1")]))
    sent = expect(machine.tools_finished([ok("c1")]), Send).body["input"]
    echo = [*sent, output("done")]
    result = expect(machine.received(interaction("i2", "completed", echo)), Done).result
    assert result.state.history == [*sent, output("done")]
    assert [s.type for s in result.steps] == [
        "user_input",
        "thought",
        "function_call",
        "function_result",
        "model_output",
    ]


def test_stateless_response_relisting_an_answered_call_keeps_it_once() -> None:
    # A seed response re-lists the earlier function_call before its answer.
    machine = RunMachine(config(store=False))
    machine.start("hi")
    machine.received(interaction("i1", "requires_action", [call("c1")]))
    sent = expect(machine.tools_finished([ok("c1")]), Send).body["input"]
    result = expect(
        machine.received(interaction("i2", "completed", [call("c1"), output("done")])), Done
    ).result
    assert result.state.history == [*sent, output("done")]


def test_stateless_response_relisting_an_answered_call_and_result_keeps_them_once() -> None:
    machine = RunMachine(config(store=False))
    machine.start("hi")
    machine.received(interaction("i1", "requires_action", [call("c1")]))
    sent = expect(machine.tools_finished([ok("c1")]), Send).body["input"]
    relisted = [call("c1"), ok("c1").to_wire(), output("done")]
    result = expect(machine.received(interaction("i2", "completed", relisted)), Done).result
    assert result.state.history == [*sent, output("done")]


def test_stateless_next_turn_continues_the_previous_history() -> None:
    first = RunMachine(config(store=False))
    first.start("Weather in Oslo?")
    first.received(interaction("i1", "requires_action", [call("c1")]))
    first.tools_finished([ok("c1")])
    previous = expect(first.received(interaction("i2", "completed", [output("Sunny.")])), Done)

    state = RunState(history=list(previous.result.state.history))
    send = expect(RunMachine(config(store=False), state).start("And Rome?"), Send)
    assert send.body["input"] == [*previous.result.state.history, user("And Rome?")]
    assert "previous_interaction_id" not in send.body


def test_stateless_next_turn_does_not_rerun_a_relisted_call_of_the_previous_turn() -> None:
    history = [user("Weather in Oslo?"), call("c1", city="Oslo"), ok("c1").to_wire(), output("x")]
    machine = RunMachine(config(store=False), RunState(history=history))
    machine.start("And Rome?")
    relisted = [call("c1", city="Oslo"), call("c2", city="Rome")]
    tools = expect(machine.received(interaction("i3", "requires_action", relisted)), RunTools)
    assert [c.id for c in tools.calls] == ["c2"]


# --- unknown tools -----------------------------------------------------------------------------


def test_unknown_tool_gets_an_error_result_and_is_not_run() -> None:
    machine = RunMachine(config())
    machine.start("hi")
    steps = [call("c1"), call("c2", "launch_rocket", target="moon"), call("c3", "get_time")]
    tools = expect(machine.received(interaction("i1", "requires_action", steps)), RunTools)
    assert [c.id for c in tools.calls] == ["c1", "c3"]

    send = expect(machine.tools_finished([ok("c3", "get_time"), ok("c1")]), Send)
    sent = send.body["input"]
    assert [r["call_id"] for r in sent] == ["c1", "c2", "c3"]
    error = sent[1]
    assert error["name"] == "launch_rocket"
    assert error["is_error"] is True
    assert error["result"] == [
        {
            "type": "text",
            "text": "Unknown tool 'launch_rocket'. Available tools: get_time, get_weather.",
        }
    ]
    assert machine.state.tool_calls == 2


def test_only_unknown_calls_send_the_error_results_directly() -> None:
    machine = RunMachine(config(local_tools=frozenset()))
    machine.start("hi")
    action = machine.received(interaction("i1", "requires_action", [call("c1"), call("c2", "x")]))
    send = expect(action, Send)
    assert send.body["previous_interaction_id"] == "i1"
    assert [(r["call_id"], r["is_error"]) for r in send.body["input"]] == [
        ("c1", True),
        ("c2", True),
    ]
    assert "Available tools: none." in send.body["input"][0]["result"][0]["text"]


def test_only_unknown_calls_past_max_turns_fail() -> None:
    machine = RunMachine(config(max_turns=1))
    machine.start("hi")
    fail = expect(machine.received(interaction("i1", "requires_action", [call("c1", "x")])), Fail)
    assert isinstance(fail.error, MaxTurnsExceeded)


# --- approval ----------------------------------------------------------------------------------


def risky(step: FunctionCallStep) -> bool:
    return step.arguments.get("city") == "Mordor"


def always(step: FunctionCallStep) -> bool:
    return True


def paused() -> tuple[LoopConfig, Done]:
    cfg = config(needs_approval=risky)
    machine = RunMachine(cfg)
    machine.start("Weather in Oslo and Mordor?")
    steps = [call("c1", city="Oslo"), call("c2", city="Mordor")]
    return cfg, expect(machine.received(interaction("i1", "requires_action", steps)), Done)


def test_needs_approval_pauses_with_the_pending_calls() -> None:
    _, done = paused()
    result = done.result
    assert result.status == "requires_action"
    assert result.interaction_id == "i1"
    assert [c.id for c in result.pending_calls] == ["c2"]
    assert [c["id"] for c in result.state.calls] == ["c1", "c2"]


def test_paused_state_round_trips_json_and_resumes_in_a_new_machine() -> None:
    cfg, done = paused()
    restored = RunState.from_json(done.result.state.to_json())
    assert restored == done.result.state

    machine = RunMachine(cfg, restored)
    tools = expect(machine.resume({"c2": True}), RunTools)
    assert [c.id for c in tools.calls] == ["c1", "c2"]
    send = expect(machine.tools_finished([ok("c2"), ok("c1")]), Send)
    assert send.body["previous_interaction_id"] == "i1"
    assert [r["call_id"] for r in send.body["input"]] == ["c1", "c2"]

    result = expect(machine.received(interaction("i2", "completed", [output("ok")])), Done).result
    assert [s.type for s in result.steps] == [
        "user_input",
        "function_call",
        "function_call",
        "function_result",
        "function_result",
        "model_output",
    ]
    assert result.step_interaction_ids == ["i1", "i1", "i1", "i2", "i2", "i2"]
    assert result.state.turns == 2


def test_resuming_leaves_the_saved_state_untouched() -> None:
    cfg, done = paused()
    saved = done.result.state.to_json()
    machine = RunMachine(cfg, done.result.state)
    machine.resume({"c2": True})
    machine.tools_finished([ok("c1"), ok("c2")])
    assert done.result.state.to_json() == saved


def test_stateless_run_resumes_with_its_whole_history() -> None:
    cfg = config(store=False, needs_approval=always)
    machine = RunMachine(cfg)
    machine.start("hi")
    steps = [thought("sig"), call("c1")]
    done = expect(machine.received(interaction("i1", "requires_action", steps)), Done)
    state = RunState.from_json(done.result.state.to_json())
    resumed = RunMachine(cfg, state)
    expect(resumed.resume({"c1": True}), RunTools)
    send = expect(resumed.tools_finished([ok("c1")]), Send)
    assert send.body["input"] == [user("hi"), *steps, ok("c1").to_wire()]
    assert "previous_interaction_id" not in send.body


def test_refused_call_is_answered_with_an_error_and_not_run() -> None:
    cfg, done = paused()
    machine = RunMachine(cfg, done.result.state)
    tools = expect(machine.resume({"c2": False}), RunTools)
    assert [c.id for c in tools.calls] == ["c1"]
    sent = expect(machine.tools_finished([ok("c1")]), Send).body["input"]
    assert sent[1]["call_id"] == "c2"
    assert sent[1]["is_error"] is True
    assert "did not approve" in sent[1]["result"][0]["text"]


def test_refusing_every_call_sends_the_refusals_directly() -> None:
    cfg = config(needs_approval=always)
    machine = RunMachine(cfg)
    machine.start("hi")
    machine.received(interaction("i1", "requires_action", [call("c1")]))
    send = expect(machine.resume({"c1": False}), Send)
    assert send.body["input"][0]["call_id"] == "c1"
    assert "did not approve" in send.body["input"][0]["result"][0]["text"]


def test_substitute_result_is_sent_with_the_call_id_and_name() -> None:
    cfg, done = paused()
    machine = RunMachine(cfg, done.result.state)
    substitute = FunctionResultStep(call_id="whatever", result={"weather": "ash"})
    tools = expect(machine.resume({"c2": substitute}), RunTools)
    assert [c.id for c in tools.calls] == ["c1"]
    sent = expect(machine.tools_finished([ok("c1")]), Send).body["input"]
    assert sent[1] == {
        "type": "function_result",
        "call_id": "c2",
        "name": "get_weather",
        "result": {"weather": "ash"},
    }


def test_server_side_or_unknown_calls_never_wait_for_approval() -> None:
    machine = RunMachine(config(needs_approval=always))
    machine.start("hi")
    send = expect(machine.received(interaction("i1", "requires_action", [call("c1", "x")])), Send)
    assert send.body["input"][0]["is_error"] is True


def test_resume_without_every_decision_names_the_missing_ids() -> None:
    cfg = config(needs_approval=always)
    machine = RunMachine(cfg)
    machine.start("hi")
    machine.received(interaction("i1", "requires_action", [call("c1"), call("c2", city="b")]))
    with pytest.raises(UsageError, match=r"missing: \['c2'\]"):
        machine.resume({"c1": True})


def test_resume_with_nothing_pending_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="nothing to resume"):
        RunMachine(config()).resume({"c1": True})


# --- statuses ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["completed", "incomplete", "cancelled", "budget_exceeded"])
def test_final_statuses_end_the_run_with_that_status(status: str) -> None:
    machine = RunMachine(config())
    machine.start("hi")
    done = expect(machine.received(interaction("i1", status, [output("Partial ans")])), Done)
    assert done.result.status == status
    assert done.result.output_text == "Partial ans"
    assert done.result.interaction_id == "i1"


def test_failed_raises_with_the_id_errors_and_partial_result() -> None:
    machine = RunMachine(config())
    machine.start("hi")
    machine.received(interaction("i1", "requires_action", [call("c1")]))
    machine.tools_finished([ok("c1")])
    errors = [{"code": "quota/exceeded", "message": "Out of quota."}]
    fail = expect(
        machine.received(interaction("i2", "failed", [output("Half")], errors=errors)), Fail
    )
    error = fail.error
    assert isinstance(error, InteractionFailed)
    assert error.interaction_id == "i2"
    assert [(e.code, e.message) for e in error.errors] == [("quota/exceeded", "Out of quota.")]
    assert "quota/exceeded: Out of quota." in str(error)
    assert error.partial is not None
    assert error.partial.status == "failed"
    assert error.partial.output_text == "Half"
    assert len(error.partial.steps) == 4


def test_failed_without_errors_says_so() -> None:
    machine = RunMachine(config())
    machine.start("hi")
    fail = expect(machine.received(interaction("i1", "failed")), Fail)
    assert isinstance(fail.error, InteractionFailed)
    assert fail.error.errors == []
    assert "no details given" in str(fail.error)


@pytest.mark.parametrize("pending", ["in_progress", "queued"])
def test_pending_statuses_poll_with_growing_delays_up_to_the_cap(pending: str) -> None:
    policy = PollPolicy(first=0.5, factor=2.0, max_interval=3.0)
    machine = RunMachine(config(background=True, poll=policy))
    machine.start("hi")
    delays: list[float] = []
    for _ in range(5):
        poll = expect(machine.received(interaction("bg1", pending)), Poll)
        assert poll.interaction_id == "bg1"
        delays.append(poll.delay)
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0]
    done = expect(machine.received(interaction("bg1", "completed", [output("ok")])), Done)
    assert done.result.output_text == "ok"


def test_default_poll_policy_backs_off_to_its_cap() -> None:
    policy = PollPolicy()
    delays = [policy.delay(n) for n in range(20)]
    assert delays[0] == policy.first
    assert delays == sorted(delays)
    assert delays[-1] == policy.max_interval
    assert max(delays) <= policy.max_interval


def test_polling_starts_quick_again_after_each_settled_interaction() -> None:
    machine = RunMachine(config(background=True))
    machine.start("hi")
    first = [expect(machine.received(interaction("a", "queued")), Poll) for _ in range(3)]
    tools = expect(machine.received(interaction("a", "requires_action", [call("c1")])), RunTools)
    send = expect(machine.tools_finished([ok(tools.calls[0].id or "")]), Send)
    assert send.body["background"] is True
    assert send.body["previous_interaction_id"] == "a"
    again = expect(machine.received(interaction("b", "in_progress")), Poll)
    assert (again.interaction_id, again.delay) == ("b", first[0].delay)
    assert first[2].delay > first[0].delay


def test_background_requires_continuation_is_polled() -> None:
    machine = RunMachine(config(background=True))
    machine.start("hi")
    waiting = interaction("bg", "requires_continuation", continuation_token="t1")
    assert isinstance(machine.received(waiting), Poll)


def test_requires_continuation_continues_without_input_when_stateful() -> None:
    machine = RunMachine(config(request_fields=FIELDS))
    machine.start("Write a long report.")
    hop = interaction("h1", "requires_continuation", [output("Part 1. ")], continuation_token="t1")
    send = expect(machine.received(hop), Send)
    assert send.body == {
        "model": MODEL,
        **FIELDS,
        "tools": [WEATHER, TIME, SEARCH],
        "continuation_token": "t1",
        "previous_interaction_id": "h1",
    }
    last = interaction("h2", "completed", [user("Write a long report."), output("Part 2.")])
    result = expect(machine.received(last), Done).result
    assert result.output_text == "Part 1. Part 2."
    assert result.step_interaction_ids == ["h1", "h1", "h2"]
    # The next turn chains from the last hop.
    assert result.interaction_id == "h2"


def test_requires_continuation_resends_the_original_input_when_stateless() -> None:
    machine = RunMachine(config(store=False))
    machine.start("Write a long report.")
    hop = interaction("h1", "requires_continuation", [output("Part 1.")], continuation_token="t1")
    send = expect(machine.received(hop), Send)
    assert send.body["input"] == [user("Write a long report.")]
    assert send.body["continuation_token"] == "t1"
    assert send.body["store"] is False
    assert "previous_interaction_id" not in send.body


def test_stateless_continuation_after_a_tool_turn_resends_that_turns_request() -> None:
    machine = RunMachine(config(store=False))
    machine.start("hi")
    machine.received(interaction("i1", "requires_action", [call("c1")]))
    request = expect(machine.tools_finished([ok("c1")]), Send).body["input"]
    hop = interaction("h1", "requires_continuation", [output("Part 1.")], continuation_token="t1")
    send = expect(machine.received(hop), Send)
    assert send.body["input"] == request


@pytest.mark.parametrize("token", [None, "t1"])
def test_continuation_without_a_new_token_stops(token: str | None) -> None:
    machine = RunMachine(config())
    machine.start("hi")
    expect(
        machine.received(interaction("h1", "requires_continuation", continuation_token="t1")), Send
    )
    stuck = interaction("h2", "requires_continuation", [output("x")], continuation_token=token)
    fail = expect(machine.received(stuck), Fail)
    assert isinstance(fail.error, UnexpectedStatusError)
    assert fail.error.status == "requires_continuation"
    assert "no progress" in str(fail.error)
    assert fail.error.partial is not None


def test_unknown_status_fails_naming_it() -> None:
    machine = RunMachine(config())
    machine.start("hi")
    fail = expect(machine.received(interaction("i1", "hibernating", [output("zz")])), Fail)
    assert isinstance(fail.error, UnexpectedStatusError)
    assert fail.error.status == "hibernating"
    assert "'hibernating'" in str(fail.error)
    assert fail.error.partial is not None
    assert fail.error.partial.output_text == "zz"


def test_requires_action_without_unanswered_calls_fails() -> None:
    machine = RunMachine(config())
    machine.start("hi")
    fail = expect(machine.received(interaction("i1", "requires_action", [output("?")])), Fail)
    assert isinstance(fail.error, UnexpectedStatusError)
    assert fail.error.status == "requires_action"

    machine = RunMachine(config())
    machine.start("hi")
    machine.received(interaction("i1", "requires_action", [call("c1")]))
    machine.tools_finished([ok("c1")])
    stale = expect(machine.received(interaction("i2", "requires_action", [call("c1")])), Fail)
    assert isinstance(stale.error, UnexpectedStatusError)


# --- limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "error", "message"),
    [
        ({"max_turns": 2}, MaxTurnsExceeded, "max_turns=2"),
        ({"limits": UsageLimits(request_limit=2)}, UsageLimitExceeded, "request_limit of 2"),
    ],
    ids=["max_turns", "request_limit"],
)
def test_request_limits_stop_before_the_next_request_with_the_partial_run(
    limit: dict[str, Any], error: type[Exception], message: str
) -> None:
    machine = RunMachine(config(**limit))
    machine.start("hi")
    tool_turn(machine, "i1", call("c1", city="a"))
    tools = expect(
        machine.received(interaction("i2", "requires_action", [call("c2", city="b")])), RunTools
    )
    fail = expect(machine.tools_finished([ok(tools.calls[0].id or "")]), Fail)
    assert isinstance(fail.error, error)
    assert message in str(fail.error)
    partial = fail.error.partial
    assert partial is not None
    assert [s.type for s in partial.steps][-2:] == ["function_call", "function_result"]
    assert partial.interaction_id == "i2"
    # Resumed (past the limit: its caller chose to go on), it sends the result that was kept.
    send = expect(RunMachine(config(**limit), partial.state).resume({}), Send)
    assert send.body["input"] == [ok(tools.calls[0].id or "").to_wire()]
    assert send.body["previous_interaction_id"] == "i2"


def test_tool_call_limit_stops_before_running_the_calls() -> None:
    machine = RunMachine(config(limits=UsageLimits(tool_call_limit=2)))
    machine.start("hi")
    tool_turn(machine, "i1", call("c1", city="a"), call("c2", city="b"))
    action = machine.received(interaction("i2", "requires_action", [call("c3", city="c")]))
    fail = expect(action, Fail)
    assert isinstance(fail.error, UsageLimitExceeded)
    assert "tool_call_limit of 2" in str(fail.error)


def test_tool_call_limit_allows_exactly_the_limit() -> None:
    machine = RunMachine(config(limits=UsageLimits(tool_call_limit=2)))
    machine.start("hi")
    tool_turn(machine, "i1", call("c1", city="a"), call("c2", city="b"))
    assert isinstance(machine.received(interaction("i2", "completed", [output("ok")])), Done)


def test_total_tokens_limit_stops_at_the_response_that_crosses_it() -> None:
    machine = RunMachine(config(limits=UsageLimits(total_tokens_limit=100)))
    machine.start("hi")
    first = interaction("i1", "requires_action", [call("c1", city="a")], usage=usage(60))
    machine.received(first)
    expect(machine.tools_finished([ok("c1")]), Send)
    # Even a final answer: over the budget is over the budget, and the partial keeps it.
    second = interaction("i2", "completed", [output("Done.")], usage=usage(60))
    fail = expect(machine.received(second), Fail)
    assert isinstance(fail.error, UsageLimitExceeded)
    assert "used 120 tokens" in str(fail.error)
    assert fail.error.partial is not None
    assert fail.error.partial.usage.total_tokens == 120
    assert fail.error.partial.output_text == "Done."


def test_an_identical_call_repeated_past_the_limit_stops_the_run() -> None:
    machine = RunMachine(config(max_repeated_calls=2))
    machine.start("hi")
    # Key order does not make a call different.
    tool_turn(machine, "i1", call("c1", city="Oslo", unit="c"))
    tool_turn(machine, "i2", {**call("c2"), "arguments": {"unit": "c", "city": "Oslo"}})
    action = machine.received(
        interaction("i3", "requires_action", [call("c3", city="Oslo", unit="c")])
    )
    fail = expect(action, Fail)
    assert isinstance(fail.error, RepeatedCallError)
    assert str(fail.error) == (
        "The model called 'get_weather' with the same arguments 3 times (limit 2); "
        "stopping to avoid a loop."
    )
    assert fail.error.partial is not None


def test_calls_with_different_arguments_are_not_repeats() -> None:
    machine = RunMachine(config(max_repeated_calls=1))
    machine.start("hi")
    tool_turn(machine, "i1", call("c1", city="Oslo"), call("c2", "get_time", city="Oslo"))
    tool_turn(machine, "i2", call("c3", city="Rome"))
    done = machine.received(interaction("i3", "completed", [output("ok")]))
    assert isinstance(done, Done)


# --- invalid tool arguments --------------------------------------------------------------------


def city_is_text(step: FunctionCallStep) -> str | None:
    city = step.arguments.get("city")
    return None if isinstance(city, str) else f"city: expected text, got {city!r}"


def checked(**overrides: Any) -> RunMachine:
    machine = RunMachine(config(check_arguments=city_is_text, **overrides))
    machine.start("hi")
    return machine


def bad(call_id: str, name: str = "get_weather") -> dict[str, Any]:
    return call(call_id, name, city=7)


def error_texts(body: dict[str, Any]) -> list[str]:
    return [step["result"][0]["text"] for step in body["input"] if step.get("is_error")]


def test_a_call_with_invalid_arguments_is_answered_without_running() -> None:
    machine = checked()
    action = machine.received(
        interaction("i1", "requires_action", [bad("c1"), call("c2", city="Oslo")])
    )

    tools = expect(action, RunTools)
    assert [c.id for c in tools.calls] == ["c2"]
    assert [(c.id, r.is_error) for c, r in machine.answered] == [("c1", True)]
    sent = expect(machine.tools_finished([ok("c2")]), Send)
    assert [step["call_id"] for step in sent.body["input"]] == ["c1", "c2"]
    assert error_texts(sent.body) == ["city: expected text, got 7"]


def test_invalid_calls_in_a_row_past_the_budget_stop_the_run() -> None:
    machine = checked()  # default_tool_retries=2
    for turn in ("i1", "i2"):
        sent = expect(machine.received(interaction(turn, "requires_action", [bad(turn)])), Send)
        assert error_texts(sent.body) == ["city: expected text, got 7"]

    fail = expect(machine.received(interaction("i3", "requires_action", [bad("i3")])), Fail)
    assert isinstance(fail.error, ToolRetriesExceeded)
    assert fail.error.tool == "get_weather"
    assert fail.error.call.id == "i3"
    assert "invalid arguments 3 times in a row (retries=2)" in str(fail.error)
    assert "city: expected text, got 7" in str(fail.error)
    assert fail.error.partial is not None
    assert fail.error.partial.state.invalid_calls == {"get_weather": 3}


def test_a_valid_call_restores_the_budget_of_its_tool_only() -> None:
    machine = checked(default_tool_retries=1)
    expect(
        machine.received(interaction("i1", "requires_action", [bad("a"), bad("b", "get_time")])),
        Send,
    )
    tool_turn(machine, "i2", call("c", city="Oslo"))  # get_weather is called right; get_time is not
    assert machine.state.invalid_calls == {"get_time": 1}
    expect(machine.received(interaction("i3", "requires_action", [bad("d")])), Send)

    fail = expect(
        machine.received(interaction("i4", "requires_action", [bad("e", "get_time")])), Fail
    )
    assert isinstance(fail.error, ToolRetriesExceeded)
    assert fail.error.tool == "get_time"


def test_a_tool_budget_overrides_the_default() -> None:
    machine = checked(tool_retries={"get_weather": 0}, default_tool_retries=5)
    fail = expect(machine.received(interaction("i1", "requires_action", [bad("c1")])), Fail)
    assert isinstance(fail.error, ToolRetriesExceeded)
    assert "(retries=0)" in str(fail.error)


def test_an_invalid_call_is_not_asked_for_approval() -> None:
    def every_call(step: FunctionCallStep) -> bool:
        return True

    machine = checked(needs_approval=every_call)
    sent = machine.received(interaction("i1", "requires_action", [bad("c1")]))
    assert error_texts(expect(sent, Send).body) == ["city: expected text, got 7"]


def test_the_invalid_call_count_survives_a_checkpoint() -> None:
    machine = checked(default_tool_retries=1)
    expect(machine.received(interaction("i1", "requires_action", [bad("c1")])), Send)
    restored = RunMachine(
        config(check_arguments=city_is_text, default_tool_retries=1), machine.checkpoint()
    )
    restored.resume({})
    fail = expect(restored.received(interaction("i2", "requires_action", [bad("c2")])), Fail)
    assert isinstance(fail.error, ToolRetriesExceeded)


def test_the_request_in_flight_stays_out_of_the_states_repr() -> None:
    remote = {"type": "mcp_server", "name": "docs", "url": "https://docs.example/mcp"}
    remote["headers"] = {"Authorization": "Bearer s3cret"}  # type: ignore[assignment]
    machine = RunMachine(config(tools=(WEATHER, remote)))
    machine.start("hi")

    assert machine.state.outbox is not None
    assert "s3cret" in str(machine.state.outbox)  # kept: resuming sends it again
    assert "s3cret" not in repr(machine.state)


def test_a_saved_state_keeps_its_invalid_call_count_as_it_was() -> None:
    machine = checked()
    expect(machine.received(interaction("i1", "requires_action", [bad("c1")])), Send)
    saved = machine.checkpoint()
    expect(machine.received(interaction("i2", "requires_action", [bad("c2")])), Send)

    assert saved.invalid_calls == {"get_weather": 1}
    assert machine.state.invalid_calls == {"get_weather": 2}


def test_calls_of_server_side_tools_are_not_checked() -> None:
    machine = checked()
    action = machine.received(interaction("i1", "requires_action", [bad("c1", "remote_tool")]))
    sent = expect(action, Send)
    assert error_texts(sent.body) == [
        "Unknown tool 'remote_tool'. Available tools: get_time, get_weather."
    ]
    assert machine.state.invalid_calls == {}


# --- structured output -------------------------------------------------------------------------


class Weather(pydantic.BaseModel):
    city: str
    celsius: float


def structured(text_steps: list[dict[str, Any]], status: str = "completed") -> Done | Fail:
    machine = RunMachine(config(output_adapter=pydantic.TypeAdapter(Weather), output_retries=0))
    machine.start("Weather in Oslo as JSON.")
    action = machine.received(interaction("i1", status, text_steps))
    assert isinstance(action, Done | Fail)
    return action


def test_structured_output_is_validated_into_the_output_type() -> None:
    done = expect(structured([output('{"city": "Oslo", "celsius": 4.5}')]), Done)
    assert done.result.output == Weather(city="Oslo", celsius=4.5)


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([output('{"city": "Oslo", ')], "does not fit the output type"),
        ([output('{"city": "Oslo"}')], "does not fit the output type"),
        ([thought("s")], "no text"),
    ],
    ids=["invalid-json", "schema-mismatch", "no-text"],
)
def test_bad_structured_output_fails_with_the_partial_result(
    steps: list[dict[str, Any]], message: str
) -> None:
    fail = expect(structured(steps), Fail)
    assert isinstance(fail.error, OutputValidationError)
    assert message in str(fail.error)
    assert fail.error.partial is not None
    assert fail.error.partial.status == "completed"
    assert fail.error.partial.steps[-1].type == steps[-1]["type"]


def feedback(body: dict[str, Any]) -> str:
    """The text of the user_input step a request sends last."""
    step = body["input"][-1]
    assert step["type"] == "user_input"
    return str(step["content"][0]["text"])


@pytest.mark.parametrize("store", [True, False], ids=["stored", "stateless"])
def test_an_answer_that_does_not_fit_is_sent_back_with_what_is_wrong(store: bool) -> None:
    adapter = pydantic.TypeAdapter(Weather)
    machine = RunMachine(config(output_adapter=adapter, store=store, output_retries=2))
    machine.start("Weather in Oslo as JSON.")

    first = expect(machine.received(interaction("i1", "completed", [output('{"city": 1}')])), Send)
    text = feedback(first.body)
    assert "does not fit the required JSON schema" in text
    assert "city: Input should be a valid string" in text
    assert "celsius: Field required" in text
    if store:
        assert first.body["previous_interaction_id"] == "i1"
        assert len(first.body["input"]) == 1
    else:  # the whole conversation, the bad answer included, then what is wrong with it
        assert first.body["input"][:2] == [user("Weather in Oslo as JSON."), output('{"city": 1}')]

    second = machine.received(interaction("i2", "completed", [output("Oslo: 4.5 C")]))
    assert "Invalid JSON" in feedback(expect(second, Send).body)

    done = expect(
        machine.received(
            interaction("i3", "completed", [output('{"city": "Oslo", "celsius": 4.5}')])
        ),
        Done,
    )
    assert done.result.output == Weather(city="Oslo", celsius=4.5)
    assert done.result.state.output_retries == 2
    assert [step.type for step in done.result.steps].count("user_input") == 3


def test_an_answer_still_wrong_after_the_retries_fails_with_the_last_one() -> None:
    machine = RunMachine(config(output_adapter=pydantic.TypeAdapter(Weather)))  # 1 retry
    machine.start("Weather in Oslo as JSON.")
    expect(machine.received(interaction("i1", "completed", [output("sunny")])), Send)

    fail = expect(machine.received(interaction("i2", "completed", [thought("s")])), Fail)
    assert isinstance(fail.error, OutputValidationError)
    assert "(after 1 retries): The answer has no text" in str(fail.error)
    assert fail.error.partial is not None
    assert fail.error.partial.state.turns == 2


def test_an_output_retry_counts_as_a_turn() -> None:
    machine = RunMachine(config(output_adapter=pydantic.TypeAdapter(Weather), max_turns=1))
    machine.start("Weather in Oslo as JSON.")
    fail = expect(machine.received(interaction("i1", "completed", [output("sunny")])), Fail)
    assert isinstance(fail.error, MaxTurnsExceeded)


def test_structured_output_is_not_parsed_for_a_partial_answer() -> None:
    done = expect(structured([output('{"city": ')], status="incomplete"), Done)
    assert done.result.status == "incomplete"
    assert done.result.output is None


# --- interruption ------------------------------------------------------------------------------


def test_interrupted_keeps_the_results_of_finished_tools() -> None:
    machine = RunMachine(config())
    machine.start("hi")
    machine.received(interaction("i1", "requires_action", [call("c1"), call("c2", city="b")]))
    result = machine.interrupted([ok("c2")])
    assert result.status == "cancelled"
    assert wire(result.steps) == [user("hi"), call("c1"), call("c2", city="b"), ok("c2").to_wire()]
    assert result.step_interaction_ids == ["i1", "i1", "i1", None]
    assert machine.snapshot("in_progress").status == "in_progress"


@pytest.mark.parametrize("store", [True, False])
def test_an_interrupted_run_resumes_running_only_the_unfinished_calls(store: bool) -> None:
    machine = RunMachine(config(store=store))
    machine.start("hi")
    machine.received(interaction("i1", "requires_action", [call("c1"), call("c2", city="b")]))
    partial = machine.interrupted([ok("c2")])

    resumed = RunMachine(config(store=store), RunState.from_json(partial.state.to_json()))
    tools = expect(resumed.resume({}), RunTools)
    assert [c.id for c in tools.calls] == ["c1"]
    send = expect(resumed.tools_finished([ok("c1")]), Send)

    sent = send.body["input"]
    assert [step["call_id"] for step in sent[-2:]] == ["c1", "c2"]
    if store:
        assert send.body["previous_interaction_id"] == "i1"
        assert len(sent) == 2
    else:
        assert sent == [user("hi"), call("c1"), call("c2", city="b"), *wire([ok("c1"), ok("c2")])]
    done = expect(resumed.received(interaction("i2", "completed", [output("ok")])), Done)
    results = [s.call_id for s in done.result.steps if isinstance(s, FunctionResultStep)]
    assert results == ["c2", "c1"]  # each once, c2 since it finished before the interruption


def test_an_interrupted_run_whose_tools_all_finished_resumes_by_sending_them() -> None:
    machine = RunMachine(config())
    machine.start("hi")
    machine.received(interaction("i1", "requires_action", [call("c1")]))
    partial = machine.interrupted([ok("c1")])
    send = expect(RunMachine(config(), partial.state).resume({}), Send)
    assert [step["call_id"] for step in send.body["input"]] == ["c1"]


# --- input normalisation -----------------------------------------------------------------------

IMAGE = {"type": "image", "uri": "https://example.com/a.png", "mime_type": "image/png"}


def first_input(value: Any, *, store: bool = True) -> Any:
    return expect(RunMachine(config(store=store)).start(value), Send).body["input"]


def test_text_input_is_sent_as_given_and_recorded_as_user_input() -> None:
    machine = RunMachine(config())
    assert expect(machine.start("hi"), Send).body["input"] == "hi"
    assert wire(machine.snapshot("in_progress").steps) == [user("hi")]
    assert first_input("hi", store=False) == [user("hi")]


@pytest.mark.parametrize("store", [True, False])
def test_content_blocks_become_one_user_input_step(store: bool) -> None:
    blocks = [
        TextContent(text="What is this?"),
        ImageContent(uri=IMAGE["uri"], mime_type="image/png"),
    ]
    expected = [
        {"type": "user_input", "content": [{"type": "text", "text": "What is this?"}, IMAGE]}
    ]
    assert first_input(blocks, store=store) == expected
    as_dicts = [{"type": "text", "text": "What is this?"}, IMAGE]
    assert first_input(as_dicts, store=store) == expected


def test_steps_pass_through_and_mixed_blocks_are_grouped() -> None:
    steps = [user("I have 2 dogs."), ok("c0").to_wire()]
    assert first_input(steps) == steps
    mixed = [{"type": "text", "text": "a"}, IMAGE, ok("c0"), TextContent(text="b")]
    assert first_input(mixed) == [
        {"type": "user_input", "content": [{"type": "text", "text": "a"}, IMAGE]},
        ok("c0").to_wire(),
        {"type": "user_input", "content": [{"type": "text", "text": "b"}]},
    ]


@pytest.mark.parametrize(
    "value",
    [[], (), 42, None, {"type": "text", "text": "hi"}, [42], [{"text": "no type"}]],
)
def test_bad_input_is_a_usage_error(value: Any) -> None:
    with pytest.raises(UsageError):
        RunMachine(config()).start(value)


# --- property: random tool turns ---------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    turns=st.lists(st.integers(min_value=1, max_value=4), max_size=5),
    store=st.booleans(),
    seed=st.integers(),
)
def test_random_tool_turns_end_done_and_answer_every_call_once(
    turns: list[int], store: bool, seed: int
) -> None:
    rng = random.Random(seed)
    machine = RunMachine(config(store=store))
    send = expect(machine.start("go"), Send)
    requests = 1
    history: list[dict[str, Any]] = [user("go")]
    answered: list[str] = []
    for turn, count in enumerate(turns):
        steps = [thought(f"s{turn}")] + [
            call(f"c{turn}-{n}", rng.choice(sorted(LOCAL)), n=n, turn=turn) for n in range(count)
        ]
        tools = expect(
            machine.received(interaction(f"i{turn}", "requires_action", steps)), RunTools
        )
        ids = [f"c{turn}-{n}" for n in range(count)]
        assert [c.id for c in tools.calls] == ids
        results = [ok(c.id or "", c.name, value=c.id) for c in tools.calls]
        rng.shuffle(results)
        send = expect(machine.tools_finished(results), Send)
        requests += 1
        sent_ids = [r["call_id"] for r in send.body["input"][-count:]]
        assert sent_ids == ids
        answered += sent_ids
        if store:
            assert send.body["previous_interaction_id"] == f"i{turn}"
            assert len(send.body["input"]) == count
        else:
            assert "previous_interaction_id" not in send.body
            assert len(send.body["input"]) == len(history) + len(steps) + count
            assert send.body["input"][: len(history)] == history
            history = send.body["input"]
    done = expect(machine.received(interaction("last", "completed", [output("end")])), Done)
    assert done.result.state.turns == requests == len(turns) + 1
    expected_ids = [f"c{t}-{n}" for t, count in enumerate(turns) for n in range(count)]
    assert answered == expected_ids
    results = [s for s in done.result.steps if isinstance(s, FunctionResultStep)]
    assert [r.call_id for r in results] == expected_ids
    assert done.result.output_text == "end"


def test_a_state_with_steps_but_no_interaction_ids_keeps_its_steps() -> None:
    state = RunState(steps=[{"type": "user_input", "content": [{"type": "text", "text": "hi"}]}])
    machine = RunMachine(config(), state)
    result = machine.snapshot("completed")
    assert [step.type for step in result.steps] == ["user_input"]
    assert result.step_interaction_ids == [None]


@settings(max_examples=50, deadline=None)
@given(
    text=st.text(max_size=40),
    values=st.lists(st.one_of(st.integers(), st.text(max_size=10), st.none()), max_size=4),
    fields=st.booleans(),
)
def test_a_requests_key_is_its_run_turn_and_the_digest_of_its_sorted_json(
    text: str, values: list[Any], fields: bool
) -> None:
    # Journals keep these keys across processes and versions: a resume finds the request it
    # made before only if the same request gives the same key.
    machine = RunMachine(config(request_fields=FIELDS if fields else {}), RunState(run_id="r1"))
    first = expect(machine.start(text), Send)
    calls = [call(f"c{n}", "get_weather", city=f"city {n}") for n in range(len(values))]
    sends = [first]
    if calls:
        tools = expect(machine.received(interaction("i1", "requires_action", calls)), RunTools)
        results = [ok(c.id or "", c.name, v) for c, v in zip(tools.calls, values, strict=True)]
        sends.append(expect(machine.tools_finished(results), Send))
    for turn, send in enumerate(sends, start=1):
        text_form = json.dumps(send.body, sort_keys=True, default=str)
        digest = hashlib.sha256(text_form.encode()).hexdigest()[:16]
        assert send.key == f"r1/request/{turn}/{digest}"
