"""A Temporal worker in its own process, for tests/test_temporal_crash.py.

python _temporal_worker.py TEMPORAL_ADDRESS TASK_QUEUE EMULATOR_BASE_URL

It runs the agents and workflows of `_temporal_agents` on TASK_QUEUE, with an API client that
talks to the emulator at EMULATOR_BASE_URL (on 127.0.0.1 only), and prints `ready <identity>`
(flushed) once its pollers run; the identity is what the workflow history records for the
tasks this worker ran. The tools write the ledger named by `AGENTKIT_TEST_LEDGER`, and the tool
named by `AGENTKIT_TEST_BLOCK` blocks (see `_temporal_agents`). The test ends the process with
SIGKILL; the process also exits when its stdin closes, so it never outlives the test.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from datetime import timedelta
from urllib.parse import urlsplit

from _temporal_agents import AGENTS, WORKFLOWS
from temporalio.client import Client
from temporalio.worker import Worker

from agentkit import AsyncClient
from agentkit.contrib.temporal import AgentkitPlugin

API_KEY = "sk-test-worker-process"


def exit_with_parent() -> None:
    """Exit at once when the test closes our stdin (or dies): no worker is left behind."""
    sys.stdin.read()
    os._exit(0)


async def serve(address: str, queue: str, base_url: str) -> None:
    client = await Client.connect(address)
    api = AsyncClient(api_key=API_KEY, base_url=base_url, max_retries=0)
    worker = Worker(
        client,
        task_queue=queue,
        workflows=WORKFLOWS,
        plugins=[AgentkitPlugin(AGENTS, client=api)],
        # A workflow task sent to the sticky queue of a killed worker moves to the task
        # queue after this long (default 10 s), so another worker takes it soon.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=1),
    )
    async with worker:
        sys.stdout.write(f"ready {client.identity}\n")
        sys.stdout.flush()
        await asyncio.Event().wait()  # until the test kills this process


def main(argv: list[str]) -> None:
    match argv:
        case [address, queue, base_url]:
            if urlsplit(base_url).hostname != "127.0.0.1":
                raise SystemExit(f"refusing {base_url!r}: the emulator serves on 127.0.0.1 only")
            threading.Thread(target=exit_with_parent, daemon=True).start()
            asyncio.run(serve(address, queue, base_url))
        case _:
            raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
