"""Durable agent runs on Temporal (`pip install "agentkit[temporal]"`).

```python
agent = Agent("gemini-3.5-flash", tools=[charge_card])
durable = TemporalAgent(agent, name="billing")

@workflow.defn
class Billing:
    @workflow.run
    async def run(self, request: str) -> str | None:
        return (await durable.run(request)).output_text

worker = Worker(client, task_queue="billing", workflows=[Billing],
                plugins=[AgentkitPlugin([durable])])
```

The agent's loop runs inside the workflow; every model request, background wait and tool
call is an activity on a worker, which holds the API key. A worker may die at any point: the
next one re-attaches to the interaction in flight instead of creating another, and a tool
call runs at most once unless its tool is idempotent. `AgentWorkflow` is a ready-made
workflow with approvals (a `decide` update and a `pending` query).

Activity names, `agentkit.<agent name>.create` / `.wait` / `.tool` / `.cancel`, and the
workflow name `agentkit.AgentWorkflow` are compatibility data: they never change.
"""

from agentkit._extras import missing_extra

try:
    from agentkit.contrib.temporal._durable import Approvals, TemporalAgent, ToolOptions
    from agentkit.contrib.temporal._plugin import AgentkitPlugin
    from agentkit.contrib.temporal._workflow import (
        AgentWorkflow,
        AgentWorkflowInput,
        AgentWorkflowResult,
    )
except ModuleNotFoundError as _missing:
    raise missing_extra(__name__, "temporal", _missing) from None

__all__ = [
    "AgentWorkflow",
    "AgentWorkflowInput",
    "AgentWorkflowResult",
    "AgentkitPlugin",
    "Approvals",
    "TemporalAgent",
    "ToolOptions",
]
