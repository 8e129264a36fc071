"""Token usage and error bodies."""

import typing
from typing import Any

from agentkit.types._base import WireModel

__all__ = [
    "ErrorBody",
    "ErrorDetail",
    "GroundingToolCount",
    "InteractionError",
    "ModalityTokens",
    "Usage",
]

_TOTALS = (
    "total_tokens",
    "total_input_tokens",
    "total_output_tokens",
    "total_thought_tokens",
    "total_cached_tokens",
    "total_tool_use_tokens",
)
_BY_MODALITY = (
    "input_tokens_by_modality",
    "output_tokens_by_modality",
    "cached_tokens_by_modality",
    "tool_use_tokens_by_modality",
)


class ModalityTokens(WireModel):
    """Tokens of one modality (`text`, `image`, `audio`, `video`, `document`)."""

    modality: str | None = None
    tokens: int | None = None


class GroundingToolCount(WireModel):
    """How often a grounding tool (`google_search`, `google_maps`, `retrieval`) ran."""

    type: str | None = None
    count: int | None = None


class Usage(WireModel):
    """Token counts of an interaction (or of one streamed step); `Usage()` is zero.

    `a + b` sums two usages: absent counts count as nothing, per-modality lists are merged by
    modality, and the first `initial_input_tokens` is kept (as the SDK merges continuation hops).
    """

    total_tokens: int | None = None
    total_input_tokens: int | None = None
    total_output_tokens: int | None = None
    total_thought_tokens: int | None = None
    total_cached_tokens: int | None = None
    total_tool_use_tokens: int | None = None
    initial_input_tokens: int | None = None
    input_tokens_by_modality: list[ModalityTokens] | None = None
    output_tokens_by_modality: list[ModalityTokens] | None = None
    cached_tokens_by_modality: list[ModalityTokens] | None = None
    tool_use_tokens_by_modality: list[ModalityTokens] | None = None
    grounding_tool_count: list[GroundingToolCount] | None = None

    def __add__(self, other: object) -> "Usage":
        if not isinstance(other, Usage):
            return NotImplemented
        values: dict[str, Any] = {}  # raw JSON values, validated below
        for name in _TOTALS:
            values[name] = _add(getattr(self, name), getattr(other, name))
        values["initial_input_tokens"] = (
            self.initial_input_tokens
            if self.initial_input_tokens is not None
            else other.initial_input_tokens
        )
        for name in _BY_MODALITY:
            values[name] = _merge(getattr(self, name), getattr(other, name), "modality", "tokens")
        values["grounding_tool_count"] = _merge(
            self.grounding_tool_count, other.grounding_tool_count, "type", "count"
        )
        # Unknown counters from a newer server: integers add up, anything else is kept.
        extra_self = self.__pydantic_extra__ or {}
        extra_other = other.__pydantic_extra__ or {}
        for name in {**extra_other, **extra_self}:
            mine, theirs = extra_self.get(name), extra_other.get(name)
            if _is_int(mine) and _is_int(theirs):
                values[name] = typing.cast("int", mine) + typing.cast("int", theirs)
            else:
                values[name] = mine if name in extra_self else theirs
        return Usage.model_validate({k: v for k, v in values.items() if v is not None})


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _add(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _merge(
    a: list[ModalityTokens] | list[GroundingToolCount] | None,
    b: list[ModalityTokens] | list[GroundingToolCount] | None,
    key: str,
    count: str,
) -> list[dict[str, Any]] | None:
    """Merge two count lists by `key`, in order of first appearance, summing `count`."""
    if a is None and b is None:
        return None
    merged: dict[Any, dict[str, Any]] = {}  # key value -> the item's wire form
    for item in [*(a or ()), *(b or ())]:
        wire = item.to_wire()
        seen = merged.get(wire.get(key))
        if seen is None:
            merged[wire.get(key)] = wire
        else:
            total = _add(seen.get(count), wire.get(count))
            if total is not None:
                seen[count] = total
    return list(merged.values())


class InteractionError(WireModel):
    """A diagnostic in `Interaction.errors`; `code` is a URI-like string (or a number)."""

    code: str | int | None = None
    message: str | None = None


class ErrorDetail(WireModel):
    """The `error` object of an HTTP error body or of an `error` stream event."""

    code: str | int | None = None
    """A string such as `"invalid_argument"`, or an HTTP status in classic Google bodies."""
    message: str | None = None
    status: str | None = None
    """The canonical status name (e.g. `"INVALID_ARGUMENT"`) in classic Google bodies."""


class ErrorBody(WireModel):
    """The JSON body of a 4xx/5xx response: `{"error": {"code", "message", "status"}}`."""

    error: ErrorDetail | None = None
