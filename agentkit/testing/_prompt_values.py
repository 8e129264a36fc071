"""Function-call arguments taken from the prompt (the default model's, so demos read naturally).

`EchoToolsBehaviour` calls each tool with `example_value(schema)`: valid, but `city="city"`
reads oddly in an offline demo. `prompt_arguments` replaces a top-level argument with a value
the prompt offers, when one fits its parameter:

- a value of an enum (a `Literal`) mentioned in the prompt, the first one mentioned;
- for a string whose name (or description) suggests a place or a name (`city`, `location`,
  `destination`, `name`...): the next capitalised phrase ("New York", but not a lone word
  that opens a sentence, as "Weather" in "Weather in Oslo?"), else the next quoted text;
- for a string named as a date (`date`, `day`, `departure_date`...): the next ISO date;
- for any other string: the next quoted text (`"..."`, `'...'`, `“...”`, `` `...` ``);
- for an integer or a number: the next number of the prompt.

Each value is used once, in the order of the prompt. It is deterministic, and a value is
taken only if the property's schema accepts it and that schema uses only keywords checked
exactly here (types, enums, lengths, patterns, bounds, `$ref` and the combinators); otherwise,
and for whatever the prompt does not offer, the schema-derived value stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from agentkit.testing._schema_match import Json, Matcher, arr, is_number, obj, resolve

__all__ = ["prompt_arguments"]

_ROOT_KEYWORDS = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "minProperties",
        "maxProperties", "propertyNames", "title", "description", "$defs", "definitions",
        "$schema", "$id", "$comment", "examples", "default",
    }
)  # fmt: skip
"""The keywords of an arguments schema whose values may come from the prompt: none of them
constrains the value of a listed property."""
_PROPERTY_KEYWORDS = frozenset(
    {
        "type", "enum", "const", "minLength", "maxLength", "pattern", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum", "$ref", "anyOf", "oneOf", "allOf", "nullable",
        "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly",
        "$comment",
    }
)  # fmt: skip
"""The keywords of a property schema that `Matcher` checks exactly as JSON Schema does."""
_PLACE_WORDS = frozenset(
    {
        "city", "town", "village", "place", "location", "loc", "country", "region", "state",
        "province", "county", "area", "continent", "destination", "dest", "origin", "address",
        "where", "from", "to", "airport", "station", "venue", "capital", "name", "person",
        "who", "user", "username", "customer", "recipient", "author", "artist", "company",
        "team", "contact", "owner", "player",
    }
)  # fmt: skip
_DATE_WORDS = frozenset({"date", "day", "when", "on", "departure", "arrival", "checkin"})
_PLACE_DESCRIPTION = re.compile(r"\b(?:city|town|country|place|location|person)\b", re.I)
_STOP_WORDS = frozenset(
    {
        "a", "an", "the", "i", "i'm", "i'd", "i'll", "i've", "me", "my", "we", "us", "our",
        "you", "your", "he", "she", "it", "they", "them", "this", "that", "these", "those",
        "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "is", "are",
        "was", "were", "be", "do", "does", "did", "can", "could", "will", "would", "shall",
        "should", "may", "might", "must", "please", "tell", "give", "show", "find", "get",
        "look", "search", "check", "compare", "list", "book", "send", "pay", "plan", "add",
        "make", "help", "let", "let's", "use", "call", "ask", "say", "write", "read", "buy",
        "order", "convert", "calculate", "hi", "hello", "hey", "thanks", "thank", "ok", "okay",
        "yes", "no", "and", "or", "but", "so", "then", "also", "if", "in", "on", "at", "for",
        "with", "from", "to", "of", "by", "about", "now", "today", "tomorrow", "there", "here",
    }
)  # fmt: skip
"""Capitalised words that start sentences rather than name things."""

_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")
_SENTENCE_END = re.compile(r"[.!?:;\n]\s*$")
_QUOTED = re.compile(r"\"([^\"\n]+)\"|“([^”\n]+)”|`([^`\n]+)`|(?<![\w'])'([^'\n]+)'(?![\w'])")
_DATE = re.compile(r"(?<![\w-])\d{4}-\d{2}-\d{2}(?![\w-])")
_NUMBER = re.compile(r"(?<![\w.,/:-])-?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w/:-]|[.,]\d)")
_MAX_NUMBER = 1e15


def prompt_arguments(schema: Json, arguments: dict[str, Json], prompt: str) -> dict[str, Json]:
    """Return `arguments` with the values `prompt` offers for its top-level properties."""
    root = obj(schema)
    if root is None or not prompt.strip() or not set(root) <= _ROOT_KEYWORDS:
        return arguments
    offers = _Offers(prompt)
    matcher = Matcher(root)
    chosen = dict(arguments)
    for name, sub in (obj(root.get("properties")) or {}).items():
        if name not in chosen or not _exact(sub, root, frozenset()):
            continue
        for candidate in offers.candidates(name, sub, root):
            if matcher.ok(sub, candidate):
                chosen[name] = candidate
                offers.take(candidate)
                break
    return chosen


class _Offers:
    """The values a prompt offers, in the order they appear, minus those already taken."""

    def __init__(self, prompt: str) -> None:
        self.prompt = prompt
        self.phrases = _phrases(prompt)
        self.quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(prompt)]
        self.dates: list[Json] = _DATE.findall(prompt)
        self.numbers = _numbers(prompt)

    def take(self, value: Json) -> None:
        """Use `value` up: the next parameter gets the next value the prompt offers."""
        for pool in (self.phrases, self.quoted, self.dates, self.numbers):
            for index, item in enumerate(pool):
                if type(item) is type(value) and item == value:
                    del pool[index]
                    break

    def candidates(self, name: str, schema: Json, root: Json) -> list[Json]:
        types, values = _kinds(schema, root, frozenset())
        if values:
            return self._mentioned(values)
        found: list[Json] = []
        if "string" in types:
            words = _words(name)
            if words & _DATE_WORDS:
                found += self.dates
            elif words & _PLACE_WORDS or _describes_a_place(schema):
                found += self.phrases
            found += self.quoted
        if "integer" in types:
            found += [n for n in self.numbers if isinstance(n, int)]
        elif "number" in types:
            found += self.numbers
        return found

    def _mentioned(self, values: list[Json]) -> list[Json]:
        places: list[tuple[int, int, Json]] = []
        for order, value in enumerate(values):
            if isinstance(value, str) and value.strip():
                pattern = rf"(?<!\w){re.escape(value)}(?!\w)"
                match = re.search(pattern, self.prompt, re.IGNORECASE)
                if match is not None:
                    places.append((match.start(), order, value))
            elif is_number(value) and value in self.numbers:
                places.append((self.numbers.index(value), order, value))
        return [value for _, _, value in sorted(places, key=lambda p: (p[0], p[1]))]


def _phrases(prompt: str) -> list[Json]:
    """Capitalised phrases ("New York"), but not a single word opening a sentence ("Weather")."""
    phrases: list[Json] = []
    run: list[re.Match[str]] = []

    def flush() -> None:
        if run and (len(run) > 1 or not _opens_sentence(prompt, run[0].start())):
            phrases.append(" ".join(_bare(m.group()) for m in run))
        run.clear()

    for match in _WORD.finditer(prompt):
        word = _bare(match.group())
        capitalised = word[:1].isupper() and word.lower() not in _STOP_WORDS
        if capitalised and run and prompt[run[-1].end() : match.start()] != " ":
            flush()  # not one phrase: "Paris, Rome" or "Paris (France)"
        if capitalised:
            run.append(match)
        else:
            flush()
    flush()
    return phrases


def _bare(word: str) -> str:
    """A word without a possessive "'s" or a trailing hyphen or apostrophe."""
    for suffix in ("'s", "\u2019s"):
        word = word.removesuffix(suffix)
    return word.rstrip("'\u2019-")


def _opens_sentence(prompt: str, start: int) -> bool:
    before = prompt[:start].rstrip("\"'\u201c\u2018(")
    return not before.strip() or _SENTENCE_END.search(before) is not None


def _numbers(prompt: str) -> list[Json]:
    found: list[Json] = []
    for match in _NUMBER.finditer(prompt):
        whole, fraction = match.group(1).replace(",", ""), match.group(2) or ""
        sign = -1 if match.group().startswith("-") else 1
        value = float(whole + fraction) * sign
        if abs(value) >= _MAX_NUMBER:
            continue
        # An integral value is an int: a float 3.0 is no "integer" in older drafts.
        found.append(int(value) if value.is_integer() else value)
    return found


def _words(name: str) -> set[str]:
    """The words of a parameter's name: `fromCity` and `from_city` are {"from", "city"}."""
    return set(re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower().replace("-", "_").split("_"))


def _describes_a_place(schema: Json) -> bool:
    description = (obj(schema) or {}).get("description")
    return isinstance(description, str) and _PLACE_DESCRIPTION.search(description) is not None


def _exact(schema: Json, root: Json, seen: frozenset[str]) -> bool:
    """Whether `Matcher` judges values for `schema` exactly as a JSON Schema validator does."""
    s = obj(schema)
    if s is None or not set(s) <= _PROPERTY_KEYWORDS:
        return False
    if not all(_plain(value) for value in _listed(s)):
        return False
    pattern = s.get("pattern")
    if pattern is not None and not _compiles(pattern):
        return False
    ref = s.get("$ref")
    if ref is not None:
        if not isinstance(ref, str) or ref in seen:
            return False
        if not _exact(resolve(root, ref), root, seen | {ref}):
            return False
    branches = [b for key in ("anyOf", "oneOf", "allOf") for b in arr(s.get(key))]
    return all(_exact(branch, root, seen) for branch in branches)


def _listed(s: dict[str, Json]) -> Iterator[Json]:
    yield from arr(s.get("enum"))
    if "const" in s:
        yield s["const"]


def _plain(value: Json) -> bool:
    # Python's == tells these apart as JSON does (True == 1 in Python, not in JSON).
    return value is None or isinstance(value, str) or is_number(value)


def _compiles(pattern: Json) -> bool:
    try:
        re.compile(pattern)
    except (re.error, TypeError):
        return False
    return True


def _kinds(schema: Json, root: Json, seen: frozenset[str]) -> tuple[set[str], list[Json]]:
    """The types a schema names anywhere, and the enum and const values it lists."""
    s = obj(schema) or {}
    declared = s.get("type")
    types = {declared} if isinstance(declared, str) else set(arr(declared))
    values = list(_listed(s))
    parts = [b for key in ("anyOf", "oneOf", "allOf") for b in arr(s.get(key))]
    ref = s.get("$ref")
    if isinstance(ref, str) and ref not in seen:
        parts.append(resolve(root, ref))
        seen = seen | {ref}
    for part in parts:
        more_types, more_values = _kinds(part, root, seen)
        types |= more_types
        values += more_values
    return types, values
