"""MCP servers as tool sources: a subprocess over stdio, or a streamable HTTP endpoint."""

from __future__ import annotations

import abc
import re
import sys
from collections.abc import AsyncGenerator, Callable, Collection, Generator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import anyio
import httpx2
import mcp.types as mcp_types
from anyio.from_thread import start_blocking_portal
from mcp import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from agentkit._exceptions import UsageError
from agentkit._tool_source import LocalTool, SourceConnection, ToolSource
from agentkit.mcp._connection import Connection, LoopHome, PortalHome, Streams
from agentkit.mcp._tool import MCPTool

__all__ = [
    "AllowedTools",
    "Idempotent",
    "MCPServerBase",
    "MCPServerHTTP",
    "MCPServerStdio",
    "NeedsApproval",
]

AllowedTools = Collection[str] | Callable[[mcp_types.Tool], bool] | None
"""Which of a server's tools to offer: their names, a test of each listed tool, or all (None)."""
NeedsApproval = bool | Collection[str] | Callable[[str, dict[str, Any]], bool]
"""Which calls wait for a person's approval: all, those of these tools, or a test of the
tool's name (as the server names it) and the call's arguments."""
Idempotent = bool | Collection[str] | None
"""Which tools may simply run again when a call's outcome is unknown: all, these, or those
the server annotates `idempotentHint` (None)."""

DEFAULT_TIMEOUT = 60.0
"""Seconds a tool call may take before the model is told it timed out."""
DEFAULT_CONNECT_TIMEOUT = 30.0
"""Seconds to start, initialise and list a server before `MCPServerError`."""

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class MCPServerBase(ToolSource):
    """What both kinds of MCP server share: which tools to offer and how to call them."""

    def __init__(
        self,
        *,
        name: str,
        prefix: str | None,
        allowed_tools: AllowedTools,
        needs_approval: NeedsApproval,
        idempotent: Idempotent,
        timeout: float | None,
        connect_timeout: float,
        cache_tools: bool,
    ) -> None:
        if prefix is not None and not _NAME.fullmatch(prefix + "_"):
            raise UsageError(
                f"prefix={prefix!r} is not valid: use up to 63 ASCII letters, digits, '_' or '-'."
            )
        for option, value in (("allowed_tools", allowed_tools), ("needs_approval", needs_approval)):
            if isinstance(value, str):
                raise UsageError(f"{option}= takes a list of tool names, not the string {value!r}.")
        if isinstance(idempotent, str):
            raise UsageError(
                f"idempotent= takes a list of tool names, not the string {idempotent!r}."
            )
        if timeout is not None and not timeout > 0:
            raise UsageError("timeout must be a positive number of seconds, or None.")
        if not connect_timeout > 0:
            raise UsageError("connect_timeout must be a positive number of seconds.")
        self.name = name
        """Names the server in messages."""
        self.prefix = prefix
        """Put before each tool's name with a `_` (`fs` → `fs_read_file`), to avoid clashes."""
        self.allowed_tools = allowed_tools
        self.needs_approval = needs_approval
        self.idempotent = idempotent
        self.timeout = timeout
        """Seconds a call may take before the model is told it timed out (None: no limit)."""
        self.connect_timeout = connect_timeout
        """Seconds to start, initialise and list the server before `MCPServerError`."""
        self.cache_tools = cache_tools
        """Keep an open connection's tool listing for later runs, until `refresh()` or the
        server says its tools changed; False lists them at the start of every run."""
        self.refreshes: int = 0
        """How often `refresh()` was called: listings made before the last one are stale."""

    @property
    def label(self) -> str:
        return f"MCP server {self.name!r}"

    def refresh(self) -> None:
        """List the tools again at the start of the next run (for open connections too)."""
        self.refreshes += 1

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    # -- the tools offered ----------------------------------------------------------------------

    def offered(self, listed: Sequence[mcp_types.Tool], connection: Connection) -> list[LocalTool]:
        """The tools of a listing to offer the model, named as it will call them.

        Raises:
            UsageError: `allowed_tools` names a tool the server does not have, or a tool's
                name (with the prefix) is not a valid function name.
        """
        allowed = self.allowed_tools
        if allowed is not None and not callable(allowed):
            missing = sorted(set(allowed) - {tool.name for tool in listed})
            if missing:
                have = ", ".join(sorted(tool.name for tool in listed)) or "none"
                raise UsageError(
                    f"allowed_tools names tools {self.label} does not have: {missing}. "
                    f"It has: {have}."
                )
        tools: list[LocalTool] = []
        for tool in listed:
            if allowed is not None and not (
                allowed(tool) if callable(allowed) else tool.name in allowed
            ):
                continue
            name = tool.name if self.prefix is None else f"{self.prefix}_{tool.name}"
            if not _NAME.fullmatch(name):
                raise UsageError(
                    f"{self.label} has a tool named {tool.name!r}, which gives the model the "
                    f"invalid function name {name!r} (use 1 to 64 ASCII letters, digits, '_' or "
                    "'-'). Leave it out with allowed_tools=, or shorten prefix=."
                )
            tools.append(
                MCPTool(self, connection, tool, name=name, idempotent=self._idempotent(tool))
            )
        return tools

    def _idempotent(self, tool: mcp_types.Tool) -> bool:
        option = self.idempotent
        if option is None:
            return tool.annotations is not None and tool.annotations.idempotent_hint is True
        if isinstance(option, bool):
            return option
        return tool.name in option

    def approval_needed(self, tool_name: str, arguments: dict[str, Any]) -> bool:
        """Whether a call of this tool (the server's name for it) waits for approval."""
        option = self.needs_approval
        if isinstance(option, bool):
            return option
        if callable(option):
            return bool(option(tool_name, arguments))
        return tool_name in option

    # -- connections ----------------------------------------------------------------------------

    @abc.abstractmethod
    def _transport(self) -> AbstractAsyncContextManager[Streams]:
        """Open the transport: the (read, write) streams of an MCP session."""

    @asynccontextmanager
    async def connect(self) -> AsyncGenerator[SourceConnection, None]:
        """Connect on the current event loop; closed when the block ends.

        Raises:
            MCPServerError: The server could not be started, reached or initialised in time.
        """
        connection = Connection(self, self._transport, LoopHome(self.label))
        failure: Exception | None = None
        async with anyio.create_task_group() as group:
            # The session lives in a task of its own: a failure of the session after it
            # started ends that task only, never the caller's.
            try:
                await group.start(connection.serve)
            except Exception as exc:
                failure = exc
            else:
                try:
                    yield connection
                except Exception as exc:
                    failure = exc
                finally:
                    connection.stop()
        # Raised out here, as it is: inside, the task group would wrap it in an ExceptionGroup.
        if failure is not None:
            raise failure

    @contextmanager
    def connect_sync(self) -> Generator[SourceConnection, None, None]:
        """Connect on an event loop of the connection's own, in a thread; closed with the block.

        Raises:
            MCPServerError: The server could not be started, reached or initialised in time.
        """
        with start_blocking_portal() as portal:
            connection = Connection(self, self._transport, PortalHome(portal))
            serving, _ = portal.start_task(connection.serve)
            try:
                yield connection
            finally:
                portal.call(connection.stop)
                serving.result()


class MCPServerStdio(MCPServerBase):
    """An MCP server run as a subprocess, spoken to over its stdin and stdout.

    Example:
        ```python
        files = MCPServerStdio("npx", ["-y", "@modelcontextprotocol/server-filesystem", "."])
        agent = Agent("gemini-3.5-flash", tools=[files])
        async with agent:  # one subprocess for every run in the block
            result = await agent.run("Which files are here?")
        ```
    """

    def __init__(
        self,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        errlog: TextIO | None = None,
        name: str | None = None,
        prefix: str | None = None,
        allowed_tools: AllowedTools = None,
        needs_approval: NeedsApproval = False,
        idempotent: Idempotent = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        cache_tools: bool = True,
    ) -> None:
        """Describe the server; it starts when a run (or `async with agent:`) connects.

        Args:
            command: The program to run, e.g. `npx`, `uvx` or `sys.executable`.
            args: Its arguments.
            env: Variables added to the few it inherits (PATH, HOME, ...); never shown in
                messages.
            cwd: The working directory of the server process.
            errlog: Where the server's stderr goes (default: this process's stderr).
            name: Names the server in messages (default: the command and its first argument).
            prefix: Put before each tool's name with a `_` (`fs` → `fs_read_file`).
            allowed_tools: Offer only these tools (names as the server gives them), or those
                a function of each `mcp.types.Tool` accepts.
            needs_approval: True, tool names, or a function of the tool's name and the call's
                arguments: those calls wait for a person's approval (`result.pending_calls`).
            idempotent: Tools that may run again when a call's outcome is unknown (True: all);
                default: those the server annotates `idempotentHint`.
            timeout: Seconds a call may take before the model is told it timed out.
            connect_timeout: Seconds to start, initialise and list the server before
                `MCPServerError`.
            cache_tools: Keep an open connection's tool listing for later runs (until
                `refresh()`, or the server says its tools changed).
        """
        self.command = command
        self.args: list[str] = list(args)
        self._env = dict(env) if env is not None else None
        self.cwd = cwd
        self.errlog = errlog
        super().__init__(
            name=name or _command_name(command, self.args),
            prefix=prefix,
            allowed_tools=allowed_tools,
            needs_approval=needs_approval,
            idempotent=idempotent,
            timeout=timeout,
            connect_timeout=connect_timeout,
            cache_tools=cache_tools,
        )

    def _transport(self) -> AbstractAsyncContextManager[Streams]:
        parameters = StdioServerParameters(
            command=self.command, args=self.args, env=self._env, cwd=self.cwd
        )
        return stdio_client(parameters, errlog=self.errlog or _stderr())


class MCPServerHTTP(MCPServerBase):
    """An MCP server at a streamable HTTP endpoint (e.g. `https://example.com/mcp`).

    Example:
        ```python
        docs = MCPServerHTTP("https://example.com/mcp", headers={"Authorization": token})
        agent = Agent("gemini-3.5-flash", tools=[docs])
        result = agent.run_sync("What's new in the docs?")
        ```
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        name: str | None = None,
        prefix: str | None = None,
        allowed_tools: AllowedTools = None,
        needs_approval: NeedsApproval = False,
        idempotent: Idempotent = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        cache_tools: bool = True,
    ) -> None:
        """Describe the server; nothing is sent until a run (or `async with agent:`) connects.

        Args:
            url: The MCP endpoint.
            headers: Sent with every request (e.g. `Authorization`); never shown in messages.
            name: Names the server in messages (default: the URL's host and path).

        The other arguments are those of `MCPServerStdio`.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"MCPServerHTTP needs an http:// or https:// URL, not {url!r}.")
        self.url = url
        self._headers = dict(headers or {})
        super().__init__(
            # Host and path only: a URL's user info and query may hold credentials.
            name=name or f"{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}",
            prefix=prefix,
            allowed_tools=allowed_tools,
            needs_approval=needs_approval,
            idempotent=idempotent,
            timeout=timeout,
            connect_timeout=connect_timeout,
            cache_tools=cache_tools,
        )

    @asynccontextmanager
    async def _http_transport(self) -> AsyncGenerator[Streams, None]:
        # The read timeout is the SSE stream's: a tool call's own limit is `timeout`.
        limits = httpx2.Timeout(self.connect_timeout, read=None)
        client = httpx2.AsyncClient(headers=self._headers, timeout=limits)
        async with client, streamable_http_client(self.url, http_client=client) as streams:
            yield streams

    def _transport(self) -> AbstractAsyncContextManager[Streams]:
        return self._http_transport()


def _command_name(command: str, args: Sequence[str]) -> str:
    # The first argument only when it looks like a script or package: later ones (and
    # options) may hold credentials.
    first = args[0] if args else ""
    parts = [Path(command).name]
    if first and not first.startswith("-") and "=" not in first:
        parts.append(Path(first).name)
    return " ".join(parts)


def _stderr() -> TextIO:
    """This process's stderr, or the original one when it was replaced by one without a file."""
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return sys.__stderr__ or sys.stderr
    return sys.stderr
