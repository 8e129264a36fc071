"""A small JSON-schema validator: enough for `example_value` to pick `oneOf` branches."""

from __future__ import annotations

import datetime
import ipaddress
import math
import re
import uuid
from collections.abc import Callable
from typing import Any, cast

__all__ = [
    "Json",
    "Matcher",
    "arr",
    "bounds",
    "is_number",
    "item_schemas",
    "matches",
    "num",
    "obj",
    "resolve",
    "search",
]

# Raw JSON schemas and values are untyped by nature.
Json = Any


def matches(schema: Json, value: Json, root: Json = None) -> bool:
    """Tell whether `value` satisfies `schema` (the keywords `example_value` knows)."""
    return Matcher(schema if root is None else root).ok(schema, value)


def obj(value: Json) -> dict[str, Json] | None:
    """Return `value` when it is a JSON object, else None."""
    return cast(Any, value) if isinstance(value, dict) else None


def arr(value: Json) -> list[Json]:
    """Return `value` when it is a JSON array, else an empty list."""
    return cast(Any, value) if isinstance(value, list) else []


def num(value: Json) -> float | None:
    """Return `value` as a float when it is a JSON number, else None."""
    return float(value) if is_number(value) else None


def resolve(root: Json, ref: Json) -> Json:
    """Follow a local `$ref` (`#/$defs/Name`) from `root`; `{}` when it leads nowhere."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        return {}
    node: Json = root
    for part in ref[1:].split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        items, mapping = arr(node), obj(node)
        if mapping is not None:
            node = mapping.get(part, {})
        else:
            node = items[int(part)] if part.isdigit() and int(part) < len(items) else {}
    return node


def item_schemas(s: dict[str, Json]) -> tuple[list[Json], Json]:
    """Return the positional item schemas and the schema of the items after them."""
    items = s.get("items", True)
    if isinstance(items, list):  # the draft 4 tuple form
        return arr(items), s.get("additionalItems", True)
    return arr(s.get("prefixItems")), items


def search(pattern: str, value: str) -> bool:
    """Tell whether `pattern` matches `value` (true when `pattern` is not a Python regex)."""
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return True  # not a Python regex: nothing better to offer than the plain value


def bounds(s: dict[str, Json], integer: bool) -> tuple[float, float]:
    """Return the inclusive numeric range a schema allows (`eps` past exclusive bounds)."""
    eps = 1 if integer else 1e-6
    low, high = -math.inf, math.inf
    minimum, maximum = num(s.get("minimum")), num(s.get("maximum"))
    above, below = num(s.get("exclusiveMinimum")), num(s.get("exclusiveMaximum"))
    if minimum is not None:
        low = minimum + (eps if s.get("exclusiveMinimum") is True else 0)
    if maximum is not None:
        high = maximum - (eps if s.get("exclusiveMaximum") is True else 0)
    if above is not None:
        low = max(low, above + eps)
    if below is not None:
        high = min(high, below - eps)
    return low, high


def is_number(value: Json) -> bool:
    """Tell whether `value` is a JSON number (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Matcher:
    """Checks values against schemas, resolving `$ref`s from `root`."""

    def __init__(self, root: Json) -> None:
        self.root = root

    def ok(self, schema: Json, value: Json) -> bool:
        """Tell whether `value` satisfies `schema`."""
        s = obj(schema)
        if s is None:
            return schema is not False
        return (
            self._combinators(s, value)
            and _type_ok(s, value)
            and self._object_ok(s, value)
            and self._array_ok(s, value)
            and _scalar_ok(s, value)
        )

    def _combinators(self, s: dict[str, Json], value: Json) -> bool:
        if "$ref" in s and not self.ok(resolve(self.root, s["$ref"]), value):
            return False
        if "const" in s and value != s["const"]:
            return False
        if isinstance(s.get("enum"), list) and value not in s["enum"]:
            return False
        if not all(self.ok(sub, value) for sub in s.get("allOf", [])):
            return False
        if "anyOf" in s and not any(self.ok(b, value) for b in s["anyOf"]):
            return False
        if "oneOf" in s and sum(self.ok(b, value) for b in s["oneOf"]) != 1:
            return False
        return not ("not" in s and self.ok(s["not"], value))

    def _object_ok(self, s: dict[str, Json], value: Json) -> bool:
        if not isinstance(value, dict):
            return True
        props = obj(s.get("properties")) or {}
        mapping = obj(value) or {}
        if any(key not in mapping for key in arr(s.get("required"))):
            return False
        extra = s.get("additionalProperties", True)
        return all(self.ok(props.get(key, extra), item) for key, item in mapping.items())

    def _array_ok(self, s: dict[str, Json], value: Json) -> bool:
        if not isinstance(value, list):
            return True
        prefix, items = item_schemas(s)
        values = arr(value)
        if not s.get("minItems", 0) <= len(values) <= s.get("maxItems", math.inf):
            return False
        return all(
            self.ok(prefix[index] if index < len(prefix) else items, item)
            for index, item in enumerate(values)
        )


def _type_ok(s: dict[str, Json], value: Json) -> bool:
    declared = s.get("type")
    if declared is None:
        return True
    allowed = [declared] if isinstance(declared, str) else list(declared)
    if s.get("nullable") is True:
        allowed.append("null")
    return any(_is_type(value, t) for t in allowed)


def _scalar_ok(s: dict[str, Json], value: Json) -> bool:
    if isinstance(value, str):
        if not s.get("minLength", 0) <= len(value) <= s.get("maxLength", math.inf):
            return False
        pattern, fmt = s.get("pattern"), s.get("format")
        if isinstance(fmt, str) and not _format_ok(fmt, value):
            return False
        return not isinstance(pattern, str) or search(pattern, value)
    number, step = num(value), num(s.get("multipleOf"))
    if number is not None:
        low, high = bounds(s, integer=False)
        if not low <= number <= high:
            return False
        return step is None or step <= 0 or (number / step).is_integer()
    return True


def _format_ok(fmt: str, value: str) -> bool:
    checks: dict[str, Callable[[str], object]] = {
        "date": datetime.date.fromisoformat,
        "date-time": lambda v: datetime.datetime.fromisoformat(v.replace("Z", "+00:00")),
        "uuid": uuid.UUID,
        "ipv4": ipaddress.IPv4Address,
        "ipv6": ipaddress.IPv6Address,
        "email": lambda v: v.index("@"),
    }
    check = checks.get(fmt)
    try:
        if check is not None:
            check(value)
    except ValueError:
        return False
    return True


def _is_type(value: Json, kind: str) -> bool:
    checks: dict[str, Callable[[Json], bool]] = {
        "null": lambda v: v is None,
        "boolean": lambda v: isinstance(v, bool),
        "integer": lambda v: is_number(v) and float(v).is_integer(),
        "number": is_number,
        "string": lambda v: isinstance(v, str),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    check = checks.get(kind)
    return check(value) if check is not None else True
