"""agentkit: agentic tool calling over Google's Gemini Interactions API.

```python
from agentkit import Agent, tool

@tool
def get_weather(city: str) -> dict:
    \"\"\"Get the current weather for a city.\"\"\"
    return {"city": city, "temperature": 21}

result = Agent("gemini-3.5-flash", tools=[get_weather]).run_sync("Weather in Paris?")
print(result.output_text)
```
"""

from agentkit._agent import Agent, RunHandle
from agentkit._client import AsyncClient, Client
from agentkit._client_stream import AsyncEventStream, EventStream
from agentkit._content import audio, document, image, video
from agentkit._context import RunContext
from agentkit._drivers import Hooks
from agentkit._events import (
    RunCompleteEvent,
    RunEvent,
    ServerToolEvent,
    StatusEvent,
    TextDeltaEvent,
    ThoughtSummaryEvent,
    ToolCallEvent,
    ToolResultEvent,
)
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
    StreamError,
    ToolOutcomeUnknown,
    UnexpectedStatusError,
    UnprocessableEntityError,
    UsageError,
    UsageLimitExceeded,
)
from agentkit._loop import PollPolicy, UsageLimits
from agentkit._result import RunResult, RunState
from agentkit._tool import FunctionTool, tool
from agentkit._toolset import code_execution, google_search, url_context

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "Agent",
    "AgentkitError",
    "AsyncClient",
    "AsyncEventStream",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "DeadlineExceeded",
    "EventStream",
    "FunctionTool",
    "Hooks",
    "InteractionFailed",
    "InternalServerError",
    "MaxTurnsExceeded",
    "NotFoundError",
    "OutputValidationError",
    "PermissionDeniedError",
    "PollPolicy",
    "RateLimitError",
    "RepeatedCallError",
    "ResponseLostError",
    "RunCompleteEvent",
    "RunContext",
    "RunError",
    "RunEvent",
    "RunHandle",
    "RunResult",
    "RunState",
    "ServerToolEvent",
    "StatusEvent",
    "StreamError",
    "TextDeltaEvent",
    "ThoughtSummaryEvent",
    "ToolCallEvent",
    "ToolOutcomeUnknown",
    "ToolResultEvent",
    "UnexpectedStatusError",
    "UnprocessableEntityError",
    "UsageError",
    "UsageLimitExceeded",
    "UsageLimits",
    "__version__",
    "audio",
    "code_execution",
    "document",
    "google_search",
    "image",
    "tool",
    "url_context",
    "video",
]
