"""Every request body the client builds is valid for the official SDK's request types.

The SDK models allow extra keys and parse unknown `type`s into `Unknown*` fallbacks, so
validation alone proves little: each parsed model is walked, and any extra key, `Unknown*`
object or unrecognised enum string fails the test (unless the input meant to send one).
"""

from __future__ import annotations

import json
from typing import Any, cast

import httpx
import pytest
from google.genai._gaos.types.basemodel import UnrecognizedStr
from google.genai._gaos.types.interactions.createagentinteraction import CreateAgentInteraction
from google.genai._gaos.types.interactions.createmodelinteraction import CreateModelInteraction
from pydantic import BaseModel

from agentkit._client import Client
from agentkit._client_stream import EventStream
from agentkit.types import (
    AudioContent,
    CodeExecution,
    ComputerUse,
    DocumentContent,
    FileSearch,
    FunctionCallStep,
    FunctionDeclaration,
    FunctionResultStep,
    GoogleMaps,
    GoogleSearch,
    ImageContent,
    Interaction,
    McpServer,
    ModelOutputStep,
    Retrieval,
    TextContent,
    ThoughtStep,
    UrlContext,
    UserInputStep,
    VideoContent,
)

MODEL = "gemini-3-flash-preview"
AGENT = "deep-research-pro-preview-12-2025"
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temp": {"type": "number"}},
    "required": ["city"],
}
ALL_TOOLS: list[Any] = [
    FunctionDeclaration(name="get_weather", description="Weather of a city.", parameters=SCHEMA),
    GoogleSearch(search_types=["web_search"]),
    UrlContext(),
    CodeExecution(),
    FileSearch(file_search_store_names=["fileSearchStores/abc"], top_k=3),
    GoogleMaps(latitude=51.5, longitude=-0.12, enable_widget=False),
    McpServer(
        name="weather",
        url="https://mcp.example.com/mcp",
        headers={"x-token": "t"},
        allowed_tools=[{"mode": "auto", "tools": ["forecast"]}],
    ),
    ComputerUse(environment="browser", excluded_predefined_functions=["drag_and_drop"]),
    Retrieval(retrieval_types=["vertex_ai_search"], vertex_ai_search_config={"engine": "e"}),
    {"type": "function", "name": "raw_dict_tool", "parameters": {"type": "object"}},
]
GENERATION_CONFIG: dict[str, Any] = {
    "thinking_level": "high",
    "thinking_summaries": "auto",
    "temperature": 1.0,
    "top_p": 0.95,
    "max_output_tokens": 1024,
    "stop_sequences": ["END"],
    "seed": 7,
    "tool_choice": {"allowed_tools": {"mode": "any", "tools": ["get_weather"]}},
    "speech_config": [{"voice": "Kore", "speaker": "narrator", "language": "en-US"}],
}
HISTORY: list[Any] = [
    UserInputStep(content=[TextContent(text="Weather in London and Paris?")]),
    ThoughtStep(signature="c2lnbmF0dXJl", summary=[TextContent(text="Need two calls.")]),
    FunctionCallStep(id="fc_1", name="get_weather", arguments={"city": "London"}),
    FunctionCallStep(id="fc_2", name="get_weather", arguments={"city": "Paris"}),
    FunctionResultStep(
        call_id="fc_1", name="get_weather", result=[TextContent(text='{"temp": 12}')]
    ),
    FunctionResultStep(call_id="fc_2", name="get_weather", result="boom", is_error=True),
    ModelOutputStep(content=[TextContent(text="London 12C; Paris unknown.")]),
    FunctionResultStep(call_id="fc_3", name="get_weather", result={"temp": 20}),
]

MODEL_SCENARIOS: dict[str, dict[str, Any]] = {
    "minimal": {"model": MODEL, "input": "How does AI work?"},
    "every_parameter": {
        "model": MODEL,
        "input": "Weather in London?",
        "system_instruction": "Be brief.",
        "tools": ALL_TOOLS,
        "generation_config": GENERATION_CONFIG,
        "response_format": {"type": "text", "mime_type": "application/json", "schema": SCHEMA},
        "previous_interaction_id": "v1_prev",
        "store": True,
        "background": False,
        "continuation_token": "tok",
        "environment": "env_123",
        "safety_settings": [
            {"type": "dangerous_content", "threshold": "block_only_high", "method": "severity"}
        ],
        "service_tier": "flex",
        "labels": {"team": "agents"},
        "webhook_config": {"uris": ["https://hooks.example.com/x"], "user_metadata": {"a": 1}},
        "response_modalities": ["text", "image"],
        "response_mime_type": "application/json",
    },
    "stream": {"model": MODEL, "input": "hi", "stream": True},
    "stateful_function_results": {
        "model": MODEL,
        "previous_interaction_id": "v1_T1",
        "tools": ALL_TOOLS[:1],
        "input": [
            FunctionResultStep(call_id="fc_7", name="get_weather", result=[TextContent(text="{}")])
        ],
    },
    "stateless_history": {"model": MODEL, "store": False, "input": HISTORY, "tools": ALL_TOOLS},
    "content_list_input": {
        "model": MODEL,
        "input": [
            TextContent(text="Describe these."),
            ImageContent(uri="https://example.com/a.jpg", mime_type="image/jpeg"),
            AudioContent(data="AAAA", mime_type="audio/wav"),
            VideoContent(uri="https://example.com/v.mp4", mime_type="video/mp4"),
            DocumentContent(uri="https://example.com/d.pdf", mime_type="application/pdf"),
        ],
    },
    "single_content_input": {"model": MODEL, "input": TextContent(text="hi")},
    "media_response_formats": {
        "model": "gemini-2.5-flash-image",
        "input": "Draw and narrate.",
        "response_format": [
            {"type": "image", "mime_type": "image/jpeg", "aspect_ratio": "16:9"},
            {"type": "audio", "mime_type": "audio/wav"},
            {"type": "text", "mime_type": "text/plain"},
        ],
    },
    "tool_choice_string": {
        "model": MODEL,
        "input": "x",
        "tools": ALL_TOOLS[:1],
        "generation_config": {"tool_choice": "validated"},
    },
    "continuation": {
        "model": MODEL,
        "continuation_token": "tok",
        "previous_interaction_id": "v1_h",
    },
}

AGENT_SCENARIOS: dict[str, dict[str, Any]] = {
    "deep_research": {
        "agent": AGENT,
        "input": "Research the history of Go.",
        "background": True,
        "store": True,
        "agent_config": {
            "type": "deep-research",
            "thinking_summaries": "auto",
            "visualization": "off",
            "collaborative_planning": False,
        },
        "tools": [GoogleSearch(), UrlContext()],
        "response_format": {"type": "text", "mime_type": "text/plain"},
    },
    "managed_agent": {
        "agent": "antigravity-preview-05-2026",
        "input": "Build it.",
        "agent_config": {"type": "antigravity", "max_total_tokens": 100000},
        "environment": {
            "type": "remote",
            "env": {"MODE": "test"},
            "network": {"allowlist": [{"domain": "pypi.org"}]},
            "sources": [{"type": "inline", "target": "/app/a.py", "content": "print(1)"}],
        },
    },
    "dynamic": {"agent": AGENT, "input": "x", "agent_config": {"type": "dynamic"}},
}


def build_body(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON body the client sends for `create(**kwargs)`."""
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        if kwargs.get("stream"):
            return httpx.Response(200, content=b"data: [DONE]\n\n")
        return httpx.Response(200, json={"id": "v1_x", "status": "completed"})

    with Client(api_key="k", transport=httpx.MockTransport(handler)) as client:
        result = cast("Interaction | EventStream", client.interactions.create(**kwargs))
        if isinstance(result, EventStream):
            result.close()
    [body] = bodies
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def strangers(value: Any, path: str = "$") -> list[str]:
    """Paths of extra keys, `Unknown*` objects and unrecognised enum strings in a parsed model."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        if type(value).__name__.startswith("Unknown"):
            found.append(f"{path}: {type(value).__name__}")
        if type(value).model_fields:  # a model without fields is a free-form JSON object
            found += [f"{path}.{key}: extra" for key in value.model_extra or {}]
        # __dict__, not getattr: deprecated SDK fields warn when read as attributes.
        for key, item in value.__dict__.items():
            found += strangers(item, f"{path}.{key}")
    elif isinstance(value, UnrecognizedStr):
        found.append(f"{path}: unrecognised {str(value)!r}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(cast("list[Any]", value)):
            found += strangers(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in cast("dict[str, Any]", value).items():
            found += strangers(item, f"{path}.{key}")
    return found


def sdk_dump(model: BaseModel) -> Any:
    """The SDK's own JSON for `model`, with its int64-as-string numbers read back as ints."""
    return _ints(model.model_dump(mode="json", by_alias=True, exclude_unset=True))


def _ints(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _ints(item) for key, item in cast("dict[str, Any]", value).items()}
    if isinstance(value, list):
        return [_ints(item) for item in cast(Any, value)]
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


@pytest.mark.parametrize("name", MODEL_SCENARIOS)
def test_model_requests_fit_the_sdk(name: str) -> None:
    body = build_body(MODEL_SCENARIOS[name])
    parsed = CreateModelInteraction.model_validate(body)
    assert strangers(parsed) == []
    assert sdk_dump(parsed) == body


@pytest.mark.parametrize("name", AGENT_SCENARIOS)
def test_agent_requests_fit_the_sdk(name: str) -> None:
    body = build_body(AGENT_SCENARIOS[name])
    parsed = CreateAgentInteraction.model_validate(body)
    assert strangers(parsed) == []
    assert sdk_dump(parsed) == body


def test_every_tool_type_is_covered() -> None:
    body = build_body(MODEL_SCENARIOS["every_parameter"])
    assert {tool["type"] for tool in body["tools"]} == {
        "function",
        "google_search",
        "url_context",
        "code_execution",
        "file_search",
        "google_maps",
        "mcp_server",
        "computer_use",
        "retrieval",
    }
    assert set(body) == set(MODEL_SCENARIOS["every_parameter"])


def test_walk_catches_extra_keys_and_unknown_types() -> None:
    # The checker itself must fail on what it is meant to catch.
    body = build_body(
        {
            "model": MODEL,
            "input": [{"type": "hologram_call", "beam": 1}],
            "tools": [{"type": "function", "name": "f", "oops": True}],
            "generation_config": {"thinking_level": "maximal"},
            "extra_body": {"surprise": 1},
        }
    )
    found = strangers(CreateModelInteraction.model_validate(body))
    assert sorted(found) == [
        "$.generation_config.thinking_level: unrecognised 'maximal'",
        "$.input[0]: UnknownStep",
        "$.surprise: extra",
        "$.tools[0].oops: extra",
    ]


def test_deliberate_unknown_step_round_trips() -> None:
    step = {"type": "hologram_call", "id": "h1", "beam": {"x": 1}}
    body = build_body({"model": MODEL, "input": [step]})
    parsed = CreateModelInteraction.model_validate(body)
    assert [s for s in strangers(parsed) if "UnknownStep" not in s] == []
    assert sdk_dump(parsed) == body == {"model": MODEL, "input": [step]}
