"""Input normalisation, history checks, thought signatures and token counts (pure)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from agentkit.testing._replies import CLIENT_STEP_TYPES, StepDict
from agentkit.testing._wire import EmuError, as_dict, as_list

__all__ = [
    "Signer",
    "check_calls",
    "count_tokens",
    "is_content",
    "normalize_input",
    "parse_body",
    "trailing_client_steps",
    "usage",
    "validate_create",
]

CONTENT_TYPES = frozenset({"text", "image", "audio", "video", "document"})
_MAGIC = b"emu1"
# Keys whose values are identifiers or payloads rather than words a model reads.
_NOT_WORDS = frozenset({"type", "id", "call_id", "signature", "mime_type", "data", "uri"})


def is_content(item: dict[str, Any]) -> bool:
    """Tell whether an `input` list item is a content block rather than a step."""
    kind = item.get("type")
    return kind in CONTENT_TYPES if kind is not None else "text" in item


def _content_list(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    blocks = [as_dict(c) for c in as_list(content)]
    if isinstance(content, list) and all(isinstance(c, dict) for c in as_list(content)):
        return [c if "type" in c else {"type": "text", **c} for c in blocks]
    raise EmuError(400, "user_input.content must be a string or a list of content objects.")


def normalize_input(value: Any) -> list[StepDict]:
    """Turn a create request's `input` into a list of steps.

    Raises:
        EmuError: The input has an invalid shape.
    """
    if value is None or value == []:
        return []
    if isinstance(value, str):
        return [{"type": "user_input", "content": [{"type": "text", "text": value}]}]
    items: list[Any] = [value] if isinstance(value, dict) else as_list(value)
    if not items or not all(isinstance(i, dict) for i in items):
        raise EmuError(400, "input must be a string, a content object or a list of objects.")
    objects = [as_dict(i) for i in items]
    if objects and all(is_content(i) for i in objects):
        return [{"type": "user_input", "content": _content_list(objects)}]
    steps: list[StepDict] = []
    for item in objects:
        kind = item.get("type")
        if not isinstance(kind, str) or kind in CONTENT_TYPES:
            raise EmuError(400, f"input mixes content blocks and steps, or lacks a type: {item}")
        if kind == "user_input":
            item = {**item, "content": _content_list(item.get("content", []))}
        elif kind == "function_result" and (
            not isinstance(item.get("call_id"), str) or "result" not in item
        ):
            raise EmuError(400, "A function_result step needs a string call_id and a result.")
        steps.append(item)
    return steps


def check_calls(steps: list[StepDict], pending: dict[str, str]) -> list[StepDict]:
    """Check that function results answer calls, each once, and no call is left unanswered.

    Args:
        steps: Steps in order (a stateless history, or the new input of a stateful turn).
        pending: Calls (id to name) already waiting for a result before `steps`.

    Returns:
        The `function_result` steps that answered a call.

    Raises:
        EmuError: A result for no pending call, or a call still pending at a user turn or at
            the end.
    """
    open_calls = dict(pending)
    answered: set[str] = set()
    results: list[StepDict] = []
    for step in steps:
        kind = step.get("type")
        if kind == "function_call" and isinstance(step.get("id"), str):
            open_calls[step["id"]] = str(step.get("name"))
        elif kind == "function_result":
            call_id = step["call_id"]
            if call_id in answered:
                raise EmuError(400, f"function_call {call_id!r} has more than one function_result.")
            if call_id not in open_calls:
                raise EmuError(
                    400, f"function_result call_id {call_id!r} matches no pending function_call."
                )
            del open_calls[call_id]
            answered.add(call_id)
            results.append(step)
        elif kind == "user_input" and open_calls:
            _unanswered(open_calls)
    if open_calls:
        _unanswered(open_calls)
    return results


def _unanswered(open_calls: dict[str, str]) -> None:
    names = ", ".join(f"{name} ({call_id})" for call_id, name in open_calls.items())
    raise EmuError(400, f"Every pending function_call needs a function_result; missing: {names}.")


class Signer:
    """Issues thought signatures the emulator can verify when a client re-sends history.

    A signature is base64 of a marker, the number of model steps it covers (the thought
    and the model steps after it, skipping client steps in between) and an HMAC of those
    steps, so a re-sent step that differs in any way is caught. The signer also remembers
    which function calls each signature covered, so a history that keeps a call but drops
    its thought is caught too.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._foreign: set[str] = set()
        self._signed_calls: set[str] = set()

    def reset(self) -> None:
        """Forget the signatures scripts supplied and the calls signed so far."""
        self._foreign.clear()
        self._signed_calls.clear()

    def sign(self, steps: list[StepDict]) -> None:
        """Sign, in place, each `thought` step of one reply that has no signature yet."""
        for index, step in enumerate(steps):
            if step.get("type") != "thought":
                continue
            if isinstance(step.get("signature"), str):
                self._foreign.add(step["signature"])
                continue
            covered = [step]
            for later in steps[index + 1 :]:
                if later.get("type") == "thought":
                    break
                if later.get("type") not in CLIENT_STEP_TYPES:
                    covered.append(later)
            step["signature"] = self._signature(covered)
            self._signed_calls.update(_call_ids(covered))

    def verify(self, steps: list[StepDict]) -> None:
        """Check the signature of every `thought` step in `steps`.

        Raises:
            EmuError: A signature is missing, forged, or does not match the steps re-sent,
                or a signed function call came back without its thought.
        """
        vouched: set[str] = set()
        for index, step in enumerate(steps):
            if step.get("type") == "thought":
                vouched.update(_call_ids(self._check(index, steps)))
        orphans = [i for i in _call_ids(steps) if i in self._signed_calls and i not in vouched]
        if orphans:
            raise EmuError(
                400,
                f"function_call {orphans[0]!r} was re-sent without the thought step (and its"
                " signature) that came before it.",
            )

    def _check(self, index: int, steps: list[StepDict]) -> list[StepDict]:
        signature = steps[index].get("signature")
        if not isinstance(signature, str):
            raise EmuError(400, f"Step {index} (thought) was re-sent without its signature.")
        if signature in self._foreign:
            return []
        try:
            raw = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) < len(_MAGIC) + 2 or not raw.startswith(_MAGIC):
            raise EmuError(400, f"Step {index} (thought) has an invalid signature.")
        count = int.from_bytes(raw[len(_MAGIC) : len(_MAGIC) + 2], "big")
        later = [s for s in steps[index + 1 :] if s.get("type") not in CLIENT_STEP_TYPES]
        covered = [steps[index], *later[: count - 1]]
        if len(covered) != count or not hmac.compare_digest(self._signature(covered), signature):
            raise EmuError(
                400,
                f"Step {index} (thought): the signature does not match the model steps re-sent"
                " after it; re-send every model step exactly as received.",
            )
        return covered

    def _signature(self, covered: list[StepDict]) -> str:
        count = len(covered).to_bytes(2, "big")
        unsigned = [{k: v for k, v in covered[0].items() if k != "signature"}, *covered[1:]]
        payload = json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()
        digest = hmac.new(self._key, count + payload, hashlib.sha256).digest()[:18]
        return base64.b64encode(_MAGIC + count + digest).decode()


def _call_ids(steps: list[StepDict]) -> list[str]:
    return [
        s["id"] for s in steps if s.get("type") == "function_call" and isinstance(s.get("id"), str)
    ]


def count_tokens(value: Any) -> int:
    """Count deterministic fake tokens: the words of every text value, recursively."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, dict):
        return sum(count_tokens(v) for k, v in as_dict(value).items() if k not in _NOT_WORDS)
    if isinstance(value, list):
        return sum(count_tokens(v) for v in as_list(value))
    if isinstance(value, bool) or value is None:
        return 0
    return 1 if isinstance(value, (int, float)) else 0


def usage(input_tokens: int, output_steps: list[StepDict]) -> dict[str, Any]:
    """Build the `usage` object of one interaction (or hop)."""
    thoughts = sum(
        count_tokens(s.get("summary")) for s in output_steps if s.get("type") == "thought"
    )
    output = sum(count_tokens(s) for s in output_steps if s.get("type") != "thought")
    searches = sum(1 for s in output_steps if s.get("type") == "google_search_call")
    result: dict[str, Any] = {
        "total_tokens": input_tokens + output + thoughts,
        "total_input_tokens": input_tokens,
        "total_output_tokens": output,
        "total_thought_tokens": thoughts,
        "input_tokens_by_modality": [{"modality": "text", "tokens": input_tokens}],
        "output_tokens_by_modality": [{"modality": "text", "tokens": output}],
    }
    if searches:
        result["grounding_tool_count"] = [{"type": "google_search", "count": searches}]
    return result


def parse_body(body: bytes) -> dict[str, Any]:
    """Parse a create request body.

    Raises:
        EmuError: Malformed JSON, or not an object.
    """
    try:
        parsed = json.loads(body)
    except ValueError as error:
        raise EmuError(400, f"Malformed JSON body: {error}") from None
    if not isinstance(parsed, dict):
        raise EmuError(400, "The request body must be a JSON object.")
    return as_dict(parsed)


_RULES: list[tuple[Callable[[dict[str, Any]], bool], str]] = [
    (lambda b: "model" in b and "agent" in b, "Set either model or agent, not both."),
    (lambda b: "model" not in b and "agent" not in b, "Set model (or agent)."),
    (
        lambda b: "agent" in b and "generation_config" in b,
        "generation_config is not allowed with agent; use agent_config.",
    ),
    (lambda b: "model" in b and "agent_config" in b, "agent_config is only allowed with agent."),
    (
        lambda b: any(
            k in b and not isinstance(b[k], bool) for k in ("store", "background", "stream")
        ),
        "store, background and stream must be booleans.",
    ),
    (
        lambda b: b.get("store") is False and b.get("previous_interaction_id") is not None,
        "previous_interaction_id needs a stored history; it cannot go with store=false.",
    ),
    (
        lambda b: b.get("store") is False and b.get("background") is True,
        "background=true needs store=true.",
    ),
    (
        lambda b: (
            not isinstance(b.get("tools", []), list)
            or not all(isinstance(as_dict(t).get("type"), str) for t in as_list(b.get("tools")))
        ),
        "tools must be a list of objects with a string type.",
    ),
    (
        lambda b: any(
            as_dict(t).get("type") == "function" and not isinstance(as_dict(t).get("name"), str)
            for t in as_list(b.get("tools"))
        ),
        "A function tool needs a string name.",
    ),
]


def validate_create(body: dict[str, Any]) -> None:
    """Check the request-level rules of a create body.

    Raises:
        EmuError: A rule is broken.
    """
    for broken, message in _RULES:
        if broken(body):
            raise EmuError(400, message)


def trailing_client_steps(steps: list[StepDict]) -> list[StepDict]:
    """The client steps a stateless request adds after the model's last reply.

    That is the client steps (user input, function results) at the end of `steps`, looking
    past the reply's `function_call` steps: clients may put each result right after its
    call, as in the stateless function-calling loop of the API docs.
    """
    index = len(steps)
    while index and steps[index - 1].get("type") in (*CLIENT_STEP_TYPES, "function_call"):
        index -= 1
    return [s for s in steps[index:] if s.get("type") in CLIENT_STEP_TYPES]
