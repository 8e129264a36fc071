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

The rest lives in submodules: `agentkit.exceptions` (every exception; the four bases are also
here), `agentkit.events` (run events and event streams), `agentkit.types` (wire models),
`agentkit.journal` (exactly-once journals) and `agentkit.testing` (the offline emulator).
"""

# First: it imports httpx without httpx's command line, before any module of agentkit does.
from agentkit import _httpx_cli  # noqa: F401  # pyright: ignore[reportUnusedImport]

# isort: split
from agentkit import _events, _exceptions
from agentkit._agent import Agent
from agentkit._client import AsyncClient, Client
from agentkit._content import audio, document, image, video
from agentkit._context import RunContext
from agentkit._exceptions import AgentkitError, APIError, RunError, UsageError
from agentkit._handle import RunHandle
from agentkit._hooks import Hooks
from agentkit._loop import PollPolicy, UsageLimits
from agentkit._result import RunResult, RunState
from agentkit._server_tools import (
    code_execution,
    computer_use,
    file_search,
    google_maps,
    google_search,
    mcp_server,
    retrieval,
    url_context,
)
from agentkit._tool import FunctionTool, tool

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "Agent",
    "AgentkitError",
    "AsyncClient",
    "Client",
    "FunctionTool",
    "Hooks",
    "PollPolicy",
    "RunContext",
    "RunError",
    "RunHandle",
    "RunResult",
    "RunState",
    "UsageError",
    "UsageLimits",
    "__version__",
    "audio",
    "code_execution",
    "computer_use",
    "document",
    "file_search",
    "google_maps",
    "google_search",
    "image",
    "mcp_server",
    "retrieval",
    "tool",
    "url_context",
    "video",
]

# Names that moved to `agentkit.events` / `agentkit.exceptions`: still importable from here
# for code written against 0.1, with a warning that says where they live now.
_MOVED = {
    **dict.fromkeys(["AsyncEventStream", "EventStream", *_events.__all__], "agentkit.events"),
    **dict.fromkeys(sorted(set(_exceptions.__all__) - set(__all__)), "agentkit.exceptions"),
}


def __getattr__(name: str) -> object:
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module 'agentkit' has no attribute {name!r}")
    import importlib
    import warnings

    warnings.warn(
        f"agentkit.{name} moved to {home}.{name}; import it from there",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(home), name)
