"""The command line: `python -m agentkit run ...` and `python -m agentkit emulator ...`.

Expected failures (no API key, a tool that cannot be loaded, an API error) print one line
on stderr and exit non-zero; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType, ModuleType
from typing import IO, Any, NoReturn, cast

from agentkit._agent import Agent
from agentkit._client import Client
from agentkit._events import (
    RunCompleteEvent,
    RunEvent,
    ServerToolEvent,
    TextDeltaEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from agentkit._exceptions import AgentkitError, UsageError
from agentkit._tool import FunctionTool, tool
from agentkit.types import Content

__all__ = ["CLIError", "load_tool", "main"]

DEFAULT_MODEL = "gemini-3.5-flash"
_KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
_MAX_SHOWN = 300  # characters of a tool's arguments or result shown on one progress line

# Exit codes: 1 when the run itself failed, 2 when the command line or its setup is wrong
# (argparse's own convention), 130 after Ctrl-C (the shell's convention for SIGINT).
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """An expected failure: its message is printed as one line and the CLI exits."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the agentkit command line and return its exit code."""
    args = _parser().parse_args(argv)
    try:
        command: Callable[[argparse.Namespace], int] = args.command
        return command(args)
    except CLIError as exc:
        _say(sys.stderr, f"agentkit: error: {exc}")
        return exc.exit_code
    except AgentkitError as exc:
        _say(sys.stderr, f"agentkit: error: {_one_line(str(exc))}")
        return EXIT_RUN_FAILED
    except KeyboardInterrupt:
        _say(sys.stderr, "agentkit: interrupted")
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentkit",
        description="Agentic tool calling over the Gemini Interactions API.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        help="run an agent on a prompt, streaming its answer and its tool calls",
        description=(
            "Run an agent on PROMPT with the given tools. The answer streams to stdout; "
            "each tool call, with its arguments and result, is shown on stderr as it happens. "
            "Uses the Gemini API with GEMINI_API_KEY (or GOOGLE_API_KEY), or the built-in "
            "emulator with --offline."
        ),
        epilog=(
            "example:\n"
            "  agentkit run 'What is the weather in Paris?' --tool weather:get_weather --offline"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("prompt", help="what to ask the agent")
    run.add_argument(
        "--tool",
        "-t",
        dest="tools",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION",
        help=(
            "a tool: a plain function or an @tool function, e.g. weather:get_weather "
            "(repeatable; modules in the current directory are importable)"
        ),
    )
    run.add_argument("--model", "-m", default=DEFAULT_MODEL, help="model id (%(default)s)")
    run.add_argument("--system", "-s", metavar="TEXT", help="system instruction")
    run.add_argument(
        "--offline",
        action="store_true",
        help="use the built-in emulator instead of the Gemini API, even when a key is set",
    )
    run.set_defaults(command=_run_command)

    emulator = commands.add_parser(
        "emulator",
        help="serve the built-in emulator of the Interactions API for other programs",
        description=(
            "Serve the built-in emulator of the Interactions API on HOST:PORT until Ctrl-C. "
            "Point a client at the printed base URL, e.g. "
            "Client(base_url=URL, api_key='test')."
        ),
    )
    emulator.add_argument(
        "--port", "-p", type=_port, default=8080, help="port (%(default)s; 0 picks a free one)"
    )
    emulator.add_argument("--host", default="127.0.0.1", help="address (%(default)s)")
    emulator.set_defaults(command=_emulator_command)
    return parser


def _port(text: str) -> int:
    """A TCP port number, checked here so a typo is a usage error rather than a traceback."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0 to 65535)")
    return port


# -- run ------------------------------------------------------------------------------------


def _run_command(args: argparse.Namespace) -> int:
    tools = [load_tool(spec) for spec in args.tools]
    client, backend = _client(offline=args.offline)
    try:
        agent: Agent[Any, Any] = Agent(
            args.model, tools=tools, system_instruction=args.system, client=client
        )
    except UsageError as exc:  # e.g. two tools with the same name
        client.close()
        raise CLIError(_one_line(str(exc))) from None
    _say(sys.stderr, backend)
    printer = _RunPrinter(sys.stdout, sys.stderr)
    try:
        for event in agent.stream_sync(args.prompt):
            printer.show(event)
    finally:
        client.close()
    printer.end_line()
    if printer.pending:
        calls = ", ".join(printer.pending)
        _say(sys.stderr, f"agentkit: the run paused: {calls} needs approval (not in the CLI)")
        return EXIT_RUN_FAILED
    if printer.status != "completed":
        _say(sys.stderr, f"agentkit: the run ended with status {printer.status!r}")
        return EXIT_RUN_FAILED
    return 0


class _RunPrinter:
    """Shows run events: the answer on `out`, tool progress on `err`, each as it happens."""

    def __init__(self, out: IO[str], err: IO[str]) -> None:
        self.out = out
        self.err = err
        self.status = "completed"
        self.pending: list[str] = []
        self._mid_line = False  # so progress lines never land in the middle of the answer

    def show(self, event: RunEvent) -> None:
        if isinstance(event, TextDeltaEvent):
            self.out.write(event.text)
            self.out.flush()
            self._mid_line = not event.text.endswith("\n")
            return
        self.end_line()
        if isinstance(event, ToolCallEvent):
            _say(self.err, f"-> {event.name}({_shorten(_json(event.arguments))})")
        elif isinstance(event, ToolResultEvent):
            outcome = "error" if event.result.is_error else "ok"
            _say(
                self.err,
                f"<- {event.call.name} [{outcome}]: {_shorten(_result_text(event.result.result))}",
            )
        elif isinstance(event, ServerToolEvent):
            _say(self.err, f"-- server tool: {event.step.type}")
        elif isinstance(event, RunCompleteEvent):
            self.status = event.result.status
            self.pending = [
                f"{call.name}({_json(call.arguments)})" for call in event.result.pending_calls
            ]

    def end_line(self) -> None:
        if self._mid_line:
            _say(self.out, "")
            self._mid_line = False


def _client(*, offline: bool) -> tuple[Client, str]:
    """A sync client, the emulator's when offline, else the Gemini API's; and a line naming it."""
    if offline:
        from agentkit.testing import Emulator

        return Emulator().client(), "Backend: built-in emulator (offline)"
    variable = next((name for name in _KEY_VARIABLES if os.environ.get(name)), None)
    if variable is None:
        raise CLIError(
            "no API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), "
            "or pass --offline to use the built-in emulator"
        )
    return Client(), f"Backend: Gemini API ({variable} is set)"


def load_tool(spec: str) -> FunctionTool[..., Any]:
    """Load the tool named by `module:function` (a plain function or an @tool function).

    Modules in the current directory are importable, as with `python -m`.

    Raises:
        CLIError: The module or the function does not exist, or cannot be a tool.
    """
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise CLIError(f"--tool {spec!r}: expected MODULE:FUNCTION, e.g. weather:get_weather")
    found: object = _import(spec, module_name)
    for part in attribute.split("."):
        owner = found
        try:
            found = getattr(owner, part)
        except AttributeError:
            raise CLIError(
                f"--tool {spec!r}: module {module_name!r} has no function {attribute!r}"
            ) from None
        if inspect.isclass(owner) and inspect.isfunction(inspect.getattr_static(owner, part, None)):
            # Through its class, a method is a function whose `self` the model would fill in.
            raise CLIError(
                f"--tool {spec!r}: {attribute!r} is a method; use a module-level function, "
                "a @staticmethod or a @classmethod"
            )
    if isinstance(found, FunctionTool):
        return cast("FunctionTool[..., Any]", found)
    if inspect.isclass(found) or not callable(found):
        kind = "class" if inspect.isclass(found) else type(found).__name__
        raise CLIError(f"--tool {spec!r}: {attribute!r} is not a function (type: {kind})")
    try:
        return tool(found)
    except AgentkitError as exc:
        raise CLIError(f"--tool {spec!r}: not a valid tool: {_one_line(str(exc))}") from None


def _import(spec: str, module_name: str) -> ModuleType:
    # The console script, unlike `python -m`, does not put the current directory on the path.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name or module_name.startswith(f"{exc.name}."):
            raise CLIError(f"--tool {spec!r}: no module named {module_name!r}") from None
        raise CLIError(f"--tool {spec!r}: importing {module_name!r} failed: {exc}") from None
    except Exception as exc:  # the user's module is broken: say how, in one line
        detail = _one_line(f"{type(exc).__name__}: {exc}")
        raise CLIError(f"--tool {spec!r}: importing {module_name!r} failed: {detail}") from None


def _say(stream: IO[str], line: str) -> None:
    stream.write(line + "\n")
    stream.flush()


def _result_text(result: str | dict[str, Any] | list[Content]) -> str:
    if isinstance(result, list):  # content blocks: the text, and the kind of anything else
        return " ".join(_block_text(block) for block in result)
    return _json(result)


def _block_text(block: Content) -> str:
    text = getattr(block, "text", None)
    return text if isinstance(text, str) else f"<{block.type}>"


def _json(value: object) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:  # a circular reference: default=str handles everything else
        return f"<{type(value).__name__}>"


def _shorten(text: str) -> str:
    text = _one_line(text)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- emulator -------------------------------------------------------------------------------


def _emulator_command(args: argparse.Namespace) -> int:
    from agentkit.testing import Emulator

    def ready(base_url: str) -> None:
        _say(sys.stdout, f"Emulator serving the Interactions API at {base_url}")
        _say(sys.stderr, "Press Ctrl-C to stop.")

    # SIGTERM (from a supervisor or a test) stops the server as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        Emulator().serve_forever(args.host, args.port, ready=ready)
    except KeyboardInterrupt:
        return 0
    except ValueError as exc:  # not a loopback address
        raise CLIError(str(exc)) from None
    except OSError as exc:  # the port is taken, or the address is not one of this machine's
        raise CLIError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0  # pragma: no cover - serve_forever only returns by an interrupt


def _interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt
