"""Tools from MCP servers: real servers (stdio subprocesses, streamable HTTP on 127.0.0.1),
agents run against the emulator, async and sync."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp", reason="needs agentkit[mcp]")

import anyio
import mcp.types as mcp_types
from _agent_helpers import MODEL, bodies, result_text
from _mcp_servers import SCRIPT, serve_http

from agentkit import Agent, Hooks, RunResult, UsageError, tool
from agentkit.events import ToolCallEvent, ToolResultEvent
from agentkit.exceptions import InternalServerError
from agentkit.journal import InMemoryJournal
from agentkit.mcp import MCPServerError, MCPServerHTTP, MCPServerStdio
from agentkit.testing import Emulator, Script, function_call
from agentkit.types import FunctionCallStep

ROOT = Path(__file__).resolve().parent.parent
Run = Callable[[Agent[Any, Any], str], Awaitable[RunResult[Any]]]


# A sync run never uses the caller's event loop: trio adds nothing to the sync mode.
MODES = pytest.mark.parametrize(
    ("anyio_backend", "mode"), [("asyncio", "async"), ("trio", "async"), ("asyncio", "sync")]
)
# mcp 2.3.0's streamable HTTP transport leaves httpx2 response iterators to the garbage
# collector, and trio warns about each (ResourceWarning) when a session closes.
HTTP_WARNINGS = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def run_with(mode: str) -> Run:
    """The run method of `mode`, awaitable either way (a sync run goes in a worker thread)."""

    async def run(agent: Agent[Any, Any], prompt: str) -> RunResult[Any]:
        if mode == "async":
            return await agent.run(prompt)
        return await anyio.to_thread.run_sync(agent.run_sync, prompt)

    return run


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "sessions.log"


@pytest.fixture
def calls_log(tmp_path: Path) -> Path:
    return tmp_path / "calls.log"


def stdio(log: Path, calls: Path | None = None, **options: Any) -> MCPServerStdio:
    """The test server as a subprocess; each one started appends its pid to `log`."""
    env = {"AGENTKIT_MCP_LOG": str(log), "AGENTKIT_MCP_CALLS": str(calls or log.with_suffix(".x"))}
    return MCPServerStdio(sys.executable, [str(SCRIPT)], env=env, **options)


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def agent_for(emulator: Emulator, mode: str, tools: list[Any], **options: Any) -> Agent[Any, Any]:
    client = emulator.async_client() if mode == "async" else emulator.client()
    return Agent(MODEL, tools=tools, client=client, **options)


# -- listing and declarations -------------------------------------------------------------------


@MODES
@pytest.mark.anyio
async def test_the_servers_tools_are_declared_with_their_schemas_as_given(
    mode: str, log: Path
) -> None:
    emulator = Emulator(Script(["Hello."]))
    agent = agent_for(emulator, mode, [stdio(log, prefix="t")])

    result = await run_with(mode)(agent, "Hi")

    assert result.output_text == "Hello."
    declared = {tool["name"]: tool for tool in bodies(emulator)[0]["tools"]}
    assert declared["t_add"] == {
        "type": "function",
        "name": "t_add",
        "description": "Add two integers.",
        "parameters": {
            "properties": {
                "a": {"title": "A", "type": "integer"},
                "b": {"title": "B", "type": "integer"},
            },
            "required": ["a", "b"],
            "type": "object",
            "title": "addArguments",
        },
    }
    assert all(name.startswith("t_") for name in declared)
    assert len(lines(log)) == 1


@pytest.mark.anyio
async def test_allowed_tools_by_name_or_by_test_limit_what_the_model_sees(log: Path) -> None:
    emulator = Emulator(Script(["One.", "Two."]))
    by_name = stdio(log, allowed_tools=["add", "echo"])

    def starts_with_p(tool: mcp_types.Tool) -> bool:
        return tool.name.startswith("p")

    by_test = stdio(log, allowed_tools=starts_with_p, prefix="p")

    await Agent(MODEL, tools=[by_name, by_test], client=emulator.async_client()).run("Hi")

    names = [tool["name"] for tool in bodies(emulator)[0]["tools"]]
    assert names == ["add", "echo", "p_pixel", "p_pid"]


@pytest.mark.anyio
async def test_allowed_tools_naming_a_missing_tool_says_which_the_server_has(log: Path) -> None:
    emulator = Emulator(Script(["Never."]))
    agent = Agent(MODEL, tools=[stdio(log, allowed_tools=["ad"])], client=emulator.async_client())

    with pytest.raises(UsageError, match=r"does not have: \['ad'\]\. It has: add, crash"):
        await agent.run("Hi")
    assert emulator.requests == []


@pytest.mark.anyio
async def test_a_tool_named_like_a_function_tool_is_a_usage_error_naming_both(log: Path) -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    emulator = Emulator(Script(["Never."]))
    agent = Agent(MODEL, tools=[add, stdio(log, name="calc")], client=emulator.async_client())

    with pytest.raises(
        UsageError, match="'add': one from function tool, one from MCP server 'calc'"
    ):
        await agent.run("Hi")


def test_two_servers_with_the_same_tools_clash_until_one_has_a_prefix(log: Path) -> None:
    emulator = Emulator(Script(["Done."]))
    first, second = stdio(log, name="one"), stdio(log, name="two")
    with emulator.client() as client:
        with pytest.raises(UsageError, match="from MCP server 'one', one from MCP server 'two'"):
            Agent(MODEL, tools=[first, second], client=client).run_sync("Hi")

        second.prefix = "two"
        Agent(MODEL, tools=[first, second], client=client).run_sync("Hi")
    names = [tool["name"] for tool in bodies(emulator)[0]["tools"]]
    assert "add" in names
    assert "two_add" in names


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prefix": "no spaces"}, "prefix='no spaces' is not valid"),
        ({"allowed_tools": "add"}, "allowed_tools= takes a list of tool names"),
        ({"needs_approval": "add"}, "needs_approval= takes a list of tool names"),
        ({"idempotent": "add"}, "idempotent= takes a list of tool names"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"connect_timeout": -1}, "connect_timeout must be a positive number"),
    ],
)
def test_bad_options_are_usage_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        MCPServerStdio("server", **options)


def test_the_same_server_given_twice_is_a_usage_error(log: Path) -> None:
    server = stdio(log, name="files")
    with pytest.raises(UsageError, match="MCP server 'files' is given twice"):
        Agent(MODEL, tools=[server, server])


def test_an_http_server_needs_an_http_url() -> None:
    with pytest.raises(UsageError, match="needs an http:// or https:// URL"):
        MCPServerHTTP("localhost:8000/mcp")


# -- calls and results --------------------------------------------------------------------------


@MODES
@pytest.mark.anyio
async def test_text_structured_image_and_error_results_reach_the_model(
    mode: str, log: Path
) -> None:
    calls = [
        function_call("echo", {"text": "hi"}),
        function_call("forecast", {"city": "Paris"}),
        function_call("pixel"),
        function_call("fail", {"message": "disk full"}),
        function_call("add", {"a": "x"}),
    ]
    emulator = Emulator(Script([calls, "Done."]))
    agent = agent_for(emulator, mode, [stdio(log)])

    result = await run_with(mode)(agent, "Go")

    assert result.output_text == "Done."
    echo, forecast, pixel, fail, invalid = emulator.function_results
    assert echo["result"] == [{"type": "text", "text": "hi"}]
    assert forecast["result"] == {"city": "Paris", "temperature": 21, "sky": "sunny"}
    assert pixel["result"][0]["type"] == "image"
    assert pixel["result"][0]["mime_type"] == "image/png"
    assert fail["is_error"] is True
    assert result_text(fail) == "Error executing tool fail: disk full"
    assert invalid["is_error"] is True
    assert "validation error" in result_text(invalid).lower()
    assert [step.get("is_error") for step in (echo, forecast, pixel)] == [None, None, None]


@pytest.mark.anyio
async def test_raise_tool_errors_raises_the_servers_error(log: Path) -> None:
    emulator = Emulator(Script([function_call("fail", {"message": "disk full"}), "Never."]))
    agent = agent_for(emulator, "async", [stdio(log, name="t")], raise_tool_errors=True)

    with pytest.raises(MCPServerError, match="MCP tool 'fail' of MCP server 't' reported an "):
        await agent.run("Go")


@MODES
@pytest.mark.anyio
async def test_a_hanging_call_times_out_into_an_error_result(
    mode: str, log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = Emulator(
        Script([[function_call("hang"), function_call("echo", {"text": "a"})], "."])
    )
    agent = agent_for(emulator, mode, [stdio(log, name="slow", timeout=0.5)])

    with anyio.fail_after(30), caplog.at_level(logging.WARNING, logger="agentkit.mcp"):
        await run_with(mode)(agent, "Go")

    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith("MCP tool 'hang' failed; the model is told:") for m in warned)

    hang, echo = emulator.function_results
    assert hang["is_error"] is True
    assert result_text(hang).startswith(
        "TimeoutError: MCP server 'slow' did not answer within 0.5 s"
    )
    assert result_text(echo) == "a"  # the connection still works after a timed-out call


@MODES
@pytest.mark.anyio
async def test_a_server_that_crashes_mid_call_gives_an_error_result(mode: str, log: Path) -> None:
    script = Script([function_call("crash"), function_call("echo", {"text": "a"}), "Sorry."])
    emulator = Emulator(script)
    agent = agent_for(emulator, mode, [stdio(log, name="fragile")])

    with anyio.fail_after(30):
        result = await run_with(mode)(agent, "Go")

    crash, after = emulator.function_results
    assert crash["is_error"] is True
    assert "MCP server 'fragile' closed the connection during the call" in result_text(crash)
    assert after["is_error"] is True
    assert "the connection to MCP server 'fragile' is closed" in result_text(after)
    assert result.output_text == "Sorry."
    (pid,) = lines(log)
    assert not alive(int(pid))


@pytest.mark.anyio
async def test_the_next_run_after_a_crash_in_a_block_connects_again(log: Path) -> None:
    emulator = Emulator(Script([function_call("crash"), "Down.", function_call("pid"), "Up."]))
    agent = agent_for(emulator, "async", [stdio(log)])

    async with agent:
        await agent.run("Crash")
        result = await agent.run("Again")

    assert result.output_text == "Up."
    first, second = lines(log)
    assert emulator.function_results[1]["result"] == {"result": int(second)}
    assert first != second


def three_pid_runs() -> Emulator:
    return Emulator(
        Script([function_call("pid"), "1.", function_call("pid"), "2.", function_call("pid"), "3."])
    )


def kill_the_server(log: Path) -> None:
    (pid,) = lines(log)
    os.kill(int(pid), signal.SIGKILL)


def assert_replaced_once(emulator: Emulator, log: Path) -> None:
    first, second = lines(log)  # one new server for the rest of the block, not one per run
    results = [step["result"] for step in emulator.function_results]
    assert results == [{"result": int(first)}, {"result": int(second)}, {"result": int(second)}]
    assert not alive(int(second))


@pytest.mark.anyio
async def test_a_server_that_dies_between_runs_of_an_async_block_is_replaced_once(
    log: Path,
) -> None:
    emulator = three_pid_runs()
    agent = agent_for(emulator, "async", [stdio(log)])

    with anyio.fail_after(30):
        async with agent:
            await agent.run("One")
            kill_the_server(log)  # while idle: the next run finds out and connects again
            await agent.run("Two")
            await agent.run("Three")

    assert_replaced_once(emulator, log)


def test_a_server_that_dies_between_runs_of_a_sync_block_is_replaced_once(log: Path) -> None:
    emulator = three_pid_runs()
    agent = agent_for(emulator, "sync", [stdio(log)])

    with agent:
        agent.run_sync("One")
        kill_the_server(log)
        agent.run_sync("Two")
        agent.run_sync("Three")

    assert_replaced_once(emulator, log)


# -- connections --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_runs_in_an_async_block_share_one_connection(log: Path) -> None:
    emulator = Emulator(Script([function_call("pid"), "One.", function_call("pid"), "Two."]))
    agent = agent_for(emulator, "async", [stdio(log)])

    async with agent:
        await agent.run("First")
        await agent.run("Second")
        (pid,) = lines(log)
        assert alive(int(pid))

    assert [step["result"] for step in emulator.function_results] == [{"result": int(pid)}] * 2
    assert not alive(int(pid))


def test_runs_in_a_sync_block_share_one_connection(log: Path) -> None:
    emulator = Emulator(Script([function_call("pid"), "One.", function_call("pid"), "Two."]))
    agent = agent_for(emulator, "sync", [stdio(log)])

    with agent:
        agent.run_sync("First")
        agent.run_sync("Second")

    (pid,) = lines(log)
    assert [step["result"] for step in emulator.function_results] == [{"result": int(pid)}] * 2
    assert not alive(int(pid))


@MODES
@pytest.mark.anyio
async def test_each_run_outside_a_block_opens_and_closes_its_own_connection(
    mode: str, log: Path
) -> None:
    emulator = Emulator(Script([function_call("pid"), "One.", function_call("pid"), "Two."]))
    agent = agent_for(emulator, mode, [stdio(log)])

    await run_with(mode)(agent, "First")
    await run_with(mode)(agent, "Second")

    pids = [int(pid) for pid in lines(log)]
    assert [step["result"]["result"] for step in emulator.function_results] == pids
    assert len(set(pids)) == 2
    assert not any(alive(pid) for pid in pids)


@pytest.mark.anyio
async def test_a_sync_run_inside_an_async_block_opens_its_own_connection(log: Path) -> None:
    emulator = Emulator(Script([function_call("pid"), "One.", function_call("pid"), "Two."]))
    agent = Agent(MODEL, tools=[stdio(log)], client=emulator.client())
    agent_async = Agent(MODEL, tools=agent.toolset.sources, client=emulator.async_client())

    async with agent_async:
        await agent_async.run("First")
        await anyio.to_thread.run_sync(agent_async.run_sync, "Second")

    assert len(set(lines(log))) == 2


@pytest.mark.parametrize("cache_tools", [True, False])
@pytest.mark.anyio
async def test_a_block_lists_tools_once_until_refreshed_unless_not_cached(
    log: Path, cache_tools: bool
) -> None:
    emulator = Emulator(Script([function_call("grow"), "Grew.", "Two.", "Three."]))
    server = stdio(log, cache_tools=cache_tools)
    agent = agent_for(emulator, "async", [server])

    async with agent:
        await agent.run("Grow")
        await agent.run("Again")
        server.refresh()
        await agent.run("Once more")

    declared = [{tool["name"] for tool in body["tools"]} for body in bodies(emulator)]
    assert ["grown" in names for names in declared] == [False, False, not cache_tools, True]
    assert len(lines(log)) == 1


@pytest.mark.anyio
async def test_streamed_runs_report_mcp_calls_and_results(log: Path) -> None:
    emulator = Emulator(Script([function_call("echo", {"text": "hi"}), "Done."]))
    agent = agent_for(emulator, "async", [stdio(log)])

    events = [event async for event in agent.stream("Go")]

    (call,) = [event for event in events if isinstance(event, ToolCallEvent)]
    (answer,) = [event for event in events if isinstance(event, ToolResultEvent)]
    assert call.call.name == "echo"
    assert answer.result.result[0].text == "hi"  # type: ignore[index, union-attr]


def test_stream_sync_reports_mcp_calls(log: Path) -> None:
    emulator = Emulator(Script([function_call("echo", {"text": "hi"}), "Done."]))
    agent = agent_for(emulator, "sync", [stdio(log)])

    names = [
        event.call.name for event in agent.stream_sync("Go") if isinstance(event, ToolCallEvent)
    ]

    assert names == ["echo"]


@MODES
@pytest.mark.anyio
async def test_a_server_that_cannot_start_raises_a_typed_error(mode: str, tmp_path: Path) -> None:
    emulator = Emulator(Script(["Never."]))
    missing = MCPServerStdio(str(tmp_path / "no-such-server"), env={"TOKEN": "s3cret"})
    agent = agent_for(emulator, mode, [missing])

    with pytest.raises(MCPServerError, match="Could not connect to MCP server 'no-such-server'"):
        await run_with(mode)(agent, "Hi")
    assert emulator.requests == []


@MODES
@pytest.mark.anyio
async def test_a_server_that_never_initialises_times_out(mode: str) -> None:
    silent = MCPServerStdio(
        sys.executable, ["-c", "import sys; sys.stdin.read()"], connect_timeout=0.5
    )
    agent = agent_for(Emulator(Script(["Never."])), mode, [silent])

    with anyio.fail_after(30), pytest.raises(MCPServerError, match=r"within 0\.5 s"):
        await run_with(mode)(agent, "Hi")


@pytest.mark.anyio
async def test_entering_a_block_with_a_broken_server_raises_and_opens_nothing(
    log: Path, tmp_path: Path
) -> None:
    good, bad = stdio(log), MCPServerStdio(str(tmp_path / "missing"), name="bad")
    agent = Agent(MODEL, tools=[good, bad], client=Emulator().async_client())

    with pytest.raises(MCPServerError, match="MCP server 'bad'"):
        async with agent:
            raise AssertionError("unreachable")

    (pid,) = lines(log)
    assert not alive(int(pid))


def test_secrets_stay_out_of_names_reprs_and_errors() -> None:
    server = MCPServerHTTP(
        "https://user:pw@example.com:8443/mcp?token=s3cret", headers={"Authorization": "s3cret"}
    )
    stdio_server = MCPServerStdio("npx", ["--token=s3cret", "server"], env={"KEY": "s3cret"})

    for text in (repr(server), server.label, repr(stdio_server), stdio_server.label):
        assert "s3cret" not in text
        assert "pw" not in text
    assert server.label == "MCP server 'example.com:8443/mcp'"
    assert stdio_server.label == "MCP server 'npx'"


# -- streamable HTTP ----------------------------------------------------------------------------


@pytest.fixture
def http_url() -> Iterator[str]:
    with serve_http() as url:
        yield url


@MODES
@HTTP_WARNINGS
@pytest.mark.anyio
async def test_http_runs_in_a_block_share_a_session_and_send_the_headers(
    mode: str, http_url: str
) -> None:
    emulator = Emulator(Script([function_call("whoami"), "One.", function_call("whoami"), "Two."]))
    server = MCPServerHTTP(http_url, headers={"x-test": "yes"})
    agent = agent_for(emulator, mode, [server])

    if mode == "async":
        async with agent:
            await agent.run("First")
            await agent.run("Second")
    else:

        def both() -> None:
            with agent:
                agent.run_sync("First")
                agent.run_sync("Second")

        await anyio.to_thread.run_sync(both)

    first, second = (result_text(step) for step in emulator.function_results)
    assert first == second
    assert first.endswith(" yes")


@MODES
@HTTP_WARNINGS
@pytest.mark.anyio
async def test_http_runs_outside_a_block_each_have_a_session(mode: str, http_url: str) -> None:
    emulator = Emulator(Script([function_call("whoami"), "One.", function_call("whoami"), "Two."]))
    agent = agent_for(emulator, mode, [MCPServerHTTP(http_url)])

    await run_with(mode)(agent, "First")
    await run_with(mode)(agent, "Second")

    first, second = (result_text(step) for step in emulator.function_results)
    assert first != second


@MODES
@HTTP_WARNINGS
@pytest.mark.anyio
async def test_an_unreachable_http_server_raises_a_typed_error(mode: str) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    agent = agent_for(Emulator(), mode, [MCPServerHTTP(f"http://127.0.0.1:{port}/mcp")])

    with anyio.fail_after(60), pytest.raises(MCPServerError, match=f"127.0.0.1:{port}/mcp"):
        await run_with(mode)(agent, "Hi")


# -- approvals and exactly once -----------------------------------------------------------------


@MODES
@pytest.mark.anyio
async def test_calls_needing_approval_wait_and_run_once_approved(
    mode: str, log: Path, calls_log: Path
) -> None:
    calls = [function_call("record", {"note": "a"}), function_call("echo", {"text": "b"})]
    emulator = Emulator(Script([calls, "Recorded."]))
    agent = agent_for(emulator, mode, [stdio(log, calls_log, needs_approval=["record"])])

    paused = await run_with(mode)(agent, "Go")

    assert paused.status == "requires_action"
    assert [call.name for call in paused.pending_calls] == ["record"]
    assert lines(calls_log) == []
    (call,) = paused.pending_calls
    approvals = {call.id or "": True}
    if mode == "async":
        result = await agent.resume(paused, approvals)
    else:
        result = await anyio.to_thread.run_sync(agent.resume_sync, paused, approvals)
    assert result.output_text == "Recorded."
    assert lines(calls_log) == ["a"]


@pytest.mark.anyio
async def test_needs_approval_as_a_function_of_name_and_arguments(log: Path) -> None:
    calls = [function_call("echo", {"text": "ok"}), function_call("echo", {"text": "rm"})]
    emulator = Emulator(Script([calls]))

    def decide(name: str, arguments: dict[str, Any]) -> bool:
        return name == "echo" and arguments["text"] == "rm"

    agent = agent_for(emulator, "async", [stdio(log, needs_approval=decide)])

    paused = await agent.run("Go")

    assert [call.arguments for call in paused.pending_calls] == [{"text": "rm"}]


@MODES
@pytest.mark.anyio
async def test_a_recorded_call_is_not_run_again_on_resume(
    mode: str, log: Path, calls_log: Path
) -> None:
    emulator = Emulator(Script([function_call("record", {"note": "once"}), "Done."]))
    # Once the tool ran, every attempt of the request carrying its result fails.
    hooks = Hooks(after_tool=lambda call, result: emulator.fail_next(5, 503))  # 1 + 4 retries
    agent = agent_for(emulator, mode, [stdio(log, calls_log)], hooks=hooks)

    with pytest.raises(InternalServerError) as caught:
        await run_with(mode)(agent, "Go")
    partial = caught.value.partial
    assert partial is not None
    agent.hooks = Hooks()
    if mode == "async":
        result = await agent.resume(partial)
    else:
        result = await anyio.to_thread.run_sync(agent.resume_sync, partial)

    assert result.output_text == "Done."
    assert lines(calls_log) == ["once"]
    assert result_text(emulator.function_results[-1]) == "recorded once"


@pytest.mark.parametrize(
    ("call", "told"),
    [
        (function_call("record", {"note": "k"}), "outcome is unknown"),  # not idempotent
        (function_call("lookup", {"key": "k"}), "value of k"),  # idempotentHint: runs again
    ],
)
@pytest.mark.anyio
async def test_a_call_of_unknown_outcome_runs_again_only_if_the_server_says_idempotent(
    log: Path, calls_log: Path, call: dict[str, Any], told: str
) -> None:
    emulator = Emulator(Script([call, "Ok."]))
    journal = InMemoryJournal()
    # Its first call started and never recorded an outcome (the process running it died).
    assert journal.begin(f"{first_interaction_id()}/fc_0001") is None
    agent = Agent(
        MODEL, tools=[stdio(log, calls_log)], client=emulator.async_client(), journal=journal
    )

    await agent.run("Go")

    assert told in result_text(emulator.function_results[0])
    assert lines(calls_log) == []


def first_interaction_id() -> str:
    """The id the emulator gives its first interaction (its ids are deterministic)."""
    with Emulator(Script(["x"])).client() as client:
        return client.interactions.create(model=MODEL, input="x").id


# -- the example ----------------------------------------------------------------------------


def test_the_example_runs_offline_and_keeps_one_server_for_both_runs() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    completed = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "mcp_tools.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    output = completed.stdout
    assert output.startswith("Backend: built-in emulator (offline;")
    assert "Tool call: notes_add_note({" in output
    assert "Tool call: notes_list_notes({})" in output
    assert "notes_add_note returned Saved note 2." in output  # the same server process


# -- the mapping of results and the connection's edges, without a server for each case --------
# (These reach into agentkit.mcp._result: no test server produces every kind of content.)


def test_every_kind_of_mcp_content_becomes_function_result_content() -> None:
    from agentkit.mcp._result import function_result

    def resource(mime: str | None) -> mcp_types.EmbeddedResource:
        blob = mcp_types.BlobResourceContents(uri="file:///x", blob="AAAA", mime_type=mime)
        return mcp_types.EmbeddedResource(type="resource", resource=blob)

    text = mcp_types.TextResourceContents(uri="file:///notes.txt", text="notes")
    content: list[mcp_types.ContentBlock] = [
        mcp_types.AudioContent(type="audio", data="AAAA", mime_type="audio/wav"),
        mcp_types.EmbeddedResource(type="resource", resource=text),
        resource("image/png"),
        resource("audio/mp3"),
        resource("video/mp4"),
        resource("application/pdf"),
        resource(None),
        mcp_types.ResourceLink(type="resource_link", uri="file:///y", name="y"),
    ]
    step = function_result(
        FunctionCallStep(id="c1", name="f"), mcp_types.CallToolResult(content=content)
    )

    assert [block.type for block in step.result] == [  # type: ignore[union-attr]
        "audio", "text", "image", "audio", "video", "document", "document", "text",
    ]  # fmt: skip
    assert step.call_id == "c1"
    assert step.is_error is None


def test_structured_only_and_empty_error_results_still_say_something() -> None:
    from agentkit.mcp._result import function_result

    call = FunctionCallStep(id="c", name="f")
    listed = function_result(call, mcp_types.CallToolResult(content=[], structured_content=[1]))
    failed = function_result(call, mcp_types.CallToolResult(content=[], is_error=True))

    assert listed.result[0].text == "[1]"  # type: ignore[index, union-attr]
    assert failed.is_error is True
    assert "error" in failed.result[0].text  # type: ignore[index, union-attr]


@pytest.mark.anyio
async def test_a_block_cannot_be_entered_twice_and_a_crashed_call_can_raise(log: Path) -> None:
    emulator = Emulator(Script([function_call("crash"), "Never."]))
    agent = agent_for(emulator, "async", [stdio(log, name="c")], raise_tool_errors=True)

    async with agent:
        with pytest.raises(UsageError, match="already open"):
            await agent.__aenter__()
        with pytest.raises(MCPServerError, match="closed the connection during the call"):
            await agent.run("Go")
