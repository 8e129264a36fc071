"""`instrument()` and `uninstrument()`: install the tracing hooks for every agent, or for one."""

from __future__ import annotations

from opentelemetry import trace

from agentkit import _hooks
from agentkit._agent import Agent
from agentkit._exceptions import UsageError
from agentkit.otel._spans import Tracing

__all__ = ["instrument", "uninstrument"]

_SCOPE = "agentkit.otel"
"""The instrumentation scope: the tracer's name."""


def instrument(
    agent: Agent | None = None,
    /,
    *,
    tracer_provider: trace.TracerProvider | None = None,
    include_content: bool = False,
) -> None:
    """Trace the runs of every agent (or of `agent` only) with OpenTelemetry spans.

    Each run is an `invoke_agent {name}` span; inside it, each model turn is a
    `chat {model}` span (a background interaction's polls are `agentkit.poll` events on it)
    and each tool call an `execute_tool {tool}` span, current while the tool runs (so spans
    the tool makes are its children, in async tasks and worker threads alike). Names and
    attributes follow the OpenTelemetry GenAI semantic conventions (`gen_ai.provider.name`
    is `gcp.gemini`). Errors set the span's status to ERROR, with `error.type` and the
    exception recorded.

    Calling it again replaces the earlier setting (for every agent, or for that agent).
    An agent instrumented by itself uses its own setting instead of the one for every agent.

    Args:
        agent: The one agent to trace; None traces every agent, those made later included.
        tracer_provider: Where the spans go; default: the global tracer provider.
        include_content: Also record prompts, system instructions, answers, and tool
            arguments and results (`gen_ai.input.messages`, `gen_ai.tool.call.arguments`...).
            Off by default: they may hold personal or secret data.

    Raises:
        UsageError: `agent` is not an `Agent`.
    """
    if agent is not None and not isinstance(agent, Agent):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise UsageError(
            f"instrument() takes an Agent (or nothing, for every agent), not {agent!r}."
        )
    from agentkit import __version__

    tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider)
    _hooks.install(Tracing(tracer, include_content=include_content).hooks(), agent)


def uninstrument(agent: Agent | None = None, /) -> None:
    """Stop tracing: every agent's runs (None), or the runs `instrument(agent)` traced.

    Runs already started keep their spans until they end.
    """
    if agent is not None and not isinstance(agent, Agent):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise UsageError(f"uninstrument() takes an Agent (or nothing), not {agent!r}.")
    _hooks.uninstall(agent)
