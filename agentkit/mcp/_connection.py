"""One open MCP session, and the event loop it lives on.

The session (its transport's tasks, a stdio server's subprocess) belongs to one event loop:
the caller's, for `async with agent:` and async runs, or a loop of its own in a thread (a
blocking portal), for `with agent:` and sync runs. Tools call it from their run's loop; a
call from another thread hops to the session's loop and back.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
import mcp.types as mcp_types
from anyio.abc import TaskStatus
from anyio.from_thread import BlockingPortal
from mcp import ClientSession
from mcp.client.session import IncomingMessage
from mcp.shared.exceptions import MCPError

from agentkit._exceptions import UsageError
from agentkit._tool_source import LocalTool, SourceConnection
from agentkit.mcp._errors import MCPServerError, describe

if TYPE_CHECKING:
    from agentkit.mcp._server import MCPServerBase

__all__ = ["CallFailed", "Connection", "Home", "LoopHome", "PortalHome"]

T = TypeVar("T")

logger = logging.getLogger("agentkit.mcp")

Streams = tuple[Any, Any]
"""The (read, write) streams of an MCP transport (the mcp package's own stream types)."""
Transport = Callable[[], AbstractAsyncContextManager[Streams]]

_CONNECTION_CLOSED = -32000  # mcp_types.CONNECTION_CLOSED
_MAX_PAGES = 100  # a server whose tool listing never ends cannot hang a run


class CallFailed(Exception):
    """A tool call got no result: the server timed out, closed the connection or refused it."""


class Home:
    """The event loop a session lives on, and how to run a coroutine there."""

    async def run(self, function: Callable[[], Awaitable[T]]) -> T:
        """Run `function` on the session's loop, from any event loop, and return its value."""
        raise NotImplementedError

    def run_sync(self, function: Callable[[], Awaitable[T]]) -> T:
        """Run `function` on the session's loop from a thread without an event loop."""
        raise NotImplementedError


class LoopHome(Home):
    """The session lives on the event loop (and thread) that opened it."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._thread = threading.get_ident()

    async def run(self, function: Callable[[], Awaitable[T]]) -> T:
        if threading.get_ident() != self._thread:
            raise UsageError(
                f"The connection to {self._label} was opened on another thread's event loop "
                "(`async with agent:`); runs of other threads or loops open their own."
            )
        return await function()

    def run_sync(self, function: Callable[[], Awaitable[T]]) -> T:
        raise UsageError(
            f"The connection to {self._label} belongs to an event loop (`async with agent:`): "
            "use it from async code."
        )


class PortalHome(Home):
    """The session lives on an event loop of its own, in a thread."""

    def __init__(self, portal: BlockingPortal) -> None:
        self._portal = portal

    async def run(self, function: Callable[[], Awaitable[T]]) -> T:
        future = self._portal.start_task_soon(function)
        try:
            # A worker thread waits, so this loop goes on running other tools meanwhile.
            return await anyio.to_thread.run_sync(future.result, abandon_on_cancel=True)
        except BaseException:
            future.cancel()  # the caller was cancelled: so is the request on the session's loop
            raise

    def run_sync(self, function: Callable[[], Awaitable[T]]) -> T:
        future = self._portal.start_task_soon(function)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # Ctrl-C lands here, in the caller's thread
            raise


class Connection(SourceConnection):
    """An MCP session with one server: its tools listed (and cached), and their calls."""

    def __init__(self, server: MCPServerBase, transport: Transport, home: Home) -> None:
        self._server = server
        self._transport = transport
        self.home = home
        self._session: ClientSession | None = None
        self._closing = anyio.Event()
        self._broken = False
        self._tools: list[LocalTool] | None = None
        self._listed_at = -1  # the server's refresh count when the cached listing was made

    @property
    def broken(self) -> bool:
        return self._broken

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Connect and initialise, report it started, and hold the session until `stop()`.

        Every context is entered and left in this one task, as anyio's cancel scopes need.
        Once started, a failure of the session only marks the connection broken: it must
        not cancel the tasks of the block or run that opened it.

        Raises:
            MCPServerError: The server could not be started, reached or initialised in time.
        """
        server = self._server
        limit = server.connect_timeout
        scope = anyio.CancelScope(deadline=anyio.current_time() + limit)
        started = False
        try:
            with scope:
                async with (
                    self._transport() as (read, write),
                    ClientSession(read, write, message_handler=self._on_message) as session,
                ):
                    await session.initialize()
                    scope.deadline = math.inf
                    self._session, started = session, True
                    task_status.started()
                    await self._closing.wait()
        except Exception as exc:
            if not started:
                raise MCPServerError(
                    f"Could not connect to {server.label}: {describe(exc)}"
                ) from exc
            logger.warning("The connection to %s ended with an error", server.label, exc_info=exc)
        finally:
            self._session, self._broken = None, True
        if not started:
            raise MCPServerError(
                f"{server.label} did not start and initialise within {limit:g} s (connect_timeout)."
            )

    def stop(self) -> None:
        """End `serve()` (on the session's loop): the session and its transport close."""
        self._closing.set()

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            self._tools = None  # listed again at the start of the next run
        await anyio.lowlevel.checkpoint()

    # -- listing --------------------------------------------------------------------------------

    async def list_tools(self) -> Sequence[LocalTool]:
        return await self.home.run(self._list)

    def list_tools_sync(self) -> Sequence[LocalTool]:
        return self.home.run_sync(self._list)

    async def _list(self) -> list[LocalTool]:
        server = self._server
        session = self._open_session()
        if self._tools is not None and server.cache_tools and self._listed_at == server.refreshes:
            await self._ping(session)  # a server that exited since the last run is replaced
            return self._tools
        refreshes = server.refreshes
        listed: list[mcp_types.Tool] = []
        cursor: str | None = None
        try:
            with anyio.fail_after(server.connect_timeout):
                for _ in range(_MAX_PAGES):
                    params = (
                        None if cursor is None else mcp_types.PaginatedRequestParams(cursor=cursor)
                    )
                    page = await session.list_tools(params=params)
                    listed.extend(page.tools)
                    cursor = page.next_cursor
                    if cursor is None:
                        break
        except TimeoutError as exc:
            raise MCPServerError(
                f"{server.label} did not list its tools within {server.connect_timeout:g} s "
                "(connect_timeout)."
            ) from exc
        except MCPError as exc:
            self._broken = self._broken or exc.code == _CONNECTION_CLOSED
            raise MCPServerError(f"{server.label} could not list its tools: {exc.message}") from exc
        self._tools = server.offered(listed, self)
        self._listed_at = refreshes
        return self._tools

    async def _ping(self, session: ClientSession) -> None:
        try:
            with anyio.fail_after(self._server.connect_timeout):
                await session.send_ping()
        except Exception as exc:
            self._broken = True
            raise MCPServerError(
                f"{self._server.label} did not answer a ping: {describe(exc)}"
            ) from exc

    def _open_session(self) -> ClientSession:
        if self._session is None or self._broken:
            raise MCPServerError(f"The connection to {self._server.label} is closed.")
        return self._session

    # -- calls ----------------------------------------------------------------------------------

    async def call(
        self, name: str, arguments: dict[str, Any], seconds: float | None
    ) -> mcp_types.CallToolResult:
        """Call a tool on the session's loop; its result (an `isError` one too).

        Raises:
            CallFailed: No result came: a timeout, a closed connection, a refused request.
        """
        return await self.home.run(lambda: self._call(name, arguments, seconds))

    async def _call(
        self, name: str, arguments: dict[str, Any], seconds: float | None
    ) -> mcp_types.CallToolResult:
        label = self._server.label
        if self._session is None or self._broken:
            raise CallFailed(
                f"ConnectionError: the connection to {label} is closed (the server stopped); "
                f"{name!r} was not called."
            )
        with anyio.move_on_after(seconds) as scope:
            try:
                return await self._session.call_tool(name, arguments)
            except MCPError as exc:
                if exc.code != _CONNECTION_CLOSED:
                    raise CallFailed(f"MCPError: {label} refused the call: {exc.message}") from exc
                self._broken = True
                raise CallFailed(
                    f"ConnectionError: {label} closed the connection during the call (the "
                    "server stopped or crashed); whether the call took effect is unknown."
                ) from exc
            except RuntimeError as exc:  # e.g. structured content that breaks its own schema
                raise CallFailed(f"RuntimeError: {exc}") from exc
        assert scope.cancelled_caught  # reached only when the timeout ended the call
        raise CallFailed(
            f"TimeoutError: {label} did not answer within {seconds:g} s (the call may still be "
            "running on the server)."
        )
