"""Background run, cancelled: start a long task, then change your mind.

`handle.cancel()` asks the server to stop the interaction (POST .../cancel) and returns
the run's result with status `cancelled`. Cancelling a task that runs
`agent.run(..., background=True)` (anyio cancellation, or Ctrl-C in `run_sync`) cancels the
interaction on the server too; cancelling a task that awaits a handle does not, because a
handle stands for a run you may re-attach to later (`agent.attach(interaction_id)`).

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
