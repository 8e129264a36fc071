"""Crash tests: a Temporal worker process dies by SIGKILL mid-run, and a new one finishes it.

Each test starts worker A (tests/_temporal_worker.py) and a workflow, waits for its moment (a
tool runs, a create streams, a background interaction is polled, an approval is pending),
kills A, starts worker B and awaits the workflow's result. The emulator serves the model on
127.0.0.1 to both workers and logs every request; the tools write every execution to a ledger
file; the workflow history says which attempt of an activity completed, on which worker.

No sleeps for synchronisation: the moment is read from a line the worker printed, the ledger,
the emulator's log or `describe()` of the workflow (polled, with a timeout as the failure
guard). The figures (recovery time from the kill to the result, executions per call, creates
per turn) are printed at the end of the module; the tests assert on the counts only.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import pytest
from _temporal_agents import BLOCK, LEDGER, BillingWorkflow, RefundWorkflow
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.client import Client, WorkflowHandle

from agentkit.contrib.temporal import AgentWorkflow, AgentWorkflowInput, AgentWorkflowResult
from agentkit.testing import Emulator

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX"),
    pytest.mark.anyio,
]

T = TypeVar("T")

TESTS = Path(__file__).parent
WORKER = str(TESTS / "_temporal_worker.py")
TIMEOUT = 60.0  # a failure guard only: every wait ends as soon as its condition holds
POLL = 0.02  # seconds between two looks at the workflow or the emulator
PROMPT = "Charge and check stock"
UNKNOWN = (
    "An earlier attempt of this call to 'charge' started but its outcome is unknown (the "
    "process running it stopped or was interrupted); it was not run again."
)
"""What the model is told about an interrupted non-idempotent call (agentkit/_toolset.py)."""

Ledger = list[tuple[str, str, str, int]]
"""(tool, idempotency key, started | finished, pid) per line of the ledger file."""


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # Temporal's SDK runs on asyncio only


# --- worker processes -----------------------------------------------------------------------------


def _child_env(ledger: Path, block: str | None) -> dict[str, str]:
    """This environment without API keys or proxies; the repository importable; our ledger."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("GEMINI_API_KEY", "GOOGLE_API_KEY", BLOCK)
        and not name.lower().endswith("_proxy")
    }
    paths = [str(TESTS.parent), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
    env[LEDGER] = str(ledger)
    if block is not None:
        env[BLOCK] = block
    return env


class WorkerProcess:
    """A `_temporal_worker.py` process whose stdout lines the test reads with a timeout."""

    def __init__(self, stderr: Path, args: list[str], env: dict[str, str]) -> None:
        self.stderr_path = stderr
        self.stderr = open(stderr, "w")  # noqa: SIM115 - the child writes it, close() closes it
        self.process = subprocess.Popen(
            [sys.executable, WORKER, *args],
            stdin=subprocess.PIPE,  # the worker exits when this closes
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env=env,
        )
        self.identity = ""
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, prefix: str) -> str:
        """Read lines until one starts with `prefix`; that line."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise AssertionError(f"timed out; the worker said {self._said()}") from None
            if line is None:
                code = self.process.wait(TIMEOUT)
                raise AssertionError(f"the worker exited ({code}); it said {self._said()}")
            self.lines.append(line)
            if line.startswith(prefix):
                return line

    async def said(self, prefix: str) -> str:
        return await anyio.to_thread.run_sync(partial(self.wait_for, prefix))

    def _said(self) -> str:
        return f"{self.lines} and on stderr:\n{self.stderr_path.read_text()}"

    def kill(self) -> float:
        """SIGKILL: no cleanup of any kind runs in the worker. When it died (monotonic)."""
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(TIMEOUT) == -signal.SIGKILL
        return time.monotonic()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.stderr.close()


# --- one crash: an emulator, a task queue, a ledger and the workers -------------------------------


@dataclass
class Lab:
    """An emulator on loopback, a task queue, a ledger file, and the workers using them."""

    emulator: Emulator
    base_url: str
    address: str
    temporal: Client
    directory: Path
    queue: str = field(default_factory=lambda: f"crash-{uuid.uuid4()}")
    workers: list[WorkerProcess] = field(default_factory=list[WorkerProcess])
    releases: list[threading.Event] = field(default_factory=list[threading.Event])

    @property
    def ledger_path(self) -> Path:
        return self.directory / "ledger.txt"

    async def worker(self, block: str | None = None) -> WorkerProcess:
        """A new worker process on this lab's queue, once it polls."""
        process = WorkerProcess(
            self.directory / f"worker-{len(self.workers)}.err",
            [self.address, self.queue, self.base_url],
            _child_env(self.ledger_path, block),
        )
        self.workers.append(process)
        process.identity = (await process.said("ready ")).split(maxsplit=1)[1]
        return process

    async def start(self, run: Any, arg: Any, **options: Any) -> WorkflowHandle[Any, Any]:
        return await self.temporal.start_workflow(
            run, arg, id=f"crash-{uuid.uuid4()}", task_queue=self.queue, **options
        )

    def pause_stream_after(self, k: int) -> threading.Event:
        release = self.emulator.pause_stream_after(k, timeout=TIMEOUT)
        self.releases.append(release)
        return release

    def ledger(self) -> Ledger:
        path = self.ledger_path
        lines = path.read_text().splitlines() if path.exists() else []
        return [(tool, key, event, int(pid)) for tool, key, event, pid in map(str.split, lines)]

    def events(self, key: str) -> list[tuple[str, int]]:
        """What the ledger says of one call: (started | finished, pid), in order."""
        return [(event, pid) for _, k, event, pid in self.ledger() if k == key]

    def keys(self, tool: str) -> list[str]:
        """The idempotency keys of the calls of `tool` that started, in order."""
        return list(dict.fromkeys(k for name, k, _, _ in self.ledger() if name == tool))

    def executions(self) -> dict[str, int]:
        """How often each call started, over every process: `<tool> <key>` -> count."""
        started = Counter(
            f"{tool} {key}" for tool, key, event, _ in self.ledger() if event == "started"
        )
        return dict(started)

    def creates_per_turn(self) -> dict[str | None, int]:
        """The creates by the interaction each continues (None: a run's first turn)."""
        creates = Counter(
            request.body.get("previous_interaction_id")
            for request in self.emulator.requests
            if request.method == "POST" and request.path.endswith("/interactions")
        )
        return dict(creates)

    def gets(self, interaction_id: str) -> int:
        return sum(
            1
            for request in self.emulator.requests
            if request.method == "GET" and request.path.endswith(f"/interactions/{interaction_id}")
        )

    def close(self) -> None:
        for release in self.releases:
            release.set()  # a held server thread must end for the server to stop
        for worker in self.workers:
            worker.close()


@asynccontextmanager
async def lab(directory: Path, address: str) -> AsyncGenerator[Lab]:
    emulator = Emulator()
    with emulator.serve() as base_url:
        opened = Lab(emulator, base_url, address, await Client.connect(address), directory)
        try:
            yield opened
        finally:
            opened.close()


async def until(check: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Look until `check` returns something (not None); that."""
    try:
        with anyio.fail_after(TIMEOUT):
            while True:
                found = await check()
                if found is not None:
                    return found
                await anyio.sleep(POLL)
    except TimeoutError:
        raise AssertionError(f"timed out waiting until {what}") from None


async def pending(handle: WorkflowHandle[Any, Any]) -> list[PendingActivityInfo]:
    return list((await handle.describe()).raw_description.pending_activities)


@dataclass(frozen=True)
class Completed:
    """An activity that completed, from the workflow history."""

    name: str
    activity_id: str
    attempt: int
    identity: str
    """The worker whose attempt completed it."""


async def completed(handle: WorkflowHandle[Any, Any]) -> list[Completed]:
    history = await handle.fetch_history()
    scheduled: dict[int, tuple[str, str]] = {}
    started: dict[int, tuple[int, str]] = {}
    done: list[Completed] = []
    for event in history.events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            attributes = event.activity_task_scheduled_event_attributes
            scheduled[event.event_id] = (attributes.activity_type.name, attributes.activity_id)
        elif event.HasField("activity_task_started_event_attributes"):
            start = event.activity_task_started_event_attributes
            started[event.event_id] = (start.attempt, start.identity)
        elif event.HasField("activity_task_completed_event_attributes"):
            end = event.activity_task_completed_event_attributes
            name, activity_id = scheduled[end.scheduled_event_id]
            attempt, identity = started[end.started_event_id]
            done.append(Completed(name, activity_id, attempt, identity))
    return done


def assert_one_create_per_turn(creates: dict[str | None, int], *, turns: int) -> None:
    """No turn was created twice: one POST per `previous_interaction_id` (two would fork)."""
    assert None in creates  # the run's first turn
    assert len(creates) == turns
    assert set(creates.values()) == {1}


def without_keys(answer: str | None) -> str:
    """The answer with the idempotency keys (unique per run) blanked out."""
    assert answer is not None
    return re.sub(r'"key":"[^"]*"', '"key":"-"', answer)


# --- the figures, printed once at the end ---------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    scenario: str
    recovery: float
    """Seconds from the SIGKILL of worker A to the workflow's result."""
    executions: dict[str, int]
    creates: dict[str | None, int]

    def line(self) -> str:
        executions = ", ".join(f"{call}: {n}" for call, n in self.executions.items()) or "none"
        creates = ", ".join(f"{turn or 'first'}: {n}" for turn, n in self.creates.items())
        return (
            f"{self.scenario}: recovered in {self.recovery:.2f} s; executions per call "
            f"[{executions}]; creates per turn [{creates}]"
        )


@pytest.fixture(scope="module")
def figures(request: pytest.FixtureRequest) -> Iterator[list[Figures]]:
    collected: list[Figures] = []
    yield collected
    plugins = request.config.pluginmanager
    reporter: Any = plugins.get_plugin("terminalreporter")
    capture: Any = plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None and collected:
        # Printed while output capture is off, as `capsys.disabled()` does.
        with capture.global_and_fixture_disabled():
            reporter.write("\n")
            for figure in collected:
                reporter.write_line(figure.line())


@dataclass(frozen=True)
class Uncrashed:
    answer: str
    creates: dict[str | None, int]
    executions: dict[str, int]


@pytest.fixture(scope="module")
async def uncrashed(temporal_address: str, tmp_path_factory: pytest.TempPathFactory) -> Uncrashed:
    """The billing run with nothing killed, on a worker process: what a crashed run must match."""
    async with lab(tmp_path_factory.mktemp("uncrashed"), temporal_address) as clean:
        await clean.worker()
        handle = await clean.start(BillingWorkflow.run, PROMPT)
        answer = without_keys(await handle.result())
        return Uncrashed(answer, clean.creates_per_turn(), clean.executions())


async def test_the_uncrashed_run_calls_each_tool_once(uncrashed: Uncrashed) -> None:
    assert "charge returned" in uncrashed.answer
    assert "lookup returned" in uncrashed.answer
    assert sorted(call.split()[0] for call in uncrashed.executions) == ["charge", "lookup"]
    assert set(uncrashed.executions.values()) == {1}
    assert_one_create_per_turn(uncrashed.creates, turns=2)


# --- (a) killed while a tool runs -----------------------------------------------------------------


async def kill_while_a_tool_runs(
    crash: Lab, blocked: str
) -> tuple[WorkflowHandle[Any, Any], str, float]:
    """Kill worker A while `blocked` runs and the other call of the batch has completed.

    Returns:
        The workflow, the blocked call's idempotency key, and when A died.
    """
    first = await crash.worker(block=blocked)
    handle = await crash.start(BillingWorkflow.run, PROMPT)
    key = (await first.said(f"blocked {blocked} ")).split()[-1]
    other = "charge" if blocked == "lookup" else "lookup"

    async def only_the_blocked_call_is_pending() -> bool | None:
        # The other call finished, its activity's completion reached the server, and the
        # workflow task it woke is done (a task A took with it would hold the workflow for
        # the task's 10 s timeout: a slower recovery, not another outcome).
        described = (await handle.describe()).raw_description
        ids = [info.activity_id for info in described.pending_activities]
        settled = not described.HasField("pending_workflow_task")
        return (ids == [f"tool/{key}"] and settled and bool(crash.keys(other))) or None

    await until(only_the_blocked_call_is_pending, f"only {blocked} runs")
    return handle, key, first.kill()


async def test_an_idempotent_tool_killed_mid_call_runs_again_on_the_next_worker(
    tmp_path: Path, temporal_address: str, uncrashed: Uncrashed, figures: list[Figures]
) -> None:
    async with lab(tmp_path, temporal_address) as crash:
        handle, key, killed = await kill_while_a_tool_runs(crash, "lookup")
        first = crash.workers[0]
        second = await crash.worker()
        answer = await handle.result()
        recovery = time.monotonic() - killed

        assert without_keys(answer) == uncrashed.answer
        # Started in A, killed, started again in B, where it finished.
        assert crash.events(key) == [
            ("started", first.pid),
            ("started", second.pid),
            ("finished", second.pid),
        ]
        (charge,) = crash.keys("charge")
        assert crash.events(charge) == [("started", first.pid), ("finished", first.pid)]
        assert not any(step.get("is_error") for step in crash.emulator.function_results)
        assert Completed("agentkit.billing.tool", f"tool/{key}", 2, second.identity) in (
            await completed(handle)
        )
        creates = crash.creates_per_turn()
        assert_one_create_per_turn(creates, turns=2)
        figures.append(
            Figures("(a1) idempotent lookup killed", recovery, crash.executions(), creates)
        )


async def test_a_non_idempotent_tool_killed_mid_call_is_never_run_again(
    tmp_path: Path, temporal_address: str, figures: list[Figures]
) -> None:
    async with lab(tmp_path, temporal_address) as crash:
        handle, key, killed = await kill_while_a_tool_runs(crash, "charge")
        first = crash.workers[0]
        second = await crash.worker()
        answer = await handle.result()
        recovery = time.monotonic() - killed

        assert answer is not None
        assert f"charge failed with {UNKNOWN}" in answer
        assert "lookup returned" in answer
        assert crash.events(key) == [("started", first.pid)]  # never again, never finished
        (lookup,) = crash.keys("lookup")
        assert crash.events(lookup) == [("started", first.pid), ("finished", first.pid)]
        # B's attempt answered without running the tool: the outcome is unknown.
        assert Completed("agentkit.billing.tool", f"tool/{key}", 2, second.identity) in (
            await completed(handle)
        )
        (told,) = [step for step in crash.emulator.function_results if step.get("name") == "charge"]
        assert told["is_error"] is True
        creates = crash.creates_per_turn()
        assert_one_create_per_turn(creates, turns=2)
        figures.append(
            Figures("(a2) non-idempotent charge killed", recovery, crash.executions(), creates)
        )


# --- (b) killed while a create is in flight -------------------------------------------------------


async def test_a_create_killed_mid_stream_is_re_attached_not_sent_again(
    tmp_path: Path, temporal_address: str, uncrashed: Uncrashed, figures: list[Figures]
) -> None:
    async with lab(tmp_path, temporal_address) as crash:
        crash.pause_stream_after(1)  # the first create: `interaction.created`, then held
        first = await crash.worker()
        handle = await crash.start(BillingWorkflow.run, PROMPT)
        converter = crash.temporal.data_converter.payload_converter

        async def heartbeated_id() -> str | None:
            # A heartbeated the id of the interaction its create made, and the server has it.
            for info in await pending(handle):
                if info.activity_type.name == "agentkit.billing.create":
                    details = converter.from_payloads(list(info.heartbeat_details.payloads))
                    if details:
                        return str(details[0])
            return None

        held = await until(heartbeated_id, "the create heartbeats its interaction's id")
        assert crash.creates_per_turn() == {None: 1}
        assert held in crash.emulator.interactions
        killed = first.kill()
        second = await crash.worker()
        answer = await handle.result()
        recovery = time.monotonic() - killed

        assert without_keys(answer) == uncrashed.answer
        creates = crash.creates_per_turn()
        assert creates == {None: 1, held: 1}  # one create per turn: B did not create again
        assert crash.gets(held) == 1  # B re-attached with a GET
        create = next(item for item in await completed(handle) if item.name.endswith(".create"))
        assert (create.attempt, create.identity) == (2, second.identity)
        executions = crash.executions()
        assert sorted(call.split()[0] for call in executions) == ["charge", "lookup"]
        assert set(executions.values()) == {1}
        assert {pid for *_, pid in crash.ledger()} == {second.pid}
        figures.append(Figures("(b) create killed mid-stream", recovery, executions, creates))


# --- (c) killed while a background interaction is polled ------------------------------------------


async def test_a_wait_killed_mid_poll_is_finished_by_the_next_worker(
    tmp_path: Path, temporal_address: str, figures: list[Figures]
) -> None:
    async with lab(tmp_path, temporal_address) as crash:
        crash.emulator.background_polls = 1_000  # in progress until the test says otherwise
        first = await crash.worker()
        handle = await crash.start(
            AgentWorkflow.run,
            AgentWorkflowInput("researcher", "Research stock"),
            result_type=AgentWorkflowResult,
        )

        async def polled() -> str | None:
            # A's wait activity runs and has polled the interaction the create made.
            names = [info.activity_type.name for info in await pending(handle)]
            made = list(crash.emulator.interactions)
            if names == ["agentkit.researcher.wait"] and made and crash.gets(made[0]):
                return made[0]
            return None

        working = await until(polled, "the wait activity polls")
        killed = first.kill()
        polls = crash.gets(working)
        # From now on a poll finishes the interaction, and only B is alive to poll it.
        crash.emulator.background_polls = 0
        second = await crash.worker()
        result = await handle.result()
        recovery = time.monotonic() - killed

        assert isinstance(result, AgentWorkflowResult)
        assert result.status == "completed"
        assert result.output_text is not None
        assert "lookup returned" in result.output_text
        assert crash.gets(working) > polls
        wait = next(item for item in await completed(handle) if item.name.endswith(".wait"))
        assert (wait.attempt, wait.identity) == (2, second.identity)
        creates = crash.creates_per_turn()
        assert creates == {None: 1, working: 1}
        executions = crash.executions()
        assert list(executions.values()) == [1]
        figures.append(Figures("(c) background wait killed", recovery, executions, creates))


# --- (d) killed while an approval is pending ------------------------------------------------------


async def test_an_approval_pending_when_the_worker_dies_is_decided_on_the_next(
    tmp_path: Path, temporal_address: str, figures: list[Figures]
) -> None:
    async with lab(tmp_path, temporal_address) as crash:
        first = await crash.worker()
        handle = await crash.start(RefundWorkflow.run, "Refund the customer")

        async def waiting() -> list[str] | None:
            calls: list[str] = await handle.query(RefundWorkflow.pending)
            return calls or None

        asked = await until(waiting, "the refund waits for a decision")
        killed = first.kill()
        second = await crash.worker()
        assert await until(waiting, "B answers the query") == asked
        # Temporal's overloads leave `args` of a multi-parameter update untyped.
        await handle.execute_update(  # pyright: ignore[reportUnknownMemberType]
            RefundWorkflow.decide, args=[asked[0], True]
        )
        answer = await handle.result()
        recovery = time.monotonic() - killed

        assert answer is not None
        assert "refund returned" in answer
        (refund,) = crash.keys("refund")
        assert crash.events(refund) == [("started", second.pid), ("finished", second.pid)]
        creates = crash.creates_per_turn()
        assert_one_create_per_turn(creates, turns=2)
        figures.append(
            Figures("(d) pending approval killed", recovery, crash.executions(), creates)
        )
