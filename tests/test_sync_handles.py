"""Background runs from synchronous code: `Agent.start_sync()`, and a handle's `result_sync()`,
`poll_sync()` and `cancel_sync()` (for a handle of `attach()` too)."""

from __future__ import annotations

from typing import Any

import pytest
from _agent_bg_helpers import MODEL, calls_summary, creates
from pydantic import BaseModel

from agentkit import Agent, RunHandle, tool
from agentkit.exceptions import APIStatusError, InteractionFailed
from agentkit.testing import Emulator, Reply, Script, function_call, text
from agentkit.types import Interaction

WEATHER_SCRIPT = [function_call("get_weather", {"city": "Paris"}), "Sunny in Paris."]


def weather_agent(emulator: Emulator, calls: list[str], **client: Any) -> Agent[Any, Any]:
    @tool
    def get_weather(city: str) -> str:
        """Weather in a city."""
        calls.append(city)
        return "sunny"

    return Agent(MODEL, tools=[get_weather], client=emulator.client(**client))


def test_start_sync_returns_a_handle_to_poll_and_wait_for() -> None:
    emulator = Emulator(Script(WEATHER_SCRIPT), background_polls=2)
    calls: list[str] = []
    agent = weather_agent(emulator, calls)

    handle = agent.start_sync("Weather in Paris?")
    assert isinstance(handle, RunHandle)
    assert handle.interaction_id == "v1_emu_0001"
    assert calls_summary(emulator) == [("POST", "create")]
    polled = handle.poll_sync()
    assert isinstance(polled, Interaction)
    assert (polled.id, polled.status) == ("v1_emu_0001", "in_progress")

    result = handle.result_sync()

    assert result.status == "completed"
    assert result.output_text == "Sunny in Paris."
    assert calls == ["Paris"]
    assert all(body["background"] is True for body in creates(emulator))


def test_a_sync_handle_gives_the_same_result_every_time() -> None:
    emulator = Emulator(Script(["Hello."]), background_polls=1)
    handle = Agent(MODEL, client=emulator.client()).start_sync("Hi.")

    first = handle.result_sync()
    requests = len(emulator.requests)
    second = handle.result_sync()

    assert second is first
    assert len(emulator.requests) == requests


def test_a_failed_sync_handle_raises_the_same_error_every_time() -> None:
    failure = Reply([text("Half")], status="failed", errors=[{"code": "internal", "message": "x"}])
    emulator = Emulator(Script([failure]), background_polls=1)
    handle = Agent(MODEL, client=emulator.client()).start_sync("Go.")

    with pytest.raises(InteractionFailed) as first:
        handle.result_sync()
    with pytest.raises(InteractionFailed) as second:
        handle.result_sync()

    assert second.value is first.value


def test_a_sync_wait_the_api_gave_up_on_goes_on_when_called_again() -> None:
    emulator = Emulator(Script(WEATHER_SCRIPT), background_polls=1)
    calls: list[str] = []
    agent = weather_agent(emulator, calls, max_retries=0)
    handle = agent.start_sync("Weather in Paris?")
    emulator.fail_next(1, status=503)

    with pytest.raises(APIStatusError):
        handle.result_sync()
    result = handle.result_sync()

    assert result.output_text == "Sunny in Paris."
    assert calls == ["Paris"]
    assert len(creates(emulator)) == 2  # the first interaction was fetched, not made again


def test_cancel_sync_cancels_the_server_interaction() -> None:
    emulator = Emulator(Script(["Never delivered."]), background_polls=10)
    handle = Agent(MODEL, client=emulator.client()).start_sync("Write a long essay.")

    result = handle.cancel_sync()

    assert result.status == "cancelled"
    assert calls_summary(emulator) == [("POST", "create"), ("POST", "cancel v1_emu_0001")]
    assert emulator.interactions["v1_emu_0001"]["status"] == "cancelled"


def test_a_run_started_elsewhere_is_attached_and_finished_from_sync_code() -> None:
    emulator = Emulator(Script(WEATHER_SCRIPT), background_polls=2)
    starter_calls: list[str] = []
    saved_id = weather_agent(emulator, starter_calls).start_sync("Weather?").interaction_id

    worker_calls: list[str] = []
    result = weather_agent(emulator, worker_calls).attach(saved_id).result_sync()

    assert result.output_text == "Sunny in Paris."
    assert (starter_calls, worker_calls) == ([], ["Paris"])
    assert creates(emulator)[1]["previous_interaction_id"] == saved_id


class Forecast(BaseModel):
    city: str


def test_start_sync_takes_the_settings_of_a_run() -> None:
    emulator = Emulator(Script(['{"city": "Oslo"}']), background_polls=1)
    agent = Agent(MODEL, client=emulator.client())

    result = agent.start_sync(
        "Oslo", output_type=Forecast, system_instruction="JSON."
    ).result_sync()

    assert result.output == Forecast(city="Oslo")
    assert creates(emulator)[0]["system_instruction"] == "JSON."
