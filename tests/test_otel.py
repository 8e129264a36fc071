"""OpenTelemetry spans of agent runs (`agentkit.otel`), exported by the real SDK.

Spans go to the SDK's in-memory exporter; one test exports them over OTLP/HTTP to a
collector-shaped receiver on 127.0.0.1. Nesting is checked through parent span ids.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
from _agent_helpers import MODEL, Driver, Rendezvous
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from agentkit import Agent, PollPolicy, RunError, UsageError, tool
from agentkit.exceptions import APIStatusError, InteractionFailed
from agentkit.otel import instrument, uninstrument
from agentkit.testing import Emulator, Reply, Script, function_call

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
SECRET_PROMPT = "my passport number is X1234567"


@pytest.fixture(params=["async", "sync"])
def run(request: pytest.FixtureRequest) -> Driver:
    return Driver(request.param)


@pytest.fixture
def provider() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    uninstrument()
    provider.shutdown()


@pytest.fixture
def spans(provider: tuple[TracerProvider, InMemorySpanExporter]) -> InMemorySpanExporter:
    """Every agent traced into an in-memory exporter (without content)."""
    instrument(tracer_provider=provider[0])
    return provider[1]


def by_name(exporter: InMemorySpanExporter) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in exporter.get_finished_spans():
        found.setdefault(span.name, []).append(span)
    return found


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


@tool
def get_weather(city: str) -> dict[str, Any]:
    """Get the weather in a city."""
    return {"city": city, "temperature": 21}


# --- the tree of a run -------------------------------------------------------------------------


async def test_a_run_is_an_agent_span_with_its_requests_and_tool_calls_inside(
    run: Driver, spans: InMemorySpanExporter
) -> None:
    emulator = Emulator(Script([function_call("get_weather", {"city": "Paris"}), "Sunny."]))
    agent = Agent(MODEL, tools=[get_weather], client=emulator.async_client(), name="weather")

    result = await run(agent, "Weather in Paris?")

    found = by_name(spans)
    assert sorted(found) == ["chat " + MODEL, "execute_tool get_weather", "invoke_agent weather"]
    (agent_span,) = found["invoke_agent weather"]
    first, second = found["chat " + MODEL]
    (tool_span,) = found["execute_tool get_weather"]
    assert parent_of(agent_span) is None
    assert {parent_of(first), parent_of(second), parent_of(tool_span)} == {span_id(agent_span)}
    assert agent_span.kind == SpanKind.INTERNAL
    assert first.kind == SpanKind.CLIENT
    assert tool_span.kind == SpanKind.INTERNAL
    assert attributes(agent_span) == {
        "gen_ai.usage.reasoning.output_tokens": 0,
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.agent.name": "weather",
        "gen_ai.request.model": MODEL,
        "agentkit.run_id": result.state.run_id,
        "agentkit.run.status": "completed",
        "gen_ai.response.id": result.interaction_id,
        "gen_ai.usage.input_tokens": result.usage.total_input_tokens,
        "gen_ai.usage.output_tokens": result.usage.total_output_tokens,
    }
    interactions = emulator.interactions
    chat = attributes(first)
    assert chat["gen_ai.operation.name"] == "chat"
    assert chat["gen_ai.provider.name"] == "gcp.gemini"
    assert chat["gen_ai.request.model"] == MODEL
    assert [chat["gen_ai.response.id"], attributes(second)["gen_ai.response.id"]] == list(
        interactions
    )
    assert chat["gen_ai.response.finish_reasons"] == ("requires_action",)
    assert attributes(second)["gen_ai.response.finish_reasons"] == ("completed",)
    assert isinstance(chat["gen_ai.usage.input_tokens"], int)
    assert isinstance(chat["gen_ai.usage.output_tokens"], int)
    assert attributes(tool_span) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.call.id": emulator.function_calls[0]["id"],
        "gen_ai.tool.type": "function",
    }
    # In order: the first request, then the tool, then the second request.
    assert first.end_time is not None
    assert tool_span.start_time is not None
    assert first.end_time <= tool_span.start_time
    assert all(span.status.status_code == StatusCode.UNSET for span in spans.get_finished_spans())


async def test_a_span_made_inside_a_tool_is_a_child_of_its_call(
    run: Driver, provider: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    instrument(tracer_provider=provider[0])
    tracer = provider[0].get_tracer("tests.tools")

    def get_weather(city: str) -> str:
        with tracer.start_as_current_span(f"lookup {city}"):
            return "Warm."

    emulator = Emulator(Script([function_call("get_weather", {"city": "Rome"}), "Warm."]))
    agent = Agent(MODEL, tools=[get_weather], client=emulator.async_client())

    await run(agent, "Weather in Rome?")

    found = by_name(provider[1])
    (inner,) = found["lookup Rome"]
    assert parent_of(inner) == span_id(found["execute_tool get_weather"][0])


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_concurrent_tool_calls_are_sibling_spans_each_current_in_its_own_call(
    run: Driver, spans: InMemorySpanExporter, kind: str
) -> None:
    meet = Rendezvous()
    current: dict[str, int] = {}

    async def meet_async(name: str, other: str) -> str:
        current[name] = trace.get_current_span().get_span_context().span_id
        meet[name].set()
        with anyio.fail_after(5):
            await meet[other].wait()  # both calls run at once, or neither returns
        return name

    barrier = threading.Barrier(2, timeout=5)

    def meet_sync(name: str, other: str) -> str:
        current[name] = trace.get_current_span().get_span_context().span_id
        barrier.wait()  # both calls run at once, or neither returns
        return name

    meet_with = meet_async if kind == "async" else meet_sync
    emulator = Emulator(
        Script(
            [
                [
                    function_call("meet", {"name": "a", "other": "b"}),
                    function_call("meet", {"name": "b", "other": "a"}),
                ],
                "Met.",
            ]
        )
    )
    agent = Agent(MODEL, tools=[tool(name="meet")(meet_with)], client=emulator.async_client())

    await run(agent, "Meet.")

    found = by_name(spans)
    (agent_span,) = found["invoke_agent " + MODEL]
    calls = found["execute_tool meet"]
    assert len(calls) == 2
    assert {parent_of(call) for call in calls} == {span_id(agent_span)}
    by_call = {attributes(call)["gen_ai.tool.call.id"]: span_id(call) for call in calls}
    ids = [call["id"] for call in emulator.function_calls]
    assert current == {"a": by_call[ids[0]], "b": by_call[ids[1]]}


async def test_a_streamed_run_has_the_same_tree(spans: InMemorySpanExporter) -> None:
    emulator = Emulator(Script([function_call("get_weather", {"city": "Oslo"}), "Cold."]))
    agent = Agent(MODEL, tools=[get_weather], client=emulator.async_client())

    async for _ in agent.stream("Weather in Oslo?"):
        pass

    found = by_name(spans)
    (agent_span,) = found["invoke_agent " + MODEL]
    assert len(found["chat " + MODEL]) == 2
    children = [*found["chat " + MODEL], *found["execute_tool get_weather"]]
    assert {parent_of(span) for span in children} == {span_id(agent_span)}


async def test_a_stream_stopped_early_ends_its_spans_without_an_error(
    spans: InMemorySpanExporter,
) -> None:
    emulator = Emulator(Script(["A long answer."]))
    agent = Agent(MODEL, client=emulator.async_client())

    events = agent.stream("Talk.")
    await events.__anext__()
    await events.aclose()

    finished = spans.get_finished_spans()
    assert sorted(span.name for span in finished) == ["chat " + MODEL, "invoke_agent " + MODEL]
    assert all(span.status.status_code == StatusCode.UNSET for span in finished)


# --- background interactions -------------------------------------------------------------------


async def test_a_background_turn_is_one_span_with_an_event_per_poll(
    run: Driver, spans: InMemorySpanExporter
) -> None:
    emulator = Emulator(Script(["Done."]), background_polls=3)
    agent = Agent(
        MODEL, client=emulator.async_client(), background=True, poll=PollPolicy(first=0.01)
    )

    result = await run(agent, "Report.")

    (chat,) = by_name(spans)["chat " + MODEL]
    polls = [event for event in chat.events if event.name == "agentkit.poll"]
    assert [dict(event.attributes or {}) for event in polls] == [
        {"agentkit.poll": 1, "agentkit.interaction.status": "in_progress"},
        {"agentkit.poll": 2, "agentkit.interaction.status": "in_progress"},
        {"agentkit.poll": 3, "agentkit.interaction.status": "in_progress"},
        {"agentkit.poll": 4, "agentkit.interaction.status": "completed"},
    ]
    assert attributes(chat)["gen_ai.response.id"] == result.interaction_id


async def test_a_started_run_and_its_awaited_handle_are_two_agent_spans_of_one_run(
    spans: InMemorySpanExporter,
) -> None:
    emulator = Emulator(Script(["Done."]), background_polls=1)
    agent = Agent(MODEL, client=emulator.async_client(), poll=PollPolicy(first=0.01))

    handle = await agent.start("Report.")
    result = await handle

    found = by_name(spans)
    started, awaited = sorted(found["invoke_agent " + MODEL], key=lambda span: span.start_time or 0)
    assert attributes(started)["agentkit.run_id"] == attributes(awaited)["agentkit.run_id"]
    create, polled = sorted(found["chat " + MODEL], key=lambda span: span.start_time or 0)
    assert parent_of(create) == span_id(started)
    assert parent_of(polled) == span_id(awaited)
    assert attributes(create)["agentkit.interaction.pending"] is True
    assert attributes(polled)["gen_ai.response.finish_reasons"] == ("completed",)
    assert attributes(awaited)["gen_ai.response.id"] == result.interaction_id


# --- errors ------------------------------------------------------------------------------------


async def test_a_tool_that_raises_is_an_error_span_and_the_run_goes_on(
    run: Driver, spans: InMemorySpanExporter
) -> None:
    def explode(city: str) -> str:
        raise ValueError(f"no weather for {city}")

    emulator = Emulator(Script([function_call("explode", {"city": "Atlantis"}), "Sorry."]))
    agent = Agent(MODEL, tools=[explode], client=emulator.async_client())

    await run(agent, "Weather in Atlantis?")

    found = by_name(spans)
    (tool_span,) = found["execute_tool explode"]
    assert tool_span.status.status_code == StatusCode.ERROR
    assert tool_span.status.description is None  # the message may hold the arguments
    assert attributes(tool_span)["error.type"] == "ValueError"
    assert found["invoke_agent " + MODEL][0].status.status_code == StatusCode.UNSET


async def test_a_refused_request_is_recorded_on_its_span_and_on_the_run(
    run: Driver, spans: InMemorySpanExporter
) -> None:
    emulator = Emulator(Script(["Hi."]))
    emulator.fail_next(1, 400)
    agent = Agent(MODEL, client=emulator.async_client())

    with pytest.raises(APIStatusError):
        await run(agent, "Hello")

    found = by_name(spans)
    (chat,) = found["chat " + MODEL]
    (agent_span,) = found["invoke_agent " + MODEL]
    for span in (chat, agent_span):
        assert span.status.status_code == StatusCode.ERROR
        assert attributes(span)["error.type"] == "BadRequestError"
        (event,) = [event for event in span.events if event.name == "exception"]
        assert str(dict(event.attributes or {})["exception.type"]).endswith("BadRequestError")


async def test_a_failed_interaction_is_an_error_on_its_turn_and_on_the_run(
    run: Driver, spans: InMemorySpanExporter
) -> None:
    failed = Reply(status="failed", errors=[{"code": "internal", "message": "boom"}])
    emulator = Emulator(Script([failed]))
    agent = Agent(MODEL, client=emulator.async_client())

    with pytest.raises(InteractionFailed):
        await run(agent, "Hello")

    found = by_name(spans)
    (chat,) = found["chat " + MODEL]
    assert chat.status.status_code == StatusCode.ERROR
    assert attributes(chat)["error.type"] == "internal"
    (agent_span,) = found["invoke_agent " + MODEL]
    assert attributes(agent_span)["error.type"] == "InteractionFailed"


async def test_a_cancelled_run_ends_its_spans_as_errors(spans: InMemorySpanExporter) -> None:
    started = anyio.Event()

    async def forever() -> str:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    emulator = Emulator(Script([function_call("forever", {}), "Never."]))
    agent = Agent(MODEL, tools=[forever], client=emulator.async_client())

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(agent.run, "Wait.")
            await started.wait()
            group.cancel_scope.cancel()

    found = by_name(spans)
    for name in ("invoke_agent " + MODEL, "execute_tool forever"):
        (span,) = found[name]
        assert span.status.status_code == StatusCode.ERROR
        assert attributes(span)["error.type"] in {"CancelledError", "Cancelled"}


# --- content -----------------------------------------------------------------------------------


def everything_recorded(exporter: InMemorySpanExporter) -> str:
    values: list[Any] = []
    for span in exporter.get_finished_spans():
        values += [span.name, span.status.description, *attributes(span).values()]
        for event in span.events:
            values += [event.name, *dict(event.attributes or {}).values()]
    return json.dumps(values, default=str)


async def test_no_prompt_answer_or_tool_data_is_recorded_by_default(
    run: Driver, spans: InMemorySpanExporter
) -> None:
    emulator = Emulator(Script([function_call("get_weather", {"city": "Zanzibar"}), "Humid."]))
    agent = Agent(
        MODEL, tools=[get_weather], client=emulator.async_client(), system_instruction="Be terse."
    )

    await run(agent, SECRET_PROMPT)

    recorded = everything_recorded(spans)
    for private in (SECRET_PROMPT, "Zanzibar", "Humid", "Be terse", "temperature"):
        assert private not in recorded


async def test_include_content_records_messages_and_tool_data_as_the_conventions_say(
    run: Driver, provider: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    instrument(tracer_provider=provider[0], include_content=True)
    emulator = Emulator(Script([function_call("get_weather", {"city": "Lima"}), "Mild."]))
    agent = Agent(
        MODEL,
        tools=[get_weather],
        client=emulator.async_client(),
        system_instruction="Be terse.",
        generation_config={"temperature": 0.5, "max_output_tokens": 100},
    )

    await run(agent, "Weather in Lima?")

    found = by_name(provider[1])
    first, second = (attributes(span) for span in found["chat " + MODEL])
    assert json.loads(first["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "Be terse."}
    ]
    assert json.loads(first["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Lima?"}]}
    ]
    call_id = emulator.function_calls[0]["id"]
    assert json.loads(first["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": call_id, "name": "get_weather",
                 "arguments": {"city": "Lima"}}
            ],
            "finish_reason": "requires_action",
        }
    ]  # fmt: skip
    (tool_message,) = json.loads(second["gen_ai.input.messages"])
    assert tool_message["role"] == "tool"
    assert tool_message["parts"][0]["id"] == call_id
    assert json.loads(second["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Mild."}],
            "finish_reason": "completed",
        }
    ]
    assert first["gen_ai.request.temperature"] == 0.5
    assert first["gen_ai.request.max_tokens"] == 100
    tool_span = attributes(found["execute_tool get_weather"][0])
    assert json.loads(tool_span["gen_ai.tool.call.arguments"]) == {"city": "Lima"}
    assert "21" in tool_span["gen_ai.tool.call.result"]


# --- which agents ------------------------------------------------------------------------------


async def test_one_agent_can_be_traced_alone_and_uninstrument_stops_it(
    provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    emulator = Emulator(Script(["One.", "Two.", "Three."]))
    traced = Agent(MODEL, client=emulator.async_client(), name="traced")
    other = Agent(MODEL, client=emulator.async_client(), name="other")

    instrument(traced, tracer_provider=provider[0])
    await traced.run("Hi")
    await other.run("Hi")
    uninstrument(traced)
    await traced.run("Hi")

    assert [span.name for span in provider[1].get_finished_spans()] == [
        "chat " + MODEL,
        "invoke_agent traced",
    ]


async def test_an_agent_traced_alone_uses_its_own_setting_instead_of_the_global_one(
    provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    own = InMemorySpanExporter()
    own_provider = TracerProvider()
    own_provider.add_span_processor(SimpleSpanProcessor(own))
    emulator = Emulator(Script(["One.", "Two."]))
    agent = Agent(MODEL, client=emulator.async_client())

    instrument(tracer_provider=provider[0])
    instrument(agent, tracer_provider=own_provider)
    await agent.run("Hi")
    uninstrument()  # every agent, and each one
    await agent.run("Hi")

    assert provider[1].get_finished_spans() == ()
    assert len(own.get_finished_spans()) == 2


async def test_uninstrument_stops_every_span(spans: InMemorySpanExporter) -> None:
    uninstrument()
    emulator = Emulator(Script(["Hi."]))

    await Agent(MODEL, client=emulator.async_client()).run("Hello")

    assert spans.get_finished_spans() == ()


async def test_instrument_refuses_what_is_not_an_agent() -> None:
    with pytest.raises(UsageError, match="takes an Agent"):
        instrument("gemini")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="takes an Agent"):
        uninstrument(42)  # type: ignore[arg-type]


async def test_an_agent_tool_run_nests_under_the_tool_call(spans: InMemorySpanExporter) -> None:
    emulator = Emulator(
        Script([function_call("helper", {"request": "sum"}), "Inner answer.", "Outer answer."])
    )
    inner = Agent(MODEL, client=emulator.async_client(), name="inner")
    outer = Agent(
        MODEL,
        tools=[inner.as_tool(name="helper", description="Helps.")],
        client=emulator.async_client(),
        name="outer",
    )

    await outer.run("Go.")

    found = by_name(spans)
    (call,) = found["execute_tool helper"]
    (inner_span,) = found["invoke_agent inner"]
    assert parent_of(inner_span) == span_id(call)
    assert parent_of(call) == span_id(found["invoke_agent outer"][0])


async def test_a_run_error_in_the_middle_ends_every_open_span(spans: InMemorySpanExporter) -> None:
    emulator = Emulator(Script([function_call("get_weather", {"city": "Paris"})] * 3))
    agent = Agent(MODEL, tools=[get_weather], client=emulator.async_client(), max_turns=2)

    with pytest.raises(RunError):
        await agent.run("Loop.")

    names = [span.name for span in spans.get_finished_spans()]
    assert names.count("invoke_agent " + MODEL) == 1
    assert names[-1] == "invoke_agent " + MODEL


# --- export over OTLP/HTTP ---------------------------------------------------------------------


class _Collector(BaseHTTPRequestHandler):
    received: list[ExportTraceServiceRequest]

    def do_POST(self) -> None:  # the name http.server calls
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            self.received.append(request)
            self.send_response(200)
        else:
            self.send_response(404)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_spans_arrive_at_an_otlp_http_collector() -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    received: list[ExportTraceServiceRequest] = []
    handler = type("Collector", (_Collector,), {"received": received})
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            port = server.server_address[1]
            provider = TracerProvider()
            exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            emulator = Emulator(Script([function_call("get_weather", {"city": "Kyiv"}), "Ok."]))
            instrument(tracer_provider=provider)
            try:
                with emulator.client() as client:
                    Agent(MODEL, tools=[get_weather], client=client).run_sync("Weather?")
            finally:
                uninstrument()
                provider.shutdown()
        finally:
            server.shutdown()

    spans = [
        span
        for request in received
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    names = sorted(span.name for span in spans)
    assert names == ["chat " + MODEL] * 2 + ["execute_tool get_weather", "invoke_agent " + MODEL]
    root = next(span for span in spans if span.name.startswith("invoke_agent"))
    assert all(span.parent_span_id == root.span_id for span in spans if span is not root)
    scopes = {
        scope.scope.name for r in received for s in r.resource_spans for scope in s.scope_spans
    }
    assert scopes == {"agentkit.otel"}


# --- the example -------------------------------------------------------------------------------


def test_the_tracing_example_prints_the_span_tree() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "otel_tracing.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("Backend: built-in emulator")
    assert lines[1].startswith("invoke_agent weather")
    assert any(line.startswith("  chat ") for line in lines)
    assert any(line.startswith("  execute_tool get_weather") for line in lines)
