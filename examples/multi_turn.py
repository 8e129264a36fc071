"""Multi-turn conversation: each turn continues from the previous result.

`previous=result` chains the turns: in stateful mode with `previous_interaction_id` (the
server remembers), in stateless mode (`store=False`) by resending the history. The model
sees the whole conversation, tool calls included.

    python examples/multi_turn.py
"""

from _backend import client_for_examples

from agentkit import Agent, RunResult, tool

BASKET: dict[str, int] = {}


@tool
def add_to_basket(item: str, quantity: int = 1) -> dict:
    """Add an item to the customer's shopping basket.

    Args:
        item: The product name.
        quantity: How many to add.
    """
    BASKET[item] = BASKET.get(item, 0) + quantity
    return {"basket": BASKET}


agent = Agent(
    "gemini-3.5-flash",
    tools=[add_to_basket],
    system_instruction="You are a grocery shop assistant. Keep answers to one sentence.",
    client=client_for_examples(),
)

conversation = [
    "Hi! Please add two baguettes to my basket.",
    "Add a camembert as well.",
    "What is in my basket now?",
]

result: RunResult | None = None
for turn, message in enumerate(conversation, start=1):
    result = agent.run_sync(message, previous=result)
    print(f"User ({turn}): {message}")
    print(f"Agent ({turn}): {result.output_text}")

print(f"Basket: {BASKET}")
