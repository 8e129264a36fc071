"""Tools known only once connected (MCP servers): what a source is, and its connections.

A `ToolSource` (in `Agent(tools=[...])`) connects to a server and lists tools from it at the
start of each run. `Connections` keeps an agent's connections open across the runs of an
`async with agent:` (or `with agent:`) block; a run outside a block, or of the other kind
(a sync run inside an async block), opens its own and closes them when it ends.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import AsyncGenerator, Generator, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    AsyncExitStack,
    ExitStack,
    asynccontextmanager,
    contextmanager,
)
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from anyio.abc import TaskGroup, TaskStatus

from agentkit._exceptions import UsageError

if TYPE_CHECKING:
    from agentkit._context import RunContext
    from agentkit._tool import SyncCall
    from agentkit.types import FunctionCallStep, FunctionResultStep

__all__ = ["Connections", "Listed", "LocalTool", "SourceConnection", "ToolSource"]


class LocalTool(Protocol):
    """A tool this process answers calls of: a `FunctionTool`, or a tool of a `ToolSource`."""

    @property
    def name(self) -> str: ...
    @property
    def declaration(self) -> dict[str, Any]: ...
    @property
    def idempotent(self) -> bool: ...
    @property
    def is_async(self) -> bool: ...
    def requires_approval(self, arguments: dict[str, Any]) -> bool: ...
    async def invoke(
        self,
        call: FunctionCallStep,
        ctx: RunContext[Any] | None = None,
        *,
        raise_errors: bool = False,
        on_late: Any = None,  # Callable[[FunctionResultStep | None], None]; see FunctionTool
    ) -> FunctionResultStep: ...
    def start_sync(
        self,
        call: FunctionCallStep,
        ctx: RunContext[Any] | None = None,
        *,
        on_late: Any = None,
        here: bool = False,
    ) -> FunctionResultStep | SyncCall: ...


class SourceConnection(abc.ABC):
    """An open connection to a tool source."""

    @property
    @abc.abstractmethod
    def broken(self) -> bool:
        """Whether the connection ended on its own (the server crashed): runs open a new one."""

    @abc.abstractmethod
    async def list_tools(self) -> Sequence[LocalTool]:
        """The tools to offer in this run (from the event loop the connection lives on)."""

    @abc.abstractmethod
    def list_tools_sync(self) -> Sequence[LocalTool]:
        """`list_tools` for a connection opened by `connect_sync` (from any thread)."""


class ToolSource(abc.ABC):
    """Tools an agent lists from a server at the start of each run (an MCP server)."""

    @property
    @abc.abstractmethod
    def label(self) -> str:
        """Names the source in messages, e.g. `MCP server 'files'`."""

    @abc.abstractmethod
    def connect(self) -> AbstractAsyncContextManager[SourceConnection]:
        """Connect on the current event loop, for async runs."""

    @abc.abstractmethod
    def connect_sync(self) -> AbstractContextManager[SourceConnection]:
        """Connect on an event loop of the connection's own (a thread), for sync runs."""


Listed = list[tuple[ToolSource, Sequence[LocalTool]]]
"""The tools of each source for one run, in the order the sources were given."""


class Connections:
    """The open connections of an agent's tool sources, kept across the runs of a block.

    A connection that broke (its server crashed or exited) is replaced, at the start of the
    next run, by one that the block keeps in its place.
    """

    def __init__(self, sources: Sequence[ToolSource]) -> None:
        self._sources = tuple(sources)
        self._async: dict[ToolSource, SourceConnection] | None = None
        self._async_stack: AsyncExitStack | None = None
        self._group: TaskGroup | None = None  # holds the async block's replacements
        self._closing: anyio.Event | None = None
        self._sync: dict[ToolSource, SourceConnection] | None = None
        self._sync_stack: ExitStack | None = None
        # Made on first use: an agent built inside Temporal's workflow sandbox must not hold
        # one of the sandbox's proxied objects, which the worker's activities then use.
        self._sync_lock: threading.Lock | None = None

    async def open(self) -> None:
        """Connect every source on this event loop (`async with agent:`)."""
        if not self._sources:
            return
        if self._async_stack is not None:
            raise UsageError("This agent's MCP connections are already open: nested `async with`.")
        async with AsyncExitStack() as stack:
            opened = {s: await stack.enter_async_context(s.connect()) for s in self._sources}
            self._group = await stack.enter_async_context(anyio.create_task_group())
            self._closing = anyio.Event()
            stack.callback(self._closing.set)  # ends the replacements' tasks first
            self._async, self._async_stack = opened, stack.pop_all()

    async def close(self) -> None:
        """Close what `open()` opened (from the task that opened it)."""
        stack, self._async_stack, self._async, self._group = self._async_stack, None, None, None
        if stack is not None:
            await stack.aclose()

    def open_sync(self) -> None:
        """Connect every source, each on an event loop in a thread of its own (`with agent:`)."""
        if not self._sources:
            return
        if self._sync_stack is not None:
            raise UsageError("This agent's MCP connections are already open: nested `with`.")
        with ExitStack() as stack:
            opened = {
                source: stack.enter_context(source.connect_sync()) for source in self._sources
            }
            self._sync_lock = self._sync_lock or threading.Lock()
            self._sync, self._sync_stack = opened, stack.pop_all()

    def close_sync(self) -> None:
        """Close what `open_sync()` opened."""
        if self._sync_lock is None:
            return
        with self._sync_lock:
            stack, self._sync_stack, self._sync = self._sync_stack, None, None
        if stack is not None:
            stack.close()

    @asynccontextmanager
    async def listed(self) -> AsyncGenerator[Listed, None]:
        """The tools of every source for one async run, connecting those not open yet."""
        if not self._sources:
            yield []
            return
        async with AsyncExitStack() as stack:
            listed: Listed = []
            for source in self._sources:
                kept = (self._async or {}).get(source)
                tools = await _tools_of(kept) if kept is not None else None
                if tools is None:
                    group, closing = self._group, self._closing
                    if kept is not None and self._async is not None and group and closing:
                        replaced = await group.start(self._hold, source, closing)
                        self._async[source] = replaced
                    else:
                        replaced = await stack.enter_async_context(source.connect())
                    tools = await replaced.list_tools()
                listed.append((source, tools))
            yield listed

    @staticmethod
    async def _hold(
        source: ToolSource,
        closing: anyio.Event,
        *,
        task_status: TaskStatus[SourceConnection] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        async with source.connect() as connection:
            task_status.started(connection)
            await closing.wait()

    @contextmanager
    def listed_sync(self) -> Generator[Listed, None, None]:
        """The tools of every source for one sync run, connecting those not open yet."""
        if not self._sources:
            yield []
            return
        with ExitStack() as stack:
            listed: Listed = []
            for source in self._sources:
                kept = (self._sync or {}).get(source)
                tools = _tools_of_sync(kept) if kept is not None else None
                if tools is None:
                    if kept is None:
                        replaced = stack.enter_context(source.connect_sync())
                    else:
                        replaced = self._replace_sync(source, stack)
                    tools = replaced.list_tools_sync()
                listed.append((source, tools))
            yield listed

    def _replace_sync(self, source: ToolSource, run: ExitStack) -> SourceConnection:
        """A new connection for the sync block, in place of its broken one."""
        assert self._sync_lock is not None  # a kept connection means open_sync() ran
        with self._sync_lock:
            if self._sync is None or self._sync_stack is None:  # the block ended meanwhile
                return run.enter_context(source.connect_sync())
            replaced = self._sync_stack.enter_context(source.connect_sync())
            self._sync[source] = replaced
            return replaced


async def _tools_of(connection: SourceConnection) -> Sequence[LocalTool] | None:
    """The connection's tools, or None when it broke (before or while listing them)."""
    if connection.broken:
        return None
    try:
        return await connection.list_tools()
    except Exception:
        if connection.broken:
            return None
        raise


def _tools_of_sync(connection: SourceConnection) -> Sequence[LocalTool] | None:
    """`_tools_of` for a connection of a sync block."""
    if connection.broken:
        return None
    try:
        return connection.list_tools_sync()
    except Exception:
        if connection.broken:
            return None
        raise
