"""The floor of row 2: the raw loop's requests over bare asyncio sockets, no HTTP library.

One connection per run, HTTP/1.1 written and read by hand (JSON bodies, Content-Length).
It shows what the fake server and the machine allow for 10,000 runs at once, so a slow
contender is not blamed on the server. Never imports agentkit.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from benchmarks._plan import API_KEY, ENDPOINT, Plan, function_declarations
from benchmarks._raw import answer_text, first_body, next_body
from benchmarks._side import AsyncSide, BenchmarkFailure, check_answer

__all__ = ["SocketFloor"]


class SocketFloor(AsyncSide):
    """A hand-written HTTP/1.1 client on `asyncio.open_connection`."""

    def __init__(self, plan: Plan, base_url: str) -> None:
        super().__init__(plan)
        host, _, port = base_url.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        self.tools = function_declarations(plan.tool_count)
        self.validate()

    async def _run(self, plan: Plan) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            body: dict[str, Any] | None = first_body(plan, self.tools)
            interaction: dict[str, Any] = {}
            while body is not None:
                content = json.dumps(body).encode()
                writer.write(
                    f"POST {ENDPOINT} HTTP/1.1\r\nhost: {self.host}\r\nx-goog-api-key: {API_KEY}"
                    f"\r\ncontent-type: application/json\r\ncontent-length: {len(content)}"
                    "\r\n\r\n".encode()
                    + content
                )
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise BenchmarkFailure(f"the server answered {head[:40]!r}")
                length = next(
                    int(line.partition(b":")[2])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                interaction = json.loads(await reader.readexactly(length))
                body = next_body(interaction, self.tools)
            check_answer(answer_text(interaction), plan)
        finally:
            writer.close()

    def runs(self, count: int, *, concurrent: bool, plan: Plan | None = None) -> None:
        """Run the plan `count` times."""
        chosen = plan or self.plan
        self.drive(self.gather(count, concurrent, lambda: self._run(chosen)))

    def close(self) -> None:
        """Close the loop."""
        self.loop.close()
