"""The tools of one agent: declarations to send, and the concurrent execution of a batch."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import anyio

from agentkit._context import RunContext
from agentkit._exceptions import UsageError
from agentkit._tool import FunctionTool, tool
from agentkit.types import (
    CodeExecution,
    FunctionCallStep,
    FunctionResultStep,
    GoogleSearch,
    UrlContext,
    WireModel,
    to_jsonable,
)

__all__ = ["ToolHooks", "ToolSet", "code_execution", "google_search", "url_context"]

logger = logging.getLogger("agentkit.agent")

AgentTool = FunctionTool[..., Any] | Callable[..., Any] | WireModel | Mapping[str, Any]
"""What `Agent(tools=...)` takes: @tool functions, plain functions, server tools, raw dicts."""


def google_search(*, search_types: Sequence[str] | None = None) -> GoogleSearch:
    """The server-side Google Search tool; answers come back with `url_citation` annotations.

    Args:
        search_types: Any of `web_search`, `image_search`, `enterprise_web_search`.
    """
    if search_types is None:
        return GoogleSearch()
    return GoogleSearch(search_types=list(search_types))


def url_context() -> UrlContext:
    """The server-side URL context tool: the model may read the URLs in the prompt."""
    return UrlContext()


def code_execution() -> CodeExecution:
    """The server-side code execution tool: the model may run Python in a sandbox."""
    return CodeExecution()


@dataclasses.dataclass(frozen=True)
class ToolHooks:
    """Callbacks around each tool call (plain functions; they must not block for long)."""

    before: Callable[[FunctionCallStep], None] | None = None
    after: Callable[[FunctionCallStep, FunctionResultStep], None] | None = None


class ToolSet:
    """The function tools an agent runs locally, and the server tools it only declares."""

    def __init__(self, tools: Sequence[AgentTool]) -> None:
        self.functions: dict[str, FunctionTool[..., Any]] = {}
        declarations: list[dict[str, Any]] = []
        for item in tools:
            if isinstance(item, FunctionTool):
                function = cast("FunctionTool[..., Any]", item)
            elif isinstance(item, WireModel | Mapping):
                declarations.append(to_jsonable(item))
                continue
            elif callable(item):
                function = tool(item)
            else:
                raise UsageError(
                    f"Cannot use {item!r} as a tool: pass an @tool function, a plain function, "
                    "a server tool such as google_search(), or a tool declaration dict."
                )
            if function.name in self.functions:
                raise UsageError(
                    f"Two tools are named {function.name!r}; give one another name with "
                    "@tool(name=...)."
                )
            self.functions[function.name] = function
            declarations.append(function.declaration)
        self.declarations: tuple[dict[str, Any], ...] = tuple(declarations)

    @property
    def names(self) -> frozenset[str]:
        """Names of the function tools executed locally."""
        return frozenset(self.functions)

    def needs_approval(self, call: FunctionCallStep) -> bool:
        """Whether this call must be approved by a person before it runs."""
        function = self.functions.get(call.name)
        return function is not None and function.requires_approval(call.arguments)

    async def run_all(
        self,
        calls: Sequence[FunctionCallStep],
        context: RunContext[Any],
        *,
        raise_errors: bool = False,
        hooks: ToolHooks | None = None,
        finished: list[FunctionResultStep] | None = None,
    ) -> list[FunctionResultStep]:
        """Run every call concurrently; results come back in call order.

        Async tools share one task group; sync tools run in worker threads under one limiter
        sized to the batch, so a batch of slow sync tools overlaps too.

        Args:
            finished: Receives each result as soon as its tool finishes, so a caller that is
                cancelled midway still has the results of the tools that did finish.
        """
        results: list[FunctionResultStep | None] = [None] * len(calls)
        limiter = anyio.CapacityLimiter(max(len(calls), 1))

        failures: list[Exception] = []

        async def run_one(index: int, call: FunctionCallStep) -> None:
            try:
                if hooks and hooks.before:
                    hooks.before(call)
                logger.debug("running tool %s (call %s)", call.name, call.id)
                # invoke() fills in call_id and tool_name, only for a tool that takes a context.
                result = await self.functions[call.name].invoke(
                    call, context, raise_errors=raise_errors, limiter=limiter
                )
                results[index] = result
                if finished is not None:
                    finished.append(result)
                if hooks and hooks.after:
                    hooks.after(call, result)
            except Exception as exc:
                # Raised as is after the group, not wrapped in an ExceptionGroup: callers
                # write `except LookupError`; the other tools of the batch are cancelled.
                failures.append(exc)
                group.cancel_scope.cancel()

        async with anyio.create_task_group() as group:
            for index, call in enumerate(calls):
                group.start_soon(run_one, index, call)
        if failures:
            raise failures[0]
        return [result for result in results if result is not None]
