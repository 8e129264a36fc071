"""Signature + type hints + docstring -> one pydantic model and the JSON schema of a tool (pure).

The model validates the arguments the model sends (converting them: an ISO string into a
datetime, a dict into a dataclass) and its JSON schema, cleaned up for the Gemini API, becomes
the tool declaration's `parameters`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pydantic
import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, JsonSchemaWarningKind
from pydantic_core import CoreConfig, core_schema

from agentkit._context import RunContext
from agentkit._docstrings import DocInfo
from agentkit._exceptions import UsageError

__all__ = [
    "FunctionSchema",
    "Param",
    "ParamKind",
    "UnresolvedHintsError",
    "clean_json_schema",
    "describe_validation_error",
    "is_context_type",
    "resolve_hints",
    "unwrap",
    "without_partials",
]

ParamKind = Literal["positional", "keyword"]
"""How a parameter is passed: positionally (also positional-or-keyword), or by keyword."""
_KINDS: dict[Any, ParamKind] = {
    inspect.Parameter.POSITIONAL_ONLY: "positional",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
    inspect.Parameter.KEYWORD_ONLY: "keyword",
}
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
_SELF_NAMES = frozenset({"self", "cls"})
_CONFIG = ConfigDict(extra="forbid", protected_namespaces=())


class _SchemaGenerator(GenerateJsonSchema):
    # A default that is not JSON-serialisable is left out of the schema, without a warning.
    ignored_warning_kinds: set[JsonSchemaWarningKind] = {  # noqa: RUF012 - pydantic's own type
        "skipped-choice",
        "non-serializable-default",
        "skipped-discriminator",
    }

    # A TypedDict or stdlib dataclass inside the arguments model takes its extra="forbid", and
    # validation rejects unknown keys; pydantic < 2.12 (TypedDict) and < 2.14 (dataclass) leave
    # that out of the JSON schema.
    def typed_dict_schema(self, schema: core_schema.TypedDictSchema) -> JsonSchemaValue:
        return _closed(super().typed_dict_schema(schema), schema.get("config"))

    def dataclass_schema(self, schema: core_schema.DataclassSchema) -> JsonSchemaValue:
        return _closed(super().dataclass_schema(schema), schema.get("config"))

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        # pydantic 2.12 and 2.13 give the string form a pattern that rejects an exponent ("1E-7"),
        # which validation accepts; 2.14 dropped it again.
        json_schema = super().decimal_schema(schema)
        for branch in json_schema.get("anyOf", [json_schema]):
            if branch.get("type") == "string":
                branch.pop("pattern", None)
        return json_schema


def _closed(json_schema: JsonSchemaValue, config: CoreConfig | None) -> JsonSchemaValue:
    """`json_schema` with `additionalProperties: false` if `config` forbids extra keys."""
    if config is not None and config.get("extra_fields_behavior") == "forbid":
        json_schema.setdefault("additionalProperties", False)
    return json_schema


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter of the function, in signature order."""

    name: str
    kind: ParamKind
    field: str | None
    """The field of the arguments model; None for a `RunContext` parameter (injected)."""


@dataclasses.dataclass(frozen=True)
class FunctionSchema:
    """The arguments model of a function and the JSON schema sent to the model."""

    model: type[BaseModel]
    parameters: dict[str, Any]
    params: tuple[Param, ...]
    takes_context: bool

    @classmethod
    def build(
        cls,
        signature: inspect.Signature,
        hints: Mapping[str, Any],
        doc: DocInfo,
        *,
        tool_name: str,
        maybe_self: bool = False,
    ) -> FunctionSchema:
        """Build the model of `signature` (types from `hints`, descriptions from `doc`).

        Args:
            signature: The parameters the model gives (and a `RunContext` one).
            hints: The resolved type hints of the function.
            doc: What the docstring says.
            tool_name: For error messages.
            maybe_self: The function may be a method whose class is not made yet: an
                unannotated first parameter named `self` or `cls` is taken as `Any` (the
                schema is built again without it once the function is known to be a method).

        Raises:
            UsageError: A parameter is `*args` or `**kwargs`, has no type annotation, or has a
                type with no JSON schema.
        """
        params: list[Param] = []
        fields: dict[str, Any] = {}
        for index, parameter in enumerate(signature.parameters.values()):
            hint = _hint(parameter, hints)
            if parameter.kind in _VARIADIC:
                raise UsageError(_variadic_message(tool_name, parameter, hint, signature))
            if hint is inspect.Parameter.empty:
                if not (maybe_self and index == 0 and parameter.name in _SELF_NAMES):
                    raise UsageError(_unannotated_message(tool_name, parameter.name))
                hint = Any
            if is_context_type(hint):
                params.append(Param(parameter.name, _KINDS[parameter.kind], None))
                continue
            field = f"p{index}"  # never clashes with BaseModel attributes, whatever the name
            params.append(Param(parameter.name, _KINDS[parameter.kind], field))
            fields[field] = _field(parameter, hint, doc.params.get(parameter.name))
        model, schema = _create_model(tool_name, fields, params)
        takes_context = any(param.field is None for param in params)
        return cls(model, clean_json_schema(schema), tuple(params), takes_context)

    def bind(self, arguments: Any, context: Any) -> tuple[list[Any], dict[str, Any]]:
        """Validate the model's arguments into the positional and keyword arguments of a call.

        Raises:
            pydantic.ValidationError: The arguments do not fit the schema.
        """
        values = self.model.model_validate(arguments).__dict__
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param in self.params:
            value = context if param.field is None else values[param.field]
            if param.kind == "positional":
                args.append(value)
            else:
                kwargs[param.name] = value
        return args, kwargs


def is_context_type(hint: Any) -> bool:
    """Whether `hint` is `RunContext`, `RunContext[...]`, or a union or Annotated of one."""
    origin = get_origin(hint)
    if origin is Annotated:
        return is_context_type(get_args(hint)[0])
    if origin is Union or origin is types.UnionType:
        return any(is_context_type(arg) for arg in get_args(hint))
    candidate = origin if origin is not None else hint
    return isinstance(candidate, type) and issubclass(candidate, RunContext)


def _hint(parameter: inspect.Parameter, hints: Mapping[str, Any]) -> Any:
    """The parameter's type hint, or `inspect.Parameter.empty` when it has none."""
    if parameter.name in hints:
        return hints[parameter.name]
    return parameter.annotation  # from a __signature__ without __annotations__, or empty


def _variadic_message(
    tool_name: str, parameter: inspect.Parameter, hint: Any, signature: inspect.Signature
) -> str:
    name = parameter.name
    if hint is not inspect.Parameter.empty and is_context_type(hint):
        return (
            f"Tool {tool_name!r}: the RunContext parameter {name!r} must be a plain parameter, "
            "not *args or **kwargs."
        )
    # The model sends one JSON object of named arguments: a spread parameter would have to be
    # a property named after it ("kwargs": {...}), which reads as one more real argument.
    item = "Any" if hint is inspect.Parameter.empty else _type_text(hint)
    if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
        message = (
            f"Tool {tool_name!r} cannot take '*{name}': the model sends named arguments, never "
            f"positional ones. Take a list instead ({name}: list[{item}]), or name each "
            "parameter."
        )
    else:
        message = (
            f"Tool {tool_name!r} cannot take '**{name}': the model sends only the arguments "
            "its schema names. Name each parameter, or take a dict instead "
            f"({name}: dict[str, {item}])."
        )
    if sorted(other.kind for other in signature.parameters.values()) == list(_VARIADIC):
        message += (
            " If the function wraps another one, decorate the wrapper with "
            "@functools.wraps(wrapped) so the wrapped function's signature shows through."
        )
    return message


def _type_text(hint: Any) -> str:
    return hint.__qualname__ if isinstance(hint, type) else repr(hint).replace("typing.", "")


def _unannotated_message(tool_name: str, name: str) -> str:
    return (
        f"Tool {tool_name!r}: parameter {name!r} needs a type annotation, which tells the "
        f"model what to send ({name}: str, {name}: list[int], a pydantic model...). Write "
        f"`{name}: Any` to accept any JSON value."
    )


def _field(parameter: inspect.Parameter, hint: Any, doc: str | None) -> Any:
    """The `create_model` definition of one parameter: an Annotated type and maybe a default."""
    extra: dict[str, Any] = {"alias": parameter.name}
    description = _explicit_description(hint, parameter.default)
    if description is None and (text := _plain_description(hint) or doc):
        extra["description"] = text
    annotated = Annotated[hint, Field(**extra)]
    if parameter.default is inspect.Parameter.empty:
        return annotated  # required, unless an Annotated Field gives a default
    return (annotated, parameter.default)  # a FieldInfo default is merged, never leaked


def _explicit_description(hint: Any, default: Any) -> str | None:
    metadata: list[Any] = list(get_args(hint)[1:]) if get_origin(hint) is Annotated else []
    metadata.append(default)
    found = None
    for item in metadata:
        if isinstance(item, FieldInfo) and item.description is not None:
            found = item.description  # the last one wins, as in pydantic
    return found


def _plain_description(hint: Any) -> str | None:
    """The text of `Annotated[T, "description"]` (pydantic ignores plain strings)."""
    if get_origin(hint) is not Annotated:
        return None
    texts = [item for item in get_args(hint)[1:] if isinstance(item, str)]
    return texts[-1] if texts else None


def _create_model(
    tool_name: str, fields: dict[str, Any], params: list[Param]
) -> tuple[type[BaseModel], dict[str, Any]]:
    try:
        model: type[BaseModel] = pydantic.create_model("Arguments", __config__=_CONFIG, **fields)
        schema = model.model_json_schema(by_alias=True, schema_generator=_SchemaGenerator)
    except (pydantic.PydanticUserError, TypeError, ValueError) as exc:
        for param in params:
            if param.field is not None and _has_no_schema(fields[param.field]):
                raise UsageError(
                    f"Tool {tool_name!r}: parameter {param.name!r} has a type with no JSON "
                    f"schema ({_first_line(exc)}). Use a JSON-compatible type (str, int, "
                    "float, bool, list, dict, a pydantic model, a dataclass, a TypedDict...), "
                    "or reach the object through RunContext.deps instead of a parameter."
                ) from exc
        raise UsageError(  # pragma: no cover - every type passed alone, so a combination failed
            f"Tool {tool_name!r}: cannot build the JSON schema of its parameters ({exc})."
        ) from exc
    except KeyError as exc:
        # pydantic fails on a default value holding a "$ref" key, which it takes for a schema
        # reference: https://github.com/pydantic/pydantic/issues/9783
        raise UsageError(
            f"Tool {tool_name!r}: cannot build the JSON schema of its parameters (KeyError: "
            f"{exc}); a default value with a '$ref' key is known to cause this."
        ) from exc
    return model, schema


def _has_no_schema(definition: Any) -> bool:
    annotation: Any = (
        typing.cast("Sequence[Any]", definition)[0] if isinstance(definition, tuple) else definition
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # only the error matters here: an alias alone warns
            TypeAdapter(annotation).json_schema(schema_generator=_SchemaGenerator)
    except (pydantic.PydanticUserError, TypeError, ValueError):
        return True
    return False


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# JSON schema clean-up. Keywords whose value is a map of schemas, a list of schemas, or a schema:
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas"})
_SCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
_SCHEMA_VALUES = frozenset(
    {
        "items",
        "additionalProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
# `title` is pydantic's noise (a title-cased field name); `discriminator` is OpenAPI's keyword,
# whose mapping would point at inlined definitions.
_DROPPED = frozenset({"title", "discriminator"})
_DEFS_PREFIX = "#/$defs/"
_TOP_ORDER = ("type", "description", "properties", "required", "additionalProperties")


def clean_json_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Turn pydantic's JSON schema into the `parameters` the Gemini API gets.

    Titles go; `const` becomes a one-value `enum`; every `$ref` is inlined except those to
    recursive definitions, which stay in `$defs` (a recursive type cannot be written out).
    """
    definitions: Mapping[str, Any] = schema.get("$defs", {})
    kept = _recursive(definitions)
    cleaner = _Cleaner(definitions, kept)
    body = cleaner.clean({key: value for key, value in schema.items() if key != "$defs"})
    # The usual order of a JSON schema object, for people reading declarations.
    cleaned = {key: body.pop(key) for key in _TOP_ORDER if key in body}
    cleaned.update(body)
    if kept:
        cleaned["$defs"] = {name: cleaner.clean(definitions[name]) for name in sorted(kept)}
    return cleaned


class _Cleaner:
    def __init__(self, definitions: Mapping[str, Any], kept: frozenset[str]) -> None:
        self.definitions = definitions
        self.kept = kept

    def clean(self, node: Mapping[str, Any]) -> dict[str, Any]:
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS_PREFIX):
            name = ref.removeprefix(_DEFS_PREFIX)
            if name not in self.kept:
                # Keywords next to the $ref (a field's description, default) win.
                siblings = {key: value for key, value in node.items() if key != "$ref"}
                return {**self.clean(self.definitions[name]), **self.clean(siblings)}
        cleaned: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED:
                continue
            if key == "const" and "enum" not in node:
                cleaned["enum"] = [value]
            elif key in _SCHEMA_MAPS and isinstance(value, dict):
                items = typing.cast("dict[str, Any]", value).items()
                cleaned[key] = {name: self.clean(sub) for name, sub in items}
            elif key in _SCHEMA_LISTS and isinstance(value, list):
                cleaned[key] = [self.clean(sub) for sub in typing.cast("Sequence[Any]", value)]
            elif key in _SCHEMA_VALUES and isinstance(value, dict):
                cleaned[key] = self.clean(typing.cast("dict[str, Any]", value))
            else:
                cleaned[key] = value
        return cleaned


def _recursive(definitions: Mapping[str, Any]) -> frozenset[str]:
    """The definitions that reach themselves through `$ref`s."""
    edges = {name: frozenset(_refs(body)) for name, body in definitions.items()}

    @functools.cache
    def reachable(name: str) -> frozenset[str]:
        seen: set[str] = set()
        stack = list(edges.get(name, ()))
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(edges.get(current, ()))
        return frozenset(seen)

    return frozenset(name for name in definitions if name in reachable(name))


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in typing.cast("Mapping[str, Any]", node).items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_DEFS_PREFIX):
                yield value.removeprefix(_DEFS_PREFIX)
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in typing.cast("Sequence[Any]", node):
            yield from _refs(item)


# Callables -> signature, hints, doc.


def without_partials(function: object) -> object:
    """The callable inside `function`'s layers of `functools.partial`, if any."""
    while isinstance(function, functools.partial):
        function = typing.cast("functools.partial[object]", function).func
    return function


def unwrap(function: object) -> Callable[..., Any]:
    """The plain function whose annotations and docstring describe `function`."""
    while True:
        function = without_partials(function)
        if isinstance(function, (staticmethod, classmethod, types.MethodType)):
            function = typing.cast("Any", function).__func__
        elif inspect.isroutine(function) or isinstance(function, type):
            return typing.cast("Callable[..., Any]", function)
        else:  # a callable instance
            return type(function).__call__


class UnresolvedHintsError(UsageError):
    """A type hint names something that does not exist (yet)."""


def resolve_hints(
    function: Callable[..., Any], *, tool_name: str, namespace: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`typing.get_type_hints(include_extras=True)`, with a helpful error.

    Args:
        function: The function whose hints to resolve.
        tool_name: For error messages.
        namespace: Where the tool was made (the locals of a function that defines a tool):
            tried when a name is not found in the function's module.

    Raises:
        UnresolvedHintsError: An annotation names something that does not exist.
        UsageError: An annotation cannot be evaluated.
    """
    try:
        try:
            return typing.get_type_hints(function, include_extras=True)
        except NameError:
            if namespace is None:
                raise
            return typing.get_type_hints(function, localns=dict(namespace), include_extras=True)
    except NameError as exc:
        raise UnresolvedHintsError(
            f"Tool {tool_name!r}: cannot resolve the type hints of "
            f"{getattr(function, '__qualname__', function)!r} ({exc}). Names used in "
            "annotations must exist at module level by the time the tool is first used "
            "(not only under `if TYPE_CHECKING:`, nor only inside a function)."
        ) from exc
    except Exception as exc:  # TypeError, AttributeError... from evaluating a string
        raise UsageError(
            f"Tool {tool_name!r}: cannot evaluate the type hints of "
            f"{getattr(function, '__qualname__', function)!r} ({type(exc).__name__}: {exc})."
        ) from exc


# Validation errors -> a message the model can act on.

_MAX_PROBLEMS = 20
_MAX_VALUE_CHARS = 120
_MISSING = "missing"
_UNEXPECTED = frozenset({"extra_forbidden", "unexpected_keyword_argument"})


def describe_validation_error(
    tool_name: str,
    error: pydantic.ValidationError,
    arguments: Any,
    parameters: Mapping[str, Any],
) -> str:
    """Name every bad argument, what was received and what was expected.

    Args:
        tool_name: The tool called.
        error: Raised by `FunctionSchema.bind`.
        arguments: The arguments the model sent (to tell paths from pydantic's union tags).
        parameters: The tool's JSON schema (to say what a missing argument should be).
    """
    problems: dict[str, list[tuple[str, str]]] = {}
    for detail in error.errors(include_url=False):
        keys, tags = _split_loc(detail["loc"], arguments, detail["type"])
        path = _format_path(keys)
        problems.setdefault(path, []).append(_problem(detail, keys, tags, parameters))
    lines = [f"Invalid arguments for tool {tool_name!r}, so it did not run:"]
    for path, found in list(problems.items())[:_MAX_PROBLEMS]:
        received = next((text for _, text in found if text), "")
        lines.append(f"- {path}: {'; or '.join(text for text, _ in found)}{received}")
    if len(problems) > _MAX_PROBLEMS:
        lines.append(f"- ... and {len(problems) - _MAX_PROBLEMS} more")
    lines.append("Call the tool again with corrected arguments.")
    return "\n".join(lines)


def _problem(
    detail: Any,  # pydantic_core.ErrorDetails
    keys: list[str | int],
    tags: list[str],
    parameters: Mapping[str, Any],
) -> tuple[str, str]:
    """What is wrong, and what was received (empty when nothing was)."""
    properties: Mapping[str, Any] = parameters.get("properties", {})
    top = keys[0] if len(keys) == 1 else None
    if detail["type"] == _MISSING:
        if isinstance(top, str) and top in properties:
            return f"missing required argument; expected {_fragment(properties[top])}", ""
        return "missing required field", ""
    if detail["type"] in _UNEXPECTED:
        if isinstance(top, str):
            names = ", ".join(properties) or "none"
            return f"unexpected argument; the arguments are: {names}", ""
        return "unexpected field", ""
    text: str = detail["msg"]
    if tags:
        text += f" (as {', '.join(tags)})"
    return text, f"; received {_short_json(detail['input'])}"


def _split_loc(
    loc: tuple[str | int, ...], arguments: Any, error_type: str
) -> tuple[list[str | int], list[str]]:
    """Split pydantic's `loc` into the path in the arguments and the union members tried."""
    keys: list[str | int] = []
    tags: list[str] = []
    current = arguments
    for index, segment in enumerate(loc):
        absent_ok = index == len(loc) - 1 and error_type == _MISSING
        if isinstance(current, dict) and (segment in current or absent_ok):
            keys.append(segment)
            current = typing.cast("Mapping[Any, Any]", current).get(segment)
        elif (
            isinstance(segment, int)
            and isinstance(current, (list, tuple))
            and (0 <= segment < len(typing.cast("Sequence[Any]", current)) or absent_ok)
        ):
            keys.append(segment)
            items = typing.cast("Sequence[Any]", current)
            current = items[segment] if segment < len(items) else None
        else:
            tags.append(str(segment))
    return keys, tags


def _format_path(keys: list[str | int]) -> str:
    if not keys:
        return "arguments"
    text = ""
    for key in keys:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return text


def _fragment(schema: Mapping[str, Any]) -> str:
    brief = {key: value for key, value in schema.items() if key not in ("description", "default")}
    return _truncate(pydantic_core.to_json(brief).decode())


def _short_json(value: Any) -> str:
    return _truncate(pydantic_core.to_json(value, serialize_unknown=True).decode())


def _truncate(text: str) -> str:
    if len(text) <= _MAX_VALUE_CHARS:
        return text
    return text[: _MAX_VALUE_CHARS - 3] + "..."
