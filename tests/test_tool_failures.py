"""Tool failures in agent runs, through the public API: what the model is told, what is logged
at which level, and what raises to the caller instead.

A tool's own exception is data for the model and a WARNING with its traceback for its author;
invalid arguments are the model's mistake and are not logged; a tool agentkit cannot call as
its signature promised (a signature that does not fit the function) raises `UsageError` at
the caller, never reaching the model as if the tool had failed. Every scenario runs through
both drivers, with a sync and an async tool.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal, cast

import pytest
from _agent_helpers import MODEL, Driver, result_text

from agentkit import Agent, FunctionTool, RunContext, tool
from agentkit.exceptions import UsageError
from agentkit.testing import Emulator, Script, function_call

pytestmark = pytest.mark.anyio

Flavour = Literal["sync", "async"]


@pytest.fixture(params=["async", "sync"])
def run(request: pytest.FixtureRequest) -> Driver:
    return Driver(request.param)


@pytest.fixture(params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> Flavour:
    chosen: Flavour = request.param
    return chosen


def made(flavour: Flavour, body: Callable[[str], str]) -> FunctionTool[..., Any]:
    """A `lookup(key: str)` tool, sync or async, whose body is `body`."""
    if flavour == "sync":

        def lookup(key: str) -> str:
            return body(key)

        return tool(lookup)

    async def lookup_async(key: str) -> str:
        return body(key)

    return tool(lookup_async, name="lookup")


def agent_for(emulator: Emulator, function: FunctionTool[..., Any]) -> Agent[Any, Any]:
    return Agent(MODEL, tools=[function], client=emulator.async_client())


def one_call(arguments: dict[str, Any]) -> Emulator:
    return Emulator(Script([[function_call("lookup", arguments)], "Done."]))


def tool_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "agentkit.tool" and record.levelno >= logging.WARNING
    ]


def missing_key(key: str) -> str:
    raise KeyError(key)


# --- a tool's own exception: an error result, and a WARNING with the traceback -----------------


async def test_a_tools_exception_is_logged_at_warning_with_its_traceback(
    run: Driver, flavour: Flavour, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = one_call({"key": "colour"})

    result = await run(agent_for(emulator, made(flavour, missing_key)), "Look it up.")

    (error,) = emulator.function_results
    assert error["is_error"] is True
    assert result_text(error) == "KeyError: 'colour'"
    assert result.status == "completed"
    (record,) = tool_warnings(caplog)
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "Tool 'lookup' raised; the model gets an error result."
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], KeyError)
    assert "Traceback (most recent call last)" in caplog.text
    assert "in missing_key" in caplog.text  # down to the line in the tool that raised


async def test_a_type_error_inside_the_tool_is_still_the_tools_error(
    run: Driver, flavour: Flavour, caplog: pytest.LogCaptureFixture
) -> None:
    # A TypeError raised in the tool's body (here by a call it gets wrong) is its own bug, not
    # a call agentkit got wrong: it goes to the model like any other exception.
    def wrong_call(key: str) -> str:
        return missing_key(key, "extra")  # type: ignore[call-arg]

    emulator = one_call({"key": "colour"})

    await run(agent_for(emulator, made(flavour, wrong_call)), "Look it up.")

    (error,) = emulator.function_results
    assert error["is_error"] is True
    assert result_text(error).startswith("TypeError: missing_key() takes 1 positional argument")
    (record,) = tool_warnings(caplog)
    assert isinstance(record.exc_info and record.exc_info[1], TypeError)


async def test_invalid_arguments_are_the_models_mistake_and_are_not_logged(
    run: Driver, flavour: Flavour, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = one_call({"key": ["not", "a", "string"]})

    await run(agent_for(emulator, made(flavour, str.upper)), "Look it up.")

    (error,) = emulator.function_results
    assert error["is_error"] is True
    assert result_text(error).startswith("Invalid arguments for tool 'lookup', so it did not run")
    assert tool_warnings(caplog) == []


async def test_raise_tool_errors_propagates_without_logging(
    run: Driver, flavour: Flavour, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = one_call({"key": "colour"})
    agent = Agent(
        MODEL,
        tools=[made(flavour, missing_key)],
        raise_tool_errors=True,
        client=emulator.async_client(),
    )

    with pytest.raises(KeyError, match="colour"):
        await run(agent, "Look it up.")
    assert tool_warnings(caplog) == []


# --- a tool agentkit cannot call as its signature says: raised, never disguised ----------------


def sessions(function: Callable[..., Any]) -> Callable[..., Any]:
    """A decorator that passes `session` itself, yet shows the signature it wraps."""

    @functools.wraps(function)
    def wrapper(key: str) -> Any:
        return function(key, "the session")

    return wrapper


def sessions_async(function: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(function)
    async def wrapper(key: str) -> Any:
        return await function(key, "the session")

    return wrapper


def contexts(function: Callable[..., Any]) -> Callable[..., Any]:
    """A decorator that makes the `RunContext` itself, yet shows the signature it wraps."""

    @functools.wraps(function)
    def wrapper(key: str) -> Any:
        return function(RunContext(deps=None), key)

    return wrapper


@tool
@sessions
def with_session(key: str, session: str) -> str:
    return f"{key} in {session}"


@tool
@sessions_async
async def with_session_async(key: str, session: str) -> str:
    return f"{key} in {session}"


@tool
@contexts
def with_context(ctx: RunContext[None], key: str) -> str:
    return key


@pytest.mark.parametrize(
    ("function", "arguments"),
    [
        (with_session, {"key": "colour", "session": "mine"}),
        (with_session_async, {"key": "colour", "session": "mine"}),
        (with_context, {"key": "colour"}),
    ],
    ids=["sync", "async", "run context"],
)
async def test_a_function_that_refuses_the_arguments_its_signature_takes_raises(
    run: Driver,
    caplog: pytest.LogCaptureFixture,
    function: FunctionTool[..., Any],
    arguments: dict[str, Any],
) -> None:
    emulator = Emulator(Script([[function_call(function.name, arguments)], "Done."]))
    agent = Agent(MODEL, tools=[function], client=emulator.async_client())

    with pytest.raises(UsageError) as info:
        await run(agent, "Look it up.")

    message = str(info.value)
    assert message.startswith(
        f"Tool {function.name!r}: the function refused its arguments before its body ran "
        "(TypeError: "
    )
    assert "functools.wraps" in message
    assert isinstance(info.value.__cause__, TypeError)
    # The model was never told the tool failed: neither it nor the tool could fix this.
    assert emulator.function_results == []
    assert tool_warnings(caplog) == []
    # Nor does the journal hold an error as the call's outcome: it never ran.
    record = agent.journal.get("v1_emu_0001/fc_0001")
    assert record is not None
    assert record.result is None


# --- what cannot be a tool: refused where the tool is made -------------------------------------


def spread_args(*keys: str) -> str:
    return ",".join(keys)


def spread_kwargs(key: str, **options: int) -> str:
    return key


def untyped(key):  # type: ignore[no-untyped-def]
    return key  # pyright: ignore[reportUnknownVariableType]


UNTYPED = cast("Callable[..., Any]", untyped)  # unannotated on purpose; typed for the checkers


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (spread_args, r"^Tool 'spread_args' cannot take '\*keys'.*\(keys: list\[str\]\)"),
        (spread_kwargs, r"^Tool 'spread_kwargs' cannot take '\*\*options'.*dict\[str, int\]"),
        (UNTYPED, r"^Tool 'untyped': parameter 'key' needs a type annotation.*`key: Any`"),
    ],
    ids=["*args", "**kwargs", "no annotation"],
)
def test_a_plain_function_that_cannot_be_a_tool_is_refused_by_the_agent(
    function: Callable[..., Any], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        Agent(MODEL, tools=[function], client=Emulator().async_client())
    with pytest.raises(UsageError, match=message):
        tool(function)


def test_run_context_and_any_remain_the_ways_to_take_the_run_and_any_value() -> None:
    def remember(ctx: RunContext[None], note: Any, *, tags: list[str] | None = None) -> None: ...

    assert tool(remember).parameters == {
        "type": "object",
        "properties": {
            "note": {},
            "tags": {
                "anyOf": [{"items": {"type": "string"}, "type": "array"}, {"type": "null"}],
                "default": None,
            },
        },
        "required": ["note"],
        "additionalProperties": False,
    }


async def test_a_result_that_cannot_become_json_is_journaled_when_it_raises(run: Driver) -> None:
    @tool
    def opaque() -> Any:
        """Return something that is not JSON."""
        return object()

    emulator = Emulator(Script([[function_call("opaque")], "Done."]))
    agent = Agent(MODEL, tools=[opaque], client=emulator.async_client(), raise_tool_errors=True)

    with pytest.raises(UsageError, match="cannot be turned into JSON"):
        await run(agent, "Go.")

    # The body ran: its outcome is known (an error), not "never ran".
    record = agent.journal.get("v1_emu_0001/fc_0001")
    assert record is not None
    assert record.result is not None
    assert record.result["is_error"] is True
