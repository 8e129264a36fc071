"""`agentkit run` on a terminal with `rich` (the `agentkit[cli]` extra): a live tree of tools.

Each batch of tool calls is a tree that spins while its calls run and shows each one's
duration and outcome when it ends; the run closes with a summary table. The answer streams to
stdout as in the plain view; the tree is live only while tools run, so the two never mix.
"""

from __future__ import annotations

import threading
import time
from typing import IO

from rich.console import Console, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from agentkit._cli import RunPrinter
from agentkit._events import RunCompleteEvent, RunEvent, TextDeltaEvent
from agentkit._spans import Span
from agentkit._timeline_data import RunSummary, seconds
from agentkit.types import FunctionCallStep, FunctionResultStep

__all__ = ["LivePrinter", "terminal", "tool_table"]


def terminal(stream: IO[str]) -> Console | None:
    """A rich console on `stream` if it is a terminal (else None: plain lines suit pipes)."""
    console = Console(file=stream, highlight=False)
    return console if console.is_terminal else None


class _Call:
    """One node of the tree: a spinner while the call runs, then its outcome and duration."""

    def __init__(self, call: FunctionCallStep) -> None:
        self.call = call
        self.started = time.monotonic()
        self.ended: float | None = None
        self.result: FunctionResultStep | None = None
        self._spinner = Spinner("dots", Text(RunPrinter.call_text(call), style="bold"))

    def start(self) -> None:
        self.started = time.monotonic()

    def finish(self, result: FunctionResultStep) -> None:
        self.ended = time.monotonic()
        self.result = result

    def __rich__(self) -> RenderableType:
        if self.result is None or self.ended is None:
            return self._spinner
        failed = bool(self.result.is_error)
        line = Text()
        line.append("\u2717 " if failed else "\u2713 ", style="red" if failed else "green")
        line.append(RunPrinter.call_text(self.call), style="bold")
        line.append(f"  {seconds(self.ended - self.started)}", style="cyan")
        line.append(f"  {RunPrinter.result_text(self.result)}", style="dim")
        return line


class LivePrinter(RunPrinter):
    """`RunPrinter` with tool calls as a live tree on a rich console, and a closing table."""

    def __init__(self, out: IO[str], console: Console, *, json_output: bool = False) -> None:
        super().__init__(out, console.file, json_output=json_output)
        self.console = console
        self._lock = threading.Lock()  # results arrive from the threads that run the tools
        self._calls: dict[str, _Call] = {}
        self._live: Live | None = None
        self._tree = Tree("")
        self._batches = 0

    def tool_called(self, call: FunctionCallStep) -> None:
        with self._lock:
            self._add(call)

    def _add(self, call: FunctionCallStep) -> _Call:
        if self._live is None:
            self._batches += 1
            self._tree = Tree(Text(f"tools, batch {self._batches}", style="bold magenta"))
            self._live = Live(self._tree, console=self.console, refresh_per_second=12)
            self._live.start()
        node = self._calls[call.id or ""] = _Call(call)
        self._tree.add(node)
        return node

    def tool_started(self, call: FunctionCallStep) -> None:
        # The call's node exists: its event comes before the batch starts. Timed from here,
        # a node's duration is the one the run's timeline records.
        with self._lock:
            node = self._calls.get(call.id or "")
            if node is not None:
                node.start()

    def tool_finished(self, call: FunctionCallStep, result: FunctionResultStep) -> None:
        with self._lock:
            self._shown.add(result.call_id)
            # A call answered without running (invalid arguments) gets its node now.
            node = self._calls.get(result.call_id) or self._add(call)
            node.finish(result)
            if all(node.result is not None for node in self._calls.values()):
                self._stop()

    def show(self, event: RunEvent) -> None:
        if isinstance(event, TextDeltaEvent | RunCompleteEvent):  # the tools are over
            with self._lock:
                self._stop()
        super().show(event)

    def close(self) -> None:
        with self._lock:
            self._stop()
        super().close()

    def _stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
            self._calls = {}

    def summarize(self) -> None:
        """Close with a table of the run: turns, tool calls, tokens and time, and per tool."""
        if self.result is None:
            return
        facts = RunSummary(self.result.state, self.result.status)
        self.console.print(Text(f"agentkit: {facts}", style="bold"))
        if facts.tool_calls:
            self.console.print(tool_table(facts.spans))


def tool_table(spans: tuple[Span, ...]) -> Table:
    """Per tool, the first called first: calls, failures, total and longest time."""
    table = Table(show_edge=False, header_style="bold")
    for column in ("tool", "calls", "failed", "total", "longest"):
        table.add_column(column, justify="left" if column == "tool" else "right")
    by_name: dict[str, list[Span]] = {}
    # A batch's spans are recorded as its calls end, in whichever order the tools finish.
    for span in sorted(spans, key=lambda span: span.start):
        if span.kind == "tool":
            by_name.setdefault(span.name, []).append(span)
    for name, calls in by_name.items():
        failed = sum(1 for span in calls if span.error is not None)
        table.add_row(
            name,
            str(len(calls)),
            Text(str(failed), style="red" if failed else "dim"),
            seconds(sum(span.duration for span in calls)),
            seconds(max(span.duration for span in calls)),
        )
    return table
