"""`RunContext`: what a tool may know about the run that called it."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Generic

from typing_extensions import TypeVar

from agentkit.types import Usage

__all__ = ["DepsT", "RunContext", "changed", "new_run_id"]

DepsT = TypeVar("DepsT", default=None)
"""The type of the dependencies a run hands to its tools (`None` when there are none)."""


def new_run_id() -> str:
    """A fresh, unique run id."""
    return uuid.uuid4().hex


@dataclasses.dataclass(frozen=True)
class RunContext(Generic[DepsT]):
    """The run a tool call belongs to, injected into any parameter annotated `RunContext[...]`.

    Annotate one parameter of a tool with `RunContext[MyDeps]` (any name, any position) and
    agentkit passes the context of the current run there; the parameter never appears in the
    tool's schema. The agent builds one per run and a copy per call.

    Example:
        ```python
        @tool
        def lookup(ctx: RunContext[Database], key: str) -> str:
            return ctx.deps.get(key)
        ```
    """

    deps: DepsT
    """The dependencies passed to the run (a database handle, an HTTP client, settings...)."""
    usage: Usage = dataclasses.field(default_factory=Usage)
    """Token usage of the run so far."""
    run_id: str = dataclasses.field(default_factory=new_run_id)
    """Identifies the run (stable across its turns and requests)."""
    interaction_id: str | None = None
    """The interaction whose `function_call` step is being answered."""
    call_id: str | None = None
    """The `id` of the `function_call` step being answered."""
    tool_name: str | None = None
    """The name of the tool being called."""
    idempotency_key: str | None = None
    """Stable for one call across retries, resumes and processes (derived from the interaction
    and call ids); pass it on to downstream APIs that accept one (payment providers do)."""
    turn: int = 0
    """How many requests the run has sent so far."""
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict[str, Any])
    """Free for users: anything to share between the tools of a run."""


def changed(context: RunContext[DepsT], **changes: Any) -> RunContext[DepsT]:
    """`dataclasses.replace()` of a context with these fields.

    The run makes a copy per tool call: `replace()` costs many times more, as it looks up the
    dataclass's fields and passes every value through `__init__` again, so agentkit's own
    `RunContext` is copied without it. A subclass may keep fields in slots or check them in
    `__post_init__`: it is replaced.
    """
    if type(context) is not RunContext:
        return dataclasses.replace(context, **changes)
    copy = object.__new__(type(context))
    copy.__dict__.update(context.__dict__, **changes)
    return copy
