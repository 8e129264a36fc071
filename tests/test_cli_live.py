"""`agentkit run` on a terminal: a live tree of tool calls with rich, plain lines without it."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest
from _timeline_helpers import MODEL, broken, weather

from agentkit import Agent, Hooks
from agentkit._cli import RunPrinter, choose_printer, main
from agentkit.testing import Emulator, Script, function_call
from agentkit.types import FunctionCallStep

rich = pytest.importorskip("rich")
from rich.console import Console  # noqa: E402

from agentkit._spans import Span  # noqa: E402
from agentkit.cli._live import LivePrinter, terminal, tool_table  # noqa: E402


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def console() -> tuple[Console, io.StringIO]:
    screen = io.StringIO()
    return Console(file=screen, force_terminal=True, width=120, color_system=None), screen


def script() -> Script:
    calls = [
        function_call("weather", {"city": "Paris"}, id="call_paris"),
        function_call("broken", {"reason": "storm"}, id="call_broken"),
        function_call("weather", {"city": 3}, id="call_invalid"),  # answered without running
    ]
    return Script([calls, [function_call("weather", {"city": "Rome"})], "Mild everywhere."])


def run_live(printer: LivePrinter) -> None:
    emulator = Emulator(script())
    with emulator.client() as client:
        hooks = Hooks(before_tool=printer.tool_started, after_tool=printer.tool_finished)
        agent: Agent[Any, Any] = Agent(MODEL, tools=[weather, broken], client=client, hooks=hooks)
        for event in agent.stream_sync("Weather?"):
            printer.show(event)
    printer.close()
    printer.summarize()


def test_the_live_tree_shows_each_batch_with_outcomes_and_a_summary() -> None:
    screen, shown = console()
    answer = io.StringIO()

    run_live(LivePrinter(answer, screen))

    text = shown.getvalue()
    assert "tools, batch 1" in text
    assert "tools, batch 2" in text
    assert '\u2713 weather({"city": "Paris"})' in text
    assert '\u2717 broken({"reason": "storm"})' in text
    assert '\u2717 weather({"city": 3})' in text
    assert '\u2713 weather({"city": "Rome"})' in text
    # The call with invalid arguments never ran: the model got an error result instead.
    assert "agentkit: completed: 3 turns, 3 tool calls (1 failed)" in text
    summary_rows = [
        line.split() for line in text.splitlines() if line.startswith((" weather", " broken"))
    ]
    assert [row[0] for row in summary_rows] == ["weather", "broken"]
    assert [row[2] for row in summary_rows] == ["2", "1"]  # calls
    assert answer.getvalue() == "Mild everywhere.\n"


def test_the_summary_lists_tools_in_the_order_they_were_first_called() -> None:
    screen, shown = console()
    # A batch's spans are recorded as its calls end: here the second call ended first.
    spans = (
        Span("tool", start=0.2, end=0.3, turn=1, name="broken", error="no luck"),
        Span("tool", start=0.1, end=0.5, turn=1, name="weather"),
        Span("tool", start=0.7, end=0.8, turn=2, name="weather"),
    )

    screen.print(tool_table(spans))

    rows = [line.replace("\u2502", " ").split() for line in shown.getvalue().splitlines()[2:]]
    assert [row[:3] for row in rows] == [["weather", "2", "0"], ["broken", "1", "1"]]


def test_a_run_without_tools_ends_with_the_summary_line_only() -> None:
    screen, shown = console()
    printer = LivePrinter(io.StringIO(), screen)
    with Emulator(Script(["Hello."])).client() as client:
        for event in Agent(MODEL, client=client).stream_sync("Hi"):
            printer.show(event)
    printer.close()
    printer.summarize()

    assert shown.getvalue().startswith("agentkit: completed: 1 turn, 0 tool calls, ")
    assert "longest" not in shown.getvalue()


def test_a_run_that_fails_midway_stops_the_live_tree() -> None:
    screen, shown = console()
    printer = LivePrinter(io.StringIO(), screen)
    printer.tool_called(FunctionCallStep(id="call_1", name="weather", arguments={"city": "P"}))

    printer.close()  # what the CLI does when the run raises
    printer.summarize()  # no result: nothing to sum up
    printer.close()

    assert "\x1b[?25h" in shown.getvalue()  # the cursor is shown again
    assert "agentkit:" not in shown.getvalue()


def test_the_cli_picks_the_live_view_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", Terminal())

    assert isinstance(_cli_printer(), LivePrinter)
    assert terminal(io.StringIO()) is None


def test_the_cli_prints_plain_lines_when_stderr_is_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())

    assert type(_cli_printer()) is RunPrinter


def test_the_cli_prints_plain_lines_without_rich(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [name for name in sys.modules if name.split(".")[0] == "rich"]:
        monkeypatch.setitem(sys.modules, name, None)  # as if rich were not installed
    monkeypatch.delitem(sys.modules, "agentkit.cli._live")
    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.chdir(tmp_path)

    assert type(_cli_printer()) is RunPrinter
    assert main(["run", "Hi", "--offline"]) == 0
    assert err.getvalue().splitlines()[-1].startswith("agentkit: completed: 1 turn, ")


def _cli_printer() -> RunPrinter:
    return choose_printer(json_output=False)
