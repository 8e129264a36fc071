"""Make the README's two pictures of a run: `python tools/timeline_screenshots.py`.

Runs the tools of `examples/timeline.py` offline, then writes `docs/timeline-terminal.png`
(`agentkit run`'s live view, recorded by rich as SVG) and `docs/timeline-page.png` (the run's
HTML page), both taken by headless Chromium (Debian's `chromium` package).
"""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from agentkit import Agent, Hooks
from agentkit.cli._live import LivePrinter
from agentkit.testing import Emulator

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PROMPT = "Is today a good day to be outside in Lyon?"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


class Answer(io.StringIO):
    """The answer's stdout, recorded on the console below the tree (wrapped, line by line)."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        self.line = ""

    def write(self, text: str) -> int:
        self.line += text
        while "\n" in self.line:
            done, self.line = self.line.split("\n", 1)
            self.console.print(done, highlight=False)
        return len(text)


def screenshot(page: Path, png: Path, size: str) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            ["chromium", *FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
             f"--window-size={size}", page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    print(f"wrote {png.relative_to(ROOT)}")


def main() -> None:
    sys.path.insert(0, str(ROOT / "examples"))
    from timeline import get_air_quality, get_events, get_pollen, get_weather

    logging.getLogger("agentkit.tool").setLevel(logging.ERROR)  # get_pollen fails on purpose
    # Not interactive: the live tree is recorded once per batch, as it ends, not every frame.
    screen = Console(
        file=io.StringIO(), record=True, width=110, force_terminal=True, force_interactive=False
    )
    printer = LivePrinter(Answer(screen), screen)
    agent = Agent(
        "gemini-3.5-flash",
        tools=[get_weather, get_air_quality, get_pollen, get_events],
        hooks=Hooks(before_tool=printer.tool_started, after_tool=printer.tool_finished),
        client=Emulator().client(),
    )
    screen.print(f"[bold]$ agentkit run {PROMPT!r} --tool timeline:get_weather ... --offline[/]")
    screen.print("Backend: built-in emulator (offline)")
    for event in agent.stream_sync(PROMPT):
        printer.show(event)
    printer.close()
    printer.summarize()
    assert printer.result is not None
    with tempfile.TemporaryDirectory() as work:
        svg = Path(work) / "terminal.svg"
        screen.save_svg(str(svg), title="agentkit run")
        screenshot(svg, DOCS / "timeline-terminal.png", "1000,420")
        page = Path(work) / "run.html"
        printer.result.to_html(page)
        screenshot(page, DOCS / "timeline-page.png", "1200,820")


if __name__ == "__main__":
    main()
