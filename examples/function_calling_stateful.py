"""Function calling, stateful (the default): the server keeps the conversation.

Each request after the first sends only the new `function_result` steps plus
`previous_interaction_id`; the server remembers everything before. `result.steps` still
holds the whole run, and `result.step_interaction_ids` says which interaction made each step.

    python examples/function_calling_stateful.py
"""

from _backend import client_for_examples

from agentkit import Agent, tool
from agentkit.types import FunctionCallStep, FunctionResultStep


@tool
def get_order(order_id: str) -> dict:
    """Look up an order in the shop's database.

    Args:
        order_id: The order number, e.g. A-1001.
    """
    return {"order_id": order_id, "status": "shipped", "carrier": "DHL", "tracking": "JD0142"}


@tool
def track_parcel(carrier: str, tracking: str) -> str:
    """Get the latest tracking event of a parcel.

    Args:
        carrier: The carrier's name.
        tracking: The tracking number.
    """
    return f"{carrier} {tracking}: out for delivery, expected today before 18:00"


agent = Agent(
    "gemini-3.5-flash",
    tools=[get_order, track_parcel],
    system_instruction="You are a support assistant. Use the tools; answer in one sentence.",
    client=client_for_examples(),
)

result = agent.run_sync("Where is my order A-1001?")

# Every step of the run, in order, with the interaction that produced it.
for step, interaction_id in zip(result.steps, result.step_interaction_ids, strict=True):
    if isinstance(step, FunctionCallStep):
        detail = f"{step.name}({step.arguments})"
    elif isinstance(step, FunctionResultStep):
        detail = f"{step.name} {'failed' if step.is_error else 'ok'}"
    else:
        detail = ""
    print(f"{interaction_id}  {step.type:<16} {detail}")
print(f"Status: {result.status} after {result.usage.total_tokens} tokens")
print(f"Answer: {result.output_text}")
