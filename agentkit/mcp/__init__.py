"""Tools from MCP servers in agentkit agents (`pip install "agentkit[mcp]"`).

An MCP server goes in `Agent(tools=[...])` beside function tools. Its tools are listed at
the start of each run, declared to the model with the JSON schemas the server gives, and
called on the server when the model asks; their results (text, images, audio, structured
content, errors) come back as `function_result` steps.

```python
from agentkit import Agent
from agentkit.mcp import MCPServerHTTP, MCPServerStdio

files = MCPServerStdio("npx", ["-y", "@modelcontextprotocol/server-filesystem", "."], prefix="fs")
docs = MCPServerHTTP("https://example.com/mcp", needs_approval=["delete_page"])
agent = Agent("gemini-3.5-flash", tools=[files, docs])

async with agent:  # connect once; every run in the block shares the connections
    result = await agent.run("Summarise README.md")
```

A run outside `async with agent:` (or `with agent:` for sync code) connects at its start and
disconnects at its end. A server that fails, crashes or hangs during a call gives the model an
error result (after `timeout` seconds for a hang); one that cannot be started, reached or listed
raises `MCPServerError`. Calls go through the agent's journal like function tools: a recorded
call never runs again on resume, and one whose outcome is unknown runs again only if the tool
is idempotent (the server's `idempotentHint` annotation, or `idempotent=`).
"""

from agentkit._extras import missing_extra

try:
    from agentkit.mcp._errors import MCPServerError
    from agentkit.mcp._server import MCPServerBase, MCPServerHTTP, MCPServerStdio
except ModuleNotFoundError as _missing:
    raise missing_extra(__name__, "mcp", _missing) from None

__all__ = ["MCPServerBase", "MCPServerError", "MCPServerHTTP", "MCPServerStdio"]
