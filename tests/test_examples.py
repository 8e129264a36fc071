"""Every example runs offline (no API key: the built-in emulator) and prints what it promises."""

from __future__ import annotations

import itertools
import os
import re
import runpy
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _offline import fenced

from agentkit.testing import Emulator

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
    "function_calling_stateless.py": [
        "Turn 1: convert_currency returned",
        "history kept on the client: 6 steps",
        "Turn 2: convert_currency returned",
        "history kept on the client: 12 steps",
    ],
    "parallel_tools.py": ["3 tool calls", "Up to 3 tools ran at the same time"],
    "timeline.py": ["  get_pollen ", "  failed", "4 tool calls in ", "Wrote the page to "],
    "record_replay.py": [
        "Recorded 2 exchanges to weather.json",
        "The API key appears in the file: no",
        "Replayed without the emulator: same answer",
        "A different question: RequestNotRecorded",
    ],
    "otel_tracing.py": ["invoke_agent weather", "  execute_tool get_weather", "Answer: "],
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
    "temporal_worker.py": [
        "Temporal: a dev server of our own on 127.0.0.1:",
        "Self-check answered: get_weather returned",
    ],
    "temporal_starter.py": [
        "Temporal: a dev server of our own on 127.0.0.1:",
        "Started workflow weather-",
        "Answer: get_weather returned",
    ],
    "temporal_approval.py": [
        "Started workflow payments-",
        "Approve send_payment(",
        "Finished: completed",
        "send_payment returned Sent",
    ],
}


def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    # Works whether or not agentkit is installed in the environment running the tests.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def with_a_key(variable: str, code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` from the examples' folder with a (fake) key in `variable`.

    With a key, the examples aim at the real API; the child runs behind the suite's network
    fence, so whatever it builds cannot reach it.
    """
    return subprocess.run(
        [sys.executable, "-c", fenced(code)],
        cwd=EXAMPLES,
        env={**offline_env(), variable: "not-a-real-key"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


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
    # mcp_tools.py needs agentkit[mcp]: tests/test_mcp.py runs it where that is installed.
    assert programs == {*EXPECTED, "mcp_tools.py"}


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
    # Only builds the clients (no request is sent): the choice, its one line, the real host.
    completed = with_a_key(
        variable,
        "import _backend\n"
        "made = _backend.client_for_examples(), _backend.async_client_for_examples()\n"
        "print(*sorted({client.base_url for client in made}))\n",
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == (
        f"Backend: Gemini API ({variable} is set)\nhttps://generativelanguage.googleapis.com\n"
    )
    assert "not-a-real-key" not in completed.stdout + completed.stderr


# -- in-process: each example's emulator shows that it used the protocol it demonstrates ------

RunExample = Callable[[str], tuple[Emulator, str]]


@pytest.fixture
def run_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[RunExample]:
    """Run an example as `__main__` in this process; return its emulator and its output."""
    for variable in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(sys, "path", [str(EXAMPLES), *sys.path])

    def run(name: str) -> tuple[Emulator, str]:
        sys.modules.pop("_backend", None)  # a fresh emulator for each example
        monkeypatch.setattr(sys, "argv", [name])
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
        emulator = sys.modules["_backend"]._emulator
        assert isinstance(emulator, Emulator)
        return emulator, capsys.readouterr().out

    yield run
    sys.modules.pop("_backend", None)


def creates(emulator: Emulator) -> list[dict[str, Any]]:
    """The bodies of the create requests, in order."""
    return [
        dict(request.body)
        for request in emulator.requests
        if request.method == "POST" and request.path.endswith("/interactions")
    ]


def test_stateful_example_chains_interactions(run_in_process: RunExample) -> None:
    emulator, _ = run_in_process("function_calling_stateful.py")

    first, second = creates(emulator)
    assert "previous_interaction_id" not in first
    assert second["previous_interaction_id"] in emulator.interactions
    # Only the new steps travel: the results of the two calls.
    assert [step["type"] for step in second["input"]] == ["function_result"] * 2


def test_stateless_example_resends_the_whole_history(run_in_process: RunExample) -> None:
    emulator, _ = run_in_process("function_calling_stateless.py")

    bodies = creates(emulator)
    assert len(bodies) == 4  # two turns, each a call and an answer
    assert all(body["store"] is False for body in bodies)
    assert all("previous_interaction_id" not in body for body in bodies)
    for before, after in itertools.pairwise(bodies):
        assert after["input"][: len(before["input"])] == before["input"]


def test_parallel_example_sends_all_results_in_call_order(run_in_process: RunExample) -> None:
    emulator, output = run_in_process("parallel_tools.py")

    results = creates(emulator)[1]["input"]
    assert [step["call_id"] for step in results] == [call["id"] for call in emulator.function_calls]
    assert [step["name"] for step in results] == ["get_weather", "get_air_quality", "get_pollen"]
    assert "Up to 3 tools ran at the same time" in output


def test_background_examples_poll_and_cancel(run_in_process: RunExample) -> None:
    emulator, _ = run_in_process("background_poll.py")
    assert creates(emulator)[0]["background"] is True
    assert any(request.method == "GET" for request in emulator.requests)

    emulator, _ = run_in_process("background_cancel.py")
    (started,) = emulator.interactions
    assert emulator.requests[-1].path.endswith(f"/interactions/{started}/cancel")
    assert emulator.interactions[started]["status"] == "cancelled"


def test_structured_output_example_sends_the_schema(run_in_process: RunExample) -> None:
    emulator, _ = run_in_process("structured_output.py")

    response_format = creates(emulator)[0]["response_format"]
    assert response_format["mime_type"] == "application/json"
    assert response_format["schema"]["title"] == "Recipe"


def test_agent_as_tool_example_runs_the_researcher(run_in_process: RunExample) -> None:
    emulator, _ = run_in_process("agent_as_tool.py")

    tools = [
        [tool.get("name", tool["type"]) for tool in body["tools"]] for body in creates(emulator)
    ]
    assert tools == [
        ["research", "word_count", "save_note"],  # the orchestrator asks for its tools
        ["google_search"],  # `research` runs the researcher's own loop
        ["research", "word_count", "save_note"],  # the orchestrator gets the results
    ]


def test_human_approval_example_pays_only_after_approval(run_in_process: RunExample) -> None:
    emulator, output = run_in_process("human_approval.py")

    paused, resumed = creates(emulator)
    assert "send_payment" not in [step.get("name") for step in paused["input"]]
    assert [step["name"] for step in emulator.function_results] == ["get_balance", "send_payment"]
    assert resumed["input"][-1]["name"] == "send_payment"
    assert "Resumed: completed" in output


# -- the Temporal examples: durable runs on a real dev server ---------------------------------


def test_temporal_examples_run_in_separate_processes(temporal_address: str) -> None:
    """The worker serves a given Temporal service until Ctrl-C; the others only start runs."""
    worker = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "temporal_worker.py"), "--temporal", temporal_address],
        cwd=ROOT,
        env=offline_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(TIMEOUT, worker.kill)  # a hung worker ends the test, not CI
    watchdog.start()
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline() == OFFLINE_LINE + "\n"
        assert worker.stdout.readline().startswith(f"Worker ready on {temporal_address}")
        started = run_example("temporal_starter.py", "--temporal", temporal_address)
        approved = run_example("temporal_approval.py", "--temporal", temporal_address)
    finally:
        worker.send_signal(signal.SIGINT)  # Ctrl-C
        output, errors = worker.communicate(timeout=TIMEOUT)
        watchdog.cancel()

    assert worker.returncode == 0, errors
    assert output == "Worker stopped\n"
    for completed in (started, approved):
        assert completed.returncode == 0, completed.stderr
        assert "Backend:" not in completed.stdout  # the worker talks to the model, not them
        assert "dev server" not in completed.stdout
    assert "Answer: get_weather returned" in started.stdout
    assert "Finished: completed" in approved.stdout
    assert "send_payment returned Sent" in approved.stdout


def test_temporal_examples_stop_the_dev_server_they_started() -> None:
    completed = run_example("temporal_starter.py")

    assert completed.returncode == 0, completed.stderr
    found = re.search(r"a dev server of our own on 127\.0\.0\.1:(\d+)", completed.stdout)
    assert found is not None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(found[1])), timeout=TIMEOUT).close()


@pytest.mark.parametrize("variable", ["GEMINI_API_KEY", "GOOGLE_API_KEY"])
def test_the_temporal_worker_uses_the_real_api_when_a_key_is_set(variable: str) -> None:
    # Only builds the worker's API client (no request is sent): the choice and its one line.
    code = (
        "import anyio, temporal_worker\n"
        "async def main():\n"
        "    async with temporal_worker.model_api():\n"
        "        pass\n"
        "anyio.run(main)\n"
    )
    completed = with_a_key(variable, code)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == f"Backend: Gemini API ({variable} is set)\n"
    assert "not-a-real-key" not in completed.stdout + completed.stderr
