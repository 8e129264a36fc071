"""Agent as a tool: an orchestrator delegates research to a researcher agent.

`researcher.as_tool(name=..., description=...)` turns an agent into a function tool: when
the orchestrator's model calls it, the researcher runs its own loop (here with Google Search)
and its answer becomes the tool's result. The orchestrator mixes it with ordinary tools, so
one request fans out into a multi-tool workflow.

    python examples/agent_as_tool.py
"""

import anyio
from _backend import async_client_for_examples

from agentkit import Agent, google_search, tool

client = async_client_for_examples()

researcher = Agent(
    "gemini-3.5-flash",
    tools=[google_search()],
    system_instruction="You research facts on the web and answer with sources, briefly.",
    client=client,
)

NOTES: list[str] = []


@tool
def word_count(text: str) -> int:
    """Count the words of a text.

    Args:
        text: The text to measure.
    """
    return len(text.split())


@tool
def save_note(title: str, body: str) -> str:
    """Save a note to the user's notebook.

    Args:
        title: A short title.
        body: The note itself.
    """
    NOTES.append(f"{title}: {body}")
    return f"Saved note #{len(NOTES)}."


orchestrator = Agent(
    "gemini-3.5-flash",
    tools=[
        researcher.as_tool(
            name="research",
            description="Research a question on the web; returns a short answer with sources.",
        ),
        word_count,
        save_note,
    ],
    system_instruction=(
        "You are a writing assistant. Use `research` for facts, keep notes under 80 words "
        "(check with `word_count`) and save them with `save_note`."
    ),
    client=client,
)


async def main() -> None:
    result = await orchestrator.run("Research when the Eiffel Tower was built and save a note.")
    for call in result.function_calls:
        print(f"Orchestrator called {call.name}({call.arguments})")
    print(f"Notes saved: {len(NOTES)}")
    for note in NOTES:
        print(f"  {note}")
    print(f"Answer: {result.output_text}")


anyio.run(main)
