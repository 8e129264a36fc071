"""Structured output: the answer is validated into a pydantic model.

`output_type=` sends the model's JSON schema as the `response_format`; `result.output` is
a validated instance (invalid JSON raises `OutputValidationError`). Tools still work.

    python examples/structured_output.py
"""

from _backend import client_for_examples
from pydantic import BaseModel, Field

from agentkit import Agent


class Ingredient(BaseModel):
    name: str
    quantity: str = Field(description="Amount with its unit, e.g. 200 g.")


class Recipe(BaseModel):
    title: str
    servings: int
    minutes: int = Field(description="Total preparation and cooking time.")
    ingredients: list[Ingredient]
    vegetarian: bool


agent = Agent(
    "gemini-3.5-flash",
    output_type=Recipe,
    system_instruction="You are a chef. Keep recipes simple.",
    client=client_for_examples(),
)

result = agent.run_sync("A quick recipe for a tomato pasta for two.")
recipe = result.output  # a Recipe, already validated (None only if the run did not complete)
assert recipe is not None
print(f"Title: {recipe.title}")
print(f"Serves {recipe.servings}, ready in {recipe.minutes} min, vegetarian: {recipe.vegetarian}")
print("Ingredients:")
for ingredient in recipe.ingredients:
    print(f"  - {ingredient.quantity} {ingredient.name}")
