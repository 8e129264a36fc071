"""Sync tools in sync runs: they run in the process's shared worker threads, with no event
loop, concurrently within a response, or in the caller's thread when nothing would stop
waiting for them; timeouts, Ctrl-C and raised errors keep every outcome.
"""

from __future__ import annotations

import asyncio  # noqa: TID251 (a loop's callback, outside any task, is asyncio's own)
import concurrent.futures
import functools
import os
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

import anyio
import anyio.lowlevel
import pytest
from _agent_helpers import MODEL, result_text, results_json

import agentkit._drivers
import agentkit._tool
from agentkit import Agent, Hooks, RunResult, tool
from agentkit._exceptions import UsageError
from agentkit._tool import TOOL_THREADS, SyncCall, tool_threads
from agentkit.journal import InMemoryJournal
from agentkit.testing import Emulator, Script, function_call
from agentkit.types import FunctionCallStep, FunctionResultStep

T = TypeVar("T")
P = ParamSpec("P")


class RecordingJournal(InMemoryJournal):
    """Tells a test each time a tool's outcome is recorded (late ones from worker threads)."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: list[dict[str, Any]] = []
        self.recorded = threading.Semaphore(0)

    def finish(self, key: str, result: Any) -> None:
        super().finish(key, result)
        if result.get("type") == "function_result":
            self.outcomes.append(result)
            self.recorded.release()


@pytest.fixture
def no_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync run that starts an event loop thread (a blocking portal) fails the test."""

    def refuse() -> None:
        raise AssertionError("a sync run of sync tools started an event loop")

    monkeypatch.setattr(agentkit._drivers, "start_blocking_portal", refuse)


def text(result: dict[str, Any]) -> str:
    return "".join(part["text"] for part in result["result"])


@pytest.mark.usefixtures("no_event_loop")
def test_a_response_of_sync_calls_runs_them_all_at_once_in_worker_threads() -> None:
    count = 20
    barrier = threading.Barrier(count, timeout=10)  # calls run one by one would break it
    threads: set[str] = set()

    def meet(n: int) -> int:
        """Wait for every other call."""
        threads.add(threading.current_thread().name)
        barrier.wait()
        return n

    calls = [function_call("meet", {"n": n}) for n in range(count)]
    emulator = Emulator(Script([calls, "All met."]))
    agent = Agent(MODEL, tools=[meet], client=emulator.client())

    assert agent.run_sync("Meet.").output_text == "All met."
    assert results_json(emulator) == list(range(count))
    assert len(threads) == count
    assert all(name.startswith("agentkit-tool") for name in threads)


def test_a_response_with_an_async_tool_runs_its_batch_on_an_event_loop() -> None:
    async def fetch(n: int) -> int:
        """Fetch a number."""
        return n

    def double(n: int) -> int:
        """Double a number."""
        return 2 * n

    calls = [function_call("fetch", {"n": 1}), function_call("double", {"n": 2})]
    emulator = Emulator(Script([calls, "Done."]))
    agent = Agent(MODEL, tools=[fetch, double], client=emulator.client())

    assert agent.run_sync("Go.").output_text == "Done."
    assert results_json(emulator) == [1, 4]


@pytest.mark.usefixtures("no_event_loop")
def test_a_sync_tool_past_its_timeout_is_answered_and_its_late_outcome_recorded() -> None:
    release = threading.Event()

    @tool(timeout=0.05)
    def slow() -> str:
        """Take long."""
        release.wait(10)
        return "finally"

    def quick() -> str:
        """Answer at once."""
        return "quick"

    journal = RecordingJournal()
    emulator = Emulator(Script([[function_call("slow"), function_call("quick")], "Done."]))
    agent = Agent(MODEL, tools=[slow, quick], client=emulator.client(), journal=journal)

    result = agent.run_sync("Go.")

    assert result.output_text == "Done."
    sent = emulator.function_results
    assert text(sent[0]) == "TimeoutError: tool 'slow' did not finish within 0.05 s."
    assert text(sent[1]) == "quick"
    release.set()
    for _ in range(3):  # quick, slow's timeout, then slow's late outcome
        assert journal.recorded.acquire(timeout=10)
    assert text(journal.outcomes[-1]) == "finally"


def coroutine_returning(
    function: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """A decorator unaware of coroutines: its sync wrapper hands back the coroutine to await."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, T]:
        return function(*args, **kwargs)

    return wrapper


@tool
@coroutine_returning
async def stock(sku: str) -> str:
    """Look a stock level up.

    Args:
        sku: The product.
    """
    await anyio.lowlevel.checkpoint()
    return f"{sku}: 3 left"


def test_a_sync_wrapper_around_a_coroutine_function_is_awaited_wherever_the_run_is_called() -> None:
    a, b = function_call("stock", {"sku": "A"}), function_call("stock", {"sku": "B"})
    emulator = Emulator(Script([[a], [a, b], "Done."] * 5))  # alone, then beside another
    agent = Agent(MODEL, tools=[stock], client=emulator.client())

    def run() -> str | None:
        return agent.run_sync("Go.").output_text

    async def in_a_task() -> str | None:  # blocks its loop, as a notebook cell would
        return run()

    assert run() == "Done."  # in the main thread
    assert elsewhere(run) == "Done."  # in another, the lone call in it
    assert anyio.run(in_a_task) == "Done."  # anyio names its library for the whole loop
    assert asyncio.run(in_a_task()) == "Done."
    assert anyio.run(in_a_task, backend="trio") == "Done."

    assert ran_in(emulator) == ["A: 3 left", "A: 3 left", "B: 3 left"] * 5


@pytest.mark.usefixtures("no_event_loop")
def test_the_timeout_of_a_sync_wrapper_around_a_coroutine_function_covers_the_coroutine() -> None:
    release = threading.Event()

    @tool(timeout=0.05)
    @coroutine_returning
    async def slow() -> str:
        """Take long."""
        await anyio.to_thread.run_sync(release.wait, 10)
        return "finally"

    journal = RecordingJournal()
    emulator = Emulator(Script([[function_call("slow")], "Done."]))
    agent = Agent(MODEL, tools=[slow], client=emulator.client(), journal=journal)

    assert agent.run_sync("Go.").output_text == "Done."

    (sent,) = emulator.function_results
    assert text(sent) == "TimeoutError: tool 'slow' did not finish within 0.05 s."
    release.set()
    for _ in range(2):  # the timeout, then the coroutine's late outcome
        assert journal.recorded.acquire(timeout=10)
    assert text(journal.outcomes[-1]) == "finally"


@pytest.mark.usefixtures("no_event_loop")
def _pay_beside_quick(
    pay: Callable[[], str], quick_done: threading.Event, **hooks: Any
) -> tuple[Agent, Emulator, RecordingJournal]:
    """An agent whose one response calls `pay` and a `quick` tool that sets `quick_done`."""

    def quick() -> str:
        """Answer at once."""
        return "quick"

    def after_tool(call: FunctionCallStep, result: FunctionResultStep) -> None:
        if call.name == "quick":
            quick_done.set()

    journal = RecordingJournal()
    emulator = Emulator(Script([[function_call("pay"), function_call("quick")], "Done."]))
    agent = Agent(
        MODEL,
        tools=[pay, quick],
        client=emulator.client(),
        journal=journal,
        hooks=Hooks(after_tool=after_tool, **hooks),
    )
    return agent, emulator, journal


def test_ctrl_c_while_sync_tools_run_keeps_the_finished_and_records_the_rest_late() -> None:
    release = threading.Event()
    cancelled: list[RunResult[Any]] = []
    finished = threading.Event()

    def pay() -> str:
        """Pay."""
        finished.wait(10)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, once quick's result is in
        release.wait(10)
        return "paid"

    agent, emulator, journal = _pay_beside_quick(pay, finished, on_cancel=cancelled.append)

    with pytest.raises(KeyboardInterrupt):
        agent.run_sync("Go.")

    (partial,) = cancelled
    assert [s.name for s in partial.steps if isinstance(s, FunctionResultStep)] == ["quick"]
    assert emulator.function_results == []
    release.set()
    for _ in range(2):
        assert journal.recorded.acquire(timeout=10)
    assert text(journal.outcomes[-1]) == "paid"

    result = agent.resume_sync(partial)  # both answered from the journal, none run again
    assert result.output_text == "Done."
    assert [text(r) for r in emulator.function_results] == ["paid", "quick"]


@pytest.mark.usefixtures("no_event_loop")
def test_raise_tool_errors_raises_the_first_failure_of_a_sync_batch() -> None:
    def broken() -> str:
        """Fail."""
        raise LookupError("no such order")

    def fine() -> str:
        """Succeed."""
        return "fine"

    journal = RecordingJournal()
    emulator = Emulator(Script([[function_call("fine"), function_call("broken")], "Done."]))
    agent = Agent(
        MODEL,
        tools=[broken, fine],
        client=emulator.client(),
        journal=journal,
        raise_tool_errors=True,
    )

    with pytest.raises(LookupError, match="no such order"):
        agent.run_sync("Go.")
    assert emulator.function_results == []
    assert "LookupError: no such order" in [text(o) for o in journal.outcomes]


def test_start_sync_refuses_an_async_tool_and_answers_invalid_arguments_at_once() -> None:
    @tool
    async def fetch(n: int) -> int:
        """Fetch."""
        return n

    @tool
    def double(n: int) -> int:
        """Double."""
        return 2 * n

    with pytest.raises(UsageError, match="is async: run it with invoke"):
        fetch.start_sync(FunctionCallStep(id="c1", name="fetch", arguments={"n": 1}))
    invalid = double.start_sync(FunctionCallStep(id="c1", name="double", arguments={"n": "x"}))
    assert isinstance(invalid, FunctionResultStep)
    assert invalid.is_error is True
    started = double.start_sync(FunctionCallStep(id="c2", name="double", arguments={"n": 4}))
    assert isinstance(started, SyncCall)
    assert started.result().to_wire()["result"] == [{"type": "text", "text": "8"}]


def test_sync_tools_share_one_bounded_pool_of_threads() -> None:
    assert tool_threads() is tool_threads()
    assert tool_threads()._max_workers == TOOL_THREADS


class Peak:
    """Counts the calls running at once, and the most there ever were."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


@pytest.mark.usefixtures("no_event_loop")
def test_max_concurrent_tools_caps_the_sync_calls_running_at_once() -> None:
    peak = Peak()
    pairs = threading.Barrier(2, timeout=10)  # two at once must be possible

    def work(n: int) -> int:
        """Work on n."""
        peak.enter()
        pairs.wait()
        peak.leave()
        return n

    calls = [function_call("work", {"n": n}) for n in range(6)]
    emulator = Emulator(Script([calls, "Done."]))
    agent = Agent(MODEL, tools=[work], client=emulator.client(), max_concurrent_tools=2)

    assert agent.run_sync("Go.").output_text == "Done."
    assert results_json(emulator) == list(range(6))
    assert peak.most == 2


@pytest.mark.anyio
async def test_max_concurrent_tools_caps_the_async_calls_of_every_run_of_the_agent() -> None:
    peak = Peak()

    async def work(n: int) -> int:
        """Work on n."""
        peak.enter()
        for _ in range(5):  # give every other call the chance to start meanwhile
            await anyio.lowlevel.checkpoint()
        peak.leave()
        return n

    calls = [function_call("work", {"n": n}) for n in range(4)]
    emulator = Emulator(Script([calls, "Done."] * 3))
    agent = Agent(MODEL, tools=[work], client=emulator.async_client(), max_concurrent_tools=3)

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(agent.run, "Go.")
    assert peak.most == 3


def nested_script() -> Script:
    """An outer call of `ask`, whose inner run calls `echo` (alone, then with `ask` again)."""
    return Script(
        [
            function_call("ask", {"question": "Inner?"}),
            function_call("echo", {"text": "first"}),
            [function_call("echo", {"text": "second"}), function_call("echo", {"text": "third"})],
            "Inner.",
            "Outer.",
        ]
    )


NESTED_RESULTS = ["first", "second", "third", "Inner."]


@pytest.mark.anyio
async def test_a_capped_tool_may_run_its_own_agent_again() -> None:
    async def ask(question: str) -> str:
        """Ask the agent itself."""
        return (await agent.run(question, timeout=30)).output_text or ""

    async def echo(text: str) -> str:
        """Echo the text."""
        return text

    emulator = Emulator(nested_script())
    # One slot, held by the outer call: the inner run's calls go on within it.
    agent = Agent(MODEL, tools=[ask, echo], client=emulator.async_client(), max_concurrent_tools=1)

    assert (await agent.run("Go.", timeout=30)).output_text == "Outer."  # no wait on itself
    assert [result_text(step) for step in emulator.function_results] == NESTED_RESULTS


def test_a_capped_sync_tool_may_run_its_own_agent_again() -> None:
    def ask(question: str) -> str:
        """Ask the agent itself."""
        return agent.run_sync(question, timeout=30).output_text or ""

    def echo(text: str) -> str:
        """Echo the text."""
        return text

    emulator = Emulator(nested_script())
    agent = Agent(MODEL, tools=[ask, echo], client=emulator.client(), max_concurrent_tools=1)

    assert agent.run_sync("Go.", timeout=30).output_text == "Outer."  # no wait on itself
    assert [result_text(step) for step in emulator.function_results] == NESTED_RESULTS


@pytest.mark.parametrize("cap", [0, -1, 1.5, "2"])
def test_max_concurrent_tools_must_be_a_positive_int(cap: Any) -> None:
    with pytest.raises(UsageError, match="max_concurrent_tools must be an int >= 1"):
        Agent(MODEL, max_concurrent_tools=cap)


def elsewhere(work: Callable[[], T]) -> T:
    """`work()` in a thread other than the main one (where Ctrl-C cannot reach)."""
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(work).result(timeout=30)


def thread_names(*names: str, idempotent: bool = False, timeout: float | None = None) -> list[Any]:
    """Tools that each answer with the name of the thread that ran them."""

    def named(name: str) -> Any:
        def where() -> str:
            return threading.current_thread().name

        where.__doc__ = "Say where."
        return tool(name=name, idempotent=idempotent, timeout=timeout)(where)

    return [named(name) for name in names]


def ran_in(emulator: Emulator) -> list[str]:
    return [result_text(step) for step in emulator.function_results]


@pytest.mark.usefixtures("no_event_loop")
def test_a_lone_call_of_an_idempotent_tool_runs_in_the_main_thread_that_called() -> None:
    tools = [*thread_names("lookup", idempotent=True), *thread_names("pay")]
    script = Script([[function_call("lookup")], [function_call("pay")], "Done."])
    emulator = Emulator(script)
    agent = Agent(MODEL, tools=tools, client=emulator.client())

    assert agent.run_sync("Go.").output_text == "Done."

    # Ctrl-C would stop `pay` midway in the main thread: it runs in a worker thread.
    lookup, pay = ran_in(emulator)
    assert lookup == threading.main_thread().name
    assert pay.startswith("agentkit-tool")


@pytest.mark.usefixtures("no_event_loop")
def test_outside_the_main_thread_a_lone_call_runs_in_the_callers_thread() -> None:
    emulator = Emulator(Script([[function_call("pay")], [function_call("pay")], "Done."]))
    agent = Agent(MODEL, tools=thread_names("pay"), client=emulator.client())

    caller = elsewhere(lambda: (agent.run_sync("Go."), threading.current_thread().name)[1])

    assert ran_in(emulator) == [caller, caller]


@pytest.mark.usefixtures("no_event_loop")
def test_calls_a_run_may_have_to_stop_waiting_for_run_in_worker_threads() -> None:
    cases = [
        (2, thread_names("pay"), None),  # concurrent calls
        (1, thread_names("pay", timeout=30), None),  # the tool's timeout may end first
        (1, thread_names("pay"), 30),  # the run's
    ]
    for calls, tools, timeout in cases:
        emulator = Emulator(Script([[function_call("pay")] * calls, "Done."]))
        agent = Agent(MODEL, tools=tools, client=emulator.client())

        elsewhere(lambda: agent.run_sync("Go.", timeout=timeout))  # noqa: B023

        assert all(name.startswith("agentkit-tool") for name in ran_in(emulator))


def test_a_sync_run_called_inside_an_event_loop_runs_a_lone_call_in_a_worker_thread() -> None:
    # The tool could not start an event loop of its own (asyncio.run) in the caller's thread.
    emulator = Emulator(Script([[function_call("pay")], "Done."] * 2))
    agent = Agent(MODEL, tools=thread_names("pay"), client=emulator.client())

    async def blocking_caller() -> str | None:  # in a task
        return agent.run_sync("Go.").output_text

    async def blocking_callback() -> str | None:  # in a callback of the loop, outside any task
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str | None] = loop.create_future()
        loop.call_soon(lambda: answer.set_result(agent.run_sync("Go.").output_text))
        return await answer

    assert elsewhere(lambda: anyio.run(blocking_caller)) == "Done."
    assert elsewhere(lambda: asyncio.run(blocking_callback())) == "Done."
    assert all(name.startswith("agentkit-tool") for name in ran_in(emulator))


@pytest.mark.usefixtures("no_event_loop")
def test_ctrl_c_in_an_idempotent_tool_run_by_the_caller_leaves_the_call_to_run_on_resume() -> None:
    attempts: list[int] = []

    @tool(idempotent=True)
    def refresh() -> str:
        """Refresh the cache."""
        attempts.append(len(attempts))
        if len(attempts) == 1:
            raise KeyboardInterrupt  # Ctrl-C while the tool runs in the caller's thread
        return "refreshed"

    cancelled: list[RunResult[Any]] = []
    journal = RecordingJournal()
    emulator = Emulator(Script([[function_call("refresh")], "Done."]))
    hooks = Hooks(on_cancel=cancelled.append)
    agent = Agent(MODEL, tools=[refresh], client=emulator.client(), journal=journal, hooks=hooks)

    with pytest.raises(KeyboardInterrupt):
        agent.run_sync("Go.")
    assert journal.outcomes == []  # the outcome is unknown: nothing is recorded

    (partial,) = cancelled
    result = agent.resume_sync(partial, timeout=30)  # it runs again, without waiting

    assert result.output_text == "Done."
    assert attempts == [0, 1]
    assert [text(outcome) for outcome in journal.outcomes] == ["refreshed"]
    assert ran_in(emulator) == ["refreshed"]


def test_ctrl_c_as_a_worker_thread_takes_a_call_leaves_the_thread_to_record_its_outcome(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started, release, resumed = threading.Event(), threading.Event(), threading.Event()
    attempts: list[int] = []

    def pay() -> str:
        """Pay."""
        attempts.append(len(attempts))
        started.set()
        release.wait(10)
        return "paid"

    threads = tool_threads()

    class InterruptedSubmit:
        def submit(self, function: Callable[[], Any]) -> Any:
            threads.submit(function)
            assert started.wait(10)
            raise KeyboardInterrupt  # Ctrl-C just as the worker thread took the call

    cancelled: list[RunResult[Any]] = []
    hooks = Hooks(on_cancel=cancelled.append, before_tool=lambda call: resumed.set())
    emulator = Emulator(Script([[function_call("pay")], "Done."]))
    agent = Agent(MODEL, tools=[pay], client=emulator.client(), hooks=hooks)
    monkeypatch.setattr(agentkit._tool, "tool_threads", InterruptedSubmit)
    with pytest.raises(KeyboardInterrupt):
        agent.run_sync("Go.")
    monkeypatch.undo()
    resumed.clear()

    (partial,) = cancelled
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        resume = thread.submit(agent.resume_sync, partial)  # it waits for the running thread
        assert resumed.wait(10)
        release.set()
        result = resume.result(timeout=30)

    assert result.output_text == "Done."
    assert attempts == [0]
    assert ran_in(emulator) == ["paid"]


def test_ctrl_c_that_a_tools_thread_receives_stops_the_run_without_waiting_for_the_tool() -> None:
    release, quick_done, ended = threading.Event(), threading.Event(), threading.Event()

    def pay() -> str:
        """Pay."""
        quick_done.wait(10)  # the run waits for this call alone now
        # The kernel may hand a process's SIGINT to any of its threads: here, the tool's.
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        release.wait(10)
        ended.set()
        return "paid"

    agent, _, journal = _pay_beside_quick(pay, quick_done)

    with pytest.raises(KeyboardInterrupt):
        agent.run_sync("Go.")

    assert not ended.is_set()  # the run stopped while the tool still ran
    release.set()
    for _ in range(2):  # quick, then pay's outcome, recorded late
        assert journal.recorded.acquire(timeout=10)
    assert text(journal.outcomes[-1]) == "paid"


def test_ctrl_c_that_the_event_loop_of_async_tools_receives_stops_a_sync_run() -> None:
    ended = threading.Event()

    async def pay() -> str:
        """Pay."""
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # the portal's thread
        with anyio.move_on_after(10):
            await anyio.Event().wait()
        ended.set()  # the run waited for the tool instead of cancelling it
        return "paid"

    emulator = Emulator(Script([[function_call("pay")], "Done."]))
    agent = Agent(MODEL, tools=[pay], client=emulator.client())

    with pytest.raises(KeyboardInterrupt):
        agent.run_sync("Go.")

    assert not ended.is_set()
