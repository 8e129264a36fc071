"""agentkit's benchmarks, side by side with hand-written httpx loops: `python -m benchmarks`.

Each row runs its contenders in their own processes against a fake Interactions API server
in another process (`_server`), measures them in interleaved repetitions, and prints the
median ratio with its spread, the target and PASS or MISS. The whole run takes about 3.5
minutes (`--quick`: about 2). `--agentkit PATH` measures another checkout, e.g.
a `git worktree` of an older commit. Nothing here is a test: performance is never asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import httpx

from benchmarks._procs import PACKAGE, ChildFailed, Environment, FakeServer
from benchmarks._report import Line, render
from benchmarks._rows import QUICK, REFERENCES, ROWS, Bench, Budget, run_row

__all__ = ["main"]


def _describe(checkout: Path) -> str:
    """`path (git abc1234, with local changes)` as far as git tells."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "-C", str(checkout), "status", "--porcelain", "--", "agentkit"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(checkout)
    return f"{checkout} (git {commit}{', with local changes' if changes else ''})"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about 2 minutes)")
    parser.add_argument(
        "--agentkit",
        type=Path,
        default=PACKAGE.parent,
        metavar="PATH",
        help="the checkout to measure (the directory holding agentkit/); default: this one",
    )
    parser.add_argument(
        "--rows",
        default=",".join(ROWS),
        help=f"the rows to run, comma-separated (default: all of {','.join(ROWS)})",
    )
    options = parser.parse_args(argv)
    options.agentkit = options.agentkit.resolve()
    if not (options.agentkit / "agentkit" / "__init__.py").is_file():
        parser.error(f"{options.agentkit} holds no agentkit/ package")
    unknown = set(options.rows.split(",")) - set(ROWS)
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}")
    return options


def _measure(options: argparse.Namespace, lines: list[Line], notes: list[str]) -> list[str]:
    """Run the chosen rows into `lines` and `notes`; the failures, if any."""
    budget = QUICK if options.quick else Budget()
    began = time.monotonic()
    failures: list[str] = []
    env = Environment(options.agentkit)
    try:
        server = FakeServer(env)
        try:
            bench = Bench(env, server, budget, notes)
            for name in options.rows.split(","):
                summary = (ROWS[name].__doc__ or "").splitlines()[0]
                elapsed = time.monotonic() - began
                print(f"[{elapsed:4.0f} s] row {name}: {summary}", file=sys.stderr, flush=True)
                row, failure = run_row(bench, name)
                lines += row
                if failure:
                    failures.append(f"row {name}: {failure}")
        finally:
            server.close()
    except ChildFailed as error:
        failures.append(str(error))
    finally:
        env.remove()
    return failures


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the table; 1 when a row failed to measure."""
    options = _parse(argv)
    began = time.monotonic()
    print(
        f"agentkit benchmarks: {_describe(options.agentkit)}\n"
        f"Python {platform.python_version()}, httpx {httpx.__version__}, "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.2f} at the start), "
        f"{'quick' if options.quick else 'full'} run",
        flush=True,
    )
    lines: list[Line] = []
    notes: list[str] = []
    failures = _measure(options, lines, notes)
    print(f"\n{render(lines)}\n\n{REFERENCES}")
    for note in notes:
        print(note)
    print(f"\nTook {time.monotonic() - began:.0f} s.")
    for failure in failures:
        print(f"\nFAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
