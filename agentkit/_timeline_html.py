"""A run as HTML: one self-contained page (`RunResult.to_html`) and a Jupyter view.

The page carries the run as JSON in a `<script type="application/json">` block and builds
itself with inline CSS and JavaScript: no URL, nothing fetched, so it opens offline. The JSON
escapes `<`, `>` and `&`, so no text from a model or a tool can end the block, and the script
only ever sets text, never markup.
"""

from __future__ import annotations

import html
import json
import os
from typing import Any

from agentkit._result import RunState
from agentkit._spans import Span
from agentkit._timeline_data import RunSummary, run_data, seconds
from agentkit._timeline_page import CSS, SCRIPT

__all__ = ["PagePath", "inline", "page", "page_json", "save"]

PagePath = str | os.PathLike[str]
_INLINE_ROWS = 60  # spans shown by the Jupyter view; the page shows all
_COLORS = {"request": "#4f7dd9", "poll": "#9aa7c7", "tool": "#2da44e"}
_ERROR = "#cf222e"
# Inside <script>: `</` would end the block, `<!--` would open a comment; U+2028/9 end a
# JavaScript line in old engines. Escaped, they still parse as the same JSON.
_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def page_json(data: dict[str, Any]) -> str:
    """`data` as JSON that is safe inside a `<script>` element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escape in _ESCAPES.items():
        text = text.replace(char, escape)
    return text


def page(state: RunState, *, status: str | None = None) -> str:
    """The whole page for a run's state."""
    title = html.escape(f"agentkit run {state.run_id or ''}".strip())
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{CSS}</style></head>\n"
        '<body><main id="agentkit-run"></main>\n'
        '<script type="application/json" id="agentkit-data">'
        f"{page_json(run_data(state, status))}</script>\n"
        f"<script>{SCRIPT}</script>\n"
        "</body></html>\n"
    )


def save(path: PagePath, html: str) -> None:
    """Write a page to `path` (UTF-8)."""
    with open(path, "w", encoding="utf-8") as file:
        file.write(html)


def inline(state: RunState, *, status: str | None = None) -> str:
    """A compact timeline in plain HTML and inline styles (Jupyter runs no page scripts)."""
    summary = RunSummary(state, status)
    spans = sorted(summary.spans, key=lambda span: span.start)
    total = max(summary.seconds, 1e-6)
    rows = "".join(_row(span, total) for span in spans[:_INLINE_ROWS])
    more = len(spans) - _INLINE_ROWS
    if more > 0:
        rows += f'<tr><td colspan="3" style="color:#656d76">... {more} more (to_html())</td></tr>'
    table = (
        f'<table style="border-collapse:collapse;width:100%;max-width:760px">{rows}</table>'
        if spans
        else '<div style="color:#656d76">No timings were recorded.</div>'
    )
    return (
        '<div class="agentkit-run" style="font-family:system-ui,sans-serif;font-size:13px">'
        f"<div><b>RunResult</b> {html.escape(str(summary))}</div>{table}</div>"
    )


def _row(span: Span, total: float) -> str:
    color = _ERROR if span.error else _COLORS[span.kind]
    left = 100 * span.start / total
    width = max(100 * span.duration / total, 0.3)
    indent = "padding-left:16px;" if span.kind == "tool" else ""
    note = f" \u21bb{len(span.retries)}" if span.retries else ""
    error = f' title="{html.escape(span.error)}"' if span.error else ""
    return (
        f'<tr{error}><td style="{indent}white-space:nowrap;font-family:monospace;width:180px">'
        f"{html.escape(span.label)}</td>"
        '<td style="width:100%"><div style="position:relative;height:14px;background:#f6f8fa">'
        f'<div style="position:absolute;left:{left:.2f}%;width:{width:.2f}%;top:2px;bottom:2px;'
        f'background:{color};border-radius:2px"></div></div></td>'
        f'<td style="white-space:nowrap;text-align:right;color:#656d76">'
        f"{seconds(span.duration)}{note}</td></tr>"
    )
