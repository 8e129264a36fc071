"""Content blocks from files, bytes and URLs, and tool return values as content.

`image()`, `audio()`, `video()` and `document()` build the blocks an agent input or a tool's
return value may contain. A local path is read and sent inline (base64); a URL, or a `File`
uploaded with `client.files.upload()`, is sent by reference (`uri`).
"""

from __future__ import annotations

import base64
import io
import mimetypes
import os
import re
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pydantic
import pydantic_core

from agentkit._exceptions import UsageError
from agentkit.types import (
    AudioContent,
    Content,
    DocumentContent,
    File,
    ImageContent,
    TextContent,
    UnknownContent,
    VideoContent,
)

__all__ = [
    "MediaSource",
    "audio",
    "document",
    "guess_mime_type",
    "image",
    "media_from_bytes",
    "result_content",
    "sniff_mime_type",
    "to_json_text",
    "video",
]

MediaSource = str | os.PathLike[str] | bytes | bytearray | memoryview | File
"""A local path, raw bytes, an `http(s)://`, `gs://` or Files API URL, or an uploaded `File`."""

Resolution = Literal["low", "medium", "high", "ultra_high"]
_Kind = Literal["image", "audio", "video", "document"]
_URL_SCHEMES = frozenset({"http", "https", "gs"})
_BLOCKS = (TextContent, ImageContent, AudioContent, VideoContent, DocumentContent, UnknownContent)
_BYTES = (bytes, bytearray, memoryview)
_SURROGATE = re.compile("[\ud800-\udfff]")

# The MIME types the Gemini API lists, by extension. `mimetypes` comes second:
# it reads the platform's tables, which disagree (audio/x-wav, video/quicktime, ...).
_EXTENSIONS = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".wav": "audio/wav",
    ".mp3": "audio/mp3",
    ".aif": "audio/aiff",
    ".aiff": "audio/aiff",
    ".aac": "audio/aac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/opus",
    ".flac": "audio/flac",
    ".m4a": "audio/m4a",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mpeg": "video/mpeg",
    ".mpg": "video/mpg",
    ".mov": "video/mov",
    ".avi": "video/avi",
    ".flv": "video/x-flv",
    ".webm": "video/webm",
    ".wmv": "video/wmv",
    ".3gp": "video/3gpp",
    ".3gpp": "video/3gpp",
    ".pdf": "application/pdf",
    ".csv": "text/csv",
    ".txt": "text/plain",
}
# Office formats (zip containers) told apart by a member only that format has.
_ZIP_MEMBERS = (
    (
        "word/document.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (
        "ppt/presentation.xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
)
# The brand of an ISO media file (bytes 8-12 after `ftyp`).
_FTYP_BRANDS = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"heif": "image/heif",
    b"avif": "image/avif",
    b"M4A ": "audio/m4a",
    b"M4B ": "audio/m4a",
    b"qt  ": "video/mov",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
    b"3g2a": "video/3gpp",
}
_PREFIXES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"%PDF-", "application/pdf"),
    (b"ID3", "audio/mp3"),
    (b"fLaC", "audio/flac"),
    (b"OggS", "audio/ogg"),
    (b"\x1aE\xdf\xa3", "video/webm"),
    (b"FLV\x01", "video/x-flv"),
    (b"\x00\x00\x01\xba", "video/mpeg"),
    (b"0&\xb2u\x8ef\xcf\x11", "video/wmv"),
    (b"BM", "image/bmp"),
)
_RIFF_FORMS = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/avi"}


def sniff_mime_type(data: bytes | bytearray | memoryview) -> str | None:
    """The MIME type of media or document bytes, from their magic bytes (None if unknown)."""
    head = bytes(data[:16])
    if head[:4] == b"RIFF" and head[8:12] in _RIFF_FORMS:
        return _RIFF_FORMS[head[8:12]]
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "video/mp4")
    for prefix, mime_type in _PREFIXES:
        if head.startswith(prefix):
            return mime_type
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "audio/aac"  # ADTS frame header (layer bits 00)
    if _is_mp3_frame(head):
        return "audio/mp3"
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(bytes(data))
    return None


def _is_mp3_frame(head: bytes) -> bool:
    """An MPEG audio layer III frame header (an MP3 without an ID3 tag)."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 0b11, (head[1] >> 1) & 0b11
    bitrate, sample_rate = head[2] >> 4, (head[2] >> 2) & 0b11
    return version != 0b01 and layer == 0b01 and bitrate != 0b1111 and sample_rate != 0b11


def _sniff_zip(data: bytes) -> str | None:
    import zipfile  # here: only ZIP-based documents need it, and `import agentkit` stays lighter

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:  # OpenDocument stores its MIME type first
                return archive.read("mimetype").decode("ascii", "replace").strip() or None
    except (zipfile.BadZipFile, OSError):
        return None
    return next((mime for member, mime in _ZIP_MEMBERS if member in names), None)


def guess_mime_type(path: str | os.PathLike[str]) -> str | None:
    """The MIME type of a file name or URL path, from its extension (None if unknown)."""
    name = os.fspath(path)
    known = _EXTENSIONS.get(os.path.splitext(name)[1].lower())
    guessed = known or mimetypes.guess_type(name, strict=False)[0]
    # "Some bytes" says nothing: let the file's magic bytes decide instead.
    return None if guessed == "application/octet-stream" else guessed


def image(
    source: MediaSource, *, mime_type: str | None = None, resolution: Resolution | None = None
) -> ImageContent:
    """An image block from a local path, raw bytes, a URL or an uploaded `File`.

    Args:
        source: A path (read now and sent inline, base64), bytes, an `http(s)://`, `gs://`
            or Files API URL, or a `File` from `client.files.upload()` (sent as `uri`).
        mime_type: Defaults to the file's own, or the one told by the extension or the magic
            bytes.
        resolution: How much detail the model sees.

    Raises:
        UsageError: The MIME type cannot be told, or is not an image's.
        OSError: The file cannot be read.
    """
    return ImageContent(**_fields(source, mime_type, "image", resolution=resolution))


def audio(
    source: MediaSource,
    *,
    mime_type: str | None = None,
    sample_rate: int | None = None,
    channels: int | None = None,
) -> AudioContent:
    """An audio block from a local path, raw bytes, a URL or a `File` (as `image()`).

    Args:
        source: A path, bytes, a URL, or an uploaded `File`.
        mime_type: Defaults to the one told by the extension or the magic bytes.
        sample_rate: Samples per second, for raw formats such as `audio/l16`.
        channels: Channel count, for raw formats.

    Raises:
        UsageError: The MIME type cannot be told, or is not audio.
        OSError: The file cannot be read.
    """
    fields = _fields(source, mime_type, "audio", sample_rate=sample_rate, channels=channels)
    return AudioContent(**fields)


def video(
    source: MediaSource, *, mime_type: str | None = None, resolution: Resolution | None = None
) -> VideoContent:
    """A video block from a local path, raw bytes, a URL or a `File` (as `image()`).

    Raises:
        UsageError: The MIME type cannot be told, or is not video.
        OSError: The file cannot be read.
    """
    return VideoContent(**_fields(source, mime_type, "video", resolution=resolution))


def document(source: MediaSource, *, mime_type: str | None = None) -> DocumentContent:
    """A document block (PDF, CSV, text, office formats) from a path, bytes, a URL or a `File`.

    Raises:
        UsageError: The MIME type cannot be told.
        OSError: The file cannot be read.
    """
    return DocumentContent(**_fields(source, mime_type, "document"))


def media_from_bytes(
    data: bytes | bytearray | memoryview,
) -> ImageContent | AudioContent | VideoContent | DocumentContent:
    """The block for bytes of unknown kind: image, audio or video by their magic bytes.

    Anything else becomes a document: `text/plain` if it is UTF-8, else
    `application/octet-stream`.
    """
    mime = sniff_mime_type(data)
    encoded = _b64(data)
    kind = (mime or "").partition("/")[0]
    if kind == "image":
        return ImageContent(data=encoded, mime_type=mime)
    if kind == "audio":
        return AudioContent(data=encoded, mime_type=mime)
    if kind == "video":
        return VideoContent(data=encoded, mime_type=mime)
    if mime is None:
        try:
            bytes(data).decode("utf-8")
            mime = "text/plain"
        except UnicodeDecodeError:
            mime = "application/octet-stream"
    return DocumentContent(data=encoded, mime_type=mime)


def _fields(
    source: MediaSource, mime_type: str | None, kind: _Kind, **extra: Any
) -> dict[str, Any]:
    """The fields of the block for `source`; a field left None is left out (not sent)."""
    fields: dict[str, Any] = {key: value for key, value in extra.items() if value is not None}
    if isinstance(source, File):
        if not source.uri:
            raise UsageError(
                f"{kind}(): file {source.name!r} has no uri; pass the File that "
                "client.files.upload() or client.files.get() returned."
            )
        fields["uri"] = source.uri
        fields["mime_type"] = _check(mime_type, source.mime_type, kind, f"file {source.name!r}")
    elif isinstance(source, _BYTES):
        detected = None if mime_type else sniff_mime_type(source)
        fields["data"] = _b64(source)
        fields["mime_type"] = _check(mime_type, detected, kind, "these bytes")
    elif isinstance(source, str) and urlsplit(source).scheme.lower() in _URL_SCHEMES:
        fields["uri"] = source
        # The server fetches the URL, and knows the type when the path does not tell it.
        detected = None if mime_type else guess_mime_type(urlsplit(source).path)
        if mime := mime_type or _matching(detected, kind):
            fields["mime_type"] = mime
    else:
        path = Path(source)
        content = path.read_bytes()
        detected = None if mime_type else (guess_mime_type(path) or sniff_mime_type(content))
        fields["data"] = _b64(content)
        fields["mime_type"] = _check(mime_type, detected, kind, f"file {str(path)!r}")
    return fields


def _check(given: str | None, detected: str | None, kind: _Kind, what: str) -> str:
    if given:
        return given
    if detected is None:
        raise UsageError(
            f"{kind}(): cannot tell the MIME type of {what}; pass it, e.g. "
            f"{kind}(..., mime_type={_EXAMPLE_TYPES[kind]!r})."
        )
    matching = _matching(detected, kind)
    if matching is None:
        helper = _HELPER_FOR.get(detected.partition("/")[0], "document")
        raise UsageError(
            f"{kind}(): {what} looks like {detected}, not {kind}. Use {helper}() instead, "
            "or pass mime_type= if you know better."
        )
    return matching


_EXAMPLE_TYPES: dict[_Kind, str] = {
    "image": "image/png",
    "audio": "audio/wav",
    "video": "video/mp4",
    "document": "application/pdf",
}
_HELPER_FOR = {"image": "image", "audio": "audio", "video": "video"}


def _matching(mime: str | None, kind: _Kind) -> str | None:
    """`mime` if it fits `kind` (an audio-only webm/mp4/ogg container counts as audio)."""
    if mime is None:
        return None
    major, _, minor = mime.partition("/")
    if kind == "document" or major == kind:
        return mime
    if kind == "audio" and mime in ("video/webm", "video/mp4", "application/ogg"):
        return f"audio/{'m4a' if minor == 'mp4' else minor}"
    return None


def _b64(data: bytes | bytearray | memoryview) -> str:
    return base64.b64encode(data).decode("ascii")


def result_content(value: Any) -> list[Content]:  # whatever a tool returned
    """The `result` of a `function_result` step for a tool's return value.

    A str is one text block; a content block (`image()`...) or bytes (sniffed) is a block; a
    list or tuple holding blocks or bytes is a list of blocks (its str items as text, other
    items as JSON); None is no block; anything else is one text block of JSON.

    Raises:
        pydantic_core.PydanticSerializationError: The value cannot be turned into JSON.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [TextContent(text=_unicode(value))]
    if isinstance(value, (*_BLOCKS, *_BYTES)):
        return [_block(value)]
    if isinstance(value, (list, tuple)):
        items = typing.cast("Sequence[Any]", value)  # items of any type
        if any(isinstance(item, (*_BLOCKS, *_BYTES)) for item in items):
            return [_block(item) for item in items if item is not None]
    return [TextContent(text=to_json_text(value))]


def _block(item: Any) -> Content:
    if isinstance(item, _BLOCKS):
        return item
    if isinstance(item, _BYTES):
        return media_from_bytes(typing.cast("bytes", item))
    if isinstance(item, str):
        return TextContent(text=_unicode(item))
    return TextContent(text=to_json_text(item))


def _unicode(text: str) -> str:
    """`text`, a lone surrogate in it replaced by U+FFFD: what is sent must be valid UTF-8.

    A file name that is not UTF-8, as `os.listdir` gives it, holds some.
    """
    try:
        text.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def to_json_text(value: Any) -> str:  # any value pydantic can serialise
    """JSON text of `value` as pydantic writes it: models, dataclasses, datetimes, UUIDs...

    Nulls are kept; bytes become base64; NaN and infinities become null (JSON has neither);
    a model's subclass keeps its own fields.

    Raises:
        pydantic_core.PydanticSerializationError: A value of a type pydantic cannot serialise.
    """
    options: dict[str, Any] = {
        "bytes_mode": "base64",
        "inf_nan_mode": "null",
        "serialize_as_any": _AS_ANY,
    }
    try:
        return pydantic_core.to_json(value, **options).decode()
    except (pydantic_core.PydanticSerializationError, UnicodeEncodeError) as exc:
        if "surrogates not allowed" not in str(exc):  # pydantic wraps the error, or not
            raise
    # A str holding a lone surrogate (see `_unicode`) cannot be written as UTF-8: cleaned,
    # where a dict, list or tuple holds it.
    return pydantic_core.to_json(_cleaned(value), **options).decode()


def _cleaned(value: Any) -> Any:  # whatever a tool returned
    """`value` with every str in its dicts, lists and tuples (keys too) through `_unicode`."""
    if isinstance(value, str):
        return _unicode(value)
    if isinstance(value, dict):
        mapping = typing.cast("Mapping[Any, Any]", value)
        return {_cleaned(key): _cleaned(item) for key, item in mapping.items()}
    if isinstance(value, (list, tuple)):
        return [_cleaned(item) for item in typing.cast("Sequence[Any]", value)]
    return value


# pydantic < 2.12 fails serialize_as_any on every model it meets by inference ("Circular
# reference detected"): there a field holding a subclass of its type writes the declared fields.
_AS_ANY = tuple(int(part) for part in pydantic.VERSION.split(".")[:2]) >= (2, 12)
