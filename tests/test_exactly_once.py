"""Exactly once: no tool runs twice and no result is lost across errors, resumes and interrupts.

Each scenario goes through the public API against the emulator, and counts what the tools did
and what the emulator created.
"""

from __future__ import annotations

import inspect
import os
import signal
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx
import pytest
from _agent_helpers import MODEL, bodies, result_text

from agentkit import (
    Agent,
    APIError,
    AsyncClient,
    Client,
    Hooks,
    PollPolicy,
    RunContext,
    RunResult,
    RunState,
    UsageLimits,
    tool,
)
from agentkit._tool import _Worker  # pyright: ignore[reportPrivateUsage]
from agentkit.exceptions import (
    InternalServerError,
    ResponseLostError,
    ToolOutcomeUnknown,
    UsageLimitExceeded,
)
from agentkit.journal import InMemoryJournal, SQLiteJournal
from agentkit.testing import Emulator, Script, function_call
from agentkit.types import FunctionResultStep, Interaction, TextContent

pytestmark = pytest.mark.anyio

Mode = Literal["sync", "async", "stream", "background", "stateless"]
MODES: tuple[Mode, ...] = ("sync", "async", "stream", "background", "stateless")
RETRIES = 2


class Ledger:
    """A payment tool that counts how often each call really ran."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self.keys: list[str | None] = []
        self.lock = threading.Lock()
        self.on_run: Callable[[int], None] | None = None

        @tool
        def pay(ctx: RunContext[Any], amount: int) -> str:
            """Pay an amount.

            Args:
                amount: How much.
            """
            with self.lock:
                self.runs[ctx.call_id or ""] += 1
                self.keys.append(ctx.idempotency_key)
                total = self.total
            if self.on_run is not None:
                self.on_run(total)
            return f"paid {amount}"

        self.tool = pay

    @property
    def total(self) -> int:
        return sum(self.runs.values())


def interruptible(
    tools: list[Any], client: AsyncClient | Client, **options: Any
) -> tuple[Agent[Any, Any], list[RunResult[Any]]]:
    """An agent whose cancelled runs hand their partial result to the list returned with it."""
    cancelled: list[RunResult[Any]] = []
    hooks = Hooks(on_cancel=cancelled.append)
    return Agent(MODEL, tools=tools, client=client, hooks=hooks, **options), cancelled


def in_thread(wait: Callable[[], object]) -> Callable[[], Awaitable[object]]:
    """`wait` (a blocking call) as an awaitable that blocks a worker thread instead."""

    async def waiting() -> object:
        return await anyio.to_thread.run_sync(wait)

    return waiting


async def cancel_once_started(
    run: Callable[[], Coroutine[Any, Any, Any]], started: Callable[[], Awaitable[Any]]
) -> None:
    """Start `run`, and cancel it as soon as `started` returns."""
    async with anyio.create_task_group() as group:
        group.start_soon(run)
        await started()
        group.cancel_scope.cancel()


def two_payments() -> Script:
    return Script(
        [
            [function_call("pay", {"amount": 1}), function_call("pay", {"amount": 2})],
            "Paid both.",
        ]
    )


def make_agent(mode: Mode, emulator: Emulator, ledger: Ledger, **kwargs: Any) -> Agent[Any, Any]:
    options: dict[str, Any] = {"store": mode != "stateless", "background": mode == "background"}
    client: AsyncClient | Client
    if mode == "sync":
        client = emulator.client(max_retries=RETRIES)
    else:
        client = emulator.async_client(max_retries=RETRIES)
    return Agent(MODEL, tools=[ledger.tool], client=client, **options, **kwargs)


async def run_mode(
    mode: Mode, agent: Agent[Any, Any], input: Any = "Pay twice.", **kwargs: Any
) -> RunResult[Any]:
    if mode == "sync":
        return await anyio.to_thread.run_sync(lambda: agent.run_sync(input, **kwargs))
    if mode == "stream":
        result: RunResult[Any] | None = None
        async for event in agent.stream(input, **kwargs):
            result = getattr(event, "result", result)
        assert result is not None
        return result
    return await agent.run(input, **kwargs)


async def resume_mode(mode: Mode, agent: Agent[Any, Any], state: Any) -> RunResult[Any]:
    if mode == "sync":
        return await anyio.to_thread.run_sync(lambda: agent.resume_sync(state))
    return await agent.resume(state)


def creates(emulator: Emulator) -> int:
    return len(bodies(emulator))


# --- errors after tools ran -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_an_api_error_after_tools_ran_keeps_their_results_for_resume(mode: Mode) -> None:
    emulator = Emulator(two_payments())
    ledger = Ledger()
    # Once both tools ran, every attempt of the next request fails.
    ledger.on_run = lambda total: emulator.fail_next(RETRIES + 1, 503) if total == 2 else None
    agent = make_agent(mode, emulator, ledger)

    with pytest.raises(InternalServerError) as caught:
        await run_mode(mode, agent)

    partial = caught.value.partial
    assert partial is not None
    assert [step.type for step in partial.steps].count("function_result") == 2
    result = await resume_mode(mode, agent, partial)
    assert result.output_text == "Paid both."
    assert sorted(ledger.runs.values()) == [1, 1]
    assert result_text(emulator.function_results[-1]) == "paid 2"


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_before_any_response_resumes_by_sending_the_request_again(
    mode: Mode,
) -> None:
    emulator = Emulator(two_payments())
    ledger = Ledger()
    agent = make_agent(mode, emulator, ledger)
    emulator.fail_next(RETRIES + 1, 500)

    with pytest.raises(InternalServerError) as caught:
        await run_mode(mode, agent)

    assert caught.value.partial is not None
    result = await resume_mode(mode, agent, caught.value.partial.state)
    assert result.output_text == "Paid both."
    assert sorted(ledger.runs.values()) == [1, 1]


async def test_a_background_poll_failing_for_good_names_the_interaction_and_resumes() -> None:
    emulator = Emulator(Script(["Done."]), background_polls=1)
    failing = False

    def fail_polls(interaction: Interaction) -> None:
        nonlocal failing
        if interaction.status == "in_progress" and not failing:
            failing = True
            emulator.fail_next(RETRIES + 1, 503)

    agent = Agent(
        MODEL,
        background=True,
        client=emulator.async_client(max_retries=RETRIES),
        hooks=Hooks(after_request=fail_polls),
    )

    with pytest.raises(InternalServerError) as caught:
        await agent.run("Work in the background.")

    error = caught.value
    (created,) = emulator.interactions
    assert error.interaction_id == created
    assert created in str(error)
    assert emulator.interactions[created]["status"] == "in_progress"  # not cancelled
    assert error.partial is not None
    result = await agent.resume(error.partial)
    assert result.output_text == "Done."
    assert result.interaction_id == created
    assert creates(emulator) == 1
    attached = await agent.attach(created).result()
    assert attached.output_text == "Done."


async def test_awaiting_a_handle_again_after_its_polls_failed_goes_on_polling() -> None:
    emulator = Emulator(Script(["Done."]), background_polls=1)
    agent = Agent(MODEL, client=emulator.async_client(max_retries=RETRIES))
    handle = await agent.start("Work in the background.")
    emulator.fail_next(RETRIES + 1, 503)

    with pytest.raises(InternalServerError) as caught:
        await handle.result()

    assert caught.value.interaction_id == handle.interaction_id
    result = await handle.result()
    assert result.output_text == "Done."
    assert creates(emulator) == 1


async def test_a_failed_start_of_a_background_run_is_resumable() -> None:
    emulator = Emulator(Script(["Done."]))
    agent = Agent(MODEL, client=emulator.async_client(max_retries=RETRIES))
    emulator.fail_next(RETRIES + 1, 503)

    with pytest.raises(InternalServerError) as caught:
        await agent.start("Work in the background.")

    assert caught.value.partial is not None
    result = await agent.resume(caught.value.partial)
    assert result.output_text == "Done."


# --- interrupted tools --------------------------------------------------------------------------


class SignallingJournal(InMemoryJournal):
    """Tells a test when a tool's result was recorded (a worker thread records a late one)."""

    def __init__(self) -> None:
        super().__init__()
        self.recorded = threading.Event()

    def finish(self, key: str, result: Any) -> None:
        super().finish(key, result)
        if result.get("type") == "function_result":  # not the record of a request
            self.recorded.set()


async def test_a_sync_tool_that_finishes_after_its_run_was_cancelled_is_not_run_again() -> None:
    emulator = Emulator(Script([function_call("pay", {"amount": 5}), "Paid."]))
    ledger = Ledger()
    started, release = threading.Event(), threading.Event()

    def block(total: int) -> None:
        started.set()
        release.wait(10)

    ledger.on_run = block
    journal = SignallingJournal()
    agent, cancelled = interruptible([ledger.tool], emulator.async_client(), journal=journal)

    await cancel_once_started(partial(agent.run, "Pay."), in_thread(started.wait))
    release.set()  # the abandoned worker thread completes the payment now
    assert await anyio.to_thread.run_sync(journal.recorded.wait, 10)

    result = await agent.resume(cancelled[0])
    assert result.output_text == "Paid."
    assert ledger.total == 1
    assert result_text(emulator.function_results[0]) == "paid 5"


def test_ctrl_c_during_a_sync_tool_then_resume_runs_it_once() -> None:
    emulator = Emulator(Script([function_call("pay", {"amount": 5}), "Paid."]))
    ledger = Ledger()
    release = threading.Event()

    def interrupt_and_block(total: int) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C
        release.wait(10)

    ledger.on_run = interrupt_and_block
    journal = SignallingJournal()
    agent, cancelled = interruptible([ledger.tool], emulator.client(), journal=journal)
    with pytest.raises(KeyboardInterrupt):
        agent.run_sync("Pay.")
    release.set()
    assert journal.recorded.wait(10)

    ledger.on_run = None
    result = agent.resume_sync(cancelled[0])
    assert result.output_text == "Paid."
    assert ledger.total == 1
    assert result_text(emulator.function_results[0]) == "paid 5"  # the late result, sent


async def test_a_sync_tool_that_fails_after_its_run_was_cancelled_records_the_failure() -> None:
    emulator = Emulator(Script([function_call("pay", {"amount": 5}), "Declined."]))
    started, release = threading.Event(), threading.Event()

    @tool
    def pay(amount: int) -> str:
        """Pay.

        Args:
            amount: How much.
        """
        started.set()
        release.wait(10)
        raise PermissionError("card declined")

    journal = SignallingJournal()
    agent, cancelled = interruptible([pay], emulator.async_client(), journal=journal)
    await cancel_once_started(partial(agent.run, "Pay."), in_thread(started.wait))
    release.set()
    assert await anyio.to_thread.run_sync(journal.recorded.wait, 10)

    await agent.resume(cancelled[0])
    (sent,) = emulator.function_results
    assert sent["is_error"] is True
    assert result_text(sent) == "PermissionError: card declined"


def test_a_result_holding_a_file_name_that_is_not_utf8_is_sent_and_recorded(
    tmp_path: Path,
) -> None:
    @tool
    def list_files() -> list[str]:
        """List the uploaded files."""
        return os.listdir(tmp_path / "uploads")

    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / os.fsdecode(b"caf\xe9.txt")).touch()
    emulator = Emulator(Script([function_call("list_files"), "One file."]))
    with SQLiteJournal(tmp_path / "journal.db") as journal:
        agent = Agent(MODEL, tools=[list_files], client=emulator.client(), journal=journal)
        assert agent.run_sync("What was uploaded?").output_text == "One file."
        record = journal.get("v1_emu_0001/fc_0001")
    (sent,) = emulator.function_results
    assert result_text(sent) == '["caf\ufffd.txt"]'
    assert record is not None
    assert record.result == sent


async def test_the_coroutine_of_a_sync_tool_whose_run_was_cancelled_runs_in_its_thread() -> None:
    emulator = Emulator(Script([function_call("pay", {"amount": 5}), "Paid."]))
    started, release = threading.Event(), threading.Event()
    paid: list[int] = []

    async def paying(amount: int) -> str:
        await anyio.lowlevel.checkpoint()
        paid.append(amount)
        return f"paid {amount}"

    @tool
    def pay(amount: int) -> Awaitable[str]:  # a decorator unaware of coroutines makes these
        """Pay.

        Args:
            amount: How much.
        """
        started.set()
        release.wait(10)
        return paying(amount)

    journal = SignallingJournal()
    agent, cancelled = interruptible([pay], emulator.async_client(), journal=journal)
    await cancel_once_started(partial(agent.run, "Pay."), in_thread(started.wait))
    release.set()  # no task is left to await the coroutine: the worker thread runs it
    assert await anyio.to_thread.run_sync(journal.recorded.wait, 10)

    result = await agent.resume(cancelled[0])
    assert result.output_text == "Paid."
    assert paid == [5]
    assert result_text(emulator.function_results[0]) == "paid 5"


def test_a_coroutine_whose_caller_left_before_awaiting_it_never_ran() -> None:
    late: list[object] = []

    async def paying() -> str:
        return "paid"

    worker = _Worker(paying, [], {}, late.append, name="pay")  # as a sync tool's wrapper
    returned = worker.run()  # in a worker thread; the coroutine goes back to the caller...
    worker.abandon()  # ...whose task is cancelled before it awaits it

    assert late == [None]  # the call never ran
    assert isinstance(returned, tuple)
    assert inspect.getcoroutinestate(returned[0]) == inspect.CORO_CLOSED


async def test_an_interrupted_call_of_unknown_outcome_is_reported_not_repeated() -> None:
    emulator = Emulator(Script([function_call("pay", {"amount": 5}), "Could not confirm."]))
    started = anyio.Event()
    runs = 0

    @tool
    async def pay(amount: int) -> str:
        """Pay.

        Args:
            amount: How much.
        """
        nonlocal runs
        runs += 1
        started.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    agent, cancelled = interruptible([pay], emulator.async_client())
    await cancel_once_started(partial(agent.run, "Pay."), started.wait)

    result = await agent.resume(cancelled[0])
    assert runs == 1
    (sent,) = emulator.function_results
    assert sent["is_error"] is True
    assert "outcome is unknown" in result_text(sent)
    assert result.output_text == "Could not confirm."


async def test_an_idempotent_tool_of_unknown_outcome_runs_again() -> None:
    emulator = Emulator(Script([function_call("lookup", {"key": "a"}), "Found."]))
    started = anyio.Event()
    runs = 0

    @tool(idempotent=True)
    async def lookup(key: str) -> str:
        """Look a key up.

        Args:
            key: The key.
        """
        nonlocal runs
        runs += 1
        if runs == 1:
            started.set()
            await anyio.sleep_forever()
        return f"value of {key}"

    agent, cancelled = interruptible([lookup], emulator.async_client())
    await cancel_once_started(partial(agent.run, "Look up a."), started.wait)

    result = await agent.resume(cancelled[0])
    assert runs == 2
    assert result_text(emulator.function_results[0]) == "value of a"
    assert result.output_text == "Found."


def crashed_journal() -> InMemoryJournal:
    """A journal in which the first call of the first interaction started and never ended."""
    journal = InMemoryJournal()
    assert journal.begin(f"{_first_interaction_id()}/{_first_call_id()}") is None
    return journal


@pytest.mark.parametrize(
    ("decision", "sent", "runs"),
    [
        (True, "paid 5", 1),
        ("checked: it went through", "checked: it went through", 0),
        (
            FunctionResultStep(call_id="", name="", result=[TextContent(text="refunded")]),
            "refunded",
            0,
        ),
    ],
)
async def test_the_unknown_outcome_hook_decides_instead(
    decision: Any, sent: str, runs: int
) -> None:
    emulator = Emulator(Script([function_call("pay", {"amount": 5}), "Ok."]))
    ledger = Ledger()
    decided: list[str] = []

    def decide(call: Any) -> Any:
        decided.append(call.name)
        return decision

    agent = Agent(
        MODEL,
        tools=[ledger.tool],
        client=emulator.async_client(),
        journal=crashed_journal(),
        unknown_outcome=decide,
    )
    await agent.run("Pay.")
    assert decided == ["pay"]
    assert result_text(emulator.function_results[0]) == sent
    assert ledger.total == runs


async def test_raise_tool_errors_raises_a_resumable_typed_error_for_an_unknown_outcome() -> None:
    emulator = Emulator(Script([function_call("pay", {"amount": 5}), "Ok."]))
    ledger = Ledger()
    agent = Agent(
        MODEL,
        tools=[ledger.tool],
        client=emulator.async_client(),
        journal=crashed_journal(),
        raise_tool_errors=True,
    )
    with pytest.raises(ToolOutcomeUnknown) as caught:
        await agent.run("Pay.")
    assert caught.value.call.name == "pay"
    assert caught.value.partial is not None
    assert ledger.total == 0


def _first_interaction_id() -> str:
    """The id the emulator gives its first interaction (its ids are deterministic)."""
    emulator = Emulator(Script(["x"]))
    with emulator.client() as client:
        return client.interactions.create(model=MODEL, input="x").id


def _first_call_id() -> str:
    emulator = Emulator(Script([function_call("pay", {"amount": 5})]))
    with emulator.client() as client:
        interaction = client.interactions.create(model=MODEL, input="x")
    return interaction.function_calls[0].id or ""


# --- approvals ------------------------------------------------------------------------------


@pytest.mark.parametrize("durable", [False, True])
async def test_resuming_the_same_saved_approval_twice_pays_once(
    durable: bool, tmp_path: Any
) -> None:
    # After the approved payment, the model sends a receipt, then answers.
    script = Script([function_call("pay", {"amount": 9}), function_call("receipt"), "Paid."])
    emulator = Emulator(script)
    ledger = Ledger()
    approved = tool(needs_approval=True)(ledger.tool.function)
    receipts: list[str] = []

    @tool
    def receipt() -> str:
        """Send the receipt."""
        receipts.append("sent")
        return "receipt sent"

    shared = InMemoryJournal()
    opened: list[SQLiteJournal] = []

    def agent() -> Agent[Any, Any]:
        # A new agent each time: another process, sharing only the journal.
        journal: InMemoryJournal | SQLiteJournal = shared
        if durable:
            journal = SQLiteJournal(tmp_path / "journal.db")
            opened.append(journal)
        return Agent(
            MODEL, tools=[approved, receipt], client=emulator.async_client(), journal=journal
        )

    paused = await agent().run("Pay 9.")
    saved = paused.state.to_json()
    (call,) = paused.pending_calls

    first = await agent().resume(RunState.from_json(saved), {call.id or "": True})
    second = await agent().resume(RunState.from_json(saved), {call.id or "": True})
    for journal in opened:
        journal.close()

    assert first.output_text == second.output_text == "Paid."
    assert first.interaction_id == second.interaction_id  # the same conversation, not a fork
    assert ledger.total == 1
    assert receipts == ["sent"]
    assert creates(emulator) == 3
    assert [result_text(step) for step in emulator.function_results] == [
        "paid 9",
        "receipt sent",
    ]


async def test_a_state_saved_without_a_run_id_still_resumes() -> None:
    emulator = Emulator(Script([function_call("pay", {"amount": 9}), "Paid."]))
    ledger = Ledger()
    approved = tool(needs_approval=True)(ledger.tool.function)
    agent = Agent(MODEL, tools=[approved], client=emulator.async_client())
    paused = await agent.run("Pay 9.")
    old = paused.state.model_copy(update={"run_id": None})

    result = await agent.resume(old, {paused.pending_calls[0].id or "": True})

    assert result.output_text == "Paid."
    assert result.state.run_id


# --- idempotency keys and checkpoints ----------------------------------------------------------


async def test_tools_see_a_stable_idempotency_key_per_call() -> None:
    emulator = Emulator(two_payments())
    ledger = Ledger()
    agent = Agent(MODEL, tools=[ledger.tool], client=emulator.async_client())
    await agent.run("Pay twice.")
    (interaction_id, *_) = emulator.interactions
    calls = [step["id"] for step in emulator.function_calls]
    assert sorted(ledger.keys, key=str) == sorted(f"{interaction_id}/{call}" for call in calls)


async def test_the_journal_holds_the_latest_state_of_each_run() -> None:
    run_ids: list[str] = []

    def remember(ctx: RunContext[Any]) -> None:
        run_ids.append(ctx.run_id)

    @tool
    def note(ctx: RunContext[Any]) -> str:
        """Note the run."""
        remember(ctx)
        return "noted"

    emulator = Emulator(Script([function_call("note"), "Noted."]))
    agent = Agent(MODEL, tools=[note], client=emulator.async_client())
    result = await agent.run("Note it.")
    latest = agent.journal.latest(run_ids[0])
    assert latest is not None
    assert latest.run_id == result.state.run_id == run_ids[0]
    assert latest.steps == result.state.steps


async def test_a_refused_call_stays_refused_when_the_run_is_interrupted_and_resumed() -> None:
    script = Script([[function_call("pay", {"amount": 9}), function_call("lookup")], "Ok."])
    emulator = Emulator(script)
    ledger = Ledger()
    approved = tool(needs_approval=True)(ledger.tool.function)
    started = anyio.Event()
    lookups = 0

    @tool
    async def lookup() -> str:
        """Look something up."""
        nonlocal lookups
        lookups += 1
        if lookups == 1:
            started.set()
            await anyio.sleep_forever()
        return "found"

    agent, cancelled = interruptible(
        [approved, tool(lookup, idempotent=True)], emulator.async_client()
    )
    paused = await agent.run("Pay and look up.")
    refuse = {paused.pending_calls[0].id or "": False}
    await cancel_once_started(partial(agent.resume, paused, refuse), started.wait)

    result = await agent.resume(cancelled[0])

    assert result.output_text == "Ok."
    assert ledger.total == 0
    sent = {step["name"]: result_text(step) for step in emulator.function_results}
    assert "did not approve" in sent["pay"]
    assert sent["lookup"] == "found"


async def test_resuming_a_paused_state_with_another_decision_is_another_request() -> None:
    emulator = Emulator(Script([function_call("pay", {"amount": 9}), "Refused.", "Paid."]))
    ledger = Ledger()
    approved = tool(needs_approval=True)(ledger.tool.function)
    agent = Agent(MODEL, tools=[approved], client=emulator.async_client())
    paused = await agent.run("Pay 9.")
    call_id = paused.pending_calls[0].id or ""

    refused = await agent.resume(paused, {call_id: False})
    paid = await agent.resume(paused, {call_id: True})

    assert (refused.output_text, paid.output_text) == ("Refused.", "Paid.")
    assert refused.interaction_id != paid.interaction_id
    assert ledger.total == 1
    assert result_text(emulator.function_results[-1]) == "paid 9"


async def test_an_api_error_raised_by_a_tool_is_the_tools_own() -> None:
    emulator = Emulator(Script([function_call("fetch"), "Done."]))
    own = InternalServerError("downstream failed", status_code=500)

    @tool
    def fetch() -> str:
        """Fetch from a downstream API."""
        raise own

    journal = InMemoryJournal()
    agent = Agent(
        MODEL,
        tools=[fetch],
        client=emulator.async_client(),
        journal=journal,
        raise_tool_errors=True,
    )
    with pytest.raises(InternalServerError) as caught:
        await agent.run("Fetch.")

    assert caught.value is own
    assert caught.value.partial is None
    assert caught.value.message == "downstream failed"
    (interaction_id, *_) = emulator.interactions
    record = journal.get(f"{interaction_id}/{emulator.function_calls[0]['id']}")
    assert record is not None
    assert record.result is not None  # it ended by raising: a known outcome, not an unknown one


async def test_a_handle_awaited_again_waits_for_its_still_running_sync_call() -> None:
    emulator = Emulator(Script([function_call("pay", {"amount": 5}), "Paid."]), background_polls=0)
    ledger = Ledger()
    started, release = threading.Event(), threading.Event()

    def block(total: int) -> None:
        started.set()
        release.wait(10)

    ledger.on_run = block
    agent = Agent(MODEL, tools=[ledger.tool], client=emulator.async_client())
    handle = await agent.start("Pay.")
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as group:
            group.start_soon(handle.result)
            await anyio.to_thread.run_sync(started.wait, 10)
            scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(handle.result)
        release.set()  # the abandoned thread ends while the handle waits for it
    result = await handle.result()

    assert result.output_text == "Paid."
    assert ledger.total == 1
    assert result_text(emulator.function_results[0]) == "paid 5"


async def test_a_background_runs_partial_resumes_in_the_background() -> None:
    emulator = Emulator(Script(["Done."]), background_polls=1)
    agent = Agent(MODEL, client=emulator.async_client(max_retries=RETRIES))
    emulator.fail_next(RETRIES + 1, 503)
    with pytest.raises(InternalServerError) as caught:
        await agent.start("Work.")
    assert caught.value.partial is not None

    result = await agent.resume(caught.value.partial)

    assert result.output_text == "Done."
    assert [body.get("background") for body in bodies(emulator)] == [True] * (RETRIES + 2)


async def test_an_unknown_outcome_decided_by_the_hook_is_decided_once() -> None:
    decided: list[str] = []

    def decide(call: Any) -> Any:
        decided.append(call.name)
        return "checked: not paid"

    journal = crashed_journal()
    for _ in range(2):
        emulator = Emulator(Script([function_call("pay", {"amount": 5}), "Ok."]))
        ledger = Ledger()
        agent = Agent(
            MODEL,
            tools=[ledger.tool],
            client=emulator.async_client(),
            journal=journal,
            unknown_outcome=decide,
        )
        await agent.run("Pay.")
        assert result_text(emulator.function_results[0]) == "checked: not paid"
    assert decided == ["pay"]


# --- lost responses -------------------------------------------------------------------------


class LoseResponse(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The emulator, but the response to chosen creates is lost after the server acted."""

    def __init__(self, emulator: Emulator, lose: set[int], *, connect_error: bool = False) -> None:
        self.emulator = emulator
        self.lose = lose
        self.connect_error = connect_error
        self.seen = 0

    def _should_lose(self, request: httpx.Request) -> bool:
        if request.method != "POST":
            return False
        self.seen += 1
        return self.seen in self.lose

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._should_lose(request):
            if self.connect_error:
                raise httpx.ConnectError("refused", request=request)
            self.emulator.handle_request(request).read()
            raise httpx.ReadError("connection reset by peer", request=request)
        return self.emulator.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._should_lose(request):
            if self.connect_error:
                raise httpx.ConnectError("refused", request=request)
            await (await self.emulator.handle_async_request(request)).aread()
            raise httpx.ReadError("connection reset by peer", request=request)
        return await self.emulator.handle_async_request(request)


async def _no_wait(seconds: float) -> None:
    pass


@pytest.mark.parametrize("mode", ["async", "background"])
async def test_a_create_whose_response_was_lost_is_not_sent_again(mode: Mode) -> None:
    # The lost response used the model's second reply: resuming sends the request again.
    emulator = Emulator(Script([*two_payments().replies, "Paid both."]))
    ledger = Ledger()
    transport = LoseResponse(emulator, {2})  # the create carrying the results
    client = AsyncClient(api_key="k", transport=transport, sleep=_no_wait, max_retries=3)
    agent = Agent(MODEL, tools=[ledger.tool], client=client, background=mode == "background")

    with pytest.raises(ResponseLostError) as caught:
        await agent.run("Pay twice.")

    assert creates(emulator) == 2  # never re-sent behind the caller's back
    assert caught.value.partial is not None
    assert caught.value.partial.state.outbox is not None
    result = await agent.resume(caught.value.partial)
    assert result.output_text == "Paid both."
    assert sorted(ledger.runs.values()) == [1, 1]
    assert creates(emulator) == 3


async def test_resend_lost_creates_opts_into_sending_again() -> None:
    emulator = Emulator(Script([*two_payments().replies, "Paid both."]))
    ledger = Ledger()
    transport = LoseResponse(emulator, {2})
    client = AsyncClient(api_key="k", transport=transport, sleep=_no_wait, resend_lost_creates=True)
    agent = Agent(MODEL, tools=[ledger.tool], client=client)
    result = await agent.run("Pay twice.")
    assert result.output_text == "Paid both."
    assert creates(emulator) == 3
    assert sorted(ledger.runs.values()) == [1, 1]


@pytest.mark.parametrize("connect_error", [False, True])
async def test_requests_the_server_never_acted_on_or_that_store_nothing_are_retried(
    connect_error: bool,
) -> None:
    emulator = Emulator(Script([*two_payments().replies, "Paid both."]))
    ledger = Ledger()
    transport = LoseResponse(emulator, {2}, connect_error=connect_error)
    client = AsyncClient(api_key="k", transport=transport, sleep=_no_wait)
    # Stateless creates store nothing; a refused connection never reached the server.
    agent = Agent(MODEL, tools=[ledger.tool], client=client, store=connect_error)
    result = await agent.run("Pay twice.")
    assert result.output_text == "Paid both."
    assert sorted(ledger.runs.values()) == [1, 1]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_stateful_response_lost_after_its_first_event_reattaches(mode: Mode) -> None:
    emulator = Emulator(two_payments())
    ledger = Ledger()
    agent = make_agent(mode, emulator, ledger)
    emulator.drop_stream_after(1)

    result = await run_mode(mode, agent)

    assert result.output_text == "Paid both."
    assert creates(emulator) == 2  # one per turn: no fork
    assert len(emulator.interactions) == 2
    assert sorted(ledger.runs.values()) == [1, 1]
    gets = [request for request in emulator.requests if request.method == "GET"]
    assert gets
    assert all("last_event_id" in request.query for request in gets)


class FailGets(httpx.AsyncBaseTransport):
    """The emulator, with the first `n` GETs answered 503."""

    def __init__(self, emulator: Emulator, n: int) -> None:
        self.emulator = emulator
        self.n = n

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and self.n > 0:
            self.n -= 1
            return httpx.Response(503, json={"error": {"code": "unavailable", "message": "x"}})
        return await self.emulator.handle_async_request(request)


async def test_a_stream_that_cannot_resume_leaves_a_state_that_fetches_its_interaction() -> None:
    emulator = Emulator(two_payments())
    ledger = Ledger()
    client = AsyncClient(
        api_key="k", transport=FailGets(emulator, RETRIES + 1), sleep=_no_wait, max_retries=RETRIES
    )
    agent = Agent(MODEL, tools=[ledger.tool], client=client)
    emulator.drop_stream_after(1)

    with pytest.raises(APIError) as caught:
        await agent.run("Pay twice.")

    (created,) = emulator.interactions
    assert caught.value.interaction_id == created
    assert caught.value.partial is not None
    assert caught.value.partial.state.awaiting == created
    result = await agent.resume(caught.value.partial)
    assert result.output_text == "Paid both."
    assert creates(emulator) == 2
    assert sorted(ledger.runs.values()) == [1, 1]


# --- limits -----------------------------------------------------------------------------------


async def test_a_final_response_over_the_token_limit_raises_with_the_answer() -> None:
    emulator = Emulator(Script(["A long answer."]))
    agent = Agent(MODEL, client=emulator.async_client(), limits=UsageLimits(total_tokens_limit=1))
    with pytest.raises(UsageLimitExceeded) as caught:
        await agent.run("Hi.")
    assert caught.value.partial is not None
    assert caught.value.partial.output_text == "A long answer."


def test_polling_backs_off_to_its_cap_for_ever() -> None:
    policy = PollPolicy()
    assert policy.delay(0) == 0.25
    assert policy.delay(1_750) == policy.delay(10**9) == 5.0
    assert PollPolicy(first=1, factor=10, max_interval=30).delay(10**6) == 30
