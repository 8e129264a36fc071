"""Chaos: every fault of the matrix, in every way to run an agent, over real loopback sockets.

Each cell runs a two-round tool conversation (two calls in parallel, then one more, then an
answer) through `_chaos.ChaosProxy` in front of an emulator, with one fault planned. A cell
passes when the run ends with the fault-free answer, or with a typed error carrying a
resumable `partial.state` whose resumes (faults off) end with it; with every tool call
executed once (0 duplicated, 0 lost) and no stored conversation forked. The module prints the
totals over all cells when it ends, and fails if any duplicated, lost or forked.

Counting:
- executions: every time a tool body started, by call id and by (tool, arguments): the
  scenario makes each (tool, arguments) once, so a second execution under another call id
  (a forked turn whose calls ran again) is a duplicate too.
- lost: a call of the final conversation left unanswered, or answered with a real result that
  no execution produced; or an executed call whose result is missing from it.
- unknown-outcome calls: answered with agentkit's "outcome is unknown" error, by design.
- forked: a stored interaction the run created and then left out of its final chain (two
  turns answering the same calls from the same `previous_interaction_id` included). One made
  by a create whose response never reached the client (a reset, a timeout, malformed JSON,
  a stream cut before its first event), reported with a typed error, is counted apart as an
  unknown-outcome interaction: the client cannot know its id (README, "Exactly once").
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import anyio
import anyio.lowlevel
import anyio.to_thread
import httpx
import pytest
from _chaos import (
    ChaosProxy,
    Cut,
    Hold,
    Malformed,
    ResetAfter,
    ResetBefore,
    Rule,
    Status,
    UnknownEvent,
    UnknownStatus,
    UnknownStep,
)

from agentkit import (
    Agent,
    AgentkitError,
    AsyncClient,
    Client,
    FunctionTool,
    PollPolicy,
    RunContext,
    RunResult,
    tool,
)
from agentkit.events import RunCompleteEvent
from agentkit.testing import Emulator, ModelRequest, function_call, text

pytestmark = pytest.mark.anyio

Mode = Literal["sync", "async", "stream", "background", "stateless"]
MODES: tuple[Mode, ...] = ("sync", "async", "stream", "background", "stateless")
# Stored, non-background creates go through a stream: these modes have SSE to break.
SSE_MODES: frozenset[Mode] = frozenset({"sync", "async", "stream"})
MODEL = "gemini-3-flash-preview"
PROMPT = "Plan a day in Paris."
RETRIES = 2
MAX_RESUMES = 4
TIMEOUT = 10.0
SHORT_TIMEOUT = 0.5  # read timeout, only where the proxy holds a response
RUN_DEADLINE = 30.0
UNKNOWN_OUTCOME = "outcome is unknown"

Plan = list[Rule]


# -- the model and the tools ------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One model turn the emulator answered: the interaction it made, and what it answered."""

    interaction_id: str
    previous_id: str | None
    stored: bool
    answered: tuple[str, ...]
    """The calls this request's new input answered."""
    seen: frozenset[str]
    """Every call answered in the conversation the model saw (its whole history)."""


class Model:
    """Two calls in parallel, then one more, then an answer built from every result.

    Each reply is decided by the history, not by the turn number, so a request sent again
    gets the same kind of reply. Every turn is recorded, for the fork count.
    """

    def __init__(self, second: tuple[str, dict[str, Any]]) -> None:
        self.second = second
        self.turns: list[Turn] = []
        self._lock = threading.Lock()

    def __call__(self, request: ModelRequest) -> Any:
        previous = request.body.get("previous_interaction_id")
        results = [s for s in request.history if s.get("type") == "function_result"]
        turn = Turn(
            request.interaction_id,
            previous if isinstance(previous, str) else None,
            request.body.get("store", True) is not False,
            tuple(sorted(str(r.get("call_id")) for r in request.function_results)),
            frozenset(str(r.get("call_id")) for r in results),
        )
        with self._lock:
            self.turns.append(turn)
        if not results:
            return [
                function_call("weather", {"city": "Paris"}),
                function_call("clock", {"city": "Paris"}),
            ]
        if len(results) == 2:
            return function_call(*self.second)
        names = {call.get("id"): call.get("name") for call in request.calls}
        parts = [
            f"{names.get(r.get('call_id'), '?')} {'failed' if r.get('is_error') else 'said'}: "
            f"{result_text(r)}"
            for r in results
        ]
        return text(" | ".join(parts))


def result_text(step: dict[str, Any]) -> str:
    """The text of a `function_result` step (wire form: a string, or content blocks)."""
    result = step.get("result")
    if result is None or isinstance(result, str):
        return result or ""
    return "".join(str(block["text"]) for block in result if "text" in block)


# The model's second round: (tool, arguments), and what its result must say.
SECOND: dict[str, tuple[str, dict[str, Any]]] = {
    "plain": ("book", {"city": "Paris"}),
    "tool_raises": ("explode", {"city": "Paris"}),
    "tool_hangs": ("stall", {"city": "Paris"}),
    "unknown_tool": ("teleport", {"city": "Paris"}),
    "invalid_arguments": ("book", {"city": ["Paris"], "nights": "many"}),
}
EXPECTED_ERROR = {
    "tool_raises": "RuntimeError: the booking system is on fire",
    "tool_hangs": "did not finish within",
    "unknown_tool": "Unknown tool 'teleport'",
    "invalid_arguments": "city",
}


class Ledger:
    """Tools that count every execution, by call id and by (tool, arguments); thread-safe."""

    def __init__(self) -> None:
        self.by_call: dict[str, int] = {}
        self.by_logical: dict[str, int] = {}
        self._lock = threading.Lock()

    def count(self, ctx: RunContext[Any], **arguments: Any) -> None:
        logical = f"{ctx.tool_name}:{json.dumps(arguments, sort_keys=True)}"
        with self._lock:
            call_id = ctx.call_id or "?"
            self.by_call[call_id] = self.by_call.get(call_id, 0) + 1
            self.by_logical[logical] = self.by_logical.get(logical, 0) + 1

    def tools(self) -> list[FunctionTool[..., Any]]:
        @tool
        def weather(ctx: RunContext[Any], city: str) -> str:
            """Get the weather in a city."""
            self.count(ctx, city=city)
            return f"sunny in {city}"

        @tool
        def clock(ctx: RunContext[Any], city: str) -> str:
            """Get the local time in a city."""
            self.count(ctx, city=city)
            return f"noon in {city}"

        @tool
        def book(ctx: RunContext[Any], city: str) -> str:
            """Book a hotel in a city."""
            self.count(ctx, city=city)
            return f"booked a room in {city}"

        @tool
        def explode(ctx: RunContext[Any], city: str) -> str:
            """Book a hotel in a city, badly."""
            self.count(ctx, city=city)
            raise RuntimeError("the booking system is on fire")

        @tool(timeout=0.1)
        async def stall(ctx: RunContext[Any], city: str) -> str:
            """Book a hotel in a city, slowly."""
            self.count(ctx, city=city)
            await anyio.sleep_forever()
            raise AssertionError("unreachable: cancelled by the tool's timeout")

        return [weather, clock, book, explode, stall]

    @property
    def executions(self) -> int:
        with self._lock:
            return sum(self.by_call.values())

    @property
    def duplicated(self) -> int:
        with self._lock:
            return sum(count - 1 for count in self.by_logical.values())


# -- the world: one emulator and one proxy for the module --------------------------------------


@dataclass
class Report:
    """What one run did, and what was wrong with it."""

    finished: bool = False
    output: str | None = None
    errors: list[str] = field(default_factory=list[str])
    problems: list[str] = field(default_factory=list[str])
    resumes: int = 0
    executions: int = 0
    duplicated: int = 0
    lost: int = 0
    unknown_calls: int = 0
    forked: int = 0
    unknown_interactions: int = 0
    create_events: list[int | None] = field(default_factory=list[int | None])
    """The number of SSE events of each create's answer (None: a JSON answer)."""
    sleeps: list[float] = field(default_factory=list[float])


@dataclass
class Tally:
    cells: int = 0
    runs: int = 0
    executions: int = 0
    duplicated: int = 0
    lost: int = 0
    unknown_calls: int = 0
    forked: int = 0
    unknown_interactions: int = 0
    typed_errors: int = 0
    resumes: int = 0

    def add(self, report: Report) -> None:
        self.runs += 1
        self.executions += report.executions
        self.duplicated += report.duplicated
        self.lost += report.lost
        self.unknown_calls += report.unknown_calls
        self.forked += report.forked
        self.unknown_interactions += report.unknown_interactions
        self.typed_errors += len(report.errors)
        self.resumes += report.resumes

    def lines(self) -> list[str]:
        return [
            f"chaos matrix: {self.cells} cells, {self.runs} runs, {self.typed_errors} typed "
            f"errors, {self.resumes} resumes",
            f"  tool executions:             {self.executions}",
            f"  duplicated executions:       {self.duplicated}",
            f"  lost executions:             {self.lost}",
            f"  unknown-outcome calls:       {self.unknown_calls}",
            f"  forked conversations:        {self.forked}",
            f"  unknown-outcome interactions: {self.unknown_interactions} "
            "(made by a create whose answer never reached the client)",
        ]


@dataclass
class World:
    emulator: Emulator
    proxy: ChaosProxy
    base_url: str
    tally: Tally
    references: dict[tuple[Mode, str], Report] = field(
        default_factory=dict[tuple[Mode, str], Report]
    )


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    emulator = Emulator(Model(SECOND["plain"]), background_polls=1)
    with emulator.serve() as upstream:
        proxy = ChaosProxy(upstream)
        with proxy.serve() as base_url:
            world = World(emulator, proxy, base_url, Tally())
            yield world
    tally = world.tally
    plugins = request.config.pluginmanager
    reporter: Any = plugins.get_plugin("terminalreporter")
    capture: Any = plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        # Printed while output capture is off, as `capsys.disabled()` does.
        with capture.global_and_fixture_disabled():
            reporter.write("\n")
            for line in tally.lines():
                reporter.write_line(line)
    assert proxy.errors == []
    assert (tally.duplicated, tally.lost, tally.forked) == (0, 0, 0), "\n".join(tally.lines())


# -- one run: fault plan armed, typed errors resumed with the faults off -------------------------


class Session:
    """The agent of one run, with clients that point at the proxy and never wait."""

    def __init__(self, mode: Mode, base_url: str, ledger: Ledger, timeout: float) -> None:
        self.mode = mode
        self.sleeps: list[float] = []
        self._async: AsyncClient | None = None
        self._sync: Client | None = None
        client: AsyncClient | Client
        options: dict[str, Any] = {
            "base_url": base_url,
            "api_key": "test-key",
            "max_retries": RETRIES,
            "timeout": httpx.Timeout(timeout, connect=5.0),
        }
        if mode == "sync":
            client = self._sync = Client(**options, sleep=self.sleeps.append)
        else:

            async def no_wait(seconds: float) -> None:
                self.sleeps.append(seconds)
                await anyio.lowlevel.checkpoint()

            client = self._async = AsyncClient(**options, sleep=no_wait)
        self.agent: Agent[Any, Any] = Agent(
            MODEL,
            tools=ledger.tools(),
            client=client,
            store=mode != "stateless",
            background=mode == "background",
            poll=PollPolicy(first=0.0),
        )

    async def start(self) -> RunResult[Any]:
        if self.mode == "sync":
            return await anyio.to_thread.run_sync(partial(self.agent.run_sync, PROMPT))
        if self.mode == "stream":
            result: RunResult[Any] | None = None
            async with aclosing(self.agent.stream(PROMPT)) as events:
                async for event in events:
                    if isinstance(event, RunCompleteEvent):
                        result = event.result
            if result is None:
                raise AssertionError("the stream ended without a RunCompleteEvent")
            return result
        return await self.agent.run(PROMPT)

    async def resume(self, previous: RunResult[Any]) -> RunResult[Any]:
        if self.mode == "sync":
            return await anyio.to_thread.run_sync(partial(self.agent.resume_sync, previous))
        return await self.agent.resume(previous)

    async def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
        if self._async is not None:
            await self._async.aclose()


async def run_scenario(
    world: World, mode: Mode, variant: str, plan: Plan, *, read_timeout: float = TIMEOUT
) -> Report:
    """Run the conversation once with `plan` armed, resume typed errors, and check it all."""
    emulator, proxy = world.emulator, world.proxy
    emulator.reset()
    model = Model(SECOND[variant])
    emulator.behaviour = model
    proxy.arm(plan)
    ledger = Ledger()
    session = Session(mode, world.base_url, ledger, read_timeout)
    report = Report()
    result: RunResult[Any] | None = None
    try:
        with anyio.fail_after(RUN_DEADLINE):
            result = await _run_and_resume(session, proxy, report)
    except Exception as error:  # anything but a typed error is a defect of the cell
        report.problems.append(f"untyped {type(error).__name__}: {error}")
    finally:
        await session.close()
        proxy.disarm()
    report.sleeps = list(session.sleeps)
    report.create_events = [e.events for e in proxy.log if e.kind == "create"]
    report.executions = ledger.executions
    report.duplicated = ledger.duplicated
    if report.duplicated:
        report.problems.append(f"duplicated executions: {ledger.by_logical}")
    if result is not None:
        report.finished = True
        report.output = result.output_text
        if result.status != "completed":
            report.problems.append(f"ended with status {result.status!r}")
        check_calls(result, model, ledger, report)
        check_forks(result, model, proxy.undelivered(), report)
    return report


async def _run_and_resume(
    session: Session, proxy: ChaosProxy, report: Report
) -> RunResult[Any] | None:
    try:
        return await session.start()
    except AgentkitError as error:
        failure: AgentkitError = error
    proxy.disarm()
    for _ in range(MAX_RESUMES):
        report.errors.append(f"{type(failure).__name__}: {failure}")
        previous: RunResult[Any] | None = getattr(failure, "partial", None)
        if previous is None:
            report.problems.append(
                f"{type(failure).__name__} carries no resumable partial: {failure}"
            )
            return None
        report.resumes += 1
        try:
            return await session.resume(previous)
        except AgentkitError as error:
            failure = error
    report.problems.append(f"still failing after {MAX_RESUMES} resumes: {report.errors[-1]}")
    return None


def check_calls(result: RunResult[Any], model: Model, ledger: Ledger, report: Report) -> None:
    """Count lost and unknown-outcome calls of the final conversation.

    The conversation is the run's own record (`result.state.steps`), checked against what
    the model saw in its last turn (the emulator's history of the final interaction).
    """
    steps = result.state.steps
    calls = {s.get("id"): s for s in steps if s.get("type") == "function_call"}
    results = {s.get("call_id"): s for s in steps if s.get("type") == "function_result"}
    final = next((t for t in model.turns if t.interaction_id == result.interaction_id), None)
    seen = final.seen if final is not None else frozenset[str]()
    lost: list[str] = []
    for call_id in calls:
        if call_id not in results:
            lost.append(f"{call_id} unanswered")
    for call_id, step in results.items():
        if UNKNOWN_OUTCOME in result_text(step):
            report.unknown_calls += 1
        elif not step.get("is_error") and ledger.by_call.get(str(call_id), 0) == 0:
            lost.append(f"{call_id} answered {result_text(step)!r} but never executed")
        if call_id not in seen:
            lost.append(f"{call_id}'s result never reached the model")
    for call_id in ledger.by_call:
        if call_id not in results:
            lost.append(f"{call_id} executed but its result is not in the run")
    report.lost = len(lost)
    if lost:
        report.problems.append("lost: " + "; ".join(lost))


def check_forks(
    result: RunResult[Any], model: Model, undelivered: set[str], report: Report
) -> None:
    """Count stored interactions left out of the final chain (forks), by cause."""
    stored = {turn.interaction_id: turn for turn in model.turns if turn.stored}
    chain: set[str] = set()
    current = result.interaction_id
    while current is not None and current in stored and current not in chain:
        chain.add(current)
        current = stored[current].previous_id
    siblings: dict[tuple[str | None, tuple[str, ...]], list[str]] = {}
    for turn in stored.values():
        siblings.setdefault((turn.previous_id, turn.answered), []).append(turn.interaction_id)
    forks: list[str] = []
    for interaction_id, turn in stored.items():
        if interaction_id in chain:
            continue
        if interaction_id in undelivered and report.errors:
            report.unknown_interactions += 1
            continue
        twins = [i for i in siblings[(turn.previous_id, turn.answered)] if i != interaction_id]
        forks.append(
            f"{interaction_id} (after {turn.previous_id}, answering {list(turn.answered)})"
            + (f" forks from {twins}" if twins else " was left unused")
        )
    report.forked = len(forks)
    if forks:
        report.problems.append("forked: " + "; ".join(forks))


# -- the matrix ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One fault: its model behaviour, the modes it can happen in, and its plans."""

    plans: Callable[[Mode, Report], list[Plan]]
    """The fault plans of a mode, one per run (the reference run tells the event counts)."""
    variant: str = "plain"
    timeout: float = TIMEOUT
    extra: Callable[[Report], list[str]] | None = None
    modes: frozenset[Mode] = frozenset(MODES)
    """The others cannot have this fault (no SSE, nothing polled): they have no cell."""
    many_runs: bool = False
    """Runs once per event boundary: on one anyio backend per mode, to keep the time down."""


def every_mode(*rules: Rule) -> Callable[[Mode, Report], list[Plan]]:
    return lambda mode, reference: [list(rules)]


def by_mode(
    sse: Sequence[Rule] = (), background: Sequence[Rule] = (), stateless: Sequence[Rule] = ()
) -> Callable[[Mode, Report], list[Plan]]:
    def plans(mode: Mode, reference: Report) -> list[Plan]:
        rules = sse if mode in SSE_MODES else background if mode == "background" else stateless
        return [list(rules)]

    return plans


def at_every_event(make: Callable[[int], Cut], *, last: bool) -> Cell:
    """One run per create and per event boundary of its stream (SSE modes only)."""

    def plans(mode: Mode, reference: Report) -> list[Plan]:
        runs: list[Plan] = []
        for nth, events in enumerate(reference.create_events, start=1):
            assert events is not None, "a stored create was not streamed"
            for k in range(events + 1 if last else events):
                runs.append([Rule("create", make(k), nth=nth)])
        return runs

    return Cell(plans, modes=SSE_MODES, many_runs=True)


def retry_after_honoured(report: Report) -> list[str]:
    waits = [s for s in report.sleeps if s != 0]
    return [f"Retry-After: 0 not honoured, waited {waits}"] if waits else []


def answered_with_error(variant: str) -> Callable[[Report], list[str]]:
    def check(report: Report) -> list[str]:
        name, expected = SECOND[variant][0], EXPECTED_ERROR[variant]
        told = (report.output or "").rpartition(f"{name} failed: ")[2]
        return [] if expected in told else [f"the model was not told {expected!r}: {told!r}"]

    return check


CELLS: dict[str, Cell] = {
    "429_storm": Cell(
        every_mode(Rule("create", Status(429, retry_after="0"), nth=2, times=RETRIES + 1)),
        extra=retry_after_honoured,
    ),
    "5xx": Cell(every_mode(Rule("create", Status(503), nth=2))),
    "reset_before_server_acted": Cell(every_mode(Rule("create", ResetBefore(), nth=2))),
    "reset_after_server_acted": Cell(every_mode(Rule("create", ResetAfter(), nth=2))),
    "read_timeout": Cell(
        by_mode(
            sse=[Rule("create", Hold(events=1), nth=2)],  # the id arrives, then silence
            background=[Rule("get", Hold(), nth=1)],
            stateless=[Rule("create", Hold(), nth=2)],
        ),
        timeout=SHORT_TIMEOUT,
    ),
    "sse_cut_at_every_event_boundary": at_every_event(lambda k: Cut(k), last=True),
    "sse_cut_mid_event": at_every_event(lambda k: Cut(k, mid_event=True), last=False),
    "sse_clean_end_mid_event": at_every_event(
        lambda k: Cut(k, mid_event=True, clean=True), last=False
    ),
    "malformed_json": Cell(
        lambda mode, reference: (
            [[Rule("create", Malformed(event=1), nth=2)]]
            if mode in SSE_MODES
            else [[Rule("create", Malformed(), nth=2)]]
            + ([[Rule("get", Malformed(), nth=2)]] if mode == "background" else [])
        )
    ),
    "unknown_step": Cell(
        by_mode(
            sse=[Rule("create", UnknownStep(), nth=1)],
            background=[Rule("get", UnknownStep(), nth=2)],  # turn 1 settles on its 2nd poll
            stateless=[Rule("create", UnknownStep(), nth=1)],
        )
    ),
    "unknown_event": Cell(
        every_mode(Rule("create", UnknownEvent(after=1), nth=1)), modes=SSE_MODES
    ),
    "unknown_status": Cell(
        by_mode(
            sse=[Rule("create", UnknownStatus(), nth=1)],
            background=[Rule("get", UnknownStatus(), nth=2)],
            stateless=[Rule("create", UnknownStatus(), nth=1)],
        )
    ),
    "tool_raises": Cell(every_mode(), "tool_raises", extra=answered_with_error("tool_raises")),
    "tool_hangs": Cell(every_mode(), "tool_hangs", extra=answered_with_error("tool_hangs")),
    "unknown_tool": Cell(every_mode(), "unknown_tool", extra=answered_with_error("unknown_tool")),
    "invalid_arguments": Cell(
        every_mode(), "invalid_arguments", extra=answered_with_error("invalid_arguments")
    ),
    "background_poll_fails_for_good": Cell(
        by_mode(
            # A stream re-attaches by GET too: cut it, then every reconnection fails.
            sse=[
                Rule("create", Cut(1), nth=2),
                Rule("get_stream", Status(503), nth=1, times=None),
            ],
            background=[Rule("get", Status(503), nth=1, times=None)],
        ),
        modes=frozenset(MODES) - {"stateless"},  # nothing stored, nothing polled
    ),
    "api_error_after_tools_ran": Cell(every_mode(Rule("create", Status(503), nth=2, times=None))),
}


def matrix() -> Iterator[Any]:
    """Every (fault, mode) cell, on both anyio backends where that is cheap.

    The sync driver never runs on the test's event loop (it runs in a worker thread, its
    tools in a portal of its own), so its cells run once.
    """
    for fault, cell in CELLS.items():
        for mode in MODES:
            if mode not in cell.modes:
                continue  # e.g. no SSE to cut in a background or stateless run
            if mode == "sync":
                backends = ["asyncio"]
            elif cell.many_runs:
                backends = ["trio" if mode == "stream" else "asyncio"]
            else:
                backends = ["asyncio", "trio"]
            for backend in backends:
                yield pytest.param(fault, mode, backend, id=f"{fault}-{mode}-{backend}")


async def reference(world: World, mode: Mode, variant: str) -> Report:
    """The fault-free run of this mode and model behaviour (made once)."""
    key = (mode, variant)
    if key not in world.references:
        report = await run_scenario(world, mode, variant, [])
        assert report.problems == [], report
        assert report.errors == [], report
        world.references[key] = report
    return world.references[key]


@pytest.mark.parametrize(("fault", "mode", "anyio_backend"), list(matrix()))
async def test_chaos(world: World, fault: str, mode: Mode) -> None:
    cell = CELLS[fault]
    expected = await reference(world, mode, cell.variant)
    plans = cell.plans(mode, expected)
    world.tally.cells += 1
    failures: list[str] = []
    for plan in plans:
        report = await run_scenario(world, mode, cell.variant, plan, read_timeout=cell.timeout)
        world.tally.add(report)
        problems = list(report.problems)
        if report.finished and report.output != expected.output:
            problems.append(f"answer {report.output!r} != fault-free {expected.output!r}")
        if plan and not world.proxy.faults:
            problems.append("the planned fault never fired")
        if cell.extra is not None and report.output is not None:
            problems += cell.extra(report)
        if problems:
            label = ", ".join(f"{r.kind}#{r.nth} {r.fault}" for r in plan) or "model fault"
            failures.append(f"[{label}] errors={report.errors}: " + " / ".join(problems))
    assert not failures, f"{len(failures)} of {len(plans)} runs failed:\n" + "\n".join(failures)
