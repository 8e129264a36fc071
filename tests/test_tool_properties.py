# jsonschema ships no types; pyright reads typeshed's bundled stubs, mypy needs types-jsonschema.
# mypy: disable-error-code="import-untyped"
"""Property tests: random signatures of supported types, random arguments they accept.

For each generated function: the arguments, as JSON, validate against the generated schema
(jsonschema, Draft 2020-12), and `invoke` accepts them and calls the function with equal values.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import inspect
import pathlib
import re
import string
import types
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal, Optional, Union

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import optimiser as _optimiser  # imported now: see KEYS
from hypothesis.strategies._internal import random as _random  # imported now: see KEYS
from jsonschema.protocols import Validator
from pydantic import BaseModel, Field
from pydantic_core import to_jsonable_python
from typing_extensions import NotRequired, TypedDict

from agentkit._context import RunContext
from agentkit._exceptions import UsageError
from agentkit._tool import tool
from agentkit.types import FunctionCallStep

pytestmark = pytest.mark.anyio

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Movie(TypedDict):
    title: str
    year: NotRequired[int]


@dataclasses.dataclass
class Box:
    width: int
    tags: list[str] = dataclasses.field(default_factory=list[str])


class Item(BaseModel):
    name: str
    when: datetime.datetime | None = None
    child: Item | None = None


@dataclasses.dataclass(frozen=True)
class Kind:
    """A supported type and the values of that type that survive a trip through JSON."""

    annotation: Any
    values: st.SearchStrategy[Any]


# Strategies use named functions, not lambdas, and modules hypothesis imports lazily are
# imported now: describing a lambda or importing a module (pytest rewrites it) parses source
# with `ast`, which deep inside recursive strategies trips a CPython 3.11 bug ("AST constructor
# recursion depth mismatch", https://github.com/python/cpython/issues/106905).


def is_not_ref(key: str) -> bool:
    # pydantic takes a "$ref" key inside a default value for a schema reference:
    # https://github.com/pydantic/pydantic/issues/9783
    return key != "$ref"


KEYS = st.text(max_size=4).filter(is_not_ref)
assert _optimiser
assert _random


def json_containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3)


def json_values() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=5)
    )
    return st.recursive(scalars, json_containers, max_leaves=6)


def item_with_child(inner: st.SearchStrategy[Item]) -> st.SearchStrategy[Item]:
    return st.builds(Item, name=st.text(max_size=5), child=inner)


def items() -> st.SearchStrategy[Item]:
    leaves = st.builds(Item, name=st.text(max_size=5), when=st.none() | st.datetimes())
    return st.recursive(leaves, item_with_child, max_leaves=3)


def to_path(parts: list[str]) -> pathlib.Path:
    return pathlib.Path(*parts)


PATHS = st.lists(st.text(string.ascii_letters, min_size=1, max_size=4), min_size=1, max_size=3)

HASHABLE = [
    Kind(str, st.text(max_size=8)),
    Kind(int, st.integers()),
    Kind(uuid.UUID, st.uuids()),
    Kind(datetime.date, st.dates()),
]

SCALARS = [
    *HASHABLE,
    Kind(float, st.floats(allow_nan=False, allow_infinity=False)),
    Kind(bool, st.booleans()),
    Kind(None, st.none()),
    Kind(Color, st.sampled_from(Color)),
    Kind(Level, st.sampled_from(Level)),
    Kind(Literal["a", "b", 3], st.sampled_from(["a", "b", 3])),
    Kind(datetime.datetime, st.datetimes(timezones=st.none() | st.just(datetime.timezone.utc))),
    Kind(datetime.time, st.times()),
    Kind(datetime.timedelta, st.timedeltas()),
    Kind(decimal.Decimal, st.decimals(allow_nan=False, allow_infinity=False)),
    Kind(pathlib.Path, PATHS.map(to_path)),
    Kind(bytes, st.text(max_size=8).map(str.encode)),
    Kind(Any, json_values()),
    Kind(Annotated[int, Field(ge=0, description="Non-negative.")], st.integers(min_value=0)),
    Kind(Annotated[str, "A plain description."], st.text(max_size=8)),
    Kind(
        Movie,
        st.fixed_dictionaries({"title": st.text(max_size=5)}, optional={"year": st.integers()}),
    ),
    Kind(Box, st.builds(Box, width=st.integers(), tags=st.lists(st.text(max_size=3), max_size=2))),
    Kind(Item, items()),
]

# Union members whose JSON forms never overlap, so a value comes back as the same member.
DISJOINT = [
    Kind(str, st.text(max_size=5)),
    Kind(int, st.integers()),
    Kind(bool, st.booleans()),
    Kind(list[int], st.lists(st.integers(), max_size=3)),
    Kind(dict[str, int], st.dictionaries(KEYS, st.integers(), max_size=2)),
]


# Annotations built at runtime: `GenericAlias(list, (int,))` is `list[int]`, spelled so type
# checkers don't read a subscript of a runtime value as a type expression.


def list_of(kind: Kind) -> Kind:
    return Kind(types.GenericAlias(list, (kind.annotation,)), st.lists(kind.values, max_size=3))


def tuple_of(kind: Kind) -> Kind:
    return Kind(
        types.GenericAlias(tuple, (kind.annotation, ...)),
        st.lists(kind.values, max_size=3).map(tuple),
    )


def pair_of(kinds: tuple[Kind, Kind]) -> Kind:
    first, second = kinds
    return Kind(
        types.GenericAlias(tuple, (first.annotation, second.annotation)),
        st.tuples(first.values, second.values),
    )


def set_of(kind: Kind) -> Kind:
    return Kind(types.GenericAlias(set, (kind.annotation,)), st.sets(kind.values, max_size=3))


def frozenset_of(kind: Kind) -> Kind:
    return Kind(
        types.GenericAlias(frozenset, (kind.annotation,)), st.frozensets(kind.values, max_size=3)
    )


def dict_of(kind: Kind) -> Kind:
    return Kind(
        types.GenericAlias(dict, (str, kind.annotation)),
        st.dictionaries(KEYS, kind.values, max_size=3),
    )


def not_none(kind: Kind) -> bool:
    return kind.annotation is not None


def optional(kind: Kind) -> Kind:
    return Kind(Optional[kind.annotation], st.none() | kind.values)  # noqa: UP045


def annotation_repr(kind: Kind) -> str:
    return repr(kind.annotation)


def union_of(kinds: list[Kind]) -> Kind:
    annotation: Any = Union[tuple(kind.annotation for kind in kinds)]  # noqa: UP007
    return Kind(annotation, st.one_of([kind.values for kind in kinds]))


def containers(inner: st.SearchStrategy[Kind]) -> st.SearchStrategy[Kind]:
    hashable = st.sampled_from(HASHABLE)
    unions = st.lists(st.sampled_from(DISJOINT), min_size=2, max_size=3, unique_by=annotation_repr)
    return st.one_of(
        inner.map(list_of),
        inner.map(tuple_of),
        st.tuples(inner, inner).map(pair_of),
        hashable.map(set_of),
        hashable.map(frozenset_of),
        inner.map(dict_of),
        inner.filter(not_none).map(optional),
        unions.map(union_of),
    )


KINDS = st.recursive(st.sampled_from(SCALARS), containers, max_leaves=4)

POSITIONAL_ONLY = inspect.Parameter.POSITIONAL_ONLY
POSITIONAL_OR_KEYWORD = inspect.Parameter.POSITIONAL_OR_KEYWORD
KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY


def parameter_kind_order(parameter: inspect.Parameter) -> int:
    return int(parameter.kind)


@dataclasses.dataclass
class Generated:
    function: Callable[..., Any]
    signature: inspect.Signature
    kinds: dict[str, Kind]
    calls: list[inspect.BoundArguments]


@st.composite
def functions(draw: st.DrawFn) -> Generated:
    """A function of random supported parameter types, kinds and defaults."""
    count = draw(st.integers(0, 5))
    parameter_kinds = sorted(
        draw(
            st.lists(
                st.sampled_from([POSITIONAL_ONLY, POSITIONAL_OR_KEYWORD, KEYWORD_ONLY]),
                min_size=count,
                max_size=count,
            )
        )
    )
    parameters: list[inspect.Parameter] = []
    kinds: dict[str, Kind] = {}
    positional_default = False
    for index, parameter_kind in enumerate(parameter_kinds):
        kind = draw(KINDS)
        name = f"p{index}"
        kinds[name] = kind
        default: Any = inspect.Parameter.empty
        wants_default = draw(st.booleans())
        if parameter_kind is not KEYWORD_ONLY and positional_default:
            wants_default = True  # a positional parameter without default cannot follow one with
        if wants_default:
            default = draw(kind.values)
            positional_default |= parameter_kind is not KEYWORD_ONLY
        parameters.append(
            inspect.Parameter(name, parameter_kind, default=default, annotation=kind.annotation)
        )
    placement = draw(st.sampled_from(["none", "first", "keyword"]))
    if placement == "first":  # a RunContext parameter (never a property), first or keyword-only
        first_kind = draw(st.sampled_from([POSITIONAL_ONLY, POSITIONAL_OR_KEYWORD]))
        if parameters and parameters[0].kind is POSITIONAL_ONLY:
            first_kind = POSITIONAL_ONLY
        parameters.insert(0, inspect.Parameter("context", first_kind, annotation=RunContext[str]))
    elif placement == "keyword":
        parameters.append(inspect.Parameter("context", KEYWORD_ONLY, annotation=RunContext[str]))
    parameters.sort(key=parameter_kind_order)  # stable: the order Python requires
    signature = inspect.Signature(parameters)
    calls: list[inspect.BoundArguments] = []

    def generated(*args: Any, **kwargs: Any) -> None:
        bound = signature.bind(*args, **kwargs)  # the call must fit the signature
        bound.apply_defaults()
        calls.append(bound)

    # inspect.signature() reads it; a function's type declares no __signature__ attribute.
    vars(generated)["__signature__"] = signature
    generated.__annotations__ = {p.name: p.annotation for p in parameters}
    return Generated(generated, signature, kinds, calls)


@st.composite
def calls(draw: st.DrawFn, generated: Generated) -> dict[str, Any]:
    """Python values for the parameters: defaults sometimes left out."""
    values: dict[str, Any] = {}
    for parameter in generated.signature.parameters.values():
        if parameter.name == "context":
            continue
        if parameter.default is inspect.Parameter.empty or draw(st.booleans()):
            values[parameter.name] = draw(generated.kinds[parameter.name].values)
    return values


def expected_arguments(
    generated: Generated, values: dict[str, Any], context: Any
) -> dict[str, Any]:
    expected: dict[str, Any] = {}
    for name, parameter in generated.signature.parameters.items():
        if name == "context":
            expected[name] = context
        else:
            expected[name] = values.get(name, parameter.default)
    return expected


@st.composite
def cases(draw: st.DrawFn) -> tuple[Generated, dict[str, Any]]:
    """A generated function and values for a call of it.

    Drawn before the (async) test runs: a draw hypothesis abandons inside the event loop
    leaves an asyncio task whose exception is never retrieved.
    """
    generated = draw(functions())
    return generated, draw(calls(generated))


def draft_2020_12_validator(schema: dict[str, Any]) -> Validator:
    # Typed as the protocol: the stubs leave the concrete class's `validate` untyped.
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@PROPERTY_SETTINGS
@given(case=cases())
async def test_accepted_arguments_validate_against_the_schema_and_invoke(
    case: tuple[Generated, dict[str, Any]],
) -> None:
    generated, values = case
    made = tool(generated.function)
    schema = made.parameters
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = draft_2020_12_validator(schema)
    arguments = to_jsonable_python(values)
    validator.validate(arguments)

    context = RunContext(deps="deps", call_id="c1", tool_name="generated")
    step = await made.invoke(
        FunctionCallStep(id="c1", name="generated", arguments=arguments), context
    )
    assert not step.is_error, step.result
    assert len(generated.calls) == 1
    assert dict(generated.calls[0].arguments) == expected_arguments(generated, values, context)


@PROPERTY_SETTINGS
@given(generated=functions())
def test_required_lists_exactly_the_parameters_without_defaults(generated: Generated) -> None:
    schema = tool(generated.function).parameters
    required = [
        name
        for name, parameter in generated.signature.parameters.items()
        if name != "context" and parameter.default is inspect.Parameter.empty
    ]
    assert schema.get("required", []) == required
    assert list(schema["properties"]) == [
        name for name in generated.signature.parameters if name != "context"
    ]
    assert schema["additionalProperties"] is False


@PROPERTY_SETTINGS
@given(case=cases())
async def test_an_unknown_argument_is_refused_and_named(
    case: tuple[Generated, dict[str, Any]],
) -> None:
    generated, values = case
    made = tool(generated.function)
    arguments = to_jsonable_python(values)
    arguments["surprise"] = 1
    step = await made.invoke(FunctionCallStep(id="c1", name="generated", arguments=arguments))
    assert step.is_error is True
    assert isinstance(step.result, list)
    assert "- surprise: unexpected argument" in step.result[0].text  # type: ignore[union-attr]
    assert generated.calls == []


@PROPERTY_SETTINGS
@given(generated=functions(), positional=st.booleans(), kind=KINDS)
def test_a_spread_parameter_is_refused_and_named(
    generated: Generated, positional: bool, kind: Kind
) -> None:
    spread = inspect.Parameter.VAR_POSITIONAL if positional else inspect.Parameter.VAR_KEYWORD
    parameters = [
        *generated.signature.parameters.values(),
        inspect.Parameter("rest", spread, annotation=kind.annotation),
    ]
    parameters.sort(key=parameter_kind_order)
    vars(generated.function)["__signature__"] = inspect.Signature(parameters)
    generated.function.__annotations__["rest"] = kind.annotation
    star = "*" if positional else "**"
    with pytest.raises(UsageError, match=rf"^Tool 'generated' cannot take '{re.escape(star)}rest'"):
        tool(generated.function)
