"""The run page in a real browser: headless Chromium builds it without a script error.

Chromium is Debian's `chromium` package (`.ci/run` installs it): in CI (`CI=true`) a missing
browser fails these tests, elsewhere it skips them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from _timeline_helpers import CALL_IDS, multi_tool_run

# Without the networking switches Chromium waits on the closed network of CI machines.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing: `apt-get install chromium` (.ci/run does)")
        pytest.skip("chromium is not installed")
    return found


def browse(
    chromium: str, tmp_path: Path, page: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    completed = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed


def test_the_page_builds_every_tool_call_without_a_script_error(
    chromium: str, tmp_path: Path
) -> None:
    result = multi_tool_run(background=True)
    polls = [span for span in result.timeline.spans if span.kind == "poll"]
    assert len(polls) == 4  # each of the two turns polled twice
    page = tmp_path / "run.html"
    result.to_html(page)

    dom = browse(chromium, tmp_path, page, "--dump-dom").stdout

    assert 'data-ready="true"' in dom
    assert 'id="agentkit-script-error"' not in dom
    for call_id in CALL_IDS:  # attributes only the page's script writes
        assert f'data-call-id="{call_id}"' in dom
        assert f'data-step-call-id="{call_id}"' in dom
    assert dom.count('data-kind="request"') == 2
    assert dom.count('data-kind="poll"') == len(polls)


def test_a_script_error_shows_in_the_page(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    html = multi_tool_run().to_html()
    page.write_text(
        html.replace('id="agentkit-data">', 'id="agentkit-data">{', 1), encoding="utf-8"
    )

    dom = browse(chromium, tmp_path, page, "--dump-dom").stdout

    assert 'id="agentkit-script-error"' in dom
    assert 'data-ready="true"' not in dom


def test_the_page_renders_as_a_screenshot(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "run.html"
    multi_tool_run().to_html(page)
    shot = tmp_path / "run.png"

    browse(chromium, tmp_path, page, f"--screenshot={shot}", "--window-size=1200,900")

    image = shot.read_bytes()
    assert image.startswith(PNG)
    assert len(image) > 20_000  # a blank page is a few kilobytes
