"""A contender process: `python -m benchmarks._contender raw|agentkit|floor --plan ...`.

It builds its side (which validates the server with one run), prints a `ready` line, then
answers commands read from stdin, one JSON object a line, with one JSON line each:

- `{"op": "runs", "count": n, "concurrent": bool}` -> `{"wall": s, "cpu": s}`
- `{"op": "streams", "count": n}` -> `{"timings": [[first_delta_s, total_s], ...], ...}`
- `{"op": "creates", "count": n, "stream": bool}` -> `{"wall": s, "cpu": s}`

`cpu` is `time.process_time()`: this process, all its threads. A failure prints
`{"error": traceback}` and exits with status 1. The process ends when stdin closes.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import traceback
from typing import Any

from benchmarks._plan import Plan
from benchmarks._side import Side

__all__ = ["main"]


def _build(options: argparse.Namespace) -> tuple[Side, str | None]:
    """The side, and the file agentkit was imported from (None for a raw side)."""
    plan = Plan.parse(options.plan)
    if options.side == "floor":
        from benchmarks._floor import SocketFloor

        return SocketFloor(plan, options.base_url), None
    if options.side == "raw":
        from benchmarks._raw import RawAsync, RawSync

        raw = RawAsync if options.mode == "async" else RawSync
        return raw(plan, options.base_url, many=options.many, streamed=options.streamed), None
    import agentkit
    from benchmarks._agentkit import AgentAsync, AgentSync

    ours = AgentAsync if options.mode == "async" else AgentSync
    return ours(plan, options.base_url, tool_delay=options.tool_delay), agentkit.__file__


def _execute(side: Side, command: dict[str, Any]) -> dict[str, Any]:
    op, count = command["op"], int(command["count"])
    result: dict[str, Any] = {}
    cpu, wall = time.process_time(), time.perf_counter()
    if op == "runs":
        side.runs(count, concurrent=bool(command.get("concurrent")))
    elif op == "streams":
        result["timings"] = side.streams(count)
    elif op == "creates":
        side.creates(count, stream=bool(command.get("stream")))
    else:
        raise ValueError(f"unknown op {op!r}")
    result.update(wall=time.perf_counter() - wall, cpu=time.process_time() - cpu)
    return result


def _reply(value: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Serve commands until stdin closes; 1 after a failure."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._contender")
    parser.add_argument("side", choices=["raw", "agentkit", "floor"])
    parser.add_argument("--mode", choices=["async", "sync"], required=True)
    parser.add_argument("--plan", required=True, help="a plan key, e.g. r1c1d0l0")
    parser.add_argument("--base-url", help="the fake server; without it, a mock transport")
    parser.add_argument("--tool-delay", type=float, default=0.0, help="seconds each tool takes")
    parser.add_argument("--many", action="store_true", help="raw: no connection limit, 60 s")
    parser.add_argument(
        "--streamed", action="store_true", help="raw: stream each create, rebuild its steps"
    )
    parser.add_argument(
        "--gc-threshold", type=int, help="gc.set_threshold(N): the README's advice for crowds"
    )
    options = parser.parse_args(argv)
    if options.gc_threshold:
        gc.set_threshold(options.gc_threshold)
    try:
        side, agentkit_file = _build(options)
        _reply({"ready": True, "pid": os.getpid(), "agentkit": agentkit_file})
        for line in sys.stdin:
            if line.strip():
                _reply(_execute(side, json.loads(line)))
        side.close()
    except Exception:
        _reply({"error": traceback.format_exc()})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
