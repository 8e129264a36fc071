"""A string matching a simple regular expression (for JSON-schema `pattern`s)."""

from __future__ import annotations

import re

__all__ = ["regex_sample"]

_ESCAPES = {
    "d": "0",
    "w": "a",
    "s": " ",
    "D": "a",
    "W": "-",
    "S": "a",
    "b": "",
    "B": "",
    "A": "",
    "Z": "",
}
_PROBES = "aA0_- .x"


def regex_sample(pattern: str) -> str | None:
    """Return a short string that `re.search(pattern, ...)` matches, or None if unsure.

    Understands literals, escapes, `.`, classes, groups, alternation and quantifiers:
    enough for the patterns tools declare (ids, codes, dates).
    """
    try:
        sample, end = _Parser(pattern).alternation(0)
    except (IndexError, ValueError):
        return None
    if end != len(pattern):
        return None
    try:
        return sample if re.search(pattern, sample) else None
    except re.error:
        return None


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.p = pattern

    def alternation(self, i: int) -> tuple[str, int]:
        first, i = self.sequence(i)
        while i < len(self.p) and self.p[i] == "|":
            _, i = self.sequence(i + 1)  # the first branch is enough
        return first, i

    def sequence(self, i: int) -> tuple[str, int]:
        out: list[str] = []
        while i < len(self.p) and self.p[i] not in "|)":
            atom, i = self.atom(i)
            count, i = self.quantifier(i)
            out.append(atom * count)
        return "".join(out), i

    def atom(self, i: int) -> tuple[str, int]:
        char = self.p[i]
        if char == "(":
            i += 1
            if self.p.startswith("?:", i):
                i += 2
            elif self.p.startswith("?P<", i):
                i = self.p.index(">", i) + 1
            inner, i = self.alternation(i)
            if self.p[i] != ")":
                raise ValueError("unbalanced group")
            return inner, i + 1
        if char == "[":
            return self.char_class(i + 1)
        if char == "\\":
            escaped = self.p[i + 1]
            return _ESCAPES.get(escaped, escaped), i + 2
        if char in "^$":
            return "", i + 1
        if char == ".":
            return "a", i + 1
        if char in "*+?{":
            raise ValueError("nothing to repeat")
        return char, i + 1

    def char_class(self, i: int) -> tuple[str, int]:
        negated = self.p[i] == "^"
        start = i + 1 if negated else i
        end = self.p.index("]", start + 1 if self.p[start] == "]" else start)
        body = self.p[start:end]
        if negated:
            members = re.compile(f"[^{body}]")
            choice = next((c for c in _PROBES if members.fullmatch(c)), None)
            if choice is None:
                raise ValueError("no probe fits the class")
            return choice, end + 1
        if body.startswith("\\"):
            return _ESCAPES.get(body[1], body[1]), end + 1
        return body[0], end + 1

    def quantifier(self, i: int) -> tuple[int, int]:
        if i >= len(self.p):
            return 1, i
        char = self.p[i]
        if char in "*?":
            count, i = 0, i + 1
        elif char == "+":
            count, i = 1, i + 1
        elif char == "{" and re.match(r"\{\d+(,\d*)?\}", self.p[i:]):
            close = self.p.index("}", i)
            count, i = int(self.p[i + 1 : close].split(",")[0]), close + 1
        else:
            return 1, i
        if i < len(self.p) and self.p[i] == "?":
            i += 1  # a lazy quantifier repeats the same minimum
        return count, i
