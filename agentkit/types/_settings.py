"""Typed request settings: `generation_config`, `response_format` and their parts.

They are `TypedDict`s: plain dicts at runtime (sent as given), checked by type checkers, which
complete their keys and flag a typo. Write `GenerationConfig(thinking_level="low")`, or
annotate a dict literal, to have the keys checked where an API also takes any mapping.
Closed enums of the protocol are `Literal`s; MIME types stay open (`Literal[...] | str`).
"""

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from typing_extensions import Required, TypedDict

__all__ = [
    "AllowedTools",
    "AudioResponseFormat",
    "GenerationConfig",
    "ImageConfig",
    "ImageResponseFormat",
    "ResponseFormat",
    "SmartTranscription",
    "SpeakerVoice",
    "SpeechConfig",
    "TextResponseFormat",
    "ThinkingLevel",
    "ToolChoice",
    "ToolChoiceMode",
    "TranscriptionConfig",
    "VerbatimTranscription",
    "VideoConfig",
    "VideoResponseFormat",
]

ThinkingLevel = Literal["minimal", "low", "medium", "high", "xhigh"]
"""How much the model thinks before it answers."""
ToolChoiceMode = Literal["auto", "any", "none", "validated"]
"""`auto`: the model decides; `any`: it must call a tool; `none`: it must not; `validated`:
it may call tools, and its calls are checked against their schemas."""
_Delivery = Literal["inline", "uri"]
_ImageSize = Literal["512", "1K", "2K", "4K"]
_AspectRatio = Literal[
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4",
    "9:16", "16:9", "21:9", "1:8", "8:1", "1:4", "4:1",
]  # fmt: skip


class AllowedTools(TypedDict, total=False):
    """Which tools the model may call, and how (`tool_choice`, an MCP server's tools)."""

    mode: ToolChoiceMode
    tools: list[str]
    """Tool names."""


class ToolChoice(TypedDict, total=False):
    """The object form of `tool_choice`: a mode restricted to some tools."""

    allowed_tools: AllowedTools


class SpeakerVoice(TypedDict, total=False):
    """The voice of one speaker of generated speech."""

    voice: str
    """A prebuilt voice name."""
    speaker: str
    """The speaker's name, as the prompt names them (multi-speaker speech)."""
    language: str
    """The language of the speech, e.g. `en-US`."""


class SpeechConfig(TypedDict, total=False):
    """Voices of generated speech, one per speaker."""

    speakers: list[SpeakerVoice]


class VerbatimTranscription(TypedDict, total=False):
    """Word-for-word transcription."""

    type: Required[Literal["verbatim"]]
    diarization_mode: str
    """`speaker` labels who speaks."""
    timestamp_granularities: list[str]
    """`["word"]` adds word timestamps."""


class SmartTranscription(TypedDict, total=False):
    """Transcription that edits `source_text` by voice instructions."""

    type: Required[Literal["smart"]]
    source_text: str


class TranscriptionConfig(TypedDict, total=False):
    """Speech recognition settings."""

    mode: Literal["verbatim", "smart"] | VerbatimTranscription | SmartTranscription
    language_codes: list[str]
    """BCP-47 hints of the languages spoken; none: detected."""
    custom_vocabulary: list[str]
    """Terms to bias recognition towards."""
    adaptation_phrases: list[str]
    """Phrases to bias recognition towards."""
    diarization_mode: str
    """`speaker` labels who speaks."""
    timestamp_granularities: list[str]
    """`["word"]` adds word timestamps."""
    language_hints: list[str]
    """Deprecated: use `language_codes`."""


class VideoConfig(TypedDict, total=False):
    """Video generation settings."""

    task: Literal[
        "text_to_video", "image_to_video", "reference_to_video", "edit", "extend", "upscale"
    ]
    """Chosen from the prompt and inputs when not given."""


class ImageConfig(TypedDict, total=False):
    """Deprecated image settings: prefer an `ImageResponseFormat`."""

    aspect_ratio: _AspectRatio
    image_size: _ImageSize


class GenerationConfig(TypedDict, total=False):
    """`generation_config` of a model interaction (not allowed with a managed agent).

    Example:
        ```python
        config = GenerationConfig(thinking_level="low", max_output_tokens=1024)
        agent = Agent("gemini-3.5-flash", generation_config=config)
        ```
    """

    thinking_level: ThinkingLevel
    thinking_summaries: Literal["auto", "none"]
    """`auto` streams summaries of the model's thoughts."""
    temperature: float
    """Deprecated by the API."""
    top_p: float
    """Deprecated by the API."""
    max_output_tokens: int
    """Reaching it ends the interaction `incomplete`."""
    stop_sequences: list[str]
    seed: int
    tool_choice: ToolChoiceMode | ToolChoice
    speech_config: SpeechConfig | list[SpeakerVoice]
    transcription_config: TranscriptionConfig
    video_config: VideoConfig
    image_config: ImageConfig
    """Deprecated by the API: use an `ImageResponseFormat`."""


class TextResponseFormat(TypedDict, total=False):
    """Text output; JSON that fits `schema` when `mime_type` is `application/json`."""

    type: Required[Literal["text"]]
    mime_type: Literal["application/json", "text/plain"] | str
    schema: dict[str, Any]
    """A JSON Schema object (only with `application/json`)."""


class ImageResponseFormat(TypedDict, total=False):
    """Image output."""

    type: Required[Literal["image"]]
    mime_type: Literal["image/jpeg"] | str
    aspect_ratio: _AspectRatio
    image_size: _ImageSize
    delivery: _Delivery
    """`inline` (base64 `data`) or `uri`."""


class AudioResponseFormat(TypedDict, total=False):
    """Audio output."""

    type: Required[Literal["audio"]]
    mime_type: (
        Literal[
            "audio/mp3", "audio/ogg_opus", "audio/l16", "audio/wav", "audio/alaw", "audio/mulaw"
        ]
        | str
    )
    sample_rate: int
    """Hz."""
    bit_rate: int
    """Bits per second, for compressed formats (MP3, Opus)."""
    delivery: _Delivery


class VideoResponseFormat(TypedDict, total=False):
    """Video output."""

    type: Required[Literal["video"]]
    aspect_ratio: Literal["16:9", "9:16"]
    resolution: Literal["360p", "720p", "1080p", "4k"]
    duration: str
    """E.g. `"8s"`."""
    gcs_uri: str
    """Where to store the video (Vertex AI, with `uri` delivery)."""
    delivery: _Delivery


ResponseFormat = (
    TextResponseFormat | ImageResponseFormat | AudioResponseFormat | VideoResponseFormat
)
"""One `response_format` entry; the request takes one or a list of them."""

ResponseFormats = ResponseFormat | Mapping[str, Any] | Sequence[ResponseFormat | Mapping[str, Any]]
"""What `Agent(response_format=...)` takes: one format or a list, typed or as plain dicts."""
