"""The async and sync drivers: they carry out the actions of a `RunMachine`, nothing more.

Every decision lives in `_loop.py`; a driver sends requests, sleeps between polls, runs tool
batches and turns wire events into run events. Each action has a small handler that yields run
events as they happen and, last, a `_Next` holding the machine's next action.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, Callable, Generator, Iterator
from contextlib import ExitStack, aclosing, closing
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal

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
from agentkit._loop import Action, Done, Fail, Poll, RunMachine, RunTools, Send
from agentkit._result import RunResult
from agentkit._streaming import StreamAccumulator
from agentkit._toolset import ToolHooks, ToolSet
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

__all__ = ["Hooks", "RunSetup", "drive", "drive_sync"]

logger = logging.getLogger("agentkit.agent")


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


@dataclass(frozen=True)
class RunSetup:
    """What the drivers need from an `Agent`."""

    toolset: ToolSet
    hooks: Hooks
    raise_tool_errors: bool
    on_interrupt: Callable[[RunResult[Any]], None] | None = None
    """Receives the partial result (with finished tool results) when the run is cancelled."""


@dataclass(frozen=True)
class _Next:
    action: Action


@dataclass
class _Run:
    """The bookkeeping of one run in progress."""

    setup: RunSetup
    machine: RunMachine
    deps: Any
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    pending_id: str | None = None
    """A background interaction that is still running server-side (cancel it on interrupt)."""
    finished: list[FunctionResultStep] = field(default_factory=list[FunctionResultStep])

    def context(self) -> RunContext[Any]:
        machine = self.machine
        return RunContext(
            deps=self.deps,
            usage=machine.usage,
            run_id=self.run_id,
            interaction_id=machine.state.interaction_id,
            turn=machine.state.turns,
        )

    def tool_hooks(self) -> ToolHooks:
        hooks = self.setup.hooks
        return ToolHooks(hooks.before_tool, hooks.after_tool)

    def before_request(self, body: dict[str, Any]) -> None:
        if self.setup.hooks.before_request:
            self.setup.hooks.before_request(body)

    def received(self, interaction: Interaction) -> Action:
        if self.setup.hooks.after_request:
            self.setup.hooks.after_request(interaction)
        logger.debug("interaction %s is %s", interaction.id, interaction.status)
        action = self.machine.received(interaction)
        # Only an interaction still working server-side can be cancelled (PROTOCOL §13.5):
        # one that waits for tool results (requires_action) or has ended has nothing to stop.
        background = self.machine.config.background
        self.pending_id = interaction.id if background and isinstance(action, Poll) else None
        return action

    def streaming(self, accumulator: StreamAccumulator) -> None:
        # A background interaction runs server-side from its first event on: an interrupted
        # stream must cancel it, not only one interrupted while polling.
        if self.machine.config.background and accumulator.status in ("in_progress", "queued"):
            self.pending_id = accumulator.interaction_id

    def interrupted(self) -> None:
        partial_result = self.machine.interrupted(self.finished)
        if self.setup.on_interrupt:
            self.setup.on_interrupt(partial_result)

    def tool_results(
        self, calls: tuple[FunctionCallStep, ...], results: list[FunctionResultStep]
    ) -> Iterator[RunEvent | _Next]:
        """Run events for a finished batch, then the machine's next action."""
        for call, result in zip(calls, results, strict=True):
            yield ToolResultEvent(call, result)
        self.finished = []
        yield _Next(self.machine.tools_finished(results))


# -- async ----------------------------------------------------------------------------------------


async def drive(
    setup: RunSetup, client: AsyncClient, machine: RunMachine, action: Action, deps: Any
) -> AsyncGenerator[RunEvent, None]:
    """Carry out the machine's actions until the run ends, yielding run events."""
    run = _Run(setup, machine, deps)
    try:
        while not isinstance(action, Done):
            if isinstance(action, Fail):
                if action.cancel is not None:
                    await _cancel_quietly(client, action.cancel)
                raise action.error
            # Closed explicitly: a consumer that stops early must not leave it to the GC.
            async with aclosing(_step(run, client, action)) as steps:
                async for item in steps:
                    if isinstance(item, _Next):
                        action = item.action
                    else:
                        yield item
        for event in _final_events(action.result):
            yield event
    except anyio.get_cancelled_exc_class():
        if run.pending_id is not None:
            with anyio.CancelScope(shield=True):
                await _cancel_quietly(client, run.pending_id)
        run.interrupted()
        raise


async def _step(
    run: _Run, client: AsyncClient, action: Send | Poll | RunTools
) -> AsyncGenerator[RunEvent | _Next, None]:
    if isinstance(action, Send):
        run.before_request(action.body)
        if action.stream:
            accumulator = StreamAccumulator()
            async with await client.interactions.create(**action.body, stream=True) as stream:
                async for event in stream:
                    accumulator.apply(event)
                    run.streaming(accumulator)
                    for run_event in _translate(event, accumulator):
                        yield run_event
            interaction = accumulator.result()
        else:
            interaction = await client.interactions.create(**action.body, stream=False)
        next_action = run.received(interaction)
        yield StatusEvent(interaction.status, interaction.id)
        yield _Next(next_action)
    elif isinstance(action, Poll):
        await client.sleep(action.delay)
        interaction = await client.interactions.get(action.interaction_id)
        next_action = run.received(interaction)
        if not isinstance(next_action, Poll):
            yield StatusEvent(interaction.status, interaction.id)
        yield _Next(next_action)
    else:
        for call in action.calls:
            yield ToolCallEvent(call)
        results = await run.setup.toolset.run_all(
            action.calls,
            run.context(),
            raise_errors=run.setup.raise_tool_errors,
            hooks=run.tool_hooks(),
            finished=run.finished,
        )
        for item in run.tool_results(action.calls, results):
            yield item


async def _cancel_quietly(client: AsyncClient, interaction_id: str) -> None:
    try:
        await client.interactions.cancel(interaction_id)
    except Exception:  # the run is being cancelled anyway; the caller's exception matters
        logger.warning("could not cancel background interaction %s", interaction_id, exc_info=True)


# -- sync -----------------------------------------------------------------------------------------


def drive_sync(
    setup: RunSetup, client: Client, machine: RunMachine, action: Action, deps: Any
) -> Iterator[RunEvent]:
    """Synchronous `drive`: blocking HTTP on the caller's thread, tool batches in a portal.

    The portal (an event loop in a worker thread) is opened only when tools run, so the
    sync API never touches the caller's event loop and works inside one (Jupyter).
    """
    run = _Run(setup, machine, deps)
    with ExitStack() as stack:
        portals: list[BlockingPortal] = []

        def portal() -> BlockingPortal:
            if not portals:
                portals.append(stack.enter_context(start_blocking_portal()))
            return portals[0]

        try:
            while not isinstance(action, Done):
                if isinstance(action, Fail):
                    if action.cancel is not None:
                        _cancel_quietly_sync(client, action.cancel)
                    raise action.error
                with closing(_step_sync(run, client, action, portal)) as steps:
                    for item in steps:
                        if isinstance(item, _Next):
                            action = item.action
                        else:
                            yield item
            yield from _final_events(action.result)
        except KeyboardInterrupt:
            if run.pending_id is not None:
                _cancel_quietly_sync(client, run.pending_id)
            run.interrupted()
            raise


def _step_sync(
    run: _Run,
    client: Client,
    action: Send | Poll | RunTools,
    portal: Callable[[], BlockingPortal],
) -> Generator[RunEvent | _Next, None, None]:
    if isinstance(action, Send):
        run.before_request(action.body)
        if action.stream:
            accumulator = StreamAccumulator()
            with client.interactions.create(**action.body, stream=True) as stream:
                for event in stream:
                    accumulator.apply(event)
                    run.streaming(accumulator)
                    yield from _translate(event, accumulator)
            interaction = accumulator.result()
        else:
            interaction = client.interactions.create(**action.body, stream=False)
        next_action = run.received(interaction)
        yield StatusEvent(interaction.status, interaction.id)
        yield _Next(next_action)
    elif isinstance(action, Poll):
        client.sleep(action.delay)
        interaction = client.interactions.get(action.interaction_id)
        next_action = run.received(interaction)
        if not isinstance(next_action, Poll):
            yield StatusEvent(interaction.status, interaction.id)
        yield _Next(next_action)
    else:
        for call in action.calls:
            yield ToolCallEvent(call)
        run_all = partial(
            run.setup.toolset.run_all,
            action.calls,
            run.context(),
            raise_errors=run.setup.raise_tool_errors,
            hooks=run.tool_hooks(),
            finished=run.finished,
        )
        future = portal().start_task_soon(run_all)
        try:
            results = future.result()
        except BaseException:
            future.cancel()  # Ctrl-C lands here, in the caller's thread; the task would go on
            raise
        yield from run.tool_results(action.calls, results)


def _cancel_quietly_sync(client: Client, interaction_id: str) -> None:
    try:
        client.interactions.cancel(interaction_id)
    except Exception:  # the run is being interrupted anyway; the caller's exception matters
        logger.warning("could not cancel background interaction %s", interaction_id, exc_info=True)


def _final_events(result: RunResult[Any]) -> Iterator[RunEvent]:
    """The last events of a run: the calls left waiting for approval, then the result."""
    for call in result.pending_calls:
        yield ToolCallEvent(call)
    yield RunCompleteEvent(result)


# -- wire events to run events -------------------------------------------------------------------


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
        if step is not None and _is_server_tool_step(step.type):
            yield ServerToolEvent(step)


def _is_server_tool_step(step_type: str) -> bool:
    return step_type.endswith(("_call", "_result")) and not step_type.startswith("function_")
