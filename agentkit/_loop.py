"""The agent loop as a sans-IO state machine: the last interaction in, the next action out.

No sockets, no threads, no clock: the drivers in `_drivers.py` (async, sync) carry out each
action and feed its outcome back, so every decision of the loop is written, and tested, once.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import pydantic

from agentkit._exceptions import (
    APIError,
    DeadlineExceeded,
    InteractionFailed,
    MaxTurnsExceeded,
    OutputValidationError,
    RepeatedCallError,
    RunError,
    RunTimeout,
    StreamNotResumable,
    ToolRetriesExceeded,
    UnexpectedStatusError,
    UsageError,
    UsageLimitExceeded,
)
from agentkit._result import RunResult, RunState, isolated
from agentkit._tool_error import error_result
from agentkit.types import (
    FunctionCallStep,
    FunctionResultStep,
    Interaction,
    Step,
    Usage,
    parse_step,
    to_jsonable,
)

__all__ = [
    "PENDING_STATUSES",
    "Action",
    "Done",
    "Fail",
    "LoopConfig",
    "Poll",
    "PollPolicy",
    "RunMachine",
    "RunTools",
    "Send",
    "UsageLimits",
]

PENDING_STATUSES = frozenset({"in_progress", "queued"})
"""Statuses of an interaction still working server-side: poll it, or cancel it to stop it."""
_FINAL_RESULT = frozenset({"completed", "incomplete", "cancelled", "budget_exceeded"})
_KNOWN_STATUSES = _FINAL_RESULT | {"failed", "requires_action", "requires_continuation"}
_INPUT_ECHOES = ("user_input", "function_result")
_STATELESS_RESENDS = 2
_CONTENT_TYPES = frozenset({"text", "image", "audio", "video", "document"})

Approval = bool | FunctionResultStep
"""True runs the call, False refuses it, a result step is sent instead of running it."""


@dataclass(frozen=True)
class UsageLimits:
    """Optional budget for one run; exceeding it raises `UsageLimitExceeded`.

    Attributes:
        request_limit: Most model requests (create calls) in the run.
        tool_call_limit: Most function calls executed in the run.
        total_tokens_limit: Most tokens (`usage.total_tokens`, summed) in the run.
    """

    request_limit: int | None = None
    tool_call_limit: int | None = None
    total_tokens_limit: int | None = None


@dataclass(frozen=True)
class PollPolicy:
    """How a background interaction is polled: quick at first, then backing off to a cap.

    Attributes:
        first: Seconds before the first poll.
        factor: Each later interval is the previous one times this.
        max_interval: The longest interval between two polls.
        deadline: Give up on an interaction (cancel it and raise `DeadlineExceeded`) once
            the waits between its polls would exceed this many seconds; None waits forever.
    """

    first: float = 0.25
    factor: float = 1.5
    max_interval: float = 5.0
    deadline: float | None = None

    def delay(self, attempt: int) -> float:
        """Seconds to wait before poll number `attempt` (0-based)."""
        if self.factor > 1:
            # Past the poll that reaches the cap, the power only grows: a run polled for
            # hours would overflow a float.
            ratio = self.max_interval / self.first if self.first > 0 else 1.0
            last = math.ceil(math.log(ratio, self.factor)) if ratio > 1 else 0
            attempt = min(attempt, last)
        return min(self.first * self.factor**attempt, self.max_interval)


@dataclass(frozen=True)
class LoopConfig:
    """What the loop needs to know about the agent; built by `Agent`, never by users."""

    model: str | None = None
    agent: str | None = None
    tools: tuple[dict[str, Any], ...] = ()
    """Wire declarations, sent with every request."""
    local_tools: frozenset[str] = frozenset()
    """Names of the function tools this process executes."""
    request_fields: Mapping[str, Any] = field(default_factory=dict[str, Any])
    """Other create fields sent with every request (system_instruction, generation_config...)."""
    store: bool = True
    background: bool = False
    stream: bool = False
    max_turns: int = 20
    max_repeated_calls: int = 3
    limits: UsageLimits = UsageLimits()
    poll: PollPolicy = PollPolicy()
    needs_approval: Callable[[FunctionCallStep], bool] | None = None
    check_arguments: Callable[[FunctionCallStep], str | None] | None = None
    """What is wrong with a call's arguments, for the model to fix; None when they fit."""
    tool_retries: Mapping[str, int] = field(default_factory=dict[str, int])
    """Per tool with its own `retries`: invalid calls in a row the model may correct."""
    default_tool_retries: int = 2
    output_adapter: pydantic.TypeAdapter[Any] | None = None
    output_retries: int = 1
    """Answers that do not fit the output type sent back to the model, with what is wrong."""
    handoffs: Mapping[str, str] = field(default_factory=dict[str, str])
    """Tool name -> the name of the agent that takes the conversation over when it is called."""
    team: Callable[[str], LoopConfig] | None = None
    """The configuration of an agent the run may be handed to, by its name."""
    run_output: bool = False
    """The output type is the run's own (`run(..., output_type=...)`), not its agent's."""

    def handed_to(self, target: LoopConfig) -> LoopConfig:
        """The run's configuration once `target` has it.

        The target brings its model, instructions, tools and output type; the run keeps its
        mode (store, background, stream), budgets, and an output type of its own.
        """
        if self.run_output:
            fields = dict(target.request_fields)
            fields.pop("response_format", None)
            if "response_format" in self.request_fields:
                fields["response_format"] = self.request_fields["response_format"]
            target = replace(
                target,
                request_fields=fields,
                output_adapter=self.output_adapter,
                output_retries=self.output_retries,
                run_output=True,
            )
        return replace(
            target,
            store=self.store,
            background=self.background,
            stream=self.stream,
            max_turns=self.max_turns,
            max_repeated_calls=self.max_repeated_calls,
            limits=self.limits,
            poll=self.poll,
        )


@dataclass(frozen=True)
class Send:
    """Create an interaction with this body (keyword arguments of `interactions.create`)."""

    body: dict[str, Any]
    stream: bool = False
    key: str | None = None
    """Names this request of a stored run, the same in every resume of the same state: an
    interaction it is known to have made is fetched instead of sending it again."""


@dataclass(frozen=True)
class Poll:
    """Wait `delay` seconds, then GET the interaction and feed it to `received()`."""

    interaction_id: str
    delay: float


@dataclass(frozen=True)
class RunTools:
    """Run these calls concurrently; feed the results, in any order, to `tools_finished()`.

    Each call runs at most once under its idempotency key (`keys`, in call order): unique per
    call, the same across retries, resumes and processes.
    """

    calls: tuple[FunctionCallStep, ...]
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Done:
    """The run is over (or paused for approval): return this result."""

    result: RunResult[Any]


@dataclass(frozen=True)
class Fail:
    """The run failed: raise this error (it carries the partial result)."""

    error: RunError | APIError
    cancel: str | None = None
    """A background interaction still running server-side: cancel it before raising."""


Action = Send | Poll | RunTools | Done | Fail


def _call_key(call: FunctionCallStep) -> str:
    return f"{call.name}:{json.dumps(call.arguments, sort_keys=True, default=str)}"


def _input_steps(value: Any) -> list[dict[str, Any]]:
    """Normalise a run input (text, content blocks or steps) into wire steps."""
    if isinstance(value, str):
        return [{"type": "user_input", "content": [{"type": "text", "text": value}]}]
    items: list[Any] = to_jsonable(value) if isinstance(value, list | tuple) else []
    if not items:
        raise UsageError("The run input must be a non-empty string or a list of content or steps.")
    steps: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, str):  # ["Describe this", image(file)]: text beside media
            item = {"type": "text", "text": item}
        if not isinstance(item, dict) or "type" not in item:
            raise UsageError(f"Cannot send {item!r} as input: expected a content block or step.")
        wire = cast("dict[str, Any]", item)
        if wire["type"] in _CONTENT_TYPES:
            blocks.append(wire)
            continue
        if blocks:
            steps.append({"type": "user_input", "content": blocks})
            blocks = []
        steps.append(wire)
    if blocks:
        steps.append({"type": "user_input", "content": blocks})
    return steps


class RunMachine:
    """Decides every step of one agent run.

    Call `start()` (or `resume()` for a run that paused, was interrupted or failed), carry
    out the returned action, and feed its outcome back with `received()` (and `created()`
    as soon as a request's interaction is known), `tools_finished()` or `failed()` until the
    action is `Done` or `Fail`.
    """

    def __init__(self, config: LoopConfig, state: RunState | None = None) -> None:
        self.state: RunState = isolated(state) if state else RunState()
        handed_to = self.state.agent_name
        if handed_to is not None and config.team is not None:  # resumed after a handoff
            config = config.handed_to(config.team(handed_to))
        self.config: LoopConfig = config
        self.state.store = config.store
        self.state.background = config.background
        # The state holds the run, as wire dicts, once; the rest are indexes into it.
        steps = self.state.steps
        # A hand-built state may carry steps without their interaction ids: keep the steps.
        ids = self.state.step_interactions[: len(steps)]
        self.state.step_interactions = [*ids, *[None] * (len(steps) - len(ids))]
        # A run interrupted while its tools ran keeps the results of those that finished:
        # they are sent with the others on resume, never run again.
        waiting = {raw.get("id") for raw in self.state.calls}
        self._ready: dict[str, FunctionResultStep] = {
            raw["call_id"]: FunctionResultStep.model_validate(raw)
            for raw in steps
            if raw.get("type") == "function_result" and raw.get("call_id") in waiting
        }
        self._unassigned: list[int] = []
        self._resent = 0  # times the request in flight was sent again (see request_failed)
        self.answered: list[tuple[FunctionCallStep, FunctionResultStep]] = []
        """Calls the last `received()` answered without running them (invalid arguments, an
        unknown tool), with their error results: drivers report them as run events."""
        self._sent_history: list[dict[str, Any]] = []
        self._last_token: str | None = None
        self._last_body: dict[str, Any] | None = None
        self._polls = 0
        self._waited = 0.0
        self._tools_text: tuple[tuple[dict[str, Any], ...] | None, str] = (None, "")
        """The tool declarations of `_canonical`, and their text."""
        # Stateless: the calls and results of earlier turns live only in the history.
        known = [*steps, *self.state.history]
        self._answered: set[str] = {
            raw["call_id"] for raw in known if raw.get("type") == "function_result"
        }
        self._seen_calls: set[str] = {
            raw["id"] for raw in known if raw.get("type") == "function_call" and raw.get("id")
        }

    # -- public API ---------------------------------------------------------------------------

    def start(self, input: Any, *, continue_from: str | None = None) -> Action:
        """Begin the run with the user's input.

        Args:
            input: Text, a list of content blocks, or a list of steps.
            continue_from: Stateful mode: the interaction id to chain from (a previous turn).
        """
        steps = _input_steps(input)
        for raw in steps:
            self._record(parse_step(raw), interaction_id=None)
        if self.config.store:
            previous = continue_from or self.state.interaction_id
            sent: Any = input if isinstance(input, str) else steps
            return self._send(sent, previous=previous)
        self.state.history.extend(steps)
        return self._send(list(self.state.history))

    def received(self, interaction: Interaction) -> Action:
        """Feed the interaction a `Send` or `Poll` produced; get the next action."""
        status = interaction.status
        self.state.interaction_id = interaction.id
        self.state.outbox = None
        self.answered = []
        self._resent = 0
        # Background and managed-agent interactions continue server-side.
        server_continues = self.config.background or self.config.agent is not None
        if status in PENDING_STATUSES or (status == "requires_continuation" and server_continues):
            self.state.awaiting = interaction.id
            return self._poll(interaction)
        self.state.awaiting = None
        self._polls = 0
        self._waited = 0.0
        if status not in _KNOWN_STATUSES:
            return Fail(self._unknown_status(interaction))
        self._settle(interaction)
        try:
            self._check_tokens(status)
            return self._decide(interaction)
        except RunError as error:
            return Fail(error)

    def created(self, interaction_id: str | None) -> None:
        """A request in flight made this interaction (a stream's first event names it).

        From now on the run never sends that request again: an error or an interruption
        leaves a state that fetches this interaction when resumed.
        """
        # A stateless interaction is not stored: there is nothing to fetch later.
        if interaction_id and self.config.store:
            self.state.awaiting = interaction_id
            self.state.outbox = None

    def failed(
        self, error: RunError | APIError, finished: Sequence[FunctionResultStep] = ()
    ) -> Fail:
        """The action in flight failed for good (the client gave up retrying): end the run.

        The error gets the run so far as `.partial` (for an `APIError` too), whose state
        resumes the run: it fetches the interaction the failed request made or polled, when
        one is known, and sends the failed request again otherwise. Finished tools never
        run again.

        Args:
            error: What ended the action.
            finished: Results of the tools of a batch that ended before the error.
        """
        awaiting = self.state.awaiting
        partial = self.interrupted(finished, status="error")
        if isinstance(error, APIError):
            error.partial = partial
            if awaiting is not None:
                error.interaction_id = awaiting
                note = (
                    f" Interaction {awaiting} was made and may still be running: "
                    "Agent.resume(error.partial) fetches it"
                    + (" (or Agent.attach() it)." if self.config.background else ".")
                )
                error.message += note
                error.args = (error.message, *error.args[1:])
        elif error.partial is None:
            error.partial = partial
        return Fail(error)

    def timed_out(
        self,
        timeout: float,
        finished: Sequence[FunctionResultStep] = (),
        *,
        detached: bool = False,
    ) -> Fail:
        """The run outlived its `timeout`: end it with `RunTimeout`, resumable like `failed()`.

        A background interaction still working for it is cancelled, as nobody waits for it
        now; unless `detached` (a handle's wait timed out, not the run).
        """
        cancel = None if detached else self.to_cancel
        then = (
            f"Its background interaction {cancel} was cancelled, so resuming reports it "
            "cancelled (to leave one running, wait with start() and handle.result(timeout=))."
            if cancel is not None
            else "Agent.resume(error.partial) continues it."
        )
        error = RunTimeout(
            f"The run did not finish within its timeout of {timeout:g} s and was stopped. {then}",
            timeout=timeout,
        )
        return replace(self.failed(error, finished), cancel=cancel)

    def request_failed(self, error: APIError) -> Action:
        """A request failed for good: send it again if nothing was stored, else `failed()`.

        The stream of a stateless request (`store=false`) that breaks cannot be resumed, but
        the server kept nothing of it either: the same request is sent again (twice at most
        for one request), instead of ending the run.
        """
        body = self.state.outbox
        resend = (
            not self.config.store
            and body is not None
            and isinstance(error, StreamNotResumable)
            and self._resent < _STATELESS_RESENDS
        )
        if not resend or body is None:
            return self.failed(error)
        self._resent += 1
        return self._send_again(body)

    def _poll(self, interaction: Interaction) -> Poll | Fail:
        policy = self.config.poll
        delay = policy.delay(self._polls)
        if policy.deadline is not None and self._waited + delay > policy.deadline:
            error = DeadlineExceeded(
                f"Interaction {interaction.id} was still {interaction.status} after "
                f"{self._waited:g} s of polling (deadline {policy.deadline:g} s); it was "
                "cancelled. Raise PollPolicy.deadline, or re-attach with a handle.",
                interaction_id=interaction.id,
                partial=self._result(interaction.status),
            )
            self._polls, self._waited = 0, 0.0
            return Fail(error, cancel=interaction.id)
        self._polls += 1
        self._waited += delay
        return Poll(interaction.id, delay)

    def poll_budget(self) -> float | None:
        """Seconds of waiting left before `PollPolicy.deadline` (None: no deadline).

        For a driver that polls in one go (a durable activity) instead of one `Poll` at a
        time; it reports its polls with `waited()` before `received()`.
        """
        deadline = self.config.poll.deadline
        return None if deadline is None else max(deadline - self._waited, 0.0)

    def waited(self, polls: int, seconds: float) -> None:
        """Count polls a driver made in one go toward the deadline (see `poll_budget()`)."""
        self._polls += polls
        self._waited += seconds

    def tools_finished(self, results: Sequence[FunctionResultStep]) -> Action:
        """Feed the results of a `RunTools` action; get the next request to send."""
        self._ready.update({step.call_id: step for step in results})
        ids = [raw.get("id") or "" for raw in self.state.calls]
        missing = [call_id for call_id in ids if call_id not in self._ready]
        if missing:
            raise UsageError(f"tools_finished() is missing results for calls {missing}.")
        ordered = [self._ready[call_id] for call_id in ids]
        self._ready = {}
        self.state.calls = []
        for step in ordered:
            if step.call_id not in self._answered:  # else recorded before an interruption
                self._answered.add(step.call_id)
                self._record(step, interaction_id=None)
        wire = [step.to_wire() for step in ordered]
        self._hand_over()
        if self.config.store:
            return self._send(wire, previous=self.state.interaction_id)
        self.state.history.extend(wire)
        return self._send(list(self.state.history))

    def resume(self, approvals: Mapping[str, Approval]) -> Action:
        """Continue a run paused for approval, interrupted, or stopped by an error.

        Calls whose tools finished before an interruption are not run again; a request whose
        interaction is known is not sent again (the interaction is fetched instead).

        Args:
            approvals: For each call id that needed approval: True to run it, False to refuse
                it, or a `FunctionResultStep` to send instead of running it.
        """
        if not self.state.calls:
            if self.state.awaiting is not None:
                return Poll(self.state.awaiting, 0.0)
            if self.state.outbox is not None:
                return self._send_again(self.state.outbox)
            raise UsageError(
                "This run is not paused for approval, nor stopped by an error or a "
                "cancellation before it finished: there is nothing to resume."
            )
        open_calls = [call for call in self._open_calls() if (call.id or "") not in self._ready]
        waiting = set(self.state.pending)
        needing = [call for call in open_calls if call.id in waiting]
        missing = [call.id for call in needing if call.id not in approvals]
        if missing:
            raise UsageError(
                f"resume() needs a decision for every pending call; missing: {missing}. "
                "Pass approvals={call_id: True | False | result}."
            )
        self.state.pending = []
        to_run: list[FunctionCallStep] = []
        for call in open_calls:
            decision: Approval = approvals.get(call.id or "", True)
            if decision is True:
                to_run.append(call)
            elif decision is False:
                self._decided(
                    error_result(
                        call, f"The user did not approve calling {call.name!r}; do not retry it."
                    )
                )
            else:
                self._decided(
                    decision.model_copy(update={"call_id": call.id or "", "name": call.name})
                )
        return self._run_or_skip(to_run)

    def _decided(self, result: FunctionResultStep) -> None:
        """A call answered without running it, kept in the state.

        A run interrupted later resumes with this answer, never by running the call.
        """
        self._ready[result.call_id] = result
        self._answered.add(result.call_id)
        self._record(result, interaction_id=None)

    def interrupted(
        self, finished: Sequence[FunctionResultStep] = (), *, status: str = "cancelled"
    ) -> RunResult[Any]:
        """The run so far, stopped by its caller (or, for `failed()`, by an error).

        Results of the tools that finished are kept; the state resumes (`resume()`) with the
        calls still open, the request in flight, or the interaction being fetched.
        """
        for step in finished:
            if step.call_id not in self._answered:
                self._decided(step)
        return self._result(status)

    def lacks_environment(self, interaction: Interaction) -> bool:
        """Whether to GET a streamed interaction to learn its `environment_id`.

        Stream events carry none; a stored interaction of a run given an `environment` that
        has settled is fetched once to learn it (a stateless one cannot be).
        """
        return (
            interaction.environment_id is None
            and self.config.store
            and "environment" in self.config.request_fields
            and interaction.status not in PENDING_STATUSES
        )

    @property
    def to_cancel(self) -> str | None:
        """A background interaction of this run still working server-side, to cancel to stop it.

        One that waits for tool results, or has ended, has nothing to stop.
        """
        return self.state.awaiting if self.config.background else None

    @property
    def usage(self) -> Usage:
        """Token usage of the run so far."""
        return Usage.model_validate(self.state.usage) if self.state.usage else Usage()

    def snapshot(self, status: str) -> RunResult[Any]:
        """The run so far as a result with the given status (for errors and pauses)."""
        return self._result(status)

    def checkpoint(self) -> RunState:
        """The run's state as it stands, for a journal: resuming it continues the run."""
        return isolated(self.state)

    # -- decisions ----------------------------------------------------------------------------

    def _decide(self, interaction: Interaction) -> Action:
        status = interaction.status
        if status in _FINAL_RESULT:
            return self._finish(status)
        if status == "failed":
            errors = list(interaction.errors or [])
            detail = "; ".join(f"{e.code}: {e.message}" for e in errors) or "no details given"
            raise InteractionFailed(
                f"Interaction {interaction.id} failed: {detail}",
                interaction_id=interaction.id,
                errors=errors,
                partial=self._result("failed"),
            )
        if status == "requires_action":
            return self._on_calls(interaction)
        if status == "requires_continuation":
            token = interaction.continuation_token
            if not token or token == self._last_token:
                raise UnexpectedStatusError(
                    f"Interaction {interaction.id} asked for a continuation but made no progress "
                    "(no new continuation_token); stopping.",
                    status=status,
                    partial=self._result(status),
                )
            self._last_token = token
            return self._continue(token)
        raise AssertionError(f"unreachable: {status!r} is not in _KNOWN_STATUSES")

    def _unknown_status(self, interaction: Interaction) -> UnexpectedStatusError:
        """A status agentkit cannot act on: the interaction is not taken into the run's state.

        Its steps are shown in the partial result, but resuming asks again, for the stored
        interaction or with the stateless request that got it, so a status that was passing
        (or that a newer agentkit knows) goes on.
        """
        if self.config.store:
            self.state.awaiting = interaction.id
        else:
            self.state.outbox = self._last_body
        partial = self._result(interaction.status)
        shown = self._new_steps(interaction)
        partial.steps.extend(shown)
        partial.step_interaction_ids.extend([interaction.id] * len(shown))
        return UnexpectedStatusError(
            f"Interaction {interaction.id} has status {interaction.status!r}, which agentkit "
            "does not know how to handle. Upgrade agentkit, look at the interaction, or resume "
            "the run from `error.partial` to ask again.",
            status=interaction.status,
            partial=partial,
        )

    def _on_calls(self, interaction: Interaction) -> Action:
        calls = [c for c in interaction.function_calls if (c.id or "") not in self._answered]
        if not calls:
            raise UnexpectedStatusError(
                f"Interaction {interaction.id} requires action but has no unanswered "
                "function_call step.",
                status="requires_action",
                partial=self._result("requires_action"),
            )
        local = sum(1 for call in calls if call.name in self.config.local_tools)
        limit = self.config.limits.tool_call_limit
        if limit is not None and self.state.tool_calls + local > limit:
            raise UsageLimitExceeded(
                f"The model asked for {local} more tool call(s), which would exceed the "
                f"tool_call_limit of {limit}.",
                partial=self._result("requires_action"),
            )
        for call in calls:
            key = _call_key(call)
            count = self.state.call_counts.get(key, 0) + 1
            self.state.call_counts[key] = count
            if count > self.config.max_repeated_calls:
                raise RepeatedCallError(
                    f"The model called {call.name!r} with the same arguments {count} times "
                    f"(limit {self.config.max_repeated_calls}); stopping to avoid a loop.",
                    partial=self._result("requires_action"),
                )
        self.state.calls = [call.to_wire() for call in calls]
        calls = self._handed_off(calls)
        calls = self._valid(calls)
        pending = [call.id or "" for call in calls if self._needs_approval(call)]
        if pending:
            self.state.pending = pending
            return Done(self._result("requires_action"))
        return self._run_or_skip(calls)

    def _handed_off(self, calls: list[FunctionCallStep]) -> list[FunctionCallStep]:
        """The calls but the handoffs, which are answered here.

        The first one names the agent that takes the run over once this turn's results are sent.
        """
        handoffs = self.config.handoffs
        others: list[FunctionCallStep] = []
        for call in calls:
            target = handoffs.get(call.name)
            if target is None:
                others.append(call)
                continue
            if self.state.handoff is None:
                self.state.handoff = target
                answer = FunctionResultStep(
                    call_id=call.id or "",
                    name=call.name,
                    result=f"Transferred to {target}, which takes the conversation from here.",
                )
            else:
                answer = error_result(
                    call,
                    f"Not transferred: the conversation already goes to {self.state.handoff}.",
                )
            self.answered.append((call, answer))
            self._decided(answer)
        return others

    def _hand_over(self) -> None:
        """Give the run to the agent a handoff named, before the next request goes out."""
        target, self.state.handoff = self.state.handoff, None
        if target is None:
            return
        team = self.config.team
        if team is None:
            raise UsageError(
                f"This run is being handed off to {target!r}: resume it with the agent whose "
                "handoffs reach that agent (the agent that started it)."
            )
        self.config = self.config.handed_to(team(target))
        self.state.agent_name = target

    def _valid(self, calls: list[FunctionCallStep]) -> list[FunctionCallStep]:
        """The calls whose arguments fit their tools; the others are answered with the error.

        Raises:
            ToolRetriesExceeded: A tool got invalid arguments more times in a row than its
                `retries` allow.
        """
        check = self.config.check_arguments
        if check is None:
            return calls
        valid: list[FunctionCallStep] = []
        counts = self.state.invalid_calls
        for call in calls:
            problem = check(call) if call.name in self.config.local_tools else None
            if problem is None:
                counts.pop(call.name, None)
                valid.append(call)
                continue
            counts[call.name] = count = counts.get(call.name, 0) + 1
            budget = self.config.tool_retries.get(call.name, self.config.default_tool_retries)
            if count > budget:
                raise ToolRetriesExceeded(
                    f"The model called {call.name!r} with invalid arguments {count} times in a "
                    f"row (retries={budget}). The last error: {problem.rstrip('. ')}. Make the "
                    "tool's parameters or their descriptions clearer, or allow more retries with "
                    "@tool(retries=...) or Agent(tool_retries=...).",
                    tool=call.name,
                    call=call,
                    partial=self._result("requires_action"),
                )
            error = error_result(call, problem)
            self.answered.append((call, error))
            self._decided(error)
        return valid

    def _run_or_skip(self, calls: list[FunctionCallStep]) -> Action:
        to_run: list[FunctionCallStep] = []
        for call in calls:
            if call.name in self.config.local_tools:
                to_run.append(call)
            else:
                known = ", ".join(sorted(self.config.local_tools)) or "none"
                error = error_result(call, f"Unknown tool {call.name!r}. Available tools: {known}.")
                self.answered.append((call, error))
                self._ready[call.id or ""] = error
        if to_run:
            self.state.tool_calls += len(to_run)
            return RunTools(tuple(to_run), tuple(self._idempotency_key(call) for call in to_run))
        return self.tools_finished([])

    def _idempotency_key(self, call: FunctionCallStep) -> str:
        # Call ids are unique within an interaction; the run id stands in for an interaction
        # without one. A call without an id (documented samples omit it) is known by its position.
        scope = self.state.interaction_id or self.state.run_id or ""
        return f"{scope}/{call.id or self.state.calls.index(call.to_wire())}"

    def _needs_approval(self, call: FunctionCallStep) -> bool:
        predicate = self.config.needs_approval
        return bool(predicate and call.name in self.config.local_tools and predicate(call))

    # -- requests -----------------------------------------------------------------------------

    def _send(self, input: Any, *, previous: str | None = None) -> Action:
        body = self._base_body()
        body["input"] = input
        if previous:
            body["previous_interaction_id"] = previous
        try:
            self._check_budget(body)
        except RunError as error:
            return Fail(error)
        return self._emit(body)

    def _continue(self, token: str) -> Action:
        body = self._base_body()
        body["continuation_token"] = token
        if self.config.store:
            body["previous_interaction_id"] = self.state.interaction_id
        else:
            # Resend the request that issued the token, not the run's first one.
            body["input"] = self._sent_history
        self._check_budget(body)
        return self._emit(body)

    def _emit(self, body: dict[str, Any]) -> Send:
        self.state.turns += 1
        return self._send_again(body)

    def _send_again(self, body: dict[str, Any]) -> Send:
        self.state.outbox = self._last_body = body
        self.state.awaiting = None
        if not self.config.store:
            self._sent_history = body.get("input", self._sent_history)
        # A stored interaction is created through a stream, so its id arrives before its
        # output: a connection lost later re-attaches to it instead of creating another.
        # Background creates answer at once, and stateless ones store nothing to fork.
        stream = self.config.stream or (self.config.store and not self.config.background)
        return Send(body, stream=stream, key=self._request_key(body))

    def _request_key(self, body: dict[str, Any]) -> str | None:
        # The same request of the same run, in any resume: a resume that decided differently
        # (another approval) sends another request, which is not the one already made.
        run_id = self.state.run_id
        if not run_id or not self.config.store:
            return None
        digest = hashlib.sha256(self._canonical(body).encode())
        return f"{run_id}/request/{self.state.turns}/{digest.hexdigest()[:16]}"

    def _canonical(self, body: dict[str, Any]) -> str:
        """`json.dumps(body, sort_keys=True, default=str)`, the tool declarations written once.

        They are most of a request's text and the same in every request of the run.
        """
        declared = self.config.tools
        if not declared or not _the_same(body.get("tools"), declared):
            return _canonical_json(body)
        if self._tools_text[0] is not declared:
            self._tools_text = (declared, _canonical_json(list(declared)))
        fields = (
            f"{json.dumps(key)}: "
            f"{self._tools_text[1] if key == 'tools' else _canonical_json(body[key])}"
            for key in sorted(body)
        )
        return "{" + ", ".join(fields) + "}"

    def _base_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.config.agent:
            body["agent"] = self.config.agent
        else:
            body["model"] = self.config.model
        body.update(self.config.request_fields)
        if self.config.tools:
            body["tools"] = list(self.config.tools)
        if not self.config.store:
            body["store"] = False
        if self.config.background:
            body["background"] = True
        return body

    def _check_budget(self, body: dict[str, Any]) -> None:
        """Raise if sending `body` takes the run past its limits.

        The error's `partial` holds `body` as the request to send: resuming it sends it (its
        caller chose to go on), with the results of the tools that ran.
        """
        limits = self.config.limits
        if self.state.turns >= self.config.max_turns:
            error: type[RunError] = MaxTurnsExceeded
            message = (
                f"The run reached max_turns={self.config.max_turns} model requests and the "
                "model still wants to continue. Raise max_turns or simplify the task."
            )
        elif limits.request_limit is not None and self.state.turns >= limits.request_limit:
            error = UsageLimitExceeded
            message = f"The run reached its request_limit of {limits.request_limit}."
        else:
            return
        self.state.outbox, self.state.awaiting = body, None
        raise error(message, partial=self._result("requires_action"))

    def _check_tokens(self, status: str) -> None:
        limit = self.config.limits.total_tokens_limit
        total = self.state.usage.get("total_tokens") or 0
        if limit is not None and total > limit:
            raise UsageLimitExceeded(
                f"The run used {total} tokens, over its total_tokens_limit of {limit}.",
                partial=self._result(status),
            )

    # -- bookkeeping --------------------------------------------------------------------------

    def _settle(self, interaction: Interaction) -> None:
        """Record what a settled interaction adds to the run (steps, usage, ids)."""
        if interaction.usage is not None:
            self.state.usage = (self.usage + interaction.usage).to_wire()
        if interaction.environment_id is not None:
            self.state.environment_id = interaction.environment_id
        for index in self._unassigned:
            self.state.step_interactions[index] = interaction.id
        self._unassigned = []
        for step in self._new_steps(interaction):
            self._record(step, interaction_id=interaction.id)
            if not self.config.store:
                self.state.history.append(step.to_wire())

    def _new_steps(self, interaction: Interaction) -> list[Step]:
        """The steps of a response minus echoes of what we sent or already have."""
        steps = list(interaction.steps or [])
        sent = self._sent_history
        if sent and len(steps) >= len(sent):
            wire = [step.to_wire() for step in steps[: len(sent)]]
            if wire == sent:
                steps = steps[len(sent) :]
        while steps and steps[0].type in _INPUT_ECHOES:
            steps = steps[1:]
        # A server may re-list earlier calls (and results); keep each once.
        return [
            step
            for step in steps
            if not (isinstance(step, FunctionCallStep) and step.id in self._seen_calls)
            and not (isinstance(step, FunctionResultStep) and step.call_id in self._answered)
        ]

    def _record(self, step: Step, *, interaction_id: str | None) -> None:
        # A wire form of its own: the same dict in a request's body (which a before_request
        # hook may edit) or in the history would change the run's steps with it.
        if interaction_id is None:
            self._unassigned.append(len(self.state.steps))
        self.state.steps.append(step.to_wire())
        self.state.step_interactions.append(interaction_id)
        if isinstance(step, FunctionCallStep) and step.id:
            self._seen_calls.add(step.id)

    def _finish(self, status: str) -> Action:
        """The run's result, with its structured output; or the answer sent back to be fixed.

        Raises:
            OutputValidationError: The answer still does not fit after `output_retries`.
        """
        result = self._result(status)
        adapter = self.config.output_adapter
        if adapter is None or status != "completed":
            return Done(result)
        text = result.output_text
        try:
            if text is None:
                raise ValueError("The answer has no text to parse as structured output.")
            result.output = adapter.validate_json(text)
        except (pydantic.ValidationError, ValueError) as exc:
            problem = _describe_invalid_output(exc)
            if self.state.output_retries >= self.config.output_retries:
                raise OutputValidationError(
                    f"The model's structured output does not fit the output type"
                    f" (after {self.state.output_retries} retries): {problem}",
                    partial=result,
                ) from exc
            self.state.output_retries += 1
            return self._ask_again(problem)
        return Done(result)

    def _ask_again(self, problem: str) -> Action:
        """Send the model what is wrong with its structured output, for it to answer again."""
        text = (
            f"Your answer does not fit the required JSON schema: {problem}\n"
            "Answer again with only the JSON value, fitting the schema."
        )
        step = {"type": "user_input", "content": [{"type": "text", "text": text}]}
        self._record(parse_step(step), interaction_id=None)
        if self.config.store:
            return self._send([step], previous=self.state.interaction_id)
        self.state.history.append(step)
        return self._send(list(self.state.history))

    def _open_calls(self) -> list[FunctionCallStep]:
        return [FunctionCallStep.model_validate(raw) for raw in self.state.calls]

    def _result(self, status: str) -> RunResult[Any]:
        state = isolated(self.state)
        return RunResult(
            status=status,
            interaction_id=state.interaction_id,
            steps=[parse_step(raw) for raw in state.steps],
            usage=self.usage,
            state=state,
            pending_calls=state.pending_calls,
            step_interaction_ids=list(state.step_interactions),
        )


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _the_same(value: Any, items: tuple[Any, ...]) -> bool:
    """Whether `value` is a list of exactly these objects (not equal ones: the same)."""
    if not isinstance(value, list):
        return False
    listed: list[Any] = value  # pyright: ignore[reportUnknownVariableType]
    return len(listed) == len(items) and all(a is b for a, b in zip(listed, items, strict=True))


def _describe_invalid_output(exc: Exception) -> str:
    """What is wrong with a structured answer, field by field, for the model to fix."""
    if not isinstance(exc, pydantic.ValidationError):
        return str(exc)
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or 'the value'}: {error['msg']}"
        for error in exc.errors(include_url=False)
    ]
    return "; ".join(problems)
