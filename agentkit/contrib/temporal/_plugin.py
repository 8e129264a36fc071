"""`AgentkitPlugin`: what a Temporal client and worker need to run durable agents."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, TypeVar

from temporalio.plugin import SimplePlugin
from temporalio.worker import WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from agentkit._client import AsyncClient
from agentkit._exceptions import AgentkitError
from agentkit.contrib.temporal._durable import TemporalAgent
from agentkit.contrib.temporal._workflow import AgentWorkflow

__all__ = ["PASSED_THROUGH", "AgentkitPlugin"]

T = TypeVar("T")

PASSED_THROUGH = (
    "agentkit",
    "annotated_types",
    "anyio",
    "certifi",
    "docstring_parser",
    "h11",
    "httpcore",
    "httpx",
    "idna",
    "pydantic",
    "pydantic_core",
    "sniffio",
    "typing_extensions",
    "typing_inspection",
)
"""Modules the workflow sandbox shares with the worker instead of re-importing them per
workflow: agentkit and what it imports (the sandbox cannot import httpx itself)."""


def _sandbox(runner: WorkflowRunner | None) -> WorkflowRunner:
    if runner is None:
        runner = SandboxedWorkflowRunner()
    if isinstance(runner, SandboxedWorkflowRunner):
        restrictions = runner.restrictions.with_passthrough_modules(*PASSED_THROUGH)
        return SandboxedWorkflowRunner(
            restrictions=restrictions,
            runner_class=runner.runner_class,
        )
    return runner  # an unsandboxed runner imports everything plainly


class AgentkitPlugin(SimplePlugin):
    """Runs durable agents on a Temporal worker (pass it in `Worker(plugins=[...])`).

    It registers each agent's activities and the ready-made `AgentWorkflow`, lets the workflow
    sandbox import agentkit, and makes agentkit's errors fail a workflow instead of retrying
    its task forever. On a client (`Client.connect(plugins=[...])`) it changes nothing.

    Args:
        agents: The durable agents this worker runs.
        client: The API client of their activities (default: each agent's own); the
            credentials stay on the worker.
        deps: Given to the tools as `RunContext.deps`.
    """

    def __init__(
        self,
        agents: Sequence[TemporalAgent[Any, Any]] = (),
        *,
        client: AsyncClient | None = None,
        deps: Any = None,
    ) -> None:
        activities = [item for agent in agents for item in agent.activities(client, deps)]
        super().__init__(  # pyright: ignore[reportUnknownMemberType]
            "agentkit",
            activities=activities,
            # A worker also runs the plugins of its client: add each thing once.
            workflows=partial(_adding, AgentWorkflow),
            workflow_runner=_sandbox,
            workflow_failure_exception_types=_failing,
        )


def _failing(existing: Sequence[type[BaseException]] | None) -> Sequence[type[BaseException]]:
    """The exceptions that fail a workflow (instead of retrying its task): agentkit's too."""
    return _adding(AgentkitError, existing)


def _adding(item: T, existing: Sequence[T] | None) -> Sequence[T]:
    existing = existing or []
    return existing if item in existing else [*existing, item]
