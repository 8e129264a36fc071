"""Background run, polled: start a long task, check on it, collect the result.

With `background=True` the API answers at once (`in_progress`) and works on its own.
`agent.start()` returns a handle: `poll()` fetches the current status, `result()` waits for
the end (polling with backoff, and running tools if the model asks). Another process can
re-attach with `agent.attach(handle.interaction_id)`.

    python examples/background_poll.py
"""

import anyio
from _backend import async_client_for_examples

from agentkit import Agent, tool

POLL_EVERY = 1.0  # seconds between our status checks


@tool
def list_sources(topic: str) -> list[str]:
    """List the internal documents about a topic.

    Args:
        topic: What the report is about.
    """
    return [f"{topic} - 2025 annual review", f"{topic} - customer survey", f"{topic} - roadmap"]


agent = Agent(
    "gemini-3.5-flash",
    tools=[list_sources],
    system_instruction="Write a short structured report from the sources.",
    client=async_client_for_examples(),
)


async def main() -> None:
    handle = await agent.start("Write a report on our mobile app.")
    print(f"Started background interaction {handle.interaction_id}")

    # Check on it now and then: a web app would do this from a status endpoint.
    while (interaction := await handle.poll()).status in ("queued", "in_progress"):
        print(f"  status: {interaction.status}")
        await anyio.sleep(POLL_EVERY)
    print(f"  status: {interaction.status}")  # requires_action when the model asked for a tool

    # Wait for the end: runs the tools the model asked for, then polls until done.
    result = await handle.result()
    print(f"Finished: {result.status}")
    print(f"Report: {result.output_text}")


anyio.run(main)
