"""agentkit's pytest plugin, as a user's test suite sees it (run with pytester).

Each test writes a small test module of a user's project and runs pytest on it, in this
process or in a fresh one. The plugin is loaded as users get it: through the `pytest11` entry
point of the installed distribution.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpcore
import pytest
from _offline import check_fence

from agentkit import _client

# The guard's own predicates are pure: checked directly, one table each.
from agentkit.testing._pytest_plugin import is_google_host, looks_real

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "tests" / "test_my_agent.py"
# Shaped like a real Google API key ("AIza" and 35 more), with no placeholder word in it.
REAL_KEY = "AIzaSyB7q9Wk2LmXv4Rt8Np3Hs6Jd1Fg5Zc0Ye_"
REAL_TOKEN = "ya29.a0AfB_byC4kL9mPq2RsT7uVw"
# Hypothesis's plugin spends seconds on its summary at the end of every run; these need none.
RUN_ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--strict-markers")

HEADER = f"""
import os
import httpx
import pytest
from agentkit import Agent, AsyncClient, Client
from agentkit.testing import Emulator, function_call, text

REAL_KEY = {REAL_KEY!r}
REAL_TOKEN = {REAL_TOKEN!r}
"""


def write(pytester: pytest.Pytester, body: str) -> None:
    (pytester.path / "test_user.py").write_text(HEADER + body, encoding="utf-8")


def assert_key_nowhere(result: pytest.RunResult) -> None:
    output = result.stdout.str() + result.stderr.str()
    assert REAL_KEY not in output
    assert REAL_TOKEN not in output
    assert REAL_KEY[4:20] not in output  # no part of it either


# -- the fixtures ---------------------------------------------------------------------------


def test_the_fixtures_run_a_scripted_agent_and_close_the_client(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        """
from agentkit import tool

@tool
def get_weather(city: str) -> dict:
    '''Get the weather.'''
    return {"city": city, "sky": "sunny"}

USED = []

def test_a_scripted_run(agentkit_client, agentkit_script, agentkit_emulator):
    script = agentkit_script(function_call("get_weather", {"city": "Paris"}), "Sunny.")
    agent = Agent("gemini-3.5-flash", tools=[get_weather], client=agentkit_client)
    assert agent.run_sync("Weather?").output_text == "Sunny."
    assert script.remaining == 0
    assert agentkit_emulator.function_results[0]["name"] == "get_weather"
    USED.append(agentkit_client)

def test_each_test_gets_a_fresh_emulator_and_the_last_client_was_closed(agentkit_emulator):
    assert agentkit_emulator.requests == []
    with pytest.raises(RuntimeError, match="closed"):
        USED[0].interactions.create(model="m", input="hi")
""",
    )
    result = pytester.runpytest(*RUN_ARGS)
    result.assert_outcomes(passed=2)


def test_the_async_client_fixture_works_on_asyncio_and_trio(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        """
USED = []

@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param

@pytest.mark.anyio
async def test_an_async_run(agentkit_async_client, agentkit_script, agentkit_emulator):
    agentkit_script("Hello.")
    result = await Agent("gemini-3.5-flash", client=agentkit_async_client).run("Hi")
    assert result.output_text == "Hello."
    assert len(agentkit_emulator.requests) == 1
    USED.append(agentkit_async_client)

@pytest.mark.anyio
async def test_the_async_clients_were_closed():
    assert len(USED) == 2
    for client in USED:
        with pytest.raises(RuntimeError, match="closed"):
            await client.interactions.create(model="m", input="hi")
""",
    )
    result = pytester.runpytest(*RUN_ARGS)
    result.assert_outcomes(passed=4)


def test_a_script_too_short_fails_the_test_saying_so(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        """
def test_two_turns_one_reply(agentkit_client, agentkit_script):
    agentkit_script(function_call("missing_tool", {}))
    Agent("gemini-3.5-flash", client=agentkit_client).run_sync("Hi")
""",
    )
    result = pytester.runpytest(*RUN_ARGS)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ScriptExhausted*"])


# -- the guard: keys --------------------------------------------------------------------------


def test_a_real_looking_key_fails_the_test_without_showing_it(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        """
from pydantic import SecretStr

def test_api_key():
    Client(api_key=REAL_KEY, transport=Emulator())

def test_secret_str():
    AsyncClient(api_key=SecretStr(REAL_KEY), transport=Emulator())

def test_key_header():
    Client(headers={"X-Goog-Api-Key": REAL_KEY}, transport=Emulator())

def test_bearer_token():
    Client(headers={"Authorization": f"Bearer {REAL_TOKEN}"}, transport=Emulator())

def test_key_the_test_put_in_the_environment(monkeypatch):
    monkeypatch.setenv("GOOGLE_API_KEY", REAL_KEY)
    Client(transport=Emulator())

def test_an_agent_building_its_own_client(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", REAL_KEY)
    Agent("gemini-3.5-flash").run_sync("Hi")
""",
    )
    result = pytester.runpytest(*RUN_ARGS, "--showlocals")  # frames' variables would show keys
    result.assert_outcomes(failed=6)
    result.stdout.fnmatch_lines(
        [
            "*looks like a real Google API key (passed as api_key=)*",
            "*looks like a real Google API key (passed in the X-Goog-Api-Key header)*",
            "*looks like a real Google API key (passed in the Authorization header)*",
            "*looks like a real Google API key (read from GOOGLE_API_KEY, which the test set)*",
            "*use the agentkit_client / agentkit_async_client fixtures (the emulator), or mark "
            "the test with @pytest.mark.agentkit_live*",
        ],
        consecutive=False,
    )
    assert_key_nowhere(result)


def test_obvious_test_keys_pass(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        """
@pytest.mark.parametrize(
    "key", ["test-key", "k", "AIzaSy-FOUNDATION-secret-key-0123456789", "AIza" + "x" * 35]
)
def test_key(key):
    with Client(api_key=key, transport=Emulator()) as client:
        assert client.interactions.create(model="m", input="hi").status == "completed"

def test_a_test_key_in_the_environment(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "test-key")
    Client(transport=Emulator()).close()
""",
    )
    result = pytester.runpytest(*RUN_ARGS)
    result.assert_outcomes(passed=5)


def test_the_shell_key_is_hidden_from_tests_and_its_absence_explained(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", REAL_KEY)
    monkeypatch.setenv("GOOGLE_API_KEY", REAL_KEY)
    write(
        pytester,
        """
import subprocess, sys

def test_the_environment_has_no_key():
    assert "GEMINI_API_KEY" not in os.environ and "GOOGLE_API_KEY" not in os.environ
    code = "import os; print(os.environ.get('GEMINI_API_KEY'))"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.stdout.strip() == "None"  # nor has a program the test starts

def test_a_client_relying_on_it():
    Client(transport=Emulator())
""",
    )
    result = pytester.runpytest(*RUN_ARGS)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*builds a client without an API key, and GEMINI_API_KEY and GOOGLE_API_KEY are "
            "hidden from tests, so that your environment's real key never reaches one*"
        ]
    )
    assert_key_nowhere(result)
    assert os.environ["GEMINI_API_KEY"] == REAL_KEY  # given back after the run


def test_without_any_key_agentkit_says_so_as_usual(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        """
def test_no_key():
    Client(transport=Emulator())
""",
    )
    result = pytester.runpytest(*RUN_ARGS)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*UsageError: No API key*"])


# -- the guard: hosts -------------------------------------------------------------------------


def test_a_request_to_a_google_host_fails_before_it_leaves(pytester: pytest.Pytester) -> None:
    # The inner run shares this process, so the suite's fence stands behind the guard: even a
    # broken guard could not reach Google. Proven here (without any network), not assumed.
    check_fence()
    write(
        pytester,
        """
@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param

def test_the_default_host():
    with Client(api_key="test-key", max_retries=0) as client:
        client.interactions.create(model="m", input="hi")

@pytest.mark.anyio
async def test_the_default_host_async():
    async with AsyncClient(api_key="test-key", max_retries=0) as client:
        await client.interactions.create(model="m", input="hi")

@pytest.mark.parametrize(
    "base_url", ["https://us-central1-aiplatform.googleapis.com", "http://www.google.com."]
)
def test_other_google_hosts(base_url):
    with Client(api_key="test-key", base_url=base_url, max_retries=0) as client:
        client.interactions.get("v1_abc")

def test_an_agent_run():
    Agent("gemini-3.5-flash", client=Client(api_key="test-key")).run_sync("Hi")

@pytest.mark.anyio
async def test_an_agent_stream():
    agent = Agent("gemini-3.5-flash", client=AsyncClient(api_key="test-key"))
    async for _ in agent.stream("Hi"):
        pass

def test_through_the_users_own_httpx_client():
    with Client(api_key="test-key", http_client=httpx.Client()) as client:
        client.interactions.create(model="m", input="hi")
""",
    )
    result = pytester.runpytest(*RUN_ARGS)
    result.assert_outcomes(failed=9)
    result.stdout.fnmatch_lines(
        [
            "*sent a request to generativelanguage.googleapis.com, a real Google host*",
            "*sent a request to us-central1-aiplatform.googleapis.com*",
            "*sent a request to www.google.com.*",
        ],
        consecutive=False,
    )
    # Refused by the guard, not by a failed connection (the machine is offline).
    assert "ConnectError" not in result.stdout.str()
    assert "APIConnectionError" not in result.stdout.str()


def test_in_process_transports_and_loopback_servers_are_not_blocked(
    pytester: pytest.Pytester,
) -> None:
    write(
        pytester,
        """
def test_the_emulator_as_transport_on_the_default_host():
    with Client(api_key="test-key", transport=Emulator()) as client:
        assert client.base_url == "https://generativelanguage.googleapis.com"
        client.interactions.create(model="m", input="hi")

def test_a_mock_transport():
    answer = {"id": "v1_1", "status": "completed", "steps": []}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    with Client(api_key="test-key", transport=transport) as client:
        assert client.interactions.create(model="m", input="hi").id == "v1_1"

def test_the_emulator_served_on_127_0_0_1():
    emulator = Emulator()
    with emulator.serve() as base_url, Client(api_key="test-key", base_url=base_url) as client:
        client.interactions.create(model="m", input="hi")
    assert len(emulator.requests) == 1
""",
    )
    result = pytester.runpytest(*RUN_ARGS)
    result.assert_outcomes(passed=3)


def test_the_guard_is_undone_after_each_test(pytester: pytest.Pytester) -> None:
    resolve = vars(_client)["resolve_api_key"]
    handle = vars(httpcore.ConnectionPool)["handle_request"]
    write(pytester, "def test_nothing():\n    pass\n")
    pytester.runpytest(*RUN_ARGS).assert_outcomes(passed=1)
    assert vars(_client)["resolve_api_key"] is resolve
    assert vars(httpcore.ConnectionPool)["handle_request"] is handle


# -- opting in --------------------------------------------------------------------------------

LIVE_TEST = """
def test_live(monkeypatch):
    assert os.environ.get("GEMINI_API_KEY") == REAL_KEY  # the shell's key, not hidden
    # Still offline here: "live" is the emulator on 127.0.0.1, requiring the real-looking key.
    emulator = Emulator(api_key=REAL_KEY)
    with emulator.serve() as base_url, Client(base_url=base_url) as client:
        assert client.interactions.create(model="m", input="hi").status == "completed"
    assert len(emulator.requests) == 1
"""


# The outer test opts in too: its own guard would otherwise see the real-looking key.
@pytest.mark.agentkit_live
def test_a_marked_test_may_use_a_real_key(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", REAL_KEY)
    write(pytester, "\n@pytest.mark.agentkit_live" + LIVE_TEST)
    result = pytester.runpytest(*RUN_ARGS)
    result.assert_outcomes(passed=1)


@pytest.mark.agentkit_live
def test_the_marker_applies_to_a_whole_module(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", REAL_KEY)
    write(pytester, "\npytestmark = pytest.mark.agentkit_live\n" + LIVE_TEST)
    result = pytester.runpytest(*RUN_ARGS)
    result.assert_outcomes(passed=1)


@pytest.mark.agentkit_live
@pytest.mark.parametrize(
    ("args", "ini"),
    [
        (["--agentkit-allow-live"], None),
        ([], "[pytest]\nagentkit_allow_live = true\n"),
    ],
    ids=["option", "ini"],
)
def test_live_access_can_be_allowed_for_the_whole_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str], ini: str | None
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", REAL_KEY)
    if ini is not None:
        pytester.makeini(ini)
    write(pytester, LIVE_TEST)
    result = pytester.runpytest(*RUN_ARGS, *args)
    result.assert_outcomes(passed=1)


def test_without_the_plugin_there_are_no_fixtures(pytester: pytest.Pytester) -> None:
    write(pytester, "def test_client(agentkit_client):\n    pass\n")
    result = pytester.runpytest(*RUN_ARGS, "-p", "no:agentkit")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'agentkit_client' not found*"])


# -- in a fresh process, as installed ---------------------------------------------------------


def test_a_fresh_pytest_loads_the_plugin_without_importing_agentkit(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
import sys

def pytest_collection_finish(session):
    print("agentkit imported at collection:", "agentkit" in sys.modules)
"""
    )
    (pytester.path / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess(*RUN_ARGS, "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*agentkit imported at collection: False*"])

    helped = pytester.runpytest_subprocess("-p", "no:hypothesispytest", "--help")
    helped.stdout.fnmatch_lines(["*--agentkit-allow-live*"])
    listed = pytester.runpytest_subprocess("-p", "no:hypothesispytest", "--markers")
    listed.stdout.fnmatch_lines(["*@pytest.mark.agentkit_live*"])


def test_a_fresh_pytest_process_guards_too(pytester: pytest.Pytester) -> None:
    write(pytester, "def test_real_key():\n    Client(api_key=REAL_KEY, transport=Emulator())\n")
    result = pytester.runpytest_subprocess(*RUN_ARGS)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*looks like a real Google API key*"])
    assert_key_nowhere(result)


def test_importing_the_plugin_module_leaves_agentkit_unloaded() -> None:
    code = "import json, sys, _agentkit_pytest_plugin; print(json.dumps(sorted(sys.modules)))"
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(completed.stdout)
    assert [name for name in loaded if name.startswith(("agentkit", "httpx", "pydantic"))] == []


def test_the_example_of_a_users_tests_passes() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", *RUN_ARGS, "-q", str(EXAMPLE)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "4 passed" in completed.stdout


# -- what counts as real ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credential", "real"),
    [
        (REAL_KEY, True),
        (f"  {REAL_KEY}\n", True),
        (f"Bearer {REAL_TOKEN}", True),
        (REAL_TOKEN, True),
        (REAL_KEY[:-1], False),  # one character short
        (REAL_KEY + "A", False),
        ("AIzaSy-DISTINCTIVE-test-key-012345678", False),
        ("AIzaSyFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEF", False),
        ("AIzaSy-PLANTED/key+01234567890123456789", False),  # "/" and "+" are not in keys
        ("test-key", False),
        ("", False),
        ("Bearer ", False),
    ],
)
def test_what_looks_like_a_real_credential(credential: str, real: bool) -> None:
    assert looks_real(credential) is real


@pytest.mark.parametrize(
    ("host", "google"),
    [
        ("generativelanguage.googleapis.com", True),
        ("GenerativeLanguage.GoogleAPIs.com.", True),
        ("europe-west4-aiplatform.googleapis.com", True),
        ("googleapis.com", True),
        ("www.google.com", True),
        ("notgoogleapis.com", False),
        ("google.com.example.org", False),
        ("127.0.0.1", False),
        ("emulator.invalid", False),
    ],
)
def test_which_hosts_are_googles(host: str, google: bool) -> None:
    assert is_google_host(host) is google
