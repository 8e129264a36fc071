from __future__ import annotations

import copy
import itertools
import json
import re
from codecs import BOM_UTF8
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentkit._exceptions import APIResponseValidationError
from agentkit._streaming import (
    EventDeduper,
    ServerSentEvent,
    SSEDecoder,
    StreamAccumulator,
    is_done,
)
from agentkit.types import (
    FunctionCallStep,
    ThoughtStep,
    UnknownDelta,
    UnknownStep,
    Usage,
    parse_event,
)

# --- SSE decoder -------------------------------------------------------------------------------


def decode_body(chunks: Iterable[bytes]) -> tuple[list[ServerSentEvent], bool]:
    """Decode a whole body: its events, and whether it ended inside an event."""
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events, decoder.end()


def decode(chunks: Iterable[bytes]) -> list[ServerSentEvent]:
    return decode_body(chunks)[0]


def cut(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def sse(data: str, *, event: str | None = None, id: str | None = None) -> ServerSentEvent:
    return ServerSentEvent(event=event, data=data, id=id, retry=None)


# Values never hold a line break; they do hold multi-byte UTF-8 (2, 3 and 4 bytes), NUL,
# colons and leading spaces, which the field parsing must keep apart.
_value = st.text(
    alphabet=st.sampled_from(["a", "Z", " ", ":", "\0", "é", "€", "𝄞", "\ufeff", "{", '"']),
    max_size=8,
)


@dataclass(frozen=True)
class Block:
    """One event block of a generated stream, with the decoded event it must give."""

    event: str | None
    data: list[str]
    id: str | None
    retry: str | None
    comment: str | None

    def lines(self) -> list[str]:
        lines = [] if self.comment is None else [":" + self.comment]
        if self.event is not None:
            lines.append("event:" + self.event)
        if self.id is not None:
            lines.append("id: " + self.id)
        if self.retry is not None:
            lines.append("retry:" + self.retry)
        # "data: v" strips exactly one space; "data" with no colon is an empty value.
        lines += ["data: " + value if value else "data" for value in self.data]
        return [*lines, ""]


_blocks = st.builds(
    Block,
    event=st.none() | _value.filter(lambda v: v != "" and not v.startswith(" ")),
    data=st.lists(_value, max_size=3),
    id=st.none() | _value,
    retry=st.none() | st.sampled_from(["0", "1500", "15x", "-1", "", "١٢"]),
    comment=st.none() | _value,
)


def expected(blocks: list[Block]) -> list[ServerSentEvent]:
    events: list[ServerSentEvent] = []
    last_id: str | None = None
    for block in blocks:
        if block.id is not None and "\0" not in block.id:
            last_id = block.id
        if block.data:
            retry = block.retry if block.retry and block.retry.isascii() else None
            events.append(
                ServerSentEvent(
                    event=block.event,
                    data="\n".join(block.data),
                    id=last_id,
                    retry=int(retry) if retry and retry.isdigit() else None,
                )
            )
    return events


def encode(blocks: list[Block], endings: list[str], *, bom: bool = False) -> bytes:
    out: list[str] = ["\ufeff"] if bom else []
    previous = ""
    for line, ending in zip(
        (line for block in blocks for line in block.lines()), itertools.cycle(endings)
    ):
        if previous == "\r" and line == "" and ending == "\n":
            ending = "\r\n"  # "\r" + "\n" would read as one CRLF and swallow this blank line
        out += [line, ending]
        previous = ending
    return "".join(out).encode()


@given(
    blocks=st.lists(_blocks, max_size=6),
    endings=st.lists(st.sampled_from(["\n", "\r", "\r\n"]), min_size=1, max_size=5),
    bom=st.booleans(),
    data=st.data(),
)
def test_a_stream_decodes_the_same_however_it_is_cut(
    blocks: list[Block], endings: list[str], bom: bool, data: st.DataObject
) -> None:
    stream = encode(blocks, endings, bom=bom)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    assert decode(cut(stream, cuts)) == expected(blocks)


def whole_blocks(
    prefix: bytes, blocks: list[Block], endings: list[str], *, bom: bool
) -> tuple[int, bytes]:
    """How many of `blocks` `prefix` (a cut `encode(blocks, ...)`) holds whole, and their bytes.

    A block is whole once its blank line ends; one ended by CRLF ends at its CR already.
    """
    count, done = 0, b""
    for n in range(1, len(blocks) + 1):
        whole = encode(blocks[:n], endings, bom=bom)
        needed = whole.removesuffix(b"\n") if whole.endswith(b"\r\n") else whole
        if not prefix.startswith(needed):
            break
        count, done = n, needed
    return count, done


@given(
    blocks=st.lists(_blocks, min_size=1, max_size=6),
    endings=st.lists(st.sampled_from(["\n", "\r", "\r\n"]), min_size=1, max_size=5),
    bom=st.booleans(),
    data=st.data(),
)
def test_a_body_cut_anywhere_gives_only_its_whole_events(
    blocks: list[Block], endings: list[str], bom: bool, data: st.DataObject
) -> None:
    # A body that ends cleanly inside an event (before the blank line that closes it) was
    # cut short: per the WHATWG spec that event is dropped, even when its data lines look
    # whole, and `end()` says the body was cut.
    stream = encode(blocks, endings, bom=bom)
    prefix = stream[: data.draw(st.integers(0, len(stream)))]
    cuts = data.draw(st.lists(st.integers(0, len(prefix)), max_size=6))
    count, done = whole_blocks(prefix, blocks, endings, bom=bom)
    events, was_cut = decode_body(cut(prefix, cuts))
    assert events == expected(blocks[:count])
    # The rest starts the next block: the body was cut unless it holds only comments (or a
    # piece of the leading BOM, which holds nothing).
    raw = prefix[len(done) :]
    rest = "" if not done and BOM_UTF8.startswith(raw) else raw.decode("utf-8-sig", "replace")
    lines = [line for line in re.split(r"\r\n|\r|\n", rest) if line]
    assert was_cut == any(not line.startswith(":") for line in lines)


@given(blocks=st.lists(_blocks, max_size=6))
def test_cr_lf_and_crlf_line_endings_are_equivalent(blocks: list[Block]) -> None:
    results = [decode([encode(blocks, [ending])]) for ending in ("\n", "\r", "\r\n")]
    assert results[0] == results[1] == results[2] == expected(blocks)


def test_one_byte_at_a_time_through_every_kind_of_line_break() -> None:
    stream = "\ufeffdata: a\r\ndata: é€𝄞\r\r\ndata: b\n\r\ndata:c\r\r".encode()
    chunks = [stream[i : i + 1] for i in range(len(stream))]
    assert decode(chunks) == [sse("a\né€𝄞"), sse("b"), sse("c")]


def test_crlf_split_across_chunks_is_one_line_break() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    # If the "\n" counted as a second line break, "a" would be dispatched here on its own.
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r") == [sse("a\nb")]
    assert decoder.feed(b"\ndata: c\r") == []
    assert decoder.feed(b"\r") == [sse("c")]


def test_a_lone_cr_at_a_chunk_end_is_a_line_break() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"data: b\r\r") == [sse("a\nb")]


def test_utf8_split_across_chunks() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: \xe2\x82") == []
    assert decoder.feed(b"\xac\xf0\x9d") == []
    assert decoder.feed(b"\x84\x9e\n\n") == [sse("€𝄞")]


def test_invalid_utf8_becomes_replacement_characters() -> None:
    assert decode([b"data: \xff!\n\n", b"data: \xe2\x82\n\n"]) == [sse("\ufffd!"), sse("\ufffd")]
    # A character the end of the body cuts is part of a cut event, which is dropped.
    assert decode_body([b"data: \xff!\n\n", b"data: \xe2\x82"]) == ([sse("\ufffd!")], True)


def test_multi_line_data_is_joined_with_newlines() -> None:
    stream = b'event: step.delta\ndata: {\ndata:  "a": 1\ndata\ndata: }\n\n'
    assert decode([stream]) == [sse('{\n "a": 1\n\n}', event="step.delta")]


def test_field_values_lose_exactly_one_leading_space() -> None:
    assert decode([b"data:x\n\ndata: x\n\ndata:  x\n\ndata: x:y\n\n"]) == [
        sse("x"),
        sse("x"),
        sse(" x"),
        sse("x:y"),
    ]


def test_comments_unknown_fields_and_wrong_case_are_ignored() -> None:
    stream = b": keep-alive\n:\nfoo: bar\nData: no\nEVENT: no\ndata: yes\n: more\n\n"
    assert decode([stream]) == [sse("yes")]
    assert decode([b": only a comment\n\n: another\n\n"]) == []


def test_a_block_without_data_dispatches_nothing_and_resets_the_event_name() -> None:
    assert decode([b"event: ping\n\ndata: x\n\n"]) == [sse("x")]
    assert decode([b"data\n\n"]) == [sse("")]


def test_done_sentinel() -> None:
    events = decode([b"data: {}\n\ndata: [DONE]\n\n"])
    assert [is_done(event) for event in events] == [False, True]
    assert not is_done(sse("[DONE] "))


def test_only_one_leading_bom_is_stripped() -> None:
    assert decode([b"\xef\xbb", b"\xbfdata: x\n\n"]) == [sse("x")]
    # A second BOM is part of the first line's field name, which is then unknown.
    assert decode([b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\ndata: y\n\n"]) == [sse("y")]
    assert decode([b"data: \xef\xbb\xbfx\n\n"]) == [sse("\ufeffx")]


def test_ids_persist_across_events_and_ids_with_nul_are_ignored() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 1\ndata: a\n\ndata: b\n\nid: 2\x00\ndata: c\n\nid\ndata: d\n\n")
    assert [event.id for event in events] == ["1", "1", "1", ""]
    assert decoder.last_event_id == ""


def test_retry_takes_only_ascii_digits() -> None:
    decoder = SSEDecoder()
    stream = (
        b"retry: 1500\ndata: a\n\nretry: 2.5\ndata: b\n\nretry: -1\nretry: \xd9\xa1\ndata: c\n\n"
    )
    events = decoder.feed(stream)
    assert [event.retry for event in events] == [1500, None, None]
    assert decoder.retry == 1500
    assert decoder.feed(b"retry: 20\n\n") == []
    assert decoder.retry == 20


def test_an_event_the_end_of_the_body_cuts_short_is_dropped() -> None:
    # Per the spec only a blank line dispatches an event: without one the body was cut
    # (a dropped connection, a proxy that closed early), so its data may be incomplete.
    assert decode_body([b"data: a\n\ndata: b\n"]) == ([sse("a")], True)
    assert decode_body([b"data: a\n\nevent: x\ndata: b"]) == ([sse("a")], True)
    assert decode_body([b'data: {"event_type": "interac']) == ([], True)
    assert decode_body([b"data: a\r"]) == ([], True)
    assert decode_body([b"event: x\n"]) == ([], True)
    assert decode_body([b"data: a\r\n\r"]) == ([sse("a")], False)  # the CR ends the blank line
    assert decode_body([b"data: a\n\n: keep-alive"]) == ([sse("a")], False)  # only a comment
    assert decode_body([]) == ([], False)


def test_end_resets_the_decoder_for_a_new_body_and_keeps_the_last_whole_id() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef\xbb\xbfid: 7\ndata: a\n\nid: 8\nretry: 50\ndata: b\r") == [
        sse("a", id="7")
    ]
    assert decoder.end() is True
    # The cut event's id does not count: resuming from it would skip that event.
    assert decoder.last_event_id == "7"
    assert decoder.retry == 50  # the spec applies retry: as soon as it is read
    # A new body: its BOM is stripped again, a leading "\n" is a line break of its own, and
    # nothing of the cut event (its data, its id) leaks into the next one.
    assert decoder.feed(b"\xef\xbb\xbf\ndata: c\n\n") == [sse("c", id="7")]
    assert decoder.end() is False
    assert decoder.last_event_id == "7"


def test_a_long_line_in_many_chunks() -> None:
    payload = "x" * 10_000
    stream = f"data: {payload}\n\n".encode()
    assert decode(cut(stream, range(0, len(stream), 7))) == [sse(payload)]


# --- StreamAccumulator -------------------------------------------------------------------------

# The SSE transcript of the API documentation, verbatim.
TRANSCRIPT = b"""event: interaction.created
data: {"event_type":"interaction.created","interaction":{"id":"v1_X1","status":"in_progress","model":"gemini-3-flash-preview"}}

event: step.start
data: {"event_type":"step.start","index":0,"step":{"type":"thought"}}

event: step.delta
data: {"event_type":"step.delta","index":0,"delta":{"type":"thought_signature","signature":"U2ln..."}}

event: step.stop
data: {"event_type":"step.stop","index":0}

event: step.start
data: {"event_type":"step.start","index":1,"step":{"type":"model_output"}}

event: step.delta
data: {"event_type":"step.delta","index":1,"delta":{"type":"text","text":"Hel"}}

event: step.delta
data: {"event_type":"step.delta","index":1,"delta":{"type":"text","text":"lo"}}

event: step.stop
data: {"event_type":"step.stop","index":1}

event: interaction.completed
data: {"event_type":"interaction.completed","interaction":{"id":"v1_X1","status":"completed","usage":{"total_tokens":42}}}

data: [DONE]

"""  # noqa: E501 (verbatim from the API documentation)


def accumulate(*events: dict[str, Any]) -> StreamAccumulator:
    accumulator = StreamAccumulator()
    for event in events:
        accumulator.apply(parse_event(event))
    return accumulator


def wire_steps(accumulator: StreamAccumulator) -> list[dict[str, Any]]:
    return [step.to_wire() for step in accumulator.steps]


def start(index: int, step: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"event_type": "step.start", "index": index, "step": step, **extra}


def delta(index: int, delta: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"event_type": "step.delta", "index": index, "delta": delta, **extra}


def stop(index: int, **extra: Any) -> dict[str, Any]:
    return {"event_type": "step.stop", "index": index, **extra}


def completed(interaction: dict[str, Any]) -> dict[str, Any]:
    return {"event_type": "interaction.completed", "interaction": interaction}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def test_the_protocol_transcript_rebuilds_a_thought_and_hello() -> None:
    accumulator = StreamAccumulator()
    for event in decode(cut(TRANSCRIPT, range(0, len(TRANSCRIPT), 13))):
        if is_done(event):
            break
        accumulator.apply(parse_event(event.data))
    assert wire_steps(accumulator) == [
        {"type": "thought", "signature": "U2ln..."},
        {"type": "model_output", "content": [text("Hello")]},
    ]
    assert isinstance(accumulator.steps[0], ThoughtStep)
    assert (accumulator.interaction_id, accumulator.status) == ("v1_X1", "completed")
    result = accumulator.result()
    assert (result.id, result.status, result.model) == (
        "v1_X1",
        "completed",
        "gemini-3-flash-preview",
    )
    assert result.output_text == "Hello"
    assert result.usage == Usage(total_tokens=42)
    assert accumulator.error is None


FUNCTION_CALL_TRANSCRIPT = [
    start(1, {"type": "function_call", "id": "fc_1", "name": "get_stock"}),
    delta(1, {"type": "arguments_delta", "arguments": '{"sku": '}),
    delta(1, {"type": "arguments_delta", "arguments": '"A-1"}'}),
    stop(1),
    completed({"id": "v1_X2", "status": "requires_action"}),
]


def test_arguments_fragments_become_the_function_call_arguments() -> None:
    accumulator = accumulate(*FUNCTION_CALL_TRANSCRIPT)
    assert wire_steps(accumulator) == [
        {"type": "function_call", "id": "fc_1", "name": "get_stock", "arguments": {"sku": "A-1"}}
    ]
    result = accumulator.result()
    assert result.status == "requires_action"
    assert [(call.id, call.arguments) for call in result.function_calls] == [
        ("fc_1", {"sku": "A-1"})
    ]


def test_arguments_without_fragments_keep_the_start_object_or_default_to_empty() -> None:
    accumulator = accumulate(
        start(0, {"type": "function_call", "id": "a", "name": "f", "arguments": {"x": 1}}),
        stop(0),
        start(1, {"type": "function_call", "id": "b", "name": "g"}),
        delta(1, {"type": "arguments_delta", "arguments": ""}),
        delta(1, {"type": "arguments_delta", "arguments": " "}),
        stop(1),
    )
    assert [step.to_wire()["arguments"] for step in accumulator.steps] == [{"x": 1}, {}]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ('{"key": "AIza-secret', "not valid JSON"),
        ("[1, 2]", "a JSON array, not an object"),
        ('"AIza-secret"', "a JSON string, not an object"),
        ("[" * 100_000, "nested too deeply"),
        ('{"a": ' + "[" * 300 + "]" * 300 + "}", "nested too deeply"),
    ],
)
def test_arguments_that_are_not_a_json_object_raise_a_validation_error_that_quotes_none(
    raw: str, problem: str
) -> None:
    accumulator = accumulate(
        start(3, {"type": "function_call", "id": "fc", "name": "f"}),
        delta(3, {"type": "arguments_delta", "arguments": raw}),
    )
    with pytest.raises(APIResponseValidationError, match=f"Step 3: .* {problem}") as info:
        accumulator.apply(parse_event(stop(3)))
    # The arguments may hold anything, a credential too: no message or chained error shows them.
    assert "AIza" not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


@pytest.mark.parametrize(
    "skeleton", [[{"type": "text", "text": 5}], [{"type": "text", "text": [1]}]]
)
def test_text_continuing_a_block_whose_text_is_not_a_string_raises_a_validation_error(
    skeleton: list[Any],
) -> None:
    accumulator = accumulate(start(0, {"type": "future_step", "content": skeleton}))
    with pytest.raises(APIResponseValidationError, match="Step 0: the text block"):
        accumulator.apply(parse_event(delta(0, text("a"))))


def test_thought_summaries_are_appended() -> None:
    accumulator = accumulate(
        start(0, {"type": "thought"}),
        delta(0, {"type": "thought_summary", "content": text("First.")}),
        delta(0, {"type": "thought_summary", "content": text("Then.")}),
        delta(0, {"type": "thought_summary"}),
        delta(0, {"type": "thought_signature", "signature": "c2ln"}),
        stop(0),
    )
    assert wire_steps(accumulator) == [
        {"type": "thought", "summary": [text("First."), text("Then.")], "signature": "c2ln"}
    ]


def test_media_deltas_push_content_blocks_between_text_blocks() -> None:
    image = {"type": "image", "data": "aW1n", "mime_type": "image/png", "resolution": "high"}
    audio = {"type": "audio", "uri": "files/a", "mime_type": "audio/wav", "sample_rate": 24000}
    accumulator = accumulate(
        start(0, {"type": "model_output"}),
        delta(0, {"type": "text", "text": "Look: "}),
        delta(0, image),
        delta(0, {**audio, "rate": 16000}),
        delta(0, {"type": "video", "uri": "files/v"}),
        delta(0, {"type": "document", "uri": "files/d", "mime_type": "application/pdf"}),
        delta(0, {"type": "text", "text": "done"}),
        delta(0, {"type": "text", "text": "."}),
        stop(0),
    )
    assert wire_steps(accumulator) == [
        {
            "type": "model_output",
            "content": [
                text("Look: "),
                image,
                audio,
                {"type": "video", "uri": "files/v"},
                {"type": "document", "uri": "files/d", "mime_type": "application/pdf"},
                text("done."),
            ],
        }
    ]


def test_step_at_returns_one_step_as_rebuilt_so_far() -> None:
    accumulator = accumulate(
        start(0, {"type": "model_output"}),
        delta(0, {"type": "text", "text": "Hel"}),
        delta(0, {"type": "text", "text": "lo"}),
    )
    step = accumulator.step_at(0)
    assert step is not None
    assert step.to_wire() == {"type": "model_output", "content": [text("Hello")]}
    accumulator.apply(parse_event(delta(0, {"type": "text", "text": "!"})))
    assert wire_steps(accumulator) == [{"type": "model_output", "content": [text("Hello!")]}]
    accumulator.apply(parse_event(stop(0)))
    assert accumulator.step_at(0) == accumulator.steps[0]
    assert accumulator.step_at(1) is None


def test_text_continues_a_text_block_carried_by_the_start_skeleton() -> None:
    accumulator = accumulate(
        start(0, {"type": "model_output", "content": [text("Hel")]}),
        delta(0, {"type": "text", "text": "lo"}),
    )
    assert wire_steps(accumulator) == [{"type": "model_output", "content": [text("Hello")]}]


def test_annotation_deltas_extend_the_last_text_block() -> None:
    cite_a = {"type": "url_citation", "url": "https://a.example", "start_index": 0, "end_index": 5}
    cite_b = {"type": "url_citation", "url": "https://b.example", "start_index": 6, "end_index": 11}
    accumulator = accumulate(
        start(0, {"type": "model_output"}),
        delta(0, {"type": "text", "text": "Hello"}),
        delta(0, {"type": "text_annotation_delta", "annotations": [cite_a]}),
        delta(0, {"type": "text", "text": " world"}),
        delta(0, {"type": "text_annotation_delta", "annotations": [cite_b]}),
        delta(0, {"type": "image", "uri": "files/i"}),
        delta(0, {"type": "text_annotation_delta", "annotations": [{"type": "new_kind", "k": 1}]}),
        start(1, {"type": "model_output"}),
        delta(1, {"type": "text_annotation_delta", "annotations": [cite_a]}),
        delta(1, {"type": "text", "text": "Hello"}),
    )
    assert wire_steps(accumulator) == [
        {
            "type": "model_output",
            "content": [
                {
                    **text("Hello world"),
                    "annotations": [cite_a, cite_b, {"type": "new_kind", "k": 1}],
                },
                {"type": "image", "uri": "files/i"},
            ],
        },
        {"type": "model_output", "content": [{**text("Hello"), "annotations": [cite_a]}]},
    ]
    assert [citation.text for citation in accumulator.result().citations] == [
        "Hello",
        "world",
        "Hello",
    ]


def test_server_tool_and_function_result_deltas_merge_their_fields_into_the_step() -> None:
    accumulator = accumulate(
        start(0, {"type": "google_search_call", "id": "gs_1"}),
        delta(
            0,
            {
                "type": "google_search_call",
                "arguments": {"queries": ["tallest building"]},
                "signature": "c2ln",
            },
        ),
        stop(0),
        start(1, {"type": "google_search_result", "call_id": "gs_1"}),
        delta(1, {"type": "google_search_result", "result": [{"search_suggestions": "<div/>"}]}),
        stop(1),
        start(2, {"type": "mcp_server_tool_call", "id": "m1"}),
        delta(
            2,
            {"type": "mcp_server_tool_call", "name": "n", "server_name": "s", "arguments": {}},
        ),
        stop(2),
        start(3, {"type": "function_result", "call_id": "fc_1"}),
        delta(3, {"type": "function_result", "result": {"ok": True}, "is_error": False}),
        stop(3),
    )
    assert wire_steps(accumulator) == [
        {
            "type": "google_search_call",
            "id": "gs_1",
            "arguments": {"queries": ["tallest building"]},
            "signature": "c2ln",
        },
        {
            "type": "google_search_result",
            "call_id": "gs_1",
            "result": [{"search_suggestions": "<div/>"}],
        },
        {
            "type": "mcp_server_tool_call",
            "id": "m1",
            "name": "n",
            "server_name": "s",
            "arguments": {},
        },
        {"type": "function_result", "call_id": "fc_1", "result": {"ok": True}, "is_error": False},
    ]


def test_unknown_deltas_are_kept_aside_and_never_written_into_the_step() -> None:
    hologram = {"type": "hologram", "beam": [1, 2]}
    accumulator = accumulate(
        start(0, {"type": "model_output"}),
        delta(0, {"type": "text", "text": "Hi"}),
        delta(0, hologram),
        delta(7, hologram),
        stop(0),
    )
    assert wire_steps(accumulator) == [{"type": "model_output", "content": [text("Hi")]}]
    assert [(index, d.to_wire()) for index, d in accumulator.unknown_deltas] == [
        (0, hologram),
        (7, hologram),
    ]
    assert all(isinstance(d, UnknownDelta) for _, d in accumulator.unknown_deltas)


def test_unknown_step_types_and_unknown_keys_of_the_skeleton_are_kept() -> None:
    hologram = {"type": "hologram_call", "id": "h1", "beam": {"x": 1}}
    call = {"type": "function_call", "id": "f", "name": "g", "signature": "c2ln", "new": None}
    accumulator = accumulate(
        start(0, hologram),
        delta(0, {"type": "hologram_delta", "beam": {"x": 2}}),
        stop(0),
        start(1, call),
        stop(1),
    )
    assert isinstance(accumulator.steps[0], UnknownStep)
    assert wire_steps(accumulator) == [hologram, {**call, "arguments": {}}]
    assert accumulator.result().to_wire()["steps"] == [hologram, {**call, "arguments": {}}]


def test_a_restarted_step_starts_from_its_new_skeleton() -> None:
    accumulator = accumulate(
        start(0, {"type": "model_output"}),
        delta(0, {"type": "text", "text": "draft"}),
        start(1, {"type": "function_call", "id": "a", "name": "f"}),
        delta(1, {"type": "arguments_delta", "arguments": '{"x": '}),
        start(0, {"type": "model_output"}),
        delta(0, {"type": "text", "text": "final"}),
        start(1, {"type": "function_call", "id": "b", "name": "f"}),
        delta(1, {"type": "arguments_delta", "arguments": "{}"}),
        stop(1),
    )
    assert wire_steps(accumulator) == [
        {"type": "model_output", "content": [text("final")]},
        {"type": "function_call", "id": "b", "name": "f", "arguments": {}},
    ]


def test_the_completion_snapshots_own_steps_are_preferred() -> None:
    snapshot_steps = [{"type": "model_output", "content": [text("Final answer.")]}]
    accumulator = accumulate(
        start(0, {"type": "model_output"}),
        delta(0, {"type": "text", "text": "Final"}),
        stop(0),
        completed({"id": "v1_A", "status": "completed", "steps": snapshot_steps}),
    )
    assert accumulator.result().to_wire()["steps"] == snapshot_steps
    assert wire_steps(accumulator) == [{"type": "model_output", "content": [text("Final")]}]


def test_steps_in_the_created_snapshot_are_not_the_result() -> None:
    created = {"id": "v1_D", "status": "in_progress", "steps": [{"type": "thought"}]}
    accumulator = accumulate(
        {"event_type": "interaction.created", "interaction": created},
        start(0, {"type": "model_output"}),
        delta(0, {"type": "text", "text": "Hi"}),
    )
    assert accumulator.result().to_wire()["steps"] == [
        {"type": "model_output", "content": [text("Hi")]}
    ]


def test_steps_are_ordered_by_index_and_a_delta_without_start_gets_a_skeleton() -> None:
    accumulator = accumulate(
        delta(2, {"type": "text", "text": "late"}),
        delta(1, {"type": "arguments_delta", "arguments": "{}"}),
        stop(1),
        delta(0, {"type": "google_search_call", "arguments": {"queries": []}}),
    )
    assert wire_steps(accumulator) == [
        {"type": "google_search_call", "arguments": {"queries": []}},
        {"type": "function_call", "arguments": {}},
        {"type": "model_output", "content": [text("late")]},
    ]
    assert accumulate(stop(5)).steps == []


def test_a_stream_without_completion_keeps_the_last_known_state() -> None:
    accumulator = accumulate(
        {
            "event_type": "interaction.created",
            "event_id": "e1",
            "interaction": {
                "id": "v1_B",
                "status": "in_progress",
                "model": "m",
                "continuation_token": "first",
            },
        },
        start(0, {"type": "model_output"}, event_id="e2"),
        delta(0, {"type": "text", "text": "partial"}, event_id="e3"),
        {
            "event_type": "interaction.status_update",
            "interaction_id": "v1_B",
            "status": "requires_continuation",
            "continuation_token": "tok",
            "usage": {"total_tokens": 7},
        },
        {"event_type": "hologram.event", "event_id": "e4"},
        {"event_type": "interaction.status_update", "status": "requires_continuation"},
    )
    result = accumulator.result()
    assert result.to_wire() == {
        "id": "v1_B",
        "status": "requires_continuation",
        "model": "m",
        "steps": [{"type": "model_output", "content": [text("partial")]}],
        "usage": {"total_tokens": 7},
        "continuation_token": "tok",
    }
    assert accumulator.continuation_token == "tok"
    created = {"event_type": "interaction.created", "interaction": {"continuation_token": "t"}}
    assert accumulate(created).result().continuation_token == "t"


def test_the_completion_snapshot_voids_earlier_continuation_tokens() -> None:
    created = {"id": "v1_C", "status": "in_progress", "continuation_token": "older"}
    accumulator = accumulate(
        {"event_type": "interaction.created", "interaction": created},
        {"event_type": "interaction.status_update", "continuation_token": "old"},
        completed({"id": "v1_C", "status": "completed"}),
    )
    assert accumulator.continuation_token is None
    assert "continuation_token" not in accumulator.result().to_wire()
    assert accumulate().result().to_wire() == {}


def test_usage_comes_from_the_latest_report() -> None:
    accumulator = accumulate(
        start(0, {"type": "model_output"}),
        delta(0, {"type": "text", "text": "a"}, metadata={"total_usage": {"total_tokens": 3}}),
    )
    assert accumulator.usage == Usage(total_tokens=3)
    accumulator.apply(parse_event(stop(0, usage={"total_tokens": 5}, step_usage={})))
    assert accumulator.usage == Usage(total_tokens=5)
    accumulator.apply(parse_event(delta(0, {"type": "text"}, metadata={"total_usage": "x"})))
    accumulator.apply(parse_event(delta(0, {"type": "text"}, metadata={"total_usage": {"a": 1}})))
    assert accumulator.result().usage == Usage.model_validate({"a": 1})
    bad = accumulate(delta(0, {"type": "text"}, metadata={"total_usage": {"total_tokens": "x"}}))
    with pytest.raises(APIResponseValidationError, match="usage"):
        bad.result()


def test_error_events_are_recorded() -> None:
    error = {"event_type": "error", "error": {"code": "resource_exhausted", "message": "quota"}}
    accumulator = accumulate(error)
    assert accumulator.error is not None
    assert accumulator.error.to_wire() == error


def test_results_do_not_share_state_with_the_accumulator() -> None:
    arguments = {"sku": {"code": "A-1"}}
    accumulator = accumulate(
        start(0, {"type": "function_call", "id": "fc", "name": "f", "arguments": arguments}),
        stop(0),
    )
    accumulator.result().function_calls[0].arguments["sku"]["code"] = "changed"
    step = accumulator.steps[0]
    assert isinstance(step, FunctionCallStep)
    step.arguments["sku"]["code"] = "changed too"
    assert accumulator.result().function_calls[0].arguments == arguments


def test_a_step_that_no_longer_fits_its_model_raises_a_validation_error() -> None:
    accumulator = accumulate(
        start(0, {"type": "function_result", "call_id": "c"}),
        delta(0, {"type": "function_result", "result": None}),
    )
    with pytest.raises(APIResponseValidationError, match="step"):
        _ = accumulator.steps
    with pytest.raises(APIResponseValidationError, match="interaction"):
        accumulator.result()


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=10,
)


def fragments(value: str, data: st.DataObject) -> list[str]:
    cuts = data.draw(st.lists(st.integers(0, len(value)), max_size=8))
    bounds = [0, *sorted(cuts), len(value)]
    return [value[a:b] for a, b in itertools.pairwise(bounds)]


@given(value=st.text(), data=st.data())
def test_text_fragments_rebuild_the_text(value: str, data: st.DataObject) -> None:
    accumulator = accumulate(
        start(0, {"type": "model_output"}),
        *(delta(0, {"type": "text", "text": piece}) for piece in fragments(value, data)),
    )
    assert wire_steps(accumulator) == [{"type": "model_output", "content": [text(value)]}]
    accumulator.apply(parse_event(stop(0)))
    assert accumulator.result().output_text == value


@given(
    arguments=st.dictionaries(st.text(max_size=5), _json_values, max_size=4),
    ensure_ascii=st.booleans(),
    data=st.data(),
)
def test_arguments_fragments_rebuild_the_object(
    arguments: dict[str, Any], ensure_ascii: bool, data: st.DataObject
) -> None:
    raw = json.dumps(arguments, ensure_ascii=ensure_ascii)
    accumulator = accumulate(
        start(0, {"type": "function_call", "id": "fc", "name": "f"}),
        *(delta(0, {"type": "arguments_delta", "arguments": p}) for p in fragments(raw, data)),
        stop(0),
    )
    [call] = accumulator.result().function_calls
    assert call.arguments == arguments


# --- EventDeduper ------------------------------------------------------------------------------


def test_the_deduper_drops_replayed_ids_and_always_passes_events_without_one() -> None:
    deduper = EventDeduper()
    events = [parse_event(stop(0, event_id=f"e{n}")) for n in range(3)]
    anonymous = parse_event(stop(0))
    assert [deduper.admit(event) for event in events] == [True, True, True]
    assert [deduper.admit(event) for event in [events[1], anonymous, events[2], anonymous]] == [
        False,
        True,
        False,
        True,
    ]
    assert deduper.last_event_id == "e2"


def test_the_deduper_remembers_the_most_recent_ids_whatever_their_order() -> None:
    deduper = EventDeduper(max_ids=2)
    events = {name: parse_event(stop(0, event_id=name)) for name in ("z", "a", "m")}
    assert all(deduper.admit(event) for event in events.values())
    assert not deduper.admit(events["a"])
    assert not deduper.admit(events["m"])
    assert deduper.admit(events["z"])  # forgotten: beyond the window of two ids


def test_a_resumed_stream_rebuilds_the_same_interaction_exactly_once() -> None:
    transcript = [
        {
            "event_type": "interaction.created",
            "interaction": {"id": "v1_R", "status": "in_progress"},
        },
        start(0, {"type": "model_output"}),
        *(delta(0, {"type": "text", "text": piece}) for piece in ["Hel", "lo", ", ", "you"]),
        stop(0),
        completed({"id": "v1_R", "status": "completed"}),
    ]
    events = [parse_event({**event, "event_id": f"ev{n}"}) for n, event in enumerate(transcript)]

    reference = StreamAccumulator()
    for event in events:
        reference.apply(event)

    # The connection drops after four events; the server replays from two events back.
    deduper, accumulator, seen = EventDeduper(), StreamAccumulator(), list[str]()
    for event in [*events[:4], *events[2:]]:
        if deduper.admit(event):
            accumulator.apply(event)
            seen.append(str(event.event_id))
    assert seen == [f"ev{n}" for n in range(len(events))]
    assert deduper.last_event_id == f"ev{len(events) - 1}"
    assert accumulator.result() == reference.result()
    assert accumulator.result().output_text == "Hello, you"


# --- Folding events unparsed -------------------------------------------------------------------

Wire = dict[str, Any]

_ids = st.sampled_from(["v1_a", "v1_b"])
_statuses = st.sampled_from(["in_progress", "requires_action", "completed"])
_tokens = st.text(max_size=3)
_usages: st.SearchStrategy[Wire] = st.fixed_dictionaries(
    {"total_tokens": st.integers(0, 99)}, optional={"future_counter": st.integers(0, 9)}
)
_indexes = st.integers(0, 2)
_SKELETONS: list[Wire] = [
    {"type": "model_output"},
    {"type": "model_output", "content": [text("so ")]},
    {"type": "function_call", "id": "fc", "name": "f"},
    {"type": "function_call", "id": "fc", "name": "f", "arguments": {"a": 1}},
    {"type": "thought"},
    {"type": "future_step", "detail": 7},
]
_snapshots: st.SearchStrategy[Wire] = st.fixed_dictionaries(
    {},
    optional={
        "id": _ids,
        "status": _statuses,
        "continuation_token": _tokens,
        "usage": _usages,
        "model": st.just("gemini-3-flash-preview"),
        "object": st.just("interaction"),
    },
)
_updates: st.SearchStrategy[Wire] = st.fixed_dictionaries(
    {"event_type": st.just("interaction.status_update")},
    optional={
        "interaction_id": _ids,
        "status": _statuses,
        "continuation_token": _tokens,
        "usage": _usages,
    },
)
_metadata: st.SearchStrategy[Wire] = st.fixed_dictionaries(
    {}, optional={"metadata": st.fixed_dictionaries({"total_usage": _usages})}
)
_stop_usage: st.SearchStrategy[Wire] = st.fixed_dictionaries({}, optional={"usage": _usages})
_PARSED_DELTAS: list[Wire] = [  # deltas parsed first, whichever way the stream is folded
    {"type": "thought_signature", "signature": "c2ln"},
    {"type": "future_delta", "x": 1},
    {"type": "image", "data": "aW1n", "mime_type": "image/png"},
]
_events: st.SearchStrategy[Wire] = st.one_of(
    _snapshots.map(
        lambda interaction: {"event_type": "interaction.created", "interaction": interaction}
    ),
    _snapshots.map(completed),
    _updates,
    st.tuples(_indexes, st.sampled_from(_SKELETONS), _tokens).map(
        lambda args: start(args[0], copy.deepcopy(args[1]), event_id=args[2])
    ),
    st.tuples(_indexes, _stop_usage).map(lambda args: stop(args[0], **args[1])),
    st.tuples(_indexes, st.text(max_size=4), _metadata).map(
        lambda args: delta(args[0], text(args[1]), **args[2])
    ),
    st.tuples(_indexes, st.text(alphabet="ab{}\"': ,1", max_size=6)).map(
        lambda args: delta(args[0], {"type": "arguments_delta", "arguments": args[1]})
    ),
    st.tuples(_indexes, st.sampled_from(_PARSED_DELTAS)).map(
        lambda args: delta(args[0], copy.deepcopy(args[1]))
    ),
    st.just({"event_type": "future.event", "index": 0}),
    _indexes.map(lambda index: {"event_type": "step.stop", "index": str(index)}),
)


def _outcome(fold: Any, events: list[dict[str, Any]]) -> Any:
    """What a stream folded this way gives: its state and result, or the error it raised."""
    accumulator = StreamAccumulator()
    try:
        for event in events:
            fold(accumulator, event)
        result = accumulator.result().to_wire()
    except APIResponseValidationError as exc:
        return type(exc)
    unknown = [(index, delta.to_wire()) for index, delta in accumulator.unknown_deltas]
    usage = accumulator.usage
    return (
        result,
        accumulator.interaction_id,
        accumulator.status,
        accumulator.continuation_token,
        None if usage is None else usage.to_wire(),
        unknown,
        wire_steps(accumulator),
    )


def _parsed(accumulator: StreamAccumulator, event: dict[str, Any]) -> None:
    accumulator.apply(parse_event(event))


def _unparsed(accumulator: StreamAccumulator, event: dict[str, Any]) -> None:
    if not accumulator.apply_wire(json.loads(json.dumps(event))):
        accumulator.apply(parse_event(event))


@given(events=st.lists(_events, max_size=12))
def test_a_stream_folded_unparsed_rebuilds_what_the_parsed_events_do(
    events: list[dict[str, Any]],
) -> None:
    assert _outcome(_unparsed, events) == _outcome(_parsed, events)


@pytest.mark.parametrize(
    "event",
    [
        delta(0, {"type": "text", "text": 5}),
        delta(0, {"type": "arguments_delta"}),
        {**delta(0, text("a")), "index": "0"},
        delta(0, text("a"), metadata=[1]),
        start(0, {"type": "model_output", "content": []}),  # what deltas extend: parsed
        start(0, {"type": "thought", "summary": []}),
        start(0, {"name": "f"}),
        {**start(0, {}), "step": "function_call"},
        completed({"id": "v1_a", "outputs": [text("a")]}),  # Lyria's outputs, as parsed
        completed({"id": "v1_a", "usage": [1]}),
        stop(0, usage={"total_tokens": 1}, step_usage=3) | {"index": True},
        stop(0, usage=3),
        {"event_type": "interaction.status_update", "status": 1},
        {"event_type": "interaction.status_update", "usage": [1]},
        completed({"id": ["v1_a"]}),
        {"event_type": "interaction.created", "interaction": None},
        {"event_type": ["step.stop"], "index": 0},
        {"event_type": "error", "error": {"code": "x", "message": "y"}},
        delta(0, {"type": "thought_summary", "content": text("a")}),
    ],
)
def test_an_event_folded_unparsed_only_when_the_fields_it_reads_have_their_json_types(
    event: dict[str, Any],
) -> None:
    accumulator = StreamAccumulator()
    assert not accumulator.apply_wire(event)
    assert (accumulator.interaction_id, accumulator.status, accumulator.steps) == (None, None, [])
    assert accumulator.result().to_wire() == StreamAccumulator().result().to_wire()


def test_a_snapshot_folded_unparsed_is_validated_with_the_result() -> None:
    accumulator = StreamAccumulator()
    invalid_call = {"type": "function_call", "id": "fc", "name": 5}
    assert accumulator.apply_wire(completed({"id": "v1_a", "steps": [invalid_call]}))
    assert accumulator.interaction_id == "v1_a"
    with pytest.raises(APIResponseValidationError, match="streamed interaction is invalid"):
        accumulator.result()


def test_results_of_a_stream_folded_unparsed_share_nothing_with_its_events() -> None:
    by_modality = [{"modality": "text", "tokens": 1}]
    usage: dict[str, Any] = {"total_tokens": 1, "input_tokens_by_modality": by_modality}
    events = [
        completed(
            {
                "id": "v1_a",
                "status": "completed",
                "steps": [{"type": "model_output", "content": [text("a")]}],
            }
        ),
        delta(1, text("b"), metadata={"total_usage": usage}),
    ]
    accumulator = StreamAccumulator()
    for event in events:
        assert accumulator.apply_wire(event)
    events[0]["interaction"]["steps"][0]["content"][0]["text"] = "changed"
    by_modality[0]["tokens"] = 2
    first = accumulator.result()
    assert first.steps is not None
    first.steps.clear()
    second = accumulator.result()
    assert second.output_text == "a"
    assert second.to_wire()["usage"] == {
        "total_tokens": 1,
        "input_tokens_by_modality": [{"modality": "text", "tokens": 1}],
    }


def test_an_invalid_usage_of_a_delta_fails_the_result() -> None:
    accumulator = StreamAccumulator()
    assert accumulator.apply_wire(
        delta(0, text("a"), metadata={"total_usage": {"total_tokens": "x"}})
    )
    with pytest.raises(APIResponseValidationError, match="usage"):
        accumulator.result()
    with pytest.raises(APIResponseValidationError, match="streamed usage is invalid"):
        _ = accumulator.usage
