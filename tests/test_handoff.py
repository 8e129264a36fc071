"""Handoffs: an agent gives the conversation to another, whose model, instructions, tools and
output type serve the rest of the run, stateful or stateless, across approval and resume."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from _agent_bg_helpers import DRIVERS, creates, resume, run, stream, text_result

from agentkit import Agent, tool
from agentkit.events import ToolCallEvent, ToolResultEvent
from agentkit.exceptions import UsageError
from agentkit.testing import Emulator, Script, function_call
from agentkit.types import FunctionResultStep

pytestmark = pytest.mark.anyio

TRANSFER = function_call("transfer_to_billing", {})
REFUND = function_call("refund", {"order": "A1"})


class Refund(pydantic.BaseModel):
    order: str
    refunded: bool


def team(
    emulator: Emulator, driver: str, *, store: bool = True, **billing: Any
) -> tuple[Agent[Any, Any], list[str]]:
    """A triage agent that can hand over to a billing agent with a `refund` tool."""
    ran: list[str] = []

    @tool
    def refund(order: str) -> str:
        """Refund an order.

        Args:
            order: The order id.
        """
        ran.append(f"refund {order}")
        return f"refunded {order}"

    @tool
    def lookup(order: str) -> str:
        """Look an order up.

        Args:
            order: The order id.
        """
        ran.append(f"lookup {order}")
        return f"order {order}: paid"

    client = emulator.async_client() if driver == "async" else emulator.client()
    billing_agent = Agent(
        "billing-model",
        name="billing",
        tools=[refund],
        system_instruction="You handle refunds.",
        client=client,
        **billing,
    )
    triage = Agent(
        "triage-model",
        name="triage",
        tools=[lookup],
        handoffs=[billing_agent],
        system_instruction="Route the customer.",
        store=store,
        client=client,
    )
    return triage, ran


def tool_names(body: dict[str, Any]) -> list[str]:
    return [declaration["name"] for declaration in body.get("tools", [])]


@pytest.mark.parametrize("store", [True, False], ids=["stateful", "stateless"])
@pytest.mark.parametrize("driver", DRIVERS)
async def test_the_agent_handed_to_answers_the_rest_of_the_run(driver: str, store: bool) -> None:
    emulator = Emulator(Script([[TRANSFER], [REFUND], "Refunded A1."]))
    triage, ran = team(emulator, driver, store=store)

    result = await run(triage, "Refund order A1.", driver)

    assert result.output_text == "Refunded A1."
    assert result.agent_name == "billing"
    assert ran == ["refund A1"]
    first, second, third = creates(emulator)
    assert (first["model"], first["system_instruction"]) == ("triage-model", "Route the customer.")
    assert tool_names(first) == ["lookup", "transfer_to_billing"]
    for body in (second, third):
        assert (body["model"], body["system_instruction"]) == (
            "billing-model",
            "You handle refunds.",
        )
        assert tool_names(body) == ["refund"]
    handed = second["input"][-1]
    assert handed["type"] == "function_result"
    assert handed["call_id"] == "fc_0001"
    assert "Transferred to billing" in str(handed["result"])
    if store:
        assert second["previous_interaction_id"] == "v1_emu_0001"
    else:  # the whole conversation goes to the agent handed to
        assert [step["type"] for step in second["input"]] == [
            "user_input",
            "function_call",
            "function_result",
        ]
    results = [step for step in result.steps if isinstance(step, FunctionResultStep)]
    assert [step.name for step in results] == ["transfer_to_billing", "refund"]


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_handoff_is_streamed_as_a_tool_call_and_its_result(driver: str) -> None:
    emulator = Emulator(Script([[TRANSFER], "Hello from billing."]))
    triage, _ = team(emulator, driver)

    events = await stream(triage, "Refund please.", driver)

    calls = [e.call.name for e in events if isinstance(e, ToolCallEvent)]
    results = [e.result.name for e in events if isinstance(e, ToolResultEvent)]
    assert calls == results == ["transfer_to_billing"]


@pytest.mark.parametrize("driver", DRIVERS)
async def test_calls_beside_a_handoff_run_with_the_tools_of_the_agent_that_made_them(
    driver: str,
) -> None:
    emulator = Emulator(
        Script([[function_call("lookup", {"order": "A1"}), TRANSFER, TRANSFER], "Done."])
    )
    triage, ran = team(emulator, driver)

    result = await run(triage, "Refund order A1.", driver)

    assert ran == ["lookup A1"]
    sent = creates(emulator)[1]["input"]
    assert [(step["call_id"], step.get("is_error")) for step in sent] == [
        ("fc_0001", None),
        ("fc_0002", None),
        ("fc_0003", True),  # one handoff a turn: the second is refused
    ]
    assert sent[0]["result"] == text_result("order A1: paid")
    assert "already goes to billing" in str(sent[2]["result"])
    assert result.agent_name == "billing"


@pytest.mark.parametrize("driver", DRIVERS)
async def test_the_output_type_of_the_agent_handed_to_validates_the_answer(driver: str) -> None:
    emulator = Emulator(Script([[TRANSFER], '{"order": "A1", "refunded": true}']))
    triage, _ = team(emulator, driver, output_type=Refund)

    result = await run(triage, "Refund order A1.", driver)

    assert result.output == Refund(order="A1", refunded=True)
    assert creates(emulator)[1]["response_format"]["type"] == "text"


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_run_paused_for_approval_after_a_handoff_resumes_with_the_agent_handed_to(
    driver: str,
) -> None:
    emulator = Emulator(Script([[TRANSFER], [REFUND], "Refunded A1."]))

    @tool(needs_approval=True)
    def refund(order: str) -> str:
        """Refund an order.

        Args:
            order: The order id.
        """
        return f"refunded {order}"

    client = emulator.async_client() if driver == "async" else emulator.client()
    billing_agent = Agent("billing-model", name="billing", tools=[refund], client=client)
    triage = Agent("triage-model", name="triage", handoffs=[billing_agent], client=client)

    paused = await run(triage, "Refund order A1.", driver)
    assert paused.status == "requires_action"
    assert paused.agent_name == "billing"
    assert [call.name for call in paused.pending_calls] == ["refund"]

    result = await resume(triage, paused.state, {"fc_0002": True}, driver)

    assert result.output_text == "Refunded A1."
    last = creates(emulator)[-1]
    assert last["model"] == "billing-model"
    assert last["input"] == [
        {
            "type": "function_result",
            "call_id": "fc_0002",
            "name": "refund",
            "result": text_result("refunded A1"),
        }
    ]


def test_a_handoff_takes_a_tool_name_and_a_description() -> None:
    billing_agent = Agent("billing-model", name="billing team")
    item = billing_agent.as_handoff(description="Refunds and invoices.")
    custom = billing_agent.as_handoff(tool_name="escalate")

    assert item.tool_name == "transfer_to_billing_team"
    assert item.declaration == {
        "type": "function",
        "name": "transfer_to_billing_team",
        "description": "Refunds and invoices.",
        "parameters": {"type": "object", "properties": {}},
    }
    assert custom.tool_name == "escalate"
    assert custom.description == "Hand the conversation over to billing team."


def test_handoffs_that_cannot_be_told_apart_are_refused() -> None:
    one = Agent("m", name="support")
    other = Agent("m", name="support")

    with pytest.raises(UsageError, match="both named 'support'"):
        Agent("m", name="triage", handoffs=[one, other.as_handoff(tool_name="escalate")])
    with pytest.raises(UsageError, match="must differ"):
        Agent("m", name="triage", handoffs=[one, one])

    @tool
    def transfer_to_support() -> str:
        """Pretend."""
        return ""

    with pytest.raises(UsageError, match="must differ"):
        Agent("m", name="triage", tools=[transfer_to_support], handoffs=[one])


def test_a_handoff_to_something_else_than_an_agent_is_refused() -> None:
    with pytest.raises(UsageError, match="takes Agents"):
        Agent("m", name="triage", handoffs=["billing"])  # type: ignore[list-item]
    with pytest.raises(UsageError, match="not a valid function name"):
        Agent("m", name="b").as_handoff(tool_name="transfer to b")


def test_an_agent_with_mcp_servers_cannot_take_over_a_run() -> None:
    mcp = pytest.importorskip("agentkit.mcp")
    server = mcp.MCPServerStdio("python", ["-c", "pass"])
    with pytest.raises(UsageError, match="MCP servers"):
        Agent("m", name="triage", handoffs=[Agent("m", name="files", tools=[server])])


def test_a_durable_agent_cannot_hand_off_yet() -> None:
    temporal = pytest.importorskip("agentkit.contrib.temporal")
    triage = Agent("m", name="triage", handoffs=[Agent("m", name="billing")])

    with pytest.raises(UsageError, match="cannot hand its runs off"):
        temporal.TemporalAgent(triage)


@pytest.mark.parametrize("driver", DRIVERS)
async def test_the_runs_own_output_type_holds_across_a_handoff(driver: str) -> None:
    emulator = Emulator(Script([[TRANSFER], '{"order": "A1", "refunded": true}']))
    triage, _ = team(emulator, driver)

    result = await run(triage, "Refund order A1.", driver, output_type=Refund)

    assert result.output == Refund(order="A1", refunded=True)
    handed = creates(emulator)[1]
    assert handed["model"] == "billing-model"
    assert handed["response_format"]["schema"]["title"] == "Refund"


def test_a_handoff_pending_when_the_run_paused_needs_the_agent_that_can_make_it() -> None:
    emulator = Emulator(Script([[function_call("confirm"), TRANSFER], "Done."]))

    @tool(needs_approval=True)
    def confirm() -> str:
        """Confirm with the customer."""
        return "confirmed"

    billing_agent = Agent("billing-model", name="billing", client=emulator.client())
    triage = Agent(
        "triage-model",
        name="triage",
        tools=[confirm],
        handoffs=[billing_agent],
        client=emulator.client(),
    )
    paused = triage.run_sync("Refund.")
    assert paused.status == "requires_action"

    with pytest.raises(UsageError, match="being handed off to 'billing'"):
        billing_agent.resume_sync(paused.state, {"fc_0001": True})
    result = triage.resume_sync(paused.state, {"fc_0001": True})
    assert result.agent_name == "billing"
    assert result.output_text == "Done."
