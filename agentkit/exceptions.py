"""Every exception agentkit raises on purpose (the four bases are also in `agentkit`).

AgentkitError
├── APIError                       .request (with the API key redacted); .partial and
│   │                              .interaction_id once a run had started
│   ├── APIConnectionError
│   │   ├── APITimeoutError
│   │   ├── ResponseLostError      a create the server may have acted on; not re-sent
│   │   └── StreamNotResumable     a stateless stream broke: nothing stored to resume
│   ├── APIStatusError             .status_code .code .message .body
│   │   └── BadRequestError 400, AuthenticationError 401, PermissionDeniedError 403,
│   │       NotFoundError 404, ConflictError 409, UnprocessableEntityError 422,
│   │       RateLimitError 429, InternalServerError 5xx
│   ├── StreamError                an `error` event inside an SSE stream
│   └── APIResponseValidationError a 2xx body that does not fit our models
├── RunError                       .partial: the run up to the failure
│   ├── MaxTurnsExceeded
│   ├── UsageLimitExceeded         a request, tool-call or token budget ran out
│   ├── RepeatedCallError          the model kept making the same call
│   ├── InteractionFailed          terminal `failed` status: .interaction_id .errors
│   ├── UnexpectedStatusError      a status agentkit does not know how to act on
│   ├── DeadlineExceeded           a background interaction outlived PollPolicy.deadline
│   ├── RunTimeout                 (a TimeoutError) the run outlived its `timeout`: .timeout
│   ├── OutputValidationError      structured output that still did not fit `output_type`
│   ├── ToolRetriesExceeded        a tool kept getting invalid arguments: .tool .call
│   └── ToolOutcomeUnknown         a call started earlier and never recorded its outcome
├── FileProcessingFailed           an uploaded file ended FAILED: .file
├── FileProcessingTimeout          (a TimeoutError) a file not ACTIVE in time: .file .timeout
└── UsageError(TypeError)          agentkit was called wrongly; the message says how to fix it
"""

from agentkit._exceptions import (
    AgentkitError,
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DeadlineExceeded,
    FileProcessingFailed,
    FileProcessingTimeout,
    InteractionFailed,
    InternalServerError,
    MaxTurnsExceeded,
    NotFoundError,
    OutputValidationError,
    PermissionDeniedError,
    RateLimitError,
    RepeatedCallError,
    ResponseLostError,
    RunError,
    RunTimeout,
    StreamError,
    StreamNotResumable,
    ToolOutcomeUnknown,
    ToolRetriesExceeded,
    UnexpectedStatusError,
    UnprocessableEntityError,
    UsageError,
    UsageLimitExceeded,
)

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
