"""Content blocks and their annotations."""

from typing import Annotated, Any, Literal, Union

from pydantic import Tag

from agentkit.types._base import UNKNOWN, OpenTag, WireModel

__all__ = [
    "Annotation",
    "AudioContent",
    "Content",
    "DocumentContent",
    "FileCitation",
    "ImageContent",
    "PlaceCitation",
    "SpeechMetadata",
    "TextContent",
    "UnknownAnnotation",
    "UnknownContent",
    "UrlCitation",
    "VideoContent",
    "WordInfo",
]


# Annotations. Indices are UTF-8 byte offsets into the text block, end exclusive.


class UrlCitation(WireModel):
    """A web source cited by a span of the text."""

    type: Literal["url_citation"] = "url_citation"
    url: str | None = None
    title: str | None = None
    start_index: int | None = None
    end_index: int | None = None


class FileCitation(WireModel):
    """A file (e.g. from file search) cited by a span of the text."""

    type: Literal["file_citation"] = "file_citation"
    document_uri: str | None = None
    file_name: str | None = None
    source: str | None = None
    page_number: int | None = None
    media_id: str | None = None
    custom_metadata: dict[str, Any] | None = None
    start_index: int | None = None
    end_index: int | None = None


class PlaceCitation(WireModel):
    """A Google Maps place cited by a span of the text."""

    type: Literal["place_citation"] = "place_citation"
    place_id: str | None = None
    name: str | None = None
    url: str | None = None
    review_snippets: list[dict[str, Any]] | None = None
    start_index: int | None = None
    end_index: int | None = None


class SpeechMetadata(WireModel):
    """Speaker and style of a span of generated speech text."""

    type: Literal["speech_metadata"] = "speech_metadata"
    speaker: str | None = None
    style: str | None = None
    start_index: int | None = None
    end_index: int | None = None


class WordInfo(WireModel):
    """One recognised word of a transcription."""

    type: Literal["word_info"] = "word_info"
    text: str | None = None
    speaker: str | None = None
    start_offset: str | None = None
    end_offset: str | None = None
    start_index: int | None = None
    end_index: int | None = None


class UnknownAnnotation(WireModel):
    """An annotation type this version does not know; every field is kept."""

    type: str = ""


_ANNOTATION_TAG = OpenTag("type")
Annotation = Annotated[
    # Union[...], not `|`: chained `|` rebuilds the union at each member (slower import).
    Union[  # noqa: UP007
        Annotated[UrlCitation, Tag("url_citation")],
        Annotated[FileCitation, Tag("file_citation")],
        Annotated[PlaceCitation, Tag("place_citation")],
        Annotated[SpeechMetadata, Tag("speech_metadata")],
        Annotated[WordInfo, Tag("word_info")],
        Annotated[UnknownAnnotation, Tag(UNKNOWN)],
    ],
    _ANNOTATION_TAG.discriminator,
]
"""An annotation of a text block (open union on `type`)."""
_ANNOTATION_TAG.learn(Annotation)


# Content blocks. Media is inline base64 `data` or a `uri` (Files API or https URL).


class TextContent(WireModel):
    """A block of text, with citations or other annotations."""

    type: Literal["text"] = "text"
    text: str = ""
    annotations: list[Annotation] | None = None


class ImageContent(WireModel):
    """An image, inline (`data`, base64) or by `uri`."""

    type: Literal["image"] = "image"
    data: str | None = None
    uri: str | None = None
    mime_type: str | None = None
    resolution: str | None = None


class AudioContent(WireModel):
    """Audio, inline (`data`, base64) or by `uri`."""

    type: Literal["audio"] = "audio"
    data: str | None = None
    uri: str | None = None
    mime_type: str | None = None
    sample_rate: int | None = None
    channels: int | None = None


class VideoContent(WireModel):
    """Video, inline (`data`, base64) or by `uri`."""

    type: Literal["video"] = "video"
    data: str | None = None
    uri: str | None = None
    mime_type: str | None = None
    resolution: str | None = None
    name: str | None = None
    """A label the prompt can refer to."""
    processing: str | dict[str, Any] | None = None
    """`"static"`, `"agentic"` or `{"type": "static", "fps": ..., "start_offset": ...}`."""


class DocumentContent(WireModel):
    """A document (PDF, CSV, office formats), inline (`data`, base64) or by `uri`."""

    type: Literal["document"] = "document"
    data: str | None = None
    uri: str | None = None
    mime_type: str | None = None


class UnknownContent(WireModel):
    """A content type this version does not know; every field is kept."""

    type: str = ""


_CONTENT_TAG = OpenTag("type")
Content = Annotated[
    # Union[...], not `|`: chained `|` rebuilds the union at each member (slower import).
    Union[  # noqa: UP007
        Annotated[TextContent, Tag("text")],
        Annotated[ImageContent, Tag("image")],
        Annotated[AudioContent, Tag("audio")],
        Annotated[VideoContent, Tag("video")],
        Annotated[DocumentContent, Tag("document")],
        Annotated[UnknownContent, Tag(UNKNOWN)],
    ],
    _CONTENT_TAG.discriminator,
]
"""A content block (open union on `type`)."""
_CONTENT_TAG.learn(Content)
