"""Human approval (pause, save, resume in a new agent) and agents used as tools of agents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pydantic
import pytest
from _agent_bg_helpers import (
    DRIVERS,
    MODEL,
    calls_summary,
    creates,
    final_result,
    kinds,
    resume,
    run,
    stream,
    text_result,
)

from agentkit import (
    Agent,
    AsyncClient,
    Client,
    FunctionTool,
    RunContext,
    RunResult,
    RunState,
    UsageError,
    tool,
)
from agentkit.events import ToolCallEvent
from agentkit.testing import Emulator, ModelRequest, Script, function_call, thought

pytestmark = pytest.mark.anyio

PROMPT = "Check my main account, then pay 450 EUR to Alice."
BALANCE_CALL = function_call("get_balance", {"account": "main"})
PAYMENT_CALL = function_call("send_payment", {"recipient": "Alice", "amount": 450})


class Bank:
    """A balance tool (no approval) and a payment tool that needs approval."""

    def __init__(self, needs_approval: Any = True) -> None:
        self.log: list[tuple[str, Any]] = []

        def get_balance(account: str) -> dict[str, Any]:
            """Get the balance of an account.

            Args:
                account: The account name.
            """
            self.log.append(("get_balance", account))
            return {"account": account, "balance": 1250}

        def send_payment(recipient: str, amount: float) -> str:
            """Send a payment.

            Args:
                recipient: Who receives the money.
                amount: How much, in euros.
            """
            self.log.append(("send_payment", amount))
            return f"Sent {amount:g} EUR to {recipient}."

        self.tools: list[FunctionTool[..., Any]] = [
            tool(get_balance),
            tool(needs_approval=needs_approval)(send_payment),
        ]


def bank_script() -> Script:
    # The thought makes the stateless history carry a signature the emulator verifies.
    return Script([[thought(), BALANCE_CALL, PAYMENT_CALL], "All done."])


def results_by_name(emulator: Emulator) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in emulator.function_results}


async def pause(
    emulator: Emulator, bank: Bank, driver: str, *, store: bool, background: bool = False
) -> RunResult[Any]:
    agent = Agent(
        MODEL,
        tools=bank.tools,
        store=store,
        background=background,
        client=emulator.async_client(),
    )
    result = await run(agent, PROMPT, driver)
    assert result.status == "requires_action"
    return result


# -- pausing and resuming ---------------------------------------------------------------------


@pytest.mark.parametrize("store", [True, False], ids=["stateful", "stateless"])
@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_run_pauses_for_approval_before_any_tool_runs(driver: str, store: bool) -> None:
    emulator = Emulator(bank_script())
    bank = Bank()

    with anyio.fail_after(5):
        result = await pause(emulator, bank, driver, store=store)

    assert [(c.id, c.name, c.arguments) for c in result.pending_calls] == [
        ("fc_0002", "send_payment", {"recipient": "Alice", "amount": 450})
    ]
    assert result.interaction_id == "v1_emu_0001"
    assert result.output_text is None
    # Not even the tool that needs no approval ran: the turn waits for the decision.
    assert bank.log == []
    assert emulator.function_results == []
    assert calls_summary(emulator) == [("POST", "create")]
    assert [call["id"] for call in result.state.calls] == ["fc_0001", "fc_0002"]


@pytest.mark.parametrize(
    ("decision", "payment_result", "payment_ran"),
    [
        (True, text_result("Sent 450 EUR to Alice."), True),
        (
            {"status": "blocked", "reason": "limit"},
            text_result({"status": "blocked", "reason": "limit"}),
            False,
        ),
        ("Payment limit reached.", text_result("Payment limit reached."), False),
    ],
    ids=["approved", "substitute-dict", "substitute-text"],
)
@pytest.mark.parametrize("store", [True, False], ids=["stateful", "stateless"])
@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_saved_run_resumes_in_a_new_agent(
    driver: str,
    store: bool,
    decision: Any,
    payment_result: list[dict[str, Any]],
    payment_ran: bool,
    tmp_path: Path,
) -> None:
    emulator = Emulator(bank_script())
    with anyio.fail_after(5):
        paused = await pause(emulator, Bank(), driver, store=store)
    saved = tmp_path / "run.json"
    saved.write_text(paused.state.to_json())
    call_id = paused.pending_calls[0].id
    assert call_id is not None

    # Another process: new tools, new agent, new client; only the file and the server remain.
    bank = Bank()
    agent = Agent(MODEL, tools=bank.tools, store=store, client=emulator.async_client())
    state = RunState.from_json(saved.read_text())
    assert [(c.id, c.name) for c in state.pending_calls] == [(call_id, "send_payment")]
    with anyio.fail_after(5):
        result = await resume(agent, state, {call_id: decision}, driver)

    assert result.status == "completed"
    assert result.output_text == "All done."
    expected_log = [("get_balance", "main")] + ([("send_payment", 450)] if payment_ran else [])
    assert sorted(bank.log) == sorted(expected_log)
    sent = results_by_name(emulator)
    assert sent["send_payment"]["call_id"] == call_id
    assert sent["send_payment"]["result"] == payment_result
    assert not sent["send_payment"].get("is_error")
    assert sent["get_balance"]["result"] == text_result({"account": "main", "balance": 1250})

    resumed = creates(emulator)[1]
    if store:
        assert resumed["previous_interaction_id"] == paused.interaction_id
        assert [step["call_id"] for step in resumed["input"]] == ["fc_0001", "fc_0002"]
    else:
        assert "previous_interaction_id" not in resumed
        assert [step["type"] for step in resumed["input"]] == [
            "user_input",
            "thought",
            "function_call",
            "function_call",
            "function_result",
            "function_result",
        ]
    # The resumed result tells the whole story, from the first request.
    assert [s.type for s in result.steps if s.type.startswith("function")] == [
        "function_call",
        "function_call",
        "function_result",
        "function_result",
    ]


@pytest.mark.parametrize("store", [True, False], ids=["stateful", "stateless"])
@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_refused_call_never_runs_and_the_model_is_told(driver: str, store: bool) -> None:
    emulator = Emulator(bank_script())
    with anyio.fail_after(5):
        paused = await pause(emulator, Bank(), driver, store=store)
        bank = Bank()
        agent = Agent(MODEL, tools=bank.tools, store=store, client=emulator.async_client())
        call_id = paused.pending_calls[0].id or ""
        result = await resume(agent, paused.state, {call_id: False}, driver)

    assert result.status == "completed"
    assert bank.log == [("get_balance", "main")]
    refused = results_by_name(emulator)["send_payment"]
    assert refused["is_error"] is True
    assert "not approve" in refused["result"][0]["text"]


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_predicate_pauses_only_the_calls_it_selects(driver: str) -> None:
    emulator = Emulator(
        Script(
            [
                function_call("send_payment", {"recipient": "Bob", "amount": 50}),
                "Paid Bob.",
                function_call("send_payment", {"recipient": "Alice", "amount": 450}),
            ]
        )
    )

    def over_100(arguments: dict[str, Any]) -> bool:
        return bool(arguments["amount"] > 100)

    bank = Bank(needs_approval=over_100)
    agent = Agent(MODEL, tools=bank.tools, client=emulator.async_client())

    with anyio.fail_after(5):
        small = await run(agent, "Pay Bob 50.", driver)
        large = await run(agent, "Pay Alice 450.", driver)

    assert small.status == "completed"
    assert small.pending_calls == []
    assert large.status == "requires_action"
    assert [c.arguments["amount"] for c in large.pending_calls] == [450]
    assert bank.log == [("send_payment", 50)]


@pytest.mark.parametrize("driver", DRIVERS)
async def test_resume_needs_a_decision_for_every_call_that_needs_approval(driver: str) -> None:
    emulator = Emulator(bank_script())
    bank = Bank()
    with anyio.fail_after(5):
        paused = await pause(emulator, bank, driver, store=True)
        agent = Agent(MODEL, tools=bank.tools, client=emulator.async_client())
        with pytest.raises(UsageError, match="fc_0002"):
            await resume(agent, paused, {}, driver)
        # A decision for the call that needs none does not count.
        with pytest.raises(UsageError, match="fc_0002"):
            await resume(agent, paused.state, {"fc_0001": True}, driver)

    assert bank.log == []
    assert calls_summary(emulator) == [("POST", "create")]


@pytest.mark.parametrize("driver", DRIVERS)
async def test_resuming_a_run_that_is_not_paused_is_a_usage_error(driver: str) -> None:
    emulator = Emulator(Script(["Hello."]))
    agent = Agent(MODEL, client=emulator.async_client())
    with anyio.fail_after(5):
        finished = await run(agent, "Hi.", driver)
        with pytest.raises(UsageError, match="not paused"):
            await resume(agent, finished, {"fc_0001": True}, driver)


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_background_run_pauses_and_resumes_in_background(driver: str) -> None:
    emulator = Emulator(bank_script(), background_polls=1)
    with anyio.fail_after(5):
        paused = await pause(emulator, Bank(), driver, store=True, background=True)
        bank = Bank()
        agent = Agent(MODEL, tools=bank.tools, background=True, client=emulator.async_client())
        result = await resume(agent, paused.state, {"fc_0002": True}, driver)

    assert result.status == "completed"
    assert result.output_text == "All done."
    assert sorted(bank.log) == [("get_balance", "main"), ("send_payment", 450)]
    assert [body["background"] for body in creates(emulator)] == [True, True]
    assert calls_summary(emulator) == [
        ("POST", "create"),
        ("GET", "get v1_emu_0001"),
        ("GET", "get v1_emu_0001"),
        ("POST", "create"),
        ("GET", "get v1_emu_0002"),
        ("GET", "get v1_emu_0002"),
    ]


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_streamed_run_pauses_for_approval(driver: str) -> None:
    emulator = Emulator(bank_script())
    bank = Bank()
    agent = Agent(MODEL, tools=bank.tools, client=emulator.async_client())

    with anyio.fail_after(5):
        events = await stream(agent, PROMPT, driver)

    result = final_result(events)
    assert result.status == "requires_action"
    assert [c.id for c in result.pending_calls] == ["fc_0002"]
    assert bank.log == []
    assert "tool_result" not in kinds(events)


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_streamed_pause_announces_the_calls_waiting_for_approval(driver: str) -> None:
    emulator = Emulator(bank_script())
    agent = Agent(MODEL, tools=Bank().tools, client=emulator.async_client())

    with anyio.fail_after(5):
        events = await stream(agent, PROMPT, driver)

    announced = [e.call.id for e in events if isinstance(e, ToolCallEvent)]
    assert "fc_0002" in announced


# -- composition ------------------------------------------------------------------------------


@dataclass
class Deps:
    user: str


@pytest.mark.parametrize("driver", DRIVERS)
async def test_an_agent_is_a_tool_of_another_agent(driver: str) -> None:
    seen: list[tuple[Deps, str]] = []

    def lookup(ctx: RunContext[Deps], topic: str) -> str:
        """Look a topic up in the library.

        Args:
            topic: What to look up.
        """
        seen.append((ctx.deps, topic))
        return f"Notes on {topic} for {ctx.deps.user}."

    inner_emulator = Emulator(
        Script([function_call("lookup", {"topic": "bees"}), "Bees pollinate flowers."])
    )
    researcher = Agent(MODEL, tools=[tool(lookup)], client=inner_emulator.async_client())
    research = researcher.as_tool(name="research", description="Research a topic in depth.")

    outer_emulator = Emulator(
        Script(
            [
                function_call("research", {"request": "Tell me about bees."}),
                "Summary: bees pollinate flowers.",
            ]
        )
    )
    orchestrator = Agent(MODEL, tools=[research], client=outer_emulator.async_client())
    deps = Deps(user="ada")

    with anyio.fail_after(5):
        result = await run(orchestrator, "Write about bees.", driver, deps=deps)

    assert result.output_text == "Summary: bees pollinate flowers."
    declared = creates(outer_emulator)[0]["tools"]
    assert [(t["name"], t["description"]) for t in declared] == [
        ("research", "Research a topic in depth.")
    ]
    assert declared[0]["parameters"]["properties"]["request"]["type"] == "string"
    # The inner agent ran its own loop against its own server...
    assert creates(inner_emulator)[0]["input"] == "Tell me about bees."
    assert len(creates(inner_emulator)) == 2
    assert seen == [(deps, "bees")]
    assert seen[0][0] is deps
    # ...and its answer came back to the outer model as the tool's result.
    (sent,) = outer_emulator.function_results
    assert sent["name"] == "research"
    assert sent["result"] == text_result("Bees pollinate flowers.")


def test_sync_runs_call_an_agent_tool_over_sockets_one_after_another() -> None:
    # Each sync run awaits its async tools on an event loop of its own: the inner agent's
    # client serves the loop of one run after the other's.
    def model(request: ModelRequest) -> Any:
        if not request.tools:  # the researcher
            return f"Notes on {request.user_text}."
        if not request.function_results:  # the writer
            return function_call("research", {"request": request.user_text})
        return "Summary: " + request.function_results[0]["result"][0]["text"]

    with Emulator(model).serve() as url, Client(api_key="test-key", base_url=url) as client:
        inner = AsyncClient(api_key="test-key", base_url=url, timeout=10, max_retries=0)
        researcher = Agent(MODEL, client=inner)
        research = researcher.as_tool(name="research", description="Research a topic.")
        writer = Agent(MODEL, tools=[research], client=client)
        answers = [writer.run_sync(topic).output_text for topic in ("bees", "ants")]
        anyio.run(inner.aclose)  # on a loop of its own too
    assert answers == ["Summary: Notes on bees.", "Summary: Notes on ants."]


class Findings(pydantic.BaseModel):
    topic: str
    facts: list[str]


@pytest.mark.parametrize("driver", DRIVERS)
async def test_an_agent_tool_with_structured_output_returns_the_data(driver: str) -> None:
    findings = Findings(topic="bees", facts=["they pollinate"])
    inner_emulator = Emulator(Script([findings.model_dump_json()]))
    researcher = Agent(MODEL, output_type=Findings, client=inner_emulator.async_client())
    outer_emulator = Emulator(
        Script([function_call("research", {"request": "Bees?"}), "Bees pollinate."])
    )
    orchestrator = Agent(
        MODEL,
        tools=[researcher.as_tool(name="research", description="Research a topic.")],
        client=outer_emulator.async_client(),
    )

    with anyio.fail_after(5):
        result = await run(orchestrator, "Bees?", driver)

    assert result.output_text == "Bees pollinate."
    (sent,) = outer_emulator.function_results
    assert sent["result"] == text_result(findings.model_dump(mode="json"))


@pytest.mark.parametrize("driver", DRIVERS)
async def test_an_agent_tool_that_pauses_for_approval_reports_an_error(driver: str) -> None:
    inner_emulator = Emulator(Script([PAYMENT_CALL]))
    payer = Agent(MODEL, tools=Bank().tools, client=inner_emulator.async_client())
    outer_emulator = Emulator(
        Script([function_call("pay", {"request": "Pay Alice 450."}), "I could not pay."])
    )
    orchestrator = Agent(
        MODEL,
        tools=[payer.as_tool(name="pay", description="Make payments.")],
        client=outer_emulator.async_client(),
    )

    with anyio.fail_after(5):
        result = await run(orchestrator, "Pay Alice.", driver)

    assert result.output_text == "I could not pay."
    (sent,) = outer_emulator.function_results
    assert sent["is_error"] is True
    assert "needs a person to approve send_payment" in sent["result"][0]["text"]
