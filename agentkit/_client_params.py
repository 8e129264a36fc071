"""The fields of `interactions.create`, typed and documented once for both clients.

`Interactions.create` and `AsyncInteractions.create` take them as `**params:
Unpack[CreateParams]`, so type checkers and editors still see every keyword, and
`RequestBuilder.create` turns them into the request body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from typing_extensions import TypedDict

from agentkit.types import WireModel

__all__ = ["BODY_FIELDS", "CREATE_PARAMS", "CreateParams", "Input", "JSONObject"]

JSONObject = Mapping[str, Any]
"""A free-form JSON object of the request (a config, a schema, a raw step)."""
Input = str | WireModel | JSONObject | Sequence[WireModel | JSONObject]
"""Text, one content block or step, or a list of content blocks or steps."""


class CreateParams(TypedDict, total=False):
    """The keyword arguments of `interactions.create` besides `stream`.

    Values may be wire models or plain dicts; arguments left out or None are not sent.
    """

    model: str | None
    """The model to run, e.g. `gemini-3-flash-preview`; pass this or `agent`."""
    agent: str | None
    """The managed agent to run, e.g. `deep-research-pro-preview-12-2025`."""
    input: Input | None
    """Text, a content block or step, or a list of them."""
    system_instruction: str | None
    tools: Sequence[WireModel | JSONObject] | None
    generation_config: WireModel | JSONObject | None
    """Sampling, thinking and output settings; models only."""
    response_format: WireModel | JSONObject | Sequence[WireModel | JSONObject] | None
    previous_interaction_id: str | None
    """Continue from this stored interaction (server-side history)."""
    store: bool | None
    """False keeps nothing on the server; the API's default is true."""
    background: bool | None
    """Return at once with status `in_progress`; poll with `get`."""
    continuation_token: str | None
    """Resume a decode that stopped at `requires_continuation`."""
    agent_config: WireModel | JSONObject | None
    """The agent's settings; agents only."""
    environment: str | WireModel | JSONObject | None
    safety_settings: Sequence[WireModel | JSONObject] | None
    service_tier: str | None
    labels: Mapping[str, str] | None
    webhook_config: WireModel | JSONObject | None
    response_modalities: Sequence[str] | None
    response_mime_type: str | None
    extra_body: JSONObject | None
    """Extra top-level fields, merged into the body last."""


CREATE_PARAMS: Final = frozenset(CreateParams.__annotations__)
"""Every keyword `create` accepts besides `stream`."""
BODY_FIELDS: Final = tuple(name for name in CreateParams.__annotations__ if name != "extra_body")
"""The body fields, in the order they are sent."""
