"""Test your agents offline: an in-process emulator of the Gemini Interactions API.

`Emulator` speaks the wire protocol (create, get, cancel, delete; stored chains with
`previous_interaction_id`, stateless `store=false` histories, `background` runs, SSE
streams resumable with `last_event_id`, continuation hops) and the Files API (resumable
uploads, get, list, delete; files usable as input once active), and plugs into `Client` /
`AsyncClient` as their httpx transport, or serves on 127.0.0.1 for other programs.
The model is pluggable:

- `Script([...])`: canned replies, one per model turn (`"text"`, step helpers such as
  `function_call(...)`, lists of steps, a `Reply(...)`, or a function of the request);
- any function `(ModelRequest) -> Reply | list of steps | str`;
- the default `EchoToolsBehaviour`: calls every declared function tool once with
  arguments generated from its JSON schema, then answers from the results.

Example, a unit test of your own agent:
    ```python
    from agentkit import Agent
    from agentkit.testing import Emulator, Script, function_call

    def test_the_agent_looks_up_the_weather() -> None:
        emulator = Emulator(Script([
            function_call("get_weather", {"city": "Paris"}),  # turn 1: the model calls the tool
            "Sunny in Paris.",                                # turn 2: it answers
        ]))
        with emulator.client() as client:
            agent = Agent("gemini-3.5-flash", tools=[get_weather], client=client)
            result = agent.run_sync("Weather in Paris?")
        assert result.output_text == "Sunny in Paris."
        assert emulator.function_calls[0]["arguments"] == {"city": "Paris"}
        assert emulator.function_results[0]["call_id"] == emulator.function_calls[0]["id"]
    ```

A function `(ModelRequest) -> str | step | Reply` can decide each turn instead, from
`request.user_text`, `request.function_results` and `request.history`.

Faults for resilience tests: `emulator.fail_next(2, 429, retry_after=1)`,
`emulator.drop_stream_after(3)` (the stream breaks; a GET with `last_event_id` resumes),
`emulator.end_stream_after(3, mid_event=True)` (the body ends cleanly, half-way through
an event; resumed likewise), `emulator.error_stream_after(3)`, `emulator.latency = 0.05`,
`emulator.drop_next_chunk(received=100)` (an upload's connection breaks mid-chunk) and
`emulator.process_next_upload(polls=2, fail=True)` (a file stays `PROCESSING`, then fails).
Inspect what happened with `emulator.requests`, `emulator.interactions`, `emulator.files`,
`emulator.function_calls`, `emulator.function_results` and `emulator.sleeps`.
"""

from agentkit.testing._behaviour import EchoToolsBehaviour
from agentkit.testing._emulator import Emulator
from agentkit.testing._recording import Recorder, Replayer, recording
from agentkit.testing._recording_file import (
    Exchange,
    Recording,
    RecordingError,
    RequestNotRecorded,
)
from agentkit.testing._records import RecordedRequest
from agentkit.testing._replies import (
    Behaviour,
    ModelRequest,
    Reply,
    Script,
    ScriptExhausted,
    code_execution,
    function_call,
    google_search,
    model_output,
    text,
    thought,
    url_context,
)
from agentkit.testing._schema_values import example_value
from agentkit.testing._wire import EmuResponse

__all__ = [
    "Behaviour",
    "EchoToolsBehaviour",
    "EmuResponse",
    "Emulator",
    "Exchange",
    "ModelRequest",
    "RecordedRequest",
    "Recorder",
    "Recording",
    "RecordingError",
    "Replayer",
    "Reply",
    "RequestNotRecorded",
    "Script",
    "ScriptExhausted",
    "code_execution",
    "example_value",
    "function_call",
    "google_search",
    "model_output",
    "recording",
    "text",
    "thought",
    "url_context",
]
