"""The command line, driven as a subprocess: `python -m agentkit run|emulator ...`."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from agentkit._client import Client

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120  # seconds; generous for slow CI machines, never reached when all is well

TOOLS_MODULE = '''
from typing import Literal

from agentkit._tool import tool


@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict:
    """Get the current weather in a city.

    Args:
        city: The city name.
        unit: The temperature unit.
    """
    return {"city": city, "temperature": 21, "unit": unit}


def add(x: int, y: int) -> int:
    """Add two numbers (a plain function, not decorated)."""
    return x + 1000 * y


def numbers(n: int):
    """A generator: it cannot be a tool."""
    yield n


ANSWER = 42
'''


def cli_env(*, key: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    if key is not None:
        env["GEMINI_API_KEY"] = key
    # Works whether or not agentkit is installed in the environment running the tests.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def agentkit(
    *args: str, cwd: Path = ROOT, key: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentkit", *args],
        cwd=cwd,
        env=cli_env(key=key),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with a module of tools, used as the current directory."""
    (tmp_path / "mytools.py").write_text(textwrap.dedent(TOOLS_MODULE), encoding="utf-8")
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom at import')\n")
    return tmp_path


def assert_one_error_line(completed: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert completed.returncode != 0
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("agentkit: error: ")
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ((), "emulator  serve the built-in emulator"),
        (("run",), "--tool MODULE:FUNCTION"),
        (("emulator",), "--port"),
    ],
)
def test_help_on_every_command(command: tuple[str, ...], expected: str) -> None:
    completed = agentkit(*command, "--help")

    assert completed.returncode == 0
    assert completed.stdout.startswith("usage: agentkit")
    assert expected in completed.stdout


def test_no_command_is_a_usage_error() -> None:
    completed = agentkit()

    assert completed.returncode == 2
    assert "usage: agentkit" in completed.stderr


def test_run_offline_shows_tool_calls_and_streams_the_answer(project: Path) -> None:
    completed = agentkit(
        "run",
        "What's the weather in Paris?",
        "--tool",
        "mytools:get_weather",
        "--tool",
        "mytools:add",
        "--system",
        "Be brief.",
        "--offline",
        cwd=project,
    )

    assert completed.returncode == 0, completed.stderr
    progress = completed.stderr.splitlines()
    assert progress[0] == "Backend: built-in emulator (offline)"
    # Each call with its arguments, then each result, as the emulated model made them.
    assert '-> get_weather({"city": "city", "unit": "celsius"})' in progress
    assert '-> add({"x": 1, "y": 1})' in progress
    assert '<- get_weather [ok]: {"city":"city","temperature":21,"unit":"celsius"}' in progress
    assert "<- add [ok]: 1001" in progress
    # The answer (built from the results) is on stdout, ending with a newline.
    assert completed.stdout.endswith("\n")
    assert "get_weather returned" in completed.stdout
    assert "add returned 1001." in completed.stdout


def test_run_offline_without_tools_answers(project: Path) -> None:
    completed = agentkit("run", "hello there", "--offline", cwd=project)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "You said: hello there\n"


def test_offline_uses_the_emulator_even_with_a_key(project: Path) -> None:
    completed = agentkit("run", "hi", "--offline", cwd=project, key="not-a-real-key")

    assert completed.returncode == 0, completed.stderr
    assert "Backend: built-in emulator (offline)" in completed.stderr
    assert completed.stdout == "You said: hi\n"


def test_missing_key_is_one_line(project: Path) -> None:
    completed = agentkit("run", "hi", "--tool", "mytools:get_weather", cwd=project)

    assert completed.returncode == 2
    assert_one_error_line(completed, "GEMINI_API_KEY", "GOOGLE_API_KEY", "--offline")


@pytest.mark.parametrize(
    ("spec", "needles"),
    [
        ("nosuchmodule:f", ["no module named 'nosuchmodule'"]),
        ("mytools:nosuchfunction", ["has no function 'nosuchfunction'"]),
        ("mytools:ANSWER", ["'ANSWER' is not a function"]),
        ("mytools:numbers", ["not a valid tool", "generator"]),
        ("broken:anything", ["importing 'broken' failed", "RuntimeError: boom at import"]),
        ("mytools", ["expected MODULE:FUNCTION"]),
    ],
)
def test_bad_tool_is_one_line(project: Path, spec: str, needles: list[str]) -> None:
    completed = agentkit("run", "hi", "--tool", spec, "--offline", cwd=project)

    assert completed.returncode == 2
    assert_one_error_line(completed, repr(spec), *needles)


def test_emulator_serves_other_programs() -> None:
    command = [sys.executable, "-m", "agentkit", "emulator", "--port", "0"]
    with subprocess.Popen(
        command, cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as server:
        try:
            line = _read_line(server)
            assert line.startswith("Emulator serving the Interactions API at http://127.0.0.1:")
            base_url = line.rsplit(" ", 1)[1]

            with Client(base_url=base_url, api_key="any-key", max_retries=0) as client:
                interaction = client.interactions.create(model="gemini-3.5-flash", input="ping")
            assert interaction.status == "completed"
            assert interaction.output_text == "You said: ping"
        finally:
            server.terminate()
            _, stderr = server.communicate(timeout=TIMEOUT)
    # SIGTERM stops it as cleanly as Ctrl-C: no traceback, exit 0.
    assert server.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_emulator_refuses_a_non_loopback_host() -> None:
    completed = agentkit("emulator", "--host", "0.0.0.0", "--port", "0")

    assert completed.returncode == 2
    assert_one_error_line(completed, "loopback")


def _read_line(process: subprocess.Popen[str]) -> str:
    """The first stdout line of `process`, without hanging the test if it never comes."""
    lines: queue.Queue[str] = queue.Queue()
    stdout = process.stdout
    assert stdout is not None
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=TIMEOUT).rstrip("\n")
    except queue.Empty:  # pragma: no cover - only when the server is broken
        pytest.fail("the emulator printed no URL")
