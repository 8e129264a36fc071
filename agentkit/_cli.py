"""The command line: `python -m agentkit run / view / emulator ...`.

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
from pathlib import Path
from types import FrameType, ModuleType
from typing import IO, Any, NoReturn, cast

import pydantic

from agentkit import __version__
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
from agentkit._exceptions import AgentkitError, APIError, RunError, UsageError
from agentkit._hooks import Hooks
from agentkit._result import RunResult, RunState
from agentkit._timeline_data import summary
from agentkit._timeline_html import page
from agentkit._tool import FunctionTool, tool
from agentkit.types import Content, FunctionCallStep, FunctionResultStep

__all__ = ["CLIError", "RunPrinter", "choose_printer", "load_tool", "main"]

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
    parser.add_argument("--version", action="version", version=f"agentkit {__version__}")
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
            "examples:\n"
            "  agentkit run 'What is the weather in Paris?' --tool weather:get_weather --offline\n"
            '  agentkit run \'Name three rivers\' --output-schema \'{"type": "array", '
            '"items": {"type": "string"}}\'\n'
            "  agentkit run 'Research solid-state batteries' "
            "--agent deep-research-pro-preview-12-2025 --background"
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
    target = run.add_mutually_exclusive_group()
    target.add_argument("--model", "-m", help=f"model id (default: {DEFAULT_MODEL})")
    target.add_argument(
        "--agent", "-a", metavar="AGENT_ID", help="a managed agent id instead of a model"
    )
    run.add_argument("--system", "-s", metavar="TEXT", help="system instruction")
    run.add_argument(
        "--output-schema",
        "-o",
        type=_output_schema,
        metavar="FILE_OR_JSON",
        help=(
            "a JSON Schema (a file, or the JSON itself) the answer must fit; "
            "the answer is printed as indented JSON"
        ),
    )
    run.add_argument(
        "--background",
        action="store_true",
        help="run as a background interaction, polled until it ends",
    )
    run.add_argument(
        "--stateless",
        action="store_true",
        help="store nothing on the server (store=false): the history is resent each turn",
    )
    run.add_argument(
        "--offline",
        action="store_true",
        help="use the built-in emulator instead of the Gemini API, even when a key is set",
    )
    run.add_argument(
        "--save",
        type=Path,
        metavar="FILE",
        help="write the run's state as JSON to FILE (see it with `agentkit view FILE`)",
    )
    run.set_defaults(command=_run_command)

    view = commands.add_parser(
        "view",
        help="write a saved run as a self-contained HTML page",
        description=(
            "Read a run saved as JSON (`agentkit run --save FILE`, or `RunState.to_json()`) "
            "and write one HTML page: a timeline of its requests and tool calls, every step, "
            "the tokens of each turn. The page needs no network to open."
        ),
    )
    view.add_argument("file", type=Path, help="the saved run (JSON)")
    view.add_argument(
        "--output", "-o", type=Path, help="the page to write (default: FILE with .html)"
    )
    view.set_defaults(command=_view_command)

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


def _output_schema(text: str) -> dict[str, Any]:
    """A JSON Schema, from a file or given inline, checked here so a mistake is a usage error."""
    source = "the schema"
    if Path(text).is_file():
        source = f"the schema file {text!r}"
        try:
            text = Path(text).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise argparse.ArgumentTypeError(f"cannot read {source}: {exc}") from None
    elif not text.lstrip().startswith(("{", "[")):
        raise argparse.ArgumentTypeError(f"no such file, and not JSON: {text!r}")
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(schema, dict):
        kind = type(schema).__name__
        raise argparse.ArgumentTypeError(f"{source} is not a JSON Schema object (a {kind})")
    return cast("dict[str, Any]", schema)


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
    schema: dict[str, Any] | None = args.output_schema
    model = None if args.agent else (args.model or DEFAULT_MODEL)
    printer = choose_printer(json_output=schema is not None)
    client, backend = _client(offline=args.offline)
    try:
        agent: Agent[Any, Any] = Agent(
            model,
            agent=args.agent,
            tools=tools,
            system_instruction=args.system,
            response_format=None if schema is None else _json_format(schema),
            store=not args.stateless,
            background=args.background,
            client=client,
            # When each tool starts (the live view's spinners) and ends, from the hooks, which
            # run as it happens; the stream's events then only fill in what the hooks missed.
            hooks=Hooks(before_tool=printer.tool_started, after_tool=printer.tool_finished),
        )
    except UsageError as exc:  # e.g. two tools with the same name
        client.close()
        raise CLIError(_one_line(str(exc))) from None
    _say(sys.stderr, backend)
    try:
        for event in agent.stream_sync(args.prompt):
            printer.show(event)
    except (APIError, RunError) as exc:  # the run so far is worth a look too
        if args.save is not None and exc.partial is not None:
            _write(args.save, exc.partial.state.to_json())
        raise
    finally:
        client.close()
        printer.close()
    if args.save is not None and printer.result is not None:
        _write(args.save, printer.result.state.to_json())
    printer.summarize()
    valid = printer.answer is None or printer.show_answer()
    if printer.pending:
        calls = ", ".join(printer.pending)
        _say(sys.stderr, f"agentkit: the run paused: {calls} needs approval (not in the CLI)")
        return EXIT_RUN_FAILED
    if printer.status != "completed":
        _say(sys.stderr, f"agentkit: the run ended with status {printer.status!r}")
        return EXIT_RUN_FAILED
    if not valid:
        _say(sys.stderr, "agentkit: the answer is not valid JSON")
        return EXIT_RUN_FAILED
    return 0


def _json_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "text", "mime_type": "application/json", "schema": schema}


class RunPrinter:
    """Shows run events: the answer on `out`, tool progress on `err`, each as it happens.

    A JSON answer (`json_output`) is held back and shown whole, indented, at the end; so is
    an answer that arrived without being streamed (fetched by a poll).
    """

    def __init__(self, out: IO[str], err: IO[str], *, json_output: bool = False) -> None:
        self.out = out
        self.err = err
        self.status = "completed"
        self.pending: list[str] = []
        self.answer: str | None = None
        """The answer still to show when the run ends (see `show_answer`)."""
        self._json_output = json_output
        self._streamed = False
        self._mid_line = False  # so progress lines never land in the middle of the answer
        self._shown: set[str] = set()  # call ids whose results were shown
        self.result: RunResult[Any] | None = None

    def show(self, event: RunEvent) -> None:
        if isinstance(event, TextDeltaEvent):
            self._streamed = True
            if not self._json_output:
                self.out.write(event.text)
                self.out.flush()
                self._mid_line = not event.text.endswith("\n")
            return
        self.end_line()
        if isinstance(event, ToolCallEvent):
            self.tool_called(event.call)
        elif isinstance(event, ToolResultEvent):
            # Most results were shown by `tool_finished` as their tools ended; these are the
            # calls answered without running (invalid arguments, an unknown tool).
            if event.result.call_id not in self._shown:
                self.tool_finished(event.call, event.result)
        elif isinstance(event, ServerToolEvent):
            _say(self.err, f"-- server tool: {event.step.type}")
        elif isinstance(event, RunCompleteEvent):
            self.result = event.result
            self.status = event.result.status
            self.pending = [
                f"{call.name}({_json(call.arguments)})" for call in event.result.pending_calls
            ]
            text = event.result.output_text
            if text and (self._json_output or not self._streamed):
                self.answer = text

    def tool_called(self, call: FunctionCallStep) -> None:
        """Show a call as the model makes it."""
        _say(self.err, f"-> {self.call_text(call)}")

    def tool_started(self, call: FunctionCallStep) -> None:
        """A tool starts running (a `before_tool` hook; the plain view shows calls as made)."""

    def tool_finished(self, call: FunctionCallStep, result: FunctionResultStep) -> None:
        """Show a tool's result (an `after_tool` hook: it runs as soon as the tool ends)."""
        self._shown.add(result.call_id)
        outcome = "error" if result.is_error else "ok"
        _say(self.err, f"<- {call.name} [{outcome}]: {self.result_text(result)}")

    @staticmethod
    def call_text(call: FunctionCallStep) -> str:
        """A call on one line: `name({"arg": ...})`."""
        return f"{call.name}({_shorten(_json(call.arguments))})"

    @staticmethod
    def result_text(result: FunctionResultStep) -> str:
        """A tool's result on one line, shortened."""
        return _shorten(_result_text(result.result))

    def show_answer(self) -> bool:
        """Print the answer held back; False when a JSON answer is not JSON (shown as is)."""
        text = self.answer or ""
        if self._json_output:
            try:
                text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
            except ValueError:
                _say(self.out, text)
                return False
        _say(self.out, text)
        return True

    def end_line(self) -> None:
        if self._mid_line:
            _say(self.out, "")
            self._mid_line = False

    def close(self) -> None:
        """The run is over (or failed): finish the line in progress."""
        self.end_line()

    def summarize(self) -> None:
        """Close with one line: turns, tool calls, tokens and time of the run."""
        if self.result is not None:
            _say(self.err, f"agentkit: {summary(self.result.state, self.result.status)}")


def choose_printer(*, json_output: bool) -> RunPrinter:
    """A live tree of the tool calls on a terminal with `rich` installed, else plain lines."""
    try:
        from agentkit.cli._live import LivePrinter, terminal
    except ImportError:  # rich is the optional `agentkit[cli]` extra
        return RunPrinter(sys.stdout, sys.stderr, json_output=json_output)
    console = terminal(sys.stderr)
    if console is None:
        return RunPrinter(sys.stdout, sys.stderr, json_output=json_output)
    return LivePrinter(sys.stdout, console, json_output=json_output)


# -- view -----------------------------------------------------------------------------------


def _view_command(args: argparse.Namespace) -> int:
    source: Path = args.file
    try:
        state = RunState.from_json(source.read_bytes())
    except OSError as exc:
        raise CLIError(f"cannot read {source}: {exc.strerror or exc}") from None
    except pydantic.ValidationError as exc:
        problem = _one_line(str(exc.errors(include_url=False)[0]["msg"]))
        raise CLIError(f"{source} is not a saved run (RunState JSON): {problem}") from None
    target: Path = args.output or source.with_suffix(".html")
    _write(target, page(state))
    _say(sys.stdout, str(target))
    return 0


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror or exc}") from None


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
