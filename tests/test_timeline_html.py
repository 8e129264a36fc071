"""A run as one self-contained HTML page, as a Jupyter view, and through `agentkit view`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from _timeline_helpers import CALL_IDS, MODEL, embedded_data, multi_tool_run, weather

from agentkit import Agent, Client, RunResult, RunState, _cli, tool
from agentkit._cli import main

# A page of a bare saved state is what `agentkit view` writes: rendered here without the CLI.
from agentkit._timeline_html import inline, page
from agentkit.testing import Emulator, Script, function_call


def test_the_page_carries_the_run_as_json(tmp_path: Path) -> None:
    result = multi_tool_run()
    path = tmp_path / "run.html"

    html = result.to_html(path)

    assert path.read_text(encoding="utf-8") == html
    assert html.startswith("<!DOCTYPE html>")
    data = embedded_data(html)
    assert data["status"] == "completed"
    assert data["spans"] == result.state.timeline
    assert data["started_at"] == result.state.started_at
    assert data["usage"]["total_tokens"] == result.usage.total_tokens
    calls = [step["id"] for step in data["steps"] if step["type"] == "function_call"]
    assert calls == CALL_IDS
    assert [step["interaction_id"] for step in data["steps"]] == result.step_interaction_ids


def test_the_page_needs_no_network() -> None:
    html = multi_tool_run().to_html()

    assert "://" not in html
    assert not re.search(r"\b(src|href)\s*=|@import|url\(", html)


def test_text_from_the_model_and_tools_cannot_end_the_script_block() -> None:
    hostile = "</script><script>document.title='owned'</script><!-- \u2028 &amp;"

    @tool
    def echo() -> str:
        """Return something nasty."""
        return hostile

    emulator = Emulator(Script([function_call("echo", {}), hostile]))
    with emulator.client() as client:
        result = Agent(MODEL, tools=[echo], client=client).run_sync(hostile)

    html = result.to_html()

    assert html.count("</script") == 2  # the JSON block's end and the page script's end
    assert "<!--" not in html
    data = embedded_data(html)
    # The prompt, the tool result and the answer come back intact.
    assert json.dumps(data["steps"], ensure_ascii=False).count(hostile) == 3


def test_the_page_leaves_out_credentials_and_bulky_data() -> None:
    secret = "Bearer sk-do-not-show"
    state = RunState(
        outbox={"tools": [{"type": "mcp_server", "headers": {"Authorization": secret}}]},
        history=[{"type": "user_input", "content": [{"type": "text", "text": secret}]}],
        steps=[{"type": "thought", "signature": "s" * 5000, "summary": []}],
    )

    saved = page(state)

    assert secret not in saved
    assert "s" * 5000 not in saved
    assert embedded_data(saved)["steps"][0]["signature"] == "[5,000 characters]"


def test_a_saved_state_shows_the_last_status_it_received() -> None:
    state = RunState.from_json(multi_tool_run().state.to_json())

    assert embedded_data(page(state))["status"] == "completed"
    assert embedded_data(page(RunState()))["status"] is None


def jupyter_view(result: RunResult[Any]) -> str:
    """What Jupyter shows for `result` (its display protocol calls `_repr_html_`)."""
    return result._repr_html_()  # pyright: ignore[reportPrivateUsage]


def test_jupyter_shows_a_compact_timeline_without_scripts() -> None:
    result = multi_tool_run()

    view = jupyter_view(result)

    assert "<script" not in view
    assert "completed: 2 turns, 3 tool calls (1 failed), 1 retry" in view
    assert view.count("<tr") == len(result.state.timeline)
    for label in ("turn 1", "turn 2", "weather", "broken"):
        assert f">{label}</td>" in view
    assert 'title="ValueError: no luck: storm"' in view
    assert "\u21bb1" in view  # the retried request


def test_jupyter_shows_the_first_spans_of_a_long_run() -> None:
    calls = [function_call("weather", {"city": f"c{n}"}) for n in range(70)]
    emulator = Emulator(Script([calls, "Done."]))
    with emulator.client() as client:
        result = Agent(MODEL, tools=[weather], client=client).run_sync("All.")

    view = jupyter_view(result)

    assert view.count("<tr") == 61
    assert "... 12 more (to_html())" in view


def test_a_state_without_timings_says_so() -> None:
    assert "No timings were recorded." in inline(RunState())


# -- agentkit view / agentkit run --save -----------------------------------------------------------


def test_view_writes_the_page_of_a_saved_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "run.json"
    saved.write_text(multi_tool_run().state.to_json(), encoding="utf-8")

    assert main(["view", str(saved)]) == 0

    written = tmp_path / "run.html"
    assert capsys.readouterr().out.strip() == str(written)
    assert embedded_data(written.read_text(encoding="utf-8"))["status"] == "completed"
    assert main(["view", str(saved), "-o", str(tmp_path / "other.html")]) == 0
    assert (tmp_path / "other.html").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{", "is not a saved run (RunState JSON)"),
        ('{"steps": 3}', "is not a saved run (RunState JSON): Input should be a valid array"),
    ],
)
def test_view_refuses_what_is_not_a_saved_run_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    source = tmp_path / "run.json"
    if content is not None:
        source.write_text(content, encoding="utf-8")

    assert main(["view", str(source)]) == 2

    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_view_says_when_it_cannot_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "run.json"
    saved.write_text(RunState().to_json(), encoding="utf-8")

    assert main(["view", str(saved), "-o", str(tmp_path / "missing" / "run.html")]) == 2

    assert "cannot write" in capsys.readouterr().err


def test_run_saves_its_state_for_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    assert main(["run", "Hi", "--offline", "--save", "run.json"]) == 0

    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("agentkit: completed: 1 turn, 0 tool calls, ")
    state = RunState.from_json((tmp_path / "run.json").read_bytes())
    assert [span["kind"] for span in state.timeline] == ["request"]
    assert main(["view", "run.json"]) == 0


def test_a_failed_run_saves_what_it_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator = Emulator()
    emulator.fail_next(1, 400)

    def client(*, offline: bool) -> tuple[Client, str]:
        return emulator.client(), "Backend: a test emulator"

    monkeypatch.setattr(_cli, "_client", client)
    saved = tmp_path / "run.json"

    assert main(["run", "Hi", "--save", str(saved)]) == 1

    assert "400" in capsys.readouterr().err
    (span,) = RunState.from_json(saved.read_bytes()).timeline
    assert span["error"] == "Error code: 400 - Injected fault."
