"""Google Search grounding: the server searches, the answer cites its sources.

`google_search()` is a server-side tool: the API runs the searches itself and agentkit never
executes anything. The search steps stay in `result.steps`, and `result.citations` lists
each `url_citation` of the answer with the text it supports.

    python examples/google_search_citations.py
"""

from _backend import client_for_examples

from agentkit import Agent, google_search

agent = Agent(
    "gemini-3.5-flash",
    tools=[google_search()],
    client=client_for_examples(),
)

result = agent.run_sync("Who won the most recent Tour de France?")

print(f"Answer: {result.output_text}")
searches = [step for step in result.steps if step.type == "google_search_call"]
print(f"Searches run by the server: {len(searches)}")
print("Citations:")
for number, citation in enumerate(result.citations, start=1):
    print(f"  [{number}] {citation.title or citation.url}")
    print(f"      {citation.url}")
    print(f"      supports: {citation.text!r}")
