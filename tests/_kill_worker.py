"""A process running a booking agent with an SQLite journal, for tests/test_kill.py.

python _kill_worker.py start  BASE_URL JOURNAL LEDGER BLOCK          run the agent (sync)
python _kill_worker.py resume BASE_URL JOURNAL LEDGER BLOCK RUN_ID   resume RUN_ID from the
                                                                     journal alone (async)

BASE_URL is an emulator on 127.0.0.1. BLOCK names a tool whose first call in this process
blocks after announcing itself, until the test kills the process mid-call; or `-`.

Every tool appends `<tool> <idempotency key> started|finished <pid>` to the LEDGER file
(fsync'd), so the test counts real executions across processes. The process prints, one line
each, flushed:

    tool <name> started <key>              a tool body began
    recorded <name> <key>                  the journal recorded a call's result
    checkpoint <run id> <awaiting | ->     the journal saved the run's state
    result <json>                          the run ended: status, output_text, interaction_id
    nothing to resume                      `resume` found a finished run
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import anyio

from agentkit import Agent, AsyncClient, Client, RunContext, RunResult, RunState, UsageError, tool
from agentkit.journal import SQLiteJournal

MODEL = "gemini-3-flash-preview"
API_KEY = "test-key"
ORPHANED = 120.0  # seconds a blocked tool waits for its SIGKILL before the process gives up

_say_lock = threading.Lock()


def say(line: str) -> None:
    """Print one whole line at once (tools print from worker threads)."""
    with _say_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class ReportingJournal(SQLiteJournal):
    """An SQLite journal that says when a write is durable, so the test can kill right after."""

    def finish(self, key: str, result: Mapping[str, Any]) -> None:
        super().finish(key, result)
        say(f"recorded {result.get('name')} {key}")

    def checkpoint(self, run_id: str, state: RunState) -> None:
        super().checkpoint(run_id, state)
        say(f"checkpoint {run_id} {state.awaiting or '-'}")


class Ledger:
    """The outside world the tools act on: an append-only file shared by every process."""

    def __init__(self, path: str, block: str) -> None:
        self.path = path
        self.block = block
        self.lock = threading.Lock()

    def lines(self) -> list[list[str]]:
        if not os.path.exists(self.path):
            return []
        with open(self.path, encoding="utf-8") as file:
            return [line.split() for line in file]

    def count(self, tool: str, event: str) -> int:
        return sum(1 for line in self.lines() if line[0] == tool and line[2] == event)

    def write(self, tool: str, key: str, event: str) -> None:
        with self.lock, open(self.path, "a", encoding="utf-8") as file:
            file.write(f"{tool} {key} {event} {os.getpid()}\n")
            file.flush()
            os.fsync(file.fileno())

    def run(self, ctx: RunContext[Any], tool: str, effect: Callable[[], str]) -> str:
        """Run a tool body between its `started` and `finished` lines."""
        key = ctx.idempotency_key or ""
        self.write(tool, key, "started")
        say(f"tool {tool} started {key}")
        if tool == self.block:
            self.block = "-"
            threading.Event().wait(ORPHANED)  # the test kills this process (SIGKILL) here
            os._exit(3)  # the test is gone: do not linger
        with self.lock:
            result = effect()
        self.write(tool, key, "finished")
        return result


def build_agent(
    ledger: Ledger, journal: SQLiteJournal, client: Client | AsyncClient
) -> Agent[Any, Any]:
    """The same agent in every process: reserve a seat, charge the order, check payments."""

    @tool
    def reserve(ctx: RunContext[Any], order: str, seat: str) -> str:
        """Hold a seat for an order.

        Args:
            order: The order.
            seat: The seat.
        """

        def hold() -> str:
            # Numbered by executions: a second one would change the final answer.
            number = ledger.count("reserve", "finished") + 1
            return f"seat {seat} held for {order} (hold #{number})"

        return ledger.run(ctx, "reserve", hold)

    @tool
    def charge(ctx: RunContext[Any], order: str, cents: int) -> str:
        """Charge an order (not idempotent: each call takes money).

        Args:
            order: The order.
            cents: How much.
        """

        def take() -> str:
            number = ledger.count("charge", "finished") + 1
            return f"charged {cents} cents for {order} (payment #{number})"

        return ledger.run(ctx, "charge", take)

    @tool(idempotent=True)
    def payment_status(ctx: RunContext[Any], order: str) -> str:
        """Whether an order was paid (reads only: harmless to run twice).

        Args:
            order: The order.
        """
        return ledger.run(
            ctx,
            "payment_status",
            lambda: "paid" if ledger.count("charge", "finished") else "unpaid",
        )

    return Agent(MODEL, tools=[reserve, charge, payment_status], client=client, journal=journal)


def report(result: RunResult[Any]) -> None:
    fields = {
        "status": result.status,
        "output_text": result.output_text,
        "interaction_id": result.interaction_id,
        "run_id": result.state.run_id,
    }
    say("result " + json.dumps(fields))


def start(base_url: str, journal_path: str, ledger: Ledger) -> None:
    with (
        ReportingJournal(journal_path) as journal,
        Client(base_url=base_url, api_key=API_KEY) as client,
    ):
        agent = build_agent(ledger, journal, client)
        report(agent.run_sync("Book seat 12A on order-7 and charge 450 cents."))


async def resume(base_url: str, journal_path: str, ledger: Ledger, run_id: str) -> None:
    with ReportingJournal(journal_path) as journal:
        state = journal.latest(run_id)
        if state is None:
            raise SystemExit(f"no checkpoint for run {run_id}")
        async with AsyncClient(base_url=base_url, api_key=API_KEY) as client:
            agent = build_agent(ledger, journal, client)
            try:
                result = await agent.resume(state)
            except UsageError as error:
                if "nothing to resume" not in str(error):
                    raise
                say("nothing to resume")  # the run finished already
                return
        report(result)


def main(argv: list[str]) -> None:
    match argv:
        case ["start", base_url, journal, ledger, block]:
            loopback_only(base_url)
            start(base_url, journal, Ledger(ledger, block))
        case ["resume", base_url, journal, ledger, block, run_id]:
            loopback_only(base_url)
            anyio.run(resume, base_url, journal, Ledger(ledger, block), run_id)
        case _:
            raise SystemExit(__doc__)


def loopback_only(base_url: str) -> None:
    if urlsplit(base_url).hostname != "127.0.0.1":
        raise SystemExit(f"refusing {base_url!r}: the emulator serves on 127.0.0.1 only")


if __name__ == "__main__":
    main(sys.argv[1:])
