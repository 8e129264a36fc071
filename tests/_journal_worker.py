"""A process that uses an SQLite journal, for tests/test_journal.py.

python _journal_worker.py race PATH WORKER KEYS   print "ready", wait for a line on stdin,
                                                  claim what it can of KEYS keys, finish
                                                  each claim, print the claimed keys (JSON)
python _journal_worker.py crash PATH KEY          begin KEY, print "begun", wait forever
python _journal_worker.py read PATH RUN KEY...    print the records of KEYs and RUN's
                                                  latest checkpoint (JSON)
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any

from agentkit.journal import SQLiteJournal


def race(path: str, worker: int, count: int) -> None:
    keys = [f"call/{index}" for index in range(count)]
    # Half the workers go backwards, so claims collide both in lockstep and head-on.
    order = keys if worker % 2 == 0 else keys[::-1]
    with SQLiteJournal(path) as journal:
        print("ready", flush=True)
        sys.stdin.readline()
        claimed: list[str] = []
        for key in order:
            if journal.begin(key) is None:
                claimed.append(key)
                journal.finish(key, {"type": "function_result", "by": worker})
    print(json.dumps(claimed), flush=True)


def crash(path: str, key: str) -> None:
    journal = SQLiteJournal(path)
    assert journal.begin(key) is None
    print("begun", flush=True)
    sys.stdin.readline()  # The test kills this process before it writes anything.


def read(path: str, run_id: str, keys: list[str]) -> None:
    with SQLiteJournal(path) as journal:
        records: dict[str, Any] = {}
        for key in keys:
            record = journal.get(key)
            records[key] = None if record is None else asdict(record)
        state = journal.latest(run_id)
    latest = None if state is None else state.model_dump(mode="json")
    print(json.dumps({"records": records, "latest": latest}), flush=True)


def main(argv: list[str]) -> None:
    match argv:
        case ["race", path, worker, count]:
            race(path, int(worker), int(count))
        case ["crash", path, key]:
            crash(path, key)
        case ["read", path, run_id, *keys]:
            read(path, run_id, keys)
        case _:
            raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
