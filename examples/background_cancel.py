"""Background run, cancelled: start a long task, then change your mind.

`handle.cancel()` asks the server to stop the interaction (POST .../cancel) and returns
the run's result with status `cancelled`. Cancelling the task that awaits a background run
(anyio cancellation, or Ctrl-C in sync code) cancels the interaction on the server too.

    python examples/background_cancel.py
"""

import anyio
from _backend import async_client_for_examples

from agentkit import Agent

agent = Agent(
    "gemini-3.5-flash",
    system_instruction="You write very long, very detailed essays.",
    client=async_client_for_examples(),
)


async def main() -> None:
    handle = await agent.start("Write a 20-page history of the printing press.")
    print(f"Started background interaction {handle.interaction_id}")

    interaction = await handle.poll()
    print(f"Status: {interaction.status}")

    result = await handle.cancel()  # no longer needed
    print(f"After cancel: {result.status}")


anyio.run(main)
