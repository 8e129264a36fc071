"""`Agent` runs against the emulator: inputs, outputs (media, structured), request fields,
managed agents, hooks, logging and the agent's own clients (the loopback socket scenarios are
in `test_agent_socket.py`).

Every scenario runs through both drivers (`run` and `run_sync`) on asyncio and trio.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _agent_helpers import (
    MODEL,
    MP4,
    PDF,
    PNG,
    Driver,
    Weather,
    b64,
    bodies,
    get_time,
)
from pydantic import BaseModel

from agentkit import Agent, Hooks, UsageError, audio, document, image, video
from agentkit.exceptions import OutputValidationError
from agentkit.testing import Emulator, Reply, Script, function_call, model_output, thought
from agentkit.types import FunctionCallStep, FunctionResultStep, Interaction, TextContent

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["async", "sync"])
def run(request: pytest.FixtureRequest) -> Driver:
    return Driver(request.param)


# --- inputs ------------------------------------------------------------------------------------


async def test_text_input_is_sent_as_is(run: Driver) -> None:
    emulator = Emulator(Script(["Hi!"]))
    agent = Agent(MODEL, client=emulator.async_client())

    result = await run(agent, "Hello")

    assert bodies(emulator) == [{"model": MODEL, "input": "Hello"}]
    assert result.output_text == "Hi!"


def _media_cases(tmp_path: Path) -> dict[str, tuple[Any, dict[str, Any]]]:
    report = tmp_path / "report.pdf"
    report.write_bytes(PDF)
    clip = tmp_path / "clip"  # no extension: the magic bytes decide
    clip.write_bytes(MP4)
    return {
        "image-bytes": (image(PNG), {"type": "image", "data": b64(PNG), "mime_type": "image/png"}),
        "document-file": (
            document(report),
            {"type": "document", "data": b64(PDF), "mime_type": "application/pdf"},
        ),
        "video-file-sniffed": (
            video(clip),
            {"type": "video", "data": b64(MP4), "mime_type": "video/mp4"},
        ),
        "audio-url": (
            audio("https://example.com/talk.mp3"),
            {"type": "audio", "uri": "https://example.com/talk.mp3", "mime_type": "audio/mp3"},
        ),
        "image-url": (
            image("gs://bucket/photo.jpg", resolution="high"),
            {
                "type": "image",
                "uri": "gs://bucket/photo.jpg",
                "mime_type": "image/jpeg",
                "resolution": "high",
            },
        ),
        "video-bytes": (video(MP4), {"type": "video", "data": b64(MP4), "mime_type": "video/mp4"}),
    }


@pytest.mark.parametrize(
    "case",
    [
        "image-bytes",
        "document-file",
        "video-file-sniffed",
        "audio-url",
        "image-url",
        "video-bytes",
    ],
)
async def test_content_blocks_are_sent_as_user_input(
    run: Driver, tmp_path: Path, case: str
) -> None:
    block, wire = _media_cases(tmp_path)[case]
    emulator = Emulator(Script(["A picture of nothing."]))
    agent = Agent(MODEL, client=emulator.async_client())

    result = await run(agent, [TextContent(text="What is this?"), block])

    (body,) = bodies(emulator)
    assert body["input"] == [
        {"type": "user_input", "content": [{"type": "text", "text": "What is this?"}, wire]}
    ]
    assert result.output_text == "A picture of nothing."


async def test_content_blocks_stay_in_a_stateless_history(run: Driver) -> None:
    weather = Weather()
    script = Script([[function_call("get_weather", {"city": "Paris"})], "A sunny photo."])
    emulator = Emulator(script)
    agent = Agent(MODEL, tools=[weather.tool], store=False, client=emulator.async_client())
    blocks = [{"type": "text", "text": "Where is this?"}, image(PNG)]

    await run(agent, blocks)

    picture = {"type": "image", "data": b64(PNG), "mime_type": "image/png"}
    first, second = (body["input"] for body in bodies(emulator))
    expected = {"type": "user_input", "content": [blocks[0], picture]}
    assert first == [expected]
    assert second[0] == expected


async def test_generated_media_is_on_the_result(run: Driver) -> None:
    picture = {"type": "image", "data": b64(PNG), "mime_type": "image/png"}
    sound = {"type": "audio", "data": b64(b"RIFF\x00\x00\x00\x00WAVE"), "mime_type": "audio/wav"}
    reply = model_output(picture, sound, {"type": "text", "text": "Here you go."})
    emulator = Emulator(Script([[thought(), reply]]))
    agent = Agent(MODEL, client=emulator.async_client())

    result = await run(agent, "Draw a cat and meow")

    assert result.output_image is not None
    assert (result.output_image.data, result.output_image.mime_type) == (b64(PNG), "image/png")
    assert result.output_audio is not None
    assert result.output_audio.mime_type == "audio/wav"
    assert result.output_video is None
    assert result.output_text == "Here you go."


# --- structured output -------------------------------------------------------------------------


class Forecast(BaseModel):
    city: str
    temperature_c: int


async def test_output_type_sends_its_schema_and_validates_the_answer(run: Driver) -> None:
    emulator = Emulator(Script(['{"city": "Paris", "temperature_c": 21}']))
    agent = Agent(MODEL, output_type=Forecast, client=emulator.async_client())

    result = await run(agent, "Forecast for Paris")

    (body,) = bodies(emulator)
    assert body["response_format"] == {
        "type": "text",
        "mime_type": "application/json",
        "schema": Forecast.model_json_schema(),
    }
    assert result.output == Forecast(city="Paris", temperature_c=21)


async def test_output_type_after_a_tool_turn(run: Driver) -> None:
    weather = Weather()
    emulator = Emulator()  # answers with a JSON value generated from the schema
    agent = Agent(MODEL, tools=[weather.tool], output_type=Forecast, client=emulator.async_client())

    result = await run(agent, "Forecast for Paris")

    assert isinstance(result.output, Forecast)
    assert len(weather.cities) == 1
    assert all("response_format" in body for body in bodies(emulator))


INVALID_ANSWERS = pytest.mark.parametrize(
    ("answer", "says"),
    [
        ("Sunny, 21 degrees.", "Invalid JSON"),
        ('{"city": "Paris"}', "temperature_c: Field required"),
    ],
    ids=["not-json", "missing-field"],
)


@INVALID_ANSWERS
async def test_an_answer_that_does_not_fit_is_sent_back_to_be_fixed(
    run: Driver, answer: str, says: str
) -> None:
    good = '{"city": "Paris", "temperature_c": 21}'
    emulator = Emulator(Script([answer, good]))
    agent = Agent(MODEL, output_type=Forecast, client=emulator.async_client())

    result = await run(agent, "Forecast for Paris")

    assert result.output == Forecast(city="Paris", temperature_c=21)
    first, second = bodies(emulator)
    assert second["previous_interaction_id"] == result.state.step_interactions[1]
    (step,) = second["input"]
    assert step["type"] == "user_input"
    assert says in step["content"][0]["text"]
    assert second["response_format"] == first["response_format"]


@INVALID_ANSWERS
async def test_an_answer_still_wrong_after_the_retries_raises(
    run: Driver, answer: str, says: str
) -> None:
    emulator = Emulator(Script(["not JSON either", answer]))
    agent = Agent(MODEL, output_type=Forecast, client=emulator.async_client())

    with pytest.raises(OutputValidationError, match=says) as caught:
        await run(agent, "Forecast for Paris")

    assert caught.value.partial is not None
    assert caught.value.partial.output_text == answer
    assert len(bodies(emulator)) == 2


@INVALID_ANSWERS
async def test_output_retries_zero_raises_at_the_first_wrong_answer(
    run: Driver, answer: str, says: str
) -> None:
    emulator = Emulator(Script([answer]))
    agent = Agent(MODEL, output_type=Forecast, output_retries=0, client=emulator.async_client())

    with pytest.raises(OutputValidationError, match=says) as caught:
        await run(agent, "Forecast for Paris")

    assert caught.value.partial is not None
    assert caught.value.partial.output_text == answer


@pytest.mark.parametrize("retries", [-1, True, 1.5])
def test_retry_counts_must_be_whole_numbers(retries: Any) -> None:
    with pytest.raises(UsageError, match="output_retries must be a whole number >= 0"):
        Agent(MODEL, output_type=Forecast, output_retries=retries)
    with pytest.raises(UsageError, match="tool_retries must be a whole number >= 0"):
        Agent(MODEL, tool_retries=retries)


# --- request fields and managed agents ---------------------------------------------------------


async def test_generation_config_is_sent_with_every_request(run: Driver) -> None:
    config = {
        "thinking_level": "high",
        "max_output_tokens": 128,
        "tool_choice": {"allowed_tools": {"mode": "validated", "tools": ["get_weather"]}},
    }
    weather = Weather()
    emulator = Emulator(Script([[function_call("get_weather", {"city": "Paris"})], "Sunny."]))
    agent = Agent(
        MODEL, tools=[weather.tool], generation_config=config, client=emulator.async_client()
    )

    await run(agent, "Weather?")

    sent = bodies(emulator)
    assert len(sent) == 2
    assert all(body["generation_config"] == config for body in sent)


async def test_managed_agent_sends_agent_and_environment_without_a_model(run: Driver) -> None:
    emulator = Emulator(Script(["Report: all good."]))
    agent = Agent(
        agent="deep-research-preview-04-2026",
        environment="remote",
        client=emulator.async_client(),
    )

    result = await run(agent, "Research the market")

    assert bodies(emulator) == [
        {
            "agent": "deep-research-preview-04-2026",
            "input": "Research the market",
            "environment": "remote",
        }
    ]
    assert result.output_text == "Report: all good."


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"agent": "deep-research-preview-04-2026", "generation_config": {}}, "generation_config"),
        ({}, "exactly one of `model`"),
        ({"model": MODEL, "agent": "deep-research-preview-04-2026"}, "exactly one of `model`"),
        ({"model": MODEL, "agent_config": {"thinking": "on"}}, "agent_config"),
        (
            {"model": MODEL, "output_type": Forecast, "response_format": {"type": "text"}},
            "output_type or response_format",
        ),
    ],
    ids=[
        "agent-with-generation-config",
        "neither",
        "both",
        "model-with-agent-config",
        "output-type-and-response-format",
    ],
)
def test_invalid_agent_configuration_is_refused_before_sending(
    kwargs: dict[str, Any], says: str
) -> None:
    emulator = Emulator(Script(["unused"]))

    with pytest.raises(UsageError, match=says):
        Agent(client=emulator.async_client(), **kwargs)

    assert emulator.requests == []


# --- hooks and logging -------------------------------------------------------------------------


async def test_hooks_are_called_in_order_with_their_arguments(run: Driver) -> None:
    calls: list[tuple[Any, ...]] = []

    def record(name: str) -> Callable[..., None]:
        return lambda *args: calls.append((name, *args))

    hooks = Hooks(
        before_request=record("before_request"),
        after_request=record("after_request"),
        before_tool=record("before_tool"),
        after_tool=record("after_tool"),
    )
    weather = Weather()
    script = Script(
        [
            [function_call("get_weather", {"city": "Paris"})],
            [function_call("get_weather", {"city": "Rome"})],
            "Sunny.",
        ]
    )
    emulator = Emulator(script)
    agent = Agent(MODEL, tools=[weather.tool], hooks=hooks, client=emulator.async_client())

    await run(agent, "Weather?")

    assert [entry[0] for entry in calls] == [
        "before_request",
        "after_request",
        "before_tool",
        "after_tool",
    ] * 2 + ["before_request", "after_request"]
    sent = bodies(emulator)
    assert [json.loads(json.dumps(c[1])) for c in calls if c[0] == "before_request"] == sent
    interactions = [c[1] for c in calls if c[0] == "after_request"]
    assert all(isinstance(i, Interaction) for i in interactions)
    assert [(i.id, i.status) for i in interactions] == [
        ("v1_emu_0001", "requires_action"),
        ("v1_emu_0002", "requires_action"),
        ("v1_emu_0003", "completed"),
    ]
    before = [c[1] for c in calls if c[0] == "before_tool"]
    assert all(isinstance(call, FunctionCallStep) for call in before)
    assert [(call.id, call.arguments) for call in before] == [
        ("fc_0001", {"city": "Paris"}),
        ("fc_0002", {"city": "Rome"}),
    ]
    after = [c[1:] for c in calls if c[0] == "after_tool"]
    for (call, result), expected_call in zip(after, before, strict=True):
        assert call == expected_call
        assert isinstance(result, FunctionResultStep)
        assert result.call_id == call.id
        assert not result.is_error


async def test_debug_logging_shows_tool_runs_and_never_the_api_key(
    run: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-test-never-log-me-0123456789"
    weather = Weather(fail_for="Atlantis")
    calls = [
        function_call("get_weather", {"city": "Paris"}),
        function_call("get_weather", {"city": "Atlantis"}),
    ]
    emulator = Emulator(Script([calls, "Done."]), api_key=secret)
    agent = Agent(MODEL, tools=[weather.tool], client=emulator.async_client(api_key=secret))
    caplog.set_level(logging.DEBUG, logger="agentkit")

    await run(agent, "Weather?")

    messages = [record.getMessage() for record in caplog.records]
    assert "running tool get_weather (call fc_0001)" in messages
    assert "running tool get_weather (call fc_0002)" in messages
    assert "interaction v1_emu_0001 is requires_action" in messages
    assert all(record.name.startswith("agentkit") for record in caplog.records)
    assert secret not in caplog.text
    for record in caplog.records:
        assert secret not in repr(record.__dict__)


async def test_request_fields_are_sent_as_given_with_every_request(run: Driver) -> None:
    fields = {
        "safety_settings": [{"type": "harassment", "threshold": "block_only_high"}],
        "service_tier": "flex",
        "labels": {"team": "search"},
        "future_knob": {"level": 3},  # newer than agentkit: still sent
    }
    weather = Weather()
    emulator = Emulator(Script([[function_call("get_weather", {"city": "Paris"})], "Sunny."]))
    agent = Agent(
        MODEL, tools=[weather.tool], request_fields=fields, client=emulator.async_client()
    )

    await run(agent, "Weather?")

    sent = bodies(emulator)
    assert len(sent) == 2
    assert all(body.items() >= fields.items() for body in sent)


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"model": MODEL, "request_fields": {"previous_interaction_id": "v1"}}, "loop sets it"),
        ({"model": MODEL, "request_fields": {"store": False}}, "loop sets it"),
        ({"model": MODEL, "request_fields": {"generation_config": {}}}, "generation_config="),
        (
            {"agent": "deep-research-preview-04-2026", "request_fields": {"cached_content": "c"}},
            "cached_content",
        ),
    ],
    ids=["chaining", "store", "own-parameter", "agent-with-cached-content"],
)
def test_request_fields_the_agent_owns_are_refused(kwargs: dict[str, Any], says: str) -> None:
    with pytest.raises(UsageError, match=says):
        Agent(**kwargs)


# --- the agent's own clients -------------------------------------------------------------------


async def test_an_agent_closes_only_the_clients_it_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "from-the-environment")
    async with Agent(MODEL) as agent:
        made = (agent.async_client, agent.sync_client)
        assert agent.async_client is made[0]
    # Closed and forgotten: the next use makes new ones.
    assert agent.async_client is not made[0]
    assert agent.sync_client is not made[1]
    with agent:
        sync = agent.sync_client
    assert agent.sync_client is not sync
    await agent.aclose()

    emulator = Emulator(Script(["Still open.", "Again."]))
    given = emulator.async_client()
    async with Agent(MODEL, client=given) as borrowing:
        await borrowing.run("Hi")
    # A client passed in stays open for its owner.
    assert (await Agent(MODEL, client=given).run("Hi")).output_text == "Again."


def test_an_agent_shows_its_model_or_agent_and_tools() -> None:
    client = Emulator().async_client()
    model = Agent(MODEL, tools=[Weather().tool, get_time], client=client)
    assert repr(model) == f"Agent(model={MODEL!r}, tools=['get_time', 'get_weather'])"
    managed = Agent(agent="deep-research-preview-04-2026", client=client)
    assert repr(managed) == "Agent(agent='deep-research-preview-04-2026', tools=[])"


async def test_a_result_shows_its_status_id_and_a_short_text(run: Driver) -> None:
    emulator = Emulator(Script(["x" * 80, Reply([], status="cancelled")]))
    agent = Agent(MODEL, client=emulator.async_client())

    long = await run(agent, "Long")
    empty = await run(agent, "Nothing")

    assert repr(long) == (
        f"RunResult(status='completed', interaction_id='v1_emu_0001', steps=2, "
        f"output_text='{'x' * 57}...')"
    )
    assert repr(empty).endswith("steps=1, output_text=None)")


async def test_setting_the_model_between_runs_changes_what_is_sent() -> None:
    emulator = Emulator(Script(["One.", "Two."]))
    agent = Agent(MODEL, client=emulator.async_client())
    await agent.run("First.")
    agent.model = "gemini-3.5-pro"
    await agent.run("Second.")
    assert [body["model"] for body in bodies(emulator)] == [MODEL, "gemini-3.5-pro"]
    assert "gemini-3.5-pro" in repr(agent)


def test_a_managed_agent_has_no_model_to_set() -> None:
    agent = Agent(agent="deep-research-pro-preview")
    with pytest.raises(UsageError, match="no model to set"):
        agent.model = "gemini-3.5-pro"
    assert agent.model is None
