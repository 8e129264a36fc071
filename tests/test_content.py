"""Content helpers: image(), audio(), video(), document(), and tool return values as content."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from agentkit._content import (
    audio,
    document,
    guess_mime_type,
    image,
    media_from_bytes,
    result_content,
    sniff_mime_type,
    video,
)
from agentkit._exceptions import UsageError
from agentkit.types import (
    AudioContent,
    DocumentContent,
    ImageContent,
    TextContent,
    UnknownContent,
    VideoContent,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def zipped(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


SNIFFED = [
    (PNG, "image/png"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
    (b"GIF89a\x01\x00", "image/gif"),
    (b"GIF87a\x01\x00", "image/gif"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"BM\x36\x00\x00\x00", "image/bmp"),
    (b"II*\x00\x08\x00", "image/tiff"),
    (b"MM\x00*\x00\x00", "image/tiff"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00", "image/heic"),
    (b"\x00\x00\x00\x18ftypmif1\x00\x00", "image/heif"),
    (PDF, "application/pdf"),
    (b"ID3\x04\x00\x00", "audio/mp3"),
    (b"\xff\xfb\x90\x64", "audio/mp3"),
    (b"\xff\xf3\x40\xc4", "audio/mp3"),
    (b"\xff\xfe\x00\x01", None),  # a UTF-16 byte order mark, not a frame header
    (b"\xff\xf1\x50\x80", "audio/aac"),
    (b"fLaC\x00\x00\x00\x22", "audio/flac"),
    (b"OggS\x00\x02", "audio/ogg"),
    (WAV, "audio/wav"),
    (b"FORM\x00\x00\x00\x00AIFFCOMM", "audio/aiff"),
    (b"\x00\x00\x00\x20ftypM4A \x00\x00", "audio/m4a"),
    (MP4, "video/mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00", "video/mov"),
    (b"\x00\x00\x00\x14ftyp3gp5\x00\x00", "video/3gpp"),
    (b"\x1aE\xdf\xa3\x9fB\x86\x81", "video/webm"),
    (b"FLV\x01\x05\x00", "video/x-flv"),
    (b"\x00\x00\x01\xba\x44\x00", "video/mpeg"),
    (b"0&\xb2u\x8ef\xcf\x11\xa6\xd9", "video/wmv"),
    (b"RIFF\x00\x00\x00\x00AVI LIST", "video/avi"),
    (
        zipped(("[Content_Types].xml", b"<x/>"), ("word/document.xml", b"<w/>")),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    (
        zipped(("xl/workbook.xml", b"<x/>")),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    (
        zipped(("ppt/presentation.xml", b"<p/>")),
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    (
        zipped(("mimetype", b"application/vnd.oasis.opendocument.text")),
        "application/vnd.oasis.opendocument.text",
    ),
    (zipped(("notes.txt", b"hi")), None),
    (b"PK\x03\x04 not really a zip", None),
    (b"plain text", None),
    (b"", None),
]


@pytest.mark.parametrize(("data", "mime_type"), SNIFFED, ids=repr)
def test_sniff_mime_type(data: bytes, mime_type: str | None) -> None:
    assert sniff_mime_type(data) == mime_type


@pytest.mark.parametrize(
    ("name", "mime_type"),
    [
        ("a.png", "image/png"),
        ("A.JPG", "image/jpeg"),
        ("clip.mov", "video/mov"),
        ("song.mp3", "audio/mp3"),
        ("voice.wav", "audio/wav"),
        ("report.pdf", "application/pdf"),
        ("table.csv", "text/csv"),
        ("data.json", "application/json"),  # from the mimetypes module
        ("https://example.com/x/photo.webp", "image/webp"),
        ("no-extension", None),
        ("weird.zzzz", None),
    ],
)
def test_guess_mime_type(name: str, mime_type: str | None) -> None:
    assert guess_mime_type(name) == mime_type


def test_image_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(PNG)
    block = image(path, resolution="high")
    assert block.to_wire() == {
        "type": "image",
        "data": b64(PNG),
        "mime_type": "image/png",
        "resolution": "high",
    }
    assert image(str(path)) == ImageContent(data=b64(PNG), mime_type="image/png")


def test_a_path_without_extension_is_sniffed(tmp_path: Path) -> None:
    path = tmp_path / "upload"
    path.write_bytes(PNG)
    assert image(path).mime_type == "image/png"


def test_image_from_bytes() -> None:
    assert image(PNG).to_wire() == {"type": "image", "data": b64(PNG), "mime_type": "image/png"}
    assert image(bytearray(PNG)).mime_type == "image/png"
    assert image(memoryview(PNG)).data == b64(PNG)


def test_a_given_mime_type_wins() -> None:
    assert image(b"raw pixels", mime_type="image/x-raw").mime_type == "image/x-raw"
    assert document(PNG, mime_type="application/octet-stream").mime_type == (
        "application/octet-stream"
    )


def test_bytes_of_unknown_type_need_a_mime_type() -> None:
    with pytest.raises(UsageError) as info:
        image(b"what is this")
    assert str(info.value) == (
        "image(): cannot tell the MIME type of these bytes; pass it, e.g. "
        "image(..., mime_type='image/png')."
    )


def test_a_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(PDF)
    with pytest.raises(UsageError) as info:
        image(path)
    assert str(info.value) == (
        f"image(): file {str(path)!r} looks like application/pdf, not image. Use document() "
        "instead, or pass mime_type= if you know better."
    )
    with pytest.raises(UsageError, match=r"looks like image/png, not audio. Use image\(\)"):
        audio(PNG)


def test_a_missing_file_raises() -> None:
    with pytest.raises(FileNotFoundError):
        image("/no/such/file.png")


@pytest.mark.parametrize(
    ("url", "wire"),
    [
        (
            "https://example.com/cat.jpg",
            {"type": "image", "uri": "https://example.com/cat.jpg", "mime_type": "image/jpeg"},
        ),
        ("gs://bucket/object", {"type": "image", "uri": "gs://bucket/object"}),
        (
            "https://files.example.com/v1beta/files/abc123",
            {
                "type": "image",
                "uri": "https://files.example.com/v1beta/files/abc123",
            },
        ),
        (
            "HTTP://EXAMPLE.COM/A.PNG",
            {"type": "image", "uri": "HTTP://EXAMPLE.COM/A.PNG", "mime_type": "image/png"},
        ),
        # A URL whose extension says another kind: the server will know better.
        ("https://example.com/doc.pdf", {"type": "image", "uri": "https://example.com/doc.pdf"}),
    ],
)
def test_urls_are_sent_by_reference(url: str, wire: dict[str, Any]) -> None:
    assert image(url).to_wire() == wire


def test_a_url_with_a_given_mime_type() -> None:
    block = image("https://example.com/render", mime_type="image/webp")
    assert block.to_wire() == {
        "type": "image",
        "uri": "https://example.com/render",
        "mime_type": "image/webp",
    }


def test_audio(tmp_path: Path) -> None:
    assert audio(WAV).to_wire() == {"type": "audio", "data": b64(WAV), "mime_type": "audio/wav"}
    raw = audio(b"\x00\x01", mime_type="audio/l16", sample_rate=16000, channels=1)
    assert raw.to_wire() == {
        "type": "audio",
        "data": b64(b"\x00\x01"),
        "mime_type": "audio/l16",
        "sample_rate": 16000,
        "channels": 1,
    }
    # Audio-only containers that the extension calls video.
    webm = tmp_path / "voice.webm"
    webm.write_bytes(b"\x1aE\xdf\xa3")
    assert audio(webm).mime_type == "audio/webm"
    assert audio(MP4).mime_type == "audio/m4a"
    assert audio("https://example.com/song.mp3").to_wire() == {
        "type": "audio",
        "uri": "https://example.com/song.mp3",
        "mime_type": "audio/mp3",
    }


def test_video(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(MP4)
    assert video(path, resolution="low").to_wire() == {
        "type": "video",
        "data": b64(MP4),
        "mime_type": "video/mp4",
        "resolution": "low",
    }
    assert isinstance(video(MP4), VideoContent)


def test_document(tmp_path: Path) -> None:
    assert document(PDF).to_wire() == {
        "type": "document",
        "data": b64(PDF),
        "mime_type": "application/pdf",
    }
    csv = tmp_path / "table.csv"
    csv.write_text("a,b\n1,2\n")
    assert document(csv).mime_type == "text/csv"
    # Any type is a document's type.
    assert document(PNG).mime_type == "image/png"


@pytest.mark.parametrize(
    ("data", "kind", "mime_type"),
    [
        (PNG, ImageContent, "image/png"),
        (WAV, AudioContent, "audio/wav"),
        (MP4, VideoContent, "video/mp4"),
        (PDF, DocumentContent, "application/pdf"),
        ("héllo".encode(), DocumentContent, "text/plain"),
        (b"\xff\xfe\x00\x01", DocumentContent, "application/octet-stream"),
    ],
)
def test_media_from_bytes(data: bytes, kind: type[Any], mime_type: str) -> None:
    block = media_from_bytes(data)
    assert isinstance(block, kind)
    assert block.to_wire() == {
        "type": kind.model_fields["type"].default,
        "data": b64(data),
        "mime_type": mime_type,
    }


def test_result_content() -> None:
    unknown = UnknownContent.model_validate({"type": "hologram", "depth": 3})
    assert result_content(None) == []
    assert result_content("x") == [TextContent(text="x")]
    assert result_content(unknown) == [unknown]
    assert result_content(("a", unknown)) == [TextContent(text="a"), unknown]
    assert result_content(["a", "b"]) == [TextContent(text='["a","b"]')]
    assert result_content([]) == [TextContent(text="[]")]
    assert result_content({}) == [TextContent(text="{}")]


def test_result_text_holds_no_lone_surrogate() -> None:
    name = b"caf\xe9.txt".decode(errors="surrogateescape")  # a file name that is not UTF-8
    unknown = UnknownContent.model_validate({"type": "hologram"})
    assert result_content(name) == [TextContent(text="caf\ufffd.txt")]
    assert result_content((name, unknown)) == [TextContent(text="caf\ufffd.txt"), unknown]
    listing = {name: [name, 1.5, float("nan")]}
    assert result_content(listing) == [
        TextContent(text='{"caf\ufffd.txt":["caf\ufffd.txt",1.5,null]}')
    ]


def test_a_bin_file_is_typed_by_its_magic_bytes(tmp_path: Path) -> None:
    path = tmp_path / "clip.bin"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 32)
    block = video(path)
    assert block.mime_type == "video/mp4"
