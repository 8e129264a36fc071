"""`Agent`: a model with tools, and the ways to run it: async, sync, streamed, background."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator, Callable, Generator, Iterator, Mapping, Sequence
from contextlib import aclosing, asynccontextmanager, closing, contextmanager
from functools import partial
from typing import Any, Generic, overload

from typing_extensions import TypeVar

from agentkit._client import AsyncClient, Client
from agentkit._content import result_content
from agentkit._context import RunContext, new_run_id
from agentkit._drivers import (
    RunSetup,
    drive,
    drive_sync,
    send_first,
    send_first_sync,
)
from agentkit._events import RunCompleteEvent, RunEvent
from agentkit._exceptions import RunError, UsageError
from agentkit._handle import RunHandle
from agentkit._handoff import Handoff, handoff
from agentkit._hooks import Hooks, installed
from agentkit._journal import InMemoryJournal, Journal
from agentkit._loop import (
    Action,
    Approval,
    Fail,
    LoopConfig,
    PollPolicy,
    RunMachine,
    UsageLimits,
)
from agentkit._result import RunResult, RunState
from agentkit._run_settings import RunSettings, structured
from agentkit._tool import FunctionTool, tool
from agentkit._tool_source import Connections
from agentkit._toolset import AgentTool, ToolSet, UnknownOutcome
from agentkit.types import FunctionResultStep, GenerationConfig
from agentkit.types._settings import ResponseFormats

__all__ = ["Agent"]

OutputT = TypeVar("OutputT", default=Any)
DepsT = TypeVar("DepsT", default=Any)
T = TypeVar("T")

Previous = RunResult[Any] | RunState
Plan = Callable[[ToolSet], tuple[RunMachine, Action]]
"""Makes a run's machine and first action once the run's tools are listed."""


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
        handoffs: Sequence[Agent[Any, Any] | Handoff] = (),
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        output_type: type[OutputT] | None = None,
        response_format: ResponseFormats | None = None,
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
        journal: Journal | None = None,
        unknown_outcome: UnknownOutcome | None = None,
        max_concurrent_tools: int | None = None,
        tool_retries: int = 2,
        output_retries: int = 1,
        timeout: float | None = None,
        name: str | None = None,
    ) -> None:
        """Configure an agent; nothing is sent until a run starts.

        Args:
            model: The model id, e.g. `gemini-3.5-flash`. Give either this or `agent`.
            agent: A managed agent id (e.g. a deep-research agent) instead of a model.
            tools: @tool functions, plain functions, server tools (`google_search()`...),
                raw tool declaration dicts, or MCP servers (`agentkit.mcp`), whose tools are
                listed at the start of each run. Open their connections once for many runs
                with `async with agent:` (or `with agent:`); a run outside such a block
                connects and disconnects by itself.
            handoffs: Agents (or `agent.as_handoff(...)`) this one may give the conversation
                to: the model sees a `transfer_to_<name>` tool for each, and once it calls
                one, that agent's model, instructions, tools and output type serve the rest
                of the run (`result.agent_name` names it). The run keeps this agent's client,
                hooks, journal, budgets and mode (store, background, timeout).
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
            request_fields: Other create fields to send with every request as given
                (safety_settings, service_tier, labels, or a field newer than agentkit);
                not those the agent sets itself or has a parameter for.
            hooks: Callbacks and context managers around runs, model requests and tool
                calls, and a callback on cancellation (see `Hooks`).
            journal: Records each tool call under its idempotency key, and each run's latest
                state, so no call runs twice across resumes (and, with a `SQLiteJournal`,
                across processes and crashes). Default: an in-memory journal of this agent,
                which keeps the latest 100,000 calls and 1,000 run states.
            unknown_outcome: Decides a call that started earlier and never recorded an
                outcome, for a tool that is not `idempotent`: return True to run it again,
                False to tell the model its outcome is unknown (the default), or a value to
                send as its result.
            max_concurrent_tools: Most tool calls of this agent running at once, over all its
                runs (on each event loop, and over its sync runs); the others wait their turn.
                A run that one of its tools starts (the agent inside its own tool) runs its
                calls within that tool's slot. Default: no cap beyond the worker threads that
                sync tools share.
            tool_retries: How many calls in a row with invalid arguments a tool's model is
                told about (the fields at fault) and may correct, for tools without their own
                `@tool(retries=...)`; one more stops the run with `ToolRetriesExceeded`.
            output_retries: How many times an answer that does not fit `output_type` is sent
                back to the model with what is wrong, before `OutputValidationError`.
            timeout: Seconds a run may take (each `run()`, `resume()`, stream, or wait for a
                handle) before it stops with `RunTimeout`, whose `.partial` resumes it;
                default: no limit. A run can give its own (`run(..., timeout=...)`).
            client: An `AsyncClient` or `Client`; by default one is made from the environment.
        """
        _check_target(model, agent, generation_config, agent_config)
        for label, count in (("tool_retries", tool_retries), ("output_retries", output_retries)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:  # pyright: ignore[reportUnnecessaryIsInstance]
                raise UsageError(f"{label} must be a whole number >= 0, not {count!r}.")
        _check_request_fields(request_fields or {}, agent=agent)
        if output_type is not None and response_format is not None:
            raise UsageError("Give output_type or response_format, not both.")
        self.name: str = name or model or agent or "agent"
        self.toolset: ToolSet = ToolSet(tools, max_concurrent=max_concurrent_tools)
        self.handoffs: tuple[Handoff, ...] = _handoffs(handoffs, self.toolset)
        self._team: dict[str, Agent[Any, Any]] = _team(self)
        self._connections = Connections(self.toolset.sources)
        self.output_type = output_type
        self.raise_tool_errors = raise_tool_errors
        if hooks is not None and not isinstance(hooks, Hooks):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UsageError(f"hooks= takes a Hooks(...), not {hooks!r}.")
        self.hooks: Hooks = hooks or Hooks()
        self.journal: Journal = journal if journal is not None else InMemoryJournal()
        self.unknown_outcome = unknown_outcome
        self.timeout: float | None = None if timeout is None else _checked_timeout(timeout)
        """Seconds a run may take (see `__init__`); a run can give its own."""
        self._async_client = client if isinstance(client, AsyncClient) else None
        self._sync_client = client if isinstance(client, Client) else None
        self._owned: list[AsyncClient | Client] = []
        adapter = None
        if output_type is not None:
            adapter, response_format = structured(output_type)
        fields = {
            "system_instruction": system_instruction,
            "generation_config": dict(generation_config) if generation_config else None,
            "response_format": response_format,
            "environment": environment,
            "agent_config": dict(agent_config) if agent_config else None,
        }
        self._config = LoopConfig(
            model=model,
            agent=agent,
            tools=self._declarations(self.toolset),
            local_tools=self.toolset.names,
            request_fields={
                **{key: value for key, value in fields.items() if value is not None},
                # Merged into the body as given: a field newer than the client still goes out.
                **({"extra_body": dict(request_fields)} if request_fields else {}),
            },
            store=store,
            background=background,
            max_turns=max_turns,
            max_repeated_calls=max_repeated_calls,
            limits=limits or UsageLimits(),
            poll=poll or PollPolicy(),
            needs_approval=self.toolset.needs_approval,
            check_arguments=self.toolset.check_arguments,
            tool_retries=self.toolset.tool_retries,
            default_tool_retries=tool_retries,
            output_adapter=adapter,
            output_retries=output_retries,
            handoffs={item.tool_name: item.agent.name for item in self.handoffs},
            team=self._member_config if self.handoffs else None,
        )

    @property
    def model(self) -> str | None:
        """The model id the agent sends (None for a managed agent); settable between runs."""
        return self._config.model

    @model.setter
    def model(self, value: str) -> None:
        if self._config.agent is not None:
            raise UsageError("This Agent runs a managed agent (agent=): it has no model to set.")
        self._config = dataclasses.replace(self._config, model=value)

    @property
    def agent(self) -> str | None:
        """The managed agent id the agent sends (None for a model)."""
        return self._config.agent

    def __repr__(self) -> str:
        target = f"model={self.model!r}" if self.model else f"agent={self.agent!r}"
        return f"Agent({target}, tools={sorted(self.toolset.names)})"

    # -- clients ------------------------------------------------------------------------------

    @property
    def async_client(self) -> AsyncClient:
        """The client the async methods use (made from the environment when not given)."""
        if self._async_client is None:
            sync = self._sync_client
            self._async_client = sync.async_twin() if sync else AsyncClient()
            self._owned.append(self._async_client)
        return self._async_client

    @property
    def sync_client(self) -> Client:
        """The client the sync methods use (made from the environment when not given)."""
        if self._sync_client is None:
            other = self._async_client
            self._sync_client = other.sync_twin() if other else Client()
            self._owned.append(self._sync_client)
        return self._sync_client

    async def aclose(self) -> None:
        """Close the clients this agent made itself (never one you passed in)."""
        self.close()
        if self._async_client is not None and self._async_client in self._owned:
            self._owned.remove(self._async_client)
            await self._async_client.aclose()
            self._async_client = None

    def close(self) -> None:
        """Close the sync client this agent made itself (use `aclose()` for both)."""
        if self._sync_client is not None and self._sync_client in self._owned:
            self._owned.remove(self._sync_client)
            self._sync_client.close()
            self._sync_client = None

    async def __aenter__(self) -> Agent[DepsT, OutputT]:
        """Connect to the agent's MCP servers; async runs in the block share the connections.

        Raises:
            MCPServerError: A server could not be started, reached or initialised.
        """
        await self._connections.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self._connections.close()
        finally:
            await self.aclose()

    def __enter__(self) -> Agent[DepsT, OutputT]:
        """Connect to the agent's MCP servers (each in a thread); sync runs share them.

        Raises:
            MCPServerError: A server could not be started, reached or initialised.
        """
        self._connections.open_sync()
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._connections.close_sync()
        finally:
            self.close()

    # -- runs ---------------------------------------------------------------------------------

    def _config_for(self, toolset: ToolSet) -> LoopConfig:
        """The loop's configuration with the tools of one run (listed from MCP servers)."""
        if toolset is self.toolset:
            return self._config
        return dataclasses.replace(
            self._config,
            tools=self._declarations(toolset),
            local_tools=toolset.names,
            needs_approval=toolset.needs_approval,
            check_arguments=toolset.check_arguments,
            tool_retries=toolset.tool_retries,
        )

    def _declarations(self, toolset: ToolSet) -> tuple[dict[str, Any], ...]:
        if not self.handoffs:
            return toolset.declarations
        return (*toolset.declarations, *(item.declaration for item in self.handoffs))

    def _member_config(self, name: str) -> LoopConfig:
        """The loop configuration of the agent named `name` among those of this one's runs."""
        member = self._team.get(name)
        if member is None:
            raise UsageError(
                f"The run was handed off to {name!r}, which this agent ({self.name!r}) cannot "
                f"reach through its handoffs: resume it with an agent that can."
            )
        return member._config

    @asynccontextmanager
    async def _tools(self) -> AsyncGenerator[ToolSet, None]:
        """The tool set of one async run: the MCP servers' tools listed, connections open."""
        async with self._connections.listed() as listed:
            yield self.toolset.for_run(listed)

    @contextmanager
    def _tools_sync(self) -> Generator[ToolSet, None, None]:
        """The tool set of one sync run: the MCP servers' tools listed, connections open."""
        with self._connections.listed_sync() as listed:
            yield self.toolset.for_run(listed)

    def _begin(
        self,
        toolset: ToolSet,
        input: Any,
        previous: Previous | None,
        *,
        stream: bool = False,
        background: bool | None = None,
        settings: RunSettings | None = None,
    ) -> tuple[RunMachine, Action]:
        changes: dict[str, Any] = {"stream": stream}
        if background is not None:
            changes["background"] = background
        config = dataclasses.replace(self._config_for(toolset), **changes)
        if settings is not None:
            config = settings.applied(config)
        state = previous.state if isinstance(previous, RunResult) else previous
        history = list(state.history) if state is not None else []
        fresh = RunState(history=history, run_id=new_run_id())
        continue_from = state.interaction_id if state is not None and config.store else None
        machine = RunMachine(config, fresh)
        return machine, machine.start(input, continue_from=continue_from)

    def _resumed(
        self,
        toolset: ToolSet,
        state: Previous,
        approvals: Mapping[str, Any] | None,
        settings: RunSettings | None = None,
    ) -> tuple[RunMachine, Action]:
        saved = state.state if isinstance(state, RunResult) else state
        if saved.run_id is None:  # saved by an older agentkit
            saved = saved.model_copy(update={"run_id": new_run_id()})
        # A background run (started with `start()` or `background=True`) goes on as one.
        config = dataclasses.replace(self._config_for(toolset), background=saved.background)
        if settings is not None:
            config = settings.applied(config)
        machine = RunMachine(config, saved)
        return machine, machine.resume(_approvals(approvals or {}))

    def _retooled(
        self, machine: RunMachine, toolset: ToolSet, settings: RunSettings | None
    ) -> RunMachine:
        """A handle's machine, made before this run listed its tools: it declares them now."""
        if toolset is not self.toolset:
            config = dataclasses.replace(
                self._config_for(toolset), background=machine.config.background
            )
            machine.config = config if settings is None else settings.applied(config)
        return machine

    def _run_tools(self, tools: Sequence[AgentTool] | None) -> ToolSet:
        """The tools of one run: the agent's, or those the run gives instead."""
        return self.toolset if tools is None else self.toolset.replaced(tools)

    def _settings(
        self,
        system_instruction: str | None,
        generation_config: GenerationConfig | Mapping[str, Any] | None,
        output_type: Any,
    ) -> RunSettings | None:
        return RunSettings.of(
            managed_agent=self._config.agent is not None,
            system_instruction=system_instruction,
            generation_config=generation_config,
            output_type=output_type,
        )

    def _setup(
        self,
        toolset: ToolSet | None = None,
        handle: RunHandle[Any] | None = None,
        timeout: float | None = None,
    ) -> RunSetup:
        hooks = installed(self.hooks, self)  # with those `instrument()` installed, if any
        if handle is not None:
            # The handle learns first: a user's hook that raises (the driver logs it) must not
            # keep awaiting the handle again from resuming the run.
            receive = handle._interrupted  # pyright: ignore[reportPrivateUsage]
            hooks = dataclasses.replace(hooks, on_cancel=_chained(receive, hooks.on_cancel))
        return RunSetup(
            toolset or self.toolset,
            hooks,
            self.raise_tool_errors,
            self.journal,
            self.unknown_outcome,
            detached=handle is not None,
            name=self.name,
            timeout=self.timeout if timeout is None else _checked_timeout(timeout),
            team={
                name: member.toolset for name, member in self._team.items() if member is not self
            },
        )

    @overload
    async def run(
        self,
        input: Any,
        *,
        previous: Previous | None = None,
        deps: DepsT | None = None,
        background: bool | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: None = None,
        timeout: float | None = None,
    ) -> RunResult[OutputT]: ...
    @overload
    async def run(
        self,
        input: Any,
        *,
        previous: Previous | None = None,
        deps: DepsT | None = None,
        background: bool | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: type[T],
        timeout: float | None = None,
    ) -> RunResult[T]: ...
    async def run(
        self,
        input: Any,
        *,
        previous: Previous | None = None,
        deps: DepsT | None = None,
        background: bool | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: Any = None,
        timeout: float | None = None,
    ) -> RunResult[Any]:
        """Run the agent until the interaction reaches a terminal status.

        Cancelling the caller cancels the running tools and a background interaction on the
        server; `Hooks.on_cancel` receives the run so far, with the finished tool results.

        Args:
            input: Text, content blocks (see `image()`, `document()`...), or steps.
            previous: A result (or its state) to continue from, stateful or stateless alike.
            deps: Passed to tools through `RunContext.deps`.
            background: Override the agent's `background` setting for this run.
            system_instruction: This run's system instruction, instead of the agent's.
            generation_config: This run's generation config, instead of the agent's (whole:
                the agent's is not merged in).
            tools: This run's tools, instead of the agent's (function tools, server tools and
                declarations; MCP servers belong to the agent).
            output_type: This run's structured output type, instead of the agent's.
            timeout: Seconds this run may take, instead of the agent's `timeout`.

        Raises:
            MaxTurnsExceeded: The model was still calling tools after `max_turns` requests.
            UsageLimitExceeded: A budget of `limits` ran out.
            RepeatedCallError: The model repeated an identical call past `max_repeated_calls`.
            InteractionFailed: The interaction ended with status `failed`.
            UnexpectedStatusError: A status agentkit cannot act on, or a continuation that
                made no progress.
            DeadlineExceeded: A background interaction outlived `PollPolicy.deadline`.
            OutputValidationError: The answer still does not fit `output_type`.
            ToolRetriesExceeded: The model kept calling a tool with invalid arguments.
            RunTimeout: The run outlived its `timeout`.
            APIError: The API could not be reached or refused the request.
        """
        toolset = self._run_tools(tools)
        settings = self._settings(system_instruction, generation_config, output_type)
        plan = partial(
            self._begin, input=input, previous=previous, background=background, settings=settings
        )
        return await self._finish(plan, deps, toolset=toolset, timeout=timeout)

    def stream(
        self,
        input: Any,
        *,
        previous: Previous | None = None,
        deps: DepsT | None = None,
        background: bool | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: Any = None,
        timeout: float | None = None,
    ) -> AsyncGenerator[RunEvent, None]:
        """Run the agent, yielding text deltas, tool calls, tool results and status changes.

        The last event is a `RunCompleteEvent` holding the `RunResult`. Takes the settings,
        and raises, as `run()`; with `background=True` the background interaction streams
        live (and is resumed, not polled, when its stream breaks). To stop early, break out inside
        `contextlib.aclosing(agent.stream(...))`, so the open stream closes at once. While tools
        run, the stream keeps their task group open between events: read it from one task,
        and bound the run with `timeout=` rather than each `anext()` with a cancel scope.
        """
        toolset = self._run_tools(tools)
        settings = self._settings(system_instruction, generation_config, output_type)
        plan = partial(
            self._begin,
            input=input,
            previous=previous,
            stream=True,
            background=background,
            settings=settings,
        )
        if not toolset.sources:  # nothing to list: the input is checked at once
            machine, action = plan(toolset)
            return self._driven(toolset, machine, action, deps, timeout)
        return self._stream(plan, deps, timeout)

    async def _stream(
        self, plan: Plan, deps: Any, timeout: float | None
    ) -> AsyncGenerator[RunEvent, None]:
        async with self._tools() as toolset:
            machine, action = plan(toolset)
            events = self._driven(toolset, machine, action, deps, timeout)
            async with aclosing(events):
                async for event in events:
                    yield event

    def _driven(
        self,
        toolset: ToolSet,
        machine: RunMachine,
        action: Action,
        deps: Any,
        timeout: float | None,
    ) -> AsyncGenerator[RunEvent, None]:
        """The events of a streamed run."""
        setup = self._setup(toolset, timeout=timeout)
        return drive(setup, self.async_client, machine, action, deps)

    @overload
    async def resume(
        self,
        state: Previous,
        approvals: Mapping[str, Any] | None = None,
        *,
        deps: DepsT | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: None = None,
        timeout: float | None = None,
    ) -> RunResult[OutputT]: ...
    @overload
    async def resume(
        self,
        state: Previous,
        approvals: Mapping[str, Any] | None = None,
        *,
        deps: DepsT | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: type[T],
        timeout: float | None = None,
    ) -> RunResult[T]: ...
    async def resume(
        self,
        state: Previous,
        approvals: Mapping[str, Any] | None = None,
        *,
        deps: DepsT | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: Any = None,
        timeout: float | None = None,
    ) -> RunResult[Any]:
        """Continue a run paused for approval, cancelled, or stopped by an error.

        Tools that finished are not run again (the journal answers for them), and an
        interaction the run already made is fetched, not made again. A run started with
        settings of its own (`tools=`...) resumes with the agent's unless given them again.

        Args:
            state: The paused result, an error's `partial`, its `state` (e.g. loaded with
                `RunState.from_json`), or `journal.latest(run_id)`.
            approvals: For each call waiting for approval: True to run it, False to refuse
                it, or any other value to send as the tool's result instead of running it.
            system_instruction: As for `run()`: this run's, instead of the agent's.
            generation_config: As for `run()`.
            tools: As for `run()`.
            output_type: As for `run()`.
            timeout: As for `run()`.

        Raises:
            UsageError: The run has nothing left to do, or a call waiting for approval has no
                decision.
        """
        toolset = self._run_tools(tools)
        settings = self._settings(system_instruction, generation_config, output_type)
        plan = partial(self._resumed, state=state, approvals=approvals, settings=settings)
        return await self._finish(plan, deps, toolset=toolset, timeout=timeout)

    async def _finish(
        self,
        plan: Plan,
        deps: Any,
        handle: RunHandle[Any] | None = None,
        *,
        toolset: ToolSet | None = None,
        timeout: float | None = None,
    ) -> RunResult[Any]:
        toolset = toolset or self.toolset
        setup = partial(self._setup, handle=handle, timeout=timeout)
        if not toolset.sources:  # no connections to hold open: no context to enter
            return await self._complete(setup(toolset), plan, deps)
        async with self._tools() as listed:
            return await self._complete(setup(listed), plan, deps)

    async def _complete(self, setup: RunSetup, plan: Plan, deps: Any) -> RunResult[Any]:
        machine, action = plan(setup.toolset)
        events = drive(setup, self.async_client, machine, action, deps, quiet=True)
        async with aclosing(events):
            async for event in events:
                if isinstance(event, RunCompleteEvent):
                    return event.result
        raise AssertionError("unreachable: a run always ends with RunCompleteEvent")

    @overload
    def run_sync(
        self,
        input: Any,
        *,
        previous: Previous | None = None,
        deps: DepsT | None = None,
        background: bool | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: None = None,
        timeout: float | None = None,
    ) -> RunResult[OutputT]: ...
    @overload
    def run_sync(
        self,
        input: Any,
        *,
        previous: Previous | None = None,
        deps: DepsT | None = None,
        background: bool | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: type[T],
        timeout: float | None = None,
    ) -> RunResult[T]: ...
    def run_sync(
        self,
        input: Any,
        *,
        previous: Previous | None = None,
        deps: DepsT | None = None,
        background: bool | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: Any = None,
        timeout: float | None = None,
    ) -> RunResult[Any]:
        """Run the agent to the end from synchronous code (also inside a running event loop).

        Takes the same arguments, and raises the same errors, as `run()`; Ctrl-C cancels
        as anyio cancellation does there.
        """
        toolset = self._run_tools(tools)
        settings = self._settings(system_instruction, generation_config, output_type)
        plan = partial(
            self._begin, input=input, previous=previous, background=background, settings=settings
        )
        return self._finish_sync(plan, deps, toolset, timeout=timeout)

    def _finish_sync(
        self,
        plan: Plan,
        deps: Any,
        toolset: ToolSet | None = None,
        *,
        handle: RunHandle[Any] | None = None,
        timeout: float | None = None,
    ) -> RunResult[Any]:
        toolset = toolset or self.toolset
        setup = partial(self._setup, handle=handle, timeout=timeout)
        if not toolset.sources:
            return self._complete_sync(setup(toolset), plan, deps)
        with self._tools_sync() as listed:
            return self._complete_sync(setup(listed), plan, deps)

    def _complete_sync(self, setup: RunSetup, plan: Plan, deps: Any) -> RunResult[Any]:
        machine, action = plan(setup.toolset)
        events = drive_sync(setup, self.sync_client, machine, action, deps, quiet=True)
        with closing(events):
            return _last(events)

    def stream_sync(
        self,
        input: Any,
        *,
        previous: Previous | None = None,
        deps: DepsT | None = None,
        background: bool | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: Any = None,
        timeout: float | None = None,
    ) -> Generator[RunEvent, None, None]:
        """Synchronous `stream()`: a generator of run events (`close()` it to stop early)."""
        toolset = self._run_tools(tools)
        settings = self._settings(system_instruction, generation_config, output_type)
        plan = partial(
            self._begin,
            input=input,
            previous=previous,
            stream=True,
            background=background,
            settings=settings,
        )
        if not toolset.sources:  # nothing to list: the input is checked at once
            machine, action = plan(toolset)
            setup = self._setup(toolset, timeout=timeout)
            return drive_sync(setup, self.sync_client, machine, action, deps)
        return self._stream_sync(plan, deps, timeout)

    def _stream_sync(
        self, plan: Plan, deps: Any, timeout: float | None
    ) -> Generator[RunEvent, None, None]:
        with self._tools_sync() as toolset:
            machine, action = plan(toolset)
            setup = self._setup(toolset, timeout=timeout)
            events = drive_sync(setup, self.sync_client, machine, action, deps)
            with closing(events):
                yield from events

    @overload
    def resume_sync(
        self,
        state: Previous,
        approvals: Mapping[str, Any] | None = None,
        *,
        deps: DepsT | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: None = None,
        timeout: float | None = None,
    ) -> RunResult[OutputT]: ...
    @overload
    def resume_sync(
        self,
        state: Previous,
        approvals: Mapping[str, Any] | None = None,
        *,
        deps: DepsT | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: type[T],
        timeout: float | None = None,
    ) -> RunResult[T]: ...
    def resume_sync(
        self,
        state: Previous,
        approvals: Mapping[str, Any] | None = None,
        *,
        deps: DepsT | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: Any = None,
        timeout: float | None = None,
    ) -> RunResult[Any]:
        """Synchronous `resume()`."""
        toolset = self._run_tools(tools)
        settings = self._settings(system_instruction, generation_config, output_type)
        plan = partial(self._resumed, state=state, approvals=approvals, settings=settings)
        return self._finish_sync(plan, deps, toolset, timeout=timeout)

    # -- background handles -------------------------------------------------------------------

    @overload
    async def start(
        self,
        input: Any,
        *,
        previous: Previous | None = None,
        deps: DepsT | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: None = None,
    ) -> RunHandle[OutputT]: ...
    @overload
    async def start(
        self,
        input: Any,
        *,
        previous: Previous | None = None,
        deps: DepsT | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: type[T],
    ) -> RunHandle[T]: ...
    async def start(
        self,
        input: Any,
        *,
        previous: Previous | None = None,
        deps: DepsT | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: Any = None,
    ) -> RunHandle[Any]:
        """Start a background run and return at once with a handle to it.

        Takes the settings of `run()`. The handle's `interaction_id` lets another process
        re-attach with `attach()`.
        """
        toolset = self._run_tools(tools)
        settings = self._settings(system_instruction, generation_config, output_type)
        plan = partial(
            self._begin, input=input, previous=previous, background=True, settings=settings
        )
        if toolset.sources:
            async with self._tools() as listed:
                machine, action = plan(listed)
                setup = self._setup(listed)
                action = await send_first(setup, self.async_client, machine, action, deps)
        else:
            machine, action = plan(toolset)
            action = await send_first(
                self._setup(toolset), self.async_client, machine, action, deps
            )
        if isinstance(action, Fail):
            raise action.error
        return RunHandle(self, machine, action, deps, toolset=toolset, settings=settings)

    @overload
    def start_sync(
        self,
        input: Any,
        *,
        previous: Previous | None = None,
        deps: DepsT | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: None = None,
    ) -> RunHandle[OutputT]: ...
    @overload
    def start_sync(
        self,
        input: Any,
        *,
        previous: Previous | None = None,
        deps: DepsT | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: type[T],
    ) -> RunHandle[T]: ...
    def start_sync(
        self,
        input: Any,
        *,
        previous: Previous | None = None,
        deps: DepsT | None = None,
        system_instruction: str | None = None,
        generation_config: GenerationConfig | Mapping[str, Any] | None = None,
        tools: Sequence[AgentTool] | None = None,
        output_type: Any = None,
    ) -> RunHandle[Any]:
        """Synchronous `start()`: wait for the handle's run with `handle.result_sync()`."""
        toolset = self._run_tools(tools)
        settings = self._settings(system_instruction, generation_config, output_type)
        plan = partial(
            self._begin, input=input, previous=previous, background=True, settings=settings
        )
        if toolset.sources:
            with self._tools_sync() as listed:
                machine, action = plan(listed)
                setup = self._setup(listed)
                action = send_first_sync(setup, self.sync_client, machine, action, deps)
        else:
            machine, action = plan(toolset)
            action = send_first_sync(self._setup(toolset), self.sync_client, machine, action, deps)
        if isinstance(action, Fail):
            raise action.error
        return RunHandle(self, machine, action, deps, toolset=toolset, settings=settings)

    def attach(self, interaction_id: str, *, deps: DepsT | None = None) -> RunHandle[OutputT]:
        """Re-attach to a background run started elsewhere (e.g. by another process)."""
        config = dataclasses.replace(self._config, background=True)
        state = RunState(
            interaction_id=interaction_id,
            awaiting=interaction_id,
            background=True,
            run_id=new_run_id(),
        )
        machine = RunMachine(config, state)
        return RunHandle(self, machine, machine.resume({}), deps)

    # -- composition --------------------------------------------------------------------------

    def as_handoff(
        self, *, tool_name: str | None = None, description: str | None = None
    ) -> Handoff:
        """This agent as a handoff of another: `Agent(..., handoffs=[billing.as_handoff()])`.

        An agent in `handoffs=` as it is gets the defaults.

        Args:
            tool_name: The function the other agent's model calls to hand the conversation
                over; default `transfer_to_<name>`.
            description: When that model should hand over; the default, "Hand the
                conversation over to <name>.", says nothing of when, so give one that does.
        """
        return handoff(self, tool_name=tool_name, description=description)

    def as_tool(self, *, name: str, description: str) -> FunctionTool[..., Any]:
        """Make this agent a tool of another agent: the tool runs it on the given request.

        Args:
            name: The tool's name as the calling model sees it.
            description: When the calling model should use it.
        """

        async def run_agent(request: str, ctx: RunContext[Any]) -> Any:
            result = await self.run(request, deps=ctx.deps)
            if result.pending_calls:
                names = ", ".join(call.name for call in result.pending_calls)
                raise RunError(
                    f"The {name} agent needs a person to approve {names}, which it cannot "
                    "ask for as a tool of another agent.",
                    partial=result,
                )
            return result.output if result.output is not None else result.output_text

        run_agent.__doc__ = f"{description}\n\nArgs:\n    request: What to ask the {name} agent."
        return tool(name=name, description=description)(run_agent)


def _check_target(
    model: str | None,
    agent: str | None,
    generation_config: Mapping[str, Any] | None,
    agent_config: Mapping[str, Any] | None,
) -> None:
    if (model is None) == (agent is None):
        raise UsageError("Agent needs exactly one of `model` (a model id) or `agent=`.")
    if agent is not None and generation_config is not None:
        raise UsageError(
            "generation_config is only allowed with a model, not with agent= "
            "(configure a managed agent with agent_config=)."
        )
    if model is not None and agent_config is not None:
        raise UsageError("agent_config is only allowed with agent=, not with a model.")


# Fields the loop sets on every request, and fields with an `Agent` parameter of their own.
_LOOP_FIELDS = frozenset(
    {
        "model",
        "agent",
        "input",
        "tools",
        "previous_interaction_id",
        "continuation_token",
        "store",
        "background",
        "stream",
        "extra_body",
    }
)
_AGENT_PARAMETERS = frozenset(
    {"system_instruction", "generation_config", "response_format", "environment", "agent_config"}
)


def _check_request_fields(fields: Mapping[str, Any], *, agent: str | None) -> None:
    for key in fields:
        if key in _LOOP_FIELDS:
            raise UsageError(f"request_fields cannot set {key!r}: the agent's loop sets it.")
        if key in _AGENT_PARAMETERS:
            raise UsageError(f"Pass {key}= to Agent instead of putting it in request_fields.")
    if agent is not None and "cached_content" in fields:
        # The API refuses cached_content in agent mode.
        raise UsageError("cached_content is only allowed with a model, not with agent=.")


def _approvals(approvals: Mapping[str, Any]) -> dict[str, Approval]:
    decisions: dict[str, Approval] = {}
    for call_id, decision in approvals.items():
        if isinstance(decision, bool | FunctionResultStep):
            decisions[call_id] = decision
        else:
            # A substitute result: converted exactly as a tool's return value would be.
            decisions[call_id] = FunctionResultStep(
                call_id=call_id, name="", result=result_content(decision)
            )
    return decisions


def _handoffs(
    handoffs: Sequence[Agent[Any, Any] | Handoff], toolset: ToolSet
) -> tuple[Handoff, ...]:
    items = tuple(item if isinstance(item, Handoff) else handoff(item) for item in handoffs)
    names = [item.tool_name for item in items]
    taken = sorted({name for name in names if names.count(name) > 1 or name in toolset.names})
    if taken:
        raise UsageError(
            f"Handoff tool names must differ from each other and from the agent's tools: "
            f"{taken} (give agent.as_handoff(tool_name=...))."
        )
    return items


def _team(root: Agent[Any, Any]) -> dict[str, Agent[Any, Any]]:
    """Every agent a run of `root` can be handed to, by name (root included)."""
    team: dict[str, Agent[Any, Any]] = {}
    todo = [root]
    while todo:
        member = todo.pop()
        known = team.setdefault(member.name, member)
        if known is member:
            todo.extend(item.agent for item in member.handoffs if item.agent.name not in team)
        else:
            raise UsageError(
                f"Two agents a run can be handed to are both named {member.name!r}: give each "
                "its own Agent(name=...)."
            )
    return team


def _checked_timeout(timeout: float) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise UsageError(f"timeout must be a number of seconds > 0, not {timeout!r}.")
    return float(timeout)


def _chained(
    first: Callable[[RunResult[Any]], None], second: Callable[[RunResult[Any]], None] | None
) -> Callable[[RunResult[Any]], None]:
    """One callback that calls `first`, then `second` (if any)."""
    if second is None:
        return first

    def both(partial: RunResult[Any]) -> None:
        first(partial)
        second(partial)

    return both


def _last(events: Iterator[RunEvent]) -> RunResult[Any]:
    for event in events:
        if isinstance(event, RunCompleteEvent):
            return event.result
    raise AssertionError("unreachable: a run always ends with RunCompleteEvent")
