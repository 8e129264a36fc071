"""Function calling, stateless (`store=False`): the client keeps the conversation.

Nothing is stored on the server. Every request carries the whole history: the user input,
each model step exactly as received (thought signatures included), and the function results.
Continue the conversation with `previous=result`, as in stateful mode.

    python examples/function_calling_stateless.py
"""

from _backend import client_for_examples

from agentkit import Agent, tool


@tool
def convert_currency(amount: float, from_currency: str, to_currency: str) -> dict:
    """Convert an amount of money between currencies at today's rate.

    Args:
        amount: How much money.
        from_currency: ISO code of the currency to convert from, e.g. EUR.
        to_currency: ISO code of the currency to convert to, e.g. USD.
    """
    rate = 1.08  # a real tool would ask an exchange-rate service
    return {"amount": round(amount * rate, 2), "currency": to_currency, "rate": rate}


agent = Agent(
    "gemini-3.5-flash",
    tools=[convert_currency],
    store=False,  # nothing is stored server-side; the history travels with each request
    client=client_for_examples(),
)

first = agent.run_sync("How much is 250 EUR in USD?")
print(f"Turn 1: {first.output_text}")
print(f"  history kept on the client: {len(first.state.history)} steps")

second = agent.run_sync("And 1000 EUR in GBP?", previous=first)
print(f"Turn 2: {second.output_text}")
print(f"  history kept on the client: {len(second.state.history)} steps")
