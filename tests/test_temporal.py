"""Durable runs on a real Temporal dev server, with the worker in this process.

The emulator serves the model on 127.0.0.1; what the worker sends it, and what the workflow
history holds, is what these tests check.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from _temporal_agents import (
    AGENTS,
    MODEL,
    WORKFLOWS,
    BillingWorkflow,
    RefundWorkflow,
    billing,
    charge,
    lookup,
)
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.worker import Worker

from agentkit import Agent, AsyncClient, UsageError, tool
from agentkit.contrib.temporal import (
    AgentkitPlugin,
    AgentWorkflow,
    AgentWorkflowInput,
    AgentWorkflowResult,
    TemporalAgent,
    ToolOptions,
)
from agentkit.testing import Emulator

KEY = "sk-test-never-in-history"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Temporal's SDK runs on asyncio only


@pytest.fixture
def served() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator()
    with emulator.serve() as base_url:
        yield emulator, base_url


@pytest.fixture
async def temporal(temporal_address: str) -> Client:
    return await Client.connect(temporal_address)


class Running:
    """A worker in this process for one test, with its emulator."""

    def __init__(self, client: Client, emulator: Emulator, queue: str) -> None:
        self.client, self.emulator, self.queue = client, emulator, queue

    async def execute(self, workflow: Any, arg: Any, **options: Any) -> Any:
        return await self.client.execute_workflow(
            workflow, arg, id=f"wf-{uuid.uuid4()}", task_queue=self.queue, **options
        )

    async def start(self, workflow: Any, arg: Any) -> Any:
        return await self.client.start_workflow(
            workflow, arg, id=f"wf-{uuid.uuid4()}", task_queue=self.queue
        )

    def creates(self) -> int:
        return sum(1 for r in self.emulator.requests if r.method == "POST")


@pytest.fixture
async def worker(temporal: Client, served: tuple[Emulator, str]) -> AsyncIterator[Running]:
    emulator, base_url = served
    api = AsyncClient(api_key=KEY, base_url=base_url, max_retries=0)
    queue = f"q-{uuid.uuid4()}"
    plugin = AgentkitPlugin(AGENTS, client=api)
    async with Worker(temporal, task_queue=queue, workflows=WORKFLOWS, plugins=[plugin]):
        yield Running(temporal, emulator, queue)
    await api.aclose()


def without_keys(answer: str | None) -> str:
    """The answer with the idempotency keys (unique per run) blanked out."""
    assert answer is not None
    return re.sub(r'"key":"[^"]*"', '"key":"-"', answer)


@pytest.mark.anyio
async def test_a_durable_run_answers_as_a_plain_run_does(worker: Running) -> None:
    answer = await worker.execute(BillingWorkflow.run, "Charge and check stock")
    assert worker.creates() == 2  # the calls, then the answer: one create per turn
    emulator = Emulator()
    async with Agent(
        billing.agent.model, tools=[charge, lookup], client=emulator.async_client()
    ) as agent:
        plain = await agent.run("Charge and check stock")
    assert without_keys(answer) == without_keys(plain.output_text)
    assert "charge returned" in without_keys(answer)


@pytest.mark.anyio
async def test_the_ready_made_workflow_runs_an_agent_by_name(worker: Running) -> None:
    result = await worker.execute(
        AgentWorkflow.run,
        AgentWorkflowInput("billing", "Charge and check stock"),
        result_type=AgentWorkflowResult,
    )
    assert result.status == "completed"
    assert result.output_text is not None
    assert "charge returned" in result.output_text
    assert result.state["turns"] == 2


@pytest.mark.anyio
async def test_the_workflow_history_holds_no_credentials(worker: Running) -> None:
    handle = await worker.start(BillingWorkflow.run, "Charge")
    await handle.result()
    history = await handle.fetch_history()
    text = json.dumps(history.to_json_dict())
    assert KEY not in text
    assert "agentkit.billing.create" in text
    assert "agentkit.billing.tool" in text


@pytest.mark.anyio
async def test_tools_get_the_idempotency_key_of_their_call(worker: Running) -> None:
    answer = await worker.execute(BillingWorkflow.run, "Charge")
    assert answer is not None
    calls = worker.emulator.function_calls
    charge = next(call for call in calls if call["name"] == "charge")
    assert charge["id"] in answer  # the key is derived from the call, and the tool returned it


@pytest.mark.anyio
async def test_a_refusal_by_the_api_fails_the_workflow_at_once(worker: Running) -> None:
    worker.emulator.fail_next(1, status=400)
    with pytest.raises(WorkflowFailureError) as caught:
        await worker.execute(BillingWorkflow.run, "Charge")
    assert "BadRequestError" in str(caught.value.cause)
    assert worker.creates() == 1  # a 400 is not retried


@pytest.mark.anyio
async def test_a_server_error_is_retried_by_temporal_alone(worker: Running) -> None:
    worker.emulator.fail_next(1, status=503)
    answer = await worker.execute(BillingWorkflow.run, "Charge")
    assert answer is not None
    assert "charge returned" in answer
    assert worker.creates() == 3  # the 503, its retry, and the answer's turn


@pytest.mark.anyio
async def test_an_approval_waits_for_a_validated_update(worker: Running) -> None:
    handle = await worker.start(RefundWorkflow.run, "Refund the customer")
    pending: list[str] = []
    while not pending:
        pending = await handle.query(RefundWorkflow.pending)
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(RefundWorkflow.decide, args=["not-a-call", True])
    await handle.execute_update(RefundWorkflow.decide, args=[pending[0], True])
    answer = await handle.result()
    assert answer is not None
    assert "refund returned" in answer


@pytest.mark.anyio
async def test_a_refused_call_is_never_run(worker: Running) -> None:
    handle = await worker.start(RefundWorkflow.run, "Refund the customer")
    pending: list[str] = []
    while not pending:
        pending = await handle.query(RefundWorkflow.pending)
    await handle.execute_update(RefundWorkflow.decide, args=[pending[0], False])
    answer = await handle.result()
    assert answer is not None
    assert "did not approve" in answer


@pytest.mark.anyio
async def test_a_background_run_is_waited_for_by_one_activity(worker: Running) -> None:
    worker.emulator.background_polls = 3  # in progress for three GETs
    result = await worker.execute(
        AgentWorkflow.run,
        AgentWorkflowInput("researcher", "Research stock"),
        result_type=AgentWorkflowResult,
    )
    assert result.status == "completed"
    assert result.output_text is not None
    assert "lookup returned" in result.output_text


@pytest.mark.anyio
async def test_a_stateless_run_carries_its_history(worker: Running) -> None:
    result = await worker.execute(
        AgentWorkflow.run,
        AgentWorkflowInput("stateless", "Check stock"),
        result_type=AgentWorkflowResult,
    )
    assert result.status == "completed"
    bodies = [r.body for r in worker.emulator.requests if r.method == "POST"]
    assert all(body.get("store") is False for body in bodies)
    assert len(bodies[-1]["input"]) > len(bodies[0]["input"])  # the history grew


@pytest.mark.anyio
async def test_fifty_durable_runs_share_one_worker(worker: Running) -> None:
    import anyio

    answers: list[str | None] = []

    async def one(index: int) -> None:
        answers.append(await worker.execute(BillingWorkflow.run, f"Charge order {index}"))

    async with anyio.create_task_group() as group:
        for index in range(50):
            group.start_soon(one, index)
    assert len(answers) == 50
    assert all(answer is not None and "charge returned" in answer for answer in answers)
    assert worker.creates() == 100


def test_a_durable_agent_refuses_options_for_tools_it_does_not_have() -> None:
    @tool
    def ping() -> str:
        """Answer pong."""
        return "pong"

    with pytest.raises(UsageError, match=r"does not have: \['pong'\]"):
        TemporalAgent(Agent(MODEL, tools=[ping]), tool_options={"pong": ToolOptions()})


def test_a_durable_agent_refuses_mcp_servers() -> None:
    mcp = pytest.importorskip("agentkit.mcp")
    server = mcp.MCPServerStdio(sys.executable, ["-c", "pass"])
    with pytest.raises(UsageError, match=r"cannot use MCP servers yet \('notes' has 1\)"):
        TemporalAgent(Agent(MODEL, tools=[server], name="notes"))


def posts(emulator: Emulator, ending: str) -> list[str]:
    return [r.path for r in emulator.requests if r.method == "POST" and r.path.endswith(ending)]


@pytest.mark.anyio
async def test_a_background_run_past_its_deadline_is_cancelled_and_fails(
    worker: Running,
) -> None:
    worker.emulator.background_polls = 1_000
    with pytest.raises(WorkflowFailureError) as caught:
        await worker.execute(AgentWorkflow.run, AgentWorkflowInput("impatient", "Research"))
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "DeadlineExceeded"
    assert len(posts(worker.emulator, "/cancel")) == 1


@pytest.mark.anyio
async def test_a_call_nobody_decides_in_time_is_refused(worker: Running) -> None:
    result = await worker.execute(
        AgentWorkflow.run, AgentWorkflowInput("hasty", "Refund"), result_type=AgentWorkflowResult
    )
    assert result.output_text is not None
    assert "did not approve" in result.output_text


@pytest.mark.anyio
async def test_a_cancelled_workflow_cancels_the_background_interaction(worker: Running) -> None:
    worker.emulator.background_polls = 1_000_000  # works until cancelled
    handle = await worker.start(AgentWorkflow.run, AgentWorkflowInput("researcher", "Research"))
    async for event in handle.fetch_history_events(wait_new_event=True):
        if event.HasField("activity_task_started_event_attributes") and posts(
            worker.emulator, "/interactions"
        ):
            break  # the create finished: Temporal records its start with its result
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    assert isinstance(caught.value.cause, CancelledError)
    [interaction] = worker.emulator.interactions.values()
    assert interaction["status"] == "cancelled"
    assert posts(worker.emulator, "/cancel") == [f"/v1beta/interactions/{interaction['id']}/cancel"]
