"""Decode Server-Sent Events and rebuild complete steps from streamed events (pure: no I/O).

Three pieces, each fed by the client's stream loop:

- `SSEDecoder` turns body bytes into `ServerSentEvent`s (WHATWG event-stream rules).
- `StreamAccumulator` folds events (parsed, or common ones as their JSON objects) into steps
  and the final `Interaction`.
- `EventDeduper` drops events a resumed stream replays, so callers see each event once.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeGuard, cast

from pydantic import ValidationError

from agentkit._exceptions import APIResponseValidationError
from agentkit.types import (
    ArgumentsDelta,
    AudioDelta,
    Delta,
    DocumentDelta,
    ErrorEvent,
    Event,
    ImageDelta,
    Interaction,
    InteractionCompletedEvent,
    InteractionCreatedEvent,
    InteractionStatusUpdateEvent,
    Step,
    StepDeltaEvent,
    StepStartEvent,
    StepStopEvent,
    TextAnnotationDelta,
    TextDelta,
    ThoughtSummaryDelta,
    UnknownDelta,
    Usage,
    VideoDelta,
    parse_step,
)

__all__ = [
    "UNPARSED_EVENTS",
    "EventDeduper",
    "Json",
    "SSEDecoder",
    "ServerSentEvent",
    "StreamAccumulator",
    "is_done",
    "str_or_none",
]

# The three line terminators of the event-stream grammar; CRLF first so it counts as one break.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(slots=True)  # not frozen: a frozen dataclass costs four times more to make
class ServerSentEvent:
    """One dispatched Server-Sent Event."""

    event: str | None
    """The `event:` field, or None when the event had none (the spec's default "message")."""
    data: str
    """The `data:` lines joined with "\\n"."""
    id: str | None
    """The last event ID seen on this stream so far (it persists across events, per the spec)."""
    retry: int | None
    """The reconnection time in milliseconds set inside this event's block, if any."""


def is_done(sse: ServerSentEvent) -> bool:
    """Tell whether `sse` is the `data: [DONE]` end-of-stream sentinel."""
    return sse.data == "[DONE]"


class SSEDecoder:
    """Incremental `text/event-stream` decoder, following the WHATWG HTML spec.

    Feed it body chunks as they arrive, cut anywhere (inside a CRLF or inside a UTF-8
    character), then call `end` once the body ended cleanly. See
    https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
    """

    def __init__(self) -> None:
        # utf-8-sig strips one leading BOM, even when it is split across chunks; invalid
        # bytes become U+FFFD, as the spec's "UTF-8 decode" does.
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._pending: list[str] = []  # text of the current line, not yet terminated
        self._skip_lf = False  # the last text ended with CR: a leading LF completes a CRLF
        self._event: str | None = None
        self._data: list[str] = []
        self._block_retry: int | None = None
        self._in_block = False  # a field line came since the last blank line
        self._id_buffer: str | None = None  # the spec's "last event ID buffer"
        self._last_event_id: str | None = None  # ...committed by each blank line
        self._retry: int | None = None

    @property
    def last_event_id(self) -> str | None:
        """The last `id:` of a complete event block (the value for a `Last-Event-ID` header)."""
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The latest reconnection time in milliseconds the server asked for, if any."""
        return self._retry

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode one chunk of the body and return the events it completes."""
        return self._feed_text(self._decoder.decode(chunk))

    def end(self) -> bool:
        """End the body: drop an event cut short by it, and reset for a new body.

        Per the spec an event is dispatched only by the blank line that closes it, so an
        event still open when the body ends is discarded, even when its `data:` lines look
        whole: the body was cut short (a dropped connection, a proxy that closed early), and
        the cut event must be fetched again by resuming from the last complete event, whose
        id `last_event_id` keeps; an `id:` line of the cut event does not count. The
        reconnection time survives as well (the spec applies `retry:` as soon as it is read).

        Call it only when the body ended cleanly: after a transport error, simply drop the
        decoder.

        Returns:
            Whether the body ended inside an event (or inside a line): the stream was cut.
        """
        tail = self._decoder.decode(b"", final=True)  # the rest of a cut UTF-8 character
        pending = "".join(self._pending) + tail
        cut = self._in_block or bool(pending and not pending.startswith(":"))
        self._pending.clear()
        self._data = []
        self._event = None
        self._block_retry = None
        self._in_block = False
        self._id_buffer = self._last_event_id
        self._decoder.reset()
        self._skip_lf = False
        return cut

    def _feed_text(self, text: str) -> list[ServerSentEvent]:
        if not text:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
                if not text:
                    return []
        if "\n" not in text and "\r" not in text:
            # No line ends here: buffer pieces rather than re-joining a long line per chunk.
            self._pending.append(text)
            return []
        self._skip_lf = text[-1] == "\r"
        if self._pending:
            self._pending.append(text)
            text = "".join(self._pending)
            self._pending.clear()
        # Most servers send LF only, and str.split is several times faster than the regex.
        lines = _LINE_BREAK.split(text) if "\r" in text else text.split("\n")
        tail = lines.pop()
        if tail:
            self._pending.append(tail)
        return self._process(lines)

    def _process(self, lines: list[str]) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        for line in lines:
            if not line:
                self._last_event_id = self._id_buffer  # even for a block without data
                if self._data:
                    events.append(self._dispatch())
                self._event = None
                self._block_retry = None
                self._in_block = False
                continue
            if line[0] == ":":
                continue  # a comment, often sent as a keep-alive
            self._in_block = True
            name, _, value = line.partition(":")
            if value[:1] == " ":
                value = value[1:]
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
            elif name == "id" and "\0" not in value:  # the spec ignores an id with NUL
                self._id_buffer = value
            elif name == "retry" and value.isascii() and value.isdigit():
                self._block_retry = self._retry = int(value)
        return events

    def _dispatch(self) -> ServerSentEvent:
        sse = ServerSentEvent(
            event=self._event or None,
            data="\n".join(self._data),
            id=self._last_event_id,
            retry=self._block_retry,
        )
        self._data = []
        return sse


# --- Rebuilding steps from events ---------------------------------------------------------------

_MEDIA_DELTAS = (ImageDelta, AudioDelta, VideoDelta, DocumentDelta)

# The step type a delta implies, for a delta whose step.start never came; the tool deltas
# share their step's type.
_STEP_TYPE_OF_DELTA = {
    "text": "model_output",
    "image": "model_output",
    "audio": "model_output",
    "video": "model_output",
    "document": "model_output",
    "text_annotation_delta": "model_output",
    "thought_signature": "thought",
    "thought_summary": "thought",
    "arguments_delta": "function_call",
}

Json = dict[str, Any]  # a JSON object as received; values are arbitrary JSON


class StreamAccumulator:
    """Fold the events of one streamed interaction into its steps and final state.

    Steps are kept as the plain JSON objects the server sent (every unknown key of the
    `step.start` skeleton included) and hold wire fields only, since stateless callers send
    them back. Feed each event once: replayed events must be dropped first (`EventDeduper`),
    or text deltas would be appended twice.
    """

    def __init__(self) -> None:
        self._steps: dict[int, Json] = {}
        self._text: dict[int, list[str]] = {}  # open text block of a step -> its pieces
        self._arguments: dict[int, list[str]] = {}  # arguments_delta fragments per step
        self._unknown_deltas: list[tuple[int, UnknownDelta]] = []
        self._created: Json | None = None  # the snapshots' wire forms
        self._completed: Json | None = None
        self._interaction_id: str | None = None
        self._status: str | None = None
        self._usage: Usage | Json | None = None  # a delta's raw total_usage is parsed lazily
        self._continuation_token: str | None = None
        self._error: ErrorEvent | None = None

    @property
    def interaction_id(self) -> str | None:
        """The interaction's id, once an event has named it."""
        return self._interaction_id

    @property
    def status(self) -> str | None:
        """The last status the stream reported."""
        return self._status

    @property
    def usage(self) -> Usage | None:
        """The latest token usage the stream reported (usage is per HTTP request).

        Raises:
            APIResponseValidationError: A delta's `metadata.total_usage` does not fit `Usage`.
        """
        if isinstance(self._usage, dict):
            try:
                self._usage = Usage.model_validate(self._usage)
            except ValidationError as exc:
                raise APIResponseValidationError(f"A streamed usage is invalid: {exc}") from exc
        return self._usage

    @property
    def continuation_token(self) -> str | None:
        """The current continuation checkpoint; the completion event has the last word."""
        return self._continuation_token

    @property
    def error(self) -> ErrorEvent | None:
        """The in-stream `error` event, if one came."""
        return self._error

    @property
    def unknown_deltas(self) -> list[tuple[int, UnknownDelta]]:
        """Deltas of unknown types, with their step index, in arrival order."""
        return list(self._unknown_deltas)

    @property
    def steps(self) -> list[Step]:
        """The steps rebuilt so far, ordered by index.

        Raises:
            APIResponseValidationError: A rebuilt step does not fit the wire models.
        """
        return [_parse_step(step) for step in self._step_dicts()]

    def step_type(self, index: int) -> str | None:
        """The `type` of the step at `index` so far (None before any event for it)."""
        step = self._steps.get(index)
        kind = None if step is None else step.get("type")
        return kind if isinstance(kind, str) else None

    def step_at(self, index: int) -> Step | None:
        """Return the step rebuilt so far at `index`, or None before any event for it.

        Raises:
            APIResponseValidationError: The rebuilt step does not fit the wire models.
        """
        if index not in self._steps:
            return None
        self._sync_text(index)
        return _parse_step(self._steps[index])

    def apply(self, event: Event) -> None:
        """Apply one event.

        Raises:
            APIResponseValidationError: The `arguments_delta` fragments of a step, complete at
                its `step.stop`, are not a JSON object.
        """
        if isinstance(event, StepDeltaEvent):
            self._apply_delta(event)
        elif isinstance(event, StepStartEvent):
            # to_wire() builds new containers, so the step never aliases the event.
            self._start(event.index, event.step.to_wire())
        elif isinstance(event, StepStopEvent):
            self._stop(event.index, event.usage)
        elif isinstance(event, InteractionStatusUpdateEvent):
            self._update(event.interaction_id, event.status, event.continuation_token, event.usage)
        elif isinstance(event, InteractionCreatedEvent):
            self._snapshot(event.interaction.to_wire(), completed=False)
        elif isinstance(event, InteractionCompletedEvent):
            self._snapshot(event.interaction.to_wire(), completed=True)
        elif isinstance(event, ErrorEvent):
            self._error = event
        # Unknown event types carry nothing to rebuild.

    def apply_wire(self, event: Json) -> bool:
        """Apply one common event from its JSON object, unparsed; False: `apply` it parsed.

        Snapshots, status updates, step starts (of a skeleton without content or summary)
        and stops, and text and arguments deltas are folded as they are when the fields read
        here have their JSON types. What they give the interaction is validated once, by
        `result()`; what the fold drops unread (a usage a later one replaces, the created
        snapshot's steps, a stop's `step_usage`, a delta's other fields) is not.
        Any other event, or one whose fields do not fit, is left untouched: parse it and
        `apply` it, which also reports what is wrong with it. The event's objects are
        copied, never kept.
        """
        kind = event.get("event_type")
        fold = _WIRE_FOLDS.get(kind) if isinstance(kind, str) else None
        return fold is not None and fold(self, event)

    def _wire_start(self, event: Json) -> bool:
        index, step = event.get("index"), event.get("step")
        if type(index) is not int or not isinstance(step, dict):
            return False
        skeleton = cast("Json", step)
        # Deltas extend a skeleton's content and summary: only one without them goes unparsed.
        if not isinstance(skeleton.get("type"), str) or not _EXTENDED.isdisjoint(skeleton):
            return False
        self._start(index, _copy(skeleton))
        return True

    def _wire_stop(self, event: Json) -> bool:
        index, usage = event.get("index"), event.get("usage")
        if type(index) is not int or not _object_or_none(usage):
            return False
        self._stop(index, None if usage is None else _copy(usage))
        return True

    def _wire_update(self, event: Json) -> bool:
        interaction_id, status = event.get("interaction_id"), event.get("status")
        token, usage = event.get("continuation_token"), event.get("usage")
        if not (str_or_none(interaction_id) and str_or_none(status) and str_or_none(token)):
            return False
        if not _object_or_none(usage):
            return False
        self._update(interaction_id, status, token, None if usage is None else _copy(usage))
        return True

    def _wire_snapshot(self, event: Json) -> bool:
        interaction = event.get("interaction")
        if not isinstance(interaction, dict):
            return False
        wire = cast("Json", interaction)
        if not all(str_or_none(wire.get(key)) for key in _SNAPSHOT_STRINGS):
            return False
        # `outputs` (Lyria's steps) becomes a step as each snapshot is parsed, not merged.
        if not _object_or_none(wire.get("usage")) or "outputs" in wire:
            return False
        self._snapshot(_copy(wire), completed=event["event_type"] == "interaction.completed")
        return True

    def result(self) -> Interaction:
        """Return the interaction as the stream left it.

        The `interaction.completed` snapshot (else the created one, else just the last id
        and status) with the rebuilt steps, unless the completion snapshot has steps of its
        own, which are preferred. Usage and continuation token are the latest reported.

        Raises:
            APIResponseValidationError: The result does not fit the wire models.
        """
        wire = self._snapshots()
        if self._interaction_id is not None:
            wire["id"] = self._interaction_id
        if self._status is not None:
            wire["status"] = self._status
        if not wire.get("steps") and self._steps:
            wire["steps"] = [_copy(step) for step in self._step_dicts()]
        if isinstance(self._usage, dict):
            wire["usage"] = _copy(self._usage)  # validated with the interaction
        elif self._usage is not None:
            wire["usage"] = self._usage.to_wire()
        if self._continuation_token is not None:
            wire["continuation_token"] = self._continuation_token
        try:
            return Interaction.model_validate(wire)
        except ValidationError as exc:
            raise APIResponseValidationError(f"The streamed interaction is invalid: {exc}") from exc

    def _snapshots(self) -> Json:
        """The completion snapshot over the created one, in a copy of their wire forms."""
        wire: Json = {}
        if self._created is not None:
            wire.update(_copy(self._created))
            for key in ("steps", "continuation_token"):
                wire.pop(key, None)  # start-of-stream state, superseded by what followed
        if self._completed is not None:
            wire.update(_copy(self._completed))
        return wire

    def _start(self, index: int, step: Json) -> None:
        self._steps[index] = step
        self._text.pop(index, None)
        self._arguments.pop(index, None)

    def _update(
        self,
        interaction_id: str | None,
        status: str | None,
        continuation_token: str | None,
        usage: Usage | Json | None,
    ) -> None:
        self._interaction_id = interaction_id or self._interaction_id
        self._status = status or self._status
        if continuation_token is not None:
            self._continuation_token = continuation_token
        if usage is not None:
            self._usage = usage

    def _snapshot(self, interaction: Json, *, completed: bool) -> None:
        self._interaction_id = interaction.get("id") or self._interaction_id
        self._status = interaction.get("status") or self._status
        if interaction.get("usage") is not None:
            self._usage = interaction["usage"]
        token = interaction.get("continuation_token")
        if completed:
            self._completed = interaction
            # Authoritative: without a token here, earlier checkpoints are void.
            self._continuation_token = token
        else:
            self._created = interaction
            if token is not None:
                self._continuation_token = token

    def _apply_delta(self, event: StepDeltaEvent) -> None:
        index, delta = event.index, event.delta
        self._delta_usage(event.metadata)
        if isinstance(delta, UnknownDelta):
            # Kept aside: the step may be sent back, so it must hold wire fields only.
            self._unknown_deltas.append((index, delta))
            return
        step = self._step(index, delta.type)
        if isinstance(delta, TextDelta):
            self._append_text(index, step, delta.text)
        else:
            self._close_text(index, step)
            self._apply_to_step(index, step, delta)

    def _wire_delta(self, event: Json) -> bool:
        index, delta, metadata = event.get("index"), event.get("delta"), event.get("metadata")
        if type(index) is not int or not isinstance(delta, dict) or not _object_or_none(metadata):
            return False
        kind = cast("Json", delta).get("type")
        value = cast("Json", delta).get("text" if kind == "text" else "arguments")
        if kind not in ("text", "arguments_delta") or type(value) is not str:
            return False
        self._delta_usage(metadata)
        step = self._step(index, kind)
        if kind == "text":
            self._append_text(index, step, value)
        else:
            self._close_text(index, step)
            self._arguments.setdefault(index, []).append(value)
        return True

    def _delta_usage(self, metadata: Json | None) -> None:
        if metadata and isinstance(metadata.get("total_usage"), dict):
            self._usage = _copy(metadata["total_usage"])

    def _step(self, index: int, delta_type: str) -> Json:
        """The step a delta goes to; for a delta without its step.start, an inferred skeleton."""
        step = self._steps.get(index)
        if step is None:
            step = self._steps[index] = {"type": _STEP_TYPE_OF_DELTA.get(delta_type, delta_type)}
        return step

    def _apply_to_step(self, index: int, step: Json, delta: Delta) -> None:
        if isinstance(delta, _MEDIA_DELTAS):
            block = delta.to_wire()
            block.pop("rate", None)  # deprecated alias of sample_rate, not a content field
            _content(step).append(block)
        elif isinstance(delta, TextAnnotationDelta):
            annotations: list[Any] = delta.to_wire().get("annotations") or []
            _last_text_block(step).setdefault("annotations", []).extend(annotations)
        elif isinstance(delta, ThoughtSummaryDelta):
            if delta.content is not None:
                _list(step, "summary").append(delta.content.to_wire())
        elif isinstance(delta, ArgumentsDelta):
            self._arguments.setdefault(index, []).append(delta.arguments)
        else:  # signature, function_result and server tool deltas: fields of the step itself
            fields = delta.to_wire()
            del fields["type"]
            step.update(fields)

    def _append_text(self, index: int, step: Json, text: str) -> None:
        # Pieces are joined once, when read: appending to the block's string on every delta
        # would copy the whole text each time.
        pieces = self._text.get(index)
        if pieces is None:
            content = _content(step)
            if content and _is_text(content[-1]):
                last = content[-1].get("text") or ""
                if not isinstance(last, str):  # the skeleton of a step of an unknown type
                    raise APIResponseValidationError(
                        f"Step {index}: the text block its text delta continues has a "
                        f"{type(last).__name__} for text."
                    )
                pieces = [last]
            else:
                content.append({"type": "text", "text": ""})
                pieces = []
            self._text[index] = pieces
        pieces.append(text)

    def _close_text(self, index: int, step: Json) -> None:
        pieces = self._text.pop(index, None)
        if pieces is not None:
            step["content"][-1]["text"] = "".join(pieces)

    def _stop(self, index: int, usage: Usage | Json | None) -> None:
        if usage is not None:
            self._usage = usage
        step = self._steps.get(index)
        if step is None:
            return
        self._close_text(index, step)
        raw = "".join(self._arguments.pop(index, ()))
        if raw.strip():
            step["arguments"] = _parse_arguments(index, raw)
        elif step.get("type") == "function_call" and step.get("arguments") is None:
            step["arguments"] = {}

    def _sync_text(self, index: int) -> None:
        # Write the open text block's pieces into it, keeping it open for more deltas.
        pieces = self._text.get(index)
        if pieces is not None:
            text = "".join(pieces)
            self._steps[index]["content"][-1]["text"] = text
            pieces[:] = [text]

    def _step_dicts(self) -> list[Json]:
        for index in self._text:
            self._sync_text(index)
        return [self._steps[index] for index in sorted(self._steps)]


_WIRE_FOLDS: dict[str, Callable[[StreamAccumulator, Json], bool]] = {
    "step.delta": StreamAccumulator._wire_delta,  # pyright: ignore[reportPrivateUsage]
    "step.start": StreamAccumulator._wire_start,  # pyright: ignore[reportPrivateUsage]
    "step.stop": StreamAccumulator._wire_stop,  # pyright: ignore[reportPrivateUsage]
    "interaction.status_update": StreamAccumulator._wire_update,  # pyright: ignore[reportPrivateUsage]
    "interaction.created": StreamAccumulator._wire_snapshot,  # pyright: ignore[reportPrivateUsage]
    "interaction.completed": StreamAccumulator._wire_snapshot,  # pyright: ignore[reportPrivateUsage]
}
"""The events `apply_wire` folds unparsed, by `event_type`."""

UNPARSED_EVENTS: frozenset[str] = frozenset(_WIRE_FOLDS)
"""The `event_type`s of the events that `StreamAccumulator.apply_wire` may fold unparsed."""


def str_or_none(value: Any) -> TypeGuard[str | None]:
    """Whether a JSON value read before validation is a string or null."""
    return value is None or isinstance(value, str)


def _object_or_none(value: Any) -> TypeGuard[Json | None]:
    return value is None or isinstance(value, dict)


_SNAPSHOT_STRINGS = ("id", "status", "continuation_token")
"""The snapshot fields the accumulator reads before `result()` validates them."""

_EXTENDED = frozenset({"content", "summary"})
"""The fields of a step that deltas extend: a skeleton holding one is parsed first."""


def _content(step: Json) -> list[Any]:
    return _list(step, "content")


def _is_text(block: Any) -> TypeGuard[Json]:  # a content block as received: any JSON value
    return isinstance(block, dict) and cast("Json", block).get("type") == "text"


def _list(step: Json, key: str) -> list[Any]:
    value = step.get(key)
    if not isinstance(value, list):
        value = step[key] = []
    return value  # pyright: ignore[reportUnknownVariableType]


def _last_text_block(step: Json) -> Json:
    content = _content(step)
    for block in reversed(content):
        if _is_text(block):
            return block
    new: Json = {"type": "text", "text": ""}  # annotations arrived before any text
    content.append(new)
    return new


def _parse_arguments(index: int, raw: str) -> Json:
    # The messages leave the arguments out: they may quote anything, a credential included.
    what = f"Step {index}: the streamed function call arguments"
    try:
        arguments = json.loads(raw)
    except json.JSONDecodeError as exc:
        error = APIResponseValidationError(
            f"{what} are not valid JSON ({exc.msg} at character {exc.pos} of {len(raw)})."
        )
    except RecursionError:
        error = APIResponseValidationError(f"{what} are nested too deeply.")
    else:
        # Only arguments with that many brackets can nest that deep: the walk is for them.
        deep = raw.count("{") + raw.count("[") > _MAX_DEPTH and _deeper(arguments, _MAX_DEPTH)
        if isinstance(arguments, dict) and not deep:
            return arguments  # pyright: ignore[reportUnknownVariableType]
        if isinstance(arguments, dict):
            raise APIResponseValidationError(f"{what} are nested too deeply.")
        kind = _JSON_TYPES.get(type(arguments), "number")  # pyright: ignore[reportUnknownArgumentType]
        error = APIResponseValidationError(f"{what} are a JSON {kind}, not an object.")
    raise error  # outside the handler: the decoder's error, which quotes them, is no context


_JSON_TYPES: dict[type, str] = {list: "array", str: "string", bool: "boolean", type(None): "null"}

_MAX_DEPTH: Final = 200
"""The deepest nesting of the wire models' parser, and of what a run sends back."""


def _deeper(value: Any, depth: int) -> bool:
    """Whether JSON `value` nests containers more than `depth` deep (no recursion)."""
    level: list[Any] = [value]
    for _ in range(depth + 1):
        inner: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                inner.extend(cast("Json", item).values())
            elif isinstance(item, list):
                inner.extend(item)  # pyright: ignore[reportUnknownArgumentType]
        if not inner:
            return False
        level = inner
    return True


def _copy(value: Any) -> Any:
    """A deep copy of a JSON value: dicts, lists and immutable scalars need no deepcopy memo."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [_copy(item) for item in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def _parse_step(step: Json) -> Step:
    try:
        # A copy: validation keeps nested containers, which callers must not share with us.
        return parse_step(_copy(step))
    except ValidationError as exc:
        raise APIResponseValidationError(f"A streamed step is invalid: {exc}") from exc


# --- Resuming ------------------------------------------------------------------------------------


class EventDeduper:
    """Let each event through once, so a resumed stream's replayed events are dropped.

    Events without an `event_id` always pass. Memory is bounded: the most recent `max_ids`
    ids are remembered (insertion order, not id order, so ids need not be monotonic); a
    replay reaching further back than that would pass again. A resume replays from the last
    event seen, so the window only has to cover a few events.

    Use one deduper for the whole logical stream, across reconnections: pass every event
    through `admit` (or its `event_id` through `admit_id`), yield and apply only the
    admitted ones, and reconnect with `last_event_id`.
    """

    def __init__(self, *, max_ids: int = 10_000) -> None:
        self._seen: dict[str, None] = {}  # an insertion-ordered set
        self._max_ids = max(max_ids, 1)  # the newest id is always kept

    @property
    def last_event_id(self) -> str | None:
        """The id of the last event let through that had one (the newest one remembered)."""
        return next(reversed(self._seen), None)

    def admit(self, event: Event) -> bool:
        """Return True the first time an event id is seen (and remember it), else False."""
        return self.admit_id(event.event_id)

    def admit_id(self, event_id: str | None) -> bool:
        """`admit` for an event by its `event_id`."""
        if event_id is None:
            return True
        if event_id in self._seen:
            return False
        self._seen[event_id] = None
        if len(self._seen) > self._max_ids:
            del self._seen[next(iter(self._seen))]
        return True
