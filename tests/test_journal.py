"""Journals: claims, results and checkpoints, across threads, processes and crashes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentkit import Agent, RunState, UsageError, tool
from agentkit.journal import CallRecord, InMemoryJournal, Journal, SQLiteJournal
from agentkit.testing import Emulator, Script, function_call

WORKER = str(Path(__file__).with_name("_journal_worker.py"))
RESULT = {"type": "function_result", "call_id": "c1", "name": "pay", "result": "paid"}


def make_state(**fields: Any) -> RunState:
    return RunState(
        interaction_id="v1_x",
        steps=[{"type": "user_input", "content": [{"type": "text", "text": "hi"}]}],
        **fields,
    )


@pytest.fixture(params=["memory", "sqlite"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Journal]:
    opened: Journal = (
        InMemoryJournal() if request.param == "memory" else SQLiteJournal(tmp_path / "j.db")
    )
    yield opened
    opened.close()


def test_both_journals_are_journals(journal: Journal) -> None:
    assert isinstance(journal, Journal)


def test_the_first_begin_claims_the_call_and_records_it_as_started(journal: Journal) -> None:
    assert journal.get("k") is None
    assert journal.begin("k") is None
    record = journal.get("k")
    assert record == CallRecord("k", None, 1)
    assert record is not None
    assert not record.finished


def test_beginning_a_started_call_returns_it_and_claims_nothing(journal: Journal) -> None:
    assert journal.begin("k") is None
    assert journal.begin("k") == CallRecord("k", None, 1)
    assert journal.get("k") == CallRecord("k", None, 1)


def test_a_finished_call_returns_its_result_even_with_retry(journal: Journal) -> None:
    assert journal.begin("k") is None
    journal.finish("k", RESULT)
    for retry in (False, True):
        record = journal.begin("k", retry=retry)
        assert record == CallRecord("k", RESULT, 1)
        assert record is not None
        assert record.finished


def test_retry_claims_a_started_call_again_counting_attempts(journal: Journal) -> None:
    assert journal.begin("k", retry=True) is None
    assert journal.begin("k", retry=True) is None
    assert journal.begin("k", retry=True) is None
    assert journal.get("k") == CallRecord("k", None, 3)
    journal.finish("k", RESULT)
    assert journal.get("k") == CallRecord("k", RESULT, 3)


def test_finishing_twice_keeps_the_first_result(journal: Journal) -> None:
    assert journal.begin("k") is None
    journal.finish("k", RESULT)
    journal.finish("k", {**RESULT, "result": "paid twice"})
    assert journal.get("k") == CallRecord("k", RESULT, 1)


def test_finishing_a_call_the_journal_does_not_know_records_it(journal: Journal) -> None:
    journal.finish("k", RESULT)
    assert journal.get("k") == CallRecord("k", RESULT, 1)
    assert journal.begin("k") == CallRecord("k", RESULT, 1)


def test_results_are_copies_on_the_way_in_and_out(journal: Journal) -> None:
    result: dict[str, Any] = {"type": "function_result", "result": {"items": [1, 2]}}
    assert journal.begin("k") is None
    journal.finish("k", result)
    result["result"]["items"].append(3)
    record = journal.get("k")
    assert record is not None
    assert record.result is not None
    record.result["result"]["items"].append(4)
    assert journal.get("k") == CallRecord(
        "k", {"type": "function_result", "result": {"items": [1, 2]}}, 1
    )


@pytest.mark.parametrize("key", ["", "v1_é/call 1", "ключ/☃/🙂", "中文\tkey\n", "a\x00b"])
def test_any_unicode_key_works(journal: Journal, key: str) -> None:
    other = key + "/other"
    assert journal.begin(key) is None
    assert journal.begin(other) is None
    journal.finish(key, {"text": key})
    assert journal.get(key) == CallRecord(key, {"text": key}, 1)
    assert journal.get(other) == CallRecord(other, None, 1)


def test_a_large_result_round_trips(journal: Journal) -> None:
    result = {"type": "function_result", "result": "x" * 5_000_000, "items": list(range(10_000))}
    assert journal.begin("k") is None
    journal.finish("k", result)
    assert journal.begin("k") == CallRecord("k", result, 1)


def test_a_checkpoint_round_trips_and_the_next_replaces_it(journal: Journal) -> None:
    assert journal.latest("run") is None
    first = make_state(run_id="run", turns=1)
    journal.checkpoint("run", first)
    assert journal.latest("run") == first
    second = make_state(run_id="run", turns=2, usage={"total_tokens": 7})
    journal.checkpoint("run", second)
    assert journal.latest("run") == second
    assert journal.latest("other") is None


def test_a_checkpoint_is_isolated_from_the_state_and_from_earlier_reads(journal: Journal) -> None:
    state = make_state(run_id="run")
    saved = state.model_copy(deep=True)
    journal.checkpoint("run", state)
    state.steps.append({"type": "model_output", "content": []})
    state.turns = 5
    loaded = journal.latest("run")
    assert loaded == saved
    assert loaded is not None
    loaded.steps.clear()
    assert journal.latest("run") == saved


def test_checkpoints_keep_runs_apart(journal: Journal) -> None:
    states = {f"run{turns}": make_state(run_id=f"run{turns}", turns=turns) for turns in range(3)}
    for run_id, state in states.items():
        journal.checkpoint(run_id, state)
    assert {run_id: journal.latest(run_id) for run_id in states} == states


OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["begin", "retry", "finish"]), st.sampled_from("abc"), st.integers()),
    max_size=30,
)


@pytest.mark.parametrize("make", [InMemoryJournal, lambda: SQLiteJournal(":memory:")])
@settings(max_examples=50, deadline=None)
@given(operations=OPERATIONS)
def test_journals_follow_the_model(
    make: Callable[[], Journal], operations: list[tuple[str, str, int]]
) -> None:
    model: dict[str, CallRecord] = {}
    journal = make()
    for operation, key, value in operations:
        known = model.get(key)
        if operation == "finish":
            journal.finish(key, {"value": value})
            if known is None or known.result is None:
                model[key] = CallRecord(key, {"value": value}, known.attempts if known else 1)
            continue
        outcome = journal.begin(key, retry=operation == "retry")
        if known is None:
            assert outcome is None
            model[key] = CallRecord(key, None, 1)
        elif operation == "retry" and not known.finished:
            assert outcome is None
            model[key] = CallRecord(key, None, known.attempts + 1)
        else:
            assert outcome == known
    assert {key: journal.get(key) for key in "abc"} == {key: model.get(key) for key in "abc"}
    journal.close()


@pytest.mark.parametrize("threads", [16])
def test_racing_threads_claim_each_key_exactly_once(journal: Journal, threads: int) -> None:
    keys = [f"call/{index}" for index in range(100)]
    barrier = threading.Barrier(threads)
    claims: list[list[str]] = [[] for _ in range(threads)]

    def claim(mine: list[str], backwards: bool) -> None:
        barrier.wait()
        for key in reversed(keys) if backwards else keys:
            if journal.begin(key) is None:
                mine.append(key)
                journal.finish(key, {"by": id(mine)})

    workers = [
        threading.Thread(target=claim, args=(mine, index % 2 == 1))
        for index, mine in enumerate(claims)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert Counter(key for mine in claims for key in mine) == Counter(keys)
    for mine in claims:
        assert all(journal.get(key) == CallRecord(key, {"by": id(mine)}, 1) for key in mine)


# -- InMemoryJournal ------------------------------------------------------------------------------


def test_the_least_recently_written_calls_are_forgotten_beyond_the_limit() -> None:
    journal = InMemoryJournal(max_calls=3)
    for key in "abc":
        assert journal.begin(key) is None
    journal.finish("a", RESULT)  # Writing "a" again makes "b" the oldest.
    assert journal.begin("a") is not None  # Reading does not refresh.
    assert journal.begin("d") is None
    assert [journal.get(key) is not None for key in "abcd"] == [True, False, True, True]
    assert journal.begin("b") is None  # Forgotten, so claimed again.
    assert journal.get("c") is None


def test_the_least_recently_written_checkpoints_are_forgotten_beyond_the_limit() -> None:
    journal = InMemoryJournal(max_runs=2)
    for run_id in ("r1", "r2"):
        journal.checkpoint(run_id, make_state(run_id=run_id))
    journal.checkpoint("r1", make_state(run_id="r1", turns=1))
    journal.checkpoint("r3", make_state(run_id="r3"))
    assert [journal.latest(run_id) is not None for run_id in ("r1", "r2", "r3")] == [
        True,
        False,
        True,
    ]


@pytest.mark.parametrize(("max_calls", "max_runs"), [(0, 1), (1, 0)])
def test_in_memory_limits_must_be_positive(max_calls: int, max_runs: int) -> None:
    with pytest.raises(UsageError, match="at least 1"):
        InMemoryJournal(max_calls=max_calls, max_runs=max_runs)


def test_closing_an_in_memory_journal_keeps_its_records() -> None:
    journal = InMemoryJournal()
    assert journal.begin("k") is None
    journal.close()
    assert journal.get("k") == CallRecord("k", None, 1)
    assert repr(journal) == "InMemoryJournal(calls=1, runs=0)"


# -- SQLiteJournal --------------------------------------------------------------------------------


def test_an_sqlite_journal_is_a_context_manager_that_closes_once(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with SQLiteJournal(path) as journal:
        assert repr(journal) == f"SQLiteJournal({str(path)!r})"
        assert journal.begin("k") is None
    journal.close()
    with pytest.raises(UsageError, match="is closed"):
        journal.get("k")
    with SQLiteJournal(path) as reopened:
        assert reopened.get("k") == CallRecord("k", None, 1)


def test_an_sqlite_journal_uses_wal_and_records_its_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    SQLiteJournal(path).close()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("PRAGMA user_version").fetchone() == (1,)
    finally:
        raw.close()


def test_a_journal_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 2")
    raw.close()
    with pytest.raises(UsageError, match="schema version 2"):
        SQLiteJournal(path)


def test_an_sqlite_journal_refuses_a_process_it_was_not_opened_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = SQLiteJournal(tmp_path / "j.db")
    pid = os.getpid()
    # What a forked child would see: the inherited object, under another process id.
    monkeypatch.setattr(os, "getpid", lambda: pid + 1)
    with pytest.raises(UsageError, match="another process"):
        journal.begin("k")
    monkeypatch.undo()
    journal.close()


def run_worker(*args: str) -> Any:
    done = subprocess.run(
        [sys.executable, WORKER, *args], capture_output=True, text=True, timeout=30, check=True
    )
    return json.loads(done.stdout)


def test_racing_processes_claim_each_key_exactly_once(tmp_path: Path) -> None:
    path, count, processes = str(tmp_path / "j.db"), 200, 4
    workers = [
        subprocess.Popen(
            [sys.executable, WORKER, "race", path, str(worker), str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for worker in range(processes)
    ]
    try:
        # All open the new file at once, then all begin at once.
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline() == "ready\n"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=30)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
            worker.communicate()  # closes its pipes, also when a worker failed early
    claims: list[list[str]] = [json.loads(output) for output in outputs]
    keys = [f"call/{index}" for index in range(count)]
    assert Counter(key for mine in claims for key in mine) == Counter(keys)
    with SQLiteJournal(path) as journal:
        for number, mine in enumerate(claims):
            for key in mine:
                assert journal.get(key) == CallRecord(
                    key, {"type": "function_result", "by": number}, 1
                )


def test_a_new_process_sees_the_records_and_checkpoints_of_earlier_ones(tmp_path: Path) -> None:
    path = str(tmp_path / "j.db")
    state = make_state(run_id="run", turns=3)
    with SQLiteJournal(path) as journal:
        assert journal.begin("done") is None
        journal.finish("done", RESULT)
        assert journal.begin("started") is None
        journal.checkpoint("run", state)
    seen = run_worker("read", path, "run", "done", "started", "unknown")
    assert seen["records"] == {
        "done": {"key": "done", "result": RESULT, "attempts": 1},
        "started": {"key": "started", "result": None, "attempts": 1},
        "unknown": None,
    }
    assert RunState.model_validate(seen["latest"]) == state


def test_a_process_killed_between_begin_and_finish_leaves_an_unknown_outcome(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "j.db")
    worker = subprocess.Popen(
        [sys.executable, WORKER, "crash", path, "pay/1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline() == "begun\n"
    finally:
        worker.kill()  # SIGKILL: no cleanup of any kind runs.
        worker.communicate(timeout=30)
    seen = run_worker("read", path, "run", "pay/1")
    assert seen["records"] == {"pay/1": {"key": "pay/1", "result": None, "attempts": 1}}
    with SQLiteJournal(path) as journal:
        assert journal.begin("pay/1") == CallRecord("pay/1", None, 1)
        assert journal.begin("pay/1", retry=True) is None
        assert journal.get("pay/1") == CallRecord("pay/1", None, 2)


def test_a_failed_begin_leaves_no_transaction_open(tmp_path: Path) -> None:
    with SQLiteJournal(tmp_path / "j.db") as journal:
        with pytest.raises(UnicodeEncodeError):
            journal.begin("\ud800")  # A lone surrogate has no UTF-8 form.
        assert journal.begin("k") is None
        assert journal.get("k") == CallRecord("k", None, 1)


class KeepingJournal(InMemoryJournal):
    """A user's journal that keeps every state object it is given, as given."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[tuple[RunState, int]] = []

    def checkpoint(self, run_id: str, state: RunState) -> None:
        self.kept.append((state, len(state.steps)))
        super().checkpoint(run_id, state)


@pytest.mark.anyio
@pytest.mark.parametrize("make", [KeepingJournal, InMemoryJournal, SQLiteJournal])
async def test_a_runs_checkpoints_are_snapshots_that_later_turns_leave_alone(
    make: Callable[..., Journal], tmp_path: Path
) -> None:
    def pay(amount: int) -> str:
        """Pay."""
        return f"paid {amount}"

    script = Script([[function_call("pay", {"amount": 1})], "Paid."])
    emulator = Emulator(script)
    journal = make(tmp_path / "j.db") if make is SQLiteJournal else make()
    agent = Agent(
        "gemini-3-flash-preview", tools=[tool(pay)], client=emulator.async_client(), journal=journal
    )
    result = await agent.run("pay one")
    saved = journal.latest(result.state.run_id or "")
    assert saved is not None
    assert saved.to_json() == result.state.to_json()
    if isinstance(journal, KeepingJournal):
        counts = [count for _, count in journal.kept]
        assert counts[0] < counts[-1]  # the run grew between its first and last checkpoint
        assert [len(state.steps) for state, _ in journal.kept] == counts
        assert len({id(state) for state, _ in journal.kept}) == len(journal.kept)
    journal.close()
