"""Deterministic example values for JSON schemas (the emulator's fake function arguments).

`example_value(schema)` returns a JSON value that is valid for `schema`: the default
behaviour uses it for function-call arguments and structured answers. It understands the
keywords tools declare in practice (`type` (also as a list), `enum`, `const`, `anyOf`,
`oneOf`, `allOf`, `$ref` into `$defs`/`definitions`, `properties`, `required`,
`additionalProperties`, `items`, `prefixItems`, `minItems`/`maxItems`, `uniqueItems`,
numeric bounds and `multipleOf`, string lengths, `pattern`, common `format`s, OpenAPI
`nullable`). `_schema_match` is the small validator it needs to pick `oneOf` branches.
"""

from __future__ import annotations

import math
import re

from agentkit.testing._regex_sample import regex_sample
from agentkit.testing._schema_match import (
    Json,
    Matcher,
    arr,
    bounds,
    is_number,
    item_schemas,
    num,
    obj,
    resolve,
    search,
)

__all__ = ["example_value"]

_MAX_DEPTH = 6
_GIVE_UP_DEPTH = 60
_MAX_CANDIDATES = 64
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
        s = obj(schema)
        if s is None:
            return f"{name}{salt}" if salt else name
        if depth > _GIVE_UP_DEPTH:
            return None  # a schema that requires infinite nesting has no valid value
        if "$ref" in s:
            rest = {k: v for k, v in s.items() if k != "$ref"}
            merged = {**(obj(resolve(self.root, s["$ref"])) or {}), **rest}
            return self.value(merged, name, depth + 1, salt)
        if "const" in s:
            return s["const"]
        enum = arr(s.get("enum"))
        if enum:
            return enum[salt % len(enum)]
        if "allOf" in s:
            return self.value(self._merge_all(s), name, depth, salt)
        for key in ("oneOf", "anyOf"):
            if arr(s.get(key)):
                return self._choose(s, key, name, depth, salt)
        types = _types(s)
        kind = types[0] if types else "string"
        if depth >= _MAX_DEPTH and "null" in types:
            kind = "null"
        return self._typed(kind, s, name, depth, salt)

    def _merge_all(self, schema: dict[str, Json]) -> dict[str, Json]:
        merged: dict[str, Json] = {k: v for k, v in schema.items() if k != "allOf"}
        for item in arr(schema.get("allOf")):
            part = obj(item)
            if part is not None and "$ref" in part:
                part = obj(resolve(self.root, part["$ref"]))
            if part is None:
                continue
            if "allOf" in part:
                part = self._merge_all(part)
            for key, val in part.items():
                props = obj(val)
                if key == "properties" and props is not None:
                    merged["properties"] = {**(obj(merged.get("properties")) or {}), **props}
                elif key == "required":
                    merged["required"] = [*arr(merged.get("required")), *arr(val)]
                else:
                    merged.setdefault(key, val)
        return merged

    def _choose(self, schema: dict[str, Json], key: str, name: str, depth: int, salt: int) -> Json:
        base = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf")}
        branches = list(arr(schema[key]))
        if depth >= _MAX_DEPTH:
            # Past the depth limit a null branch ends a recursive schema early.
            branches.sort(key=lambda b: (obj(b) or {}).get("type") != "null")
        matcher = Matcher(self.root)
        fallback: Json = None
        for branch in branches:
            part = obj(branch)
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
        s = obj(schema) or {}
        base = {k: v for k, v in s.items() if k not in ("oneOf", "anyOf")}
        for branch in arr(s.get("oneOf")) + arr(s.get("anyOf")):
            # A nested choice may need a value from a branch other than its first.
            part = obj(branch)
            merged: Json = {**base, **part} if part is not None else branch
            if len(values) < _MAX_CANDIDATES:
                values += self._candidates(merged, name, depth + 1, salt)
        # A fractional number tells a "number" branch apart from an "integer" one.
        values += [v + 0.5 for v in values if is_number(v) and float(v).is_integer()]
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
        props = obj(s.get("properties")) or {}
        required = [r for r in arr(s.get("required")) if isinstance(r, str)]
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
        wanted = s.get("minProperties", 1 if not props and obj(extra) is not None else 0)
        index = 0
        while len(out) < wanted and extra is not False:
            index += 1
            key = f"key{index}"
            if key not in out:
                out[key] = self.value(extra, key, depth + 1, salt)
        return out

    def _array(self, s: dict[str, Json], name: str, depth: int) -> list[Json]:
        prefix, items = item_schemas(s)
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


_EXAMPLE_IN_TEXT = re.compile(r"(?:e\.g\.|for example)[,:]?\s+([^.;,()\n]+)", re.IGNORECASE)


def _hint(s: dict[str, Json]) -> str | None:
    """A realistic string from the schema: its first example, or an "e.g. X" in its text."""
    examples = s.get("examples")
    if isinstance(examples, list) and examples and isinstance(examples[0], str):
        return examples[0]
    description = s.get("description")
    if isinstance(description, str) and (match := _EXAMPLE_IN_TEXT.search(description)):
        return match.group(1).strip().strip("'\"`") or None
    return None


def _string(s: dict[str, Json], name: str, salt: int) -> str:
    fmt = s.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        # Formatted strings stay well-formed; a salt only varies the formats that allow it.
        base = _FORMATS[fmt]
        if salt and fmt in ("email", "uri", "url"):
            base = f"user{salt}@example.com" if fmt == "email" else f"https://example.com/{salt}"
        return base
    suffix = str(salt) if salt else ""
    base = (_hint(s) or name) + suffix
    low, high = s.get("minLength", 0), s.get("maxLength")
    if len(base) < low:
        base += "x" * (low - len(base))
    if isinstance(high, int) and len(base) > high:
        keep = max(high - len(suffix), 0)
        base = (base[:keep] + suffix)[:high]
    pattern = s.get("pattern")
    if isinstance(pattern, str) and not search(pattern, base):
        return regex_sample(pattern) or base
    return base


def _number(s: dict[str, Json], integer: bool, salt: int) -> int | float:
    low, high = bounds(s, integer)
    step = num(s.get("multipleOf"))
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
