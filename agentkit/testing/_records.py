"""The emulator's stored state: interactions, their outcomes, events and continuation hops."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentkit.testing._history import is_content
from agentkit.testing._replies import Reply, StepDict
from agentkit.testing._sse import Event, split_text
from agentkit.testing._wire import as_dict, as_list, clone

__all__ = [
    "Hop",
    "Outcome",
    "Record",
    "RecordedRequest",
    "expand_for_hops",
    "split_hops",
    "status_event",
]

# The fields of the partial interaction in `interaction.created` / `.completed` events.
_LIFECYCLE_KEYS = (
    "id",
    "status",
    "object",
    "model",
    "agent",
    "created",
    "updated",
    "usage",
    "continuation_token",
    "errors",
)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the emulator received.

    Attributes:
        method: The HTTP method.
        path: The URL path, e.g. `/v1beta/interactions`.
        query: The query parameters (a `key` parameter's value replaced by `"***"`).
        headers: The headers (lower-case names; the values of `x-goog-api-key`,
            `authorization` and `proxy-authorization` replaced by `"***"`).
        body: The parsed JSON body; None when empty; the raw text when it was not JSON;
            the bytes of an upload chunk.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Outcome:
    """What a model turn produced for one interaction (or one continuation hop)."""

    steps: list[StepDict]
    status: str
    usage: dict[str, Any]
    errors: list[dict[str, Any]] | None = None
    continuation_token: str | None = None
    calls: dict[str, str] = field(default_factory=dict[str, str])
    """Every function call of the whole reply (all hops): id to name."""


@dataclass
class Hop:
    """The rest of a reply that a continuation token gives access to."""

    chunks: list[list[StepDict]]
    reply: Reply
    final_status: str
    input_tokens: int
    issuer: str
    stored: bool
    fingerprint: str
    calls: dict[str, str]


@dataclass
class Record:
    """One interaction the emulator created (stored or not)."""

    id: str
    body: dict[str, Any]
    view: dict[str, Any]
    input_steps: list[StepDict]
    previous_id: str | None
    background: bool
    stored: bool
    started: float
    events: list[Event] = field(default_factory=list[Event])
    polls: int = 0
    pending: Outcome | None = None
    calls: dict[str, str] = field(default_factory=dict[str, str])

    @property
    def status(self) -> str:
        """The current status."""
        return str(self.view["status"])

    def pending_calls(self) -> dict[str, str]:
        """The function calls waiting for results (empty unless `requires_action`)."""
        return dict(self.calls) if self.status == "requires_action" else {}

    def snapshot(self, *, include_input: bool = False, copy: bool = True) -> dict[str, Any]:
        """The Interaction JSON (a deep copy unless `copy` is false: then only serialise it)."""
        view: dict[str, Any] = clone(self.view) if copy else dict(self.view)
        if include_input and "input" in self.body:
            raw: Any = self.body["input"]
            items = as_list(raw)
            steps = bool(items) and not all(is_content(as_dict(i)) for i in items)
            # A step list comes back in canonical form (user_input content as a list).
            echo: Any = self.input_steps if steps else raw
            view["input"] = clone(echo) if copy else echo
        return view

    def lifecycle(self) -> dict[str, Any]:
        """The partial interaction carried by `interaction.created` / `.completed` events."""
        return {k: self.view[k] for k in _LIFECYCLE_KEYS if k in self.view}


def expand_for_hops(steps: list[StepDict], hops: int) -> list[StepDict]:
    """Cut the last text answer into `model_output` pieces until there are `hops` steps.

    Every hop then carries output; concatenated, the pieces give the text back intact.
    """
    steps = list(steps)
    while len(steps) < hops:
        for index in range(len(steps) - 1, -1, -1):
            step = steps[index]
            content = [as_dict(c) for c in as_list(step.get("content"))]
            pieces = split_text(str(content[0].get("text", "")), 2) if len(content) == 1 else []
            if (
                len(pieces) == 2
                and step.get("type") == "model_output"
                and content[0].get("type") == "text"
                and not content[0].get("annotations")
            ):
                parts = [{**step, "content": [{"type": "text", "text": p}]} for p in pieces]
                steps[index : index + 1] = parts
                break
        else:
            return steps
    return steps


def split_hops(steps: list[StepDict], hops: int) -> list[list[StepDict]]:
    """Split `steps` into `hops` consecutive chunks (later chunks may be empty)."""
    size = len(steps)
    return [steps[i * size // hops : (i + 1) * size // hops] for i in range(hops)]


def status_event(record: Record) -> Event:
    """The `interaction.status_update` event for the record's current status."""
    event: Event = {
        "event_type": "interaction.status_update",
        "interaction_id": record.id,
        "status": record.status,
    }
    for key in ("continuation_token", "usage"):
        if key in record.view:
            event[key] = record.view[key]
    return event


def new_record(
    interaction_id: str,
    body: dict[str, Any],
    steps: list[StepDict],
    now: str,
    started: float,
    next_id: Callable[[str], int],
) -> Record:
    """Create the record of a new interaction, still `in_progress`."""
    view: dict[str, Any] = {"id": interaction_id, "object": "interaction", "status": "in_progress"}
    view.update({k: body[k] for k in ("model", "agent") if k in body})
    view.update(created=now, updated=now)
    if body.get("previous_interaction_id") is not None:
        view["previous_interaction_id"] = body["previous_interaction_id"]
    environment = body.get("environment")
    if isinstance(as_dict(environment).get("environment_id"), str):
        view["environment_id"] = as_dict(environment)["environment_id"]
    elif isinstance(environment, str) and environment != "remote":
        view["environment_id"] = environment
    elif environment is not None:
        view["environment_id"] = f"env_emu_{next_id('environment'):04d}"
    return Record(
        id=interaction_id,
        body=clone(body),
        view=view,
        input_steps=clone(steps),
        previous_id=body.get("previous_interaction_id"),
        background=body.get("background") is True,
        stored=body.get("store", True) is not False,
        started=started,
    )
