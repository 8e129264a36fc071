"""`agentkit --version` and the options of `agentkit run`: --agent, --background, --stateless,
--output-schema; and tool results shown as each tool ends."""

from __future__ import annotations

import importlib
import io
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import agentkit
from agentkit import Agent, _cli
from agentkit._cli import main
from agentkit._client import Client
from agentkit.events import RunCompleteEvent
from agentkit.testing import Emulator, Reply, Script, text

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120  # seconds; generous for slow CI machines, never reached when all is well

RIVERS = {
    "type": "object",
    "properties": {"rivers": {"type": "array", "items": {"type": "string"}, "minItems": 2}},
    "required": ["rivers"],
}

PROGRESS_MODULE = '''
import threading

released = threading.Event()


def slow() -> str:
    """Wait until the CLI has shown fast's result."""
    return "released" if released.wait(10) else "timed out"


def fast() -> str:
    """Answer at once."""
    return "quick"
'''


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Emulator]:
    """The emulator `run` talks to, from a scratch directory (sys.path restored after)."""
    emulator = Emulator()

    def client(*, offline: bool) -> tuple[Client, str]:
        return emulator.client(), "Backend: a test emulator"

    monkeypatch.setattr(_cli, "_client", client)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield emulator
    sys.modules.pop("progress", None)


def create_bodies(emulator: Emulator) -> list[dict[str, Any]]:
    return [r.body for r in emulator.requests if r.method == "POST"]


def test_version_in_a_subprocess() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    completed = subprocess.run(
        [sys.executable, "-m", "agentkit", "--version"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == f"agentkit {agentkit.__version__}\n"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])

    assert exited.value.code == 0
    assert capsys.readouterr().out == f"agentkit {agentkit.__version__}\n"


def test_help_lists_the_run_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])

    shown = capsys.readouterr().out
    for option in ("--agent AGENT_ID", "--background", "--stateless", "--output-schema"):
        assert option in shown


def test_the_default_model_is_sent(emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "Hi"]) == 0

    (body,) = create_bodies(emulator)
    assert body["model"] == _cli.DEFAULT_MODEL
    assert "agent" not in body
    assert body.get("store", True) is True
    assert "background" not in body
    assert capsys.readouterr().out == "You said: Hi\n"


def test_agent_runs_a_managed_agent_instead_of_a_model(
    emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "Research it", "--agent", "deep-research-pro-preview-12-2025"]) == 0

    (body,) = create_bodies(emulator)
    assert body["agent"] == "deep-research-pro-preview-12-2025"
    assert "model" not in body
    assert capsys.readouterr().out == "You said: Research it\n"


def test_agent_and_model_together_are_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "Hi", "--agent", "a", "--model", "m"])

    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_background_creates_a_background_interaction_and_prints_its_answer(
    emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.background_polls = 2

    assert main(["run", "A long report", "--background"]) == 0

    bodies = create_bodies(emulator)
    assert [body["background"] for body in bodies] == [True]
    assert capsys.readouterr().out == "You said: A long report\n"


def test_stateless_sends_store_false_and_the_history(
    emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    (Path.cwd() / "shop.py").write_text("def price(item: str) -> int:\n    return 3\n")

    assert main(["run", "Price of 'tea'?", "--stateless", "--tool", "shop:price"]) == 0

    first, second = create_bodies(emulator)
    assert first["store"] is False
    assert second["store"] is False
    assert "previous_interaction_id" not in second
    assert [step["type"] for step in second["input"]][-2:] == ["function_call", "function_result"]
    assert emulator.function_calls[0]["arguments"] == {"item": "tea"}
    assert capsys.readouterr().out == "price returned 3.\n"


@pytest.mark.parametrize("where", ["inline", "file"])
def test_output_schema_is_sent_and_the_answer_printed_as_indented_json(
    emulator: Emulator, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    schema = json.dumps(RIVERS)
    if where == "file":
        Path("rivers.schema.json").write_text(schema, encoding="utf-8")
        schema = "rivers.schema.json"

    assert main(["run", "Two rivers of France", "--output-schema", schema]) == 0

    (body,) = create_bodies(emulator)
    assert body["response_format"] == {
        "type": "text",
        "mime_type": "application/json",
        "schema": RIVERS,
    }
    out = capsys.readouterr().out
    answer = json.loads(out)
    assert answer == {"rivers": ["rivers", "rivers1"]}
    assert out == json.dumps(answer, indent=2) + "\n"


def test_an_answer_that_is_not_json_is_printed_and_fails(
    emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.behaviour = Script(["Sorry, no JSON today."])

    assert main(["run", "Rivers", "-o", json.dumps(RIVERS)]) == 1

    out, err = capsys.readouterr()
    assert out == "Sorry, no JSON today.\n"
    assert err.splitlines()[-1] == "agentkit: the answer is not valid JSON"


def test_an_unfinished_json_answer_reports_its_status(
    emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.behaviour = Script([Reply([text('{"rivers": ["Loi')], status="incomplete")])

    assert main(["run", "Rivers", "-o", json.dumps(RIVERS)]) == 1

    out, err = capsys.readouterr()
    assert out == '{"rivers": ["Loi\n'
    assert err.splitlines()[-1] == "agentkit: the run ended with status 'incomplete'"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("no-such-file.json", "no such file, and not JSON: 'no-such-file.json'"),
        ("{not json", "the schema is not valid JSON: "),
        ('["a list"]', "the schema is not a JSON Schema object (a list)"),
        ("bad.json", "the schema file 'bad.json' is not valid JSON: "),
        ("binary.json", "cannot read the schema file 'binary.json': "),
    ],
)
def test_a_bad_output_schema_is_a_usage_error(
    emulator: Emulator, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    Path("bad.json").write_text("{", encoding="utf-8")
    Path("binary.json").write_bytes(b"\xff\xfe{")

    with pytest.raises(SystemExit) as exited:
        main(["run", "Hi", "--output-schema", value])

    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert emulator.requests == []


def test_each_tool_result_shows_as_soon_as_its_tool_ends(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("progress.py").write_text(textwrap.dedent(PROGRESS_MODULE), encoding="utf-8")
    sys.path.insert(0, str(Path.cwd()))
    released: threading.Event = vars(importlib.import_module("progress"))["released"]

    class Progress(io.StringIO):
        """stderr that releases slow once fast's result is shown, as a reader would see it."""

        def write(self, line: str) -> int:
            if line.startswith("<- fast"):
                released.set()
            return super().write(line)

    err = Progress()
    monkeypatch.setattr(sys, "stderr", err)

    assert main(["run", "Go", "--tool", "progress:slow", "--tool", "progress:fast"]) == 0

    lines = err.getvalue().splitlines()
    assert lines[1:-1] == [
        "-> slow({})",
        "-> fast({})",
        "<- fast [ok]: quick",
        "<- slow [ok]: released",
    ]
    assert lines[-1].startswith("agentkit: completed: 2 turns, 2 tool calls, ")
    assert capsys.readouterr().out == "slow returned released. fast returned quick.\n"


def test_an_answer_that_was_not_streamed_is_printed_at_the_end() -> None:
    # Private helper, tested directly: a run of the drivers always streams its answer, but a
    # result fetched by a poll after a dropped stream may come without its text deltas.
    emulator = Emulator(Script(["Fetched whole."]))
    result = Agent("m", client=emulator.client()).run_sync("Hi")
    out, err = io.StringIO(), io.StringIO()
    printer = _cli.RunPrinter(out, err)

    printer.show(RunCompleteEvent(result))

    assert printer.answer == "Fetched whole."
    assert printer.show_answer()
    assert out.getvalue() == "Fetched whole.\n"
