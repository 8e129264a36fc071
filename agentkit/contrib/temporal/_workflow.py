"""`AgentWorkflow`: a ready-made workflow that runs one durable agent.

For users who need no workflow of their own. Start it with
`AgentWorkflowInput(agent="<TemporalAgent name>", input="...")`. A call that needs approval
waits for the `decide` update (validated: only a pending call is accepted); the `pending`
query lists the waiting calls. A stateless run whose history grows large continues as new,
carrying only the run's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

from temporalio import workflow

from agentkit._result import RunResult, RunState
from agentkit.contrib.temporal._durable import Approvals, durable_agent

__all__ = ["AgentWorkflow", "AgentWorkflowInput", "AgentWorkflowResult"]


@dataclass(frozen=True)
class AgentWorkflowInput:
    """What `AgentWorkflow` runs.

    Attributes:
        agent: The name of a `TemporalAgent` registered with the worker.
        input: Text, or content blocks / steps as JSON.
        previous: A finished run's `state` (`RunState.model_dump()`), to continue from.
        state: A run to resume (set by continue-as-new).
    """

    agent: str
    input: Any = None
    previous: dict[str, Any] | None = None
    state: dict[str, Any] | None = None


@dataclass(frozen=True)
class AgentWorkflowResult:
    """The end of the run: its status, answer, and the state to continue from."""

    status: str
    output_text: str | None
    output: Any = None
    interaction_id: str | None = None
    state: dict[str, Any] = field(default_factory=dict[str, Any])

    @classmethod
    def of(cls, result: RunResult[Any]) -> AgentWorkflowResult:
        """The workflow's result for a run's `RunResult`."""
        output = result.output
        return cls(
            result.status,
            result.output_text,
            output if _plain(output) else None,
            result.interaction_id,
            result.state.model_dump(mode="json"),
        )


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)


@workflow.defn(name="agentkit.AgentWorkflow")
class AgentWorkflow:
    """Runs one durable agent to the end; see the module docstring."""

    def __init__(self) -> None:
        self._approvals = Approvals()
        self._request: AgentWorkflowInput | None = None

    @workflow.run
    async def run(self, request: AgentWorkflowInput) -> AgentWorkflowResult:
        """Run the agent named in `request`."""
        self._request = request
        agent = durable_agent(request.agent)
        previous = RunState.model_validate(request.previous) if request.previous else None
        state = RunState.model_validate(request.state) if request.state else None
        result = await agent.run(
            request.input,
            previous=previous,
            approvals=self._approvals,
            state=state,
            on_large_history=self._continue_as_new,
        )
        return AgentWorkflowResult.of(result)

    def _continue_as_new(self, state: RunState) -> NoReturn:
        assert self._request is not None
        workflow.continue_as_new(
            AgentWorkflowInput(self._request.agent, state=state.model_dump(mode="json"))
        )

    @workflow.update(name="decide")
    async def decide(self, call_id: str, decision: Any) -> None:
        """Decide a pending call.

        True runs it, false refuses it, another value is sent as its result instead.
        """
        self._approvals.decide(call_id, decision)

    @decide.validator
    def _validate_decision(self, call_id: str, decision: Any) -> None:
        self._approvals.validate(call_id)

    @workflow.query(name="pending")
    def pending(self) -> list[dict[str, Any]]:
        """The calls waiting for a decision, as wire `function_call` steps."""
        return [call.to_wire() for call in self._approvals.pending]
