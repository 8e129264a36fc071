"""The exception of the MCP integration."""

from __future__ import annotations

from agentkit._exceptions import AgentkitError

__all__ = ["MCPServerError", "describe"]


class MCPServerError(AgentkitError):
    """An MCP server could not be started, reached, initialised or listed.

    A failure during a tool call is reported to the model as an error result instead (or
    raised as this error with `Agent(raise_tool_errors=True)`).
    """


def describe(exc: BaseException) -> str:
    """What went wrong, in one line: `TypeName: message`, the leaves of exception groups."""
    leaves = getattr(exc, "exceptions", None)
    if isinstance(leaves, tuple) and leaves:
        return "; ".join(describe(leaf) for leaf in leaves)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
