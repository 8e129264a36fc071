"""`Agent`: runs the tool-calling loop of `_loop.RunMachine` over the API (async and sync)."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from contextlib import aclosing
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic

import anyio
import pydantic
from anyio.from_thread import BlockingPortal, start_blocking_portal
from typing_extensions import TypeVar, assert_never

from agentkit._client import AsyncClient, Client
from agentkit._context import RunContext
from agentkit._events import (
    RunCompleteEvent,
    RunEvent,
    ServerToolEvent,
    StatusEvent,
    TextDeltaEvent,
    ThoughtSummaryEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from agentkit._exceptions import RunError, UsageError
from agentkit._loop import (
    Action,
    Approval,
    Done,
    Fail,
    LoopConfig,
    Poll,
    PollPolicy,
    RunMachine,
    RunTools,
    Send,
    UsageLimits,
)
from agentkit._result import RunResult, RunState
from agentkit._streaming import StreamAccumulator
from agentkit._tool import FunctionTool, tool
from agentkit._toolset import AgentTool, ToolHooks, ToolSet
from agentkit.types import (
    Event,
    FunctionCallStep,
    FunctionResultStep,
    Interaction,
    StepDeltaEvent,
    StepStopEvent,
    TextDelta,
    ThoughtSummaryDelta,
)

__all__ = ["Agent", "Hooks", "RunHandle"]

logger = logging.getLogger("agentkit.agent")

OutputT = TypeVar("OutputT", default=Any)
DepsT = TypeVar("DepsT", default=Any)
T = TypeVar("T")

_SERVER_STEP_SUFFIXES = ("_call", "_result")


@dataclass(frozen=True)
class Hooks:
    """Optional callbacks around model requests and tool calls.

    They are plain functions called in the run's thread or task; keep them quick (logging,
    metrics, tracing). An exception in a hook ends the run.
    """

    before_request: Callable[[dict[str, Any]], None] | None = None
    after_request: Callable[[Interaction], None] | None = None
    before_tool: Callable[[FunctionCallStep], None] | None = None
    after_tool: Callable[[FunctionCallStep, FunctionResultStep], None] | None = None


def _call_in_portal(portal: BlockingPortal, fn: Callable[[], Any]) -> Any:
    future = portal.start_task_soon(fn)
    try:
        return future.result()
    except BaseException:
        future.cancel()  # Ctrl-C lands here, in the caller's thread; the task would keep running
        raise


class Agent(Generic[DepsT, OutputT]):
    """A model (or managed agent) with tools, run in a loop until it has an answer.

    Example:
        ```python
        agent = Agent("gemini-3.5-flash", tools=[get_weather], system_instruction="Be brief.")
        result = agent.run_sync("What is the weather in Paris?")
        print(result.output_text)
        ```
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        agent: str | None = None,
        tools: Sequence[AgentTool] = (),
        system_instruction: str | None = None,
        generation_config: Mapping[str, Any] | None = None,
        output_type: type[OutputT] | None = None,
        response_format: Any = None,
        store: bool = True,
        background: bool = False,
        max_turns: int = 20,
        max_repeated_calls: int = 3,
        limits: UsageLimits | None = None,
        poll: PollPolicy | None = None,
        raise_tool_errors: bool = False,
        environment: str | Mapping[str, Any] | None = None,
        agent_config: Mapping[str, Any] | None = None,
        request_fields: Mapping[str, Any] | None = None,
        client: AsyncClient | Client | None = None,
        hooks: Hooks | None = None,
        name: str | None = None,
    ) -> None:
        """Configure an agent; nothing is sent until a run starts.

        Args:
            model: The model id, e.g. `gemini-3.5-flash`. Give either this or `agent`.
            agent: A managed agent id (e.g. a deep-research agent) instead of a model.
            tools: @tool functions, plain functions, server tools (`google_search()`...) or
                raw tool declaration dicts.
            output_type: A pydantic model (or any type pydantic validates) for structured
                output; `result.output` holds the validated value.
            response_format: A raw `response_format` to send as is (instead of output_type).
            store: False keeps the history client-side (stateless) instead of chaining
                `previous_interaction_id`.
            background: Create interactions with `background=true` and poll them.
            max_turns: Most model requests in one run before `MaxTurnsExceeded`.
            max_repeated_calls: How often the identical call may repeat before the run stops.
            raise_tool_errors: Let exceptions raised inside tools propagate instead of
                reporting them to the model as error results.
            request_fields: Other create fields to send with every request (safety_settings,
                service_tier, labels...).
            client: An `AsyncClient` or `Client`; by default one is made from the environment.
        """
        if (model is None) == (agent is None):
            raise UsageError("Agent needs exactly one of `model` (a model id) or `agent=`.")
        if agent is not None and generation_config is not None:
            raise UsageError(
                "generation_config is only allowed with a model, not with agent= "
                "(configure a managed agent with agent_config=)."
            )
        if model is not None and (agent_config is not None):
            raise UsageError("agent_config is only allowed with agent=, not with a model.")
        if output_type is not None and response_format is not None:
            raise UsageError("Give output_type or response_format, not both.")
        self.model = model
        self.agent = agent
        self.name = name or (model or agent or "agent")
        self.toolset = ToolSet(tools)
        self.output_type = output_type
        self.raise_tool_errors = raise_tool_errors
        self.hooks = hooks or Hooks()
        self._client = client
        self._async_client: AsyncClient | None = client if isinstance(client, AsyncClient) else None
        self._sync_client: Client | None = client if isinstance(client, Client) else None

        fields: dict[str, Any] = {}
        if system_instruction is not None:
            fields["system_instruction"] = system_instruction
        if generation_config is not None:
            fields["generation_config"] = dict(generation_config)
        adapter: pydantic.TypeAdapter[Any] | None = None
        if output_type is not None:
            adapter = pydantic.TypeAdapter(output_type)
            fields["response_format"] = {
                "type": "text",
                "mime_type": "application/json",
                "schema": adapter.json_schema(),
            }
        elif response_format is not None:
            fields["response_format"] = response_format
        if environment is not None:
            fields["environment"] = environment
        if agent_config is not None:
            fields["agent_config"] = dict(agent_config)
        fields.update(request_fields or {})
        self._config = LoopConfig(
            model=model,
            agent=agent,
            tools=self.toolset.declarations,
            local_tools=self.toolset.names,
            request_fields=fields,
            store=store,
            background=background,
            max_turns=max_turns,
            max_repeated_calls=max_repeated_calls,
            limits=limits or UsageLimits(),
            poll=poll or PollPolicy(),
            needs_approval=self.toolset.needs_approval,
            output_adapter=adapter,
        )

    def __repr__(self) -> str:
        target = f"model={self.model!r}" if self.model else f"agent={self.agent!r}"
        return f"Agent({target}, tools={sorted(self.toolset.names)})"

    # -- clients ------------------------------------------------------------------------------

    @property
    def async_client(self) -> AsyncClient:
        """The client the async drivers use (made from the environment when not given)."""
        if self._async_client is None:
            self._async_client = (
                self._sync_client.async_twin() if self._sync_client else AsyncClient()
            )
        return self._async_client

    @property
    def sync_client(self) -> Client:
        """The client the sync drivers use (made from the environment when not given)."""
        if self._sync_client is None:
            self._sync_client = self._async_client.sync_twin() if self._async_client else Client()
        return self._sync_client

    # -- machine setup ------------------------------------------------------------------------

    def _machine(
        self, *, previous: RunResult[Any] | RunState | None, stream: bool, background: bool | None
    ) -> tuple[RunMachine, str | None]:
        config = self._config
        overrides: dict[str, Any] = {}
        if stream != config.stream:
            overrides["stream"] = stream
        if background is not None and background != config.background:
            overrides["background"] = background
        if overrides:
            config = dataclasses.replace(config, **overrides)
        state = previous.state if isinstance(previous, RunResult) else previous
        fresh = RunState(history=list(state.history)) if state is not None else None
        continue_from = state.interaction_id if state is not None and config.store else None
        return RunMachine(config, fresh), continue_from

    def _context(self, machine: RunMachine, deps: Any, run_id: str) -> RunContext[Any]:
        return RunContext(
            deps=deps,
            usage=machine.snapshot("in_progress").usage,
            run_id=run_id,
            interaction_id=machine.state.interaction_id,
            call_id=None,
            tool_name=None,
            turn=machine.state.turns,
            metadata={},
        )

    # -- async driver -------------------------------------------------------------------------

    async def run(
        self,
        input: Any,
        *,
        previous: RunResult[Any] | RunState | None = None,
        deps: DepsT | None = None,
        background: bool | None = None,
    ) -> RunResult[OutputT]:
        """Run the agent until the interaction reaches a terminal status.

        Args:
            input: Text, content blocks (see `image()`, `document()`...), or steps.
            previous: A result (or state) to continue from, stateful or stateless alike.
            deps: Passed to tools through `RunContext.deps`.
            background: Override the agent's `background` setting for this run.

        Raises:
            MaxTurnsExceeded: The model was still calling tools after `max_turns` requests.
            InteractionFailed: The interaction ended with status `failed`.
            APIError: The API could not be reached or refused the request.
        """
        machine, continue_from = self._machine(
            previous=previous, stream=False, background=background
        )
        action = machine.start(input, continue_from=continue_from)
        return await self._finish(self._drive(machine, action, deps))

    async def resume(
        self,
        state: RunResult[Any] | RunState,
        approvals: Mapping[str, bool | Any],
        *,
        deps: DepsT | None = None,
    ) -> RunResult[OutputT]:
        """Continue a run that paused for approval (`status == "requires_action"`).

        Args:
            state: The paused result, or its `state` (possibly loaded with `RunState.from_json`).
            approvals: For each pending call id: True to run it, False to refuse it, or any
                other value to send as the tool's result instead of running it.
        """
        machine = self._paused_machine(state)
        action = machine.resume(self._approvals(approvals))
        return await self._finish(self._drive(machine, action, deps))

    def stream(
        self,
        input: Any,
        *,
        previous: RunResult[Any] | RunState | None = None,
        deps: DepsT | None = None,
    ) -> AsyncIterator[RunEvent]:
        """Run the agent, yielding text deltas, tool calls, tool results and status changes.

        The last event is a `RunCompleteEvent` holding the `RunResult`.
        """
        machine, continue_from = self._machine(previous=previous, stream=True, background=None)
        action = machine.start(input, continue_from=continue_from)
        return self._drive(machine, action, deps)

    async def _finish(self, events: AsyncIterator[RunEvent]) -> RunResult[OutputT]:
        async with aclosing(events):  # type: ignore[type-var]
            async for event in events:
                if isinstance(event, RunCompleteEvent):
                    return event.result
        raise AssertionError("unreachable: the driver always ends with RunCompleteEvent")

    async def _drive(
        self, machine: RunMachine, action: Action, deps: Any
    ) -> AsyncIterator[RunEvent]:
        client = self.async_client
        run_id = uuid.uuid4().hex
        finished: list[FunctionResultStep] = []
        pending_id: str | None = None
        try:
            while True:
                if isinstance(action, Send):
                    self._before_request(action.body)
                    if action.stream:
                        accumulator = StreamAccumulator()
                        stream = await client.interactions.create(**action.body, stream=True)
                        async with stream:
                            async for event in stream:
                                accumulator.apply(event)
                                for run_event in _translate(event, accumulator):
                                    yield run_event
                        interaction = accumulator.result()
                    else:
                        interaction = await client.interactions.create(**action.body)
                    pending_id = interaction.id
                    action = self._received(machine, interaction)
                    yield StatusEvent(interaction.status, interaction.id)
                elif isinstance(action, Poll):
                    await client.sleep(action.delay)
                    interaction = await client.interactions.get(action.interaction_id)
                    action = self._received(machine, interaction)
                    if not isinstance(action, Poll):
                        yield StatusEvent(interaction.status, interaction.id)
                elif isinstance(action, RunTools):
                    for call in action.calls:
                        yield ToolCallEvent(call)
                    finished = []
                    results = await self.toolset.run_all(
                        action.calls,
                        self._context(machine, deps, run_id),
                        raise_errors=self.raise_tool_errors,
                        hooks=ToolHooks(self.hooks.before_tool, self.hooks.after_tool),
                        finished=finished,
                    )
                    for call, result in zip(action.calls, results, strict=True):
                        yield ToolResultEvent(call, result)
                    finished = []
                    action = machine.tools_finished(results)
                elif isinstance(action, Done):
                    pending_id = None
                    yield RunCompleteEvent(action.result)
                    return
                elif isinstance(action, Fail):
                    raise action.error
                else:
                    assert_never(action)
        except anyio.get_cancelled_exc_class():
            if self._config.background and pending_id is not None:
                with anyio.CancelScope(shield=True):
                    await _cancel_quietly(client, pending_id)
            machine.interrupted(finished)
            raise

    def _received(self, machine: RunMachine, interaction: Interaction) -> Action:
        if self.hooks.after_request:
            self.hooks.after_request(interaction)
        logger.debug("interaction %s is %s", interaction.id, interaction.status)
        return machine.received(interaction)

    def _before_request(self, body: dict[str, Any]) -> None:
        if self.hooks.before_request:
            self.hooks.before_request(body)

    # -- sync driver --------------------------------------------------------------------------

    def run_sync(
        self,
        input: Any,
        *,
        previous: RunResult[Any] | RunState | None = None,
        deps: DepsT | None = None,
        background: bool | None = None,
    ) -> RunResult[OutputT]:
        """Run the agent to the end from synchronous code (also inside a running event loop).

        Takes the same arguments as `run()`.
        """
        machine, continue_from = self._machine(
            previous=previous, stream=False, background=background
        )
        action = machine.start(input, continue_from=continue_from)
        return _last(self._drive_sync(machine, action, deps))

    def resume_sync(
        self,
        state: RunResult[Any] | RunState,
        approvals: Mapping[str, bool | Any],
        *,
        deps: DepsT | None = None,
    ) -> RunResult[OutputT]:
        """Synchronous `resume()`."""
        machine = self._paused_machine(state)
        action = machine.resume(self._approvals(approvals))
        return _last(self._drive_sync(machine, action, deps))

    def stream_sync(
        self,
        input: Any,
        *,
        previous: RunResult[Any] | RunState | None = None,
        deps: DepsT | None = None,
    ) -> Iterator[RunEvent]:
        """Synchronous `stream()`: an iterator of run events."""
        machine, continue_from = self._machine(previous=previous, stream=True, background=None)
        action = machine.start(input, continue_from=continue_from)
        return self._drive_sync(machine, action, deps)

    def _drive_sync(self, machine: RunMachine, action: Action, deps: Any) -> Iterator[RunEvent]:
        client = self.sync_client
        run_id = uuid.uuid4().hex
        pending_id: str | None = None
        portal_cm = None
        portal: BlockingPortal | None = None
        try:
            while True:
                if isinstance(action, Send):
                    self._before_request(action.body)
                    if action.stream:
                        accumulator = StreamAccumulator()
                        with client.interactions.create(**action.body, stream=True) as stream:
                            for event in stream:
                                accumulator.apply(event)
                                yield from _translate(event, accumulator)
                        interaction = accumulator.result()
                    else:
                        interaction = client.interactions.create(**action.body)
                    pending_id = interaction.id
                    action = self._received(machine, interaction)
                    yield StatusEvent(interaction.status, interaction.id)
                elif isinstance(action, Poll):
                    client.sleep(action.delay)
                    interaction = client.interactions.get(action.interaction_id)
                    action = self._received(machine, interaction)
                    if not isinstance(action, Poll):
                        yield StatusEvent(interaction.status, interaction.id)
                elif isinstance(action, RunTools):
                    for call in action.calls:
                        yield ToolCallEvent(call)
                    if portal is None:
                        # One portal (an event loop in a worker thread) per run, opened only
                        # when tools run: the sync API never touches the caller's event loop.
                        portal_cm = start_blocking_portal()
                        portal = portal_cm.__enter__()
                    finished: list[FunctionResultStep] = []
                    run_all = partial(
                        self.toolset.run_all,
                        action.calls,
                        self._context(machine, deps, run_id),
                        raise_errors=self.raise_tool_errors,
                        hooks=ToolHooks(self.hooks.before_tool, self.hooks.after_tool),
                        finished=finished,
                    )
                    try:
                        results: list[FunctionResultStep] = _call_in_portal(portal, run_all)
                    except BaseException:
                        machine.interrupted(finished)
                        raise
                    for call, result in zip(action.calls, results, strict=True):
                        yield ToolResultEvent(call, result)
                    action = machine.tools_finished(results)
                elif isinstance(action, Done):
                    pending_id = None
                    yield RunCompleteEvent(action.result)
                    return
                elif isinstance(action, Fail):
                    raise action.error
                else:
                    assert_never(action)
        except KeyboardInterrupt:
            if self._config.background and pending_id is not None:
                _cancel_quietly_sync(client, pending_id)
            raise
        finally:
            if portal_cm is not None:
                portal_cm.__exit__(None, None, None)

    # -- background handles -------------------------------------------------------------------

    async def start(
        self,
        input: Any,
        *,
        previous: RunResult[Any] | RunState | None = None,
        deps: DepsT | None = None,
    ) -> RunHandle[OutputT]:
        """Start a background run and return at once with a handle to it.

        The handle's `interaction_id` lets another process re-attach with `attach()`.
        """
        machine, continue_from = self._machine(previous=previous, stream=False, background=True)
        action = machine.start(input, continue_from=continue_from)
        if not isinstance(action, Send):  # pragma: no cover - start() always sends first
            raise AssertionError(f"unexpected first action {action!r}")
        self._before_request(action.body)
        interaction = await self.async_client.interactions.create(**action.body)
        return RunHandle(self, machine, self._received(machine, interaction), deps)

    def attach(self, interaction_id: str, *, deps: DepsT | None = None) -> RunHandle[OutputT]:
        """Re-attach to a background run started elsewhere (e.g. by another process)."""
        config = dataclasses.replace(self._config, background=True)
        machine = RunMachine(config, RunState(interaction_id=interaction_id, background=True))
        return RunHandle(self, machine, Poll(interaction_id, 0.0), deps)

    # -- approval -----------------------------------------------------------------------------

    def _paused_machine(self, state: RunResult[Any] | RunState) -> RunMachine:
        saved = state.state if isinstance(state, RunResult) else state
        if not saved.calls:
            raise UsageError("This run is not paused for approval: there is nothing to resume.")
        return RunMachine(self._config, saved)

    def _approvals(self, approvals: Mapping[str, bool | Any]) -> dict[str, Approval]:
        decisions: dict[str, Approval] = {}
        for call_id, decision in approvals.items():
            if isinstance(decision, bool | FunctionResultStep):
                decisions[call_id] = decision
            else:
                decisions[call_id] = FunctionTool.result_step(call_id, "", decision)
        return decisions

    # -- composition --------------------------------------------------------------------------

    def as_tool(self, *, name: str, description: str) -> FunctionTool[..., Any]:
        """Make this agent a tool of another agent: the tool runs it on the given request.

        Args:
            name: The tool's name as the calling model sees it.
            description: When the calling model should use it.
        """

        async def run_agent(request: str, ctx: RunContext[Any]) -> Any:
            result = await self.run(request, deps=ctx.deps)
            return result.output if result.output is not None else result.output_text

        run_agent.__doc__ = f"{description}\n\nArgs:\n    request: What to ask the {name} agent."
        return tool(run_agent, name=name, description=description)


def _translate(event: Event, accumulator: StreamAccumulator) -> Iterator[RunEvent]:
    """Run events for one wire event of a stream."""
    if isinstance(event, StepDeltaEvent):
        delta = event.delta
        if isinstance(delta, TextDelta):
            yield TextDeltaEvent(delta.text, accumulator.interaction_id)
        elif isinstance(delta, ThoughtSummaryDelta):
            text = getattr(delta.content, "text", None)
            if isinstance(text, str):
                yield ThoughtSummaryEvent(text, accumulator.interaction_id)
    elif isinstance(event, StepStopEvent):
        step = accumulator.step_at(event.index)
        if (
            step is not None
            and step.type.endswith(_SERVER_STEP_SUFFIXES)
            and not step.type.startswith("function_")
        ):
            yield ServerToolEvent(step)


def _last(events: Iterator[RunEvent]) -> Any:
    for event in events:
        if isinstance(event, RunCompleteEvent):
            return event.result
    raise AssertionError("unreachable: the driver always ends with RunCompleteEvent")


async def _cancel_quietly(client: AsyncClient, interaction_id: str) -> None:
    try:
        await client.interactions.cancel(interaction_id)
    except Exception:  # the run is being cancelled anyway; the caller's exception matters
        logger.warning("could not cancel background interaction %s", interaction_id, exc_info=True)


def _cancel_quietly_sync(client: Client, interaction_id: str) -> None:
    try:
        client.interactions.cancel(interaction_id)
    except Exception:  # the run is being interrupted anyway; the caller's exception matters
        logger.warning("could not cancel background interaction %s", interaction_id, exc_info=True)


class RunHandle(Generic[OutputT]):
    """A background run: await it, poll it, or cancel it; `interaction_id` identifies it."""

    def __init__(self, agent: Agent[Any, OutputT], machine: RunMachine, action: Action, deps: Any):
        self._agent = agent
        self._machine = machine
        self._action = action
        self._deps = deps

    @property
    def interaction_id(self) -> str:
        """The id of the background interaction (give it to `Agent.attach()` elsewhere)."""
        return self._machine.state.interaction_id or ""

    async def poll(self) -> Interaction:
        """Fetch the interaction once, without waiting for it to finish."""
        return await self._agent.async_client.interactions.get(self.interaction_id)

    async def result(self) -> RunResult[OutputT]:
        """Wait for the run to finish (running tools when it asks) and return its result."""
        return await self._agent._finish(  # pyright: ignore[reportPrivateUsage]
            self._agent._drive(self._machine, self._action, self._deps)  # pyright: ignore[reportPrivateUsage]
        )

    def __await__(self) -> Generator[Any, None, RunResult[OutputT]]:
        return self.result().__await__()

    async def cancel(self) -> RunResult[OutputT]:
        """Cancel the interaction on the server; the result has status `cancelled`."""
        interaction = await self._agent.async_client.interactions.cancel(self.interaction_id)
        action = self._machine.received(interaction)
        if isinstance(action, Done):
            return action.result
        return self._machine.interrupted()
