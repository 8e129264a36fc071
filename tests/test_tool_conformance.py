# jsonschema ships no types; pyright reads typeshed's bundled stubs, mypy needs types-jsonschema.
# mypy: disable-error-code="import-untyped"
"""Conformance with the official SDK: declarations and result steps fit its types exactly."""

from __future__ import annotations

import base64
from typing import Any

import anyio
import jsonschema
import pytest
import test_schema
import test_tool
import test_tool_properties
from _future_annotations_tools import schedule
from google.genai._gaos.types.interactions.createmodelinteraction import CreateModelInteraction
from google.genai._gaos.types.interactions.function import Function
from google.genai._gaos.types.interactions.functionresultstep import (
    FunctionResultStep as SdkFunctionResultStep,
)
from google.genai._gaos.types.interactions.functionresultsubcontent import (
    UnknownFunctionResultSubcontent,
)
from hypothesis import given
from hypothesis import strategies as st

from agentkit._content import audio, document, image, media_from_bytes, video
from agentkit._tool import FunctionTool, tool
from agentkit.types import FunctionCallStep, FunctionResultStep

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8


def example_tools() -> list[FunctionTool[..., Any]]:
    tools: list[FunctionTool[..., Any]] = [
        test_tool.get_current_temperature,
        test_tool.Counter.add,
        test_tool.Counter.double,
        test_tool.Counter.describe,
        tool(test_tool.Shout(1)),
        schedule,
    ]
    tools += [
        tool(function)
        for function in (
            test_schema.google,
            test_schema.numpy,
            test_schema.rest,
            test_schema.epydoc,
        )
    ]
    tools += [
        tool(test_schema.function_of(annotation)) for annotation, _ in test_schema.TYPE_MATRIX
    ]
    return tools


def assert_conforms(declaration: dict[str, Any]) -> None:
    function = Function.model_validate(declaration)
    assert function.model_extra == {}
    assert function.model_dump(mode="json", by_alias=True, exclude_none=True) == declaration
    jsonschema.Draft202012Validator.check_schema(declaration["parameters"])
    request = CreateModelInteraction.model_validate(
        {"model": "gemini-3-flash-preview", "input": "hi", "tools": [declaration]}
    )
    assert request.tools is not None
    assert isinstance(request.tools[0], Function)


@pytest.mark.parametrize("made", example_tools(), ids=lambda made: made.name)
def test_declarations_fit_the_sdk_function_type(made: FunctionTool[..., Any]) -> None:
    assert_conforms(made.declaration)


@test_tool_properties.PROPERTY_SETTINGS
@given(generated=test_tool_properties.functions())
def test_generated_declarations_fit_the_sdk_function_type(
    generated: test_tool_properties.Generated,
) -> None:
    assert_conforms(tool(generated.function).declaration)


def assert_result_conforms(step: FunctionResultStep) -> None:
    wire = step.to_wire()
    sdk = SdkFunctionResultStep.model_validate(wire)
    assert sdk.model_extra == {}
    assert sdk.call_id == wire["call_id"]
    assert isinstance(sdk.result, list)
    assert not any(isinstance(block, UnknownFunctionResultSubcontent) for block in sdk.result)
    assert sdk.model_dump(mode="json", by_alias=True, exclude_none=True) == wire


RETURNS: list[Any] = [
    "text",
    None,
    {"a": None, "b": [1, 2]},
    [1, "two"],
    image(PNG),
    image("https://example.com/cat.png"),
    audio(b"ID3\x04\x00", sample_rate=44100),
    video("gs://bucket/clip.mp4"),
    document(b"%PDF-1.7"),
    ["caption", image(PNG), {"size": 1}],
    PNG,
    b"plain bytes",
]


@pytest.mark.anyio
@pytest.mark.parametrize("value", RETURNS, ids=repr)
async def test_result_steps_fit_the_sdk_type(value: Any) -> None:
    @tool
    def give(x: int) -> Any:
        if x < 0:
            raise ValueError("negative")
        return value

    for arguments in ({"x": 1}, {"x": -1}, {"x": "nope"}, {}):
        step = await give.invoke(FunctionCallStep(id="call-7", name="give", arguments=arguments))
        assert_result_conforms(step)


@pytest.mark.anyio
async def test_a_timeout_result_fits_the_sdk_type() -> None:
    @tool(timeout=0.01)
    async def slow() -> None:
        await anyio.Event().wait()

    step = await slow.invoke(FunctionCallStep(id="c", name="slow", arguments={}))
    assert step.is_error is True
    assert_result_conforms(step)


@given(data=st.binary(max_size=64))
def test_any_returned_bytes_give_a_block_the_sdk_knows(data: bytes) -> None:
    step = FunctionResultStep(call_id="c", name="give", result=[media_from_bytes(data)])
    assert_result_conforms(step)
    block = step.to_wire()["result"][0]
    assert base64.b64decode(block["data"]) == data
