"""Real MCP servers for the tests, written with the official `mcp` package.

`python tests/_mcp_servers.py` serves `build()` over stdio (a subprocess per connection);
`serve_http()` serves it over streamable HTTP on 127.0.0.1, in a thread of the test process.
Each stdio server appends its pid to the file named by `AGENTKIT_MCP_LOG` when it starts, and
`record` appends its note to the file named by `AGENTKIT_MCP_CALLS`, so tests count sessions
and executions from outside.
"""

from __future__ import annotations

import base64
import os
import socket
import sys
import threading
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image
from mcp.types import ToolAnnotations
from pydantic import BaseModel

SCRIPT = Path(__file__).resolve()

# A 1x1 transparent PNG.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


class Forecast(BaseModel):
    city: str
    temperature: int
    sky: str


def build() -> MCPServer:
    server: MCPServer = MCPServer("agentkit-test-server")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool(structured_output=False)
    def echo(text: str) -> str:
        """Say the text back."""
        return text

    @server.tool()
    def forecast(city: str) -> Forecast:
        """The weather forecast for a city."""
        return Forecast(city=city, temperature=21, sky="sunny")

    @server.tool()
    def pixel() -> Image:
        """A tiny PNG image."""
        return Image(data=PIXEL, format="png")

    add_misbehaving_tools(server)
    return server


def add_misbehaving_tools(server: MCPServer) -> None:
    @server.tool(structured_output=False)
    def fail(message: str) -> str:
        """Always fails with the message."""
        raise ToolError(message)

    @server.tool(structured_output=False)
    async def hang() -> str:
        """Never answers."""
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    @server.tool(structured_output=False)
    def crash() -> str:
        """Kills the server process mid-call."""
        os._exit(3)

    add_side_effect_tools(server)


def add_side_effect_tools(server: MCPServer) -> None:
    @server.tool(structured_output=False)
    def grow() -> str:
        """Add the tool `grown` to this server (without telling the clients)."""
        server.add_tool(lambda: "grown", name="grown", description="Added at runtime.")
        return "grew"

    @server.tool()
    def pid() -> int:
        """The server's process id."""
        return os.getpid()

    @server.tool(structured_output=False)
    def whoami(ctx: Context) -> str:
        """The HTTP session id and the x-test header of the request."""
        headers = ctx.headers or {}
        return f"{headers.get('mcp-session-id')} {headers.get('x-test')}"

    @server.tool(structured_output=False)
    def record(note: str) -> str:
        """Write a note to the log (a side effect that must happen once)."""
        with Path(os.environ["AGENTKIT_MCP_CALLS"]).open("a") as log:
            log.write(note + "\n")
        return f"recorded {note}"

    @server.tool(annotations=ToolAnnotations(idempotent_hint=True), structured_output=False)
    def lookup(key: str) -> str:
        """Read a value (safe to repeat)."""
        return f"value of {key}"


@contextmanager
def serve_http(server: Any = None) -> Generator[str, None, None]:
    """Serve `build()` (or `server`) over streamable HTTP on 127.0.0.1; yields its URL."""
    app = (server or build()).streamable_http_app()
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    runner = uvicorn.Server(config)
    # Bound and listening before the thread starts: clients connect at once, no waiting.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        runner.should_exit = True
        thread.join(30)
        sock.close()


if __name__ == "__main__":
    log = os.environ.get("AGENTKIT_MCP_LOG")
    if log:
        with Path(log).open("a") as file:
            file.write(f"{os.getpid()}\n")
    if sys.argv[1:] == ["empty"]:
        MCPServer("agentkit-empty-server").run("stdio")
    else:
        build().run("stdio")
