"""The `function_result` step that answers a call with an error, for the model to act on.

Pure (wire models only), so the sans-IO loop and the tool code below it share this one helper.
"""

from __future__ import annotations

from agentkit.types import FunctionCallStep, FunctionResultStep, TextContent

__all__ = ["error_result"]


def error_result(call: FunctionCallStep, text: str) -> FunctionResultStep:
    """A `function_result` with `is_error: true` answering `call` with `text`."""
    return FunctionResultStep(
        call_id=call.id or "", name=call.name, result=[TextContent(text=text)], is_error=True
    )
