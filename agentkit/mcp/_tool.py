"""A tool of an MCP server, as the agent offers it to the model and answers its calls."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, NoReturn

import mcp.types as mcp_types

from agentkit._context import RunContext
from agentkit._exceptions import UsageError
from agentkit._tool_error import error_result
from agentkit.mcp._connection import CallFailed
from agentkit.mcp._errors import MCPServerError
from agentkit.mcp._result import function_result, result_text
from agentkit.types import FunctionCallStep, FunctionResultStep

if TYPE_CHECKING:
    from agentkit.mcp._connection import Connection
    from agentkit.mcp._server import MCPServerBase

__all__ = ["MCPTool"]

logger = logging.getLogger("agentkit.mcp")


class MCPTool:
    """One tool of an MCP server on one connection: its declaration, and its calls."""

    is_async = True  # a call awaits the server (from the run's event loop)

    def __init__(
        self,
        server: MCPServerBase,
        connection: Connection,
        tool: mcp_types.Tool,
        *,
        name: str,
        idempotent: bool,
    ) -> None:
        self._server = server
        self._connection = connection
        self._tool = tool
        self.name = name
        """The name the model calls it by (with the server's prefix)."""
        self.idempotent = idempotent
        """Whether a call whose outcome is unknown may run again (the server's
        `idempotentHint`, unless the server's `idempotent=` option says otherwise)."""

    @property
    def declaration(self) -> dict[str, Any]:
        """The function tool declaration: the server's input schema, as given."""
        declaration: dict[str, Any] = {"type": "function", "name": self.name}
        if self._tool.description is not None:
            declaration["description"] = self._tool.description
        declaration["parameters"] = dict(self._tool.input_schema)
        return declaration

    def requires_approval(self, arguments: dict[str, Any]) -> bool:
        """Whether a call with these arguments waits for a person's approval."""
        return self._server.approval_needed(self._tool.name, arguments)

    async def invoke(
        self,
        call: FunctionCallStep,
        ctx: RunContext[Any] | None = None,
        *,
        raise_errors: bool = False,
        on_late: Any = None,  # sync tools only: an MCP call ends with its awaiting task
    ) -> FunctionResultStep:
        """Call the tool on the server; what it returned, or an error result saying why not.

        Raises:
            MCPServerError: With `raise_errors`: the call failed or the tool reported an error.
        """
        timeout = self._server.timeout
        try:
            result = await self._connection.call(self._tool.name, call.arguments, timeout)
        except CallFailed as failure:
            text = f"{failure} (MCP tool {self._tool.name!r} of {self._server.label})"
            if raise_errors:
                raise MCPServerError(text) from failure
            # WARNING, as a local tool's exception: the model copes, but someone must look.
            logger.warning("MCP tool %r failed; the model is told: %s", self.name, failure)
            return error_result(call, str(failure))
        if result.is_error and raise_errors:
            raise MCPServerError(
                f"MCP tool {self._tool.name!r} of {self._server.label} reported an error: "
                f"{result_text(result)}"
            )
        return function_result(call, result)

    def start_sync(
        self,
        call: FunctionCallStep,
        ctx: RunContext[Any] | None = None,
        *,
        on_late: Any = None,
        here: bool = False,
    ) -> NoReturn:
        """Not for MCP tools: their calls are awaited (`is_async`), sync runs included."""
        raise UsageError(f"MCP tool {self.name!r} is async: run it with invoke().")

    def __repr__(self) -> str:
        return f"<MCPTool {self.name!r} of {self._server.label}>"
