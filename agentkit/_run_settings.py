"""Settings one run gives in place of its agent's: system instruction, generation config, output."""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

import pydantic

from agentkit._exceptions import UsageError
from agentkit._loop import LoopConfig

__all__ = ["RunSettings", "structured"]


def structured(output_type: Any) -> tuple[pydantic.TypeAdapter[Any], dict[str, Any]]:
    """The validator of `output_type`, and the `response_format` asking the model for it."""
    try:
        hash(output_type)
    except TypeError:  # an unhashable annotation: built each time
        return _structured(output_type)
    adapter, response_format = _cached(output_type)
    # Each request body gets its own copy: a hook that edits one must not edit the others.
    return adapter, copy.deepcopy(response_format)


def _structured(output_type: Any) -> tuple[pydantic.TypeAdapter[Any], dict[str, Any]]:
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(output_type)
    schema = {"type": "text", "mime_type": "application/json", "schema": adapter.json_schema()}
    return adapter, schema


# The same output type given run after run: its schema is built once.
_cached = functools.lru_cache(maxsize=64)(_structured)


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What one run sends instead of its agent's settings (None keeps the agent's)."""

    system_instruction: str | None = None
    generation_config: Mapping[str, Any] | None = None
    output_type: Any = None

    @classmethod
    def of(
        cls,
        *,
        managed_agent: bool,
        system_instruction: str | None,
        generation_config: Mapping[str, Any] | None,
        output_type: Any,
    ) -> RunSettings | None:
        """The settings given for a run; None when it gives none.

        Raises:
            UsageError: `generation_config` for a managed agent, or a setting of a wrong type.
        """
        if system_instruction is None and generation_config is None and output_type is None:
            return None
        if system_instruction is not None and not isinstance(system_instruction, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UsageError(f"system_instruction must be a str, not {system_instruction!r}.")
        if generation_config is not None:
            if managed_agent:
                raise UsageError(
                    "generation_config is only allowed with a model, not with agent= "
                    "(configure a managed agent with agent_config=)."
                )
            if not isinstance(generation_config, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise UsageError(
                    f"generation_config must be a dict, not {type(generation_config).__name__}."
                )
        if output_type is not None:
            try:
                structured(output_type)
            except (pydantic.PydanticSchemaGenerationError, TypeError) as exc:
                raise UsageError(
                    f"output_type={output_type!r} has no JSON schema: use a pydantic model, "
                    f"a dataclass, a TypedDict or a standard type ({exc})."
                ) from exc
        return cls(system_instruction, generation_config, output_type)

    def applied(self, config: LoopConfig) -> LoopConfig:
        """`config` with these settings in place of the agent's."""
        fields = dict(config.request_fields)
        changes: dict[str, Any] = {}
        if self.system_instruction is not None:
            fields["system_instruction"] = self.system_instruction
        if self.generation_config is not None:
            fields["generation_config"] = dict(self.generation_config)
        if self.output_type is not None:
            changes["output_adapter"], fields["response_format"] = structured(self.output_type)
            changes["run_output"] = True
        return dataclasses.replace(config, request_fields=fields, **changes)
