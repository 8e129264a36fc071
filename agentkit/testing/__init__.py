"""Test your agents offline: an in-process emulator of the Gemini Interactions API.

`Emulator` speaks the wire protocol (create, get, cancel, delete; stored chains with
`previous_interaction_id`, stateless `store=false` histories, `background` runs, SSE
streams resumable with `last_event_id`, continuation hops) and plugs into `Client` /
`AsyncClient` as their httpx transport, or serves on 127.0.0.1 for other programs.
The model is pluggable:

- `Script([...])`: canned replies, one per model turn (`"text"`, step helpers such as
  `function_call(...)`, lists of steps, a `Reply(...)`, or a function of the request);
- any function `(ModelRequest) -> Reply | list of steps | str`;
- the default `EchoToolsBehaviour`: calls every declared function tool once with
  arguments generated from its JSON schema, then answers from the results.

Example:
    ```python
    from agentkit.testing import Emulator, Script, function_call

    script = Script([function_call("get_weather", {"city": "Paris"}), "Sunny in Paris."])
    emulator = Emulator(script)
    with emulator.client() as client:
        first = client.interactions.create(model="gemini-3-flash-preview", input="Weather?")
        call = first.function_calls[0]
        result = {"type": "function_result", "call_id": call.id, "result": "sunny"}
        final = client.interactions.create(
            model="gemini-3-flash-preview", previous_interaction_id=first.id, input=[result]
        )
    assert final.output_text == "Sunny in Paris."
    assert emulator.function_calls[0]["arguments"] == {"city": "Paris"}
    assert emulator.function_results[0]["result"] == "sunny"
    ```

Faults for resilience tests: `emulator.fail_next(2, 429, retry_after=1)`,
`emulator.drop_stream_after(3)` (the stream breaks; a GET with `last_event_id` resumes),
`emulator.error_stream_after(3)`, `emulator.latency = 0.05`. Inspect what happened with
`emulator.requests`, `emulator.interactions`, `emulator.function_calls`,
`emulator.function_results` and `emulator.sleeps`.
"""

from agentkit.testing._behaviour import EchoToolsBehaviour
from agentkit.testing._emulator import Emulator
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
    "ModelRequest",
    "RecordedRequest",
    "Reply",
    "Script",
    "ScriptExhausted",
    "code_execution",
    "example_value",
    "function_call",
    "google_search",
    "model_output",
    "text",
    "thought",
    "url_context",
]
