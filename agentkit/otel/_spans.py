"""The spans of a run, built on `Hooks`: names and attributes of the GenAI semantic conventions.

- `invoke_agent {name}` (INTERNAL) wraps a run;
- `chat {model}` (CLIENT) wraps a model turn, from the create request until the interaction
  settles: a background interaction's polls are events (`agentkit.poll`) on it, so one model
  call is one span, and its duration is the model's; a managed agent's turn is
  `invoke_agent {agent id}` (CLIENT);
- `execute_tool {tool name}` (INTERNAL) wraps a tool call, current inside the tool.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from typing import Any, cast

from opentelemetry import context, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from agentkit._hooks import Hooks, RequestScope, RunScope, ToolScope
from agentkit._loop import PENDING_STATUSES
from agentkit.otel._messages import (
    input_messages,
    output_messages,
    system_instructions,
    to_json,
)
from agentkit.types import Content, FunctionResultStep, Interaction, TextContent, Usage

__all__ = ["PROVIDER", "Tracing"]

PROVIDER = "gcp.gemini"
"""`gen_ai.provider.name` of the Gemini API (Google AI Studio)."""

_ERROR_NAME = re.compile(r"([A-Za-z_][\w.]*)(?::|$)")
"""How a tool's error result starts: the name of the exception the tool raised."""

# `gen_ai.request.*` attributes, from the generation_config fields they describe.
_REQUEST_PARAMETERS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_output_tokens": "gen_ai.request.max_tokens",
    "seed": "gen_ai.request.seed",
    "stop_sequences": "gen_ai.request.stop_sequences",
}
_TURN = context.create_key("agentkit.turn")


class Tracing:
    """Makes the spans of runs with one tracer."""

    def __init__(self, tracer: Tracer, *, include_content: bool) -> None:
        self._tracer = tracer
        self._content = include_content

    def hooks(self) -> Hooks:
        """The hooks that make the spans."""
        return Hooks(
            around_run=self.run,
            around_request=self.request,
            around_tool=self.tool,
            after_request=self.received,
        )

    @contextmanager
    def run(self, scope: RunScope) -> Generator[None, None, None]:
        """The `invoke_agent` span of a run."""
        attributes = _clean(
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.provider.name": PROVIDER,
                "gen_ai.agent.name": scope.name,
                "gen_ai.request.model": scope.model,
                "agentkit.run_id": scope.run_id,
            }
        )
        span = self._tracer.start_span(
            f"invoke_agent {scope.name}", kind=SpanKind.INTERNAL, attributes=attributes
        )
        # Read in `finally`: a caller that stops reading once it has the result closes the
        # run with GeneratorExit, after the result was set.
        with _current(span):
            try:
                yield
            finally:
                result = scope.result
                if result is not None:
                    span.set_attributes(_clean({"agentkit.run.status": result.status}))
                    span.set_attributes(_usage(result.usage))
                    if result.interaction_id:
                        span.set_attribute("gen_ai.response.id", result.interaction_id)

    @contextmanager
    def request(self, scope: RequestScope) -> Generator[None, None, None]:
        """The `chat` span of a model turn (`invoke_agent`, for a managed agent)."""
        if scope.agent is not None:
            name, operation = f"invoke_agent {scope.agent}", "invoke_agent"
        else:
            name, operation = f"chat {scope.model}", "chat"
        attributes = _clean(
            {
                "gen_ai.operation.name": operation,
                "gen_ai.provider.name": PROVIDER,
                "gen_ai.request.model": scope.model,
                "gen_ai.agent.name": scope.agent,
            }
        )
        if scope.body is not None:
            attributes.update(self._request(scope.body))
        span = self._tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        with _current(span, turn=_Turn()):
            try:
                yield
            finally:
                if scope.interaction is not None:
                    self._response(span, scope.interaction)

    def received(self, interaction: Interaction) -> None:
        """Each interaction polled is an event on its turn's span."""
        turn = context.get_value(_TURN)
        if not isinstance(turn, _Turn):
            return
        turn.received += 1
        if turn.received > 1:
            span = trace.get_current_span()
            attributes = {"agentkit.poll": turn.received - 1}
            span.add_event("agentkit.poll", _clean({**attributes, "agentkit.interaction.status":
                                                     interaction.status or None}))  # fmt: skip

    @contextmanager
    def tool(self, scope: ToolScope) -> Generator[None, None, None]:
        """The `execute_tool` span of a tool call, current while the tool runs."""
        call = scope.call
        attributes = _clean(
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": call.name,
                "gen_ai.tool.call.id": call.id,
                "gen_ai.tool.type": "function",
            }
        )
        if self._content:
            attributes["gen_ai.tool.call.arguments"] = to_json(call.arguments)
        span = self._tracer.start_span(
            f"execute_tool {call.name}", kind=SpanKind.INTERNAL, attributes=attributes
        )
        with _current(span):
            try:
                yield
            finally:
                if scope.result is not None:
                    self._tool_result(span, scope.result)

    def _request(self, body: Mapping[str, Any]) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        config = body.get("generation_config")
        if isinstance(config, Mapping):
            settings = cast("Mapping[str, Any]", config)
            for field, attribute in _REQUEST_PARAMETERS.items():
                value = settings.get(field)
                if isinstance(value, int | float | str) or _strings(value):
                    attributes[attribute] = value
        if self._content:
            instruction = body.get("system_instruction")
            if isinstance(instruction, str):
                attributes["gen_ai.system_instructions"] = system_instructions(instruction)
            if "input" in body:
                attributes["gen_ai.input.messages"] = input_messages(body["input"])
        return attributes

    def _response(self, span: Span, interaction: Interaction) -> None:
        span.set_attributes(
            _clean(
                {
                    "gen_ai.response.id": interaction.id or None,
                    "gen_ai.response.model": interaction.model,
                    "gen_ai.response.finish_reasons": [interaction.status]
                    if interaction.status
                    else None,
                }
            )
        )
        span.set_attributes(_usage(interaction.usage))
        if self._content and interaction.steps:
            span.set_attribute("gen_ai.output.messages", output_messages(interaction))
        if interaction.status == "failed":
            codes = [error.code for error in interaction.errors or () if error.code is not None]
            span.set_attribute("error.type", str(codes[0]) if codes else "failed")
            span.set_status(Status(StatusCode.ERROR, "the interaction failed"))
        elif interaction.status in PENDING_STATUSES:  # the driving ended while it still ran
            span.set_attribute("agentkit.interaction.pending", True)

    def _tool_result(self, span: Span, result: FunctionResultStep) -> None:
        if self._content:
            span.set_attribute("gen_ai.tool.call.result", to_json(result.result))
        if result.is_error:
            # The tool's error is data for the model; its text may hold arguments, so the span
            # keeps only the exception's name (what `describe_exception` put first).
            text = _text(result.result)
            match = _ERROR_NAME.match(text)
            span.set_attribute("error.type", match[1] if match else "_OTHER")
            span.set_status(Status(StatusCode.ERROR, text if self._content else None))


class _Turn:
    """How many interactions a model turn received (the first is the create's)."""

    __slots__ = ("received",)

    def __init__(self) -> None:
        self.received = 0


@contextmanager
def _current(span: Span, *, turn: _Turn | None = None) -> Generator[None, None, None]:
    """The span is current inside the block, and ends with it, with the error if any."""
    scoped = trace.set_span_in_context(span)
    if turn is not None:
        scoped = context.set_value(_TURN, turn, scoped)
    token = context.attach(scoped)
    try:
        yield
    except GeneratorExit:  # the caller stopped reading a stream: not a failure of the run
        raise
    except BaseException as error:
        span.record_exception(error)
        span.set_attribute("error.type", type(error).__qualname__)
        # The message is in the exception event; the status names the type only.
        span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
        raise
    finally:
        context.detach(token)
        span.end()


def _text(result: str | dict[str, Any] | list[Content]) -> str:
    """The text of a tool's result."""
    if isinstance(result, str):
        return result
    if isinstance(result, list):
        return "".join(item.text for item in result if isinstance(item, TextContent))
    return to_json(result)


def _usage(usage: Usage | None) -> dict[str, int]:
    if usage is None:
        return {}
    return _clean(
        {
            "gen_ai.usage.input_tokens": usage.total_input_tokens,
            "gen_ai.usage.output_tokens": usage.total_output_tokens,
            "gen_ai.usage.cache_read.input_tokens": usage.total_cached_tokens,
            "gen_ai.usage.reasoning.output_tokens": usage.total_thought_tokens,
        }
    )


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)  # pyright: ignore[reportUnknownVariableType]


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Without the absent values (OpenTelemetry refuses None)."""
    return {key: value for key, value in attributes.items() if value is not None}
