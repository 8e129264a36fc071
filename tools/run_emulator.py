"""Serve the agentkit emulator on 127.0.0.1 for manual testing and benchmarks.

    python tools/run_emulator.py --port 8000 --latency 0.2 --background-polls 3

Then point any client at it, e.g. `Client(base_url="http://127.0.0.1:8000", api_key="x")`,
or `curl -s localhost:8000/v1beta/interactions -d '{"model": "m", "input": "hi"}'`.
`python -m agentkit emulator` does the same with the default settings; this launcher also
exposes the emulator's knobs. Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse

from agentkit.testing import Emulator


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the agentkit emulator on loopback.")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (%(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port, 0 for any (%(default)s)")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds before each answer (%(default)s)"
    )
    parser.add_argument(
        "--background-polls",
        type=int,
        default=1,
        help="GETs a background interaction stays in_progress (%(default)s)",
    )
    parser.add_argument("--api-key", help="accept only this key (default: any key)")
    args = parser.parse_args()

    emulator = Emulator(
        background_polls=args.background_polls, latency=args.latency, api_key=args.api_key
    )
    try:
        emulator.serve_forever(
            args.host, args.port, ready=lambda url: print(f"Emulator at {url}", flush=True)
        )
    except KeyboardInterrupt:
        print("Stopped.")
    except (ValueError, OSError, OverflowError) as exc:  # not loopback, port taken or invalid
        parser.error(f"cannot serve on {args.host}:{args.port}: {exc}")


if __name__ == "__main__":
    main()
