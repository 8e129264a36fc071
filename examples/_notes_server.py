"""A small MCP server for `mcp_tools.py`: notes kept in memory, for as long as it runs.

Written with the official `mcp` package; `mcp_tools.py` starts it as a subprocess and talks
to it over stdin and stdout.
"""

from mcp.server.mcpserver import MCPServer

server = MCPServer("notes")
notes: list[str] = []


@server.tool(structured_output=False)
def add_note(text: str) -> str:
    """Save a note."""
    notes.append(text)
    return f"Saved note {len(notes)}."


@server.tool(structured_output=False)
def list_notes() -> str:
    """Every note saved so far, one per line."""
    return "\n".join(notes) or "No notes yet."


if __name__ == "__main__":
    server.run("stdio")
