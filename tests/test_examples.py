"""Every example runs offline (no API key: the built-in emulator) and prints what it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
OFFLINE_LINE = "Backend: built-in emulator (offline; set GEMINI_API_KEY to use the real API)"
TIMEOUT = 120  # seconds; generous for slow CI machines, never reached when all is well

# For each example: pieces of its output that show it did its job.
EXPECTED: dict[str, list[str]] = {
    "quickstart.py": ["Tool call: get_weather(", "Answer: get_weather returned"],
    "function_calling_stateful.py": [
        "function_call    get_order(",
        "function_result  track_parcel ok",
        "Status: completed",
    ],
    "function_calling_stateless.py": ["Turn 1: convert_currency returned", "Turn 2: "],
    "parallel_tools.py": ["3 tool calls", "Up to 3 tools ran at the same time"],
    "google_search_citations.py": ["Searches run by the server: 1", "[1] ", "supports: "],
    "structured_output.py": ["Title: ", "Serves ", "vegetarian: ", "Ingredients:\n  - "],
    "streaming.py": [
        "[calling search_flights with {",
        "[search_flights finished]",
        "search_flights returned",
        "[done: completed,",
    ],
    "background_poll.py": [
        "Started background interaction v1_",
        "status: in_progress",
        "Finished: completed",
        "Report: list_sources returned",
    ],
    "background_cancel.py": ["Started background interaction v1_", "After cancel: cancelled"],
    "multi_turn.py": ["Agent (1): ", "Agent (3): ", "Basket: {"],
    "human_approval.py": [
        "Waiting for approval: send_payment(",
        "Saved the paused run to ",
        "Resumed: completed",
        "send_payment returned Sent",
    ],
    "agent_as_tool.py": [
        "Orchestrator called research(",
        "Orchestrator called save_note(",
        "Notes saved: 1",
        "research returned According to",
    ],
    "concurrent_service.py": [
        "50 of 50 runs done",
        "{'completed': 50}",
        "50 tool calls",
        "0 errors",
    ],
}


def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    # Works whether or not agentkit is installed in the environment running the tests.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_example(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=ROOT,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_every_example_is_tested() -> None:
    programs = {path.name for path in EXAMPLES.glob("*.py") if not path.name.startswith("_")}
    assert programs == set(EXPECTED)


def test_the_readme_links_every_example() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in EXPECTED if f"(examples/{name})" not in readme]
    assert missing == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_offline(name: str) -> None:
    completed = run_example(name)

    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == OFFLINE_LINE
    assert sum(line.startswith("Backend:") for line in lines) == 1
    for expected in EXPECTED[name]:
        assert expected in completed.stdout


def test_human_approval_resumes_in_another_process(tmp_path: Path) -> None:
    saved = tmp_path / "paused.json"

    paused = run_example("human_approval.py", "--save", str(saved))
    assert paused.returncode == 0, paused.stderr
    assert "Waiting for approval: send_payment(" in paused.stdout
    assert "Resumed" not in paused.stdout

    resumed = run_example("human_approval.py", "--resume", str(saved))
    assert resumed.returncode == 0, resumed.stderr
    assert "Resumed: completed" in resumed.stdout
    assert "send_payment returned Sent" in resumed.stdout


@pytest.mark.parametrize("variable", ["GEMINI_API_KEY", "GOOGLE_API_KEY"])
def test_examples_use_the_real_api_when_a_key_is_set(variable: str) -> None:
    # Only builds the clients (no request is sent): the choice and its one line.
    code = "import _backend; _backend.client_for_examples(); _backend.async_client_for_examples()"
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=EXAMPLES,
        env={**offline_env(), variable: "not-a-real-key"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == f"Backend: Gemini API ({variable} is set)\n"
    assert "not-a-real-key" not in completed.stdout + completed.stderr
