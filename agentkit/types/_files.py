"""The File resource of the Gemini Files API (`/v1beta/files`)."""

from typing import Any, ClassVar, Literal

from pydantic import ConfigDict

from agentkit.types._base import WireModel

__all__ = ["File", "FileError", "FileSource", "FileState"]

FileState = Literal["STATE_UNSPECIFIED", "PROCESSING", "ACTIVE", "FAILED"]
"""The documented processing states. `File.state` is a `str`: a new state string is kept."""
FileSource = Literal["SOURCE_UNSPECIFIED", "UPLOADED", "GENERATED", "REGISTERED"]
"""The documented sources. `File.source` is a `str`: a new source string is kept."""


def _camel(name: str) -> str:
    """The wire name of a field: `display_name` -> `displayName`."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# Files API objects are camelCase on the wire, snake_case in Python (either parses). A plain
# function, not pydantic.alias_generators: `import agentkit` does not load that module, and type
# checkers keep the snake_case names in the constructor.
_CAMEL_CASE = ConfigDict(alias_generator=_camel)


class FileError(WireModel):
    """Why processing a file failed (a `google.rpc.Status`)."""

    model_config: ClassVar[ConfigDict] = _CAMEL_CASE

    code: int | None = None
    message: str | None = None
    details: list[dict[str, Any]] | None = None


class File(WireModel):
    """A file uploaded with the Files API; pass it to `image()`, `audio()`, `video()`, ...

    Fields are output only except `display_name`. Timestamps are RFC 3339 strings, kept as
    received. `to_wire()` writes camelCase names and `sizeBytes` as a string, as the API does.
    """

    model_config: ClassVar[ConfigDict] = _CAMEL_CASE

    name: str = ""
    """The resource name, `files/{id}`."""
    display_name: str | None = None
    mime_type: str | None = None
    size_bytes: int | None = None
    create_time: str | None = None
    update_time: str | None = None
    expiration_time: str | None = None
    """When the API deletes the file (48 hours after upload for uploaded files)."""
    sha256_hash: str | None = None
    """The SHA-256 of the content, base64-encoded."""
    uri: str | None = None
    """What a content block sends to refer to the file."""
    download_uri: str | None = None
    """Set for generated files that can be downloaded."""
    state: str | None = None
    """One of `FileState`, or a newer state string; usable once `ACTIVE`."""
    source: str | None = None
    """One of `FileSource`, or a newer source string."""
    error: FileError | None = None
    """Set when `state` is `FAILED`."""
    video_metadata: dict[str, Any] | None = None
    """E.g. `{"videoDuration": "12.5s"}`, as received."""

    @property
    def id(self) -> str:
        """The name without its `files/` prefix."""
        return self.name.removeprefix("files/")

    def to_wire(self) -> dict[str, Any]:
        """Return the JSON object as the API writes it: set fields only, by wire name."""
        wire = super().to_wire()
        if isinstance(wire.get("sizeBytes"), int):
            wire["sizeBytes"] = str(wire["sizeBytes"])  # an int64: a JSON string on the wire
        return wire
