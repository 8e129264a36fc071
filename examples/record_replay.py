"""Record once, replay offline: an agent run saved to a file, then replayed without a server.

The first run goes through a `Recorder`, which writes every request and response (event
streams included, the API key redacted) to a JSON file. The second run answers from that
file alone, as a test in CI would: same answer, no key, no network. A run that asks
something else fails with `RequestNotRecorded`, which says what differs.

    python examples/record_replay.py
"""

import tempfile
from pathlib import Path

from _backend import online

from agentkit import Agent, Client, tool
from agentkit.testing import Emulator, Recorder, Replayer, RequestNotRecorded


@tool
def get_weather(city: str) -> dict:
    """Get the current weather in a city.

    Args:
        city: The city name, e.g. Paris.
    """
    return {"city": city, "temperature": 21, "sky": "sunny"}


def ask(client: Client, question: str) -> str | None:
    with client:
        agent = Agent("gemini-3.5-flash", tools=[get_weather], client=client)
        return agent.run_sync(question).output_text


with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "weather.json"

    # 1. Record: against the real API with a key, else against the built-in emulator.
    if online():
        print("Backend: Gemini API (a key is set): recording the real session")
        recorder = Recorder(path)
        recorded = ask(recorder.client(), "What's the weather in Paris?")
        key_in_file = None
    else:
        print("Backend: built-in emulator (offline; set GEMINI_API_KEY to use the real API)")
        recorder = Recorder(path, Emulator())
        recorded = ask(recorder.client(api_key="my-secret-key"), "What's the weather in Paris?")
        key_in_file = "my-secret-key" in path.read_text(encoding="utf-8")
    exchanges = recorder.recording.exchanges
    print(f"Recorded {len(exchanges)} exchanges to {path.name}:")
    for exchange in exchanges:
        kind = "event stream" if exchange.is_stream else "JSON"
        print(f"  {exchange.method} {exchange.path} -> {exchange.status} ({kind})")
    if key_in_file is not None:
        print(f"The API key appears in the file: {'yes' if key_in_file else 'no'}")
    print(f"Recorded answer: {recorded}")

    # 2. Replay: no emulator, no key, no network; only the file.
    replayer = Replayer(path)
    replayed = ask(replayer.client(), "What's the weather in Paris?")
    same = "same answer" if replayed == recorded else "a different answer!"
    print(f"Replayed without the emulator: {same} ({replayed})")
    replayer.check_all_played()

    # 3. A run whose requests differ from the recording fails loudly.
    try:
        ask(Replayer(path).client(), "What's the weather in Oslo?")
    except RequestNotRecorded as error:
        print(f"A different question: RequestNotRecorded\n  {error}")
