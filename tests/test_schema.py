"""Type hints, defaults and docstrings -> the JSON schema of a tool's parameters."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import functools
import inspect
import json
import pathlib
import sys
import typing
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal, Optional, Union

import pytest
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import NotRequired, TypedDict

from agentkit._context import RunContext
from agentkit._exceptions import UsageError
from agentkit._schema import UnresolvedHintsError, clean_json_schema, resolve_hints
from agentkit._tool import tool


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Point(TypedDict):
    x: int
    y: NotRequired[int]


@dataclasses.dataclass
class Size:
    width: float
    unit: str = "cm"


class Address(BaseModel):
    """A postal address."""

    street: str
    city: str = Field(description="City name.")


class Person(BaseModel):
    name: str
    address: Address


class Node(BaseModel):
    value: int
    children: list[Node] = []


class Opaque:
    """A class pydantic has no schema for."""


ADDRESS = {
    "description": "A postal address.",
    "properties": {
        "street": {"type": "string"},
        "city": {"description": "City name.", "type": "string"},
    },
    "required": ["street", "city"],
    "type": "object",
}

TYPE_MATRIX: list[tuple[Any, dict[str, Any]]] = [
    (str, {"type": "string"}),
    (int, {"type": "integer"}),
    (float, {"type": "number"}),
    (bool, {"type": "boolean"}),
    (None, {"type": "null"}),
    (Optional[int], {"anyOf": [{"type": "integer"}, {"type": "null"}]}),  # noqa: UP045
    (int | None, {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
    (Union[int, str], {"anyOf": [{"type": "integer"}, {"type": "string"}]}),  # noqa: UP007
    (
        int | list[str],
        {"anyOf": [{"type": "integer"}, {"items": {"type": "string"}, "type": "array"}]},
    ),
    (Literal["a", "b"], {"enum": ["a", "b"], "type": "string"}),
    (Literal[1, 2], {"enum": [1, 2], "type": "integer"}),
    (Literal[1, "a", True], {"enum": [1, "a", True]}),
    (Literal["only"], {"enum": ["only"], "type": "string"}),
    (Color, {"enum": ["red", "green"], "type": "string"}),
    (Level, {"enum": [1, 2], "type": "integer"}),
    (list[str], {"items": {"type": "string"}, "type": "array"}),
    (list, {"items": {}, "type": "array"}),
    (
        tuple[int, str],
        {
            "maxItems": 2,
            "minItems": 2,
            "prefixItems": [{"type": "integer"}, {"type": "string"}],
            "type": "array",
        },
    ),
    (tuple[int, ...], {"items": {"type": "integer"}, "type": "array"}),
    (set[str], {"items": {"type": "string"}, "type": "array", "uniqueItems": True}),
    (frozenset[int], {"items": {"type": "integer"}, "type": "array", "uniqueItems": True}),
    (dict[str, int], {"additionalProperties": {"type": "integer"}, "type": "object"}),
    (dict, {"additionalProperties": True, "type": "object"}),
    (
        list[dict[str, list[int]]],
        {
            "items": {
                "additionalProperties": {"items": {"type": "integer"}, "type": "array"},
                "type": "object",
            },
            "type": "array",
        },
    ),
    (
        Point,
        {
            "additionalProperties": False,
            "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
            "required": ["x"],
            "type": "object",
        },
    ),
    (
        Size,
        {
            "additionalProperties": False,
            "properties": {
                "width": {"type": "number"},
                "unit": {"default": "cm", "type": "string"},
            },
            "required": ["width"],
            "type": "object",
        },
    ),
    (Address, ADDRESS),
    (
        Person,
        {
            "properties": {"name": {"type": "string"}, "address": ADDRESS},
            "required": ["name", "address"],
            "type": "object",
        },
    ),
    (datetime.datetime, {"format": "date-time", "type": "string"}),
    (datetime.date, {"format": "date", "type": "string"}),
    (datetime.time, {"format": "time", "type": "string"}),
    (datetime.timedelta, {"format": "duration", "type": "string"}),
    (uuid.UUID, {"format": "uuid", "type": "string"}),
    (pathlib.Path, {"format": "path", "type": "string"}),
    (decimal.Decimal, {"anyOf": [{"type": "number"}, {"type": "string"}]}),
    (bytes, {"format": "binary", "type": "string"}),
    (Any, {}),
]


def function_of(annotation: Any) -> Callable[..., Any]:
    """A function `f(x: annotation)`, as if written by hand."""

    def f(x: Any) -> None:
        del x

    f.__annotations__ = {"x": annotation}
    return f


@pytest.mark.parametrize(("annotation", "expected"), TYPE_MATRIX, ids=repr)
def test_type_matrix(annotation: Any, expected: dict[str, Any]) -> None:
    parameters = tool(function_of(annotation)).parameters
    assert parameters == {
        "type": "object",
        "properties": {"x": expected},
        "required": ["x"],
        "additionalProperties": False,
    }


def test_recursive_models_keep_their_definition() -> None:
    def f(tree: Node) -> None: ...

    assert tool(f).parameters == {
        "type": "object",
        "properties": {"tree": {"$ref": "#/$defs/Node"}},
        "required": ["tree"],
        "additionalProperties": False,
        "$defs": {
            "Node": {
                "properties": {
                    "value": {"type": "integer"},
                    "children": {"default": [], "items": {"$ref": "#/$defs/Node"}, "type": "array"},
                },
                "required": ["value"],
                "type": "object",
            }
        },
    }


def test_an_unannotated_parameter_is_refused_and_any_is_the_way_to_take_any_value() -> None:
    def f(a: int, b=2):  # type: ignore[no-untyped-def]
        del a, b

    with pytest.raises(UsageError) as info:
        tool(f)
    assert str(info.value) == (
        "Tool 'f': parameter 'b' needs a type annotation, which tells the model what to send "
        "(b: str, b: list[int], a pydantic model...). Write `b: Any` to accept any JSON value."
    )

    def g(a: int, b: Any = 2) -> None: ...

    assert tool(g).parameters["properties"] == {"a": {"type": "integer"}, "b": {"default": 2}}


def test_only_the_self_or_cls_of_a_method_may_go_unannotated() -> None:
    def outside(self, x: int) -> None:  # type: ignore[no-untyped-def]
        del self, x

    # A plain function: it may become a method once set on a class, so `self` is tolerated.
    made = tool(outside)  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
    assert list(made.parameters["properties"]) == ["self", "x"]

    def first(x, self: int) -> None:  # type: ignore[no-untyped-def]
        del x, self

    with pytest.raises(UsageError, match=r"parameter 'x' needs a type annotation"):
        tool(first)  # pyright: ignore[reportUnknownArgumentType]

    with pytest.raises(UsageError, match=r"parameter 'self' needs a type annotation"):
        tool(functools.partial(outside, x=1))


def test_required_lists_exactly_the_parameters_without_defaults() -> None:
    def f(
        a: int,
        b: int | None,
        c: int | None = None,
        d: str = "x",
        *,
        e: float,
        g: list[int] = Field(default_factory=list),  # noqa: B008
    ) -> None: ...

    parameters = tool(f).parameters
    assert parameters["required"] == ["a", "b", "e"]
    properties = parameters["properties"]
    assert properties["b"] == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert properties["c"] == {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}
    assert properties["d"] == {"default": "x", "type": "string"}
    assert properties["g"] == {"items": {"type": "integer"}, "type": "array"}


def test_positional_only_and_keyword_only_parameters_are_properties() -> None:
    def f(a: int, /, b: int, *, c: int) -> None: ...

    assert list(tool(f).parameters["properties"]) == ["a", "b", "c"]


def test_star_args_is_refused_with_what_to_take_instead() -> None:
    def f(query: str, *terms: str) -> None: ...

    with pytest.raises(UsageError) as info:
        tool(f)
    assert str(info.value) == (
        "Tool 'f' cannot take '*terms': the model sends named arguments, never positional "
        "ones. Take a list instead (terms: list[str]), or name each parameter."
    )


def test_star_star_kwargs_is_refused_with_what_to_take_instead() -> None:
    def f(query: str, *, limit: int = 10, **filters: int | None) -> None: ...

    with pytest.raises(UsageError) as info:
        tool(name="search")(f)
    assert str(info.value) == (
        "Tool 'search' cannot take '**filters': the model sends only the arguments its schema "
        "names. Name each parameter, or take a dict instead (filters: dict[str, int | None])."
    )


def test_a_wrapper_without_functools_wraps_is_told_to_use_it() -> None:
    def logged(function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            return function(*args, **kwargs)

        return wrapper  # pyright: ignore[reportUnknownVariableType]

    @logged
    def search(query: str) -> str:
        return query

    with pytest.raises(UsageError) as info:
        tool(search)
    assert str(info.value) == (
        "Tool 'wrapper' cannot take '*args': the model sends named arguments, never positional "
        "ones. Take a list instead (args: list[Any]), or name each parameter. If the function "
        "wraps another one, decorate the wrapper with @functools.wraps(wrapped) so the wrapped "
        "function's signature shows through."
    )


def test_defaults_are_json_values() -> None:
    when = datetime.datetime(2024, 5, 1, 12, 30)

    def f(
        color: Color = Color.GREEN,
        when: datetime.datetime = when,
        size: Size = Size(2.0),  # noqa: B008
        tags: frozenset[str] = frozenset({"a"}),
        ident: uuid.UUID = uuid.UUID(int=1),  # noqa: B008
        amount: decimal.Decimal = decimal.Decimal("1.50"),
        empty: None = None,
    ) -> None: ...

    properties = tool(f).parameters["properties"]
    assert properties["color"]["default"] == "green"
    assert properties["when"]["default"] == "2024-05-01T12:30:00"
    assert properties["size"]["default"] == {"width": 2.0, "unit": "cm"}
    assert properties["tags"]["default"] == ["a"]
    assert properties["ident"]["default"] == "00000000-0000-0000-0000-000000000001"
    assert properties["amount"]["default"] == "1.50"
    assert properties["empty"] == {"default": None, "type": "null"}


def test_a_default_with_no_json_form_is_left_out_but_still_optional() -> None:
    sentinel = object()

    def f(x: Any = sentinel) -> None: ...

    parameters = tool(f).parameters
    assert parameters["properties"] == {"x": {}}
    assert "required" not in parameters


def test_field_defaults_do_not_leak_fieldinfo() -> None:
    def f(
        a: int = Field(3, description="Three.", ge=0),
        b: list[str] = Field(default_factory=lambda: ["x"]),  # noqa: B008
        c: Annotated[int, Field(default=5)] = 5,
        d: str = Field(description="Required, described."),
    ) -> None: ...

    parameters = tool(f).parameters
    assert "FieldInfo" not in json.dumps(parameters)
    assert parameters["properties"] == {
        "a": {"default": 3, "description": "Three.", "minimum": 0, "type": "integer"},
        "b": {"items": {"type": "string"}, "type": "array"},
        "c": {"default": 5, "type": "integer"},
        "d": {"description": "Required, described.", "type": "string"},
    }
    assert parameters["required"] == ["d"]


def test_annotated_descriptions() -> None:
    def f(
        a: Annotated[int, Field(description="From Field.")],
        b: Annotated[str, "A plain description."],
        c: Annotated[str, "Plain.", Field(description="Field wins over plain text.")],
        d: Annotated[int, Field(ge=1)] = 1,
    ) -> None:
        """Do it.

        Args:
            a: Docstring loses.
            b: Docstring loses to plain text too.
            c: Docstring loses.
            d: Docstring is used when nothing else says anything.
        """

    properties = tool(f).parameters["properties"]
    assert properties["a"]["description"] == "From Field."
    assert properties["b"]["description"] == "A plain description."
    assert properties["c"]["description"] == "Field wins over plain text."
    assert properties["d"] == {
        "default": 1,
        "description": "Docstring is used when nothing else says anything.",
        "minimum": 1,
        "type": "integer",
    }


def test_a_docstring_description_wins_over_a_model_docstring() -> None:
    def f(home: Address, work: Address) -> None:
        """Compare.

        Args:
            home: Where they live.
        """

    properties = tool(f).parameters["properties"]
    assert properties["home"]["description"] == "Where they live."
    assert properties["work"]["description"] == "A postal address."


def google(
    a: int,
    b: str = "",
    args: tuple[int, ...] = (),
    *,
    c: bool = False,
    d: float = 0.0,
    kwargs: dict[str, int] | None = None,
) -> int:
    """Add things up.

    The body says more,
    over two lines.

    Args:
        a: The a.
        b (str): The b,
            over two lines.
        *args: Extra numbers.

    Keyword Args:
        c: The c.
        **kwargs: Named numbers.

    Other Parameters:
        d: The d.

    Returns:
        The sum.

    Raises:
        ValueError: Never.
    """
    return 0


def numpy(
    a: int,
    b: str = "",
    args: tuple[int, ...] = (),
    *,
    c: bool = False,
    d: float = 0.0,
    kwargs: dict[str, int] | None = None,
) -> int:
    """Add things up.

    The body says more,
    over two lines.

    Parameters
    ----------
    a : int
        The a.
    b : str
        The b,
        over two lines.
    *args
        Extra numbers.

    Other Parameters
    ----------------
    c : bool
        The c.
    d : float
        The d.
    **kwargs
        Named numbers.

    Returns
    -------
    int
        The sum.
    """
    return 0


def rest(
    a: int,
    b: str = "",
    args: tuple[int, ...] = (),
    *,
    c: bool = False,
    d: float = 0.0,
    kwargs: dict[str, int] | None = None,
) -> int:
    """Add things up.

    The body says more,
    over two lines.

    :param a: The a.
    :param str b: The b,
        over two lines.
    :param args: Extra numbers.
    :keyword c: The c.
    :keyword d: The d.
    :keyword kwargs: Named numbers.
    :returns: The sum.
    :raises ValueError: Never.
    """
    return 0


def epydoc(
    a: int,
    b: str = "",
    args: tuple[int, ...] = (),
    *,
    c: bool = False,
    d: float = 0.0,
    kwargs: dict[str, int] | None = None,
) -> int:
    """Add things up.

    The body says more,
    over two lines.

    @param a: The a.
    @param b: The b,
        over two lines.
    @param args: Extra numbers.
    @keyword c: The c.
    @keyword d: The d.
    @keyword kwargs: Named numbers.
    @return: The sum.
    @raise ValueError: Never.
    """
    return 0


@pytest.mark.parametrize("function", [google, numpy, rest, epydoc], ids=lambda f: f.__name__)
def test_docstring_styles(function: Callable[..., Any]) -> None:
    made = tool(function)
    assert made.description == "Add things up.\n\nThe body says more,\nover two lines."
    descriptions = {
        name: schema.get("description") for name, schema in made.parameters["properties"].items()
    }
    assert descriptions == {
        "a": "The a.",
        "b": "The b,\nover two lines.",
        "args": "Extra numbers.",
        "c": "The c.",
        "d": "The d.",
        "kwargs": "Named numbers.",
    }


def test_a_docstring_without_sections_is_the_description() -> None:
    def f(x: int) -> None:
        """Fetch: the thing, with a colon.

        More text.
        """

    made = tool(f)
    assert made.description == "Fetch: the thing, with a colon.\n\nMore text."
    assert made.parameters["properties"]["x"] == {"type": "integer"}


def test_no_docstring_gives_an_empty_description() -> None:
    def f() -> None: ...

    made = tool(f)
    assert made.description == ""
    assert made.parameters == {"type": "object", "properties": {}, "additionalProperties": False}


@pytest.mark.parametrize(
    "annotation",
    [
        RunContext,
        RunContext[int],
        RunContext[Any] | None,
        Optional[RunContext[str]],  # noqa: UP045
        Annotated[RunContext[int], "the run"],
    ],
    ids=repr,
)
def test_run_context_parameters_are_found_by_type(annotation: Any) -> None:
    def f(a: int, whatever: Any, /, b: int, *, c: Any) -> None: ...

    for name in ("whatever", "c"):
        f.__annotations__ = {"a": int, "whatever": Any, "b": int, "c": Any, name: annotation}
        made = tool(f)
        assert name not in made.parameters["properties"]
        assert name not in made.parameters.get("required", [])


def test_a_parameter_named_ctx_is_not_a_context() -> None:
    def f(ctx: str, context: int) -> None: ...

    assert tool(f).parameters["required"] == ["ctx", "context"]


def test_run_context_as_star_args_is_refused() -> None:
    def f(*contexts: RunContext) -> None: ...

    with pytest.raises(UsageError, match=r"RunContext parameter 'contexts' must be a plain"):
        tool(f)


@pytest.mark.parametrize(
    ("annotation", "shown"),
    [(Opaque, "Opaque"), (Callable[[int], int], "Callable"), (list[Opaque], "Opaque")],
    ids=repr,
)
def test_a_parameter_type_without_json_schema_is_refused(annotation: Any, shown: str) -> None:
    def lookup(fine: int, broken: Any) -> None: ...

    lookup.__annotations__ = {"fine": int, "broken": annotation}
    with pytest.raises(UsageError) as info:
        tool(lookup)
    message = str(info.value)
    assert message.startswith("Tool 'lookup': parameter 'broken' has a type with no JSON schema")
    assert shown in message
    assert "RunContext.deps" in message


def test_typing_typed_dict_before_python_3_12_names_the_fix() -> None:
    class Legacy(typing.TypedDict):
        a: int

    def f(x: Legacy) -> None: ...

    f.__annotations__ = {"x": Legacy}
    if sys.version_info >= (3, 12):
        assert tool(f).parameters["required"] == ["x"]
    else:
        with pytest.raises(UsageError, match=r"parameter 'x'.*typing_extensions.TypedDict"):
            tool(f)


def test_an_unknown_name_in_an_annotation_fails_on_first_use() -> None:
    def f(x: DoesNotExist) -> None:  # type: ignore[name-defined]  # noqa: F821
        ...

    # An undefined name on purpose: the parameter type is unknown.
    made = tool(f)  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
    # It may be defined later in the module: not an error yet.
    with pytest.raises(UsageError, match=r"Tool 'f': cannot resolve the type hints .*DoesNotExist"):
        made.parameters  # noqa: B018


def test_clean_json_schema_drops_titles_but_keeps_a_property_named_title() -> None:
    class Book(BaseModel):
        title: str = Field(title="Ignored", default="x")
        meta: dict[str, Any] = {"title": "kept in defaults"}

    def f(book: Book, title: str) -> None: ...

    parameters = tool(f).parameters
    assert parameters["properties"]["book"] == {
        "properties": {
            "title": {"default": "x", "type": "string"},
            "meta": {
                "additionalProperties": True,
                "default": {"title": "kept in defaults"},
                "type": "object",
            },
        },
        "type": "object",
    }
    assert parameters["properties"]["title"] == {"type": "string"}


def test_clean_json_schema_inlines_tagged_unions_without_openapi_discriminator() -> None:
    class Cat(BaseModel):
        kind: Literal["cat"]
        lives: int

    class Dog(BaseModel):
        kind: Literal["dog"]
        good: bool = True

    def f(pet: Annotated[Cat | Dog, Field(discriminator="kind")]) -> None: ...

    assert tool(f).parameters["properties"]["pet"] == {
        "oneOf": [
            {
                "properties": {
                    "kind": {"enum": ["cat"], "type": "string"},
                    "lives": {"type": "integer"},
                },
                "required": ["kind", "lives"],
                "type": "object",
            },
            {
                "properties": {
                    "kind": {"enum": ["dog"], "type": "string"},
                    "good": {"default": True, "type": "boolean"},
                },
                "required": ["kind"],
                "type": "object",
            },
        ]
    }


def test_clean_json_schema_keeps_mutually_recursive_definitions_only() -> None:
    schema = {
        "$defs": {
            "A": {"properties": {"b": {"$ref": "#/$defs/B"}}, "title": "A", "type": "object"},
            "B": {"properties": {"a": {"$ref": "#/$defs/A"}, "c": {"$ref": "#/$defs/C"}}},
            "C": {"const": 1, "title": "C"},
        },
        "properties": {"a": {"$ref": "#/$defs/A", "description": "Field text wins."}},
        "title": "Arguments",
        "type": "object",
    }
    assert clean_json_schema(schema) == {
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/A", "description": "Field text wins."}},
        "$defs": {
            "A": {"properties": {"b": {"$ref": "#/$defs/B"}}, "type": "object"},
            "B": {"properties": {"a": {"$ref": "#/$defs/A"}, "c": {"enum": [1]}}},
        },
    }


def test_clean_json_schema_lets_siblings_of_a_ref_win() -> None:
    schema: dict[str, Any] = {
        "$defs": {"M": {"description": "Model text.", "type": "object"}},
        "properties": {"m": {"$ref": "#/$defs/M", "description": "Field text.", "default": {}}},
    }
    assert clean_json_schema(schema)["properties"]["m"] == {
        "description": "Field text.",
        "type": "object",
        "default": {},
    }


def test_model_config_of_nested_models_is_respected() -> None:
    class Strict(BaseModel):
        model_config = ConfigDict(extra="forbid")
        a: int

    def f(s: Strict) -> None: ...

    assert tool(f).parameters["properties"]["s"]["additionalProperties"] is False


def test_a_parameter_named_like_a_basemodel_attribute_works() -> None:
    def f(schema: str, model_config: int, json: bool, _private: int = 0) -> None: ...

    assert list(tool(f).parameters["properties"]) == ["schema", "model_config", "json", "_private"]


def test_a_default_that_trips_pydantic_gives_a_usage_error() -> None:
    def f(x: dict[str, Any] = {"$ref": "elsewhere"}) -> None:  # noqa: B006
        ...

    with pytest.raises(UsageError, match=r"Tool 'f': cannot build the JSON schema .*'\$ref' key"):
        tool(f)


def test_a_module_with_future_annotations_and_forward_references() -> None:
    from _future_annotations_tools import schedule

    assert schedule.declaration == {
        "type": "function",
        "name": "schedule",
        "description": "Schedule a tree for later.",
        "parameters": {
            "type": "object",
            "properties": {
                "when": {"description": "When to run.", "format": "date-time", "type": "string"},
                "tree": {"$ref": "#/$defs/Tree", "description": "What to run."},
                "owner": {
                    "anyOf": [
                        {
                            "additionalProperties": False,
                            "properties": {
                                "name": {"type": "string"},
                                "email": {
                                    "anyOf": [{"type": "string"}, {"type": "null"}],
                                    "default": None,
                                },
                            },
                            "required": ["name"],
                            "type": "object",
                        },
                        {"type": "null"},
                    ],
                    "default": None,
                    "description": "Who asked.",
                },
                "mode": {
                    "default": "fast",
                    "description": "How.",
                    "enum": ["fast", "slow"],
                    "type": "string",
                },
                "note": {"default": "", "description": "Free text.", "type": "string"},
            },
            "required": ["when", "tree"],
            "additionalProperties": False,
            "$defs": {
                "Tree": {
                    "description": (
                        "A tree of labels, defined after the tool that uses it (a forward "
                        "reference)."
                    ),
                    "properties": {
                        "label": {"type": "string"},
                        "children": {
                            "default": [],
                            "items": {"$ref": "#/$defs/Tree"},
                            "type": "array",
                        },
                    },
                    "required": ["label"],
                    "type": "object",
                }
            },
        },
    }


def test_local_classes_in_string_annotations_are_found_where_the_tool_is_made() -> None:
    # This module has `from __future__ import annotations`: `Local` is only a string here.
    class Local(BaseModel):
        value: int

    @tool
    def f(item: Local) -> None: ...

    assert f.parameters["properties"]["item"]["properties"] == {"value": {"type": "integer"}}


def test_a_method_whose_hints_resolve_later_has_no_self() -> None:
    from _future_annotations_tools import Planner, Tree

    grow = Planner().grow
    assert list(grow.parameters["properties"]) == ["tree"]
    assert grow(Tree(label="a", children=[Tree(label="b")])) == 2


def test_a_signature_without_annotations_dict() -> None:
    def f(*args: Any, **kwargs: Any) -> None: ...

    # inspect.signature() reads it; a function's type declares no __signature__ attribute.
    vars(f)["__signature__"] = inspect.Signature(
        [inspect.Parameter("x", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=int)]
    )
    f.__annotations__ = {}
    assert tool(f).parameters["properties"] == {"x": {"type": "integer"}}


def test_resolve_hints_without_a_namespace() -> None:
    def f(x: Missing) -> None:  # type: ignore[name-defined]  # noqa: F821
        ...

    with pytest.raises(UnresolvedHintsError, match="name 'Missing' is not defined"):
        # An undefined name on purpose: the parameter type is unknown.
        resolve_hints(f, tool_name="f")  # pyright: ignore[reportUnknownArgumentType]


def test_an_annotation_that_fails_to_evaluate() -> None:
    def f(x: list[int](3)) -> None:  # type: ignore[valid-type]
        ...

    with pytest.raises(UsageError, match=r"Tool 'f': cannot evaluate the type hints .*TypeError"):
        # An invalid annotation on purpose: the parameter type is unknown.
        tool(f)  # pyright: ignore[reportUnknownArgumentType]


class _Opaque:
    """A callable whose signature cannot be read (like some C builtins)."""

    __name__ = "opaque"

    @property
    def __signature__(self) -> inspect.Signature:
        raise ValueError("no signature found")

    def __call__(self, *args: Any) -> None:
        return None


def test_a_callable_without_signature_is_refused() -> None:
    with pytest.raises(UsageError, match=r"Tool 'opaque': cannot read the signature"):
        tool(_Opaque())


@pytest.mark.parametrize(
    "doc",
    [
        "Do it.\n\nArgs:\n    a\n",  # Google parser: "Expected a colon"
        "Do it.\n\n:param:\n",  # reST parser: no argument name
        "Do it.\n\n@param a\n",  # Epydoc parser
        "Do it.\n\n:param a:\n",  # a parameter without description
    ],
)
def test_docstrings_a_parser_rejects_still_give_a_description(doc: str) -> None:
    def f(a: int) -> None: ...

    f.__doc__ = doc
    made = tool(f)
    assert made.description.startswith("Do it.")
    assert made.parameters["properties"]["a"] == {"type": "integer"}
