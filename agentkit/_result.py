"""What an agent run produces: `RunResult`, and `RunState`, which lets a paused run resume."""

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeVar

from agentkit._spans import Timeline
from agentkit.types import (
    AudioContent,
    Citation,
    FunctionCallStep,
    ImageContent,
    Interaction,
    Step,
    Usage,
    VideoContent,
)
from agentkit.types._interaction import citations_of

if TYPE_CHECKING:
    from agentkit._timeline_html import PagePath

__all__ = ["RunResult", "RunState"]

OutputT = TypeVar("OutputT", default=Any)


class RunState(BaseModel):
    """Everything needed to continue a run later, in this process or another.

    It serialises to JSON (`to_json()` / `RunState.from_json()`), holding only wire data and
    counters, never functions or clients.
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(extra="forbid", defer_build=True)

    version: Literal[1] = 1
    run_id: str | None = None
    """Names the run across resumes and processes (`RunContext.run_id`, journal checkpoints);
    the agent gives every run one."""
    store: bool = True
    background: bool = False
    interaction_id: str | None = None
    """The last interaction of the run: `previous_interaction_id` of the next request."""
    history: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]])
    """Stateless mode: every step so far, exactly as sent or received."""
    steps: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]])
    """Every step of the run, in order, as wire dicts."""
    step_interactions: list[str | None] = Field(default_factory=list[str | None])
    """For each of `steps`, the id of the interaction that produced it."""
    calls: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]])
    """The function calls of the turn in progress (waiting for tools or approval)."""
    pending: list[str] = Field(default_factory=list[str])
    """Ids of the calls in `calls` that wait for a person's approval."""
    outbox: dict[str, Any] | None = Field(default=None, repr=False)
    """A request the run sent whose response it has not received: resuming sends it again,
    unless the journal knows the interaction it made (then that one is fetched). It holds the
    request's tool declarations as sent, credentials of server tools included (an MCP
    server's headers, a search API key): kept out of the repr; store saved states as you
    would those credentials."""
    awaiting: str | None = None
    """An interaction the run created or polled whose outcome it has not received: resuming
    fetches it (polling while it runs) instead of sending anything again."""
    turns: int = 0
    """Model requests sent so far (what `max_turns` and `request_limit` count)."""
    tool_calls: int = 0
    usage: dict[str, Any] = Field(default_factory=dict[str, Any])
    call_counts: dict[str, int] = Field(default_factory=dict[str, int])
    environment_id: str | None = None
    """The remote environment of the run's last interaction that reported one (managed agents
    with `environment=`)."""
    invalid_calls: dict[str, int] = Field(default_factory=dict[str, int])
    """Per tool, how many calls in a row had invalid arguments (checked against `retries`)."""
    output_retries: int = 0
    """Answers sent back to the model because they did not fit the output type."""
    agent_name: str | None = None
    """The agent a handoff gave the run to (its `name`); None while the agent that started
    the run has it."""
    handoff: str | None = None
    """The agent a handoff of the turn in progress names: it takes the run once the turn's
    calls are answered."""
    started_at: float | None = None
    """When the run started, in seconds since the epoch (the origin of `timeline`)."""
    timeline: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]])
    """The run's requests, polls and tool calls with their timings, as JSON dicts in the order
    they ended (`RunResult.timeline` reads them as `Span`s)."""

    @property
    def pending_calls(self) -> list[FunctionCallStep]:
        """The calls waiting for approval, as typed steps (also after loading from JSON)."""
        waiting = set(self.pending)
        return [
            FunctionCallStep.model_validate(raw) for raw in self.calls if raw.get("id") in waiting
        ]

    def to_json(self) -> str:
        """Serialise to a JSON string (for a file, a database row, a queue message)."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, data: str | bytes) -> "RunState":
        """Load a state saved with `to_json()`."""
        return cls.model_validate_json(data)


@dataclass
class RunResult(Generic[OutputT]):
    """The outcome of an agent run.

    Attributes:
        status: `completed`, or the terminal status the run ended with (`incomplete`,
            `cancelled`, `budget_exceeded`), or `requires_action` when paused for approval.
        interaction_id: The id of the last interaction; continue with `previous=result`.
        steps: Every step of the run in order, as typed models; `step_interaction_ids` says
            which interaction each belongs to: the one that produced it, or for inputs
            (`user_input`, `function_result`) the one they were sent to (None if unsent).
        usage: Token usage summed over every request of the run.
        output: The validated structured output when the agent has an `output_type`.
        pending_calls: The calls waiting for approval when `status == "requires_action"`.
        state: Serialisable state; pass it to `Agent.resume()` or keep it for the next turn.
    """

    status: str
    interaction_id: str | None
    steps: list[Step]
    usage: Usage
    state: RunState
    output: OutputT | None = None
    pending_calls: list[FunctionCallStep] = field(default_factory=list[FunctionCallStep])
    step_interaction_ids: list[str | None] = field(default_factory=list[str | None])

    @property
    def _as_interaction(self) -> Interaction:
        # The conveniences follow the SDK's own rules, so reuse them.
        return Interaction(id=self.interaction_id or "", status=self.status, steps=self.steps)

    @property
    def output_text(self) -> str | None:
        """The text of the final model output, or None when it has none."""
        return self._as_interaction.output_text

    @property
    def output_image(self) -> ImageContent | None:
        """The last generated image of the run, if any."""
        return self._as_interaction.output_image

    @property
    def output_audio(self) -> AudioContent | None:
        """The last generated audio of the run, if any."""
        return self._as_interaction.output_audio

    @property
    def output_video(self) -> VideoContent | None:
        """The last generated video of the run, if any."""
        return self._as_interaction.output_video

    @property
    def citations(self) -> list[Citation]:
        """Every citation of the run's model outputs, in order of appearance.

        Web pages (`url_citation`), files (`file_citation`) and places (`place_citation`);
        `Citation.kind` tells them apart.
        """
        return citations_of(self.steps)

    @property
    def environment_id(self) -> str | None:
        """The remote environment the run's last interaction reported (None: none did).

        Managed agents given `environment=` run in one; pass this id as `environment=` to
        work in the same environment again.
        """
        return self.state.environment_id

    @property
    def agent_name(self) -> str | None:
        """The name of the agent the run was handed off to last (None: no handoff happened).

        That agent answered last; continue the conversation with it (`previous=result`).
        """
        return self.state.agent_name

    @property
    def function_calls(self) -> list[FunctionCallStep]:
        """Every function call the model made during the run."""
        return [step for step in self.steps if isinstance(step, FunctionCallStep)]

    @property
    def timeline(self) -> Timeline:
        """When each request, poll and tool call of the run started and ended, and how."""
        return Timeline.of(self.state)

    def to_html(self, path: "PagePath | None" = None) -> str:
        """Render the run as one self-contained HTML page; write it to `path` if given.

        The page needs no network: a timeline of the requests and tool calls (parallel calls
        side by side), every step with its arguments, results, citations and thought
        summaries, and the tokens of each turn. `agentkit view` renders a saved `RunState`
        the same way.
        """
        # Loaded when used: rendering is for people, the machine never needs it.
        from agentkit._timeline_html import page, save

        html = page(self.state, status=self.status)
        if path is not None:
            save(path, html)
        return html

    def _repr_html_(self) -> str:
        """A compact timeline for Jupyter (no scripts)."""
        from agentkit._timeline_html import inline

        return inline(self.state, status=self.status)

    def __repr__(self) -> str:
        text = self.output_text
        shown = text if text is None or len(text) <= 60 else text[:57] + "..."
        return (
            f"RunResult(status={self.status!r}, interaction_id={self.interaction_id!r}, "
            f"steps={len(self.steps)}, output_text={shown!r})"
        )


def isolated(state: RunState) -> RunState:
    """A copy of `state` that later runs cannot change, without a deep copy.

    A run only appends to `steps`, `step_interactions`, `history` and `timeline`, sets entries of
    `step_interactions`, `call_counts` and `invalid_calls`, and replaces every other field; it
    never changes a wire dict once stored. Copying those containers isolates a state as a deep
    copy would, many times cheaper.
    """
    copied = copy.copy(state)  # pydantic's shallow copy, without `model_copy`'s bookkeeping
    fields = vars(copied)
    for name in _APPENDED:
        fields[name] = list(fields[name])
    for name in _SET_BY_KEY:
        fields[name] = dict(fields[name])
    # Set, as model_copy(update=...) marks them: a dump with exclude_unset keeps them.
    copied.__pydantic_fields_set__.update(_APPENDED, _SET_BY_KEY)
    return copied


_APPENDED = ("steps", "step_interactions", "history", "timeline")
_SET_BY_KEY = ("call_counts", "invalid_calls")
