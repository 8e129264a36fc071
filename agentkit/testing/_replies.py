"""What a model behaviour sees (`ModelRequest`) and answers (`Reply`), plus step builders."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

from agentkit.testing._wire import as_dict, as_list

__all__ = [
    "Behaviour",
    "ModelRequest",
    "Reply",
    "ReplyLike",
    "Script",
    "ScriptExhausted",
    "code_execution",
    "function_call",
    "google_search",
    "model_output",
    "text",
    "thought",
    "url_context",
]

StepDict: TypeAlias = dict[str, Any]  # a raw step as on the wire
CLIENT_STEP_TYPES = frozenset({"user_input", "function_result"})


@dataclass(frozen=True)
class ModelRequest:
    """Everything the emulated model sees for one turn.

    Attributes:
        body: The raw create-request body, as sent.
        history: The whole conversation as step dicts: earlier turns (from the
            `previous_interaction_id` chain, or the stateless `input`), then `new_input`.
        new_input: The steps this request added (user input and/or function results).
        tools: The declared tools (`body["tools"]`, or `[]`).
        function_results: The `function_result` steps in `new_input`.
        interaction_id: The id the answer will have.
        turn: How many model turns the emulator answered before this one (from 0).
    """

    body: Mapping[str, Any]
    history: list[StepDict]
    new_input: list[StepDict]
    tools: list[dict[str, Any]]
    function_results: list[StepDict]
    interaction_id: str
    turn: int

    @property
    def function_tools(self) -> list[dict[str, Any]]:
        """The declared `function` tools."""
        return [t for t in self.tools if t.get("type") == "function"]

    @property
    def user_text(self) -> str:
        """The text of the latest `user_input` step ("" when there is none)."""
        for step in reversed(self.history):
            if step.get("type") == "user_input":
                return _content_text(step.get("content"))
        return ""

    @property
    def calls(self) -> list[StepDict]:
        """Every `function_call` step of the history, oldest first."""
        return [s for s in self.history if s.get("type") == "function_call"]


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = [as_dict(c).get("text") for c in as_list(content)]
    return " ".join(p for p in parts if isinstance(p, str) and p)


@dataclass
class Reply:
    """One model turn: the steps it outputs and, optionally, how it ends.

    Attributes:
        steps: Step dicts (helpers such as `text()` build them; nested lists are flattened).
        status: Overrides the status. By default `requires_action` when the steps contain a
            `function_call`, else `completed`. Any string is sent as is (`failed`,
            `incomplete`, `budget_exceeded`, an unknown status for forward-compat tests...).
        usage: Replaces the computed usage object.
        errors: The interaction's `errors` (`[{"code": ..., "message": ...}]`), e.g. for
            `failed`.
        hops: Split the reply into this many `requires_continuation` hops.
    """

    steps: Sequence[Any] = ()
    status: str | None = None
    usage: dict[str, Any] | None = None
    errors: list[dict[str, Any]] | None = None
    hops: int = 1


ReplyLike: TypeAlias = "Reply | str | Mapping[str, Any] | Sequence[Any]"
"""A `Reply`, a text answer, one step dict, or a list of steps (lists may nest)."""
Behaviour: TypeAlias = Callable[[ModelRequest], Any]
"""A function from the request to a `ReplyLike` (the return type is checked at runtime)."""


class ScriptExhausted(AssertionError):
    """A `Script` was asked for more replies than it holds."""


class Script:
    """A model that answers with the given replies, one per model turn, in order.

    A reply may also be a function of the `ModelRequest` that returns a reply.

    Example:
        ```python
        script = Script([function_call("get_weather", {"city": "Paris"}), "It is sunny."])
        emulator = Emulator(script)
        ```
    """

    def __init__(self, replies: Iterable[Any]) -> None:
        self.replies: list[Any] = list(replies)
        self.position: int = 0
        self._lock = threading.Lock()

    def __call__(self, request: ModelRequest) -> Any:
        """Return the next reply (calling it with `request` when it is a function).

        Raises:
            ScriptExhausted: Every reply was used already.
        """
        with self._lock:
            if self.position >= len(self.replies):
                raise ScriptExhausted(
                    f"Script has no reply left for model turn {self.position + 1}"
                    f" (it holds {len(self.replies)})."
                )
            reply = self.replies[self.position]
            self.position += 1
        return reply(request) if callable(reply) else reply

    def __repr__(self) -> str:
        return f"Script({self.replies!r}, position={self.position})"

    @property
    def remaining(self) -> int:
        """How many replies are left."""
        return len(self.replies) - self.position

    def reset(self) -> None:
        """Start again from the first reply."""
        with self._lock:
            self.position = 0


def to_reply(value: Any) -> Reply:
    """Normalise what a behaviour returned into a `Reply` with a flat list of step dicts."""
    if isinstance(value, Reply):
        return Reply(flatten(value.steps), value.status, value.usage, value.errors, value.hops)
    return Reply(flatten(value))


def flatten(value: Any) -> list[StepDict]:
    """Turn a str, a step dict or a (nested) list of those into a list of step copies."""
    if isinstance(value, str):
        return [text(value)]
    if isinstance(value, Mapping):
        step: StepDict = json.loads(json.dumps(dict(cast("Mapping[str, Any]", value))))
        if not isinstance(step.get("type"), str):
            raise TypeError(f"A step needs a string 'type': {step!r}")
        return [step]
    if isinstance(value, Iterable):
        return [step for item in cast(Any, value) for step in flatten(item)]
    raise TypeError(f"Cannot use {value!r} as a model reply: expected Reply, str, dict or list.")


def text(text: str, *, citations: Sequence[tuple[str, str, str | None]] = ()) -> StepDict:
    """Build a `model_output` step with one text block.

    Args:
        text: The answer.
        citations: `(cited_substring, url, title)` triples; each becomes a `url_citation`
            annotation over the first occurrence of the substring (UTF-8 byte offsets).
    """
    block: dict[str, Any] = {"type": "text", "text": text}
    annotations = [_citation(text, cited, url, title) for cited, url, title in citations]
    if annotations:
        block["annotations"] = annotations
    return {"type": "model_output", "content": [block]}


def _citation(text: str, cited: str, url: str, title: str | None) -> dict[str, Any]:
    at = text.find(cited)
    if at < 0:
        raise ValueError(f"Cited text {cited!r} does not occur in {text!r}.")
    start = len(text[:at].encode())
    note: dict[str, Any] = {"type": "url_citation", "url": url}
    if title is not None:
        note["title"] = title
    note.update(start_index=start, end_index=start + len(cited.encode()))
    return note


def model_output(*content: Mapping[str, Any]) -> StepDict:
    """Build a `model_output` step from content blocks (text, image, audio...)."""
    return {"type": "model_output", "content": [dict(block) for block in content]}


def function_call(
    name: str, arguments: Mapping[str, Any] | None = None, *, id: str | None = None
) -> StepDict:
    """Build a `function_call` step; without `id` the emulator assigns `fc_0001`, ..."""
    step: dict[str, Any] = {
        "type": "function_call",
        "name": name,
        "arguments": dict(arguments or {}),
    }
    if id is not None:
        step["id"] = id
    return step


def thought(summary: str | None = None, *, signature: str | None = None) -> StepDict:
    """Build a `thought` step; the emulator signs it unless `signature` is given."""
    step: dict[str, Any] = {"type": "thought"}
    if signature is not None:
        step["signature"] = signature
    if summary is not None:
        step["summary"] = [{"type": "text", "text": summary}]
    return step


def google_search(
    *queries: str, results: Sequence[str] = ("<div>Example search results</div>",)
) -> list[StepDict]:
    """Build a `google_search_call` step and its `google_search_result` step."""
    return [
        {"type": "google_search_call", "arguments": {"queries": list(queries)}},
        {"type": "google_search_result", "result": [{"search_suggestions": r} for r in results]},
    ]


def code_execution(code: str, output: str, *, language: str = "python") -> list[StepDict]:
    """Build a `code_execution_call` step and its `code_execution_result` step."""
    return [
        {"type": "code_execution_call", "arguments": {"code": code, "language": language}},
        {"type": "code_execution_result", "result": output},
    ]


def url_context(*urls: str, status: str = "success") -> list[StepDict]:
    """Build a `url_context_call` step and its `url_context_result` step."""
    return [
        {"type": "url_context_call", "arguments": {"urls": list(urls)}},
        {"type": "url_context_result", "result": [{"url": u, "status": status} for u in urls]},
    ]
