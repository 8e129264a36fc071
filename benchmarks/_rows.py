"""The rows of the benchmark table, each measured side by side in its own processes.

Every row starts its contenders (each validates the fake server with one run of its plan),
warms them up, then measures them in interleaved repetitions (A, B, B, A, A, B...) so that
machine noise hits both alike; ratios are taken per repetition pair.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks._plan import Plan
from benchmarks._procs import ChildFailed, Contender, Environment, FakeServer, rss_kb
from benchmarks._report import Line, compare, fmt_kb, fmt_time, measured

__all__ = ["ROWS", "Bench", "Budget"]

IDLE = 5.5
"""Seconds of idleness in row 1: longer than httpx's keep-alive expiry (5 s)."""
MANY = 10_000
LATENCY_MS = 5000
GC_THRESHOLD = 20_000
"""Row 2's second agentkit line: `gc.set_threshold(GC_THRESHOLD)`, as the README advises."""


@dataclass(frozen=True)
class Budget:
    """How much each row measures (a full run takes about 3.5 minutes, a quick one 2)."""

    idle_reps: int = 3  # row 1: each repetition costs an idle spell
    warm_batches: int = 3  # row 1: warm batches per repetition
    cap: float = 50.0  # row 2: seconds before a contender is killed (2x the target)
    cpu_runs: int = 100  # rows 3, 4 and the extra row: runs per measurement
    cpu_reps: int = 7
    mock_runs: int = 500  # row 5
    mock_reps: int = 5
    streams: int = 4  # row 6: streams per measurement
    stream_reps: int = 5
    import_reps: int = 15  # row 7
    tool_reps: int = 5  # row 8


QUICK = Budget(
    idle_reps=2,
    warm_batches=2,
    cap=25.0,  # the target: a run not done by then misses it anyway
    cpu_runs=40,
    cpu_reps=3,
    mock_runs=250,
    mock_reps=3,
    streams=3,
    stream_reps=3,
    import_reps=8,
    tool_reps=3,
)


@dataclass
class Bench:
    """What the rows share: the environment, the fake server and the budget."""

    env: Environment
    server: FakeServer
    budget: Budget
    notes: list[str] = field(default_factory=list[str])

    def start(self, *specs: tuple[str, str, Plan, dict[str, Any]]) -> list[Contender]:
        """Start contenders `(side, mode, plan, options)` together; wait until all are ready.

        Options: `socket` (default True; False for a mock transport), `tool_delay`, `many`,
        `streamed`, `gc_threshold`.
        """
        contenders: list[Contender] = []
        try:
            for side, mode, plan, options in specs:
                args = [side, "--mode", mode, "--plan", plan.key]
                if options.get("socket", True):
                    args += ["--base-url", self.server.base_url]
                if options.get("tool_delay"):
                    args += ["--tool-delay", str(options["tool_delay"])]
                if options.get("many"):
                    args.append("--many")
                if options.get("streamed"):
                    args.append("--streamed")
                if options.get("gc_threshold"):
                    args += ["--gc-threshold", str(options["gc_threshold"])]
                contenders.append(Contender(self.env, f"{side} {mode} {plan.key}", args))
            for contender in contenders:
                contender.ready()
                self._check_checkout(contender)
        except BaseException:
            for contender in contenders:
                contender.kill()
            raise
        return contenders

    def _check_checkout(self, contender: Contender) -> None:
        where = contender.agentkit
        if where is not None and not where.startswith(str(self.env.agentkit)):
            raise ChildFailed(f"{contender.label} imported agentkit from {where}")


def _close(*contenders: Contender) -> None:
    for contender in contenders:
        contender.close()


def _interleaved(
    contenders: list[Contender], reps: int, op: str, **params: Any
) -> list[list[dict[str, Any]]]:
    """`reps` results of the command for each contender, alternating who goes first."""
    results: list[list[dict[str, Any]]] = [[] for _ in contenders]
    for rep in range(reps):
        order = list(range(len(contenders)))
        if rep % 2:
            order.reverse()
        for index in order:
            results[index].append(contenders[index].call(op, **params))
    return results


def _per(results: list[dict[str, Any]], key: str, count: int) -> list[float]:
    return [float(result[key]) / count for result in results]


# -- row 1 ---------------------------------------------------------------------------------------


def concurrent_runs(bench: Bench) -> list[Line]:
    """100 concurrent 2-turn runs: warm pool, and after an idle spell past the keep-alive."""
    plan = Plan(rounds=1, calls=1)
    ours, raw = bench.start(("agentkit", "async", plan, {}), ("raw", "async", plan, {}))
    batch = {"count": 100, "concurrent": True}
    try:
        for contender in (ours, raw):  # the first batch opens the connections
            contender.call("runs", **batch)
        warm: tuple[list[float], list[float]] = ([], [])
        idle: tuple[list[float], list[float]] = ([], [])
        for rep in range(bench.budget.idle_reps):
            order = [(ours, 0), (raw, 1)]
            if rep % 2:
                order.reverse()
            for _ in range(bench.budget.warm_batches):
                for contender, side in order:
                    warm[side].append(contender.call("runs", **batch)["wall"])
            time.sleep(IDLE)
            for contender, side in order:
                idle[side].append(contender.call("runs", **batch)["wall"])
    finally:
        _close(ours, raw)
    return [
        compare("1", "100 concurrent 2-turn runs, warm pool", *warm, 1.2),
        compare("1", f"... after {IDLE:g} s idle (keep-alive expired)", *idle, 1.2),
    ]


# -- row 2 ---------------------------------------------------------------------------------------


@dataclass
class _Crowd:
    """What one contender did with 10,000 runs at once."""

    wall: float | None  # None: killed at the cap
    done: int  # runs whose last answer the server sent (the client may still be reading it)
    kib_per_run: float | None
    at_server: int  # requests waiting at the server when the memory was taken

    def wall_text(self) -> str:
        return "did not finish" if self.wall is None else fmt_time(self.wall)

    def memory(self) -> str:
        return "n/a" if self.kib_per_run is None else fmt_kb(self.kib_per_run)

    def memory_text(self) -> str:
        waiting = "" if self.at_server >= MANY else f" ({self.at_server:,} at server)"
        return self.memory() + waiting

    def story(self, cap: float) -> str:
        """What happened, in words, for the notes."""
        ended = (
            f"finished in {fmt_time(self.wall)}"
            if self.wall is not None
            else f"was stopped at {cap:g} s, the server having sent the last answer of "
            f"{self.done:,} of {MANY:,} runs"
        )
        return (
            f"{ended}; at most {self.at_server:,} requests waited at the server at once"
            f" (RSS growth then: {self.memory()} per run)"
        )


def _crowd(bench: Bench, side: str, gc_threshold: int | None = None) -> _Crowd:
    """Start 10,000 runs at once; sample the server's pending requests and the RSS meanwhile."""
    plan = Plan(rounds=1, calls=1, latency_ms=LATENCY_MS)
    options = {"many": side == "raw", "gc_threshold": gc_threshold}
    (contender,) = bench.start((side, "async", plan, options))
    try:
        before = bench.server.finished(plan.key)
        baseline = rss_kb(contender.pid)
        contender.send("runs", count=MANY, concurrent=True)
        start = time.monotonic()
        peak_pending, peak_rss = -1, 0
        result = None
        while result is None and time.monotonic() - start < bench.budget.cap:
            result = contender.receive(0.1)
            pending = int(bench.server.stats()["pending"])
            rss = rss_kb(contender.pid) or 0
            # The memory of the moment most runs wait at the server (the largest if tied).
            if (pending, rss) > (peak_pending, peak_rss):
                peak_pending, peak_rss = pending, rss
        if result is None:
            contender.kill()
        done = bench.server.finished(plan.key) - before
    finally:
        contender.close()
    bench.server.wait_quiet()
    growth = None if baseline is None or not peak_rss else (peak_rss - baseline) / MANY
    wall = None if result is None else float(result["wall"])
    return _Crowd(wall, done, growth, peak_pending)


def many_runs(bench: Bench) -> list[Line]:
    """10,000 concurrent 2-turn runs over sockets, 5 s model latency per request."""
    floor = _crowd(bench, "floor")
    ours, raw = _crowd(bench, "agentkit"), _crowd(bench, "raw")
    tuned = _crowd(bench, "agentkit", GC_THRESHOLD)
    cap = bench.budget.cap
    bench.notes += [
        f"row 2: agentkit {ours.story(cap)}.",
        f"row 2: agentkit with gc.set_threshold({GC_THRESHOLD:_}) {tuned.story(cap)}.",
        f"row 2: raw httpx {raw.story(cap)}.",
        f"row 2: the server's floor, the same requests over bare asyncio sockets, "
        f"{floor.story(cap)}.",
    ]
    ideal = 2 * LATENCY_MS / 1000
    limit = 2.5 * ideal
    target = f"<= {limit:g} s (ideal {ideal:g} s)"

    def verdict(crowd: _Crowd) -> str:
        return "PASS" if crowd.wall is not None and crowd.wall <= limit else "MISS"

    ratio = ""
    if ours.wall is not None and raw.wall is not None:
        ratio = f"{ours.wall / raw.wall:.2f}x (1 run)"
    all_waiting = ours.at_server >= MANY and ours.kib_per_run is not None
    return [
        Line(
            "2",
            f"{MANY:,} concurrent 2-turn runs, {LATENCY_MS / 1000:g} s latency: wall",
            ours.wall_text(),
            raw.wall_text(),
            ratio,
            target,
            verdict(ours),
        ),
        Line(
            "2",
            f"... with gc.set_threshold({GC_THRESHOLD:_}) (README: many runs at once)",
            tuned.wall_text(),
            "",
            "",
            target,
            verdict(tuned),
        ),
        Line(
            "2",
            "... RSS growth per run waiting at the server",
            ours.memory_text(),
            raw.memory_text(),
            "",
            "<= 50 KB",
            "PASS" if all_waiting and (ours.kib_per_run or 0) <= 50 else "MISS",
        ),
    ]


# -- rows 3 and 4 --------------------------------------------------------------------------------


def _cpu_per_run(bench: Bench, mode: str, number: str, label: str, limit: float) -> list[Line]:
    """Client CPU per run of 3 rounds x 2 calls, agentkit over the raw loop.

    A second line, for information, sets it over the raw loop streaming its creates: the floor
    of exactly-once creates.
    """
    plan = Plan(rounds=3, calls=2)
    contenders = bench.start(
        ("agentkit", mode, plan, {}),
        ("raw", mode, plan, {}),
        ("raw", mode, plan, {"streamed": True}),
    )
    count = bench.budget.cpu_runs
    try:
        for contender in contenders:
            contender.call("runs", count=max(count // 4, 5))
        ours, raw, streamed = (
            _per(result, "cpu", count)
            for result in _interleaved(contenders, bench.budget.cpu_reps, "runs", count=count)
        )
    finally:
        _close(*contenders)
    return [
        compare(number, label, ours, raw, limit),
        compare(number, _STREAMED, ours, streamed, None),
    ]


_STREAMED = "... vs the raw loop streaming its creates"


def sync_cpu(bench: Bench) -> list[Line]:
    """`run_sync`: client CPU per run of 3 rounds x 2 tool calls."""
    return _cpu_per_run(bench, "sync", "3", "run_sync CPU per run (3 rounds x 2 calls)", 1.3)


def async_cpu(bench: Bench) -> list[Line]:
    """`run`: client CPU per run of 3 rounds x 2 tool calls."""
    return _cpu_per_run(bench, "async", "4", "run CPU per run (3 rounds x 2 calls)", 1.1)


# -- row 5 ---------------------------------------------------------------------------------------


def mock_runs(bench: Bench) -> list[Line]:
    """A 2-turn run in process over `httpx.MockTransport`: absolute time per run."""
    plan = Plan(rounds=1, calls=1)
    mock = {"socket": False}
    streamed = {"socket": False, "streamed": True}
    contenders = bench.start(
        ("agentkit", "async", plan, mock),
        ("raw", "async", plan, mock),
        ("raw", "async", plan, streamed),
        ("agentkit", "sync", plan, mock),
        ("raw", "sync", plan, mock),
        ("raw", "sync", plan, streamed),
    )
    count = bench.budget.mock_runs
    try:
        for contender in contenders:
            contender.call("runs", count=count // 4)
        results = _interleaved(contenders, bench.budget.mock_reps, "runs", count=count)
    finally:
        _close(*contenders)
    ours_async, raw_async, streamed_async, ours_sync, raw_sync, streamed_sync = (
        _per(r, "wall", count) for r in results
    )
    return [
        measured("5", "mock transport 2-turn run, async", ours_async, 350e-6, reference=raw_async),
        compare("5", _STREAMED, ours_async, streamed_async, None),
        measured("5", "... sync", ours_sync, 450e-6, reference=raw_sync),
        compare("5", _STREAMED, ours_sync, streamed_sync, None),
    ]


# -- row 6 ---------------------------------------------------------------------------------------


def streams(bench: Bench) -> list[Line]:
    """A streamed answer of 2,000 text deltas: whole stream, and first text delta."""
    plan = Plan(rounds=0, calls=0, deltas=2000)
    contenders = bench.start(("agentkit", "async", plan, {}), ("raw", "async", plan, {}))
    count = bench.budget.streams
    try:
        for contender in contenders:
            contender.call("streams", count=2)
        results = _interleaved(contenders, bench.budget.stream_reps, "streams", count=count)
    finally:
        _close(*contenders)

    def medians(side: list[dict[str, Any]], which: int) -> list[float]:
        return [statistics.median(t[which] for t in result["timings"]) for result in side]

    ours, raw = results
    return [
        compare("6", "2,000-delta stream, whole stream", medians(ours, 1), medians(raw, 1), 1.5),
        compare("6", "... time to first text delta", medians(ours, 0), medians(raw, 0), 1.2),
    ]


# -- row 7 ---------------------------------------------------------------------------------------

_LIST_IMPORTS = """
import ast, json, sys
before = set(sys.modules)
import agentkit
skip = set(sys.stdlib_module_names) | {"agentkit", "benchmarks"}

def third_party(name):
    # _sysconfigdata_* is the stdlib's, named after the platform.
    return name.partition(".")[0] not in skip and not name.startswith("_sysconfigdata")

loaded = [name for name in list(sys.modules) if name not in before and third_party(name)]
direct = []
for name, module in list(sys.modules.items()):
    path = getattr(module, "__file__", None)
    if name.partition(".")[0] != "agentkit" or not path or not path.endswith(".py"):
        continue
    with open(path, encoding="utf-8") as source:
        statements = list(ast.parse(source.read()).body)
    while statements:  # module level, through if/try blocks, not under TYPE_CHECKING
        node = statements.pop(0)
        if isinstance(node, ast.If):
            typing_only = "TYPE_CHECKING" in ast.unparse(node.test)
            statements += node.orelse if typing_only else node.body + node.orelse
        elif isinstance(node, ast.Try):
            statements += node.body + node.orelse + node.finalbody
            statements += [s for handler in node.handlers for s in handler.body]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            subs = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [node.module] + [sub for sub in subs if sub in sys.modules]
        else:
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            direct += [n for n in names if third_party(n) and n not in direct]
print(json.dumps({"file": agentkit.__file__, "loaded": loaded, "direct": direct}))
"""


def _timed(bench: Bench, code: str) -> float:
    start = time.perf_counter()
    done = bench.env.run(["-c", code])
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise ChildFailed(f"python -c {code[:60]!r} failed:\n{done.stderr.decode()[-2000:]}")
    return elapsed


def _importing(modules: list[str]) -> str:
    return f"import importlib\nfor name in {modules!r}:\n    importlib.import_module(name)"


def imports(bench: Bench) -> list[Line]:
    """`import agentkit` over bare python, next to importing its dependencies alone."""
    listed = bench.env.run(["-c", _LIST_IMPORTS])
    if listed.returncode:
        raise ChildFailed(f"import agentkit failed:\n{listed.stderr.decode()[-2000:]}")
    found = json.loads(listed.stdout)
    if not found["file"].startswith(str(bench.env.agentkit)):
        raise ChildFailed(f"agentkit was imported from {found['file']}")
    codes = {
        "bare": "pass",
        "direct": _importing(found["direct"]),
        "loaded": _importing(found["loaded"]),
        "agentkit": "import agentkit",
    }
    for code in codes.values():  # write the bytecode caches
        _timed(bench, code)
    times: dict[str, list[float]] = {name: [] for name in codes}
    names = list(codes)
    for rep in range(bench.budget.import_reps):
        for name in names[rep % 4 :] + names[: rep % 4]:
            times[name].append(_timed(bench, codes[name]))

    def over_bare(name: str) -> list[float]:
        return [t - b for t, b in zip(times[name], times["bare"], strict=True)]

    ours = over_bare("agentkit")
    packages = sorted({m.partition(".")[0] for m in found["loaded"]})
    bench.notes += [
        f"row 7: agentkit's module-level imports of its dependencies: {', '.join(found['direct'])}"
        f"; bare python starts in {fmt_time(statistics.median(times['bare']))}.",
        f"row 7: all they load: {len(found['loaded'])} modules of {', '.join(packages)}.",
    ]
    return [
        compare("7", "import agentkit vs importing its imports", ours, over_bare("direct"), 1.35),
        compare("7", "... vs every dependency module it loads", ours, over_bare("loaded"), None),
    ]


# -- row 8 ---------------------------------------------------------------------------------------


def parallel_tools(bench: Bench) -> list[Line]:
    """One response with 20 calls of tools that each take 0.1 s: wall per run."""
    plan = Plan(rounds=1, calls=20)
    slow = {"tool_delay": 0.1}
    contenders = bench.start(("agentkit", "sync", plan, slow), ("agentkit", "async", plan, slow))
    try:
        for contender in contenders:
            contender.call("runs", count=1)
        sync, asynchronous = _interleaved(contenders, bench.budget.tool_reps, "runs", count=1)
    finally:
        _close(*contenders)
    return [
        measured("8", "20 tools x 0.1 s, sync tools, run_sync", _per(sync, "wall", 1), 0.110),
        measured("8", "... async tools, run", _per(asynchronous, "wall", 1), 0.110),
    ]


# -- extra ---------------------------------------------------------------------------------------


def stored_create(bench: Bench) -> list[Line]:
    """A stored create through a stream (as runs make them) next to a plain JSON create."""
    plan = Plan(rounds=0, calls=0)
    (contender,) = bench.start(("agentkit", "async", plan, {}))
    count = bench.budget.cpu_runs
    streamed: list[float] = []
    plain: list[float] = []
    try:
        contender.call("creates", count=count // 4, stream=True)
        contender.call("creates", count=count // 4, stream=False)
        for rep in range(bench.budget.cpu_reps):
            for stream in (rep % 2 == 0, rep % 2 == 1):
                result = contender.call("creates", count=count, stream=stream)
                (streamed if stream else plain).append(result["cpu"] / count)
    finally:
        _close(contender)
    return [compare("+", "stored create CPU: through a stream vs JSON", streamed, plain, None)]


ROWS: dict[str, Callable[[Bench], list[Line]]] = {
    "1": concurrent_runs,
    "2": many_runs,
    "3": sync_cpu,
    "4": async_cpu,
    "5": mock_runs,
    "6": streams,
    "7": imports,
    "8": parallel_tools,
    "extra": stored_create,
}

REFERENCES = """\
reference column: rows 1-4 and 6, the same requests through a hand-written httpx loop (row 2:
no connection limit); row 5, that loop over the same mock transport (for information); "vs the
raw loop streaming its creates", that loop streaming each create and rebuilding its steps from
the events, as agentkit's stored runs do to learn each id before the output (for information:
the floor of exactly-once creates); row 7, importing, without agentkit, what agentkit imports
(then all it loads); the extra row, a plain JSON create through agentkit; row 8, none (ideal:
100 ms).
Ratios are agentkit / reference per interleaved repetition: median [min-max]."""


def run_row(bench: Bench, name: str) -> tuple[list[Line], str | None]:
    """The lines of one row, or a FAILED line and the reason."""
    try:
        return ROWS[name](bench), None
    except ChildFailed as failure:
        print(f"row {name} failed", file=sys.stderr)
        label = (ROWS[name].__doc__ or "").splitlines()[0]
        return [Line(name, label, verdict="FAILED")], str(failure)
