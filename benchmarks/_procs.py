"""The processes of a benchmark run: the fake server and the contenders, and where they run.

Every child runs from a scratch directory holding only a link to this package, with
`PYTHONPATH=<scratch>:<agentkit checkout>`: `import benchmarks` finds this harness and
`import agentkit` finds the checkout being measured (ahead of the installed one).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

__all__ = ["ChildFailed", "Contender", "Environment", "FakeServer", "rss_kb"]

PACKAGE = Path(__file__).resolve().parent


class ChildFailed(Exception):
    """A child process failed or answered nonsense; the message says how."""


class Environment:
    """The scratch directory and environment every child process gets."""

    def __init__(self, agentkit: Path) -> None:
        self.agentkit = agentkit
        self.scratch = Path(tempfile.mkdtemp(prefix="agentkit-bench-"))
        (self.scratch / "benchmarks").symlink_to(PACKAGE, target_is_directory=True)
        paths = [str(self.scratch), str(agentkit), os.environ.get("PYTHONPATH", "")]
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
        # Row 7 times imports from cached bytecode, as installed packages have it; inherited,
        # this variable would have every child compile agentkit from source instead.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)

    def popen(self, args: list[str], stderr: IO[bytes]) -> subprocess.Popen[bytes]:
        """Start `python <args>` in the scratch directory, talking over pipes."""
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=self.scratch,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )

    def run(self, args: list[str]) -> subprocess.CompletedProcess[bytes]:
        """Run `python <args>` to the end, its output captured."""
        return subprocess.run(
            [sys.executable, *args], cwd=self.scratch, env=self.env, capture_output=True
        )

    def remove(self) -> None:
        """Delete the scratch directory."""
        shutil.rmtree(self.scratch, ignore_errors=True)


class _LineReader:
    """Lines of a child's stdout, with a timeout (no thread)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.fd = stream.fileno()
        self.buffer = b""

    def line(self, timeout: float | None) -> bytes | None:
        """The next line; None after `timeout` seconds; b"" at the end of the output."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            readable, _, _ = select.select([self.fd], [], [], left)
            if not readable:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return b""
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"


class _Child:
    """A child process with a line protocol on stdin/stdout; stderr goes to a file."""

    def __init__(self, env: Environment, label: str, args: list[str]) -> None:
        self.label = label
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.process = env.popen(args, self.stderr)
        assert self.process.stdout is not None
        assert self.process.stdin is not None
        self.stdin = self.process.stdin
        self.reader = _LineReader(self.process.stdout)

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def receive(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next JSON line; None after `timeout` seconds.

        Raises:
            ChildFailed: The child reported an error, or ended.
        """
        line = self.reader.line(timeout)
        if line is None:
            return None
        if not line:
            self.process.wait(5)
            raise ChildFailed(f"{self.label} ended ({self.process.returncode}).\n{self._tail()}")
        message: dict[str, Any] = json.loads(line)
        if "error" in message:
            raise ChildFailed(f"{self.label} failed:\n{message['error']}{self._tail()}")
        return message

    def _tail(self) -> str:
        self.stderr.seek(0)
        text = self.stderr.read().decode(errors="replace")[-3000:]
        return f"\nits stderr:\n{text}" if text.strip() else ""

    def kill(self) -> None:
        """Kill the process now (this process only, by its id)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        """Close its stdin, which ends it; kill it if it lingers."""
        with contextlib.suppress(OSError):
            self.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()
        self.stderr.close()


class Contender(_Child):
    """A `benchmarks._contender` process."""

    def __init__(self, env: Environment, label: str, args: list[str]) -> None:
        super().__init__(env, label, ["-m", "benchmarks._contender", *args])
        self.agentkit: str | None = None

    def ready(self) -> None:
        """Wait for the contender to validate the server and report ready.

        Raises:
            ChildFailed: It failed, or imported agentkit from elsewhere than the checkout.
        """
        message = self.receive(180)
        if message is None:
            self.kill()
            raise ChildFailed(f"{self.label} was not ready after 180 s.{self._tail()}")
        self.agentkit = message.get("agentkit")

    def send(self, op: str, **params: Any) -> None:
        """Send a command without waiting for its result."""
        self.stdin.write(json.dumps({"op": op, **params}).encode() + b"\n")
        self.stdin.flush()

    def call(self, op: str, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its result."""
        self.send(op, **params)
        result = self.receive()
        assert result is not None
        return result


class FakeServer(_Child):
    """A `benchmarks._server` process on 127.0.0.1."""

    def __init__(self, env: Environment) -> None:
        super().__init__(env, "the fake server", ["-m", "benchmarks._server"])
        message = self.receive(30)
        if message is None:
            self.kill()
            raise ChildFailed(f"the fake server did not start.{self._tail()}")
        self.port = int(message["port"])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._connection: http.client.HTTPConnection | None = None

    def stats(self) -> dict[str, Any]:
        """The server's counters (see `benchmarks._server`)."""
        for attempt in range(2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                self._connection.request("GET", "/_stats")
                stats: dict[str, Any] = json.loads(self._connection.getresponse().read())
                return stats
            except (OSError, http.client.HTTPException):
                self._connection.close()
                self._connection = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def finished(self, key: str) -> int:
        """How many runs of the plan `key` the server answered to the end so far."""
        return int(self.stats()["finished"].get(key, 0))

    def wait_quiet(self, timeout: float = 20.0) -> None:
        """Wait until no request is pending and the contenders' connections are closed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stats = self.stats()
            if stats["pending"] == 0 and stats["connections"] <= 1:
                return
            time.sleep(0.1)

    def close(self) -> None:
        """Stop the server."""
        if self._connection is not None:
            self._connection.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        super().close()


def rss_kb(pid: int) -> int | None:
    """The resident set size of a process in KiB (None where /proc is not available)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None
