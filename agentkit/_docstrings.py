"""Docstrings to descriptions: a summary for the tool and one text per parameter (pure)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping

from docstring_parser import Docstring, ParseError, epydoc, google, numpydoc, rest

__all__ = ["DocInfo", "parse_docstring"]

# docstring-parser's Google parser knows "Args" but drops "Keyword Args" and "Other Parameters"
# sections (and the text in them) as of 0.18; its numpydoc parser lacks "Keyword Arguments".
_EXTRA_PARAM_TITLES = (
    "Keyword Args",
    "Keyword Arguments",
    "Kwargs",
    "Other Parameters",
    "Other Params",
    "Other Args",
    "Other Arguments",
)


@dataclasses.dataclass(frozen=True)
class DocInfo:
    """What a docstring says about a function."""

    description: str
    """The summary and body, without the parameter, returns and raises sections."""
    params: Mapping[str, str]
    """Parameter name (without `*`) to its description."""


@functools.cache
def _parsers() -> tuple[Callable[[str], Docstring], ...]:
    google_parser = google.GoogleParser(
        [
            *google.DEFAULT_SECTIONS,
            *(
                google.Section(title, "param", google.SectionType.MULTIPLE)
                for title in _EXTRA_PARAM_TITLES
            ),
        ]
    )
    numpy_parser = numpydoc.NumpydocParser()
    for title in ("Keyword Args", "Keyword Arguments"):
        numpy_parser.add_section(numpydoc.ParamSection(title, "param"))
    # The same order as docstring_parser.parse's own detection, which wins ties.
    return (rest.parse, google_parser.parse, numpy_parser.parse, epydoc.parse)


def parse_docstring(doc: str | None) -> DocInfo:
    """Parse a docstring, detecting its style (Google, NumPy, reST or Epydoc).

    As in `docstring_parser.parse`, the style that recognises the most sections wins.
    """
    if not doc or not doc.strip():
        return DocInfo("", {})
    parsed: list[Docstring] = []
    for parse in _parsers():
        try:
            parsed.append(parse(doc))
        except ParseError:
            continue
    if not parsed:  # pragma: no cover - the reST parser accepts any text
        return DocInfo(doc.strip(), {})
    best = max(parsed, key=lambda docstring: len(docstring.meta))  # first of equals wins
    params: dict[str, str] = {}
    for param in best.params:
        if param.description:
            params.setdefault(param.arg_name.lstrip("*"), param.description.strip())
    return DocInfo((best.description or "").strip(), params)
