"""Shared pieces of the `Agent` scenario tests: the two drivers, tools that record, media bytes."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import anyio
import httpx

from agentkit import Agent, FunctionTool, RunResult, tool
from agentkit.testing import Emulator

MODEL = "gemini-3-flash-preview"

# The smallest headers each sniffer recognises (see agentkit/_content.py).
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class Driver:
    """Runs an agent through `run()` (async) or `run_sync()` (in a worker thread)."""

    mode: Literal["async", "sync"]

    async def __call__(self, agent: Agent[Any, Any], input: Any, **kwargs: Any) -> RunResult[Any]:
        if self.mode == "async":
            return await agent.run(input, **kwargs)
        return await anyio.to_thread.run_sync(partial(agent.run_sync, input, **kwargs))


def bodies(emulator: Emulator) -> list[dict[str, Any]]:
    """The bodies of every create request the emulator received, in order.

    Without `stream`: whether a request was streamed is a transport choice (a stored
    interaction is created through a stream), asserted by the tests about it.
    """
    return [
        {key: value for key, value in request.body.items() if key != "stream"}
        for request in emulator.requests
        if request.method == "POST" and request.path.endswith("/interactions")
    ]


def result_text(step: dict[str, Any]) -> str:
    """The text of a `function_result` step as the emulator received it."""
    result = step["result"]
    if isinstance(result, str):
        return result
    return "".join(block["text"] for block in result if block.get("type") == "text")


def stored_usage(emulator: Emulator, key: str) -> int:
    """`usage[key]` summed over every interaction the emulator stored."""
    return sum(record["usage"][key] for record in emulator.interactions.values())


def user_input(text: str) -> dict[str, Any]:
    return {"type": "user_input", "content": [{"type": "text", "text": text}]}


@dataclass
class Weather:
    """A `get_weather` tool that records every city it was called with."""

    cities: list[str] = field(default_factory=list[str])
    fail_for: str | None = None

    def __post_init__(self) -> None:
        def get_weather(city: str) -> dict[str, Any]:
            """Get the current weather for a city.

            Args:
                city: The city name, e.g. "Paris".
            """
            self.cities.append(city)
            if city == self.fail_for:
                raise LookupError(f"no weather station in {city}")
            return {"city": city, "temperature_c": 21}

        self.tool: FunctionTool[..., Any] = tool(get_weather)


def get_time(city: str) -> str:
    """Get the local time in a city.

    Args:
        city: The city name.
    """
    return f"12:00 in {city}"


class Rendezvous:
    """`anyio.Event`s made on first use, inside the event loop that runs the tools.

    The sync driver runs tools in an event loop of its own (in another thread, always
    asyncio), so the events cannot be made up front by a test running on trio.
    """

    def __init__(self) -> None:
        self._events: dict[str, anyio.Event] = {}

    def __getitem__(self, name: str) -> anyio.Event:
        if name not in self._events:
            self._events[name] = anyio.Event()
        return self._events[name]


def results_json(emulator: Emulator) -> list[Any]:
    """The JSON values of every function result the emulator received."""
    return [json.loads(result_text(step)) for step in emulator.function_results]


class Rewriting(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The emulator as a transport, with each interaction it answers edited first.

    For statuses and tokens the emulator never produces by itself (`queued`, a continuation
    that repeats its token). In a stream, the edit applies to every event that carries an
    interaction or a status.
    """

    def __init__(
        self, emulator: Emulator, edit: Callable[[httpx.Request, dict[str, Any]], None]
    ) -> None:
        self.emulator = emulator
        self.edit = edit

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.emulator.handle_request(request)
        response.read()
        return self._edited(request, response)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.emulator.handle_async_request(request)
        await response.aread()
        return self._edited(request, response)

    def _edited(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        kind = response.headers["content-type"]
        if response.status_code != 200:
            return response
        if "json" in kind:
            body = response.json()
            self.edit(request, body)
            return httpx.Response(200, json=body)
        lines: list[str] = []
        for line in response.text.split("\n"):
            if line.startswith("data: "):
                event = json.loads(line[len("data: ") :])
                target = event.get("interaction", event)
                if "status" in target:
                    self.edit(request, target)
                line = "data: " + json.dumps(event)
            lines.append(line)
        return httpx.Response(200, headers={"content-type": kind}, text="\n".join(lines))
