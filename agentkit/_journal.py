"""The journals behind `agentkit.journal` (see there)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agentkit._exceptions import UsageError
from agentkit._result import RunState, isolated

if TYPE_CHECKING:  # imported by SQLiteJournal(): `import agentkit` does not load sqlite3
    import sqlite3

__all__ = ["CallRecord", "InMemoryJournal", "Journal", "SQLiteJournal"]


@dataclass(frozen=True)
class CallRecord:
    """What a journal knows about one tool call (or one request of a stored run).

    Attributes:
        key: The call's idempotency key (a request's: `{run_id}/request/...`).
        result: The finished call's `function_result` step as a wire dict (for a request,
            `{"interaction_id": ...}`: the interaction it made); None while the call is
            started and its outcome unknown.
        attempts: How many times the call was claimed (1 after the first `begin`).
    """

    key: str
    result: dict[str, Any] | None
    attempts: int

    @property
    def finished(self) -> bool:
        """Whether the call's result is recorded."""
        return self.result is not None


@runtime_checkable
class Journal(Protocol):
    """Records tool calls under their idempotency keys, and the latest state of each run.

    Implement it on your own database if you like. The agent calls these methods from its
    event loop (and `finish` also from worker threads, for a sync tool that ended after its
    run was interrupted): they must be thread-safe, and quick, since a slow one holds up
    every run on that loop.
    """

    def begin(self, key: str, *, retry: bool = False) -> CallRecord | None:
        """Claim a call before its body runs.

        Atomic: of two callers (threads or processes) beginning the same key without `retry`,
        exactly one gets None.

        Args:
            key: The call's idempotency key.
            retry: Claim again a call that started and has no result (for idempotent tools).

        Returns:
            None when the caller now owns a fresh claim: no record existed and one was written
            as started (or, with `retry`, a started record was claimed again, one attempt more).
            Otherwise the existing record, and nothing is claimed: a finished record (its result
            is to be reused) or a started one (outcome unknown).
        """
        ...

    def finish(self, key: str, result: Mapping[str, Any]) -> None:
        """Record the result of a claimed call; a finished key keeps its first result."""
        ...

    def get(self, key: str) -> CallRecord | None:
        """The record of a call, or None when the journal has none."""
        ...

    def checkpoint(self, run_id: str, state: RunState) -> None:
        """Save the latest state of a run, replacing its previous checkpoint."""
        ...

    def latest(self, run_id: str) -> RunState | None:
        """The run's last checkpoint, ready for `Agent.resume()`, or None."""
        ...

    def close(self) -> None:
        """Release the journal's resources."""
        ...


def _dump(result: Mapping[str, Any]) -> str:
    return json.dumps(dict(result), ensure_ascii=False, separators=(",", ":"))


def _load(text: str | None) -> dict[str, Any] | None:
    return None if text is None else json.loads(text)


@dataclass
class _Call:
    result: str | None
    attempts: int


class InMemoryJournal:
    """A thread-safe journal in this process's memory, bounded in size.

    Beyond `max_calls` call records or `max_runs` checkpoints, the least recently written are
    evicted, so a long-lived service does not grow without limit. Eviction forgets: a call
    whose record was evicted runs again if the model repeats it, and an evicted run cannot be
    resumed from this journal. Results and states are stored as JSON text, so later changes to
    the objects passed in never reach the journal.
    """

    def __init__(self, max_calls: int = 100_000, max_runs: int = 1_000) -> None:
        if max_calls < 1 or max_runs < 1:
            raise UsageError(
                f"InMemoryJournal(max_calls={max_calls}, max_runs={max_runs}): both limits "
                "must be at least 1."
            )
        self.max_calls = max_calls
        self.max_runs = max_runs
        self._lock = threading.Lock()
        self._calls: OrderedDict[str, _Call] = OrderedDict()
        self._runs: OrderedDict[str, RunState] = OrderedDict()

    def begin(self, key: str, *, retry: bool = False) -> CallRecord | None:
        """Claim a call before its body runs (see `Journal.begin`)."""
        with self._lock:
            call = self._calls.get(key)
            if call is None:
                self._write_call(key, _Call(None, 1))
                return None
            if retry and call.result is None:
                self._write_call(key, _Call(None, call.attempts + 1))
                return None
            return CallRecord(key, _load(call.result), call.attempts)

    def finish(self, key: str, result: Mapping[str, Any]) -> None:
        """Record the result of a claimed call; a finished key keeps its first result."""
        text = _dump(result)
        with self._lock:
            call = self._calls.get(key)
            if call is None:
                self._write_call(key, _Call(text, 1))
            elif call.result is None:
                self._write_call(key, _Call(text, call.attempts))

    def get(self, key: str) -> CallRecord | None:
        """The record of a call, or None when the journal has none."""
        with self._lock:
            call = self._calls.get(key)
        return None if call is None else CallRecord(key, _load(call.result), call.attempts)

    def checkpoint(self, run_id: str, state: RunState) -> None:
        """Save the latest state of a run, replacing its previous checkpoint."""
        # A copy of the containers, as the machine makes for itself: its wire dicts are never
        # changed once stored, so this isolates the state like a deep copy, far cheaper.
        kept = isolated(state)
        with self._lock:
            self._runs[run_id] = kept
            self._runs.move_to_end(run_id)
            while len(self._runs) > self.max_runs:
                self._runs.popitem(last=False)

    def latest(self, run_id: str) -> RunState | None:
        """The run's last checkpoint as a new `RunState`, or None."""
        with self._lock:
            kept = self._runs.get(run_id)
        return None if kept is None else isolated(kept)

    def close(self) -> None:
        """Do nothing: the records stay readable until the journal is garbage collected."""

    def __repr__(self) -> str:
        return f"InMemoryJournal(calls={len(self._calls)}, runs={len(self._runs)})"

    def _write_call(self, key: str, call: _Call) -> None:
        self._calls[key] = call
        self._calls.move_to_end(key)
        while len(self._calls) > self.max_calls:
            self._calls.popitem(last=False)


_SCHEMA_VERSION = 1
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, result TEXT NULL, "
    "attempts INTEGER NOT NULL, started_at REAL, finished_at REAL)",
    "CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, state TEXT NOT NULL, "
    "updated_at REAL NOT NULL)",
)


class SQLiteJournal:
    """A journal in an SQLite file that several processes and threads can share.

    Claims are atomic across processes: each `begin` is one write transaction. The file runs in
    WAL mode with `synchronous=NORMAL`: once a method has returned, what it wrote survives the
    crash or kill of any process; only the last writes before a power loss or an operating
    system crash may be lost. Open a journal in each process that uses it: a connection must
    not cross a `fork`.

    Use it as a context manager, or call `close()`.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        """Open (or create) the journal file.

        Args:
            path: The SQLite file.
            timeout: Seconds to wait for another process's write transaction to end.

        Raises:
            UsageError: The file was written by a newer, incompatible version of agentkit.
        """
        self.path: str = os.fspath(path)
        """The SQLite file."""
        self._pid = os.getpid()
        # One connection shared by the threads of this process (tools finish in worker threads),
        # used under a lock: SQLite serialises writers anyway, and a single connection can be
        # closed from any thread, unlike one connection per thread.
        self._lock = threading.Lock()
        import sqlite3

        self._connection: sqlite3.Connection | None = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        try:
            self._setup(self._connection, timeout)
        except BaseException:
            self._connection.close()
            self._connection = None
            raise

    def _setup(self, connection: sqlite3.Connection, timeout: float) -> None:
        import sqlite3

        # Switching a new file to WAL needs it to itself, and SQLite may answer "locked" at
        # once, without its busy wait, while other processes open the same new file.
        deadline = time.monotonic() + timeout
        while True:
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                # Only real contention between processes waits here: nothing to inject.
                time.sleep(0.005)  # noqa: TID251
        connection.execute("PRAGMA synchronous=NORMAL")
        with self._transaction(connection):
            (version,) = connection.execute("PRAGMA user_version").fetchone()
            if version == 0:
                # Not executescript(): it would commit the transaction first.
                for statement in _SCHEMA:
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            elif version != _SCHEMA_VERSION:
                raise UsageError(
                    f"{self.path!r} is a journal of schema version {version}; this agentkit reads "
                    f"version {_SCHEMA_VERSION}. Upgrade agentkit, or use another file."
                )

    @contextmanager
    def _transaction(self, connection: sqlite3.Connection) -> Generator[None, None, None]:
        # IMMEDIATE takes the write lock up front, so no other process can write between this
        # transaction's reads and its writes.
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
            connection.execute("COMMIT")
        finally:
            # SQLite may have rolled back already (some errors do), and ROLLBACK would then fail
            # and hide the original error.
            if connection.in_transaction:
                connection.execute("ROLLBACK")

    @contextmanager
    def _connect(self) -> Generator[sqlite3.Connection, None, None]:
        with self._lock:
            if self._connection is None:
                raise UsageError(f"{self!r} is closed; open a new SQLiteJournal.")
            if os.getpid() != self._pid:
                raise UsageError(
                    f"{self!r} was opened in another process; open a new SQLiteJournal in each "
                    "process (an SQLite connection must not cross a fork)."
                )
            yield self._connection

    def begin(self, key: str, *, retry: bool = False) -> CallRecord | None:
        """Claim a call before its body runs (see `Journal.begin`)."""
        with self._connect() as connection, self._transaction(connection):
            row = connection.execute(
                "SELECT result, attempts FROM calls WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                connection.execute(
                    "INSERT INTO calls (key, result, attempts, started_at) VALUES (?, NULL, 1, ?)",
                    (key, time.time()),
                )
                return None
            result, attempts = row
            if retry and result is None:
                connection.execute(
                    "UPDATE calls SET attempts = ?, started_at = ? WHERE key = ?",
                    (attempts + 1, time.time(), key),
                )
                return None
        return CallRecord(key, _load(result), attempts)

    def finish(self, key: str, result: Mapping[str, Any]) -> None:
        """Record the result of a claimed call; a finished key keeps its first result."""
        text = _dump(result)
        now = time.time()
        with self._connect() as connection:
            # One statement, so atomic without an explicit transaction.
            connection.execute(
                "INSERT INTO calls (key, result, attempts, started_at, finished_at) "
                "VALUES (?, ?, 1, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET result = excluded.result, "
                "finished_at = excluded.finished_at WHERE calls.result IS NULL",
                (key, text, now, now),
            )

    def get(self, key: str) -> CallRecord | None:
        """The record of a call, or None when the journal has none."""
        with self._connect() as connection:
            row = connection.execute(
                "SELECT result, attempts FROM calls WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else CallRecord(key, _load(row[0]), row[1])

    def checkpoint(self, run_id: str, state: RunState) -> None:
        """Save the latest state of a run, replacing its previous checkpoint."""
        text = state.to_json()
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO runs (run_id, state, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (run_id) DO UPDATE SET state = excluded.state, "
                "updated_at = excluded.updated_at",
                (run_id, text, time.time()),
            )

    def latest(self, run_id: str) -> RunState | None:
        """The run's last checkpoint, or None."""
        with self._connect() as connection:
            row = connection.execute(
                "SELECT state FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        return None if row is None else RunState.from_json(row[0])

    def close(self) -> None:
        """Close the file; closing again does nothing."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None and os.getpid() == self._pid:
            connection.close()

    def __enter__(self) -> SQLiteJournal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteJournal({self.path!r})"
