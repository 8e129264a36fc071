"""Tools from an MCP server, beside a function tool.

The agent starts `_notes_server.py` (an MCP server written with the official `mcp` package)
as a subprocess, lists its tools, declares them to the model with the server's own JSON
schemas, and calls them on the server when the model asks. Inside `with agent:` both runs
share one server process, so the notes of the first run are still there in the second.

    pip install -e ".[mcp]"
    python examples/mcp_tools.py
"""

import sys
from datetime import date
from pathlib import Path

from _backend import client_for_examples

from agentkit import Agent, tool
from agentkit.mcp import MCPServerStdio

# Its tools reach the model as notes_add_note and notes_list_notes.
notes = MCPServerStdio(
    sys.executable, [str(Path(__file__).with_name("_notes_server.py"))], prefix="notes"
)


@tool
def today() -> str:
    """Today's date, in ISO format."""
    return date.today().isoformat()


agent = Agent(
    "gemini-3.5-flash",
    tools=[today, notes],
    system_instruction="You keep the user's notes. Date every note.",
    client=client_for_examples(),  # leave out to use GEMINI_API_KEY from the environment
)

with agent:  # one connection (one server process) for both runs
    for prompt in ["Note that the plumber comes on Friday.", "What are my notes?"]:
        result = agent.run_sync(prompt)
        print(f"You: {prompt}")
        for call in result.function_calls:
            print(f"  Tool call: {call.name}({call.arguments})")
        print(f"Agent: {result.output_text}")
