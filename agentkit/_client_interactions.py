"""`client.interactions`: create, get, cancel and delete, typed with overloads.

The overloads give `stream=True` its stream type and `stream=False` an `Interaction`. The
bodies only build a `RequestSpec` and hand it to the client; the parameters of `create` are
declared once, in `CreateParams`. `Interactions` is generated from `AsyncInteractions` by
`tools/unasync.py`: edit the async class, then run the tool.
"""

# The interactions classes are the client's own facade: they use its private members.
# pyright: reportPrivateUsage=false

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, overload

from typing_extensions import Unpack

from agentkit._client_params import CreateParams, Input, JSONObject
from agentkit._http import parse_interaction
from agentkit.types import Interaction

if TYPE_CHECKING:
    from agentkit._client import AsyncClient, Client
    from agentkit._client_stream import AsyncEventStream, EventStream

__all__ = ["AsyncInteractions", "CreateParams", "Input", "Interactions", "JSONObject"]


class AsyncInteractions:
    """The `/interactions` endpoints, reached as `client.interactions`."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @overload
    async def create(
        self, *, stream: Literal[False] = False, **params: Unpack[CreateParams]
    ) -> Interaction: ...

    @overload
    async def create(
        self, *, stream: Literal[True], **params: Unpack[CreateParams]
    ) -> AsyncEventStream: ...

    @overload
    async def create(
        self, *, stream: bool, **params: Unpack[CreateParams]
    ) -> Interaction | AsyncEventStream: ...

    async def create(
        self, *, stream: bool = False, **params: Unpack[CreateParams]
    ) -> Interaction | AsyncEventStream:
        """Create an interaction: run a model or an agent on `input`.

        Takes the fields of `CreateParams` as keywords (`model` or `agent`, `input`, `tools`,
        `generation_config`, ...: each one is documented there); values may be wire models or
        plain dicts, and None is not sent. With `stream=True`, returns an event stream that
        resumes by itself when the connection drops after events arrived.

        Raises:
            UsageError: `model` and `agent` both or neither, the other mode's config, or an
                unknown parameter.
            APIStatusError: The API answered with an error status (after retries).
            APIConnectionError: No answer (after retries).
        """
        spec = self._client._builder.create(params, stream=stream)
        if stream:
            # Imported here: the stream's modules and models load with the first stream, not
            # with `import agentkit`.
            from agentkit._client_stream import AsyncEventStream

            return await AsyncEventStream.open(self._client, spec, interaction_id=None)
        request, response = await self._client._send(spec)
        return parse_interaction(response, request, secrets=self._client._builder.secrets)

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
            from agentkit._client_stream import AsyncEventStream

            return await AsyncEventStream.open(self._client, spec, interaction_id=interaction_id)
        request, response = await self._client._send(spec)
        return parse_interaction(response, request, secrets=self._client._builder.secrets)

    async def cancel(self, interaction_id: str) -> Interaction:
        """Cancel a background interaction that is still running."""
        request, response = await self._client._send(self._client._builder.cancel(interaction_id))
        return parse_interaction(response, request, secrets=self._client._builder.secrets)

    async def delete(self, interaction_id: str) -> None:
        """Delete a stored interaction."""
        await self._client._send(self._client._builder.delete(interaction_id))


# -- generated by tools/unasync.py from AsyncInteractions: do not edit --
class Interactions:
    """The `/interactions` endpoints, reached as `client.interactions`."""

    __slots__ = ("_client",)

    def __init__(self, client: Client) -> None:
        self._client = client

    @overload
    def create(
        self, *, stream: Literal[False] = False, **params: Unpack[CreateParams]
    ) -> Interaction: ...

    @overload
    def create(self, *, stream: Literal[True], **params: Unpack[CreateParams]) -> EventStream: ...

    @overload
    def create(
        self, *, stream: bool, **params: Unpack[CreateParams]
    ) -> Interaction | EventStream: ...

    def create(
        self, *, stream: bool = False, **params: Unpack[CreateParams]
    ) -> Interaction | EventStream:
        """Create an interaction: run a model or an agent on `input`.

        Takes the fields of `CreateParams` as keywords (`model` or `agent`, `input`, `tools`,
        `generation_config`, ...: each one is documented there); values may be wire models or
        plain dicts, and None is not sent. With `stream=True`, returns an event stream that
        resumes by itself when the connection drops after events arrived.

        Raises:
            UsageError: `model` and `agent` both or neither, the other mode's config, or an
                unknown parameter.
            APIStatusError: The API answered with an error status (after retries).
            APIConnectionError: No answer (after retries).
        """
        spec = self._client._builder.create(params, stream=stream)
        if stream:
            # Imported here: the stream's modules and models load with the first stream, not
            # with `import agentkit`.
            from agentkit._client_stream import EventStream

            return EventStream.open(self._client, spec, interaction_id=None)
        request, response = self._client._send(spec)
        return parse_interaction(response, request, secrets=self._client._builder.secrets)

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
            from agentkit._client_stream import EventStream

            return EventStream.open(self._client, spec, interaction_id=interaction_id)
        request, response = self._client._send(spec)
        return parse_interaction(response, request, secrets=self._client._builder.secrets)

    def cancel(self, interaction_id: str) -> Interaction:
        """Cancel a background interaction that is still running."""
        request, response = self._client._send(self._client._builder.cancel(interaction_id))
        return parse_interaction(response, request, secrets=self._client._builder.secrets)

    def delete(self, interaction_id: str) -> None:
        """Delete a stored interaction."""
        self._client._send(self._client._builder.delete(interaction_id))


# -- end generated --
