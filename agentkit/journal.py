"""Journals: what makes tool execution exactly-once across resumes and processes.

Before a tool call runs, the agent claims its idempotency key in the journal (`begin`); when it
ends, the agent records its `function_result` step there (`finish`). The guarantee, in plain
words: a call whose result is recorded is never executed again, its recorded result is reused.
A call that started and has no recorded result has an *unknown outcome*: another process may
be running it, or an earlier attempt crashed before, during or after its side effect. Only an
idempotent tool runs such a call again (`begin(key, retry=True)`).

The journal also keeps each run's latest `RunState` (`checkpoint` / `latest`), so a run that
died can be resumed from where it stopped.

`InMemoryJournal` lives and dies with its process; `SQLiteJournal` is a file that several
processes can share.
"""

from agentkit._journal import CallRecord, InMemoryJournal, Journal, SQLiteJournal

__all__ = ["CallRecord", "InMemoryJournal", "Journal", "SQLiteJournal"]
