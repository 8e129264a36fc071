# jsonschema ships no types; pyright reads typeshed's bundled stubs, mypy needs types-jsonschema.
# mypy: disable-error-code="import-untyped"
"""Emulator model behaviours: scripts, functions, the default one and its schema values."""

from __future__ import annotations

import datetime
import enum
import json
import re
import uuid
from typing import Annotated, Any, Literal

import httpx
import jsonschema
import pydantic
import pytest
from _emulator_helpers import create
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema.validators import validator_for

from agentkit.testing import (
    EchoToolsBehaviour,
    Emulator,
    ModelRequest,
    Reply,
    Script,
    ScriptExhausted,
    code_execution,
    example_value,
    function_call,
    google_search,
    model_output,
    text,
    thought,
    url_context,
)
from agentkit.testing._regex_sample import regex_sample


def function(name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "name": name, "parameters": parameters}


def answer(interaction: dict[str, Any]) -> str:
    output: str = interaction["steps"][-1]["content"][0]["text"]
    return output


# -- Script ------------------------------------------------------------------------------


def test_script_replies_one_per_model_turn(http: httpx.Client, emulator: Emulator) -> None:
    def report(request: ModelRequest) -> str:
        return f"Turn {request.turn} saw {len(request.function_results)} results"

    script = Script(
        [
            "Plain text.",
            function_call("lookup", {"q": "x"}),
            [thought("thinking"), [function_call("a"), function_call("b", id="my_call")]],
            Reply([text("Broken")], status="failed", errors=[{"code": "x/y", "message": "boom"}]),
            report,
            Reply(["partial"], status="incomplete"),
            Reply(["?"], status="mystery_status", usage={"total_tokens": 7}),
        ]
    )
    emulator.behaviour = script
    first = create(http, input="1")
    assert (first["status"], answer(first)) == ("completed", "Plain text.")
    second = create(http, input="2")
    assert second["status"] == "requires_action"
    assert second["steps"] == [
        {"type": "function_call", "id": "fc_0001", "name": "lookup", "arguments": {"q": "x"}}
    ]
    third = create(http, input="3")
    assert [s.get("id") for s in third["steps"]] == [None, "fc_0002", "my_call"]
    assert third["steps"][0]["summary"] == [{"type": "text", "text": "thinking"}]
    results = [
        {"type": "function_result", "call_id": c, "name": "f", "result": "ok"}
        for c in ("fc_0002", "my_call")
    ]
    fourth = create(http, previous_interaction_id=third["id"], input=results)
    assert fourth["status"] == "failed"
    assert fourth["errors"] == [{"code": "x/y", "message": "boom"}]
    assert answer(create(http, input="5")) == "Turn 4 saw 0 results"
    assert create(http, input="6")["status"] == "incomplete"
    assert script.remaining == 1
    last = create(http, input="7")
    assert (last["status"], last["usage"]) == ("mystery_status", {"total_tokens": 7})
    with pytest.raises(ScriptExhausted, match="model turn 8"):
        http.post("/interactions", json={"model": "m", "input": "8"})
    emulator.reset()
    assert script.remaining == len(script.replies)
    assert "Script(" in repr(script)


def test_script_helpers_build_server_tool_steps(http: httpx.Client, emulator: Emulator) -> None:
    emulator.behaviour = Script(
        [
            [
                thought(),
                google_search("tallest building"),
                code_execution("print(1)", "1\n"),
                url_context("https://a.example/"),
                text(
                    "Burj Khalifa (“BK”) is tallest.",
                    citations=[("tallest", "https://a.example/", None)],
                ),
                model_output({"type": "image", "data": "aGk=", "mime_type": "image/png"}),
            ]
        ]
    )
    made = create(http, input="x")
    kinds = [s["type"] for s in made["steps"]]
    assert kinds == [
        "thought",
        "google_search_call",
        "google_search_result",
        "code_execution_call",
        "code_execution_result",
        "url_context_call",
        "url_context_result",
        "model_output",
        "model_output",
    ]
    calls = {s["type"]: s["id"] for s in made["steps"] if s["type"].endswith("_call")}
    assert calls == {
        "google_search_call": "gs_0001",
        "code_execution_call": "ce_0001",
        "url_context_call": "uc_0001",
    }
    assert made["steps"][2]["call_id"] == "gs_0001"
    block = made["steps"][7]["content"][0]
    note = block["annotations"][0]
    cited = block["text"].encode()[note["start_index"] : note["end_index"]].decode()
    assert cited == "tallest"
    assert note["start_index"] != block["text"].index("tallest")  # bytes, not characters
    with pytest.raises(ValueError, match="does not occur"):
        text("abc", citations=[("zzz", "https://x", None)])


def test_explicit_thought_signature_is_kept_and_accepted(
    http: httpx.Client, emulator: Emulator
) -> None:
    emulator.behaviour = Script([[thought(signature="c2lnbmF0dXJl"), function_call("f")], "done"])
    user = {"type": "user_input", "content": [{"type": "text", "text": "go"}]}
    first = create(http, store=False, input=[user])
    assert first["steps"][0]["signature"] == "c2lnbmF0dXJl"
    result = {"type": "function_result", "call_id": "fc_0001", "result": "r"}
    second = create(http, store=False, input=[user, *first["steps"], result])
    assert answer(second) == "done"


def test_invalid_replies_raise_type_errors(http: httpx.Client, emulator: Emulator) -> None:
    emulator.behaviour = Script([42, [{"no": "type"}]])
    with pytest.raises(TypeError, match="Cannot use 42"):
        http.post("/interactions", json={"model": "m", "input": "x"})
    with pytest.raises(TypeError, match="string 'type'"):
        http.post("/interactions", json={"model": "m", "input": "x"})


# -- function behaviours -----------------------------------------------------------------


def test_function_behaviour_sees_the_request(http: httpx.Client, emulator: Emulator) -> None:
    requests: list[ModelRequest] = []

    def model(request: ModelRequest) -> Reply | list[dict[str, Any]]:
        requests.append(request)
        if not request.function_results:
            return [function_call(t["name"], {"n": 1}) for t in request.function_tools]
        return Reply([text(f"{len(request.calls)} calls for {request.user_text}")])

    emulator.behaviour = model
    tools = [function("f", {}), {"type": "google_search"}, function("g", {})]
    first = create(
        http, input=[{"type": "text", "text": "hello"}], tools=tools, system_instruction="Be brief."
    )
    results = [
        {"type": "function_result", "call_id": s["id"], "result": [{"type": "text", "text": "1"}]}
        for s in first["steps"]
    ]
    second = create(http, previous_interaction_id=first["id"], input=results)
    assert answer(second) == "2 calls for hello"
    assert requests[0].body["system_instruction"] == "Be brief."
    assert [t["name"] for t in requests[0].function_tools] == ["f", "g"]
    assert requests[1].new_input == results
    assert requests[1].turn == 1


# -- the default behaviour ---------------------------------------------------------------

WEATHER = function(
    "get_weather",
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "when": {"type": "string", "format": "date"}},
        "required": ["city"],
    },
)


def test_default_calls_every_function_once_then_answers(http: httpx.Client) -> None:
    tools = [WEATHER, function("get_time", {"type": "object", "properties": {}})]
    first = create(http, input="Weather and time?", tools=tools)
    assert first["status"] == "requires_action"
    calls = [s for s in first["steps"] if s["type"] == "function_call"]
    assert [c["name"] for c in calls] == ["get_weather", "get_time"]
    assert calls[0]["arguments"] == {"city": "city", "when": "2026-01-02"}
    results = [
        {
            "type": "function_result",
            "call_id": calls[0]["id"],
            "name": "get_weather",
            "result": {"temp": 21},
        },
        {"type": "function_result", "call_id": calls[1]["id"], "result": "noon", "is_error": True},
    ]
    second = create(http, previous_interaction_id=first["id"], input=results, tools=tools)
    assert answer(second) == 'get_weather returned {"temp": 21}. get_time failed with noon.'


def test_default_google_search_cites_with_byte_offsets(http: httpx.Client) -> None:
    made = create(http, input="Café prices", tools=[{"type": "google_search"}])
    assert [s["type"] for s in made["steps"]] == [
        "thought",
        "google_search_call",
        "google_search_result",
        "model_output",
    ]
    assert made["steps"][1]["arguments"] == {"queries": ["Café prices"]}
    block = made["steps"][3]["content"][0]
    note = block["annotations"][0]
    cited = block["text"].encode()[note["start_index"] : note["end_index"]].decode()
    assert cited == "Café prices is well documented"
    assert note["url"] == "https://example.com/search?q=Caf%C3%A9%20prices"
    assert made["usage"]["grounding_tool_count"] == [{"type": "google_search", "count": 1}]


def test_default_code_execution_and_url_context(http: httpx.Client) -> None:
    tools = [{"type": "code_execution"}, {"type": "url_context"}]
    made = create(http, input="Read https://docs.example/a please", tools=tools)
    kinds = [s["type"] for s in made["steps"]]
    assert kinds[1:5] == [
        "code_execution_call",
        "code_execution_result",
        "url_context_call",
        "url_context_result",
    ]
    assert made["steps"][3]["arguments"] == {"urls": ["https://docs.example/a"]}
    assert "I read https://docs.example/a." in answer(made)


def test_default_server_tools_and_functions_together(http: httpx.Client) -> None:
    tools = [{"type": "google_search"}, WEATHER]
    first = create(http, input="Paris", tools=tools)
    call = first["steps"][-1]
    assert call["type"] == "function_call"
    result = {"type": "function_result", "call_id": call["id"], "result": "sunny"}
    second = create(http, previous_interaction_id=first["id"], input=[result], tools=tools)
    assert answer(second).startswith("get_weather returned sunny. According to")
    assert second["steps"][-1]["content"][0]["annotations"][0]["type"] == "url_citation"


def test_default_without_tools_echoes(http: httpx.Client) -> None:
    assert answer(create(http, input="Hi")) == "You said: Hi"
    image = {"type": "image", "uri": "https://x/y.png", "mime_type": "image/png"}
    assert answer(create(http, input=[image])) == "Hello! How can I help?"


@pytest.mark.parametrize(
    "choice", ["none", {"allowed_tools": {"mode": "auto", "tools": ["get_time"]}}]
)
def test_default_honours_tool_choice(http: httpx.Client, choice: Any) -> None:
    tools = [WEATHER, function("get_time", {})]
    made = create(http, input="x", tools=tools, generation_config={"tool_choice": choice})
    names = [s["name"] for s in made["steps"] if s["type"] == "function_call"]
    assert names == ([] if choice == "none" else ["get_time"])


class Pet(pydantic.BaseModel):
    name: str
    kind: Literal["cat", "dog"]
    born: datetime.date
    tags: list[str] = []


@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "text", "mime_type": "application/json", "schema": Pet.model_json_schema()},
        [{"type": "text", "mime_type": "application/json", "schema": Pet.model_json_schema()}],
        Pet.model_json_schema(),
    ],
)
def test_default_structured_output_is_valid_json(http: httpx.Client, response_format: Any) -> None:
    made = create(http, input="A pet", response_format=response_format)
    Pet.model_validate_json(answer(made))


def test_default_structured_output_after_tools(http: httpx.Client) -> None:
    fmt = {"type": "text", "mime_type": "application/json", "schema": Pet.model_json_schema()}
    first = create(http, input="A pet", tools=[WEATHER], response_format=fmt)
    result = {"type": "function_result", "call_id": "fc_0001", "result": "ok"}
    second = create(http, previous_interaction_id=first["id"], input=[result], response_format=fmt)
    Pet.model_validate_json(answer(second))
    legacy = create(http, input="x", response_mime_type="application/json")
    assert json.loads(answer(legacy)) is not None


def test_default_thinking_summaries(http: httpx.Client) -> None:
    made = create(http, input="x", generation_config={"thinking_summaries": "auto"})
    assert made["steps"][0]["summary"][0]["type"] == "text"
    assert made["usage"]["total_thought_tokens"] > 0
    assert EchoToolsBehaviour.__doc__


# -- schema values -------------------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Node(pydantic.BaseModel):
    value: int
    children: list[Node] = []


class Circle(pydantic.BaseModel):
    kind: Literal["circle"]
    radius: Annotated[float, pydantic.Field(gt=0, le=10)]


class Square(pydantic.BaseModel):
    kind: Literal["square"]
    side: Annotated[int, pydantic.Field(ge=3, multiple_of=3)]


class Everything(pydantic.BaseModel):
    text: Annotated[str, pydantic.Field(min_length=12, max_length=14)]
    maybe: int | None
    either: int | str
    colour: Colour
    when: datetime.datetime
    ident: uuid.UUID
    email: Annotated[str, pydantic.Field(json_schema_extra={"format": "email"})] = "a@b.c"
    mapping: dict[str, int]
    pair: tuple[int, str]
    shape: Annotated[Circle | Square, pydantic.Field(discriminator="kind")]
    tree: Node
    ratio: Annotated[float, pydantic.Field(multiple_of=0.25, ge=1.1)]
    items: Annotated[list[int], pydantic.Field(min_length=3, max_length=5)]
    unique: Annotated[set[str], pydantic.Field(min_length=2)]
    pattern: Annotated[str, pydantic.Field(pattern=r"^[A-Z][0-9]$")]


def validate(schema: dict[str, Any], value: Any) -> None:
    cls = validator_for(schema, default=jsonschema.Draft202012Validator)
    cls(schema, format_checker=cls.FORMAT_CHECKER).validate(value)


SCHEMAS: list[dict[str, Any]] = [
    Everything.model_json_schema(),
    pydantic.TypeAdapter(list[Node]).json_schema(),
    {"type": "object", "properties": {"a": {"type": ["string", "null"]}}, "required": ["a"]},
    {"oneOf": [{"type": "number"}, {"type": "integer"}]},
    {"oneOf": [{"type": "integer"}, {"type": "number"}]},
    {"oneOf": [{"type": "string"}, {"type": "string", "minLength": 8}]},
    {"anyOf": [{"$ref": "#/definitions/x"}], "definitions": {"x": {"const": 3}}},
    {
        "allOf": [
            {"properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"properties": {"b": {"type": "boolean"}}, "required": ["b"]},
        ]
    },
    {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "array",
        "items": [{"type": "integer"}, {"type": "string"}],
        "additionalItems": False,
    },
    {"type": "array", "prefixItems": [{"type": "integer"}], "items": False, "minItems": 1},
    {"type": "integer", "exclusiveMinimum": 5, "exclusiveMaximum": 7},
    {"type": "number", "minimum": -3.5, "maximum": -3.25},
    {"type": "integer", "maximum": -10},
    {"type": "integer", "multipleOf": 7, "minimum": 8, "maximum": 20},
    {"type": "object", "minProperties": 2, "additionalProperties": {"type": "integer"}},
    {"type": "object", "properties": {"a": {}, "b": True}, "maxProperties": 1},
    {"type": "string", "format": "date-time", "nullable": True},
    {"type": "string", "maxLength": 2},
    {"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 3, "uniqueItems": True},
    {
        "type": "array",
        "items": {"type": "string", "format": "email"},
        "minItems": 2,
        "uniqueItems": True,
    },
    {},
    {"type": "null"},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_example_values_are_valid(schema: dict[str, Any]) -> None:
    value = example_value(schema)
    validate(schema, value)
    assert example_value(schema) == value  # deterministic


def test_default_arguments_validate_against_each_tool_schema(http: httpx.Client) -> None:
    tools = [function(f"tool_{i}", s) for i, s in enumerate(SCHEMAS) if s.get("type") == "object"]
    made = create(http, input="x", tools=tools)
    calls = [s for s in made["steps"] if s["type"] == "function_call"]
    assert len(calls) == len(tools)
    for tool, call in zip(tools, calls, strict=True):
        validate(tool["parameters"], call["arguments"])


def test_everything_model_accepts_the_generated_arguments() -> None:
    Everything.model_validate(example_value(Everything.model_json_schema()))


# Keeps oneOf branches disjoint, so the schema is satisfiable.
SENTINEL: dict[str, Any] = {"const": "sentinel"}
# The formats jsonschema checks without extra packages (not date-time or time).
FORMATS: st.SearchStrategy[str] = st.sampled_from(["date", "email", "uuid", "ipv4", "ipv6"])

# Typed builders for the strategies below (a lambda's parameters would be untyped).


def sized_string(n: int, x: int) -> dict[str, Any]:
    return {"type": "string", "minLength": n, "maxLength": n + x}


def formatted_string(f: str) -> dict[str, Any]:
    return {"type": "string", "format": f}


def bounded_integer(lo: int, span: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": lo, "maximum": lo + span}


def multiple_integer(lo: int, m: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": lo, "multipleOf": m}


def above_number(lo: int) -> dict[str, Any]:
    return {"type": "number", "exclusiveMinimum": lo}


def multiple_number(m: float) -> dict[str, Any]:
    return {"type": "number", "multipleOf": m, "maximum": 100}


def enum_of(v: list[int | str]) -> dict[str, Any]:
    return {"enum": v}


def const_of(v: int | str | None) -> dict[str, Any]:
    return {"const": v}


def leaf_schemas() -> st.SearchStrategy[dict[str, Any]]:
    bounds: st.SearchStrategy[int] = st.integers(-50, 50)
    return st.one_of(
        st.builds(sized_string, st.integers(0, 5), st.integers(0, 5)),
        st.builds(formatted_string, FORMATS),
        st.builds(bounded_integer, bounds, st.integers(0, 20)),
        st.builds(multiple_integer, bounds, st.integers(1, 9)),
        st.builds(above_number, bounds),
        st.builds(multiple_number, st.sampled_from([0.5, 0.25, 2])),
        st.just({"type": "boolean"}),
        st.just({"type": "null"}),
        st.builds(
            enum_of,
            st.lists(
                st.one_of(st.integers(), st.text(max_size=3)), min_size=1, max_size=4, unique=True
            ),
        ),
        st.builds(const_of, st.one_of(st.integers(), st.text(max_size=5), st.none())),
        st.just({"type": ["integer", "null"]}),
    )


def obj(props: dict[str, dict[str, Any]], required: list[bool], closed: bool) -> dict[str, Any]:
    keys = list(props)
    needed = [k for k, flag in zip(keys, required, strict=False) if flag]
    return {
        "type": "object",
        "properties": props,
        "required": needed,
        "additionalProperties": not closed,
    }


def sized_array(item: dict[str, Any], lo: int, span: int) -> dict[str, Any]:
    return {"type": "array", "items": item, "minItems": lo, "maxItems": lo + span}


def tuple_array(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "array", "prefixItems": items}


def any_of(branches: list[dict[str, Any]]) -> dict[str, Any]:
    return {"anyOf": branches}


def one_of_with_sentinel(s: dict[str, Any], first: bool) -> dict[str, Any]:
    return {"oneOf": [s, SENTINEL] if first else [SENTINEL, s]}


def unique_integers(s: int) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {"type": "integer", "minimum": 0},
        "minItems": s,
        "uniqueItems": True,
    }


def composite(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    names: st.SearchStrategy[str] = st.text("abcdefgh", min_size=1, max_size=4)
    return st.one_of(
        st.builds(
            obj,
            st.dictionaries(names, children, max_size=4),
            st.lists(st.booleans(), max_size=4),
            st.booleans(),
        ),
        st.builds(sized_array, children, st.integers(0, 3), st.integers(0, 3)),
        st.builds(tuple_array, st.lists(children, max_size=3)),
        st.builds(any_of, st.lists(children, min_size=1, max_size=3)),
        st.builds(one_of_with_sentinel, children, st.booleans()),
        st.builds(unique_integers, st.integers(0, 6)),
    )


def with_defs(schema: dict[str, Any]) -> dict[str, Any]:
    # $refs resolve against the root, so definitions live there.
    ref = {"$ref": "#/$defs/D"}
    return {
        "$defs": {"D": schema},
        "type": "object",
        "properties": {"d": ref, "e": {"type": "array", "items": ref}},
        "required": ["d"],
    }


@settings(max_examples=300, deadline=None)
@given(st.recursive(leaf_schemas(), composite, max_leaves=12), st.booleans())
def test_generated_schemas_get_valid_values(schema: dict[str, Any], wrap: bool) -> None:
    schema = with_defs(schema) if wrap else schema
    validate(schema, example_value(schema))


@pytest.mark.parametrize(
    "pattern",
    [
        r"^[A-Z][0-9]$",
        r"^\d{3}-\d{4}$",
        r"^(foo|bar)+baz?$",
        r"[^abc]x",
        r"^\w+@\w+\.com$",
        r"(?P<year>\d{4})-(?:\d\d)",
        r"^[a-z0-9_-]{3,16}$",
        r"^a.*?b{2,}c\Z",
        r"^[\d]+\s\S\W\D$",
        r"^(?:ab|cd){2}$",
    ],
)
def test_regex_samples_match(pattern: str) -> None:
    sample = regex_sample(pattern)
    assert sample is not None
    assert re.search(pattern, sample)


@pytest.mark.parametrize("pattern", ["a**", "(ab", "[ab", "a)", r"[^\s\S]", "\\", "x(?=y)"])
def test_regex_sample_gives_up_on_what_it_cannot_do(pattern: str) -> None:
    assert regex_sample(pattern) is None
