"""What a run did, and when: `RunResult.timeline` and its spans.

Each request (with its retries and stream resumptions), each poll of a background run and
each tool call is a `Span`, timed in seconds since the run started. They are kept in the
run's state (`RunState.timeline`), so a partial result, a saved state and a resumed run carry
them. `RunResult.to_html(path)` (or `agentkit view run.json`) draws them as a page.
"""

from agentkit._spans import Retry, Span, Timeline

__all__ = ["Retry", "Span", "Timeline"]
