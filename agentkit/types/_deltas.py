"""Step deltas of `step.delta` stream events."""

from typing import Annotated, Any, Literal, Union

from pydantic import Tag

from agentkit.types._base import UNKNOWN, OpenTag, WireModel
from agentkit.types._content import Annotation, Content

__all__ = [
    "ArgumentsDelta",
    "AudioDelta",
    "CodeExecutionCallDelta",
    "CodeExecutionResultDelta",
    "Delta",
    "DocumentDelta",
    "FileSearchCallDelta",
    "FileSearchResultDelta",
    "FunctionResultDelta",
    "GoogleMapsCallDelta",
    "GoogleMapsResultDelta",
    "GoogleSearchCallDelta",
    "GoogleSearchResultDelta",
    "ImageDelta",
    "McpServerToolCallDelta",
    "McpServerToolResultDelta",
    "ProcessingCallDelta",
    "ProcessingResultDelta",
    "RetrievalCallDelta",
    "RetrievalResultDelta",
    "TextAnnotationDelta",
    "TextDelta",
    "ThoughtSignatureDelta",
    "ThoughtSummaryDelta",
    "UnknownDelta",
    "UrlContextCallDelta",
    "UrlContextResultDelta",
    "VideoDelta",
]


class TextDelta(WireModel):
    """Text to append to the step's current text block."""

    type: Literal["text"] = "text"
    text: str = ""


class ImageDelta(WireModel):
    """An image block to add to the step."""

    type: Literal["image"] = "image"
    data: str | None = None
    uri: str | None = None
    mime_type: str | None = None
    resolution: str | None = None


class AudioDelta(WireModel):
    """An audio block to add to the step (`rate` is deprecated in favour of `sample_rate`)."""

    type: Literal["audio"] = "audio"
    data: str | None = None
    uri: str | None = None
    mime_type: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    rate: int | None = None


class VideoDelta(WireModel):
    """A video block to add to the step."""

    type: Literal["video"] = "video"
    data: str | None = None
    uri: str | None = None
    mime_type: str | None = None
    resolution: str | None = None


class DocumentDelta(WireModel):
    """A document block to add to the step."""

    type: Literal["document"] = "document"
    data: str | None = None
    uri: str | None = None
    mime_type: str | None = None


class TextAnnotationDelta(WireModel):
    """Annotations for the step's current text block."""

    type: Literal["text_annotation_delta"] = "text_annotation_delta"
    annotations: list[Annotation] | None = None


class ThoughtSignatureDelta(WireModel):
    """The opaque signature of a `thought` step."""

    type: Literal["thought_signature"] = "thought_signature"
    signature: str | None = None


class ThoughtSummaryDelta(WireModel):
    """One content block to append to a `thought` step's summary."""

    type: Literal["thought_summary"] = "thought_summary"
    content: Content | None = None


class ArgumentsDelta(WireModel):
    """A fragment of a `function_call`'s JSON arguments, as text."""

    type: Literal["arguments_delta"] = "arguments_delta"
    arguments: str = ""


class FunctionResultDelta(WireModel):
    """Fields of a `function_result` step."""

    type: Literal["function_result"] = "function_result"
    name: str | None = None
    result: str | dict[str, Any] | list[Content] | None = None
    is_error: bool | None = None


class CodeExecutionCallDelta(WireModel):
    """Fields of a `code_execution_call` step."""

    type: Literal["code_execution_call"] = "code_execution_call"
    arguments: dict[str, Any] | None = None
    signature: str | None = None


class CodeExecutionResultDelta(WireModel):
    """Fields of a `code_execution_result` step."""

    type: Literal["code_execution_result"] = "code_execution_result"
    result: str | list[Content] | None = None
    is_error: bool | None = None
    signature: str | None = None


class GoogleSearchCallDelta(WireModel):
    """Fields of a `google_search_call` step."""

    type: Literal["google_search_call"] = "google_search_call"
    arguments: dict[str, Any] | None = None
    signature: str | None = None


class GoogleSearchResultDelta(WireModel):
    """Fields of a `google_search_result` step."""

    type: Literal["google_search_result"] = "google_search_result"
    result: list[dict[str, Any]] | None = None
    is_error: bool | None = None
    signature: str | None = None


class UrlContextCallDelta(WireModel):
    """Fields of a `url_context_call` step."""

    type: Literal["url_context_call"] = "url_context_call"
    arguments: dict[str, Any] | None = None
    signature: str | None = None


class UrlContextResultDelta(WireModel):
    """Fields of a `url_context_result` step."""

    type: Literal["url_context_result"] = "url_context_result"
    result: list[dict[str, Any]] | None = None
    is_error: bool | None = None
    signature: str | None = None


class GoogleMapsCallDelta(WireModel):
    """Fields of a `google_maps_call` step."""

    type: Literal["google_maps_call"] = "google_maps_call"
    arguments: dict[str, Any] | None = None
    signature: str | None = None


class GoogleMapsResultDelta(WireModel):
    """Fields of a `google_maps_result` step."""

    type: Literal["google_maps_result"] = "google_maps_result"
    result: list[dict[str, Any]] | None = None
    signature: str | None = None


class FileSearchCallDelta(WireModel):
    """Fields of a `file_search_call` step."""

    type: Literal["file_search_call"] = "file_search_call"
    signature: str | None = None


class FileSearchResultDelta(WireModel):
    """Fields of a `file_search_result` step."""

    type: Literal["file_search_result"] = "file_search_result"
    result: list[dict[str, Any]] | None = None
    signature: str | None = None


class McpServerToolCallDelta(WireModel):
    """Fields of an `mcp_server_tool_call` step."""

    type: Literal["mcp_server_tool_call"] = "mcp_server_tool_call"
    name: str | None = None
    server_name: str | None = None
    arguments: dict[str, Any] | None = None


class McpServerToolResultDelta(WireModel):
    """Fields of an `mcp_server_tool_result` step."""

    type: Literal["mcp_server_tool_result"] = "mcp_server_tool_result"
    name: str | None = None
    server_name: str | None = None
    result: str | dict[str, Any] | list[Content] | None = None


class RetrievalCallDelta(WireModel):
    """Fields of a `retrieval_call` step."""

    type: Literal["retrieval_call"] = "retrieval_call"
    arguments: dict[str, Any] | None = None
    retrieval_type: str | None = None
    signature: str | None = None


class RetrievalResultDelta(WireModel):
    """Fields of a `retrieval_result` step."""

    type: Literal["retrieval_result"] = "retrieval_result"
    is_error: bool | None = None
    signature: str | None = None


class ProcessingCallDelta(WireModel):
    """Fields of a `processing_call` step."""

    type: Literal["processing_call"] = "processing_call"
    signature: str | None = None


class ProcessingResultDelta(WireModel):
    """Fields of a `processing_result` step."""

    type: Literal["processing_result"] = "processing_result"
    signature: str | None = None


class UnknownDelta(WireModel):
    """A delta type this version does not know; every field is kept."""

    type: str = ""


_DELTA_TAG = OpenTag("type")
Delta = Annotated[
    # Union[...], not `|`: chained `|` rebuilds the union at each member (slower import).
    Union[  # noqa: UP007
        Annotated[TextDelta, Tag("text")],
        Annotated[ImageDelta, Tag("image")],
        Annotated[AudioDelta, Tag("audio")],
        Annotated[VideoDelta, Tag("video")],
        Annotated[DocumentDelta, Tag("document")],
        Annotated[TextAnnotationDelta, Tag("text_annotation_delta")],
        Annotated[ThoughtSignatureDelta, Tag("thought_signature")],
        Annotated[ThoughtSummaryDelta, Tag("thought_summary")],
        Annotated[ArgumentsDelta, Tag("arguments_delta")],
        Annotated[FunctionResultDelta, Tag("function_result")],
        Annotated[CodeExecutionCallDelta, Tag("code_execution_call")],
        Annotated[CodeExecutionResultDelta, Tag("code_execution_result")],
        Annotated[GoogleSearchCallDelta, Tag("google_search_call")],
        Annotated[GoogleSearchResultDelta, Tag("google_search_result")],
        Annotated[UrlContextCallDelta, Tag("url_context_call")],
        Annotated[UrlContextResultDelta, Tag("url_context_result")],
        Annotated[GoogleMapsCallDelta, Tag("google_maps_call")],
        Annotated[GoogleMapsResultDelta, Tag("google_maps_result")],
        Annotated[FileSearchCallDelta, Tag("file_search_call")],
        Annotated[FileSearchResultDelta, Tag("file_search_result")],
        Annotated[McpServerToolCallDelta, Tag("mcp_server_tool_call")],
        Annotated[McpServerToolResultDelta, Tag("mcp_server_tool_result")],
        Annotated[RetrievalCallDelta, Tag("retrieval_call")],
        Annotated[RetrievalResultDelta, Tag("retrieval_result")],
        Annotated[ProcessingCallDelta, Tag("processing_call")],
        Annotated[ProcessingResultDelta, Tag("processing_result")],
        Annotated[UnknownDelta, Tag(UNKNOWN)],
    ],
    _DELTA_TAG.discriminator,
]
"""The payload of a `step.delta` event (open union on `type`)."""
_DELTA_TAG.learn(Delta)
