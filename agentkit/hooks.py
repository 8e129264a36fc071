"""Hooks: callbacks, and context managers around a run, each model turn and each tool call.

```python
@contextlib.contextmanager
def timed(scope: ToolScope) -> Generator[None]:
    started = time.perf_counter()
    yield  # the call runs here
    print(scope.call.name, time.perf_counter() - started, scope.result)

agent = Agent("gemini-3.5-flash", tools=[get_weather], hooks=Hooks(around_tool=timed))
```

`agentkit.otel` builds its spans on these hooks.
"""

from agentkit._hooks import Hooks, RequestScope, RunScope, ToolScope

__all__ = ["Hooks", "RequestScope", "RunScope", "ToolScope"]
