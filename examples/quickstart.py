"""Quickstart: an agent with one tool.

The agent sends your question and the tool's declaration to the model, runs the
`get_weather` call the model asks for, sends the result back, and returns the answer.

    python examples/quickstart.py
"""

from typing import Literal

from _backend import client_for_examples

from agentkit import Agent, tool


@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict:
    """Get the current weather in a city.

    Args:
        city: The city name, e.g. Paris.
        unit: The temperature unit.
    """
    # A real tool would call a weather service; the model only sees what we return.
    temperature = 21 if unit == "celsius" else 70
    return {"city": city, "temperature": temperature, "unit": unit, "sky": "sunny"}


agent = Agent(
    "gemini-3.5-flash",
    tools=[get_weather],
    system_instruction="You are a concise weather assistant.",
    client=client_for_examples(),  # leave out to use GEMINI_API_KEY from the environment
)

result = agent.run_sync("What's the weather like in Paris right now?")

for call in result.function_calls:
    print(f"Tool call: {call.name}({call.arguments})")
print(f"Answer: {result.output_text}")
