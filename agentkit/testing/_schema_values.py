"""Deterministic example values for JSON schemas (the emulator's fake function arguments).

`example_value(schema)` returns a JSON value that is valid for `schema`: the default
behaviour uses it for function-call arguments and structured answers. It understands the
keywords tools declare in practice (`type` (also as a list), `enum`, `const`, `anyOf`,
`oneOf`, `allOf`, `$ref` into `$defs`/`definitions`, `properties`, `required`,
`additionalProperties`, `items`, `prefixItems`, `minItems`/`maxItems`, `uniqueItems`,
numeric bounds and `multipleOf`, string lengths, common `format`s, OpenAPI `nullable`), and
`matches(schema, value)` is the small validator it needs to pick `oneOf` branches.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, cast

__all__ = ["example_value", "matches"]

# Raw JSON schemas and values are untyped by nature.
Json = Any

_MAX_DEPTH = 6
_FORMATS: dict[str, str] = {
    "date-time": "2026-01-02T03:04:05Z",
    "date": "2026-01-02",
    "time": "03:04:05Z",
    "duration": "P1D",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "byte": "ZXhhbXBsZQ==",
    "regex": ".*",
}
_TYPE_ORDER = ("object", "array", "string", "integer", "number", "boolean", "null")


def example_value(schema: Json, *, name: str = "value") -> Json:
    """Return a deterministic value valid for the JSON schema `schema`.

    Args:
        schema: A JSON schema (a dict, or a boolean schema).
        name: A hint used to build example strings (for example the property name).
    """
    return _Generator(schema).value(schema, name, 0, 0)


def matches(schema: Json, value: Json, root: Json = None) -> bool:
    """Tell whether `value` satisfies `schema` (the keywords `example_value` knows)."""
    return _Matcher(schema if root is None else root).ok(schema, value)


def _obj(value: Json) -> dict[str, Json] | None:
    return cast(Any, value) if isinstance(value, dict) else None


def _arr(value: Json) -> list[Json]:
    return cast(Any, value) if isinstance(value, list) else []


def _num(value: Json) -> float | None:
    return float(value) if _is_number(value) else None


def _resolve(root: Json, ref: Json) -> Json:
    if not isinstance(ref, str) or not ref.startswith("#"):
        return {}
    node: Json = root
    for part in ref[1:].split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        items, mapping = _arr(node), _obj(node)
        if mapping is not None:
            node = mapping.get(part, {})
        else:
            node = items[int(part)] if part.isdigit() and int(part) < len(items) else {}
    return node


def _types(schema: dict[str, Json]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [t for t in _TYPE_ORDER if t in declared]
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        return ["object"]
    if "items" in schema or "prefixItems" in schema:
        return ["array"]
    return []


class _Generator:
    def __init__(self, root: Json) -> None:
        self.root = root

    def value(self, schema: Json, name: str, depth: int, salt: int) -> Json:
        s = _obj(schema)
        if s is None:
            return f"{name}{salt}" if salt else name
        if "$ref" in s:
            rest = {k: v for k, v in s.items() if k != "$ref"}
            merged = {**(_obj(_resolve(self.root, s["$ref"])) or {}), **rest}
            return self.value(merged, name, depth + 1, salt)
        if "const" in s:
            return s["const"]
        enum = _arr(s.get("enum"))
        if enum:
            return enum[salt % len(enum)]
        if "allOf" in s:
            return self.value(self._merge_all(s), name, depth, salt)
        for key in ("oneOf", "anyOf"):
            if _arr(s.get(key)):
                return self._choose(s, key, name, depth, salt)
        types = _types(s)
        kind = types[0] if types else "string"
        if depth >= _MAX_DEPTH and "null" in types:
            kind = "null"
        return self._typed(kind, s, name, depth, salt)

    def _merge_all(self, schema: dict[str, Json]) -> dict[str, Json]:
        merged: dict[str, Json] = {k: v for k, v in schema.items() if k != "allOf"}
        for item in _arr(schema.get("allOf")):
            part = _obj(item)
            if part is not None and "$ref" in part:
                part = _obj(_resolve(self.root, part["$ref"]))
            if part is None:
                continue
            if "allOf" in part:
                part = self._merge_all(part)
            for key, val in part.items():
                props = _obj(val)
                if key == "properties" and props is not None:
                    merged["properties"] = {**(_obj(merged.get("properties")) or {}), **props}
                elif key == "required":
                    merged["required"] = [*_arr(merged.get("required")), *_arr(val)]
                else:
                    merged.setdefault(key, val)
        return merged

    def _choose(self, schema: dict[str, Json], key: str, name: str, depth: int, salt: int) -> Json:
        base = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf")}
        branches = list(_arr(schema[key]))
        if depth >= _MAX_DEPTH:
            # Past the depth limit a null branch ends a recursive schema early.
            branches.sort(key=lambda b: (_obj(b) or {}).get("type") != "null")
        matcher = _Matcher(self.root)
        fallback: Json = None
        for branch in branches:
            part = _obj(branch)
            merged: Json = {**base, **part} if part is not None else branch
            others = [b for b in branches if b is not branch]
            for candidate in self._candidates(merged, name, depth, salt):
                if fallback is None:
                    fallback = candidate
                # oneOf needs exactly one matching branch; anyOf only needs this one.
                if key == "anyOf" or (
                    matcher.ok(merged, candidate)
                    and not any(matcher.ok(b, candidate) for b in others)
                ):
                    return candidate
        return fallback

    def _candidates(self, schema: Json, name: str, depth: int, salt: int) -> list[Json]:
        values = [self.value(schema, name, depth + 1, salt + k) for k in range(3)]
        # A fractional number tells a "number" branch apart from an "integer" one.
        values += [v + 0.5 for v in values if _is_number(v) and float(v).is_integer()]
        return values

    def _typed(self, kind: str, s: dict[str, Json], name: str, depth: int, salt: int) -> Json:
        if kind == "object":
            return self._object(s, depth, salt)
        if kind == "array":
            return self._array(s, name, depth)
        if kind in ("integer", "number"):
            return _number(s, kind == "integer", salt)
        if kind == "boolean":
            return salt % 2 == 0
        if kind == "null":
            return None
        return _string(s, name, salt)

    def _object(self, s: dict[str, Json], depth: int, salt: int) -> dict[str, Json]:
        props = _obj(s.get("properties")) or {}
        required = [r for r in _arr(s.get("required")) if isinstance(r, str)]
        names = list(dict.fromkeys([*required, *props]))
        if depth >= _MAX_DEPTH:
            names = list(dict.fromkeys(required))
        if isinstance(s.get("maxProperties"), int):
            names = names[: max(s["maxProperties"], len(required))]
        out: dict[str, Json] = {}
        for key in names:
            sub = props.get(key, s.get("additionalProperties", True))
            if sub is False and key not in required:
                continue
            out[key] = self.value(sub, key, depth + 1, salt)
        extra = s.get("additionalProperties", True)
        wanted = s.get("minProperties", 1 if not props and _obj(extra) is not None else 0)
        index = 0
        while len(out) < wanted and extra is not False:
            index += 1
            key = f"key{index}"
            if key not in out:
                out[key] = self.value(extra, key, depth + 1, salt)
        return out

    def _array(self, s: dict[str, Json], name: str, depth: int) -> list[Json]:
        prefix, items = _item_schemas(s)
        low = s.get("minItems", 0)
        size = max(low, len(prefix) if depth < _MAX_DEPTH else 0, 1 if depth < _MAX_DEPTH else 0)
        if isinstance(s.get("maxItems"), int):
            size = min(size, s["maxItems"])
        if items is False:
            size = min(size, len(prefix))
        out: list[Json] = []
        for index in range(size):
            sub = prefix[index] if index < len(prefix) else items
            # A different salt per item keeps items distinct when uniqueItems asks for it.
            out.append(self.value(sub, name, depth + 1, index))
        return out


def _item_schemas(s: dict[str, Json]) -> tuple[list[Json], Json]:
    items = s.get("items", True)
    if isinstance(items, list):  # the draft 4 tuple form
        return _arr(items), s.get("additionalItems", True)
    return _arr(s.get("prefixItems")), items


def _string(s: dict[str, Json], name: str, salt: int) -> str:
    fmt = s.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        # Formatted strings stay well-formed; a salt only varies the formats that allow it.
        base = _FORMATS[fmt]
        if salt and fmt in ("email", "uri", "url"):
            base = f"user{salt}@example.com" if fmt == "email" else f"https://example.com/{salt}"
        return base
    suffix = str(salt) if salt else ""
    base = name + suffix
    low, high = s.get("minLength", 0), s.get("maxLength")
    if len(base) < low:
        base += "x" * (low - len(base))
    if isinstance(high, int) and len(base) > high:
        keep = max(high - len(suffix), 0)
        base = (base[:keep] + suffix)[:high]
    pattern = s.get("pattern")
    if isinstance(pattern, str) and not re.search(pattern, base):
        for candidate in ("a", "A", "0", "a1", "example", "x" * max(low, 1), ""):
            if re.search(pattern, candidate):
                return candidate
    return base


def _bounds(s: dict[str, Json], integer: bool) -> tuple[float, float]:
    eps = 1 if integer else 1e-6
    low, high = -math.inf, math.inf
    minimum, maximum = _num(s.get("minimum")), _num(s.get("maximum"))
    above, below = _num(s.get("exclusiveMinimum")), _num(s.get("exclusiveMaximum"))
    if minimum is not None:
        low = minimum + (eps if s.get("exclusiveMinimum") is True else 0)
    if maximum is not None:
        high = maximum - (eps if s.get("exclusiveMaximum") is True else 0)
    if above is not None:
        low = max(low, above + eps)
    if below is not None:
        high = min(high, below - eps)
    return low, high


def _number(s: dict[str, Json], integer: bool, salt: int) -> int | float:
    low, high = _bounds(s, integer)
    step = _num(s.get("multipleOf"))
    if step is not None and step > 0:
        start = max(math.ceil(low / step), 1) if low > -math.inf else 1
        if start * step > high:
            start = math.floor(high / step)
        if (start + salt) * step <= high:
            start += salt
        # An exact multiple (k * step) keeps floating-point multipleOf checks happy.
        value = start * step
        return int(value) if value.is_integer() else value
    value = min(max(1.0 + salt, low), high)
    if value == int(value) or integer:
        rounded = math.ceil(value) if value == low else math.floor(value)
        if low <= rounded <= high:
            return int(rounded)
    return value


def _is_number(value: Json) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Matcher:
    def __init__(self, root: Json) -> None:
        self.root = root

    def ok(self, schema: Json, value: Json) -> bool:
        s = _obj(schema)
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
        if "$ref" in s and not self.ok(_resolve(self.root, s["$ref"]), value):
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
        props = _obj(s.get("properties")) or {}
        mapping = _obj(value) or {}
        if any(key not in mapping for key in _arr(s.get("required"))):
            return False
        extra = s.get("additionalProperties", True)
        return all(self.ok(props.get(key, extra), item) for key, item in mapping.items())

    def _array_ok(self, s: dict[str, Json], value: Json) -> bool:
        if not isinstance(value, list):
            return True
        prefix, items = _item_schemas(s)
        values = _arr(value)
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
        pattern = s.get("pattern")
        return not isinstance(pattern, str) or re.search(pattern, value) is not None
    number, step = _num(value), _num(s.get("multipleOf"))
    if number is not None:
        low, high = _bounds(s, integer=False)
        if not low <= number <= high:
            return False
        return step is None or step <= 0 or (number / step).is_integer()
    return True


def _is_type(value: Json, kind: str) -> bool:
    checks: dict[str, Callable[[Json], bool]] = {
        "null": lambda v: v is None,
        "boolean": lambda v: isinstance(v, bool),
        "integer": lambda v: _is_number(v) and float(v).is_integer(),
        "number": _is_number,
        "string": lambda v: isinstance(v, str),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    check = checks.get(kind)
    return check(value) if check is not None else True
