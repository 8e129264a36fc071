"""`client.interactions`: create, get, cancel and delete, typed with overloads.

The overloads give `stream=True` its stream type and `stream=False` an `Interaction`; they
are most of this module. The bodies only build a `RequestSpec` and hand it to the client.
The sync and async classes are twins: keep them identical but for `await`.
"""

# The interactions classes are the client's own facade: they use its private members.
# pyright: reportPrivateUsage=false

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from agentkit._client_stream import AsyncEventStream, EventStream
from agentkit._http import parse_interaction
from agentkit.types import Interaction, WireModel

if TYPE_CHECKING:
    from agentkit._client import AsyncClient, Client

__all__ = ["AsyncInteractions", "Input", "Interactions", "JSONObject"]

JSONObject = Mapping[str, Any]
"""A free-form JSON object of the request (a config, a schema, a raw step)."""
Input = str | WireModel | JSONObject | Sequence[WireModel | JSONObject]
"""Text, one content block or step, or a list of content blocks or steps (PROTOCOL §3.1)."""


class Interactions:
    """The `/interactions` endpoints, reached as `client.interactions`."""

    __slots__ = ("_client",)

    def __init__(self, client: Client) -> None:
        self._client = client

    @overload
    def create(
        self,
        *,
        model: str | None = None,
        agent: str | None = None,
        input: Input | None = None,
        system_instruction: str | None = None,
        tools: Sequence[WireModel | JSONObject] | None = None,
        generation_config: WireModel | JSONObject | None = None,
        response_format: WireModel | JSONObject | Sequence[WireModel | JSONObject] | None = None,
        previous_interaction_id: str | None = None,
        store: bool | None = None,
        background: bool | None = None,
        stream: Literal[False] = False,
        continuation_token: str | None = None,
        agent_config: WireModel | JSONObject | None = None,
        environment: str | WireModel | JSONObject | None = None,
        safety_settings: Sequence[WireModel | JSONObject] | None = None,
        service_tier: str | None = None,
        labels: Mapping[str, str] | None = None,
        webhook_config: WireModel | JSONObject | None = None,
        response_modalities: Sequence[str] | None = None,
        response_mime_type: str | None = None,
        extra_body: JSONObject | None = None,
    ) -> Interaction: ...

    @overload
    def create(
        self,
        *,
        model: str | None = None,
        agent: str | None = None,
        input: Input | None = None,
        system_instruction: str | None = None,
        tools: Sequence[WireModel | JSONObject] | None = None,
        generation_config: WireModel | JSONObject | None = None,
        response_format: WireModel | JSONObject | Sequence[WireModel | JSONObject] | None = None,
        previous_interaction_id: str | None = None,
        store: bool | None = None,
        background: bool | None = None,
        stream: Literal[True],
        continuation_token: str | None = None,
        agent_config: WireModel | JSONObject | None = None,
        environment: str | WireModel | JSONObject | None = None,
        safety_settings: Sequence[WireModel | JSONObject] | None = None,
        service_tier: str | None = None,
        labels: Mapping[str, str] | None = None,
        webhook_config: WireModel | JSONObject | None = None,
        response_modalities: Sequence[str] | None = None,
        response_mime_type: str | None = None,
        extra_body: JSONObject | None = None,
    ) -> EventStream: ...

    @overload
    def create(
        self,
        *,
        model: str | None = None,
        agent: str | None = None,
        input: Input | None = None,
        system_instruction: str | None = None,
        tools: Sequence[WireModel | JSONObject] | None = None,
        generation_config: WireModel | JSONObject | None = None,
        response_format: WireModel | JSONObject | Sequence[WireModel | JSONObject] | None = None,
        previous_interaction_id: str | None = None,
        store: bool | None = None,
        background: bool | None = None,
        stream: bool,
        continuation_token: str | None = None,
        agent_config: WireModel | JSONObject | None = None,
        environment: str | WireModel | JSONObject | None = None,
        safety_settings: Sequence[WireModel | JSONObject] | None = None,
        service_tier: str | None = None,
        labels: Mapping[str, str] | None = None,
        webhook_config: WireModel | JSONObject | None = None,
        response_modalities: Sequence[str] | None = None,
        response_mime_type: str | None = None,
        extra_body: JSONObject | None = None,
    ) -> Interaction | EventStream: ...

    def create(
        self,
        *,
        model: str | None = None,
        agent: str | None = None,
        input: Input | None = None,
        system_instruction: str | None = None,
        tools: Sequence[WireModel | JSONObject] | None = None,
        generation_config: WireModel | JSONObject | None = None,
        response_format: WireModel | JSONObject | Sequence[WireModel | JSONObject] | None = None,
        previous_interaction_id: str | None = None,
        store: bool | None = None,
        background: bool | None = None,
        stream: bool = False,
        continuation_token: str | None = None,
        agent_config: WireModel | JSONObject | None = None,
        environment: str | WireModel | JSONObject | None = None,
        safety_settings: Sequence[WireModel | JSONObject] | None = None,
        service_tier: str | None = None,
        labels: Mapping[str, str] | None = None,
        webhook_config: WireModel | JSONObject | None = None,
        response_modalities: Sequence[str] | None = None,
        response_mime_type: str | None = None,
        extra_body: JSONObject | None = None,
    ) -> Interaction | EventStream:
        """Create an interaction: run a model or an agent on `input`.

        Values may be wire models or plain dicts; arguments left None are not sent.
        With `stream=True`, returns an event stream that resumes by itself when the
        connection drops after events arrived.

        Args:
            extra_body: Extra top-level fields, merged into the body last.

        Raises:
            UsageError: `model` and `agent` both or neither, or the other mode's config.
            APIStatusError: The API answered with an error status (after retries).
            APIConnectionError: No answer (after retries).
        """
        fields = {
            "model": model,
            "agent": agent,
            "input": input,
            "system_instruction": system_instruction,
            "tools": tools,
            "generation_config": generation_config,
            "response_format": response_format,
            "previous_interaction_id": previous_interaction_id,
            "store": store,
            "background": background,
            "continuation_token": continuation_token,
            "agent_config": agent_config,
            "environment": environment,
            "safety_settings": safety_settings,
            "service_tier": service_tier,
            "labels": labels,
            "webhook_config": webhook_config,
            "response_modalities": response_modalities,
            "response_mime_type": response_mime_type,
        }
        spec = self._client._builder.create(fields, stream=stream, extra_body=extra_body)
        if stream:
            return EventStream.open(self._client, spec, interaction_id=None)
        request, response = self._client._send(spec)
        return parse_interaction(response, request)

    @overload
    def get(
        self,
        interaction_id: str,
        *,
        stream: Literal[False] = False,
        last_event_id: None = None,
        include_input: bool | None = None,
    ) -> Interaction: ...

    @overload
    def get(
        self,
        interaction_id: str,
        *,
        stream: Literal[True],
        last_event_id: str | None = None,
        include_input: bool | None = None,
    ) -> EventStream: ...

    @overload
    def get(
        self,
        interaction_id: str,
        *,
        stream: bool,
        last_event_id: str | None = None,
        include_input: bool | None = None,
    ) -> Interaction | EventStream: ...

    def get(
        self,
        interaction_id: str,
        *,
        stream: bool = False,
        last_event_id: str | None = None,
        include_input: bool | None = None,
    ) -> Interaction | EventStream:
        """Fetch an interaction, or stream its events (after `last_event_id`, if given).

        Raises:
            NotFoundError: No such interaction (e.g. it was created with store=False).
        """
        spec = self._client._builder.get(
            interaction_id, stream=stream, last_event_id=last_event_id, include_input=include_input
        )
        if stream:
            return EventStream.open(self._client, spec, interaction_id=interaction_id)
        request, response = self._client._send(spec)
        return parse_interaction(response, request)

    def cancel(self, interaction_id: str) -> Interaction:
        """Cancel a background interaction that is still running."""
        request, response = self._client._send(self._client._builder.cancel(interaction_id))
        return parse_interaction(response, request)

    def delete(self, interaction_id: str) -> None:
        """Delete a stored interaction."""
        self._client._send(self._client._builder.delete(interaction_id))


class AsyncInteractions:
    """The `/interactions` endpoints, reached as `client.interactions`."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @overload
    async def create(
        self,
        *,
        model: str | None = None,
        agent: str | None = None,
        input: Input | None = None,
        system_instruction: str | None = None,
        tools: Sequence[WireModel | JSONObject] | None = None,
        generation_config: WireModel | JSONObject | None = None,
        response_format: WireModel | JSONObject | Sequence[WireModel | JSONObject] | None = None,
        previous_interaction_id: str | None = None,
        store: bool | None = None,
        background: bool | None = None,
        stream: Literal[False] = False,
        continuation_token: str | None = None,
        agent_config: WireModel | JSONObject | None = None,
        environment: str | WireModel | JSONObject | None = None,
        safety_settings: Sequence[WireModel | JSONObject] | None = None,
        service_tier: str | None = None,
        labels: Mapping[str, str] | None = None,
        webhook_config: WireModel | JSONObject | None = None,
        response_modalities: Sequence[str] | None = None,
        response_mime_type: str | None = None,
        extra_body: JSONObject | None = None,
    ) -> Interaction: ...

    @overload
    async def create(
        self,
        *,
        model: str | None = None,
        agent: str | None = None,
        input: Input | None = None,
        system_instruction: str | None = None,
        tools: Sequence[WireModel | JSONObject] | None = None,
        generation_config: WireModel | JSONObject | None = None,
        response_format: WireModel | JSONObject | Sequence[WireModel | JSONObject] | None = None,
        previous_interaction_id: str | None = None,
        store: bool | None = None,
        background: bool | None = None,
        stream: Literal[True],
        continuation_token: str | None = None,
        agent_config: WireModel | JSONObject | None = None,
        environment: str | WireModel | JSONObject | None = None,
        safety_settings: Sequence[WireModel | JSONObject] | None = None,
        service_tier: str | None = None,
        labels: Mapping[str, str] | None = None,
        webhook_config: WireModel | JSONObject | None = None,
        response_modalities: Sequence[str] | None = None,
        response_mime_type: str | None = None,
        extra_body: JSONObject | None = None,
    ) -> AsyncEventStream: ...

    @overload
    async def create(
        self,
        *,
        model: str | None = None,
        agent: str | None = None,
        input: Input | None = None,
        system_instruction: str | None = None,
        tools: Sequence[WireModel | JSONObject] | None = None,
        generation_config: WireModel | JSONObject | None = None,
        response_format: WireModel | JSONObject | Sequence[WireModel | JSONObject] | None = None,
        previous_interaction_id: str | None = None,
        store: bool | None = None,
        background: bool | None = None,
        stream: bool,
        continuation_token: str | None = None,
        agent_config: WireModel | JSONObject | None = None,
        environment: str | WireModel | JSONObject | None = None,
        safety_settings: Sequence[WireModel | JSONObject] | None = None,
        service_tier: str | None = None,
        labels: Mapping[str, str] | None = None,
        webhook_config: WireModel | JSONObject | None = None,
        response_modalities: Sequence[str] | None = None,
        response_mime_type: str | None = None,
        extra_body: JSONObject | None = None,
    ) -> Interaction | AsyncEventStream: ...

    async def create(
        self,
        *,
        model: str | None = None,
        agent: str | None = None,
        input: Input | None = None,
        system_instruction: str | None = None,
        tools: Sequence[WireModel | JSONObject] | None = None,
        generation_config: WireModel | JSONObject | None = None,
        response_format: WireModel | JSONObject | Sequence[WireModel | JSONObject] | None = None,
        previous_interaction_id: str | None = None,
        store: bool | None = None,
        background: bool | None = None,
        stream: bool = False,
        continuation_token: str | None = None,
        agent_config: WireModel | JSONObject | None = None,
        environment: str | WireModel | JSONObject | None = None,
        safety_settings: Sequence[WireModel | JSONObject] | None = None,
        service_tier: str | None = None,
        labels: Mapping[str, str] | None = None,
        webhook_config: WireModel | JSONObject | None = None,
        response_modalities: Sequence[str] | None = None,
        response_mime_type: str | None = None,
        extra_body: JSONObject | None = None,
    ) -> Interaction | AsyncEventStream:
        """Create an interaction: run a model or an agent on `input`.

        Values may be wire models or plain dicts; arguments left None are not sent.
        With `stream=True`, returns an event stream that resumes by itself when the
        connection drops after events arrived.

        Args:
            extra_body: Extra top-level fields, merged into the body last.

        Raises:
            UsageError: `model` and `agent` both or neither, or the other mode's config.
            APIStatusError: The API answered with an error status (after retries).
            APIConnectionError: No answer (after retries).
        """
        fields = {
            "model": model,
            "agent": agent,
            "input": input,
            "system_instruction": system_instruction,
            "tools": tools,
            "generation_config": generation_config,
            "response_format": response_format,
            "previous_interaction_id": previous_interaction_id,
            "store": store,
            "background": background,
            "continuation_token": continuation_token,
            "agent_config": agent_config,
            "environment": environment,
            "safety_settings": safety_settings,
            "service_tier": service_tier,
            "labels": labels,
            "webhook_config": webhook_config,
            "response_modalities": response_modalities,
            "response_mime_type": response_mime_type,
        }
        spec = self._client._builder.create(fields, stream=stream, extra_body=extra_body)
        if stream:
            return await AsyncEventStream.open(self._client, spec, interaction_id=None)
        request, response = await self._client._send(spec)
        return parse_interaction(response, request)

    @overload
    async def get(
        self,
        interaction_id: str,
        *,
        stream: Literal[False] = False,
        last_event_id: None = None,
        include_input: bool | None = None,
    ) -> Interaction: ...

    @overload
    async def get(
        self,
        interaction_id: str,
        *,
        stream: Literal[True],
        last_event_id: str | None = None,
        include_input: bool | None = None,
    ) -> AsyncEventStream: ...

    @overload
    async def get(
        self,
        interaction_id: str,
        *,
        stream: bool,
        last_event_id: str | None = None,
        include_input: bool | None = None,
    ) -> Interaction | AsyncEventStream: ...

    async def get(
        self,
        interaction_id: str,
        *,
        stream: bool = False,
        last_event_id: str | None = None,
        include_input: bool | None = None,
    ) -> Interaction | AsyncEventStream:
        """Fetch an interaction, or stream its events (after `last_event_id`, if given).

        Raises:
            NotFoundError: No such interaction (e.g. it was created with store=False).
        """
        spec = self._client._builder.get(
            interaction_id, stream=stream, last_event_id=last_event_id, include_input=include_input
        )
        if stream:
            return await AsyncEventStream.open(self._client, spec, interaction_id=interaction_id)
        request, response = await self._client._send(spec)
        return parse_interaction(response, request)

    async def cancel(self, interaction_id: str) -> Interaction:
        """Cancel a background interaction that is still running."""
        request, response = await self._client._send(self._client._builder.cancel(interaction_id))
        return parse_interaction(response, request)

    async def delete(self, interaction_id: str) -> None:
        """Delete a stored interaction."""
        await self._client._send(self._client._builder.delete(interaction_id))
