"""Tools known only once connected (MCP servers): what a source is, and its connections.

A `ToolSource` (in `Agent(tools=[...])`) connects to a server and lists tools from it at the
start of each run. `Connections` keeps an agent's connections open across the runs of an
`async with agent:` (or `with agent:`) block; a run outside a block, or of the other kind
(a sync run inside an async block), opens its own and closes them when it ends.
"""

from __future__ import annotations

import abc
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
        self, call: FunctionCallStep, ctx: RunContext[Any] | None = None, *, on_late: Any = None
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
    """The open connections of an agent's tool sources, kept across the runs of a block."""

    def __init__(self, sources: Sequence[ToolSource]) -> None:
        self._sources = tuple(sources)
        self._async: dict[ToolSource, SourceConnection] | None = None
        self._async_stack: AsyncExitStack | None = None
        self._sync: dict[ToolSource, SourceConnection] | None = None
        self._sync_stack: ExitStack | None = None

    async def open(self) -> None:
        """Connect every source on this event loop (`async with agent:`)."""
        if not self._sources:
            return
        if self._async_stack is not None:
            raise UsageError("This agent's MCP connections are already open: nested `async with`.")
        async with AsyncExitStack() as stack:
            opened = {s: await stack.enter_async_context(s.connect()) for s in self._sources}
            self._async, self._async_stack = opened, stack.pop_all()

    async def close(self) -> None:
        """Close what `open()` opened (from the task that opened it)."""
        stack, self._async_stack, self._async = self._async_stack, None, None
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
            self._sync, self._sync_stack = opened, stack.pop_all()

    def close_sync(self) -> None:
        """Close what `open_sync()` opened."""
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
                connection = (self._async or {}).get(source)
                if connection is None or connection.broken:
                    connection = await stack.enter_async_context(source.connect())
                listed.append((source, await connection.list_tools()))
            yield listed

    @contextmanager
    def listed_sync(self) -> Generator[Listed, None, None]:
        """The tools of every source for one sync run, connecting those not open yet."""
        if not self._sources:
            yield []
            return
        with ExitStack() as stack:
            listed: Listed = []
            for source in self._sources:
                connection = (self._sync or {}).get(source)
                if connection is None or connection.broken:
                    connection = stack.enter_context(source.connect_sync())
                listed.append((source, connection.list_tools_sync()))
            yield listed
