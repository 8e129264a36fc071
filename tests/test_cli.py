"""The command line, driven as a subprocess: `python -m agentkit run|emulator ...`."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _offline import fenced

from agentkit import _cli
from agentkit._cli import main
from agentkit._client import Client
from agentkit._tool import FunctionTool
from agentkit.testing import Emulator, Reply, Script, function_call, text
from agentkit.testing import google_search as emulated_search
from agentkit.types import Content, ImageContent, TextContent

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120  # seconds; generous for slow CI machines, never reached when all is well

TOOLS_MODULE = '''
from typing import Literal

from agentkit._tool import tool


@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict:
    """Get the current weather in a city.

    Args:
        city: The city name.
        unit: The temperature unit.
    """
    return {"city": city, "temperature": 21, "unit": unit}


def add(x: int, y: int) -> int:
    """Add two numbers (a plain function, not decorated)."""
    return x + 1000 * y


def numbers(n: int):
    """A generator: it cannot be a tool."""
    yield n


class Shop:
    """A class: calling it makes a Shop, which is no tool's result."""

    def price(self, item: str) -> int:
        """A method: through the class, `self` would be a parameter for the model."""
        return 3

    @staticmethod
    def discount(item: str) -> int:
        """A static method: a fine tool."""
        return 10


ANSWER = 42
'''


def cli_env(*, key: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    if key is not None:
        env["GEMINI_API_KEY"] = key
    # Works whether or not agentkit is installed in the environment running the tests.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def agentkit(
    *args: str, cwd: Path = ROOT, key: str | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "agentkit", *args]
    if key is not None:  # the CLI would aim at the real API: the child runs behind the fence
        main = "import runpy; runpy.run_module('agentkit', run_name='__main__', alter_sys=True)"
        command = [sys.executable, "-c", fenced(f"sys.argv[1:] = {list(args)!r}; {main}")]
    return subprocess.run(
        command,
        cwd=cwd,
        env=cli_env(key=key),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with a module of tools, used as the current directory."""
    (tmp_path / "mytools.py").write_text(textwrap.dedent(TOOLS_MODULE), encoding="utf-8")
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom at import')\n")
    # Imports a missing module whose name is a prefix of its own: still an import failure.
    (tmp_path / "mytools_extra.py").write_text("import mytools_\n")
    return tmp_path


def assert_one_error_line(completed: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert completed.returncode != 0
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("agentkit: error: ")
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ((), "emulator  serve the built-in emulator"),
        (("run",), "--tool MODULE:FUNCTION"),
        (("emulator",), "--port"),
    ],
)
def test_help_on_every_command(command: tuple[str, ...], expected: str) -> None:
    completed = agentkit(*command, "--help")

    assert completed.returncode == 0
    assert completed.stdout.startswith("usage: agentkit")
    assert expected in completed.stdout


def test_no_command_is_a_usage_error() -> None:
    completed = agentkit()

    assert completed.returncode == 2
    assert "usage: agentkit" in completed.stderr


def test_run_offline_shows_tool_calls_and_streams_the_answer(project: Path) -> None:
    completed = agentkit(
        "run",
        "What's the weather in Paris?",
        "--tool",
        "mytools:get_weather",
        "--tool",
        "mytools:add",
        "--system",
        "Be brief.",
        "--offline",
        cwd=project,
    )

    assert completed.returncode == 0, completed.stderr
    progress = completed.stderr.splitlines()
    assert progress[0] == "Backend: built-in emulator (offline)"
    # Each call with its arguments (the city from the prompt), then each result.
    assert '-> get_weather({"city": "Paris", "unit": "celsius"})' in progress
    assert '-> add({"x": 1, "y": 1})' in progress
    assert '<- get_weather [ok]: {"city":"Paris","temperature":21,"unit":"celsius"}' in progress
    assert "<- add [ok]: 1001" in progress
    # The answer (built from the results) is on stdout, ending with a newline.
    assert completed.stdout.endswith("\n")
    assert "get_weather returned" in completed.stdout
    assert "add returned 1001." in completed.stdout


def test_run_offline_without_tools_answers(project: Path) -> None:
    completed = agentkit("run", "hello there", "--offline", cwd=project)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "You said: hello there\n"


def test_offline_uses_the_emulator_even_with_a_key(project: Path) -> None:
    completed = agentkit("run", "hi", "--offline", cwd=project, key="not-a-real-key")

    assert completed.returncode == 0, completed.stderr
    assert "Backend: built-in emulator (offline)" in completed.stderr
    assert completed.stdout == "You said: hi\n"


def test_missing_key_is_one_line(project: Path) -> None:
    completed = agentkit("run", "hi", "--tool", "mytools:get_weather", cwd=project)

    assert completed.returncode == 2
    assert_one_error_line(completed, "GEMINI_API_KEY", "GOOGLE_API_KEY", "--offline")


@pytest.mark.parametrize(
    ("spec", "needles"),
    [
        ("nosuchmodule:f", ["no module named 'nosuchmodule'"]),
        ("mytools:nosuchfunction", ["has no function 'nosuchfunction'"]),
        ("mytools:ANSWER", ["'ANSWER' is not a function"]),
        ("mytools:numbers", ["not a valid tool", "generator"]),
        ("mytools:Shop", ["'Shop' is not a function (type: class)"]),
        ("mytools:Shop.price", ["'Shop.price' is a method"]),
        ("broken:anything", ["importing 'broken' failed", "RuntimeError: boom at import"]),
        ("mytools_extra:f", ["importing 'mytools_extra' failed", "No module named 'mytools_'"]),
        ("mytools", ["expected MODULE:FUNCTION"]),
    ],
)
def test_bad_tool_is_one_line(project: Path, spec: str, needles: list[str]) -> None:
    completed = agentkit("run", "hi", "--tool", spec, "--offline", cwd=project)

    assert completed.returncode == 2
    assert_one_error_line(completed, repr(spec), *needles)


def test_two_tools_with_one_name_is_one_line(project: Path) -> None:
    tool = "mytools:get_weather"
    completed = agentkit("run", "hi", "--tool", tool, "--tool", tool, "--offline", cwd=project)

    assert completed.returncode == 2
    assert_one_error_line(completed, "Two tools are named 'get_weather'")


def test_a_static_method_is_a_tool(project: Path) -> None:
    completed = agentkit("run", "hi", "--tool", "mytools:Shop.discount", "--offline", cwd=project)

    assert completed.returncode == 0, completed.stderr
    assert "<- discount [ok]: 10" in completed.stderr.splitlines()


def test_emulator_serves_other_programs() -> None:
    command = [sys.executable, "-m", "agentkit", "emulator", "--port", "0"]
    with subprocess.Popen(
        command, cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as server:
        try:
            line = _read_line(server)
            assert line.startswith("Emulator serving the Interactions API at http://127.0.0.1:")
            base_url = line.rsplit(" ", 1)[1]

            with Client(base_url=base_url, api_key="any-key", max_retries=0) as client:
                interaction = client.interactions.create(model="gemini-3.5-flash", input="ping")
            assert interaction.status == "completed"
            assert interaction.output_text == "You said: ping"
        finally:
            server.terminate()
            _, stderr = server.communicate(timeout=TIMEOUT)
    # SIGTERM stops it as cleanly as Ctrl-C: no traceback, exit 0.
    assert server.returncode == 0, stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(("port", "message"), [("99999", "0 to 65535"), ("http", "'http'")])
def test_emulator_refuses_a_bad_port(port: str, message: str) -> None:
    completed = agentkit("emulator", "--port", port)

    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert completed.stderr.splitlines()[-1].startswith("agentkit emulator: error: argument --port")
    assert message in completed.stderr


def test_emulator_refuses_a_non_loopback_host() -> None:
    completed = agentkit("emulator", "--host", "0.0.0.0", "--port", "0")

    assert completed.returncode == 2
    assert_one_error_line(completed, "loopback")


def _read_line(process: subprocess.Popen[str]) -> str:
    """The first stdout line of `process`, without hanging the test if it never comes."""
    lines: queue.Queue[str] = queue.Queue()
    stdout = process.stdout
    assert stdout is not None
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=TIMEOUT).rstrip("\n")
    except queue.Empty:  # pragma: no cover - only when the server is broken
        pytest.fail("the emulator printed no URL")


# -- the same CLI in-process: coverage counts it, and faults can be injected ----------------


@pytest.fixture
def in_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """`project` as the current directory; sys.path and the imported modules restored after."""
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    yield project
    # Forget the project's modules: other tests write their own under the same names.
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(project)):
            del sys.modules[name]


def use_emulator(monkeypatch: pytest.MonkeyPatch, emulator: Emulator, **options: str) -> None:
    def client(*, offline: bool) -> tuple[Client, str]:
        return emulator.client(**options), "Backend: a test emulator"

    monkeypatch.setattr(_cli, "_client", client)


def ignore_signals(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record the handlers the CLI installs instead of installing them in pytest's process."""
    handlers: list[object] = []

    def record(signum: int, handler: object) -> None:
        handlers.append(handler)

    monkeypatch.setattr(signal, "signal", record)
    return handlers


def test_main_runs_offline(in_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "Weather?", "--tool", "mytools:get_weather", "--offline"])

    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith("get_weather returned")
    assert '-> get_weather({"city": "city", "unit": "celsius"})' in err.splitlines()


def test_main_puts_the_current_directory_on_the_path(in_project: Path) -> None:
    sys.path[:] = [entry for entry in sys.path if entry not in ("", os.getcwd())]

    assert _cli.load_tool("mytools:add").name == "add"


def test_main_shows_errors_server_tools_and_text_around_them(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = Script(
        [
            [text("Let me check."), function_call("add", {"x": "not a number", "y": 1})],
            [*emulated_search("weather"), text("Done.")],
        ]
    )
    use_emulator(monkeypatch, Emulator(script))

    code = main(["run", "Add", "--tool", "mytools:add"])

    out, err = capsys.readouterr()
    assert code == 0
    assert out == "Let me check.\nDone.\n"
    lines = err.splitlines()
    assert lines[0] == "Backend: a test emulator"
    assert lines[1] == '-> add({"x": "not a number", "y": 1})'
    assert lines[2].startswith("<- add [error]: ")
    assert "-- server tool: google_search_call" in lines
    assert "-- server tool: google_search_result" in lines


def test_main_reports_an_api_error_in_one_line(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_emulator(monkeypatch, Emulator(api_key="the-right-key"), api_key="a-wrong-key")

    code = main(["run", "hi"])

    _, err = capsys.readouterr()
    assert code == 1
    assert err.splitlines()[0] == "Backend: a test emulator"
    assert err.splitlines()[1].startswith("agentkit: error: ")
    assert len(err.splitlines()) == 2
    assert "a-wrong-key" not in err


def test_main_fails_when_the_run_does_not_complete(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_emulator(monkeypatch, Emulator(Script([Reply([text("Half an ans")], status="incomplete")])))

    code = main(["run", "hi"])

    out, err = capsys.readouterr()
    assert code == 1
    assert out == "Half an ans\n"
    assert err.splitlines()[-1] == "agentkit: the run ended with status 'incomplete'"


def test_main_stops_at_a_call_that_needs_approval(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_project / "payments.py").write_text(
        textwrap.dedent(
            """
            from agentkit._tool import tool

            @tool(needs_approval=True)
            def pay(amount: int) -> str:
                \"\"\"Pay someone.\"\"\"
                return "paid"
            """
        )
    )

    code = main(["run", "Pay", "--tool", "payments:pay", "--offline"])

    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert err[-1] == 'agentkit: the run paused: pay({"amount": 1}) needs approval (not in the CLI)'


def test_main_reports_a_missing_key_and_bad_tools(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "hi"]) == 2
    assert main(["run", "hi", "--tool", "mytools:numbers"]) == 2
    assert main(["run", "hi", "--tool", "broken:f"]) == 2
    assert main(["run", "hi", "--tool", "nosuchmodule:f"]) == 2
    twice = ["--tool", "mytools:add", "--tool", "mytools:add"]
    assert main(["run", "hi", *twice, "--offline"]) == 2

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 5
    assert all(line.startswith("agentkit: error: ") for line in lines)


def test_main_reports_an_import_error_inside_the_module(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_project / "needs_missing.py").write_text("import nosuchdependency\n")

    assert main(["run", "hi", "--tool", "needs_missing:f", "--offline"]) == 2
    err = capsys.readouterr().err
    assert "importing 'needs_missing' failed: No module named 'nosuchdependency'" in err


def test_main_interrupted(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*, offline: bool) -> tuple[Client, str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(_cli, "_client", interrupted)

    assert main(["run", "hi"]) == 130
    assert capsys.readouterr().err == "agentkit: interrupted\n"


def test_main_serves_the_emulator_until_interrupted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    handlers = ignore_signals(monkeypatch)

    def serve_forever(
        self: Emulator, host: str, port: int, *, ready: Callable[[str], None]
    ) -> None:
        ready(f"http://{host}:{port}")
        raise KeyboardInterrupt

    monkeypatch.setattr(Emulator, "serve_forever", serve_forever)

    assert main(["emulator", "--port", "9999"]) == 0
    out, err = capsys.readouterr()
    assert out == "Emulator serving the Interactions API at http://127.0.0.1:9999\n"
    assert err == "Press Ctrl-C to stop.\n"
    # SIGTERM gets a handler that stops the server like Ctrl-C.
    handler = handlers[0]
    assert callable(handler)
    with pytest.raises(KeyboardInterrupt):
        handler(signal.SIGTERM, None)


def test_main_reports_a_port_in_use(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ignore_signals(monkeypatch)

    def serve_forever(
        self: Emulator, host: str, port: int, *, ready: Callable[[str], None]
    ) -> None:
        raise OSError(98, "Address already in use")

    monkeypatch.setattr(Emulator, "serve_forever", serve_forever)

    assert main(["emulator", "--port", "8080"]) == 2
    assert capsys.readouterr().err == (
        "agentkit: error: cannot serve on 127.0.0.1:8080: Address already in use\n"
    )


@pytest.mark.parametrize("port", ["65536", "-1", "http"])
def test_main_refuses_a_bad_port(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["emulator", "--port", port])

    assert exited.value.code == 2
    assert "agentkit emulator: error: argument --port/-p: " in capsys.readouterr().err


def test_main_refuses_a_non_loopback_host(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ignore_signals(monkeypatch)

    assert main(["emulator", "--host", "192.0.2.1", "--port", "0"]) == 2
    assert "use a loopback address" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mytools", "expected MODULE:FUNCTION"),
        (":add", "expected MODULE:FUNCTION"),
        ("mytools:", "expected MODULE:FUNCTION"),
        ("mytools:nope", "module 'mytools' has no function 'nope'"),
        ("mytools:ANSWER", "'ANSWER' is not a function (type: int)"),
        ("mytools:Shop", "'Shop' is not a function (type: class)"),
        ("mytools:Shop.price", "'Shop.price' is a method; use a module-level function"),
        ("mytools_extra:f", "importing 'mytools_extra' failed: No module named 'mytools_'"),
    ],
)
def test_load_tool_errors(in_project: Path, spec: str, message: str) -> None:
    with pytest.raises(_cli.CLIError, match=re.escape(message)):
        _cli.load_tool(spec)


def test_load_tool_takes_plain_functions_and_tools(in_project: Path) -> None:
    plain = _cli.load_tool("mytools:add")
    decorated = _cli.load_tool("mytools:get_weather")

    assert isinstance(plain, FunctionTool)
    assert decorated.declaration["name"] == "get_weather"
    assert _cli.load_tool("mytools:get_weather") is decorated  # an @tool is used as it is


def test_online_client_needs_a_key_and_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", "not-a-real-key")

    client, backend = _cli._client(offline=False)  # pyright: ignore[reportPrivateUsage]
    with client:
        assert isinstance(client, Client)
    assert backend == "Backend: Gemini API (GOOGLE_API_KEY is set)"


def test_results_are_shown_briefly() -> None:
    # Private helpers, tested directly: the emulator cannot make every kind of result.
    blocks: list[Content] = [TextContent(text="a chart:"), ImageContent(uri="gs://b/c.png")]
    circular: list[object] = []
    circular.append(circular)

    assert _cli._result_text(blocks) == "a chart: <image>"  # pyright: ignore[reportPrivateUsage]
    assert _cli._result_text({"k": "é"}) == '{"k": "é"}'  # pyright: ignore[reportPrivateUsage]
    assert _cli._json(circular) == "<list>"  # pyright: ignore[reportPrivateUsage]
    shown = _cli._shorten("word " * 100)  # pyright: ignore[reportPrivateUsage]
    assert len(shown) == 300
    assert shown.endswith("...")
