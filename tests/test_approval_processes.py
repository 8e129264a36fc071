"""One saved approval resumed by several processes sharing an SQLite journal pays once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, Client, tool
from agentkit.journal import SQLiteJournal
from agentkit.testing import Emulator, Script, function_call

MODEL = "gemini-3-flash-preview"
TIMEOUT = 60.0

# The tool appends a line per execution to the ledger, whichever process runs it.
PAY = '''
def pay(amount: int) -> str:
    """Pay an amount.

    Args:
        amount: How much.
    """
    with open(LEDGER, "a") as ledger:
        ledger.write(f"paid {amount}\\n")
        ledger.flush()
        os.fsync(ledger.fileno())
    return f"paid {amount}"
'''

WORKER = (
    """
import json, os, sys
from agentkit import Agent, Client, RunState, tool
from agentkit.journal import SQLiteJournal

BASE_URL, JOURNAL, LEDGER, STATE, CALL = sys.argv[1:6]
"""
    + PAY
    + """
agent = Agent(
    "gemini-3-flash-preview",
    tools=[tool(pay, needs_approval=True)],
    client=Client(base_url=BASE_URL, api_key="test-key", max_retries=0),
    journal=SQLiteJournal(JOURNAL),
)
with open(STATE) as saved:
    state = RunState.from_json(saved.read())
result = agent.resume_sync(state, {CALL: True})
print(json.dumps({"output_text": result.output_text, "steps": len(result.steps)}))
"""
)


def paid(ledger: Path) -> list[str]:
    return ledger.read_text().splitlines() if ledger.exists() else []


def start(script: Path, *args: str) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if "API_KEY" not in key}
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
    assert process.returncode == 0, err
    result: dict[str, Any] = json.loads(out.splitlines()[-1])
    return result


@pytest.mark.parametrize("together", [False, True], ids=["one-after-the-other", "at-once"])
def test_a_saved_approval_resumed_by_two_processes_pays_once(
    tmp_path: Path, together: bool
) -> None:
    ledger = tmp_path / "ledger.txt"
    namespace: dict[str, Any] = {"LEDGER": str(ledger), "os": os}
    exec(PAY, namespace)  # the same tool the workers run
    emulator = Emulator(Script([function_call("pay", {"amount": 9}), *["Paid."] * 3]))
    journal = tmp_path / "journal.db"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    with (
        emulator.serve() as base_url,
        Client(base_url=base_url, api_key="test-key") as client,
        SQLiteJournal(journal) as first_journal,
    ):
        agent = Agent(
            MODEL,
            tools=[tool(namespace["pay"], needs_approval=True)],
            client=client,
            journal=first_journal,
        )
        paused = agent.run_sync("Pay 9.")
        state = tmp_path / "state.json"
        state.write_text(paused.state.to_json())
        args = (base_url, str(journal), str(ledger), str(state), paused.pending_calls[0].id or "")

        if together:
            results = [finish(process) for process in [start(script, *args) for _ in range(2)]]
        else:
            results = [finish(start(script, *args)) for _ in range(2)]

    assert paid(ledger) == ["paid 9"]
    if not together:
        # The second process followed the first one's conversation: nothing was sent again.
        assert results[0] == results[1] == {"output_text": "Paid.", "steps": 4}
        creates = [r for r in emulator.requests if r.method == "POST"]
        assert len(creates) == 2
