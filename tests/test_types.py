from __future__ import annotations

import copy
import json
import re
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Tag, TypeAdapter, ValidationError

from agentkit import types
from agentkit.types import (
    TERMINAL_STATUSES,
    Annotation,
    AudioContent,
    Citation,
    Content,
    Delta,
    ErrorBody,
    ErrorEvent,
    Event,
    FunctionCallStep,
    FunctionDeclaration,
    FunctionResultStep,
    ImageContent,
    Interaction,
    InteractionError,
    InteractionStatus,
    ModalityTokens,
    ModelOutputStep,
    Step,
    StepDeltaEvent,
    StepStartEvent,
    StepStopEvent,
    TextContent,
    TextDelta,
    ThoughtStep,
    Tool,
    UnknownAnnotation,
    UnknownContent,
    UnknownDelta,
    UnknownEvent,
    UnknownStep,
    UnknownTool,
    UrlCitation,
    Usage,
    UserInputStep,
    VideoContent,
    WireModel,
    parse_event,
    parse_step,
    to_jsonable,
)

UNIONS: dict[str, Any] = {
    "Step": Step,
    "Content": Content,
    "Annotation": Annotation,
    "Tool": Tool,
    "Delta": Delta,
    "Event": Event,
}
ADAPTERS = {name: TypeAdapter[Any](union) for name, union in UNIONS.items()}
UNKNOWN_CLASSES = {
    "Step": UnknownStep,
    "Content": UnknownContent,
    "Annotation": UnknownAnnotation,
    "Tool": UnknownTool,
    "Delta": UnknownDelta,
    "Event": UnknownEvent,
}


def tagged_members(union: Any) -> list[tuple[type[WireModel], str]]:
    members: list[tuple[type[WireModel], str]] = []
    for member in get_args(get_args(union)[0]):
        model, *metadata = get_args(member)
        members.extend((model, meta.tag) for meta in metadata if isinstance(meta, Tag))
    return members


def roundtrip(union: str, payload: dict[str, Any]) -> WireModel:
    parsed: WireModel = ADAPTERS[union].validate_json(json.dumps(payload))
    assert parsed.to_wire() == payload
    assert ADAPTERS[union].validate_python(copy.deepcopy(payload)).to_wire() == payload
    return parsed


# --- Realistic payloads (interactions, steps, content, tools, events): `<model> <json>` ------


def samples(text: str) -> list[tuple[dict[str, Any], type[WireModel]]]:
    """Read `<model> <json>` records; indented lines continue the record above."""
    records = re.split(r"\n(?=\S)", text.strip())
    return [
        (json.loads(json_), getattr(types, name))
        for name, _, json_ in (r.partition(" ") for r in records)
    ]


STEPS = samples(
    # §6, §13; `user_input` with a plain string is the REST form of §14.6.
    r"""
UserInputStep {"type": "user_input", "content": [{"type": "text", "text": "I have 2 dogs."}]}
UserInputStep {"type": "user_input", "content": "What is the temperature in London?"}
ModelOutputStep {"type": "model_output", "content": [{"type": "text",
    "text": "Paris is the capital."}]}
ModelOutputStep {"type": "model_output", "content": [], "error": {"code": 3, "message": "bad",
    "details": []}}
ThoughtStep {"type": "thought", "signature": "Q2lnbmF0dXJl..."}
ThoughtStep {"type": "thought", "signature": "c2ln", "summary": [{"type": "text", "text": "Plan."}]}
FunctionCallStep {"type": "function_call", "id": "fc_7", "name": "get_stock",
    "arguments": {"sku": "A-1"}}
FunctionResultStep {"type": "function_result", "call_id": "fc_7", "name": "get_stock",
    "result": [{"type": "text", "text": "{\"sku\": \"A-1\", \"qty\": 3}"}]}
FunctionResultStep {"type": "function_result", "call_id": "c", "result": {"temp": 22},
    "is_error": false}
FunctionResultStep {"type": "function_result", "call_id": "c", "result": "boom", "is_error": true}
CodeExecutionCallStep {"type": "code_execution_call", "id": "ce_1",
    "arguments": {"code": "print(1)", "language": "python"}, "signature": "c2ln"}
CodeExecutionResultStep {"type": "code_execution_result", "call_id": "ce_1", "result": "1\n",
    "is_error": false}
GoogleSearchCallStep {"type": "google_search_call", "id": "gs_1",
    "arguments": {"queries": ["tallest building 2025"]}, "search_type": "web_search"}
GoogleSearchResultStep {"type": "google_search_result", "call_id": "gs_1",
    "result": [{"search_suggestions": "<div>...</div>"}]}
UrlContextCallStep {"type": "url_context_call", "id": "u_1",
    "arguments": {"urls": ["https://a.example"]}}
UrlContextResultStep {"type": "url_context_result", "call_id": "u_1",
    "result": [{"url": "https://a.example", "status": "paywall"}], "is_error": false}
GoogleMapsCallStep {"type": "google_maps_call", "id": "m_1", "arguments": {"queries": ["cafes"]}}
GoogleMapsResultStep {"type": "google_maps_result", "call_id": "m_1",
    "result": [{"places": [{"name": "Cafe", "place_id": "places/1", "url": "https://maps.example/1",
    "review_snippets": [{"review_id": "r", "title": "t", "url": "u"}]}],
    "widget_context_token": "w"}]}
FileSearchCallStep {"type": "file_search_call", "id": "f_1", "signature": "c2ln"}
FileSearchResultStep {"type": "file_search_result", "call_id": "f_1"}
McpServerToolCallStep {"type": "mcp_server_tool_call", "id": "mcp_1", "name": "roll",
    "server_name": "dice", "arguments": {"sides": 6}}
McpServerToolResultStep {"type": "mcp_server_tool_result", "call_id": "mcp_1", "name": "roll",
    "server_name": "dice", "result": [{"type": "text", "text": "4"}]}
RetrievalCallStep {"type": "retrieval_call", "id": "r_1", "arguments": {"queries": ["q"]},
    "retrieval_type": "rag_store"}
RetrievalResultStep {"type": "retrieval_result", "call_id": "r_1", "is_error": false}
ProcessingCallStep {"type": "processing_call", "id": "p_1", "signature": "c2ln"}
ProcessingResultStep {"type": "processing_result", "call_id": "p_1"}
"""
)

CONTENTS = samples(
    # §3.1, §6, §7.
    r"""
TextContent {"type": "text", "text": "Paris is the capital."}
TextContent {"type": "text", "text": "The Burj Khalifa is the tallest.",
    "annotations": [{"type": "url_citation", "url": "https://example.com/towers",
    "title": "example.com", "start_index": 0, "end_index": 31}]}
ImageContent {"type": "image", "uri": "FILE_URI", "mime_type": "image/jpeg"}
ImageContent {"type": "image", "data": "iVBORw0K", "mime_type": "image/png", "resolution": "high"}
AudioContent {"type": "audio", "uri": "https://storage.googleapis.com/a.mp3",
    "mime_type": "audio/mp3", "sample_rate": 24000, "channels": 1}
VideoContent {"type": "video", "uri": "files/v", "mime_type": "video/mp4", "name": "clip",
    "processing": {"type": "static", "fps": 1, "start_offset": "10.5s"}}
VideoContent {"type": "video", "uri": "files/v", "processing": "agentic"}
DocumentContent {"type": "document", "data": "JVBERi0=", "mime_type": "application/pdf"}
"""
)

ANNOTATIONS = samples(
    # §7.
    r"""
UrlCitation {"type": "url_citation", "url": "https://example.com/towers", "title": "example.com",
    "start_index": 0, "end_index": 31}
FileCitation {"type": "file_citation", "document_uri": "gs://b/d.pdf", "file_name": "d.pdf",
    "source": "store", "page_number": 3, "media_id": "m", "custom_metadata": {"k": "v"},
    "start_index": 0, "end_index": 4}
PlaceCitation {"type": "place_citation", "place_id": "places/abc", "name": "Cafe",
    "url": "https://maps.example", "review_snippets": [{"review_id": "r", "title": "Nice",
    "url": "https://r"}], "start_index": 1, "end_index": 2}
SpeechMetadata {"type": "speech_metadata", "speaker": "A", "style": "calm", "start_index": 0,
    "end_index": 5}
WordInfo {"type": "word_info", "text": "hi", "speaker": "1", "start_offset": "0.1s",
    "end_offset": "0.3s", "start_index": 0, "end_index": 2}
"""
)

TOOLS = samples(
    # §8 (an integer latitude must stay an integer).
    r"""
FunctionDeclaration {"type": "function", "name": "get_current_temperature",
    "description": "Gets the current temperature for a given location.",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
    "required": ["location"]}}
GoogleSearch {"type": "google_search", "search_types": ["web_search", "image_search"]}
UrlContext {"type": "url_context"}
CodeExecution {"type": "code_execution"}
FileSearch {"type": "file_search", "file_search_store_names": ["fileSearchStores/s"],
    "metadata_filter": "a = 1", "top_k": 5}
GoogleMaps {"type": "google_maps", "latitude": 48, "longitude": 2.35, "enable_widget": true}
McpServer {"type": "mcp_server", "name": "dice", "url": "https://mcp.example/mcp",
    "headers": {"Authorization": "Bearer x"}, "allowed_tools": [{"mode": "auto",
    "tools": ["roll"]}]}
ComputerUse {"type": "computer_use", "environment": "browser",
    "excluded_predefined_functions": ["drag_and_drop"],
    "disabled_safety_policies": ["financial_transactions"],
    "enable_prompt_injection_detection": true}
Retrieval {"type": "retrieval", "retrieval_types": ["rag_store"],
    "rag_store_config": {"rag_resources": [{"rag_corpus": "c", "rag_file_ids": ["1"]}]}}
"""
)

DELTAS = samples(
    # §9.3.
    r"""
TextDelta {"type": "text", "text": "Hel"}
ImageDelta {"type": "image", "data": "iVBOR", "mime_type": "image/png"}
AudioDelta {"type": "audio", "data": "UklG", "mime_type": "audio/wav", "rate": 16000}
VideoDelta {"type": "video", "uri": "files/v", "resolution": "low"}
DocumentDelta {"type": "document", "uri": "files/d", "mime_type": "application/pdf"}
TextAnnotationDelta {"type": "text_annotation_delta", "annotations": [{"type": "url_citation",
    "url": "https://example.com/towers", "title": "example.com", "start_index": 0,
    "end_index": 31}]}
ThoughtSignatureDelta {"type": "thought_signature", "signature": "U2ln..."}
ThoughtSummaryDelta {"type": "thought_summary", "content": {"type": "text", "text": "Hmm"}}
ArgumentsDelta {"type": "arguments_delta", "arguments": "{\"sku\": "}
FunctionResultDelta {"type": "function_result", "result": "ok", "name": "f", "is_error": false}
CodeExecutionCallDelta {"type": "code_execution_call", "arguments": {"code": "1",
    "language": "bash"}, "signature": "s"}
CodeExecutionResultDelta {"type": "code_execution_result", "result": "1", "is_error": false}
GoogleSearchCallDelta {"type": "google_search_call", "arguments": {"queries": ["q"]}}
GoogleSearchResultDelta {"type": "google_search_result", "result": [{"search_suggestions": "<b/>"}]}
UrlContextCallDelta {"type": "url_context_call", "arguments": {"urls": ["https://x"]}}
UrlContextResultDelta {"type": "url_context_result", "result": [{"url": "https://x",
    "status": "success"}]}
GoogleMapsCallDelta {"type": "google_maps_call", "arguments": {"queries": ["q"]}}
GoogleMapsResultDelta {"type": "google_maps_result", "result": [{"places": []}]}
FileSearchCallDelta {"type": "file_search_call", "signature": "s"}
FileSearchResultDelta {"type": "file_search_result", "result": [{}], "signature": "s"}
McpServerToolCallDelta {"type": "mcp_server_tool_call", "name": "roll", "server_name": "dice",
    "arguments": {}}
McpServerToolResultDelta {"type": "mcp_server_tool_result", "result": {"n": 4}, "name": "roll"}
RetrievalCallDelta {"type": "retrieval_call", "arguments": {"queries": ["q"]},
    "retrieval_type": "rag_store"}
RetrievalResultDelta {"type": "retrieval_result", "is_error": false, "signature": "s"}
ProcessingCallDelta {"type": "processing_call", "signature": "s"}
ProcessingResultDelta {"type": "processing_result", "signature": "s"}
"""
)

EVENTS = samples(
    # The §9.1 transcript, the inferred function-call stream of §9.4, §9.2 others.
    r"""
InteractionCreatedEvent {"event_type": "interaction.created", "interaction": {"id": "v1_X1",
    "status": "in_progress", "model": "gemini-3-flash-preview"}}
StepStartEvent {"event_type": "step.start", "index": 0, "step": {"type": "thought"}}
StepDeltaEvent {"event_type": "step.delta", "index": 0, "delta": {"type": "thought_signature",
    "signature": "U2ln..."}}
StepStopEvent {"event_type": "step.stop", "index": 0}
StepStartEvent {"event_type": "step.start", "index": 1, "step": {"type": "model_output"}}
StepDeltaEvent {"event_type": "step.delta", "index": 1, "delta": {"type": "text", "text": "Hel"},
    "event_id": "e5", "metadata": {"total_usage": {"total_tokens": 12}}}
StepStartEvent {"event_type": "step.start", "index": 1, "step": {"type": "function_call",
    "id": "fc_1", "name": "get_stock"}}
StepStopEvent {"event_type": "step.stop", "index": 1, "usage": {"total_tokens": 5},
    "step_usage": {"total_tokens": 2}}
InteractionStatusUpdateEvent {"event_type": "interaction.status_update", "interaction_id": "v1_X1",
    "status": "in_progress", "continuation_token": "tok", "usage": {"total_output_tokens": 7},
    "event_id": "e9"}
InteractionCompletedEvent {"event_type": "interaction.completed", "interaction": {"id": "v1_X1",
    "status": "completed", "usage": {"total_tokens": 42}}}
ErrorEvent {"event_type": "error", "error": {"code": "resource_exhausted",
    "message": "quota exceeded"}}
"""
)

TEXT = CONTENTS[0][0]
CITED = CONTENTS[1][0]

CASES = {
    "Step": STEPS,
    "Content": CONTENTS,
    "Annotation": ANNOTATIONS,
    "Tool": TOOLS,
    "Delta": DELTAS,
    "Event": EVENTS,
}
ALL_CASES = [(union, payload, cls) for union, cases in CASES.items() for payload, cls in cases]


@pytest.mark.parametrize(("union", "payload", "cls"), ALL_CASES)
def test_known_payloads_parse_into_their_model_and_round_trip(
    union: str, payload: dict[str, Any], cls: type[WireModel]
) -> None:
    assert type(roundtrip(union, payload)) is cls


@pytest.mark.parametrize("union", list(UNIONS))
def test_every_union_member_has_a_realistic_sample(union: str) -> None:
    sampled = {cls for _, cls in CASES[union]}
    members = {model for model, _ in tagged_members(UNIONS[union])} - {UNKNOWN_CLASSES[union]}
    assert members == sampled


@pytest.mark.parametrize("union", list(UNIONS))
def test_each_union_tag_matches_its_model_default(union: str) -> None:
    key = "event_type" if union == "Event" else "type"
    for model, tag in tagged_members(UNIONS[union]):
        if model is not UNKNOWN_CLASSES[union]:
            assert model.model_fields[key].default == tag


@pytest.mark.parametrize("union", list(UNIONS))
@pytest.mark.parametrize(
    "extra",
    [
        {"signature": "c2ln", "future_field": {"nested": [1, 2.5, None, True]}},
        {"x": None},
        {"": "empty key", "ü": "ünïcode"},
        # Names of BaseModel attributes must not clash with kept fields.
        {"schema": {"type": "object"}, "json": 1, "copy": 2, "model_config": 3, "_private": 4},
    ],
)
def test_unknown_types_keep_every_field(union: str, extra: dict[str, Any]) -> None:
    key = "event_type" if union == "Event" else "type"
    payload = {key: "hologram_call", "id": "h_1", **extra}
    parsed = roundtrip(union, payload)
    assert type(parsed) is UNKNOWN_CLASSES[union]
    assert getattr(parsed, key) == "hologram_call"


@pytest.mark.parametrize(("union", "payload", "cls"), ALL_CASES)
def test_unknown_fields_on_known_types_round_trip(
    union: str, payload: dict[str, Any], cls: type[WireModel]
) -> None:
    extra = {"brand_new": {"a": [1, None]}, "flag": None, "schema": {}, "json": 0}
    parsed = roundtrip(union, {**payload, **extra})
    assert type(parsed) is cls
    assert parsed.model_extra == extra


def test_payload_without_a_type_is_kept_as_unknown() -> None:
    payload = {"text": "no type here"}
    parsed = roundtrip("Content", payload)
    assert type(parsed) is UnknownContent


def test_unhashable_type_value_is_unknown() -> None:
    with pytest.raises(ValidationError):  # Unknown* requires `type` to be a string
        parse_step({"type": ["a"]})


def test_explicit_nulls_are_kept() -> None:
    payload = {
        "type": "function_call",
        "id": None,
        "name": "f",
        "arguments": {"a": None},
        "signature": None,
    }
    assert parse_step(payload).to_wire() == payload
    interaction = {"id": "i", "status": "completed", "usage": None, "steps": None, "errors": None}
    assert Interaction.from_json(json.dumps(interaction)).to_wire() == interaction


def test_ints_in_number_fields_stay_ints() -> None:
    tool = types.GoogleMaps.model_validate_json('{"type": "google_maps", "latitude": 48}')
    assert type(tool.to_wire()["latitude"]) is int
    video = parse_step(
        {"type": "model_output", "content": [{"type": "video", "processing": {"fps": 1}}]}
    ).to_wire()
    assert type(video["content"][0]["processing"]["fps"]) is int


# --- Interaction ------------------------------------------------------------------------------

SECTION_4: dict[str, Any] = {
    "id": "v1_ExAmPlE123",
    "object": "interaction",
    "status": "completed",
    "model": "gemini-3-flash-preview",
    "created": "2026-01-02T03:04:05Z",
    "usage": {"total_tokens": 150, "total_input_tokens": 10, "total_output_tokens": 20},
    "steps": [
        {"type": "thought", "signature": "Q2lnbmF0dXJl..."},
        {"type": "model_output", "content": [{"type": "text", "text": "Paris is the capital."}]},
    ],
}
SECTION_13: dict[str, Any] = {
    "id": "v1_T1",
    "object": "interaction",
    "status": "requires_action",
    "model": "gemini-3-flash-preview",
    "steps": [
        {"type": "thought", "signature": "c2ln..."},
        {"type": "function_call", "id": "fc_7", "name": "get_stock", "arguments": {"sku": "A-1"}},
        {"type": "function_call", "id": "fc_8", "name": "get_price", "arguments": {}},
    ],
}
FULL: dict[str, Any] = {
    "id": "v1_F",
    "status": "completed",
    "agent": "deep-research-pro-preview-12-2025",
    "created": "2026-01-02T03:04:05.123456789+00:00",
    "updated": "2026-01-02T03:04:06Z",
    "continuation_token": None,
    "environment_id": "env_1",
    "errors": [{"code": "https://errors.example/quota", "message": "slow down"}],
    "previous_interaction_id": "v1_E",
    "input": [{"type": "text", "text": "hi"}],
    "system_instruction": "Be brief.",
    "tools": [tool for tool, _ in TOOLS] + [{"type": "teleport", "range": 9}],
    "generation_config": {"temperature": 1, "thinking_level": "low"},
    "response_format": {
        "type": "text",
        "mime_type": "application/json",
        "schema": {"type": "object"},
    },
    "agent_config": {"type": "deep-research", "thinking_summaries": "auto"},
    "environment": "remote",
    "safety_settings": [{"type": "harassment", "threshold": "block_none"}],
    "service_tier": "flex",
    "labels": {"team": "a"},
    "webhook_config": {"uris": ["https://hook"], "user_metadata": {}},
    "response_mime_type": "text/plain",
    "response_modalities": ["text"],
    "cached_content": "cachedContents/1",
    "steps": [step for step, _ in STEPS],
}


@pytest.mark.parametrize("payload", [SECTION_4, SECTION_13, FULL], ids=["s4", "s13", "full"])
def test_interactions_round_trip(payload: dict[str, Any]) -> None:
    interaction = Interaction.from_json(json.dumps(payload))
    assert interaction.to_wire() == payload
    assert Interaction.from_json(json.dumps(payload).encode()).to_wire() == payload
    assert Interaction.model_validate(copy.deepcopy(payload)).to_wire() == payload


def test_timestamps_stay_strings() -> None:
    interaction = Interaction.from_json(json.dumps(FULL))
    assert interaction.created == "2026-01-02T03:04:05.123456789+00:00"
    assert interaction.to_wire()["updated"] == "2026-01-02T03:04:06Z"


@pytest.mark.parametrize("status", [*get_args(InteractionStatus), "paused_for_lunch", ""])
def test_any_status_string_is_kept(status: str) -> None:
    interaction = Interaction.from_json(json.dumps({"id": "i", "status": status}))
    assert interaction.status == status
    assert interaction.to_wire() == {"id": "i", "status": status}


def test_terminal_statuses() -> None:
    assert sorted(TERMINAL_STATUSES) == [
        "budget_exceeded",
        "cancelled",
        "completed",
        "failed",
        "incomplete",
    ]
    assert set(get_args(InteractionStatus)) - TERMINAL_STATUSES == {
        "in_progress",
        "queued",
        "requires_action",
        "requires_continuation",
    }


def test_legacy_outputs_become_a_model_output_step() -> None:
    payload = {"id": "i", "status": "completed", "model": "lyria-3-pro-preview"}
    outputs = [{"type": "audio", "data": "UklG", "mime_type": "audio/wav"}]
    interaction = Interaction.from_json(json.dumps({**payload, "outputs": outputs}))
    assert interaction.to_wire() == {
        **payload,
        "steps": [{"type": "model_output", "content": outputs}],
    }
    assert interaction.output_audio == AudioContent(data="UklG", mime_type="audio/wav")


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "i", "status": "completed", "steps": [], "outputs": [TEXT]},
        {"id": "i", "status": "completed", "outputs": {"not": "a list"}},
    ],
)
def test_other_outputs_are_kept_as_they_are(payload: dict[str, Any]) -> None:
    assert Interaction.from_json(json.dumps(payload)).to_wire() == payload


def test_computed_properties_are_never_serialised() -> None:
    interaction = Interaction.from_json(json.dumps(SECTION_4))
    assert interaction.output_text == "Paris is the capital."
    wire = interaction.to_wire()
    for name in ("output_text", "output_image", "function_calls", "citations"):
        assert name not in wire
        assert name not in interaction.model_dump()


def steps_of(*steps: dict[str, Any]) -> Interaction:
    return Interaction.model_validate({"id": "i", "status": "completed", "steps": list(steps)})


def output(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"type": "model_output", "content": list(blocks)}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


IMAGE: dict[str, Any] = {"type": "image", "uri": "files/i", "mime_type": "image/png"}
CALL: dict[str, Any] = {"type": "function_call", "id": "c", "name": "f", "arguments": {}}
USER: dict[str, Any] = {"type": "user_input", "content": [text("question")]}
THOUGHT: dict[str, Any] = {"type": "thought", "signature": "s"}


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([], None),
        ([THOUGHT], None),
        ([output(text("a"), text("b"))], "ab"),
        ([output(text("a")), output(text("b"))], "ab"),
        ([output(text("a")), THOUGHT, output(text("b")), THOUGHT], "ab"),
        ([output(text("a")), CALL, output(text("b"))], "b"),
        ([output(text("a")), CALL], "a"),  # a trailing call before any text is skipped
        ([output(text("a"), IMAGE, text("b"))], "b"),
        ([output(text("a"), text("b"), IMAGE)], "ab"),  # a trailing image is skipped
        ([output(text("a")), output(IMAGE)], "a"),
        ([output(text("a")), output(text("b"), IMAGE)], "ab"),
        ([output(text("old")), USER, output(text("new"))], "new"),
        ([output(text("old")), USER], None),
        ([output(text(""))], ""),
        ([{"type": "model_output"}], None),
        ([output(text("a")), {"type": "hologram", "content": [text("x")]}], "a"),
    ],
)
def test_output_text_follows_the_sdk_rule(
    steps: list[dict[str, Any]], expected: str | None
) -> None:
    assert steps_of(*steps).output_text == expected


def test_output_media_is_the_last_block_after_the_last_user_input() -> None:
    first = {**IMAGE, "uri": "files/first"}
    last = {**IMAGE, "uri": "files/last"}
    video = {"type": "video", "uri": "files/v"}
    interaction = steps_of(output(first), USER, output(last, text("t")), CALL, output(video))
    assert interaction.output_image is not None
    assert interaction.output_image.uri == "files/last"
    assert interaction.output_video == VideoContent(uri="files/v")
    assert interaction.output_audio is None
    assert steps_of(output(first), USER).output_image is None


def test_function_calls_in_order() -> None:
    interaction = Interaction.from_json(json.dumps(SECTION_13))
    assert [call.id for call in interaction.function_calls] == ["fc_7", "fc_8"]
    assert interaction.function_calls[0].arguments == {"sku": "A-1"}
    assert steps_of().function_calls == []


def test_citations_resolve_utf8_byte_offsets() -> None:
    block = "Zürich ☃ is cold. 東京 is big."
    encoded = block.encode()
    start, end = encoded.index("東京".encode()), encoded.index(b" is big")
    assert (start, end) != (block.index("東京"), block.index(" is big"))  # bytes, not chars
    notes = [
        {
            "type": "url_citation",
            "url": "https://a",
            "title": "A",
            "start_index": 0,
            "end_index": 8,
        },
        {"type": "place_citation", "name": "not a url citation", "start_index": 0},
        {
            "type": "url_citation",
            "url": "https://b",
            "title": "B",
            "start_index": start,
            "end_index": end,
        },
        {"type": "url_citation", "url": "https://c"},
    ]
    interaction = steps_of(output({"type": "text", "text": block, "annotations": notes}))
    assert interaction.citations == [
        Citation(url="https://a", title="A", text="Zürich ", start_index=0, end_index=8),
        Citation(url="https://b", title="B", text="東京", start_index=start, end_index=end),
        Citation(url="https://c", title=None, text=block, start_index=None, end_index=None),
    ]


def test_citations_only_after_the_last_user_input() -> None:
    old = {**CITED, "text": "old"}
    interaction = steps_of(output(old), USER, output(CITED))
    assert [c.text for c in interaction.citations] == ["The Burj Khalifa is the tallest"]
    assert steps_of(output(TEXT)).citations == []


# --- Shapes where the docs' samples and the SDK differ -----------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "google_search_call", "arguments": {"queries": ["tallest building 2025"]}},
        {"type": "function_call", "name": "f", "arguments": {}},
        {"type": "code_execution_call", "arguments": {"code": "1"}},
        {"type": "url_context_call"},
        {"type": "google_maps_call"},
        {"type": "file_search_call"},
        {"type": "mcp_server_tool_call", "name": "n"},
        {"type": "retrieval_call"},
        {"type": "processing_call"},
    ],
)
def test_call_steps_without_id(payload: dict[str, Any]) -> None:
    step = parse_step(payload)
    assert not isinstance(step, UnknownStep)
    assert getattr(step, "id") is None  # noqa: B009
    assert step.to_wire() == payload


def test_user_input_content_as_a_plain_string() -> None:
    payload = {"type": "user_input", "content": "What is the temperature in London?"}
    step = parse_step(json.dumps(payload))
    assert isinstance(step, UserInputStep)
    assert step.content == "What is the temperature in London?"
    assert UserInputStep(content="hi").to_wire() == {"type": "user_input", "content": "hi"}


ERROR_BODIES: list[dict[str, Any]] = [
    {"error": {"code": "invalid_argument", "message": "human readable text"}},
    {"error": {"code": 400, "message": "Bad input", "status": "INVALID_ARGUMENT"}},
    {"error": {"code": 429, "message": "m", "status": "RESOURCE_EXHAUSTED", "details": [{}]}},
    {"error": {"message": "no code"}},
    {},
]


@pytest.mark.parametrize("body", ERROR_BODIES)
def test_error_bodies_with_integer_or_string_codes(body: dict[str, Any]) -> None:
    parsed = ErrorBody.model_validate_json(json.dumps(body))
    assert parsed.to_wire() == body
    if "code" in body.get("error", {}):
        assert parsed.error is not None
        assert parsed.error.code == body["error"]["code"]


def test_error_codes_elsewhere() -> None:
    assert InteractionError.model_validate({"code": 13}).code == 13
    event = parse_event('{"event_type": "error", "error": {"code": 503, "message": "m"}}')
    assert isinstance(event, ErrorEvent)
    assert event.error is not None
    assert event.error.code == 503


def test_step_start_skeletons_parse() -> None:
    event = parse_event(
        b'{"event_type":"step.start","index":1,"step":{"type":"function_call","id":"fc_1",'
        b'"name":"get_stock"}}'
    )
    assert isinstance(event, StepStartEvent)
    assert isinstance(event.step, FunctionCallStep)
    assert event.step.arguments == {}
    assert event.step.to_wire() == {"type": "function_call", "id": "fc_1", "name": "get_stock"}
    assert isinstance(parse_step({"type": "function_result"}), FunctionResultStep)
    assert isinstance(parse_step({"type": "model_output"}), ModelOutputStep)


def test_assigned_fields_are_serialised() -> None:
    event = parse_event({"event_type": "step.start", "index": 1, "step": {"type": "function_call"}})
    assert isinstance(event, StepStartEvent)
    assert isinstance(event.step, FunctionCallStep)
    event.step.arguments = {"sku": "A-1"}
    assert event.step.to_wire() == {"type": "function_call", "arguments": {"sku": "A-1"}}


def test_parse_event_accepts_str_bytes_and_dicts() -> None:
    payload = {"event_type": "step.delta", "index": 2, "delta": {"type": "text", "text": "lo"}}
    for data in (json.dumps(payload), json.dumps(payload).encode(), payload):
        event = parse_event(data)
        assert isinstance(event, StepDeltaEvent)
        assert isinstance(event.delta, TextDelta)
        assert event.event_id is None
        assert event.to_wire() == payload


def test_unknown_event_and_delta() -> None:
    event = parse_event({"event_type": "interaction.paused", "event_id": "e1", "why": "lunch"})
    assert isinstance(event, UnknownEvent)
    assert event.event_id == "e1"
    delta = parse_event(
        {"event_type": "step.delta", "index": 0, "delta": {"type": "smell", "x": 1}}
    )
    assert isinstance(delta, StepDeltaEvent)
    assert isinstance(delta.delta, UnknownDelta)
    assert delta.to_wire()["delta"] == {"type": "smell", "x": 1}


# --- Models built in code ----------------------------------------------------------------------


def test_models_built_in_code_send_their_type() -> None:
    assert FunctionResultStep(call_id="c", name="f", result="x").to_wire() == {
        "type": "function_result",
        "call_id": "c",
        "name": "f",
        "result": "x",
    }
    step = FunctionResultStep(
        call_id="c",
        result=[TextContent(text="t", annotations=[UrlCitation(url="u")]), ImageContent(uri="i")],
    )
    assert step.to_wire() == {
        "type": "function_result",
        "call_id": "c",
        "result": [
            {"type": "text", "text": "t", "annotations": [{"type": "url_citation", "url": "u"}]},
            {"type": "image", "uri": "i"},
        ],
    }
    assert types.UrlContext().to_wire() == {"type": "url_context"}
    assert StepStopEvent(index=3).to_wire() == {"event_type": "step.stop", "index": 3}
    assert ThoughtStep.model_validate({}).to_wire() == {"type": "thought"}
    assert FunctionCallStep.model_construct(name="f").to_wire() == {
        "type": "function_call",
        "name": "f",
    }


def test_models_built_from_dicts_in_code() -> None:
    step = FunctionResultStep.model_validate(
        {"call_id": "c", "result": [{"type": "text", "text": "t"}], "is_error": True}
    )
    assert step.to_wire() == {
        "type": "function_result",
        "call_id": "c",
        "result": [{"type": "text", "text": "t"}],
        "is_error": True,
    }
    assert isinstance(step.result, list)
    assert isinstance(step.result[0], TextContent)


def test_unknown_models_built_in_code() -> None:
    assert UnknownStep.model_validate({"type": "hologram", "x": 1}).to_wire() == {
        "type": "hologram",
        "x": 1,
    }
    assert UnknownStep().to_wire() == {}


def test_to_jsonable() -> None:
    value = {
        "input": [UserInputStep(content=[TextContent(text="hi")]), {"raw": (1, 2)}],
        "tools": (FunctionDeclaration(name="f", parameters={"type": "object"}),),
        "n": 1.5,
        "none": None,
    }
    assert to_jsonable(value) == {
        "input": [
            {"type": "user_input", "content": [{"type": "text", "text": "hi"}]},
            {"raw": [1, 2]},
        ],
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "n": 1.5,
        "none": None,
    }
    assert to_jsonable("s") == "s"


# --- Usage -------------------------------------------------------------------------------------


def test_usage_addition() -> None:
    first = Usage.model_validate(
        {
            "total_tokens": 10,
            "total_input_tokens": 4,
            "initial_input_tokens": 4,
            "input_tokens_by_modality": [
                {"modality": "text", "tokens": 3},
                {"modality": "image", "tokens": 1},
            ],
            "grounding_tool_count": [{"type": "google_search", "count": 1}],
            "future_tokens": 2,
            "note": "first",
        }
    )
    second = Usage.model_validate(
        {
            "total_tokens": 5,
            "total_output_tokens": 7,
            "initial_input_tokens": 9,
            "input_tokens_by_modality": [
                {"modality": "audio", "tokens": 2},
                {"modality": "text", "tokens": 5},
            ],
            "output_tokens_by_modality": [{"modality": "text", "tokens": 7}],
            "grounding_tool_count": [{"type": "google_search", "count": 2}],
            "future_tokens": 3,
            "note": "second",
            "other": True,
        }
    )
    assert (first + second).to_wire() == {
        "total_tokens": 15,
        "total_input_tokens": 4,
        "total_output_tokens": 7,
        "initial_input_tokens": 4,
        "input_tokens_by_modality": [
            {"modality": "text", "tokens": 8},
            {"modality": "image", "tokens": 1},
            {"modality": "audio", "tokens": 2},
        ],
        "output_tokens_by_modality": [{"modality": "text", "tokens": 7}],
        "grounding_tool_count": [{"type": "google_search", "count": 3}],
        "future_tokens": 5,
        "note": "first",
        "other": True,
    }


def test_usage_merges_counts_that_are_missing() -> None:
    first = Usage.model_validate({"input_tokens_by_modality": [{"modality": "text"}]})
    second = Usage.model_validate({"input_tokens_by_modality": [{"modality": "text"}, {}]})
    assert (first + second).to_wire() == {"input_tokens_by_modality": [{"modality": "text"}, {}]}


def test_usage_zero_is_neutral() -> None:
    usage = Usage(
        total_tokens=3, input_tokens_by_modality=[ModalityTokens(modality="text", tokens=3)]
    )
    assert Usage().to_wire() == {}
    assert (Usage() + usage).to_wire() == usage.to_wire()
    assert (usage + Usage()).to_wire() == usage.to_wire()
    assert (Usage() + Usage()).to_wire() == {}
    assert Usage(initial_input_tokens=None) + Usage(initial_input_tokens=2) == Usage(
        initial_input_tokens=2
    )


def test_usage_addition_does_not_share_state() -> None:
    usage = Usage(input_tokens_by_modality=[ModalityTokens(modality="text", tokens=1)])
    total = usage + Usage()
    assert total.input_tokens_by_modality is not None
    total.input_tokens_by_modality[0].tokens = 99
    assert usage.input_tokens_by_modality == [ModalityTokens(modality="text", tokens=1)]


def test_usage_rejects_other_operands() -> None:
    with pytest.raises(TypeError):
        _ = Usage() + 1


# --- Property: anything JSON-shaped in `steps` round-trips ---------------------------------------

KNOWN_TYPES = {tag for _, tag in tagged_members(Step)} | {tag for _, tag in tagged_members(Content)}
JsonDict = dict[str, Any]


def json_containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    json_containers,
    max_leaves=10,
)
unknown_types = st.text().filter(lambda tag: tag not in KNOWN_TYPES)


@st.composite
def extra_fields(draw: st.DrawFn) -> JsonDict:
    # The `x_` prefix keeps clear of known field names (and of the legacy `outputs`).
    keys = draw(st.lists(st.text(), max_size=3))
    return {f"x_{key}": draw(json_values) for key in keys}


@st.composite
def content_blocks(draw: st.DrawFn) -> JsonDict:
    base: JsonDict = draw(
        st.sampled_from([{"type": "text", "text": "t"}, {"type": "image", "uri": "u"}, {}])
    )
    if not base:
        base = {"type": draw(unknown_types)}
    return {**base, **draw(extra_fields())}


@st.composite
def steps(draw: st.DrawFn) -> JsonDict:
    blocks = draw(st.lists(content_blocks(), max_size=3))
    base: JsonDict = draw(
        st.sampled_from(
            [
                {"type": "model_output", "content": blocks},
                {"type": "thought", "signature": "c2ln", "summary": blocks},
                {"type": "function_call", "id": "c", "name": "f", "arguments": {"a": blocks}},
                {"type": "function_result", "call_id": "c", "result": blocks},
                {"type": "user_input", "content": blocks},
                {},
            ]
        )
    )
    if not base:
        base = {"type": draw(unknown_types), "content": blocks}
    return {**base, **draw(extra_fields())}


@st.composite
def interactions(draw: st.DrawFn) -> JsonDict:
    payload: JsonDict = {"id": "v1_P", "status": draw(st.text()), **draw(extra_fields())}
    payload["steps"] = draw(st.lists(steps(), max_size=5))
    return payload


@settings(max_examples=200, deadline=None)
@given(payload=interactions())
def test_any_steps_round_trip(payload: JsonDict) -> None:
    assert Interaction.from_json(json.dumps(payload)).to_wire() == payload


# --- Unknown members deep inside known containers ----------------------------------------------

HOLO_STEP: JsonDict = {"type": "hologram_call", "id": "h1", "beam": {"x": [1, 2.5]}}
HOLO_CONTENT: JsonDict = {"type": "smell", "scent": "rose", "n": 1}
HOLO_NOTE: JsonDict = {"type": "emoji_citation", "glyph": "*", "start_index": 0}
HOLO_TOOL: JsonDict = {"type": "teleport", "range": 9}
HOLO_DELTA: JsonDict = {"type": "smell_delta", "scent": "ro"}
TEXT_WITH_NOTE: JsonDict = {"type": "text", "text": "t", "annotations": [HOLO_NOTE], "x_new": 1}
DEEP_INTERACTION: JsonDict = {
    "id": "v1_D",
    "status": "paused_for_lunch",
    "x_top": {"a": None},
    "tools": [HOLO_TOOL],
    "usage": {"total_tokens": 3, "x_future_tokens": 2},
    "steps": [
        HOLO_STEP,
        {"type": "model_output", "content": [HOLO_CONTENT, TEXT_WITH_NOTE]},
        {"type": "thought", "signature": "c2ln", "summary": [HOLO_CONTENT]},
        {"type": "function_result", "call_id": "c", "result": [HOLO_CONTENT]},
        {"type": "user_input", "content": [HOLO_CONTENT]},
    ],
}
DEEP_EVENTS: list[JsonDict] = [
    {"event_type": "step.start", "index": 0, "step": HOLO_STEP, "event_id": "e1"},
    {"event_type": "step.delta", "index": 0, "delta": HOLO_DELTA, "x_new": True},
    {
        "event_type": "step.delta",
        "index": 1,
        "delta": {"type": "thought_summary", "content": HOLO_CONTENT},
    },
    {
        "event_type": "step.delta",
        "index": 2,
        "delta": {"type": "text_annotation_delta", "annotations": [HOLO_NOTE]},
    },
    {
        "event_type": "step.delta",
        "index": 3,
        "delta": {"type": "function_result", "result": [HOLO_CONTENT]},
    },
    {"event_type": "interaction.created", "interaction": DEEP_INTERACTION},
    {"event_type": "interaction.completed", "interaction": DEEP_INTERACTION, "event_id": "e9"},
    {
        "event_type": "interaction.status_update",
        "interaction_id": "v1_D",
        "status": "paused_for_lunch",
    },
]


def unknown_members(value: Any) -> set[type[WireModel]]:
    """The `Unknown*` models anywhere inside a parsed model."""
    found: set[type[WireModel]] = set()
    if isinstance(value, WireModel):
        if type(value) in UNKNOWN_CLASSES.values():
            found.add(type(value))
        for name in type(value).model_fields:
            found |= unknown_members(getattr(value, name))
    elif isinstance(value, list):
        for item in value:  # pyright: ignore[reportUnknownVariableType]
            found |= unknown_members(item)
    return found


def test_unknown_members_deep_inside_an_interaction_round_trip() -> None:
    interaction = Interaction.from_json(json.dumps(DEEP_INTERACTION))
    assert interaction.to_wire() == DEEP_INTERACTION
    assert interaction.status == "paused_for_lunch"
    assert unknown_members(interaction) == {
        UnknownStep,
        UnknownContent,
        UnknownAnnotation,
        UnknownTool,
    }


@pytest.mark.parametrize("payload", DEEP_EVENTS, ids=lambda e: str(e["event_type"]))
def test_unknown_members_deep_inside_events_round_trip(payload: JsonDict) -> None:
    event = parse_event(json.dumps(payload))
    assert event.to_wire() == payload
    assert not isinstance(event, UnknownEvent)
    assert unknown_members(event) or payload["event_type"] == "interaction.status_update"
