"""Our wire models against the official google-genai SDK types (the ground truth).

These tests read the SDK's private modules (`google.genai._gaos...`): its generated pydantic
types are the only machine-readable statement of the wire format.
"""

from __future__ import annotations

import types as pytypes
import typing
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from google.genai._gaos.types.interactions import annotation as sdk_annotation
from google.genai._gaos.types.interactions import content as sdk_content
from google.genai._gaos.types.interactions import createmodelinteraction as sdk_create
from google.genai._gaos.types.interactions import interaction as sdk_interaction
from google.genai._gaos.types.interactions import interactionsseevent as sdk_event
from google.genai._gaos.types.interactions import step as sdk_step
from google.genai._gaos.types.interactions import stepdeltadata as sdk_delta
from google.genai._gaos.types.interactions import tool as sdk_tool
from pydantic import BaseModel, Tag, TypeAdapter
from typing_extensions import TypeAliasType

from agentkit import types
from agentkit.types import (
    Annotation,
    AudioContent,
    Content,
    Delta,
    DocumentContent,
    Event,
    FunctionCallStep,
    FunctionDeclaration,
    FunctionResultStep,
    ImageContent,
    Interaction,
    ModelOutputStep,
    PlaceCitation,
    Step,
    TextContent,
    ThoughtStep,
    Tool,
    UrlCitation,
    UserInputStep,
    VideoContent,
    WireModel,
)

# The SDK's known variants by tag: the maps its open-union validators dispatch on.
STEP_VARIANTS: dict[str, Any] = sdk_step._STEP_VARIANTS  # pyright: ignore[reportPrivateUsage]
CONTENT_VARIANTS: dict[str, Any] = sdk_content._CONTENT_VARIANTS  # pyright: ignore[reportPrivateUsage]
TOOL_VARIANTS: dict[str, Any] = sdk_tool._TOOL_VARIANTS  # pyright: ignore[reportPrivateUsage]
UNIONS: dict[str, tuple[Any, Any, dict[str, Any], str]] = {  # ours, SDK's, SDK variants, key
    "Step": (Step, sdk_step.Step, STEP_VARIANTS, "type"),
    "Content": (Content, sdk_content.Content, CONTENT_VARIANTS, "type"),
    "Annotation": (
        Annotation,
        sdk_annotation.Annotation,
        sdk_annotation._ANNOTATION_VARIANTS,  # pyright: ignore[reportPrivateUsage]
        "type",
    ),
    "Tool": (Tool, sdk_tool.Tool, TOOL_VARIANTS, "type"),
    "Delta": (
        Delta,
        sdk_delta.StepDeltaData,
        sdk_delta._STEP_DELTA_DATA_VARIANTS,  # pyright: ignore[reportPrivateUsage]
        "type",
    ),
    "Event": (
        Event,
        sdk_event.InteractionSSEEvent,
        sdk_event._INTERACTION_SSE_EVENT_VARIANTS,  # pyright: ignore[reportPrivateUsage]
        "event_type",
    ),
}
# Fields the SDK computes client-side ("Note: this is added by the SDK"); never on the wire.
SDK_COMPUTED = {"output_text", "output_image", "output_audio", "output_video", "continuation_ids"}


def our_members(union: Any) -> dict[str, type[WireModel]]:
    members: dict[str, type[WireModel]] = {}
    for member in get_args(get_args(union)[0]):
        model, *metadata = get_args(member)
        members.update((meta.tag, model) for meta in metadata if isinstance(meta, Tag))
    return members


def problems(value: Any, path: str = "$") -> list[str]:
    """Extra keys and Unknown* fallbacks anywhere in a parsed SDK object."""
    if isinstance(value, BaseModel):
        if getattr(value, "is_unknown", False):
            return [f"{path}: unknown {type(value).__name__}"]
        fields = type(value).model_fields
        if not fields:  # a free-form JSON object, e.g. a dict function result
            return []
        found = [f"{path}.{key}: extra" for key in value.model_extra or {}]
        for name in fields:  # via __dict__: reading a deprecated SDK field warns
            found += problems(value.__dict__.get(name), f"{path}.{name}")
        return found
    if isinstance(value, list):
        items = typing.cast("list[object]", value)
        return [issue for i, item in enumerate(items) for issue in problems(item, f"{path}[{i}]")]
    if isinstance(value, dict):
        entries = typing.cast("dict[str, object]", value)
        return [issue for key, item in entries.items() for issue in problems(item, f"{path}.{key}")]
    return []


# --- Same variants, same field names -----------------------------------------------------------


@pytest.mark.parametrize("union", list(UNIONS))
def test_unions_know_the_same_types_as_the_sdk(union: str) -> None:
    ours, _, variants, _ = UNIONS[union]
    assert set(our_members(ours)) - {"__unknown__"} == set(variants)


def wire_names(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


# Deliberate differences: FileSearchResultStep also declares the `result` its delta carries.
OUR_ADDITIONS = {"file_search_result": {"result"}}


@pytest.mark.parametrize("union", list(UNIONS))
def test_models_declare_the_sdk_field_names(union: str) -> None:
    ours, _, variants, _ = UNIONS[union]
    members = our_members(ours)
    for tag, sdk_model in variants.items():
        expected = wire_names(sdk_model) | OUR_ADDITIONS.get(tag, set())
        assert wire_names(members[tag]) == expected, tag


def test_interaction_declares_the_sdk_field_names() -> None:
    expected = wire_names(sdk_interaction.Interaction) - SDK_COMPUTED | {"object"}
    assert wire_names(Interaction) == expected


# --- SDK-serialised objects parse into our known classes -----------------------------------------


def sample(annotation: Any) -> Any:
    """A JSON value for `annotation` with every optional field filled in."""
    if isinstance(annotation, TypeAliasType):
        return sample(annotation.__value__)
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return sample(get_args(annotation)[0])
    if origin is Union or origin is pytypes.UnionType:
        members = [
            member
            for member in get_args(annotation)
            if member is not type(None)
            and "Unrecognized" not in getattr(member, "__name__", "")
            and "Unknown"
            not in getattr(get_args(member)[0] if get_args(member) else member, "__name__", "")
        ]
        return sample(members[0])
    if origin is Literal:
        return get_args(annotation)[0]
    if origin is list:
        return [sample(get_args(annotation)[0])]
    if origin is dict:
        return {"key": sample(get_args(annotation)[1])}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = annotation.model_fields.items()
        return {field.alias or name: sample(field.annotation) for name, field in fields}
    simple: dict[Any, Any] = {str: "text", int: 7, float: 1.5, bool: True, Any: {"any": [1]}}
    return simple[annotation]


SDK_SAMPLES = [
    pytest.param(union, tag, id=f"{union}-{tag}")
    for union, (_, _, variants, _) in UNIONS.items()
    for tag in variants
]


@pytest.mark.parametrize(("union", "tag"), SDK_SAMPLES)
def test_sdk_objects_parse_into_our_known_classes(union: str, tag: str) -> None:
    ours, sdk_union, variants, key = UNIONS[union]
    sdk_object = TypeAdapter[Any](sdk_union).validate_python(sample(variants[tag]))
    assert type(sdk_object) is variants[tag]
    wire = sdk_object.to_dict(mode="json")
    assert wire[key] == tag
    parsed = TypeAdapter[Any](ours).validate_python(wire)
    assert type(parsed) is our_members(ours)[tag]
    assert parsed.to_wire() == wire
    nested = [parsed, *(getattr(parsed, name, None) for name in ("interaction", "step", "delta"))]
    for model in nested:
        if isinstance(model, WireModel) and not isinstance(model, Interaction):
            assert not model.model_extra, f"{type(model).__name__}: {model.model_extra}"


# The sample fills in the SDK's deprecated fields (image_config, cached_content...) too.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_sdk_interaction_parses_into_ours() -> None:
    payload = sample(sdk_interaction.Interaction)
    payload["steps"] = [sample(model) for model in STEP_VARIANTS.values()]
    sdk_object = sdk_interaction.Interaction.model_validate(payload)
    wire = sdk_object.to_dict(mode="json")
    parsed = Interaction.model_validate(wire)
    assert parsed.to_wire() == wire
    assert set(parsed.model_extra or {}) <= SDK_COMPUTED
    assert parsed.steps is not None
    assert [step.type for step in parsed.steps] == list(STEP_VARIANTS)
    assert not any(type(step).__name__.startswith("Unknown") for step in parsed.steps)


# --- What the client sends validates as the SDK's known classes, with no extra key -------------

CONTENT_BLOCKS: list[Content] = [
    TextContent(text="hi"),
    ImageContent(data="iVBORw0KGgo=", mime_type="image/png", resolution="high"),
    ImageContent(uri="https://example.com/cat.jpg", mime_type="image/jpeg"),
    AudioContent(uri="files/a", mime_type="audio/wav", sample_rate=16000, channels=1),
    VideoContent(uri="files/v", mime_type="video/mp4", resolution="low", name="clip"),
    VideoContent(uri="files/v", processing="agentic"),
    VideoContent(
        uri="files/v",
        processing={"type": "static", "fps": 2, "start_offset": "1.5s", "end_offset": "9s"},
    ),
    DocumentContent(data="JVBERi0=", mime_type="application/pdf"),
]
CITED = TextContent(
    text="The Burj Khalifa is the tallest.",
    annotations=[
        UrlCitation(url="https://example.com", title="example.com", start_index=0, end_index=31),
        PlaceCitation(place_id="places/1", name="Burj", url="https://maps", start_index=4),
        types.FileCitation(file_name="f.pdf", page_number=2, custom_metadata={"k": 1}),
    ],
)
CLIENT_STEPS: list[Step] = [
    UserInputStep(content=[TextContent(text="What is the weather?")]),
    UserInputStep(content=CONTENT_BLOCKS),
    FunctionResultStep(call_id="fc_1", name="get_weather", result="22 degrees"),
    FunctionResultStep(call_id="fc_1", name="get_weather", result={"temp": 22, "unit": "C"}),
    FunctionResultStep(call_id="fc_1", result=[TextContent(text='{"temp": 22}')], is_error=False),
    FunctionResultStep(call_id="fc_2", name="draw", result=CONTENT_BLOCKS, is_error=True),
    # Stateless mode resends the server's steps as received.
    ThoughtStep(signature="c2lnbmF0dXJl", summary=[TextContent(text="Plan.")]),
    FunctionCallStep(id="fc_1", name="get_weather", arguments={"city": "Paris"}),
    ModelOutputStep(content=[CITED]),
]
CLIENT_TOOLS: list[Tool] = [
    FunctionDeclaration(
        name="get_weather",
        description="Get the weather.",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}},
    ),
    FunctionDeclaration(name="now"),
    types.GoogleSearch(search_types=["web_search", "image_search"]),
    types.GoogleSearch(),
    types.UrlContext(),
    types.CodeExecution(),
    types.FileSearch(file_search_store_names=["s"], metadata_filter="a = 1", top_k=3),
    types.GoogleMaps(latitude=48, longitude=2.35, enable_widget=True),
    types.McpServer(
        name="dice",
        url="https://mcp.example/mcp",
        headers={"Authorization": "Bearer t"},
        allowed_tools=[{"mode": "validated", "tools": ["roll"]}],
    ),
    types.ComputerUse(
        environment="browser",
        excluded_predefined_functions=["drag_and_drop"],
        disabled_safety_policies=["financial_transactions"],
        enable_prompt_injection_detection=True,
    ),
    types.Retrieval(
        retrieval_types=["vertex_ai_search", "rag_store", "exa_ai_search", "parallel_ai_search"],
        vertex_ai_search_config={"engine": "e", "datastores": ["d"]},
        rag_store_config={
            "rag_resources": [{"rag_corpus": "c", "rag_file_ids": ["1"]}],
            "rag_retrieval_config": {"top_k": 3, "filter": {"metadata_filter": "x"}},
        },
        exa_ai_search_config={"api_key": "k", "custom_config": {"n": 1}},
        parallel_ai_search_config={"api_key": "k"},
    ),
]


def check_with_sdk(sdk_union: Any, variants: dict[str, Any], model: WireModel) -> None:
    wire = model.to_wire()
    sdk_object = TypeAdapter[Any](sdk_union).validate_python(wire)  # strict: known types must fit
    assert type(sdk_object) is variants[wire["type"]]
    assert problems(sdk_object) == []
    assert sdk_object.to_dict(mode="json") == wire


@pytest.mark.parametrize("step", CLIENT_STEPS, ids=lambda s: type(s).__name__)
def test_client_steps_are_sdk_steps(step: WireModel) -> None:
    check_with_sdk(sdk_step.Step, STEP_VARIANTS, step)


@pytest.mark.parametrize("tool", CLIENT_TOOLS, ids=lambda t: type(t).__name__)
def test_client_tools_are_sdk_tools(tool: WireModel) -> None:
    check_with_sdk(sdk_tool.Tool, TOOL_VARIANTS, tool)


@pytest.mark.parametrize("block", [*CONTENT_BLOCKS, CITED], ids=lambda b: type(b).__name__)
def test_client_content_blocks_are_sdk_content(block: WireModel) -> None:
    check_with_sdk(sdk_content.Content, CONTENT_VARIANTS, block)


def test_a_whole_request_body_is_an_sdk_create_request() -> None:
    body = types.to_jsonable(
        {
            "model": "gemini-3-flash-preview",
            "input": CLIENT_STEPS,
            "tools": CLIENT_TOOLS,
            "previous_interaction_id": "v1_T1",
        }
    )
    request = sdk_create.CreateModelInteraction.model_validate(body)
    assert problems(request) == []
    assert request.model_dump(mode="json", by_alias=True, exclude_unset=True) == body
