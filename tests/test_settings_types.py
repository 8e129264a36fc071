"""Typed settings (`agentkit/types/_settings.py`): type checkers catch typos, the wire gets dicts.

pyright and mypy check this module (CI runs both on tests/ with unused ignores reported): each
`# type: ignore[...]` below must silence a real error, so the test fails type checking if a
`TypedDict` stops catching the typo on its line.
"""

from __future__ import annotations

from typing import Any

import pytest
from _agent_helpers import MODEL, Driver, bodies

from agentkit import Agent
from agentkit.testing import Emulator, Script
from agentkit.types import (
    AllowedTools,
    AudioResponseFormat,
    GenerationConfig,
    ImageResponseFormat,
    ResponseFormat,
    TextResponseFormat,
    ToolChoice,
    VideoResponseFormat,
)

pytestmark = pytest.mark.anyio


def test_typos_in_keys_and_values_are_type_errors() -> None:
    # Each line holds one mistake; at runtime they are plain dicts, as any dict would be.
    key = GenerationConfig(temprature=0.5)  # type: ignore[typeddict-unknown-key]
    literal: GenerationConfig = {"max_output_token": 10}  # type: ignore[typeddict-unknown-key]
    level: GenerationConfig = {"thinking_level": "hihg"}  # type: ignore[typeddict-item]
    choice: GenerationConfig = {"tool_choice": "sometimes"}  # type: ignore[typeddict-item]
    nested = ToolChoice(allowed_tools={"mode": "any", "tool": ["f"]})  # type: ignore[typeddict-unknown-key]
    shape: TextResponseFormat = {"type": "text", "mime": "text/plain"}  # type: ignore[typeddict-unknown-key]
    size: ImageResponseFormat = {"type": "image", "image_size": "8K"}  # type: ignore[typeddict-item]
    untyped: TextResponseFormat = {"mime_type": "text/plain"}  # type: ignore[typeddict-item]
    assert [key, literal, level, choice, nested, shape, size, untyped] == [
        {"temprature": 0.5},
        {"max_output_token": 10},
        {"thinking_level": "hihg"},
        {"tool_choice": "sometimes"},
        {"allowed_tools": {"mode": "any", "tool": ["f"]}},
        {"type": "text", "mime": "text/plain"},
        {"type": "image", "image_size": "8K"},
        {"mime_type": "text/plain"},
    ]


def test_mime_types_stay_open() -> None:
    # MIME enums are open in the protocol: a type the docs do not list yet is no error.
    text: TextResponseFormat = {"type": "text", "mime_type": "text/x.future"}
    audio: AudioResponseFormat = {"type": "audio", "mime_type": "audio/flac", "sample_rate": 8000}
    assert text["mime_type"] == "text/x.future"
    assert audio["mime_type"] == "audio/flac"


async def test_agent_sends_typed_settings_and_plain_dicts_as_given(run: Driver) -> None:
    config = GenerationConfig(
        thinking_level="low",
        max_output_tokens=256,
        stop_sequences=["END"],
        tool_choice=ToolChoice(allowed_tools=AllowedTools(mode="validated", tools=["f"])),
        speech_config={"speakers": [{"voice": "Kore", "speaker": "Ana", "language": "en-US"}]},
        transcription_config={"mode": {"type": "verbatim", "timestamp_granularities": ["word"]}},
        video_config={"task": "text_to_video"},
    )
    formats: list[ResponseFormat] = [
        {"type": "text", "mime_type": "application/json", "schema": {"type": "object"}},
        {"type": "image", "aspect_ratio": "16:9", "image_size": "2K", "delivery": "uri"},
        VideoResponseFormat(type="video", resolution="720p", duration="8s"),
    ]
    plain: dict[str, Any] = {"seed": 7, "a_field_newer_than_agentkit": True}
    emulator = Emulator(Script(["One.", "Two."]))
    typed = Agent(
        MODEL, generation_config=config, response_format=formats, client=emulator.async_client()
    )
    untyped = Agent(
        MODEL,
        generation_config=plain,
        response_format={"type": "text", "mime_type": "text/plain"},
        client=emulator.async_client(),
    )

    await run(typed, "Hi")
    await run(untyped, "Hi")

    first, second = bodies(emulator)
    assert first["generation_config"] == config
    assert first["response_format"] == formats
    assert second["generation_config"] == plain
    assert second["response_format"] == {"type": "text", "mime_type": "text/plain"}


@pytest.fixture(params=["async", "sync"])
def run(request: pytest.FixtureRequest) -> Driver:
    return Driver(request.param)
