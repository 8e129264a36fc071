"""From a behaviour's `Reply` to interaction outcomes: ids, signatures, status, hops (pure)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from agentkit.testing._history import Signer, usage
from agentkit.testing._records import Hop, Outcome, expand_for_hops, split_hops
from agentkit.testing._replies import Reply, StepDict

__all__ = ["assign_ids", "build_outcome", "fingerprint", "take_hop"]

_ID_PREFIX = {
    "function_call": "fc",
    "google_search_call": "gs",
    "code_execution_call": "ce",
    "url_context_call": "uc",
    "google_maps_call": "gm",
    "file_search_call": "fs",
    "mcp_server_tool_call": "mcp",
    "retrieval_call": "rc",
    "processing_call": "pc",
}


def assign_ids(steps: list[StepDict], next_id: Callable[[str], int]) -> list[StepDict]:
    """Give call steps an `id` (`fc_0001`...) and result steps their `call_id` when missing.

    A result step without `call_id` answers the oldest unanswered call of its kind.
    """
    waiting: dict[str, list[str]] = {}
    out: list[StepDict] = []
    for step in steps:
        kind = str(step.get("type"))
        prefix = _ID_PREFIX.get(kind)
        if prefix is not None:
            if not isinstance(step.get("id"), str):
                rest = {k: v for k, v in step.items() if k != "type"}
                step = {"type": kind, "id": f"{prefix}_{next_id(prefix):04d}", **rest}
            waiting.setdefault(kind.replace("_call", "_result"), []).append(step["id"])
        elif kind.endswith("_result") and kind != "function_result" and "call_id" not in step:
            pending = waiting.get(kind)
            if pending:
                rest = {k: v for k, v in step.items() if k != "type"}
                step = {"type": kind, "call_id": pending.pop(0), **rest}
        out.append(step)
    return out


def fingerprint(body: dict[str, Any]) -> str:
    """A canonical form of a request's input, to recognise a re-sent stateless request."""
    return json.dumps(body.get("input"), sort_keys=True, separators=(",", ":"))


def build_outcome(
    reply: Reply,
    *,
    next_id: Callable[[str], int],
    signer: Signer,
    input_tokens: int,
    issuer: str,
    stored: bool,
    input_fingerprint: str,
) -> tuple[Outcome, Hop | None]:
    """Turn a reply into the outcome of its first hop, plus the rest behind a token.

    Args:
        reply: The behaviour's reply (flat steps).
        next_id: Returns the next number of a counter.
        signer: Signs the reply's thought steps.
        input_tokens: Input tokens billed on every hop.
        issuer: The id of the interaction that answers with the first hop.
        stored: Whether that interaction is stored.
        input_fingerprint: `fingerprint()` of the request, checked on stateless hops.
    """
    steps = assign_ids(list(reply.steps), next_id)
    calls = {s["id"]: str(s.get("name")) for s in steps if s.get("type") == "function_call"}
    default = "requires_action" if calls else "completed"
    final = reply.status if reply.status not in (None, "requires_continuation") else default
    hops = max(reply.hops, 2 if reply.status == "requires_continuation" else 1)
    steps = expand_for_hops(steps, hops)
    signer.sign(steps)
    hop = Hop(
        chunks=split_hops(steps, hops),
        reply=reply,
        final_status=final,
        input_tokens=input_tokens,
        issuer=issuer,
        stored=stored,
        fingerprint=input_fingerprint,
        calls=calls,
    )
    return take_hop(hop, next_id, issuer)


def take_hop(hop: Hop, next_id: Callable[[str], int], issuer: str) -> tuple[Outcome, Hop | None]:
    """Return the outcome of the next hop of `hop`, and what is left (issued by `issuer`)."""
    first, rest = hop.chunks[0], hop.chunks[1:]
    if rest:
        token = f"emu-ct-{next_id('token'):04d}"
        outcome = Outcome(
            steps=first,
            status="requires_continuation",
            usage=usage(hop.input_tokens, first),
            continuation_token=token,
            calls=hop.calls,
        )
        return outcome, dataclasses.replace(hop, chunks=rest, issuer=issuer)
    outcome = Outcome(
        steps=first,
        status=hop.final_status,
        usage=hop.reply.usage if hop.reply.usage is not None else usage(hop.input_tokens, first),
        errors=hop.reply.errors,
        calls=hop.calls,
    )
    return outcome, None
