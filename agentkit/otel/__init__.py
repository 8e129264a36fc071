"""OpenTelemetry spans for agent runs (`pip install "agentkit[otel]"`).

```python
from agentkit.otel import instrument

instrument()  # every agent, into the global tracer provider
result = agent.run_sync("What is the weather in Paris?")
```

Spans follow the OpenTelemetry GenAI semantic conventions: `invoke_agent {name}` for a run,
`chat {model}` for each model turn (a background interaction's polls are `agentkit.poll`
events on it) and `execute_tool {tool}` for each tool call, nested under their run. No prompt,
answer or tool data is recorded unless `include_content=True`. Only `opentelemetry-api` is
needed; configure an SDK (exporters, sampling) as for any other instrumentation.
"""

from agentkit._extras import missing_extra

try:
    from agentkit.otel._instrument import instrument, uninstrument
except ModuleNotFoundError as _missing:
    raise missing_extra(__name__, "otel", _missing) from None

__all__ = ["instrument", "uninstrument"]
