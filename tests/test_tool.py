"""@tool: the forms it takes, what it declares, and what it refuses at decoration time."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

import pytest

from agentkit import Agent
from agentkit._context import RunContext
from agentkit._exceptions import UsageError
from agentkit._tool import FunctionTool, tool
from agentkit.testing import Emulator, Script
from agentkit.types import FunctionCallStep, TextContent


@tool
def get_current_temperature(
    location: str, unit: Literal["celsius", "fahrenheit"] = "celsius"
) -> dict[str, Any]:
    """Gets the current temperature for a given location.

    Args:
        location: The city name, e.g. San Francisco.
        unit: Temperature unit.
    """
    return {"location": location, "temperature": 22, "unit": unit}


def test_declaration_is_the_wire_dict() -> None:
    assert get_current_temperature.declaration == {
        "type": "function",
        "name": "get_current_temperature",
        "description": "Gets the current temperature for a given location.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"description": "The city name, e.g. San Francisco.", "type": "string"},
                "unit": {
                    "default": "celsius",
                    "description": "Temperature unit.",
                    "enum": ["celsius", "fahrenheit"],
                    "type": "string",
                },
            },
            "required": ["location"],
            "additionalProperties": False,
        },
    }


def test_declaration_is_a_fresh_copy() -> None:
    declaration = get_current_temperature.declaration
    declaration["parameters"]["properties"].clear()
    assert get_current_temperature.declaration["parameters"]["properties"]


def test_the_tool_is_still_the_function() -> None:
    assert isinstance(get_current_temperature, FunctionTool)
    assert get_current_temperature("London") == {
        "location": "London",
        "temperature": 22,
        "unit": "celsius",
    }
    # FunctionTool copies __name__ from the function at runtime but does not declare it.
    assert get_current_temperature.__name__ == "get_current_temperature"  # type: ignore[attr-defined]
    assert get_current_temperature.__doc__ is not None
    assert get_current_temperature.__doc__.startswith("Gets the current temperature")
    assert "location" in inspect.signature(get_current_temperature).parameters
    assert get_current_temperature.function.__name__ == "get_current_temperature"
    assert repr(get_current_temperature) == "<FunctionTool 'get_current_temperature'>"


def test_decorator_with_options() -> None:
    @tool(name="lookup-v2", description="Looks things up.", timeout=2.5, needs_approval=True)
    def lookup(key: str) -> str:
        """Ignored: description= wins."""
        return key

    assert lookup.name == "lookup-v2"
    assert lookup.description == "Looks things up."
    assert lookup.timeout == 2.5
    assert lookup.needs_approval is True
    assert lookup.requires_approval({"key": "x"}) is True
    assert lookup("a") == "a"


def test_call_form_and_defaults() -> None:
    def lookup(key: str) -> str:
        return key

    made = tool(lookup)
    assert made.name == "lookup"
    assert made.timeout is None
    assert made.needs_approval is False
    assert made.requires_approval({"key": "x"}) is False


def test_needs_approval_may_depend_on_the_arguments() -> None:
    @tool(needs_approval=lambda arguments: arguments.get("amount", 0) > 100)
    def pay(amount: int) -> str:
        return "paid"

    assert pay.requires_approval({"amount": 500}) is True
    assert pay.requires_approval({"amount": 5}) is False


def test_a_needs_approval_function_sees_the_defaults_of_the_arguments_left_out() -> None:
    seen: list[dict[str, Any]] = []

    def large(arguments: dict[str, Any]) -> bool:
        seen.append(arguments)
        return bool(arguments["amount"] > 100)

    @tool(needs_approval=large)
    def pay(to: str, amount: int = 500, memo: dict[str, str] | None = None) -> str:
        return "paid"

    assert pay.requires_approval({"to": "ada"}) is True  # it would pay 500
    assert pay.requires_approval({"to": "ada", "amount": 5, "memo": {"k": "v"}}) is False
    assert seen == [
        {"to": "ada", "amount": 500, "memo": None},
        {"to": "ada", "amount": 5, "memo": {"k": "v"}},
    ]


def test_tool_of_a_tool() -> None:
    assert tool(get_current_temperature) is get_current_temperature
    renamed = tool(name="temperature")(get_current_temperature)
    assert renamed.name == "temperature"
    assert renamed.parameters == get_current_temperature.parameters


async def answer(made: FunctionTool[..., Any], **arguments: Any) -> Any:
    step = await made.invoke(FunctionCallStep(id="c", name=made.name, arguments=arguments))
    assert not step.is_error, step.result
    assert isinstance(step.result, list)
    return step.result[0].text  # type: ignore[union-attr]


class Counter:
    """Counts things."""

    def __init__(self, start: int) -> None:
        self.start = start

    @tool
    def add(self, amount: int) -> int:
        """Add to the start.

        Args:
            amount: How much.
        """
        return self.start + amount

    @tool
    async def add_async(self, amount: int) -> int:
        return self.start + amount

    @tool
    @staticmethod
    def double(value: int) -> int:
        """Double it."""
        return value * 2

    @tool
    @classmethod
    def describe(cls, suffix: str) -> str:
        """Name the class."""
        return cls.__name__ + suffix

    @staticmethod
    @tool
    def triple(value: int) -> int:
        return value * 3

    def plain(self, amount: int) -> int:
        """A plain method."""
        return self.start - amount


def test_a_method_in_a_class_body_has_no_self_in_its_schema() -> None:
    for made in (Counter.add, Counter(1).add):
        assert made.parameters["properties"] == {
            "amount": {"description": "How much.", "type": "integer"}
        }
        assert made.description == "Add to the start."


def test_methods_stay_callable_like_methods() -> None:
    counter = Counter(10)
    assert counter.add(1) == 11
    assert Counter.add(counter, 2) == 12
    assert counter.double(3) == 6
    assert Counter.double(4) == 8
    # FunctionTool types a class-accessed classmethod tool as unbound, (cls, suffix); at runtime
    # it binds cls like a classmethod.
    assert Counter.describe("!") == "Counter!"  # type: ignore[call-arg, arg-type]
    assert counter.describe("?") == "Counter?"
    assert Counter.triple(2) == 6
    assert counter.triple(3) == 9


@pytest.mark.anyio
async def test_methods_are_invoked_bound() -> None:
    counter = Counter(10)
    assert await answer(counter.add, amount=5) == "15"
    assert await answer(counter.add_async, amount=6) == "16"
    assert await answer(Counter.double, value=7) == "14"
    assert await answer(counter.double, value=8) == "16"
    assert await answer(Counter.describe, suffix="#") == "Counter#"
    assert await answer(counter.describe, suffix="$") == "Counter$"
    assert await answer(Counter.triple, value=1) == "3"


@pytest.mark.anyio
async def test_each_instance_gets_its_own_bound_tool() -> None:
    one, two = Counter(1), Counter(2)
    assert await answer(one.add, amount=1) == "2"
    assert await answer(two.add, amount=1) == "3"


@pytest.mark.anyio
async def test_a_method_taken_from_its_class_refuses_to_run() -> None:
    with pytest.raises(UsageError, match=r"Tool 'add' is a method: use it through an instance"):
        await Counter.add.invoke(FunctionCallStep(id="c", name="add", arguments={"amount": 1}))


def test_an_agent_refuses_a_method_taken_from_its_class_before_any_request() -> None:
    emulator = Emulator(Script(["Unused."]))
    with pytest.raises(UsageError, match=r"Tool 'add' is a method: use it through an instance"):
        Agent("gemini-3.5-flash", tools=[Counter.add], client=emulator.client())
    assert emulator.requests == []
    Agent("gemini-3.5-flash", tools=[Counter(1).add, Counter.double, Counter.describe])


def test_static_and_class_methods_have_no_self_or_cls() -> None:
    assert list(Counter.double.parameters["properties"]) == ["value"]
    assert list(Counter.describe.parameters["properties"]) == ["suffix"]
    assert list(Counter.triple.parameters["properties"]) == ["value"]
    assert Counter.double.description == "Double it."


@pytest.mark.anyio
async def test_bound_methods_and_functions_taken_from_a_class() -> None:
    counter = Counter(10)
    plain = tool(counter.plain)
    assert plain.name == "plain"
    assert plain.description == "A plain method."
    assert list(plain.parameters["properties"]) == ["amount"]
    assert plain(1) == 9
    assert await answer(plain, amount=2) == "8"


class Shout:
    """Shouts the text back."""

    def __init__(self, times: int) -> None:
        self.times = times

    def __call__(self, text: str) -> str:
        """Shout it.

        Args:
            text: What to shout.
        """
        return text.upper() * self.times


class Whisper:
    """Whispers the text back."""

    async def __call__(self, text: str) -> str:
        return text.lower()


@pytest.mark.anyio
async def test_callable_instances() -> None:
    shout = tool(Shout(2))
    assert shout.name == "Shout"
    assert shout.description == "Shout it."
    assert shout.parameters["properties"] == {
        "text": {"description": "What to shout.", "type": "string"}
    }
    assert shout("a") == "AA"
    assert await answer(shout, text="b") == "BB"

    whisper = tool(Whisper(), name="whisper")
    assert whisper.description == "Whispers the text back."
    assert await answer(whisper, text="HI") == "hi"


def total(a: int, b: int, c: int = 0, *, scale: int = 1) -> int:
    """Add three numbers and scale.

    Args:
        a: First.
        b: Second.
        c: Third.
        scale: Factor.
    """
    return (a + b + c) * scale


@pytest.mark.anyio
async def test_partials_leave_bound_arguments_out() -> None:
    positional = tool(functools.partial(total, 1))
    assert positional.name == "total"
    assert positional.description == "Add three numbers and scale."
    assert list(positional.parameters["properties"]) == ["b", "c", "scale"]
    assert positional.parameters["required"] == ["b"]
    assert await answer(positional, b=2, c=3) == "6"

    keyword = tool(functools.partial(total, b=10, scale=2))
    assert list(keyword.parameters["properties"]) == ["a", "c"]
    assert keyword.parameters["properties"]["a"] == {"description": "First.", "type": "integer"}
    assert await answer(keyword, a=1) == "22"
    assert keyword(a=1, c=1) == 24


async def fetch(url: str) -> str:
    """Fetch a URL."""
    return url


@pytest.mark.anyio
async def test_async_functions_stay_async() -> None:
    made = tool(fetch)
    assert inspect.iscoroutinefunction(made.function)
    assert await made("x") == "x"
    assert await answer(made, url="u") == "u"


# Refusals.


def test_generators_are_refused() -> None:
    def numbers() -> Iterator[int]:
        yield 1

    with pytest.raises(UsageError) as info:
        tool(numbers)
    assert str(info.value) == (
        "test_generators_are_refused.<locals>.numbers is a generator function, which cannot be "
        "a tool: a tool returns its whole result at once. Collect the items into a list and "
        "return that."
    )


def test_async_generators_are_refused() -> None:
    async def numbers() -> AsyncIterator[int]:
        yield 1

    with pytest.raises(UsageError, match=r"numbers is a generator function, which cannot be"):
        tool(numbers)


def test_a_partial_of_a_generator_is_refused() -> None:
    def numbers(n: int) -> Iterator[int]:
        yield n

    with pytest.raises(UsageError, match="generator function"):
        tool(functools.partial(numbers, 1))


def test_lambdas_need_a_name() -> None:
    # Bare lambdas are the point: their parameter types are unknown.
    with pytest.raises(UsageError) as info:
        tool(lambda x: x)  # pyright: ignore[reportUnknownLambdaType, reportUnknownArgumentType]
    assert str(info.value) == (
        "'<lambda>' (from test_lambdas_need_a_name.<locals>.<lambda>) is not a valid tool "
        "name: use 1 to 64 ASCII letters, digits, '_' or '-'. Give the tool a name with "
        "@tool(name=...)."
    )
    assert tool(lambda: "same", name="constant").name == "constant"
    # A lambda's parameters cannot be annotated: a tool that takes arguments is a def.
    with pytest.raises(UsageError, match=r"Tool 'identity': parameter 'x' needs a type annotation"):
        tool(lambda x: x, name="identity")  # pyright: ignore[reportUnknownLambdaType, reportUnknownArgumentType]


def test_non_ascii_names_are_refused() -> None:
    def café() -> None: ...

    with pytest.raises(UsageError, match=r"'café' \(from .*café\) is not a valid tool name"):
        tool(café)
    assert tool(name="cafe")(café).name == "cafe"


@pytest.mark.parametrize("name", ["x" * 65, "", "has space", "dot.ted", "slash/ed"])
def test_invalid_names_are_refused(name: str) -> None:
    def f() -> None: ...

    with pytest.raises(UsageError, match="is not a valid tool name"):
        tool(name=name)(f)


@pytest.mark.parametrize("name", ["x" * 64, "a", "A-b_9", "0"])
def test_valid_names(name: str) -> None:
    def f() -> None: ...

    assert tool(name=name)(f).name == name


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_a_timeout_must_be_positive(timeout: float) -> None:
    def f() -> None: ...

    with pytest.raises(UsageError, match=r"Tool 'f': timeout must be a positive number"):
        tool(timeout=timeout)(f)


def test_something_not_callable_is_refused() -> None:
    with pytest.raises(UsageError, match="tool\\(\\) takes a function, not 42"):
        FunctionTool(42)  # type: ignore[arg-type]


def test_run_context_is_injected_not_declared() -> None:
    @tool
    def greet(ctx: RunContext[str], name: str) -> str:
        return f"{ctx.deps} {name}"

    assert greet.parameters["properties"] == {"name": {"type": "string"}}
    assert greet(RunContext(deps="Hello"), "Ada") == "Hello Ada"


@dataclasses.dataclass(frozen=True, slots=True)
class TenantContext(RunContext[None]):
    tenant: str = "nobody"


@pytest.mark.anyio
async def test_a_subclass_of_run_context_reaches_the_tool_whole() -> None:
    @tool
    def whoami(ctx: RunContext[None]) -> str:
        assert isinstance(ctx, TenantContext)
        return f"{ctx.tenant} {ctx.call_id}"

    call = FunctionCallStep(id="c1", name="whoami", arguments={})
    step = await whoami.invoke(call, TenantContext(deps=None, tenant="acme"))

    assert step.result == [TextContent(text="acme c1")]


def test_a_class_is_refused_with_what_to_do_instead() -> None:
    class Weather:
        def __init__(self, city: str) -> None:
            self.city = city

    with pytest.raises(UsageError, match=r"not the class .*Weather: decorate one of its methods"):
        tool(Weather)
