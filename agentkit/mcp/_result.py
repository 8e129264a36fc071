"""An MCP tool's `CallToolResult` as the `function_result` step the model reads."""

from __future__ import annotations

from typing import Any

import mcp.types as mcp_types

from agentkit._content import to_json_text
from agentkit.types import (
    AudioContent,
    Content,
    DocumentContent,
    FunctionCallStep,
    FunctionResultStep,
    ImageContent,
    TextContent,
    VideoContent,
)

__all__ = ["function_result", "result_text"]


def function_result(call: FunctionCallStep, result: mcp_types.CallToolResult) -> FunctionResultStep:
    """The step answering `call` with what the MCP tool returned.

    Structured content (a JSON object) is sent as the result object when the other content
    is only its text rendering, as the MCP spec has servers do; else every content block is
    sent, images and audio inline. `isError` results keep their text and set `is_error`.
    """
    blocks: list[Content] = [_block(item) for item in result.content]
    structured: Any = result.structured_content
    value: dict[str, Any] | list[Content]
    if (
        not result.is_error
        and isinstance(structured, dict)
        and all(isinstance(block, TextContent) for block in blocks)
    ):
        value = dict(structured)  # pyright: ignore[reportUnknownArgumentType]
    else:
        if structured is not None and not blocks:
            blocks = [TextContent(text=to_json_text(structured))]
        if result.is_error and not blocks:
            blocks = [TextContent(text="The tool reported an error without saying what it was.")]
        value = blocks
    return FunctionResultStep(
        call_id=call.id or "", name=call.name, result=value, is_error=result.is_error or None
    )


def result_text(result: mcp_types.CallToolResult) -> str:
    """The text blocks of a result, joined: what an error result says."""
    texts = [item.text for item in result.content if isinstance(item, mcp_types.TextContent)]
    return " ".join(texts) or "no message"


def _block(item: mcp_types.ContentBlock) -> Content:
    if isinstance(item, mcp_types.TextContent):
        return TextContent(text=item.text)
    if isinstance(item, mcp_types.ImageContent):
        return ImageContent(data=item.data, mime_type=item.mime_type)
    if isinstance(item, mcp_types.AudioContent):
        return AudioContent(data=item.data, mime_type=item.mime_type)
    if isinstance(item, mcp_types.EmbeddedResource):
        return _resource(item.resource)
    # A resource link (or a block type newer than this code): the model gets its fields.
    return TextContent(text=to_json_text(item.model_dump(mode="json", exclude_none=True)))


def _resource(
    resource: mcp_types.TextResourceContents | mcp_types.BlobResourceContents,
) -> Content:
    if isinstance(resource, mcp_types.TextResourceContents):
        return TextContent(text=resource.text)
    mime = resource.mime_type or ""
    if mime.startswith("image/"):
        return ImageContent(data=resource.blob, mime_type=mime)
    if mime.startswith("audio/"):
        return AudioContent(data=resource.blob, mime_type=mime)
    if mime.startswith("video/"):
        return VideoContent(data=resource.blob, mime_type=mime)
    return DocumentContent(data=resource.blob, mime_type=mime or None)
