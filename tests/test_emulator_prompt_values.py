# jsonschema ships no types; pyright reads typeshed's bundled stubs, mypy needs types-jsonschema.
# mypy: disable-error-code="import-untyped"
"""The default model takes function-call arguments from the prompt where it offers them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

import httpx
import jsonschema
import pydantic
import pytest
from _emulator_helpers import BASE, KEY, create
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema.validators import validator_for

from agentkit import Agent, tool
from agentkit.testing import Emulator, example_value

MODEL = "gemini-3-flash-preview"


def calls_for(prompt: str, *tools: Callable[..., Any]) -> dict[str, dict[str, Any]]:
    """The arguments of each call the default model makes for `prompt`, by tool name."""
    emulator = Emulator()
    Agent(MODEL, tools=list(tools), client=emulator.client()).run_sync(prompt)
    return {call["name"]: call["arguments"] for call in emulator.function_calls}


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Get the weather in a city."""
    return f"sunny in {city}"


def search_flights(origin: str, destination: str, passengers: int, max_price: float) -> str:
    """Search flights."""
    return "none"


def search(query: str) -> str:
    """Search the web."""
    return "nothing"


def add(x: int, y: float) -> float:
    """Add two numbers."""
    return x + y


@pytest.mark.parametrize(
    ("prompt", "city"),
    [
        ("What's the weather in Paris?", "Paris"),
        ("Is it raining in New York right now?", "New York"),
        ("Weather in Zürich\u2019s old town?", "Zürich"),
        ("Rome. What is the weather there?", "city"),  # a lone word opening a sentence: not taken
        ("Weather and time?", "city"),
        ("what's the weather?", "city"),
        ('What\'s the weather in "Saint-Étienne"?', "Saint-Étienne"),
    ],
)
def test_a_place_parameter_takes_the_place_the_prompt_names(prompt: str, city: str) -> None:
    assert calls_for(prompt, get_weather)["get_weather"]["city"] == city


def test_the_weather_in_paris_reads_naturally_in_the_answer() -> None:
    emulator = Emulator()
    agent = Agent(MODEL, tools=[get_weather], client=emulator.client())

    result = agent.run_sync("What's the weather in Paris?")

    assert emulator.function_calls[0]["arguments"] == {"city": "Paris", "unit": "celsius"}
    assert result.output_text == "get_weather returned sunny in Paris."


def test_an_enum_takes_the_value_the_prompt_mentions() -> None:
    arguments = calls_for("How warm is Oslo, in Fahrenheit?", get_weather)["get_weather"]

    assert arguments == {"city": "Oslo", "unit": "fahrenheit"}


def test_places_and_numbers_are_used_in_the_order_of_the_prompt() -> None:
    prompt = "Flights from San Francisco to Tokyo for 3 people, under $1,200.50"

    arguments = calls_for(prompt, search_flights)["search_flights"]

    assert arguments == {
        "origin": "San Francisco",
        "destination": "Tokyo",
        "passengers": 3,
        "max_price": 1200.5,
    }


def test_numbers_fit_their_type() -> None:
    # 2.5 is no integer: x takes the next whole number, y the first number left.
    assert calls_for("Add 2.5 and -7", add)["add"] == {"x": -7, "y": 2.5}
    assert calls_for("Add 2 and 3.25", add)["add"] == {"x": 2, "y": 3.25}
    # Parts of dates, times, versions and identifiers are not numbers.
    prompt = "On 2026-01-02 at 12:30, with gemini-3.5 and v2, add them"
    assert calls_for(prompt, add)["add"] == {"x": 1, "y": 1}


def test_any_string_takes_quoted_text() -> None:
    assert calls_for("Look up 'solid-state batteries'", search)["search"] == {
        "query": "solid-state batteries"
    }
    # Without quotes, a capitalised word is no query: the schema's value stays.
    assert calls_for("Look up Batteries", search)["search"] == {"query": "query"}


def test_each_tool_takes_its_values_from_the_whole_prompt() -> None:
    calls = calls_for("Weather in Lisbon, and flights to Porto for 2", get_weather, search_flights)

    assert calls["get_weather"]["city"] == "Lisbon"
    assert calls["search_flights"]["origin"] == "Lisbon"
    assert calls["search_flights"]["destination"] == "Porto"
    assert calls["search_flights"]["passengers"] == 2


def test_a_value_the_schema_refuses_is_skipped() -> None:
    @tool
    def book(
        city: Annotated[str, pydantic.Field(max_length=5)],
        nights: Annotated[int, pydantic.Field(ge=1, le=30)],
    ) -> str:
        """Book a hotel."""
        return "booked"

    arguments = calls_for("A hotel in San Francisco or Paris, 90 nights or 4", book)["book"]

    assert arguments == {"city": "Paris", "nights": 4}


def test_the_description_example_stays_the_fallback() -> None:
    @tool
    def forecast(location: str) -> str:
        """Get a forecast.

        Args:
            location: The city, e.g. Madrid.
        """
        return "dry"

    assert calls_for("forecast please", forecast)["forecast"] == {"location": "Madrid"}
    assert calls_for("And for Seville?", forecast)["forecast"] == {"location": "Seville"}


def test_formatted_strings_and_nested_objects_keep_their_schema_values() -> None:
    class Address(pydantic.BaseModel):
        city: str

    @tool
    def deliver(
        address: Address, when: Annotated[str, pydantic.Field(json_schema_extra={"format": "date"})]
    ) -> str:
        """Deliver a parcel."""
        return "ok"

    arguments = calls_for("Deliver to Paris on Monday", deliver)["deliver"]

    assert arguments == {"address": {"city": "city"}, "when": "2026-01-02"}


def test_a_date_parameter_takes_an_iso_date() -> None:
    def book(city: str, departure_date: str) -> str:
        """Book a trip."""
        return "booked"

    arguments = calls_for("To Oslo on 2026-07-14, back 2026-07-20", book)["book"]

    assert arguments == {"city": "Oslo", "departure_date": "2026-07-14"}


@pytest.mark.parametrize(
    "parameter",
    [
        {"enum": [True, "yes", 1]},  # Python's True == 1: not checked exactly, left alone
        {"type": "string", "pattern": "["},  # not a regular expression
        {"type": "string", "format": "hostname"},
        {"$ref": "#/$defs/Loop"},
        {"type": "string", "not": {"const": "x"}},
    ],
)
def test_parameters_not_checked_exactly_keep_their_schema_value(
    parameter: dict[str, Any],
) -> None:
    schema = {
        "type": "object",
        "properties": {"city": parameter},
        "$defs": {"Loop": {"$ref": "#/$defs/Loop"}},
    }
    tools = [{"type": "function", "name": "f", "parameters": schema}]

    with httpx.Client(transport=Emulator(), base_url=BASE, headers=KEY) as http:
        plain = create(http, input="", tools=tools)
        prompted = create(http, input="'yes' in Paris, 1 or 2, example.org", tools=tools)

    assert prompted["steps"][-1]["arguments"] == plain["steps"][-1]["arguments"]


def test_a_schema_that_constrains_values_at_its_root_keeps_its_schema_values() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "anyOf": [{"required": ["city"]}],
    }
    tools = [{"type": "function", "name": "f", "parameters": schema}]

    with httpx.Client(transport=Emulator(), base_url=BASE, headers=KEY) as http:
        made = create(http, input="Weather in Paris", tools=tools)

    assert made["steps"][-1]["arguments"] == {"city": "city"}


# -- whatever the prompt, the arguments are valid for the schema ---------------------------------


def validate(schema: dict[str, Any], value: Any) -> None:
    cls = validator_for(schema, default=jsonschema.Draft202012Validator)
    cls(schema, format_checker=cls.FORMAT_CHECKER).validate(value)


def is_valid(schema: dict[str, Any], value: Any) -> bool:
    try:
        validate(schema, value)
    except jsonschema.ValidationError:
        return False
    return True


NAMES = ["city", "destination", "name", "query", "count", "unit", "x", "fromCity", "note"]
WORDS = ["Paris", "New York", "São Paulo", "celsius", "What", "a", "é", "\n", ". ", ", ", " "]

Schema = dict[str, Any]


def string_schema(low: int, span: int | None, pattern: str | None) -> Schema:
    schema: Schema = {"type": "string", "minLength": low}
    if span is not None:
        schema["maxLength"] = low + span
    if pattern is not None:
        schema["pattern"] = pattern
    return schema


def number_schema(kind: str, low: int | None, span: int | None, exclusive: bool) -> Schema:
    schema: Schema = {"type": kind}
    if low is not None:
        schema["exclusiveMinimum" if exclusive else "minimum"] = low
    if span is not None:
        schema["maximum"] = (low or 0) + span
    return schema


def enum_schema(values: list[Any]) -> Schema:
    return {"enum": values}


def const_schema(value: Any) -> Schema:
    return {"const": value}


def optional(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def or_null(schema: Schema) -> Schema:
    return {**schema, "type": [schema.get("type", "string"), "null"]}


def or_sentinel(schema: Schema) -> Schema:
    return {"oneOf": [schema, {"const": "sentinel"}]}


def described(schema: Schema) -> Schema:
    return {"allOf": [schema, {"description": "The city, e.g. Lyon."}]}


def defined(schema: Schema) -> Schema:
    return {"$ref": "#/$defs/D", DEFINITION: schema}  # moved to the root by `arguments_schema`


DEFINITION = "test-definition"


def leaves() -> st.SearchStrategy[Schema]:
    low, span = st.none() | st.integers(-20, 2000), st.none() | st.integers(1, 50)
    scalar = st.integers(-5, 5) | st.text(max_size=6) | st.booleans() | st.none() | st.floats(-3, 3)
    pattern = st.none() | st.sampled_from(["^[A-Z]", "o", "^[0-9]+$", "^.{2,9}$"])
    return st.one_of(
        st.builds(string_schema, st.integers(0, 4), st.none() | st.integers(4, 12), pattern),
        st.builds(number_schema, st.sampled_from(["integer", "number"]), low, span, st.booleans()),
        st.builds(enum_schema, st.lists(scalar, min_size=1, max_size=4, unique_by=json.dumps)),
        st.builds(const_schema, scalar),
        st.just({"type": "string", "format": "date"}),
        st.just({"type": "boolean"}),
        st.just({"type": "integer", "multipleOf": 3}),
        st.just({"type": "array", "items": {"type": "string"}}),
    )


def property_schemas() -> st.SearchStrategy[Schema]:
    leaf = leaves()
    return st.one_of(
        leaf,
        st.builds(optional, leaf),
        st.builds(or_null, leaf),
        st.builds(or_sentinel, leaf),
        st.builds(described, leaf),
        st.builds(defined, leaf),
    )


def arguments_schema(props: dict[str, Schema], closed: bool) -> Schema:
    schema: Schema = {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": not closed,
    }
    for name, prop in props.items():
        if DEFINITION in prop:  # a $ref resolves against the root: its target lives there
            schema["$defs"] = {"D": prop[DEFINITION]}
            props[name] = {"$ref": "#/$defs/D"}
    return schema


SCHEMAS = st.builds(
    arguments_schema,
    st.dictionaries(st.sampled_from(NAMES), property_schemas(), min_size=1, max_size=4),
    st.booleans(),
)


def pieces_of(schema: Schema) -> list[str]:
    """Every string and number the schema holds, written as a prompt could mention it."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():  # pyright: ignore[reportUnknownVariableType]
                walk(value)
        elif isinstance(node, list):
            for value in node:  # pyright: ignore[reportUnknownVariableType]
                walk(value)
        elif isinstance(node, (str, int, float)):
            found.append(str(node))

    walk(schema)
    return found


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(schema=SCHEMAS, data=st.data())
def test_arguments_taken_from_any_prompt_are_valid(schema: Schema, data: st.DataObject) -> None:
    assume(is_valid(schema, example_value(schema)))  # some drawn schemas have no valid value
    piece = st.sampled_from([*WORDS, *pieces_of(schema)]) | st.text(max_size=8)
    quoted = piece.map(lambda text: f'"{text}"') | piece.map(lambda text: f"'{text}'")
    number = st.integers(-30, 2100) | st.integers() | st.floats(allow_nan=False)
    parts = data.draw(st.lists(piece | quoted | number.map(str), max_size=12))
    prompt = " ".join(parts)
    tools = [{"type": "function", "name": "f", "parameters": schema}]

    with httpx.Client(transport=Emulator(), base_url=BASE, headers=KEY) as http:
        first = create(http, input=prompt, tools=tools)
        again = create(http, input=prompt, tools=tools)

    (call,) = [step for step in first["steps"] if step["type"] == "function_call"]
    validate(schema, call["arguments"])
    (repeat,) = [step for step in again["steps"] if step["type"] == "function_call"]
    assert repeat["arguments"] == call["arguments"]  # deterministic
