"""The exception classes; `agentkit.exceptions` is their public home (with the hierarchy)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from agentkit._result import RunResult
    from agentkit.types import File, FunctionCallStep

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AgentkitError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "DeadlineExceeded",
    "FileProcessingFailed",
    "FileProcessingTimeout",
    "InteractionFailed",
    "InternalServerError",
    "MaxTurnsExceeded",
    "NotFoundError",
    "OutputValidationError",
    "PermissionDeniedError",
    "RateLimitError",
    "RepeatedCallError",
    "ResponseLostError",
    "RunError",
    "RunTimeout",
    "StreamError",
    "StreamNotResumable",
    "ToolOutcomeUnknown",
    "ToolRetriesExceeded",
    "UnexpectedStatusError",
    "UnprocessableEntityError",
    "UsageError",
    "UsageLimitExceeded",
]


class AgentkitError(Exception):
    """Base class of every exception agentkit raises on purpose."""


class UsageError(AgentkitError, TypeError):
    """agentkit was called wrongly; the message says what to change."""


class APIError(AgentkitError):
    """A failure talking to the Interactions API."""

    request: httpx.Request | None
    """The request that failed, with the API key header redacted."""
    partial: RunResult | None = None
    """Set when the error ended an agent run: the run so far, whose `state` resumes it
    (`Agent.resume(error.partial)`) without running any finished tool again."""
    interaction_id: str | None = None
    """Set when the error ended an agent run while an interaction it created was running
    server-side (a background run being polled, a stream that broke): that interaction."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request


class APIConnectionError(APIError):
    """The request never got an HTTP response (DNS, refused, reset, ...)."""

    def __init__(
        self, message: str = "Connection error.", *, request: httpx.Request | None = None
    ) -> None:
        super().__init__(message, request=request)


class StreamNotResumable(APIConnectionError):
    """The stream of a stateless create (`store=false`) broke, and cannot be resumed.

    The server kept nothing to resume it from, so only sending the request again can; an
    agent does, twice at most for one request.
    """


class APITimeoutError(APIConnectionError):
    """The request timed out."""

    def __init__(
        self, message: str = "Request timed out.", *, request: httpx.Request | None = None
    ) -> None:
        super().__init__(message, request=request)


class ResponseLostError(APIConnectionError):
    """A create request reached the server but its response was lost (a reset, a timeout).

    The server may have acted on it: sending it again could create a second interaction, so
    agentkit does not (see `Client(resend_lost_creates=...)`). An agent run raising it keeps a
    resumable `.partial`; resuming fetches the interaction when its id is known.
    """


class APIStatusError(APIError):
    """The API answered with a 4xx or 5xx status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | int | None = None,
        body: Any = None,
        request: httpx.Request | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.status_code = status_code
        self.code = code
        self.body = body
        self.response = response


class BadRequestError(APIStatusError):
    """400: the request was malformed or invalid."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or invalid."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this resource."""


class NotFoundError(APIStatusError):
    """404: no such interaction (or model, or agent)."""


class ConflictError(APIStatusError):
    """409: the resource is in a conflicting state."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was well formed but could not be processed."""


class RateLimitError(APIStatusError):
    """429: too many requests or quota exhausted."""


class InternalServerError(APIStatusError):
    """5xx: the server failed."""


class StreamError(APIError):
    """The server sent an `error` event inside an open SSE stream."""

    def __init__(
        self, message: str, *, code: str | int | None = None, request: httpx.Request | None = None
    ) -> None:
        super().__init__(message, request=request)
        self.code = code


class APIResponseValidationError(APIError):
    """A successful response whose body does not fit the wire models."""


class RunError(AgentkitError):
    """An agent run stopped before it could finish; `.partial` holds what it produced."""

    def __init__(self, message: str, *, partial: RunResult | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.partial = partial


class MaxTurnsExceeded(RunError):
    """The model was still calling tools after `max_turns` requests."""


class UsageLimitExceeded(RunError):
    """A request, tool-call or token budget of the run ran out."""


class RepeatedCallError(RunError):
    """The model repeated an identical tool call more often than allowed."""


class InteractionFailed(RunError):
    """The interaction ended with status `failed`."""

    def __init__(
        self,
        message: str,
        *,
        interaction_id: str | None,
        errors: list[Any] | None = None,
        partial: RunResult | None = None,
    ) -> None:
        super().__init__(message, partial=partial)
        self.interaction_id = interaction_id
        self.errors: list[Any] = errors or []


class UnexpectedStatusError(RunError):
    """The interaction reached a status that agentkit does not know how to act on."""

    def __init__(self, message: str, *, status: str, partial: RunResult | None = None) -> None:
        super().__init__(message, partial=partial)
        self.status = status


class DeadlineExceeded(RunError):
    """A background interaction was still running when `PollPolicy.deadline` ran out.

    agentkit cancelled it on the server; `.interaction_id` names it.
    """

    def __init__(
        self, message: str, *, interaction_id: str, partial: RunResult | None = None
    ) -> None:
        super().__init__(message, partial=partial)
        self.interaction_id = interaction_id


class RunTimeout(RunError, TimeoutError):
    """The run outlived its `timeout` (`Agent(timeout=...)` or the run's own).

    Its tools were stopped (a sync tool's thread cannot be: it finishes unobserved and its
    journal entry records the outcome) and a background interaction it was waiting for was
    cancelled; `.partial` resumes the run without running a finished tool again.
    """

    def __init__(self, message: str, *, timeout: float, partial: RunResult | None = None) -> None:
        super().__init__(message, partial=partial)
        self.timeout = timeout


class OutputValidationError(RunError):
    """The model's final answer does not fit the agent's `output_type`."""


class ToolRetriesExceeded(RunError):
    """The model kept calling a tool with invalid arguments, past the tool's `retries`.

    `.tool` names the tool; `.call` is the last invalid call, and the partial result holds
    every call and the error the model was told about each.
    """

    def __init__(
        self,
        message: str,
        *,
        tool: str,
        call: FunctionCallStep,
        partial: RunResult | None = None,
    ) -> None:
        super().__init__(message, partial=partial)
        self.tool = tool
        self.call = call


class ToolOutcomeUnknown(RunError):
    """A tool call started earlier (before a crash or an interruption) never recorded an outcome.

    Raised instead of telling the model when the agent has `raise_tool_errors=True`. The call
    was not run again: its tool is not `idempotent`.
    """

    def __init__(
        self,
        message: str,
        *,
        call: FunctionCallStep,
        idempotency_key: str,
        partial: RunResult | None = None,
    ) -> None:
        super().__init__(message, partial=partial)
        self.call = call
        self.idempotency_key = idempotency_key


class FileProcessingFailed(AgentkitError):
    """An uploaded file ended in state `FAILED`: the API could not process it.

    `.file` is the file as last fetched; its `error` says why, when the API said.
    """

    def __init__(self, message: str, *, file: File) -> None:
        super().__init__(message)
        self.message = message
        self.file = file


class FileProcessingTimeout(AgentkitError, TimeoutError):
    """An uploaded file was still not `ACTIVE` after `timeout` seconds of waiting between polls.

    `.file` is the file as last fetched; it may still become active: wait again.
    """

    def __init__(self, message: str, *, file: File, timeout: float) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.timeout = timeout
