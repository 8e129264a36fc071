"""Handoffs: a tool that gives the conversation to another agent, which answers from then on.

Unlike an agent used as a tool (`Agent.as_tool()`), which answers one request and hands the
answer back, the agent handed to takes the run over: its model, instructions, tools and output
type serve every later turn, with the whole conversation so far.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentkit._exceptions import UsageError

if TYPE_CHECKING:
    from agentkit._agent import Agent

__all__ = ["Handoff", "handoff"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Handoff:
    """A handoff to `agent`, declared to the model as the function tool `tool_name`.

    Make one with `agent.as_handoff()`; an `Agent` in `Agent(handoffs=[...])` gets the
    defaults.
    """

    agent: Agent[Any, Any]
    tool_name: str
    description: str

    @property
    def declaration(self) -> dict[str, Any]:
        """The function declaration the model sees (no parameters)."""
        return {
            "type": "function",
            "name": self.tool_name,
            "description": self.description,
            "parameters": {"type": "object", "properties": {}},
        }


def handoff(
    agent: Agent[Any, Any], *, tool_name: str | None = None, description: str | None = None
) -> Handoff:
    """A handoff to `agent` (see `Agent.as_handoff`)."""
    from agentkit._agent import Agent  # the agent module imports this one

    if not isinstance(agent, Agent):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise UsageError(f"handoffs= takes Agents (or agent.as_handoff(...)), not {agent!r}.")
    if agent.toolset.sources:
        raise UsageError(
            f"Agent {agent.name!r} has MCP servers, whose connections belong to its own runs: "
            "it cannot take over another agent's run. Wrap the calls it needs in @tool "
            "functions, or use it as a tool (agent.as_tool(...))."
        )
    name = tool_name or "transfer_to_" + re.sub(r"[^A-Za-z0-9_]+", "_", agent.name).strip("_")
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"The handoff tool name {name!r} is not a valid function name (letters, digits, "
            "_ . -, starting with a letter or _, at most 64): pass tool_name=..."
        )
    return Handoff(agent, name, description or f"Hand the conversation over to {agent.name}.")
