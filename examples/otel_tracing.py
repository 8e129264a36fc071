"""Tracing with OpenTelemetry: each run is a tree of spans.

`instrument()` traces every agent: a run is an `invoke_agent` span, with a `chat` span for
each model turn and an `execute_tool` span for each tool call inside it, named and described
as the OpenTelemetry GenAI semantic conventions say. Here the spans go to an in-memory
exporter and are printed as a tree; in production, configure an OTLP exporter instead.

    pip install -e ".[otel]" opentelemetry-sdk   # the SDK: this example exports the spans
    python examples/otel_tracing.py
"""

from _backend import client_for_examples
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentkit import Agent, tool
from agentkit.otel import instrument, uninstrument


@tool
def get_weather(city: str) -> dict:
    """Get the current weather in a city.

    Args:
        city: The city name.
    """
    return {"city": city, "temperature": 21, "sky": "clear"}


@tool
def get_time(city: str) -> str:
    """Get the local time in a city.

    Args:
        city: The city name.
    """
    return f"12:00 in {city}"


def print_tree(spans: list[ReadableSpan]) -> None:
    """Each span under its parent, in the order they started."""
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in sorted(spans, key=lambda span: span.start_time or 0):
        parent = span.parent.span_id if span.parent else None
        children.setdefault(parent, []).append(span)

    def show(parent: int | None, depth: int) -> None:
        for span in children.get(parent, []):
            duration_ms = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
            attributes = dict(span.attributes or {})
            detail = {
                key: value
                for key, value in attributes.items()
                if key in ("gen_ai.tool.call.id", "gen_ai.usage.output_tokens")
            }
            print(f"{'  ' * depth}{span.name}  ({duration_ms:.1f} ms) {detail or ''}".rstrip())
            show(span.context.span_id if span.context else None, depth + 1)

    show(None, 0)


def main() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrument(tracer_provider=provider)  # every agent; include_content=True adds the messages
    try:
        agent = Agent(
            "gemini-3.5-flash",
            tools=[get_weather, get_time],
            client=client_for_examples(),
            name="weather",
        )
        result = agent.run_sync("What is the weather and the time in Paris?")
    finally:
        uninstrument()
    print_tree(list(exporter.get_finished_spans()))
    print(f"Answer: {result.output_text}")


if __name__ == "__main__":
    main()
