"""`Hooks`: the wrap-style `around_*` hooks in both drivers, and hooks refused up front."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

import pytest
from _agent_helpers import MODEL, Driver, bodies

from agentkit import Agent, PollPolicy, UsageError
from agentkit._hooks import install, uninstall
from agentkit.exceptions import BadRequestError
from agentkit.hooks import Hooks, RequestScope, RunScope, ToolScope
from agentkit.testing import Emulator, Script, function_call

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["async", "sync"])
def run(request: pytest.FixtureRequest) -> Driver:
    return Driver(request.param)


def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"Sunny in {city}"


class Recorder:
    """Hooks that write down when each scope opens and closes, and what it held then."""

    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []

    def hooks(self, **others: Any) -> Hooks:
        return Hooks(
            around_run=self.run, around_request=self.request, around_tool=self.tool, **others
        )

    @contextlib.contextmanager
    def run(self, scope: RunScope) -> Generator[None, None, None]:
        self.log.append(("run", scope.name, scope.model, scope.run_id is not None))
        try:
            yield
        except BaseException as error:
            self.log.append(("run failed", type(error).__name__))
            raise
        assert scope.result is not None
        self.log.append(("run done", scope.result.status))

    @contextlib.contextmanager
    def request(self, scope: RequestScope) -> Generator[None, None, None]:
        self.log.append(("request", scope.model, scope.body is not None))
        try:
            yield
        except BaseException as error:
            self.log.append(("request failed", type(error).__name__))
            raise
        assert scope.interaction is not None
        self.log.append(("request done", scope.interaction.status, scope.polls))

    @contextlib.contextmanager
    def tool(self, scope: ToolScope) -> Generator[None, None, None]:
        self.log.append(("tool", scope.call.name))
        yield
        assert scope.result is not None
        self.log.append(("tool done", scope.result.is_error or False))


async def test_around_hooks_wrap_the_run_each_request_and_each_tool_call(run: Driver) -> None:
    recorder = Recorder()
    emulator = Emulator(Script([function_call("get_weather", {"city": "Paris"}), "Sunny."]))
    agent = Agent(
        MODEL, tools=[get_weather], client=emulator.async_client(), hooks=recorder.hooks()
    )

    await run(agent, "Weather?")

    assert recorder.log == [
        ("run", MODEL, MODEL, True),
        ("request", MODEL, True),
        ("request done", "requires_action", 0),
        ("tool", "get_weather"),
        ("tool done", False),
        ("request", MODEL, True),
        ("request done", "completed", 0),
        ("run done", "completed"),
    ]


async def test_around_hooks_and_callbacks_run_in_order(run: Driver) -> None:
    order: list[str] = []

    @contextlib.contextmanager
    def around(scope: object) -> Generator[None, None, None]:
        order.append(f"enter {type(scope).__name__}")
        yield
        order.append(f"exit {type(scope).__name__}")

    hooks = Hooks(
        before_request=lambda body: order.append("before_request"),
        after_request=lambda interaction: order.append("after_request"),
        before_tool=lambda call: order.append("before_tool"),
        after_tool=lambda call, result: order.append("after_tool"),
        around_run=around,
        around_request=around,
        around_tool=around,
    )
    emulator = Emulator(Script([function_call("get_weather", {"city": "Rome"}), "Warm."]))
    agent = Agent(MODEL, tools=[get_weather], client=emulator.async_client(), hooks=hooks)

    await run(agent, "Weather?")

    turn = ["enter RequestScope", "before_request", "after_request", "exit RequestScope"]
    assert order == [
        "enter RunScope",
        *turn,
        "before_tool",
        "enter ToolScope",
        "exit ToolScope",
        "after_tool",
        *turn,
        "exit RunScope",
    ]


async def test_the_calls_of_a_batch_all_run_and_their_results_go_back_in_call_order(
    run: Driver, anyio_backend_name: str
) -> None:
    order: list[str] = []
    hooks = Hooks(
        before_tool=lambda call: order.append(f"start {call.arguments['city']}"),
        after_tool=lambda call, result: order.append(f"end {call.arguments['city']}"),
    )
    cities = ["Oslo", "Rome", "Lima"]
    calls = [function_call("get_weather", {"city": city}) for city in cities]
    emulator = Emulator(Script([calls, "Mixed."]))
    agent = Agent(MODEL, tools=[get_weather], client=emulator.async_client(), hooks=hooks)

    result = await run(agent, "Weather?")

    assert result.output_text == "Mixed."
    starts = [f"start {city}" for city in cities]
    if anyio_backend_name == "asyncio" or run.mode == "sync":  # trio picks its own order
        assert order[:3] == starts
    assert sorted(order) == sorted([*starts, *(f"end {city}" for city in cities)])
    sent = bodies(emulator)[-1]["input"]
    assert [step["result"][0]["text"] for step in sent] == [f"Sunny in {city}" for city in cities]


async def test_a_background_turn_is_one_request_scope_over_its_polls(run: Driver) -> None:
    recorder = Recorder()
    emulator = Emulator(Script(["Done."]), background_polls=2)
    agent = Agent(
        MODEL,
        client=emulator.async_client(),
        background=True,
        poll=PollPolicy(first=0.01),
        hooks=recorder.hooks(),
    )

    await run(agent, "Report.")

    assert recorder.log[1:3] == [("request", MODEL, True), ("request done", "completed", 3)]


async def test_a_failed_request_reaches_the_hooks_with_its_error(run: Driver) -> None:
    recorder = Recorder()
    emulator = Emulator(Script(["Hi."]))
    emulator.fail_next(1, 400)
    agent = Agent(MODEL, client=emulator.async_client(), hooks=recorder.hooks())

    with pytest.raises(BadRequestError):
        await run(agent, "Hello")

    assert recorder.log[1:] == [
        ("request", MODEL, True),
        ("request failed", "BadRequestError"),
        ("run failed", "BadRequestError"),
    ]


async def test_a_hook_cannot_swallow_the_error_that_ends_a_run(run: Driver) -> None:
    class Swallowing(contextlib.AbstractContextManager[None]):
        def __exit__(self, *exc_info: object) -> bool:
            return True  # would hide the error, in a `with` statement

    emulator = Emulator(Script(["Hi."]))
    emulator.fail_next(1, 400)
    hooks = Hooks(around_run=lambda scope: Swallowing(), around_request=lambda s: Swallowing())
    agent = Agent(MODEL, client=emulator.async_client(), hooks=hooks)

    with pytest.raises(BadRequestError):
        await run(agent, "Hello")


async def test_a_tool_hook_that_raises_ends_the_run(run: Driver) -> None:
    def broken(scope: ToolScope) -> contextlib.AbstractContextManager[None]:
        raise LookupError(f"no tracer for {scope.call.name}")

    emulator = Emulator(Script([function_call("get_weather", {"city": "Oslo"}), "Cold."]))
    hooks = Hooks(around_tool=broken)
    agent = Agent(MODEL, tools=[get_weather], client=emulator.async_client(), hooks=hooks)

    with pytest.raises(LookupError, match="no tracer for get_weather"):
        await run(agent, "Weather?")


async def test_a_raising_tool_with_raise_tool_errors_reaches_its_hook(run: Driver) -> None:
    seen: list[str] = []

    @contextlib.contextmanager
    def around(scope: ToolScope) -> Generator[None, None, None]:
        try:
            yield
        except ValueError as error:
            seen.append(str(error))
            raise

    def explode(city: str) -> str:
        raise ValueError(f"no weather in {city}")

    emulator = Emulator(Script([function_call("explode", {"city": "Atlantis"}), "Sorry."]))
    agent = Agent(
        MODEL,
        tools=[explode],
        client=emulator.async_client(),
        hooks=Hooks(around_tool=around),
        raise_tool_errors=True,
    )

    with pytest.raises(ValueError, match="no weather"):
        await run(agent, "Weather?")
    assert seen == ["no weather in Atlantis"]


async def test_installed_hooks_wrap_the_agents_own() -> None:
    # `install` is what `agentkit.otel.instrument` calls; it is private, so reached directly.
    outer, inner = Recorder(), Recorder()
    log: list[str] = []

    def named(name: str) -> Callable[[RunScope], contextlib.AbstractContextManager[None]]:
        @contextlib.contextmanager
        def around(scope: RunScope) -> Generator[None, None, None]:
            log.append(f"{name} in")
            yield
            log.append(f"{name} out")

        return around

    emulator = Emulator(Script(["One.", "Two."]))
    agent = Agent(MODEL, client=emulator.async_client(), hooks=Hooks(around_run=named("own")))
    install(Hooks(around_run=named("installed")))
    try:
        await agent.run("Hi")
    finally:
        uninstall()
    await agent.run("Hi")

    assert log == ["installed in", "own in", "own out", "installed out", "own in", "own out"]
    assert outer.log == inner.log == []


# --- refused up front --------------------------------------------------------------------------


async def _async_callback(*args: Any) -> None:
    pass


@contextlib.asynccontextmanager
async def _async_around(scope: Any) -> AsyncGenerator[None, None]:
    yield


class _AsyncCallable:
    async def __call__(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("field", "hook"),
    [
        ("after_request", _async_callback),
        ("before_tool", _AsyncCallable()),
        ("around_run", _async_around),
        ("around_tool", _async_callback),
    ],
)
def test_an_async_hook_is_refused_with_what_to_pass_instead(field: str, hook: Any) -> None:
    with pytest.raises(UsageError, match=rf"Hooks\({field}=...\) got an async function"):
        Hooks(**{field: hook})


def test_a_hook_that_is_not_a_function_is_refused() -> None:
    with pytest.raises(UsageError, match=r"Hooks\(around_request=...\) must be a function"):
        Hooks(around_request="trace")  # type: ignore[arg-type]


def test_hooks_must_be_a_hooks_object() -> None:
    with pytest.raises(UsageError, match=r"hooks= takes a Hooks\(...\)"):
        Agent(MODEL, hooks={"before_tool": print})  # type: ignore[arg-type]


@pytest.mark.parametrize("store", [True, False])
async def test_a_hook_that_edits_a_request_leaves_the_runs_steps_as_they_were(
    run: Driver, store: bool
) -> None:
    def edit(body: dict[str, Any]) -> None:
        if isinstance(body["input"], str):  # the prompt
            return
        steps: list[dict[str, Any]] = body["input"]
        for step in steps:
            if step.get("type") == "function_result":
                step["result"] = "[edited]"
            elif step.get("type") == "function_call":
                step["arguments"] = {"city": "[edited]"}

    emulator = Emulator(Script([function_call("get_weather", {"city": "Oslo"}), "Sunny."]))
    agent = Agent(
        MODEL,
        tools=[get_weather],
        client=emulator.async_client(),
        hooks=Hooks(before_request=edit),
        store=store,
    )

    result = await run(agent, "Weather?")

    assert "[edited]" in json.dumps(bodies(emulator)[1])  # the request went out as edited
    assert "[edited]" not in json.dumps(result.state.steps)
    assert "[edited]" not in json.dumps([step.to_wire() for step in result.steps])
    assert "Sunny in Oslo" in json.dumps(result.state.steps)


async def test_a_hook_that_edits_a_request_in_place_leaves_the_agents_own_fields_be(
    run: Driver,
) -> None:
    edits = iter([True])

    def vandal(body: dict[str, Any]) -> None:
        if next(edits, False):
            body["tools"][0]["description"] = "Changed by a hook"
            body["generation_config"]["temperature"] = 2.0

    emulator = Emulator(Script(["One.", "Two."]))
    agent = Agent(
        MODEL,
        tools=[get_weather],
        generation_config={"temperature": 0.1},
        client=emulator.async_client(),
        hooks=Hooks(before_request=vandal),
    )

    await run(agent, "First")
    await run(agent, "Second")

    first, second = bodies(emulator)
    assert first["tools"][0]["description"] == "Changed by a hook"  # the edit went out
    assert first["generation_config"] == {"temperature": 2.0}
    assert second["tools"][0]["description"] == "Get the weather in a city."
    assert second["generation_config"] == {"temperature": 0.1}
