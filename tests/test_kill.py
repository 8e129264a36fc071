"""Kill tests: a process running an agent with an SQLiteJournal dies by SIGKILL, mid-tool or
mid-request, and a new process continues the run from the journal alone.

The agent (tests/_kill_worker.py) books a seat: the model calls `reserve` and `charge` in one
batch, then answers from their results; told that a charge's outcome is unknown, it asks the
idempotent `payment_status` and charges again only when nothing was paid. The tools write
every execution to a ledger file, and number their results by how often they ran, so an
execution too many would change the final answer. The emulator runs in this process (served
on 127.0.0.1), so every worker process talks to the same one.

No sleeps: the test kills a worker when a line it printed (a tool started, a checkpoint was
written) or the emulator (a request is being held) says it is time, and every wait is bounded.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
from _agent_helpers import result_text

from agentkit import RunState
from agentkit.journal import CallRecord, SQLiteJournal
from agentkit.testing import Emulator, EmuResponse, ModelRequest, function_call

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

TESTS = Path(__file__).parent
WORKER = str(TESTS / "_kill_worker.py")
API_KEY = "test-key"
TIMEOUT = 20.0
ORDER = "order-7"
UNKNOWN = "outcome is unknown"

Hold = Literal["none", "model", "stream"]


# --- the model and the emulator -------------------------------------------------------------------


def _last_result(request: ModelRequest, name: str) -> str:
    """The text of the last successful result of `name` in the conversation."""
    texts = [
        result_text(step)
        for step in request.history
        if step.get("type") == "function_result"
        and step.get("name") == name
        and not step.get("is_error")
    ]
    return texts[-1] if texts else "nothing"


def booking_model(request: ModelRequest) -> Any:
    """Decides from the conversation, not from a turn count, so a re-sent request gets the
    same answer as the original."""
    if not request.calls:
        return [
            function_call("reserve", {"order": ORDER, "seat": "12A"}),
            function_call("charge", {"order": ORDER, "cents": 450}),
        ]
    new = {step["name"]: step for step in request.function_results}
    charge = new.get("charge")
    if charge is not None and charge.get("is_error"):
        return function_call("payment_status", {"order": ORDER})
    status = new.get("payment_status")
    if status is not None and result_text(status) == "unpaid":
        return function_call("charge", {"order": ORDER, "cents": 450})
    return f"Booked: {_last_result(request, 'reserve')}; {_last_result(request, 'charge')}."


class HoldingEmulator(Emulator):
    """Serves `booking_model`, and can hold the first create that carries tool results.

    `hold="model"`: the model thinks until `release` (the interaction does not exist yet);
    `hold="stream"`: the interaction is made and its first event (its id) sent, the rest of
    the stream waits for `release`. `held` is set once the request is being held.
    """

    def __init__(self, hold: Hold = "none") -> None:
        super().__init__(self._model, api_key=API_KEY)
        self.hold: Hold = hold
        self.held = threading.Event()
        self.release = threading.Event()
        self.held_request: ModelRequest | None = None
        self._stream_thread: int | None = None

    def _model(self, request: ModelRequest) -> Any:
        if self.hold != "none" and self.held_request is None and request.function_results:
            self.held_request = request
            if self.hold == "model":
                self.held.set()
                self.release.wait(TIMEOUT)
            else:
                self._stream_thread = threading.get_ident()
        return booking_model(request)

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> EmuResponse:
        answer = super().handle(method, path, query, headers, body)
        if self._stream_thread == threading.get_ident() and not isinstance(answer.body, bytes):
            self._stream_thread = None
            answer.body = self._held_stream(answer.body)
        return answer

    def _held_stream(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        yield next(chunks)  # `interaction.created`: the client knows the id
        self.held.set()
        self.release.wait(TIMEOUT)
        yield from chunks

    def creates(self, previous: str | None = None) -> int:
        """How many creates the emulator received (continuing `previous`, when given)."""
        return sum(
            1
            for request in self.requests
            if request.method == "POST"
            and request.path.endswith("/interactions")
            and (previous is None or request.body.get("previous_interaction_id") == previous)
        )

    def unknown_outcomes(self) -> list[dict[str, Any]]:
        """The error results telling the model a call's outcome is unknown."""
        return [
            step
            for step in self.function_results
            if step.get("is_error") and UNKNOWN in result_text(step)
        ]


# --- worker processes -----------------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    """This environment without real API keys or proxies; the repository importable."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("GEMINI_API_KEY", "GOOGLE_API_KEY") and not name.lower().endswith("_proxy")
    }
    paths = [str(TESTS.parent), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
    return env


class Worker:
    """A `_kill_worker.py` process whose stdout lines the test reads with a timeout."""

    def __init__(self, stderr: Path, *args: str) -> None:
        self.stderr_path = stderr
        self.stderr = open(stderr, "w")  # noqa: SIM115 - the child writes it, close() closes it
        self.process = subprocess.Popen(
            [sys.executable, WORKER, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env=_child_env(),
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, *conditions: Callable[[str], bool]) -> list[str]:
        """Read lines until each condition matched one (in any order); the lines matched."""
        matched: list[str | None] = [None] * len(conditions)
        deadline = time.monotonic() + TIMEOUT
        while None in matched:
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise AssertionError(f"timed out; the worker said {self._said()}") from None
            if line is None:
                code = self.process.wait(TIMEOUT)
                raise AssertionError(f"the worker exited ({code}); it said {self._said()}")
            self.lines.append(line)
            for index, condition in enumerate(conditions):
                if matched[index] is None and condition(line):
                    matched[index] = line
        return [line for line in matched if line is not None]

    def _said(self) -> str:
        return f"{self.lines} and on stderr:\n{self.stderr_path.read_text()}"

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind runs in the worker."""
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(TIMEOUT) == -signal.SIGKILL

    def result(self) -> dict[str, Any]:
        """The run's result the worker printed; it must then exit cleanly."""
        (line,) = self.wait_for(lambda line: line.startswith("result "))
        assert self.process.wait(TIMEOUT) == 0
        fields: dict[str, Any] = json.loads(line.removeprefix("result "))
        return fields

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        assert self.process.stdout is not None
        self.process.stdout.close()
        self.stderr.close()


def said(prefix: str) -> Callable[[str], bool]:
    return lambda line: line.startswith(prefix)


def run_id(lines: list[str]) -> str:
    """The run id of the first `checkpoint` line."""
    return next(line.split()[1] for line in lines if line.startswith("checkpoint "))


@dataclass
class Lab:
    """An emulator served on loopback, a journal and a ledger file, and the workers using them."""

    emulator: HoldingEmulator
    base_url: str
    directory: Path
    workers: list[Worker] = field(default_factory=list[Worker])

    @property
    def journal(self) -> str:
        return str(self.directory / "journal.db")

    @property
    def ledger_path(self) -> str:
        return str(self.directory / "ledger.txt")

    def _spawn(self, *args: str) -> Worker:
        worker = Worker(self.directory / f"worker-{len(self.workers)}.err", *args)
        self.workers.append(worker)
        return worker

    def start(self, block: str = "-") -> Worker:
        return self._spawn("start", self.base_url, self.journal, self.ledger_path, block)

    def resume(self, run: str, block: str = "-") -> Worker:
        return self._spawn("resume", self.base_url, self.journal, self.ledger_path, block, run)

    def ledger(self) -> list[tuple[str, str, str]]:
        """(tool, idempotency key, started | finished) for every execution, in order."""
        path = Path(self.ledger_path)
        lines = path.read_text().splitlines() if path.exists() else []
        return [(tool, key, event) for tool, key, event, _pid in map(str.split, lines)]

    def executions(self) -> Counter[tuple[str, str]]:
        """How often each tool started and finished, over every process."""
        return Counter((tool, event) for tool, _key, event in self.ledger())

    def record(self, key: str) -> CallRecord | None:
        with SQLiteJournal(self.journal) as journal:
            return journal.get(key)

    def latest(self, run: str) -> RunState:
        with SQLiteJournal(self.journal) as journal:
            state = journal.latest(run)
        assert state is not None
        return state

    def close(self) -> None:
        self.emulator.release.set()  # a held server thread must end for the server to stop
        for worker in self.workers:
            worker.close()


@contextmanager
def lab(directory: Path, hold: Hold = "none") -> Generator[Lab, None, None]:
    emulator = HoldingEmulator(hold)
    with emulator.serve() as base_url:
        opened = Lab(emulator, base_url, directory)
        try:
            yield opened
        finally:
            opened.close()


@dataclass(frozen=True)
class Uninterrupted:
    answer: str
    creates: int
    interactions: int
    executions: Counter[tuple[str, str]]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Uninterrupted:
    """The same run with nothing killed, in a fresh emulator: what every resumed run must match."""
    with lab(tmp_path_factory.mktemp("uninterrupted")) as clean:
        result = clean.start().result()
        assert result["status"] == "completed"
        return Uninterrupted(
            result["output_text"],
            clean.emulator.creates(),
            len(clean.emulator.interactions),
            clean.executions(),
        )


def test_the_uninterrupted_run_books_and_charges_once(uninterrupted: Uninterrupted) -> None:
    assert uninterrupted.answer == (
        f"Booked: seat 12A held for {ORDER} (hold #1); charged 450 cents for {ORDER} (payment #1)."
    )
    assert uninterrupted.creates == uninterrupted.interactions == 2
    assert uninterrupted.executions == {
        ("reserve", "started"): 1,
        ("reserve", "finished"): 1,
        ("charge", "started"): 1,
        ("charge", "finished"): 1,
    }


# --- killed while a tool runs ---------------------------------------------------------------------


def test_killed_while_a_tool_runs_the_run_resumes_in_a_new_process(
    tmp_path: Path, uninterrupted: Uninterrupted
) -> None:
    with lab(tmp_path) as kill:
        first = kill.start(block="charge")
        # `reserve` finished and its result is recorded; `charge` is running (for ever).
        charging, recorded = first.wait_for(said("tool charge started"), said("recorded reserve"))
        first.kill()
        run = run_id(first.lines)
        charge_key = charging.split()[-1]
        reserve_key = recorded.split()[-1]
        latest = kill.latest(run)
        assert [call["name"] for call in latest.calls] == ["reserve", "charge"]  # the batch

        result = kill.resume(run).result()

        assert result["status"] == "completed"
        assert result["run_id"] == run
        assert result["output_text"] == uninterrupted.answer
        ledger = kill.ledger()
        # The finished call ran once, in the first process: its recorded result was sent.
        assert [entry for entry in ledger if entry[0] == "reserve"] == [
            ("reserve", reserve_key, "started"),
            ("reserve", reserve_key, "finished"),
        ]
        # The interrupted charge was not run again: the model was told its outcome is
        # unknown, checked, and charged once more under a new call.
        charges = [entry for entry in ledger if entry[0] == "charge"]
        assert charges[0] == ("charge", charge_key, "started")
        assert [event for _, key, event in charges if key == charge_key] == ["started"]
        assert Counter(event for _, key, event in charges if key != charge_key) == {
            "started": 1,
            "finished": 1,
        }
        (unknown,) = kill.emulator.unknown_outcomes()
        assert unknown["name"] == "charge"
        assert kill.executions()[("payment_status", "finished")] == 1
        assert kill.record(charge_key) == CallRecord(charge_key, None, 1)  # never claimed again


# --- killed while a create is in flight -----------------------------------------------------------


@pytest.mark.parametrize("hold", ["model", "stream"])
def test_killed_while_a_create_is_in_flight_the_run_resumes_in_a_new_process(
    hold: Hold, tmp_path: Path, uninterrupted: Uninterrupted
) -> None:
    with lab(tmp_path, hold) as kill:
        first = kill.start()
        # The create carrying the results of `reserve` and `charge` reached the server.
        assert kill.emulator.held.wait(TIMEOUT)
        request = kill.emulator.held_request
        assert request is not None
        held, turn_one = request.interaction_id, request.body["previous_interaction_id"]
        checkpoint = said("checkpoint ")
        if hold == "stream":
            # ...and the worker learnt the new interaction's id and checkpointed it.
            first.wait_for(lambda line: checkpoint(line) and line.endswith(f" {held}"))
        else:
            first.wait_for(checkpoint)
        first.kill()
        kill.emulator.release.set()  # the server goes on only once the client is dead
        run = run_id(first.lines)
        latest = kill.latest(run)

        result = kill.resume(run).result()

        assert result["status"] == "completed"
        assert result["output_text"] == uninterrupted.answer
        assert kill.executions() == uninterrupted.executions  # no tool ran again
        assert kill.emulator.unknown_outcomes() == []
        if hold == "stream":
            # The id was known: the resumed run re-attached to that interaction.
            assert latest.awaiting == held
            assert result["interaction_id"] == held
            assert kill.emulator.creates(previous=turn_one) == 1
            assert kill.emulator.creates() == uninterrupted.creates
            assert len(kill.emulator.interactions) == uninterrupted.interactions
        else:
            # Nothing came back: the request was sent again. The server had acted on the
            # first one after all, which left an orphan interaction (the documented limit).
            assert latest.awaiting is None
            assert latest.outbox is not None
            assert result["interaction_id"] != held
            assert kill.emulator.creates(previous=turn_one) == 2
            assert kill.emulator.creates() == uninterrupted.creates + 1
            orphans = set(kill.emulator.interactions) - {turn_one, result["interaction_id"]}
            assert orphans == {held}
            assert kill.emulator.interactions[held]["status"] == "completed"


# --- killed again while resuming ------------------------------------------------------------------


def test_a_resume_killed_in_its_turn_is_resumed_by_a_third_process(
    tmp_path: Path, uninterrupted: Uninterrupted
) -> None:
    with lab(tmp_path) as kill:
        first = kill.start(block="charge")
        charging, _ = first.wait_for(said("tool charge started"), said("recorded reserve"))
        first.kill()
        run = run_id(first.lines)
        charge_key = charging.split()[-1]

        # The second process tells the model the charge's outcome is unknown, and dies while
        # the idempotent status check runs.
        second = kill.resume(run, block="payment_status")
        (checking,) = second.wait_for(said("tool payment_status started"))
        second.kill()
        status_key = checking.split()[-1]

        result = kill.resume(run).result()

        assert result["status"] == "completed"
        assert result["output_text"] == uninterrupted.answer
        ledger = kill.ledger()
        assert [event for tool, _, event in ledger if tool == "reserve"] == [
            "started",
            "finished",
        ]
        # The idempotent check ran again; the unknown charge never did.
        assert [event for _, key, event in ledger if key == status_key] == [
            "started",
            "started",
            "finished",
        ]
        record = kill.record(status_key)
        assert record is not None
        assert (record.finished, record.attempts) == (True, 2)
        assert [event for _, key, event in ledger if key == charge_key] == ["started"]
        assert kill.executions()[("charge", "finished")] == 1
        assert len(kill.emulator.unknown_outcomes()) == 1  # decided once, then checkpointed

        # A process resuming the finished run finds nothing to do, and runs nothing.
        before = kill.ledger()
        last = kill.resume(run)
        last.wait_for(said("nothing to resume"))
        assert last.process.wait(TIMEOUT) == 0
        assert kill.ledger() == before
