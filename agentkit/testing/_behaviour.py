"""The emulator's default model: calls every declared tool once, then answers from results."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from agentkit.testing._prompt_values import prompt_arguments
from agentkit.testing._replies import (
    ModelRequest,
    Reply,
    StepDict,
    code_execution,
    function_call,
    google_search,
    text,
    thought,
    url_context,
)
from agentkit.testing._schema_values import example_value
from agentkit.testing._wire import as_dict, as_list

__all__ = ["EchoToolsBehaviour"]

_URL = re.compile(r"https?://[^\s\"'<>)]+")


class EchoToolsBehaviour:
    """The default model behaviour: deterministic, useful for loop tests and examples.

    On a user turn it emits a signed `thought`, then one call/result pair for each declared
    server tool (`google_search`, `code_execution`, `url_context`), then one `function_call`
    per declared function tool (all in the same reply, so they are parallel calls), with
    arguments generated from the tool's JSON schema, taking values from the prompt where
    it offers them: for `get_weather(city: str)` and "What's the weather in Paris?", the
    call is `get_weather(city="Paris")` (capitalised phrases for names and places, quoted
    text for strings, numbers, and the enum values the prompt mentions; always valid for the
    schema). When the function results come back
    it answers with text built from them (`"get_weather returned {...}."`). Without function
    tools it answers at once: a sentence per server tool (the google_search one carries a
    `url_citation`), or an echo of the input. With a JSON `response_format` the final
    answer is a JSON string valid for its schema. `generation_config.tool_choice` of
    `"none"` (or an `allowed_tools` list) limits which functions it calls, and
    `thinking_summaries: "auto"` adds a summary to the thought.
    """

    def __call__(self, request: ModelRequest) -> Reply:
        """Answer one model turn."""
        config = as_dict(request.body.get("generation_config"))
        summary = (
            "Thinking about the request." if config.get("thinking_summaries") == "auto" else None
        )
        steps: list[StepDict] = [thought(summary)]
        if request.function_results:
            steps.append(self._final(request))
            return Reply(steps)
        for tool in request.tools:
            steps.extend(_server_tool_steps(tool, request.user_text))
        calls = [
            function_call(
                str(tool.get("name")), _arguments(tool.get("parameters"), request.user_text)
            )
            for tool in _callable_functions(request, config.get("tool_choice"))
        ]
        steps.extend(calls if calls else [self._final(request)])
        return Reply(steps)

    def _final(self, request: ModelRequest) -> StepDict:
        schema = _json_schema(request.body)
        if schema is not None:
            return text(json.dumps(example_value(schema), ensure_ascii=False))
        names = {c.get("id"): c.get("name") for c in request.calls}
        parts: list[str] = []
        for result in request.function_results:
            name = result.get("name") or names.get(result.get("call_id")) or "the tool"
            verb = "failed with" if result.get("is_error") else "returned"
            parts.append(f"{name} {verb} {_render(result.get('result'))}.")
        topic = request.user_text or "your question"
        citations: list[tuple[str, str, str | None]] = []
        kinds = [t.get("type") for t in request.tools]
        if "google_search" in kinds:
            cited = f"{topic} is well documented"
            parts.append(f"According to “Example Search”, {cited}.")
            citations.append((cited, f"https://example.com/search?q={quote(topic)}", "example.com"))
        if "code_execution" in kinds:
            parts.append(f"The code printed {len(topic)}.")
        if "url_context" in kinds:
            parts.append(f"I read {', '.join(_urls(topic))}.")
        if not parts:
            parts.append(f"You said: {topic}" if request.user_text else "Hello! How can I help?")
        return text(" ".join(parts), citations=citations)


def _server_tool_steps(tool: dict[str, Any], topic: str) -> list[StepDict]:
    kind = tool.get("type")
    topic = topic or "your question"
    if kind == "google_search":
        return google_search(topic, results=[f"<div>Results for {topic}</div>"])
    if kind == "code_execution":
        return code_execution(f"print(len({topic!r}))", f"{len(topic)}\n")
    if kind == "url_context":
        return url_context(*_urls(topic))
    return []


def _arguments(parameters: Any, prompt: str) -> dict[str, Any]:
    schema = as_dict(parameters)
    # Arguments are always an object, even when the schema leaves its type out.
    schema = schema if "type" in schema else {"type": "object", **schema}
    return prompt_arguments(schema, as_dict(example_value(schema)), prompt)


def _callable_functions(request: ModelRequest, choice: Any) -> list[dict[str, Any]]:
    tools = request.function_tools
    if isinstance(choice, dict):
        allowed = as_dict(as_dict(choice).get("allowed_tools"))
        choice = allowed.get("mode", "auto")
        if "tools" in allowed:
            names = as_list(allowed["tools"])
            tools = [t for t in tools if t.get("name") in names]
    return [] if choice == "none" else tools


def _json_schema(body: Mapping[str, Any]) -> dict[str, Any] | None:
    formats = body.get("response_format")
    for item in as_list(formats) if isinstance(formats, list) else [formats]:
        if not isinstance(item, dict):
            continue
        fmt = as_dict(item)
        if fmt.get("type") == "text":
            if fmt.get("mime_type") == "application/json":
                return as_dict(fmt.get("schema"))
        elif fmt.get("type") not in ("image", "audio", "video"):
            return fmt  # a bare JSON schema
    if body.get("response_mime_type") == "application/json":
        return {}
    return None


def _urls(topic: str) -> list[str]:
    return _URL.findall(topic) or ["https://example.com/"]


def _render(result: Any) -> str:
    if isinstance(result, str):
        return result
    blocks = [as_dict(c) for c in as_list(result)]
    if blocks and all("type" in c for c in blocks):
        return " ".join(str(c.get("text", f"<{c.get('type')}>")) for c in blocks)
    return json.dumps(result, ensure_ascii=False)
