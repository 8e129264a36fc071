"""`Hooks`: callbacks, and context managers around a run, its model turns and its tool calls.

The drivers call them; none of them decides anything (the run's decisions stay in `_loop.py`).
A wrap-style hook is a plain function returning a *sync* context manager, so one hook serves
the async driver, the sync one and the worker threads of sync tools alike. Integrations
(`agentkit.otel`) install hooks for every agent, or for one, in a registry that runs consult
once when they start: with nothing installed, a run's hooks are the agent's own.
"""

from __future__ import annotations

import inspect
import threading
import weakref
from collections.abc import Callable, Generator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from agentkit._exceptions import UsageError
from agentkit._result import RunResult
from agentkit.types import FunctionCallStep, FunctionResultStep, Interaction

__all__ = [
    "NULL",
    "Entered",
    "Hooks",
    "RequestScope",
    "RunScope",
    "ToolScope",
    "combined",
    "entered",
    "install",
    "installed",
    "uninstall",
]

ScopeT = TypeVar("ScopeT")
Around = Callable[[ScopeT], AbstractContextManager[object]]


@dataclass
class RunScope:
    """One run of an agent, as `Hooks.around_run` sees it; `result` is set when it ends well.

    A background run driven in parts (`Agent.start()`, then awaiting its handle) is one
    scope per part, with the same `run_id`.
    """

    name: str
    """The agent's `name`."""
    model: str | None
    """The model id it sends (None for a managed agent)."""
    agent: str | None
    """The managed agent id it sends (None for a model)."""
    run_id: str | None
    """Names the run; the same in every resume of it."""
    result: RunResult[Any] | None = None
    """The run's result: set before the scope exits without an error."""


@dataclass
class RequestScope:
    """One model turn, as `Hooks.around_request` sees it.

    It lasts from the create request until the interaction leaves `in_progress` / `queued`,
    so a background interaction's polls fall inside it. The driver fills in `interaction`
    with each interaction it receives: the one created, then each one polled.
    """

    model: str | None
    """The model id of the request (None for a managed agent)."""
    agent: str | None
    """The managed agent id of the request (None for a model)."""
    body: Mapping[str, Any] | None
    """The create request as sent (keyword arguments of `interactions.create`); None when the
    run went on with an interaction created earlier (a handle awaited, a resumed run)."""
    interaction: Interaction | None = None
    """The latest interaction received for this turn."""
    polls: int = 0
    """How many times the interaction was polled so far."""


@dataclass
class ToolScope:
    """One tool call, as `Hooks.around_tool` sees it; `result` is set when the call ends."""

    call: FunctionCallStep
    result: FunctionResultStep | None = None
    """The result sent to the model (with `is_error` when the tool raised): set before the
    scope exits without an error."""


@dataclass(frozen=True)
class Hooks:
    """Optional callbacks around model requests and tool calls, and on cancellation.

    They are plain (sync) functions, called in the run's thread or task: keep them quick
    (logging, metrics, tracing). An `async def` hook is refused. An exception in a hook ends
    the run.

    The `around_*` hooks take a scope object and return a context manager, entered when the
    run, model turn or tool call starts and exited when it ends, with the exception that ended
    it, if any (it cannot swallow it). The driver fills in the scope as it goes, so the
    context manager reads the outcome on exit:

    ```python
    @contextlib.contextmanager
    def timed(scope: ToolScope) -> Generator[None]:
        started = time.perf_counter()
        yield  # the call runs here
        print(scope.call.name, scope.result.is_error, time.perf_counter() - started)

    agent = Agent("gemini-3.5-flash", tools=[get_weather], hooks=Hooks(around_tool=timed))
    ```

    A tool's context manager is entered in the task (async tools) or the context (sync tools)
    that runs the call: context variables it sets, such as the current span, are the tool's.
    """

    before_request: Callable[[dict[str, Any]], None] | None = None
    """Receives the body of each request before it is sent; an edit in place goes out with
    that request only (the agent's tool declarations and fields stay as they were)."""
    after_request: Callable[[Interaction], None] | None = None
    """Receives each interaction created or polled."""
    before_tool: Callable[[FunctionCallStep], None] | None = None
    after_tool: Callable[[FunctionCallStep, FunctionResultStep], None] | None = None
    on_cancel: Callable[[RunResult[Any]], None] | None = None
    """Receives the run so far when its caller cancels it (anyio cancellation, Ctrl-C):
    status `cancelled`, with the results of the tools that finished. `Agent.resume()` on it
    runs only the tools that did not finish. An exception it raises is logged, never
    raised, so the cancellation goes on."""
    around_run: Around[RunScope] | None = None
    """Wraps each run (each `run()`, `run_sync()`, `stream()`, `resume()`, ...)."""
    around_request: Around[RequestScope] | None = None
    """Wraps each model turn: the create request, and a background interaction's polls."""
    around_tool: Around[ToolScope] | None = None
    """Wraps each call of a function tool, including the wait for its result."""

    def __post_init__(self) -> None:
        for spec in fields(self):
            hook = getattr(self, spec.name)
            if hook is None:
                continue
            if not callable(hook):
                raise UsageError(f"Hooks({spec.name}=...) must be a function, not {hook!r}.")
            if _is_async(hook):
                how = (
                    "a function returning a sync context manager (contextlib.contextmanager)"
                    if spec.name.startswith("around_")
                    else "a plain function"
                )
                raise UsageError(
                    f"Hooks({spec.name}=...) got an async function, which would never be "
                    f"awaited: hooks run inside sync and async runs alike, so pass {how}."
                )


def _is_async(hook: object) -> bool:
    wrapped = getattr(hook, "__wrapped__", None)  # contextlib.asynccontextmanager keeps it
    return (
        inspect.iscoroutinefunction(hook)
        or inspect.isasyncgenfunction(hook)
        or inspect.iscoroutinefunction(getattr(hook, "__call__", None))  # noqa: B004
        or (wrapped is not None and inspect.isasyncgenfunction(wrapped))
    )


class Entered:
    """A hook's context manager, entered; `exit()` ends it once, with the error if any.

    The hook sees the error and cannot swallow it: what happens to the run is the driver's
    decision, never a hook's.
    """

    __slots__ = ("_manager",)

    def __init__(self, manager: AbstractContextManager[object]) -> None:
        manager.__enter__()
        self._manager: AbstractContextManager[object] | None = manager

    def exit(self, error: BaseException | None = None) -> None:
        """Exit the context manager (again: nothing)."""
        manager, self._manager = self._manager, None
        if manager is None:
            return
        if error is None:
            manager.__exit__(None, None, None)
        else:
            manager.__exit__(type(error), error, error.__traceback__)


NULL: AbstractContextManager[object] = nullcontext()
"""What `entered` returns without a hook: reusable, and next to free."""


def entered(around: Around[ScopeT] | None, scope: ScopeT) -> AbstractContextManager[object]:
    """Run the block inside the hook's context manager (a no-op without a hook)."""
    return NULL if around is None else _inside(around(scope))


@contextmanager
def _inside(manager: AbstractContextManager[object]) -> Generator[None, None, None]:
    opened = Entered(manager)
    try:
        yield
    except BaseException as error:
        opened.exit(error)
        raise
    opened.exit()


def combined(outer: Hooks, inner: Hooks) -> Hooks:
    """One `Hooks` that calls `outer`'s hooks, then `inner`'s; `outer` wraps `inner`."""
    return Hooks(
        before_request=_both(outer.before_request, inner.before_request),
        after_request=_both(outer.after_request, inner.after_request),
        before_tool=_both(outer.before_tool, inner.before_tool),
        after_tool=_both(outer.after_tool, inner.after_tool),
        on_cancel=_both(outer.on_cancel, inner.on_cancel),
        around_run=_nested(outer.around_run, inner.around_run),
        around_request=_nested(outer.around_request, inner.around_request),
        around_tool=_nested(outer.around_tool, inner.around_tool),
    )


def _both(
    first: Callable[..., None] | None, second: Callable[..., None] | None
) -> Callable[..., None] | None:
    if first is None or second is None:
        return first or second

    def both(*args: Any) -> None:
        first(*args)
        second(*args)

    return both


def _nested(outer: Around[ScopeT] | None, inner: Around[ScopeT] | None) -> Around[ScopeT] | None:
    if outer is None or inner is None:
        return outer or inner

    @contextmanager
    def nested(scope: ScopeT) -> Generator[None, None, None]:
        with outer(scope), inner(scope):
            yield

    return nested


# -- the registry of installed hooks -------------------------------------------------------------

_lock = threading.Lock()
_everywhere: Hooks | None = None
_per_agent: weakref.WeakKeyDictionary[object, Hooks] = weakref.WeakKeyDictionary()


def install(hooks: Hooks, agent: object | None = None) -> None:
    """Wrap every run of `agent` (None: of every agent) in `hooks`, replacing earlier ones.

    Hooks installed for one agent take the place of those installed for every agent.
    """
    global _everywhere  # the registry is process-wide on purpose: `instrument()` is
    with _lock:
        if agent is None:
            _everywhere = hooks
        else:
            _per_agent[agent] = hooks


def uninstall(agent: object | None = None) -> None:
    """Remove the hooks installed for `agent` (None: for every agent, and for each one)."""
    global _everywhere
    with _lock:
        if agent is None:
            _everywhere = None
            _per_agent.clear()
        else:
            _per_agent.pop(agent, None)


def installed(own: Hooks, agent: object) -> Hooks:
    """The hooks a run of `agent` uses: its own, inside those installed for it, if any."""
    if _everywhere is None and not _per_agent:  # the common case costs two look-ups
        return own
    extra = _per_agent.get(agent, _everywhere)
    return own if extra is None else combined(extra, own)
