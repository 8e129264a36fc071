"""FunctionTool.invoke: arguments in, a function_result step out, whatever happens."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import enum
import logging
import math
import pathlib
import threading
import uuid
from collections.abc import Awaitable
from typing import Any, Literal

import anyio
import pytest
from pydantic import BaseModel

from agentkit._content import image
from agentkit._context import RunContext
from agentkit._exceptions import UsageError
from agentkit._tool import FunctionTool, tool
from agentkit.types import (
    DocumentContent,
    FunctionCallStep,
    FunctionResultStep,
    ImageContent,
    TextContent,
    Usage,
)

pytestmark = pytest.mark.anyio

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8


def call(
    made: FunctionTool[..., Any], call_id: str = "call-1", **arguments: Any
) -> FunctionCallStep:
    return FunctionCallStep(id=call_id, name=made.name, arguments=arguments)


def text_of(step: FunctionResultStep) -> str:
    assert isinstance(step.result, list)
    assert len(step.result) == 1
    block = step.result[0]
    assert isinstance(block, TextContent)
    return block.text


class Unit(enum.Enum):
    CELSIUS = "celsius"
    KELVIN = "kelvin"


class Place(BaseModel):
    city: str
    country: str | None = None


@dataclasses.dataclass
class Window:
    start: datetime.datetime
    hours: int = 1


@tool
def forecast(
    place: Place,
    days: list[int],
    unit: Literal["celsius", "fahrenheit"] = "celsius",
    window: Window | None = None,
) -> str:
    """Forecast the weather."""
    return "sunny"


async def test_a_successful_call_gives_a_result_step() -> None:
    step = await forecast.invoke(call(forecast, place={"city": "Oslo"}, days=[1]))
    assert step.to_wire() == {
        "type": "function_result",
        "call_id": "call-1",
        "name": "forecast",
        "result": [{"type": "text", "text": "sunny"}],
    }


async def test_invalid_arguments_name_every_bad_field() -> None:
    step = await forecast.invoke(
        call(
            forecast,
            place={"country": 3},
            days=[1, "two"],
            unit="kelvin",
            window={"start": "yesterday"},
            colour="red",
        )
    )
    assert step.is_error is True
    assert step.call_id == "call-1"
    assert step.name == "forecast"
    assert text_of(step) == (
        "Invalid arguments for tool 'forecast', so it did not run:\n"
        "- place.city: missing required field\n"
        "- place.country: Input should be a valid string; received 3\n"
        "- days[1]: Input should be a valid integer, unable to parse string as an integer; "
        'received "two"\n'
        "- unit: Input should be 'celsius' or 'fahrenheit'; received \"kelvin\"\n"
        "- window.start: Input should be a valid datetime or date, input is too short; "
        'received "yesterday"\n'
        "- colour: unexpected argument; the arguments are: place, days, unit, window\n"
        "Call the tool again with corrected arguments."
    )


async def test_missing_arguments_say_what_is_expected() -> None:
    step = await forecast.invoke(call(forecast))
    assert text_of(step) == (
        "Invalid arguments for tool 'forecast', so it did not run:\n"
        '- place: missing required argument; expected {"properties":{"city":{"type":"string"},'
        '"country":{"anyOf":[{"type":"string"},{"type":"null"}],"default":null}},"requ...\n'
        '- days: missing required argument; expected {"items":{"type":"integer"},"type":"array"}\n'
        "Call the tool again with corrected arguments."
    )


async def test_union_alternatives_are_reported_together() -> None:
    @tool
    def pick(choice: int | list[str]) -> None: ...

    step = await pick.invoke(call(pick, choice={"a": 1}))
    assert text_of(step) == (
        "Invalid arguments for tool 'pick', so it did not run:\n"
        "- choice: Input should be a valid integer (as int); or Input should be a valid list "
        '(as list[str]); received {"a":1}\n'
        "Call the tool again with corrected arguments."
    )


async def test_many_errors_are_capped() -> None:
    @tool
    def many(values: list[int]) -> None: ...

    step = await many.invoke(call(many, values=["x"] * 30))
    lines = text_of(step).splitlines()
    assert len(lines) == 1 + 20 + 1 + 1
    assert lines[-2] == "- ... and 10 more"


async def test_a_tool_without_parameters_refuses_arguments() -> None:
    @tool
    def ping() -> str:
        return "pong"

    assert text_of(await ping.invoke(call(ping))) == "pong"
    step = await ping.invoke(call(ping, extra=1))
    assert "- extra: unexpected argument; the arguments are: none" in text_of(step)


async def test_arguments_are_converted() -> None:
    seen: dict[str, Any] = {}

    @tool
    def record(
        place: Place,
        window: Window,
        when: datetime.date,
        at: datetime.time,
        ident: uuid.UUID,
        amount: decimal.Decimal,
        path: pathlib.Path,
        unit: Unit,
        pair: tuple[int, str],
        tags: set[str],
        frozen: frozenset[int],
        raw: bytes,
        span: datetime.timedelta,
    ) -> None:
        seen.update(
            place=place,
            window=window,
            when=when,
            at=at,
            ident=ident,
            amount=amount,
            path=path,
            unit=unit,
            pair=pair,
            tags=tags,
            frozen=frozen,
            raw=raw,
            span=span,
        )

    step = await record.invoke(
        call(
            record,
            place={"city": "Oslo"},
            window={"start": "2024-05-01T10:00:00Z", "hours": 2},
            when="2024-05-02",
            at="12:30:00",
            ident="00000000-0000-0000-0000-000000000001",
            amount="1.50",
            path="/tmp/x",
            unit="kelvin",
            pair=[1, "a"],
            tags=["a", "b", "a"],
            frozen=[1],
            raw="héllo",
            span="PT1H",
        )
    )
    assert step.result == []
    assert seen == {
        "place": Place(city="Oslo"),
        "window": Window(datetime.datetime(2024, 5, 1, 10, tzinfo=datetime.timezone.utc), 2),
        "when": datetime.date(2024, 5, 2),
        "at": datetime.time(12, 30),
        "ident": uuid.UUID(int=1),
        "amount": decimal.Decimal("1.50"),
        "path": pathlib.Path("/tmp/x"),
        "unit": Unit.KELVIN,
        "pair": (1, "a"),
        "tags": {"a", "b"},
        "frozen": frozenset({1}),
        "raw": "héllo".encode(),
        "span": datetime.timedelta(hours=1),
    }


async def test_every_parameter_kind_is_passed_as_the_function_expects() -> None:
    seen: list[Any] = []

    @tool
    def kinds(a: int, /, b: int, *, c: int, d: int = 4) -> None:
        seen.append((a, b, c, d))

    await kinds.invoke(call(kinds, a=1, b=2, c=3))
    await kinds.invoke(call(kinds, a=1, b=2, c=3, d=5))
    assert seen == [(1, 2, 3, 4), (1, 2, 3, 5)]


async def test_a_field_default_reaches_the_function_as_its_value() -> None:
    from pydantic import Field

    @tool
    def limit(n: int = Field(10, ge=1)) -> int:
        return n

    assert text_of(await limit.invoke(call(limit))) == "10"


# Exceptions and timeouts.


async def test_an_exception_becomes_an_error_result() -> None:
    @tool
    def divide(a: int, b: int) -> float:
        return a / b

    step = await divide.invoke(call(divide, a=1, b=0))
    assert step.is_error is True
    assert text_of(step) == "ZeroDivisionError: division by zero"


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (ValueError("bad value"), "ValueError: bad value"),
        (RuntimeError(), "RuntimeError"),
        (KeyError("k"), "KeyError: 'k'"),
        (TimeoutError("my own timeout"), "TimeoutError: my own timeout"),
    ],
)
async def test_exception_texts(error: Exception, text: str) -> None:
    @tool
    async def fail() -> None:
        raise error

    assert text_of(await fail.invoke(call(fail))) == text


async def test_raise_errors_lets_the_tools_exception_through_unchanged() -> None:
    error = ValueError("boom")

    @tool
    def fail(x: int) -> None:
        raise error

    with pytest.raises(ValueError, match="boom") as info:
        await fail.invoke(call(fail, x=1), raise_errors=True)
    assert info.value is error
    # Invalid arguments are still a result: the tool never ran.
    step = await fail.invoke(call(fail, x="nope"), raise_errors=True)
    assert step.is_error is True


async def test_an_async_tool_that_takes_too_long_times_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    never = anyio.Event()

    @tool(timeout=0.05)
    async def slow() -> None:
        await never.wait()

    with caplog.at_level(logging.WARNING, logger="agentkit.tool"):
        step = await slow.invoke(call(slow))
    assert step.is_error is True
    assert text_of(step) == "TimeoutError: tool 'slow' did not finish within 0.05 s."
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "TimeoutError: tool 'slow' did not finish within 0.05 s. The model gets an error result."
    )


async def test_a_sync_tool_that_takes_too_long_times_out() -> None:
    release = threading.Event()

    @tool(timeout=0.05)
    def blocking() -> None:
        release.wait()

    try:
        step = await blocking.invoke(call(blocking), raise_errors=True)
    finally:
        release.set()  # the abandoned worker thread ends
    assert text_of(step) == "TimeoutError: tool 'blocking' did not finish within 0.05 s."


async def test_cancellation_propagates() -> None:
    started = anyio.Event()
    finished: list[FunctionResultStep] = []

    @tool
    async def wait_forever() -> None:
        started.set()
        await anyio.Event().wait()

    async def run() -> None:
        finished.append(await wait_forever.invoke(call(wait_forever)))

    async with anyio.create_task_group() as group:
        group.start_soon(run)
        await started.wait()
        group.cancel_scope.cancel()
    assert finished == []


# Return values.


@dataclasses.dataclass
class Reading:
    at: datetime.datetime
    value: decimal.Decimal
    tags: tuple[str, ...]
    unit: Unit
    note: str | None = None


class Extended(Place):
    population: int


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain text", "plain text"),
        ("", ""),
        ({"a": None, "b": [1, 2.5, True]}, '{"a":null,"b":[1,2.5,true]}'),
        ([1, "two", None], '[1,"two",null]'),
        (42, "42"),
        (False, "false"),
        (Place(city="Oslo"), '{"city":"Oslo","country":null}'),
        (
            {"place": Extended(city="Oslo", population=7)},
            '{"place":{"city":"Oslo","country":null,"population":7}}',
        ),
        (
            Reading(
                datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.timezone.utc),
                decimal.Decimal("1.50"),
                ("a", "b"),
                Unit.KELVIN,
            ),
            '{"at":"2024-05-01T12:00:00Z","value":"1.50","tags":["a","b"],"unit":"kelvin",'
            '"note":null}',
        ),
        (uuid.UUID(int=1), '"00000000-0000-0000-0000-000000000001"'),
        (datetime.date(2024, 1, 2), '"2024-01-02"'),
        ({3}, "[3]"),
        ((1, "a"), '[1,"a"]'),
        (Unit.CELSIUS, '"celsius"'),
        ({"blob": b"\xff\x00"}, '{"blob":"_wA="}'),  # pydantic writes base64url
        ({"x": math.nan, "y": math.inf}, '{"x":null,"y":null}'),
        ({"text": "é ü 中"}, '{"text":"é ü 中"}'),
    ],
    ids=repr,
)
async def test_return_values_become_text(value: Any, text: str) -> None:
    @tool
    def give() -> Any:
        return value

    step = await give.invoke(call(give))
    assert step.is_error is None
    assert text_of(step) == text


async def test_none_is_an_empty_result() -> None:
    @tool
    def nothing() -> None:
        return None

    step = await nothing.invoke(call(nothing))
    assert step.result == []
    assert step.to_wire()["result"] == []


async def test_a_value_without_json_form_is_an_error_not_a_repr() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<secret repr>"

    @tool
    def give() -> object:
        return Opaque()

    step = await give.invoke(call(give))
    assert step.is_error is True
    message = text_of(step)
    assert message.startswith("TypeError: Tool 'give' returned a Opaque, which cannot be turned")
    assert "<secret repr>" not in message
    with pytest.raises(UsageError, match="returned a Opaque"):
        await give.invoke(call(give), raise_errors=True)


async def test_content_blocks_are_returned_as_blocks() -> None:
    picture = image(PNG)

    @tool
    def one() -> ImageContent:
        return picture

    @tool
    def mixed() -> list[Any]:
        return ["Here it is:", picture, {"size": 16}, None, PNG]

    @tool
    def raw() -> bytes:
        return PNG

    @tool
    def text_bytes() -> bytes:
        return b"plain"

    assert (await one.invoke(call(one))).result == [picture]
    step = await mixed.invoke(call(mixed))
    assert step.to_wire()["result"] == [
        {"type": "text", "text": "Here it is:"},
        {"type": "image", "data": base64.b64encode(PNG).decode(), "mime_type": "image/png"},
        {"type": "text", "text": '{"size":16}'},
        {"type": "image", "data": base64.b64encode(PNG).decode(), "mime_type": "image/png"},
    ]
    assert (await raw.invoke(call(raw))).result == [
        ImageContent(data=base64.b64encode(PNG).decode(), mime_type="image/png")
    ]
    assert (await text_bytes.invoke(call(text_bytes))).result == [
        DocumentContent(data=base64.b64encode(b"plain").decode(), mime_type="text/plain")
    ]


async def test_a_sync_function_returning_an_awaitable_is_awaited() -> None:
    async def later() -> str:
        return "done"

    @tool
    def wrapper() -> Awaitable[str]:
        return later()

    assert text_of(await wrapper.invoke(call(wrapper))) == "done"


# RunContext.


@dataclasses.dataclass
class Deps:
    greeting: str


async def test_the_context_is_injected_with_this_calls_ids() -> None:
    seen: list[RunContext[Any]] = []

    @tool
    def greet(name: str, *, ctx: RunContext[Deps]) -> str:
        seen.append(ctx)
        return f"{ctx.deps.greeting}, {name}"

    run = RunContext(deps=Deps("Hello"), usage=Usage(total_tokens=5), run_id="r", turn=2)
    step = await greet.invoke(call(greet, "c9", name="Ada"), run)
    assert text_of(step) == "Hello, Ada"
    assert seen[0] == dataclasses.replace(run, call_id="c9", tool_name="greet")


async def test_a_context_already_for_this_call_is_passed_as_is() -> None:
    seen: list[RunContext[Any]] = []

    @tool
    def look(ctx: RunContext) -> None:
        seen.append(ctx)

    run = RunContext(deps=None, call_id="c1", tool_name="look")
    await look.invoke(call(look, "c1"), run)
    assert seen[0] is run


async def test_without_a_context_an_empty_one_is_injected() -> None:
    seen: list[RunContext[Any]] = []

    @tool
    def look(ctx: RunContext[None]) -> None:
        seen.append(ctx)

    await look.invoke(call(look, "c2"))
    assert seen[0].deps is None
    assert seen[0].call_id == "c2"
    assert seen[0].tool_name == "look"
    assert seen[0].usage == Usage()
    assert seen[0].metadata == {}


async def test_a_positional_only_context_is_passed_in_its_place() -> None:
    @tool
    def first(ctx: RunContext[str], /, text: str) -> str:
        return ctx.deps + text

    assert text_of(await first.invoke(call(first, text="b"), RunContext(deps="a"))) == "ab"


# Concurrency.


async def test_async_tools_run_concurrently() -> None:
    ping, pong = anyio.Event(), anyio.Event()

    @tool
    async def left() -> str:
        ping.set()
        await pong.wait()
        return "left"

    @tool
    async def right() -> str:
        await ping.wait()
        pong.set()
        return "right"

    results: dict[str, str] = {}

    async def run(made: FunctionTool[..., Any]) -> None:
        results[made.name] = text_of(await made.invoke(call(made)))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(run, left)
            group.start_soon(run, right)
    assert results == {"left": "left", "right": "right"}


async def test_sync_tools_run_in_worker_threads_under_the_limiter() -> None:
    barrier = threading.Barrier(2, timeout=5)  # sequential runs would break the barrier
    limiter = anyio.CapacityLimiter(2)
    borrowed: list[float] = []
    caller = threading.get_ident()
    threads: list[int] = []

    @tool
    def meet(name: str) -> str:
        threads.append(threading.get_ident())
        barrier.wait()
        borrowed.append(limiter.borrowed_tokens)
        barrier.wait()  # neither returns (and gives its token back) before both have looked
        return name

    results: dict[str, str] = {}

    async def run(name: str) -> None:
        step = await meet.invoke(call(meet, name, name=name), limiter=limiter)
        results[step.call_id] = text_of(step)

    async with anyio.create_task_group() as group:
        group.start_soon(run, "a")
        group.start_soon(run, "b")
    assert results == {"a": "a", "b": "b"}
    assert borrowed == [2, 2]
    assert caller not in threads


async def test_one_tool_invoked_many_times_at_once_keeps_calls_apart() -> None:
    @tool
    async def echo(value: int) -> int:
        await anyio.lowlevel.checkpoint()
        return value

    results: dict[str, str] = {}

    async def run(index: int) -> None:
        step = await echo.invoke(call(echo, f"c{index}", value=index))
        results[step.call_id] = text_of(step)

    async with anyio.create_task_group() as group:
        for index in range(50):
            group.start_soon(run, index)
    assert results == {f"c{index}": str(index) for index in range(50)}


async def test_a_tool_from_a_future_annotations_module_converts_its_arguments() -> None:
    from _future_annotations_tools import Deps as FutureDeps
    from _future_annotations_tools import Owner, Tree, schedule

    step = await schedule.invoke(
        call(
            schedule,
            when="2024-01-01T00:00:00Z",
            tree={"label": "a", "children": [{"label": "b"}]},
            owner={"name": "Ada"},
        ),
        RunContext(deps=FutureDeps("p")),
    )
    assert text_of(step) == (
        '{"when":"2024-01-01T00:00:00Z","tree":{"label":"a","children":[{"label":"b",'
        '"children":[]}]},"owner":{"name":"Ada","email":null},"mode":"fast","prefix":"p"}'
    )
    assert (
        schedule(
            datetime.datetime(2024, 1, 1),
            Tree(label="x"),
            Owner("Bo"),
            ctx=RunContext(deps=FutureDeps("q")),
        )["prefix"]
        == "q"
    )


async def test_an_unexpected_field_in_a_nested_dataclass_is_named() -> None:
    step = await forecast.invoke(
        call(forecast, place={"city": "Oslo"}, days=[], window={"start": "2024-01-01", "x": 1})
    )
    assert "- window.x: unexpected field\n" in text_of(step)


async def test_arguments_that_are_not_an_object() -> None:
    step = await forecast.invoke(
        FunctionCallStep.model_construct(id="c", name="forecast", arguments=[1])
    )
    assert text_of(step) == (
        "Invalid arguments for tool 'forecast', so it did not run:\n"
        "- arguments: Input should be a valid dictionary or instance of Arguments; received [1]\n"
        "Call the tool again with corrected arguments."
    )
