"""The main scenarios over a real loopback socket, through both drivers: stateful and
stateless tool runs, a streamed run whose connection drops, a background run, and a run
paused for approval that another process resumes from a saved JSON file.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from _agent_bg_helpers import calls_summary, creates, dropping, final_result, stream, streamed_text
from _agent_helpers import MODEL, Driver, Weather, bodies, results_json, user_input

from agentkit import Agent, AsyncClient, RunState, tool
from agentkit.journal import SQLiteJournal
from agentkit.testing import Emulator, Script, function_call, text, thought

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "Weather in Paris and Rome?"


@pytest.fixture(params=["async", "sync"])
def run(request: pytest.FixtureRequest) -> Driver:
    return Driver(request.param)


@asynccontextmanager
async def socket_agent(base_url: str, **options: Any) -> AsyncGenerator[Agent[Any, Any], None]:
    """An agent whose client reaches a loopback server; polls do not wait."""

    async def no_wait(seconds: float) -> None:
        await anyio.lowlevel.checkpoint()

    client = AsyncClient(api_key="k", base_url=base_url, sleep=no_wait)
    agent = Agent(MODEL, client=client, **options)
    try:
        yield agent
    finally:
        await client.aclose()
        agent.sync_client.close()  # the twin the sync driver built (or builds now, unused)


@asynccontextmanager
async def over_socket(emulator: Emulator, **options: Any) -> AsyncGenerator[Agent[Any, Any], None]:
    """An agent whose client reaches the emulator through a loopback HTTP server."""
    with emulator.serve() as base_url:
        async with socket_agent(base_url, **options) as agent:
            yield agent


async def test_stateful_tool_run_over_a_loopback_socket(run: Driver) -> None:
    weather = Weather()
    calls = [
        thought(),
        function_call("get_weather", {"city": "Paris"}),
        function_call("get_weather", {"city": "Rome"}),
    ]
    emulator = Emulator(Script([calls, "Sunny in both."]))

    async with over_socket(emulator, tools=[weather.tool]) as agent:
        result = await run(agent, PROMPT)

    first, second = bodies(emulator)
    assert first["input"] == PROMPT
    assert second["previous_interaction_id"] == "v1_emu_0001"
    assert [r["call_id"] for r in emulator.function_results] == ["fc_0001", "fc_0002"]
    assert results_json(emulator) == [
        {"city": "Paris", "temperature_c": 21},
        {"city": "Rome", "temperature_c": 21},
    ]
    assert result.output_text == "Sunny in both."
    assert result.interaction_id == "v1_emu_0002"


async def test_stateless_tool_run_over_a_loopback_socket(run: Driver) -> None:
    weather = Weather()
    hologram = {"type": "hologram_call", "beam": {"angle": 2}}
    script = Script(
        [
            [thought(), hologram, function_call("get_weather", {"city": "Paris"})],
            [thought(), function_call("get_weather", {"city": "Rome"})],
            text("Sunny in both."),
        ]
    )
    emulator = Emulator(script)

    async with over_socket(emulator, tools=[weather.tool], store=False) as agent:
        result = await run(agent, PROMPT)

    sent = bodies(emulator)
    assert len(sent) == 3
    assert all(body["store"] is False for body in sent)
    assert all("previous_interaction_id" not in body for body in sent)
    assert sent[0]["input"] == [user_input(PROMPT)]
    assert sent[2]["input"][: len(sent[1]["input"])] == sent[1]["input"]
    assert hologram in sent[2]["input"]
    assert weather.cities == ["Paris", "Rome"]
    assert result.output_text == "Sunny in both."


async def test_a_pooled_connection_keeps_nothing_of_the_run_that_opened_it(
    tmp_path: Path,
) -> None:
    weather = Weather()
    emulator = Emulator(Script([[function_call("get_weather", {"city": "Paris"})], "Sunny."]))

    with SQLiteJournal(tmp_path / "runs.db") as journal:  # keeps its checkpoints on disk only
        async with over_socket(emulator, tools=[weather.tool], journal=journal) as agent:
            result = await agent.run(PROMPT)
            run_id = result.state.run_id
            del result
            gc.collect()
            # The connection still waits in the pool for the next request; the run is gone.
            # (`type`, not `isinstance`: a lazy module's stand-in would import on `__class__`.)
            alive = [o for o in gc.get_objects() if type(o) is RunState and o.run_id == run_id]
            assert alive == []


async def test_a_streamed_run_resumes_a_dropped_connection_over_a_loopback_socket(
    run: Driver,
) -> None:
    weather = Weather()
    emulator = Emulator()
    answer = "Sunny in Paris, as the tool said."
    calls = [thought("Checking."), function_call("get_weather", {"city": "Paris"})]
    emulator.behaviour = Script([dropping(emulator, 4, calls), answer])

    async with over_socket(emulator, tools=[weather.tool]) as agent:
        events = await stream(agent, PROMPT, run.mode)

    result = final_result(events)
    assert streamed_text(events) == result.output_text == answer
    assert weather.cities == ["Paris"]
    assert ("GET", "stream v1_emu_0001") in calls_summary(emulator)
    assert [r["call_id"] for r in emulator.function_results] == ["fc_0001"]


async def test_a_background_run_over_a_loopback_socket(run: Driver) -> None:
    weather = Weather()
    emulator = Emulator(
        Script([[function_call("get_weather", {"city": "Paris"})], "Sunny."]), background_polls=2
    )

    async with over_socket(emulator, tools=[weather.tool], background=True) as agent:
        result = await run(agent, PROMPT)

    assert result.output_text == "Sunny."
    assert weather.cities == ["Paris"]
    assert [body["background"] for body in bodies(emulator)] == [True, True]
    assert calls_summary(emulator).count(("GET", "get v1_emu_0002")) == 3


# -- resuming in another process ----------------------------------------------------------

WORKER = '''
"""Resume the paused run saved in a file: new process, new tools, new agent, new client."""

import json
import sys

import anyio

from agentkit import Agent, AsyncClient, Client, RunState, tool

base_url, saved, store, driver = sys.argv[1], sys.argv[2], sys.argv[3] == "stateful", sys.argv[4]
ran = []


def get_balance(account: str) -> dict:
    """Get the balance of an account.

    Args:
        account: The account name.
    """
    ran.append("get_balance")
    return {"account": account, "balance": 1250}


def send_payment(recipient: str, amount: float) -> str:
    """Send a payment.

    Args:
        recipient: Who receives the money.
        amount: How much, in euros.
    """
    ran.append("send_payment")
    return f"Sent {amount:g} EUR to {recipient}."


tools = [tool(get_balance), tool(needs_approval=True)(send_payment)]
with open(saved) as file:
    state = RunState.from_json(file.read())
approvals = {call.id: True for call in state.pending_calls}

if driver == "sync":
    with Client(api_key="k", base_url=base_url) as client:
        result = Agent(MODEL, tools=tools, store=store, client=client).resume_sync(state, approvals)
else:
    async def main():
        async with AsyncClient(api_key="k", base_url=base_url) as client:
            agent = Agent(MODEL, tools=tools, store=store, client=client)
            return await agent.resume(state, approvals)

    result = anyio.run(main)
print(json.dumps({"status": result.status, "text": result.output_text, "ran": sorted(ran)}))
'''


@pytest.mark.parametrize("store", ["stateful", "stateless"])
async def test_a_paused_run_resumes_in_another_process(
    run: Driver, store: str, tmp_path: Path
) -> None:
    ran: list[str] = []

    def get_balance(account: str) -> dict[str, Any]:
        """Get the balance of an account.

        Args:
            account: The account name.
        """
        ran.append("get_balance")  # pragma: no cover - only the other process runs tools
        return {}  # pragma: no cover

    def send_payment(recipient: str, amount: float) -> str:
        """Send a payment.

        Args:
            recipient: Who receives the money.
            amount: How much, in euros.
        """
        ran.append("send_payment")  # pragma: no cover - only the other process runs tools
        return ""  # pragma: no cover

    tools = [tool(get_balance), tool(needs_approval=True)(send_payment)]
    calls = [
        thought(),  # stateless: the other process must re-send its signature unchanged
        function_call("get_balance", {"account": "main"}),
        function_call("send_payment", {"recipient": "Alice", "amount": 450}),
    ]
    emulator = Emulator(Script([calls, "Paid Alice 450 EUR."]))
    saved = tmp_path / "paused.json"
    worker = tmp_path / "worker.py"
    worker.write_text(f"MODEL = {MODEL!r}\n{WORKER}")

    with emulator.serve() as base_url:
        async with socket_agent(base_url, tools=tools, store=store == "stateful") as agent:
            paused = await run(agent, "Check my balance, then pay Alice 450 EUR.")
        assert paused.status == "requires_action"
        assert [call.name for call in paused.pending_calls] == ["send_payment"]
        saved.write_text(paused.state.to_json())

        command = [sys.executable, str(worker), base_url, str(saved), store, run.mode]
        environment = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = await anyio.to_thread.run_sync(
            lambda: subprocess.run(
                command, capture_output=True, text=True, timeout=120, env=environment, check=False
            )
        )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "status": "completed",
        "text": "Paid Alice 450 EUR.",
        "ran": ["get_balance", "send_payment"],
    }
    assert ran == []
    resumed = creates(emulator)[1]
    assert [
        (r["call_id"], r["name"]) for r in resumed["input"] if r["type"] == "function_result"
    ] == [
        ("fc_0001", "get_balance"),
        ("fc_0002", "send_payment"),
    ]
    if store == "stateful":
        assert resumed["previous_interaction_id"] == paused.interaction_id
    else:
        assert "previous_interaction_id" not in resumed
        assert resumed["input"][: len(paused.state.history)] == paused.state.history
