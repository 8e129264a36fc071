"""The Interaction resource and its computed conveniences."""

from collections.abc import Iterable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import model_validator
from typing_extensions import Self

from agentkit.types._base import WireModel
from agentkit.types._content import (
    AudioContent,
    FileCitation,
    ImageContent,
    PlaceCitation,
    TextContent,
    UrlCitation,
    VideoContent,
)
from agentkit.types._steps import (
    FunctionCallStep,
    ModelOutputStep,
    Step,
    ThoughtStep,
    UserInputStep,
)
from agentkit.types._tools import Tool
from agentkit.types._usage import InteractionError, Usage

__all__ = [
    "TERMINAL_STATUSES",
    "Citation",
    "CitationKind",
    "Interaction",
    "InteractionStatus",
    "citations_of",
]

_BlockT = TypeVar("_BlockT", ImageContent, AudioContent, VideoContent)

InteractionStatus = Literal[
    "in_progress",
    "queued",
    "requires_action",
    "requires_continuation",
    "completed",
    "incomplete",
    "failed",
    "cancelled",
    "budget_exceeded",
]
"""The documented statuses. `Interaction.status` is a `str`: a new status string is kept."""

TERMINAL_STATUSES: frozenset[str] = frozenset(
    {"completed", "incomplete", "failed", "cancelled", "budget_exceeded"}
)
"""Statuses after which the interaction does no more work."""


CitationKind = Literal["url", "file", "place"]
"""The annotation a `Citation` comes from: `url_citation`, `file_citation`, `place_citation`."""


@dataclass(frozen=True, repr=False)
class Citation:
    """A source cited by a span of the output, with the cited text resolved.

    `kind` says which annotation it comes from; the fields of the other kinds are None.
    A web page (`url`: Google Search, URL context) has `url` and `title`; a file (`file`:
    File Search, retrieval) has `file_name`, `document_uri`, `page_number`...; a place
    (`place`: Google Maps) has `name`, `place_id`, `url` and `review_snippets`.
    """

    url: str | None
    """The web page, or the place's Google Maps page."""
    title: str | None
    """The web page's title."""
    text: str
    """The cited span of the text block (the annotation's indices are UTF-8 byte offsets)."""
    start_index: int | None
    end_index: int | None
    _: KW_ONLY
    kind: CitationKind = "url"
    document_uri: str | None = None
    file_name: str | None = None
    source: str | None = None
    """The file's source, as attributed by the server."""
    page_number: int | None = None
    media_id: str | None = None
    """The cited image's media id, if any."""
    custom_metadata: dict[str, Any] | None = field(default=None, hash=False)
    """The metadata given with the file when it was added to its store."""
    place_id: str | None = None
    """`places/{id}`."""
    name: str | None = None
    """The place's name."""
    review_snippets: list[dict[str, Any]] | None = field(default=None, hash=False)
    """Reviews the answer drew on: `[{"review_id", "title", "url"}]`."""

    def __repr__(self) -> str:
        # Only the fields its kind can have: a url citation reads as it did before kinds.
        shown = ", ".join(
            f"{name}={value!r}"
            for name, value in vars(self).items()
            if value is not None and (name != "kind" or value != "url")
        )
        return f"Citation({shown})"


class Interaction(WireModel):
    """An interaction: its status, its steps, and echoes of the request that created it.

    The `output_*`, `function_calls` and `citations` properties are computed client-side and
    never serialised. A legacy `outputs` list (Lyria models) is read as one `model_output` step.
    """

    id: str = ""
    status: str = ""
    """One of `InteractionStatus`, or a newer status string."""
    object: str | None = None
    model: str | None = None
    agent: str | None = None
    created: str | None = None
    """ISO-8601 `YYYY-MM-DDThh:mm:ssZ`, kept as received."""
    updated: str | None = None
    steps: list[Step] | None = None
    usage: Usage | None = None
    continuation_token: str | None = None
    environment_id: str | None = None
    errors: list[InteractionError] | None = None
    previous_interaction_id: str | None = None
    # Echoes of the request; shapes vary, so they stay plain JSON.
    input: Any = None
    system_instruction: str | None = None
    tools: list[Tool] | None = None
    generation_config: dict[str, Any] | None = None
    response_format: Any = None
    agent_config: dict[str, Any] | None = None
    environment: Any = None
    safety_settings: list[dict[str, Any]] | None = None
    service_tier: str | None = None
    labels: dict[str, str] | None = None
    webhook_config: dict[str, Any] | None = None
    response_mime_type: str | None = None
    response_modalities: list[str] | None = None
    cached_content: str | None = None

    @classmethod
    def from_json(cls, data: str | bytes) -> Self:
        """Parse an Interaction from its JSON text in one pass."""
        return cls.model_validate_json(data)

    @model_validator(mode="after")
    def _legacy_outputs(self) -> Self:
        # Lyria models may answer `outputs` (Content[]) instead of `steps`; the SDK reads it
        # as one model_output step, and so do we.
        extra = self.__pydantic_extra__
        if extra and self.steps is None and isinstance(extra.get("outputs"), list):
            self.steps = [ModelOutputStep.model_validate({"content": extra.pop("outputs")})]
        return self

    @property
    def output_text(self) -> str | None:
        """The text of the trailing `model_output` text blocks; None when there is none.

        Walks the steps backwards: skips `thought` steps, stops at `user_input`, at another
        step once text was collected, or at a non-text block once text was collected.
        """
        parts: list[str] = []
        collecting = False
        for step in reversed(self.steps or ()):
            if isinstance(step, UserInputStep):
                break
            if isinstance(step, ThoughtStep):
                continue
            if not isinstance(step, ModelOutputStep):
                if collecting:
                    break
                continue
            stop = False
            for block in reversed(step.content or ()):
                if isinstance(block, TextContent):
                    collecting = True
                    parts.append(block.text)
                elif collecting:
                    stop = True
                    break
            if stop:
                break
        return "".join(reversed(parts)) if collecting else None

    @property
    def output_image(self) -> ImageContent | None:
        """The last image block after the last `user_input` step."""
        return _last_block(self._output_steps(), ImageContent)

    @property
    def output_audio(self) -> AudioContent | None:
        """The last audio block after the last `user_input` step."""
        return _last_block(self._output_steps(), AudioContent)

    @property
    def output_video(self) -> VideoContent | None:
        """The last video block after the last `user_input` step."""
        return _last_block(self._output_steps(), VideoContent)

    @property
    def function_calls(self) -> list[FunctionCallStep]:
        """The `function_call` steps, in order."""
        return [step for step in self.steps or () if isinstance(step, FunctionCallStep)]

    @property
    def citations(self) -> list[Citation]:
        """The `url_citation`s of the output text (after the last `user_input` step), in order.

        `RunResult.citations` has every kind of citation (files and places too).
        """
        return [c for c in citations_of(self._output_steps()) if c.kind == "url"]

    def _output_steps(self) -> list[ModelOutputStep]:
        """The `model_output` steps after the last `user_input` step, in order."""
        found: list[ModelOutputStep] = []
        for step in reversed(self.steps or ()):
            if isinstance(step, UserInputStep):
                break
            if isinstance(step, ModelOutputStep):
                found.append(step)
        found.reverse()
        return found


def _last_block(steps: list[ModelOutputStep], kind: type[_BlockT]) -> _BlockT | None:
    for step in reversed(steps):
        for block in reversed(step.content or ()):
            if isinstance(block, kind):
                return block
    return None


def citations_of(steps: Iterable[Step]) -> list[Citation]:
    """The citations of the `model_output` steps among `steps`, in order of appearance."""
    found: list[Citation] = []
    for step in steps:
        if isinstance(step, ModelOutputStep):
            for block in step.content or ():
                if isinstance(block, TextContent) and block.annotations:
                    found.extend(_citations(block))
    return found


def _citations(block: TextContent) -> list[Citation]:
    encoded = block.text.encode()
    found: list[Citation] = []
    for note in block.annotations or ():
        if not isinstance(note, UrlCitation | FileCitation | PlaceCitation):
            continue
        start = note.start_index or 0
        end = len(encoded) if note.end_index is None else note.end_index
        # Offsets are bytes; one falling inside a character drops that partial character.
        text = encoded[start:end].decode(errors="ignore")
        found.append(_citation(note, text))
    return found


def _citation(note: UrlCitation | FileCitation | PlaceCitation, text: str) -> Citation:
    span = (text, note.start_index, note.end_index)
    if isinstance(note, UrlCitation):
        return Citation(note.url, note.title, *span)
    if isinstance(note, FileCitation):
        return Citation(
            None,
            None,
            *span,
            kind="file",
            document_uri=note.document_uri,
            file_name=note.file_name,
            source=note.source,
            page_number=note.page_number,
            media_id=note.media_id,
            custom_metadata=note.custom_metadata,
        )
    return Citation(
        note.url,
        None,
        *span,
        kind="place",
        place_id=note.place_id,
        name=note.name,
        review_snippets=note.review_snippets,
    )
