"""Figures to table lines: medians, ratios with their spread, targets and verdicts."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Line", "compare", "fmt_kb", "fmt_time", "measured", "render", "spread"]


@dataclass(frozen=True)
class Line:
    """One line of the table."""

    number: str
    label: str
    ours: str = ""
    reference: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""


def fmt_time(seconds: float) -> str:
    """Seconds with a readable unit: `850 us`, `4.21 ms`, `12.3 s`."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms" if seconds < 0.1 else f"{seconds * 1e3:.0f} ms"
    return f"{seconds:.3g} s"


def fmt_kb(kib: float) -> str:
    """KiB with one decimal under 10."""
    return f"{kib:.1f} KB" if kib < 10 else f"{kib:.0f} KB"


def spread(values: Sequence[float]) -> str:
    """`median [min-max]` of ratios."""
    return f"{statistics.median(values):.2f}x [{min(values):.2f}-{max(values):.2f}]"


def measured(
    number: str,
    label: str,
    ours: Sequence[float],
    limit: float,
    *,
    reference: Sequence[float] = (),
    fmt: Callable[[float], str] = fmt_time,
) -> Line:
    """A line judged on agentkit's absolute median (`<= limit`), with an optional reference."""
    value = statistics.median(ours)
    pairs = [a / b for a, b in zip(ours, reference, strict=True)] if reference else []
    return Line(
        number,
        label,
        ours=fmt(value),
        reference=fmt(statistics.median(reference)) if reference else "-",
        # Without a reference, the spread of agentkit's own figures.
        ratio=spread(pairs) if pairs else f"range {fmt(min(ours))}-{fmt(max(ours))}",
        target=f"<= {fmt(limit)}",
        verdict="PASS" if value <= limit else "MISS",
    )


def compare(
    number: str,
    label: str,
    ours: Sequence[float],
    reference: Sequence[float],
    limit: float | None,
    *,
    fmt: Callable[[float], str] = fmt_time,
) -> Line:
    """A line judged on the median of the paired ratios ours/reference (`<= limit`)."""
    ratios = [a / b for a, b in zip(ours, reference, strict=True)]
    ratio = statistics.median(ratios)
    verdict = "" if limit is None else ("PASS" if ratio <= limit else "MISS")
    return Line(
        number,
        label,
        ours=fmt(statistics.median(ours)),
        reference=fmt(statistics.median(reference)),
        ratio=spread(ratios),
        target="(info)" if limit is None else f"<= {limit:g}x",
        verdict=verdict,
    )


_HEADER = Line("#", "measure", "agentkit", "reference", "ratio [min-max]", "target", "")


def render(lines: Sequence[Line]) -> str:
    """The table, columns aligned."""
    rows = [_HEADER, *lines]
    fields = [[r.number, r.label, r.ours, r.reference, r.ratio, r.target, r.verdict] for r in rows]
    widths = [max(len(row[i]) for row in fields) for i in range(7)]
    rule = "  ".join("-" * w for w in widths)
    out: list[str] = []
    for index, row in enumerate(fields):
        # Numbers and figures right-aligned, words left-aligned.
        cells = [
            cell.rjust(width) if column in (0, 2, 3) else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if index == 0:
            out.append(rule)
    return "\n".join(out)
