"""The raw contenders: the tool loop of the API docs, written by hand with httpx and json.

Each run posts a plain JSON create (the prompt and the tool declarations), calls the tools
inline for every `function_call` step, and posts their `function_result` steps with
`previous_interaction_id`, until a response has no call. The stream reads the SSE lines and
json-parses each `data:` line. The clients keep httpx's defaults, except for the 10,000-run
row (`many`), where they may open as many connections as there are runs and wait 60 s.

With `streamed`, the loop streams each create and rebuilds the interaction from its events, as
a client must that learns each interaction's id before its output (agentkit's stored runs do,
so that a lost response is fetched instead of created twice): the floor of that choice.
Never imports agentkit.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from benchmarks._plan import API_KEY, ENDPOINT, MODEL, Plan, function_declarations, stock
from benchmarks._side import MOCK_URL, AsyncSide, Side, check_answer, mock_transport

__all__ = ["RawAsync", "RawSync", "Rebuilt", "answer_text", "first_body", "next_body"]

_HEADERS = {"x-goog-api-key": API_KEY, "Content-Type": "application/json"}
_STREAM_HEADERS = {**_HEADERS, "Accept": "text/event-stream"}


def _client_options(base_url: str | None, many: bool) -> dict[str, Any]:
    options: dict[str, Any] = {"base_url": base_url or MOCK_URL}
    if many:
        options["limits"] = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        options["timeout"] = httpx.Timeout(60.0)
    return options


def first_body(plan: Plan, tools: list[dict[str, Any]]) -> dict[str, Any]:
    """The first request of a run."""
    body: dict[str, Any] = {"model": MODEL, "input": plan.prompt}
    if tools:
        body["tools"] = tools
    return body


def next_body(interaction: dict[str, Any], tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The follow-up request with every call's result, or None when the run is over."""
    calls = [step for step in interaction["steps"] if step["type"] == "function_call"]
    if not calls:
        return None
    results = [
        {
            "type": "function_result",
            "call_id": call["id"],
            "name": call["name"],
            "result": [{"type": "text", "text": json.dumps(stock(**call["arguments"]))}],
        }
        for call in calls
    ]
    return {
        "model": MODEL,
        "previous_interaction_id": interaction["id"],
        "input": results,
        "tools": tools,
    }


def answer_text(interaction: dict[str, Any]) -> str:
    """The text of the answer's `model_output` steps."""
    return "".join(
        block["text"]
        for step in interaction["steps"]
        if step["type"] == "model_output"
        for block in step["content"]
        if block["type"] == "text"
    )


class Rebuilt:
    """An interaction rebuilt from the SSE lines of its stream: its fields, steps and texts."""

    def __init__(self) -> None:
        self.interaction: dict[str, Any] = {}
        self.steps: dict[int, dict[str, Any]] = {}
        self.arguments: dict[int, list[str]] = {}

    def line(self, line: str) -> None:
        """Fold one line of the stream."""
        if not line.startswith("data:"):
            return
        event = json.loads(line[5:])
        kind = event["event_type"]
        if kind in ("interaction.created", "interaction.completed"):
            self.interaction.update(event["interaction"])
        elif kind == "step.start":
            self.steps[event["index"]] = dict(event["step"])
        elif kind == "step.delta":
            delta, index = event["delta"], event["index"]
            if delta["type"] == "arguments_delta":
                self.arguments.setdefault(index, []).append(delta["arguments"])
            elif delta["type"] == "text":
                block = {"type": "text", "text": delta["text"]}
                self.steps[index].setdefault("content", []).append(block)

    def result(self) -> dict[str, Any]:
        """The interaction, each call's arguments parsed."""
        for index, pieces in self.arguments.items():
            self.steps[index]["arguments"] = json.loads("".join(pieces))
        return {**self.interaction, "steps": [self.steps[i] for i in sorted(self.steps)]}


def _text_delta(line: str) -> str | None:
    """The text of an SSE `data:` line holding a text delta."""
    if not line.startswith("data:"):
        return None
    event = json.loads(line[5:])
    if event["event_type"] == "step.delta" and event["delta"]["type"] == "text":
        text: str = event["delta"]["text"]
        return text
    return None


class RawAsync(AsyncSide):
    """`httpx.AsyncClient` with a hand-written loop."""

    def __init__(
        self, plan: Plan, base_url: str | None, *, many: bool = False, streamed: bool = False
    ) -> None:
        super().__init__(plan)
        self.tools = function_declarations(plan.tool_count)
        self.streamed = streamed
        self.client = self.drive(self._open(base_url, many))
        self.validate()

    async def _open(self, base_url: str | None, many: bool) -> httpx.AsyncClient:
        transport = None if base_url else mock_transport()
        return httpx.AsyncClient(transport=transport, **_client_options(base_url, many))

    async def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self.streamed:
            response = await self.client.post(ENDPOINT, content=json.dumps(body), headers=_HEADERS)
            response.raise_for_status()
            interaction: dict[str, Any] = response.json()
            return interaction
        rebuilt = Rebuilt()
        content = json.dumps({**body, "stream": True})
        async with self.client.stream(
            "POST", ENDPOINT, content=content, headers=_STREAM_HEADERS
        ) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                rebuilt.line(line)
        return rebuilt.result()

    async def _run(self, plan: Plan) -> None:
        body = first_body(plan, self.tools)
        while True:
            interaction = await self._create(body)
            follow_up = next_body(interaction, self.tools)
            if follow_up is None:
                check_answer(answer_text(interaction), plan)
                return
            body = follow_up

    def runs(self, count: int, *, concurrent: bool, plan: Plan | None = None) -> None:
        """Run the plan `count` times."""
        chosen = plan or self.plan
        self.drive(self.gather(count, concurrent, lambda: self._run(chosen)))

    async def _stream(self, plan: Plan) -> tuple[float, float]:
        start = time.perf_counter()
        first = 0.0
        pieces: list[str] = []
        body = json.dumps({"model": MODEL, "input": plan.prompt, "stream": True})
        async with self.client.stream(
            "POST", ENDPOINT, content=body, headers=_STREAM_HEADERS
        ) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                text = _text_delta(line)
                if text is not None:
                    if not pieces:
                        first = time.perf_counter() - start
                    pieces.append(text)
        total = time.perf_counter() - start
        check_answer("".join(pieces), plan)
        return first, total

    def streams(self, count: int, plan: Plan | None = None) -> list[tuple[float, float]]:
        """Stream the answer `count` times, one after the other."""
        chosen = plan or self.plan
        return [self.drive(self._stream(chosen)) for _ in range(count)]

    def close(self) -> None:
        """Close the client and the loop."""
        self.drive(self.client.aclose())
        self.loop.close()


class RawSync(Side):
    """`httpx.Client` with a hand-written loop."""

    def __init__(
        self, plan: Plan, base_url: str | None, *, many: bool = False, streamed: bool = False
    ) -> None:
        super().__init__(plan)
        self.tools = function_declarations(plan.tool_count)
        self.streamed = streamed
        transport = None if base_url else mock_transport()
        self.client = httpx.Client(transport=transport, **_client_options(base_url, many))
        self.validate()

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self.streamed:
            response = self.client.post(ENDPOINT, content=json.dumps(body), headers=_HEADERS)
            response.raise_for_status()
            interaction: dict[str, Any] = response.json()
            return interaction
        rebuilt = Rebuilt()
        content = json.dumps({**body, "stream": True})
        with self.client.stream(
            "POST", ENDPOINT, content=content, headers=_STREAM_HEADERS
        ) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                rebuilt.line(line)
        return rebuilt.result()

    def _run(self, plan: Plan) -> None:
        body = first_body(plan, self.tools)
        while True:
            interaction = self._create(body)
            follow_up = next_body(interaction, self.tools)
            if follow_up is None:
                check_answer(answer_text(interaction), plan)
                return
            body = follow_up

    def runs(self, count: int, *, concurrent: bool, plan: Plan | None = None) -> None:
        """Run the plan `count` times, one after the other."""
        if concurrent:
            raise NotImplementedError("sync runs go one after the other")
        chosen = plan or self.plan
        for _ in range(count):
            self._run(chosen)

    def close(self) -> None:
        """Close the client."""
        self.client.close()
