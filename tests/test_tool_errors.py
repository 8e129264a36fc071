"""What becomes an error result for the model, and what propagates: only the tool's own
exceptions (and invalid arguments) are data; a failure of agentkit's code around the call is a
bug that must not be disguised as a tool error.

Each case runs the three ways a tool is called: an async tool, a sync tool in anyio's worker
threads (`invoke`), and a sync tool without an event loop (`start_sync`). The framework
failures are simulated by making agentkit's internals (`agentkit._tool`, `agentkit._schema`)
raise, which no public API can do.
"""

from __future__ import annotations

import asyncio  # noqa: TID251 (a future cancelled by another part of the program)
import sys
from collections.abc import Callable
from functools import partial
from typing import Any, Literal, NoReturn, cast

import anyio.to_thread
import pytest
from _agent_helpers import MODEL, result_text

import agentkit._tool
from agentkit import Agent
from agentkit._exceptions import UsageError
from agentkit._schema import FunctionSchema
from agentkit._tool import FunctionTool, SyncCall, tool
from agentkit.testing import Emulator, Script, function_call
from agentkit.types import FunctionCallStep, FunctionResultStep, TextContent

pytestmark = pytest.mark.anyio

Way = Literal["async", "thread", "no loop"]
WAYS: tuple[Way, ...] = ("async", "thread", "no loop")


class InternalBug(Exception):
    """Stands for a bug in agentkit's own code."""


def broken(*args: Any, **kwargs: Any) -> NoReturn:
    raise InternalBug("agentkit is broken")


def made(way: Way, error: Exception | None = None) -> FunctionTool[..., Any]:
    """A tool `double(n: int)` written as `way` calls it, raising `error` if given."""
    if way == "async":

        async def double_async(n: int) -> int:
            if error is not None:
                raise error
            return 2 * n

        return tool(double_async, name="double")

    def double(n: int) -> int:
        if error is not None:
            raise error
        return 2 * n

    return tool(double)


async def answer(
    way: Way, function: FunctionTool[..., Any], **arguments: Any
) -> FunctionResultStep:
    call = FunctionCallStep(id="c1", name=function.name, arguments=arguments)
    if way != "no loop":
        return await function.invoke(call)
    started = function.start_sync(call)
    if isinstance(started, SyncCall):  # its wait blocks: not on the event loop's thread
        return await anyio.to_thread.run_sync(started.result)
    return started


def text_of(step: FunctionResultStep) -> str:
    assert isinstance(step.result, list)
    (block,) = step.result
    assert isinstance(block, TextContent)
    return block.text


@pytest.mark.parametrize("way", WAYS)
async def test_the_tools_exception_becomes_an_error_result(way: Way) -> None:
    step = await answer(way, made(way, LookupError("no such order")), n=1)
    assert step.is_error is True
    assert text_of(step) == "LookupError: no such order"


@pytest.mark.parametrize("way", WAYS)
async def test_the_tools_own_timeout_error_is_not_taken_for_a_timeout(way: Way) -> None:
    # concurrent.futures.TimeoutError is TimeoutError (Python 3.11+): a tool's own one must not
    # read as the tool running out of time (it has no timeout here).
    step = await answer(way, made(way, TimeoutError("the shop did not answer")), n=1)
    assert text_of(step) == "TimeoutError: the shop did not answer"


@pytest.mark.parametrize("way", WAYS)
async def test_invalid_arguments_give_the_error_result_naming_the_field(way: Way) -> None:
    step = await answer(way, made(way), n="two")
    assert step.is_error is True
    assert text_of(step) == (
        "Invalid arguments for tool 'double', so it did not run:\n"
        "- n: Input should be a valid integer, unable to parse string as an integer; "
        'received "two"\n'
        "Call the tool again with corrected arguments."
    )


@pytest.mark.parametrize("way", WAYS)
async def test_a_working_tool_still_answers(way: Way) -> None:
    step = await answer(way, made(way), n=4)
    assert step.is_error is None
    assert text_of(step) == "8"


# Each internal step around the call, and the ways that go through it.
FRAMEWORK_FAILURES = [
    pytest.param(FunctionSchema, "bind", WAYS, id="argument binding"),
    pytest.param(FunctionTool, "function", WAYS, id="reaching the function"),
    pytest.param(agentkit._tool._Worker, "run", ("thread", "no loop"), id="thread dispatch"),  # pyright: ignore[reportPrivateUsage]
    pytest.param(agentkit._tool, "result_content", WAYS, id="converting the value"),
]


@pytest.mark.parametrize(("owner", "name", "ways"), FRAMEWORK_FAILURES)
async def test_a_failure_of_agentkits_own_code_propagates(
    monkeypatch: pytest.MonkeyPatch, owner: object, name: str, ways: tuple[Way, ...]
) -> None:
    tools = {way: made(way) for way in ways}
    replacement = property(broken) if isinstance(getattr(owner, name), property) else broken
    monkeypatch.setattr(owner, name, replacement)
    for way in ways:
        with pytest.raises(InternalBug, match="agentkit is broken"):
            await answer(way, tools[way], n=1)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="3.10 tells no cancellation apart")
def test_a_cancelled_error_of_a_tool_nothing_cancelled_is_its_failure() -> None:
    async def fetch(url: str) -> str:
        page = asyncio.ensure_future(asyncio.sleep(10, url))
        page.cancel()  # by another part of the program: a library shutting its pool down
        return await page

    def lookup(key: str) -> str:
        return f"found {key}"

    calls = [function_call("fetch", {"url": "u"}), function_call("lookup", {"key": "k"})]
    emulator = Emulator(Script([calls, "Done.", calls, "Done."]))
    agent = Agent(MODEL, tools=[tool(fetch), tool(lookup)], client=emulator.client())

    assert agent.run_sync("Go.").output_text == "Done."  # async tools on a loop of its own
    assert anyio.run(partial(agent.run, "Go.")).output_text == "Done."  # on the caller's
    sent = emulator.function_results
    assert [step.get("is_error", False) for step in sent] == [True, False, True, False]
    assert all(result_text(step).startswith("CancelledError") for step in sent[::2])


def test_a_refused_call_whose_caller_left_is_reported_as_never_run() -> None:
    # The caller leaving at the very moment the function refuses its arguments (a race no
    # public API can stage): the late outcome says the call never ran.
    reported: list[Any] = []

    class Leaves:
        @property
        def __call__(self) -> Callable[[], None]:  # looked up as the call starts
            worker.abandon()
            return lambda: None

    leaves = cast("Callable[..., Any]", Leaves())  # callable through its property
    worker = agentkit._tool._Worker(leaves, [1], {}, reported.append, name="leaves")  # pyright: ignore[reportPrivateUsage]
    with pytest.raises(UsageError, match=r"^Tool 'leaves': the function refused its arguments"):
        worker.run()
    assert reported == [None]
