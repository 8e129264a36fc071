"""What `import agentkit` loads and builds, and that building the wire models late is invisible.

Each check runs in a fresh interpreter, since this test process has imported everything already.
No timing is asserted: these pin down the behaviour that keeps the import light.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import agentkit
import agentkit.types

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str) -> Any:  # the JSON value the code prints
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_import_agentkit_leaves_out_what_only_some_programs_use() -> None:
    loaded: list[str] = run_python(
        "import json, sys\nimport agentkit\nprint(json.dumps(sorted(sys.modules)))"
    )
    # What the dependencies load themselves is theirs: httpx < 0.28 reads certifi's bundle at
    # import, and importlib.resources brings zipfile.
    theirs: list[str] = run_python(
        "import json, sys\nimport anyio, docstring_parser, httpcore, httpx, pydantic, sniffio\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    for module in [
        "sqlite3",  # SQLiteJournal opens it
        "agentkit._streaming",  # the stream's modules and models: the first stream loads them
        "agentkit._client_stream",
        "agentkit._run_stream",
        "agentkit.types._deltas",
        "agentkit.types._events",
        "agentkit._files",  # the Files API: the first `client.files` loads it
        "agentkit._client_files",
        "zipfile",  # sniffing ZIP-based documents
        "agentkit.testing",
        "agentkit.journal",
        "agentkit._cli",
        "jsonschema",
        "hypothesis",
        "google.genai",
        "agentkit.contrib",  # the integrations, each behind its own extra
        "temporalio",
        "agentkit.otel",
        "opentelemetry",
        "agentkit.mcp",
        "mcp",
        "agentkit.cli",  # the terminal view and the run page are the CLI's
        "rich",
        "agentkit._timeline_html",
    ]:
        assert module not in loaded or module in theirs, module
    assert "agentkit._agent" in loaded  # the core is imported eagerly, not behind __getattr__
    # httpcore (and trio with it, when installed) loads with the first async client, unless
    # httpx itself imports it (httpx < 0.28 does).
    by_httpx: list[str] = run_python(
        "import json, sys, httpx\nprint(json.dumps(sorted(sys.modules)))"
    )
    for module in ["httpcore", "trio"]:
        assert module not in loaded or module in by_httpx, module


def test_import_agentkit_itself_loads_no_optional_integration_nor_the_test_kit() -> None:
    # The test extras install click, rich and pygments, which httpx's command line uses.
    loaded: list[str] = run_python(
        "import json, sys\nimport agentkit\nprint(json.dumps(sorted(sys.modules)))"
    )
    optional = ["rich", "click", "pygments", "agentkit.cli", "agentkit._timeline_html"]
    optional += ["agentkit.testing", "hypothesis", "jsonschema", "agentkit.mcp", "mcp"]
    optional += ["agentkit.otel", "opentelemetry", "agentkit.contrib", "temporalio"]
    for module in optional:
        assert not any(name == module or name.startswith(f"{module}.") for name in loaded), module
    assert "agentkit._agent" in loaded


def test_no_wire_model_is_built_at_import() -> None:
    built: list[str] = run_python(
        "import json\n"
        "import agentkit\n"
        "from agentkit.types import Event  # the stream's models too, loaded on first use\n"
        "from pydantic import BaseModel\n"
        "def subclasses(cls):\n"
        "    for sub in cls.__subclasses__():\n"
        "        yield sub\n"
        "        yield from subclasses(sub)\n"
        "models = [m for m in subclasses(BaseModel) if m.__module__.startswith('agentkit')]\n"
        "assert len(models) > 80, len(models)\n"
        "print(json.dumps([m.__name__ for m in models if m.__pydantic_complete__]))"
    )
    assert built == []


def test_the_first_use_builds_the_nested_models_first() -> None:
    built: dict[str, bool] = run_python(
        "import json\n"
        "from agentkit.types import Interaction, TextContent, Usage, UrlCitation, TextDelta\n"
        "Interaction.model_validate({})\n"
        "print(json.dumps({m.__name__: m.__pydantic_complete__\n"
        "    for m in (Interaction, TextContent, Usage, UrlCitation, TextDelta)}))"
    )
    # What Interaction nests is built (and reused by its validator); the deltas are not.
    assert built == {
        "Interaction": True,
        "TextContent": True,
        "Usage": True,
        "UrlCitation": True,
        "TextDelta": False,
    }


_OBSERVE = """
import json
from pydantic import ValidationError
from agentkit import RunState
from agentkit.types import (
    Interaction, TextContent, FunctionCallStep, StepDeltaEvent, parse_event, parse_step,
)
FIRST
def errors(call):
    try:
        call()
    except ValidationError as error:
        return [error.title, error.errors(include_url=False), str(error).count("\\n")]
    return None
print(json.dumps({
    "schema": [m.model_json_schema() for m in (Interaction, TextContent, StepDeltaEvent)],
    "state": RunState.model_json_schema(),
    "text": errors(lambda: TextContent.model_validate({"text": 1, "annotations": [{}, 3]})),
    "call": errors(lambda: FunctionCallStep.model_validate({"name": [], "arguments": 2})),
    "event": errors(lambda: parse_event('{"event_type": "step.delta", "index": "x"}')),
    "step": errors(lambda: parse_step({"type": "function_call", "name": 1})),
    "state_error": errors(lambda: RunState.model_validate({"version": 2, "nope": 1})),
    "wire": Interaction.model_validate(
        {"id": "i", "status": "completed", "x": [1], "outputs": [{"type": "text", "text": "a"}]}
    ).to_wire(),
    "dump": FunctionCallStep(name="f", arguments={"a": 1}).model_dump(mode="json"),
    "event_wire": parse_event(
        {"event_type": "step.delta", "index": 0, "delta": {"type": "text", "text": "b"}}
    ).to_wire(),
}, sort_keys=True, default=repr))
"""


@pytest.mark.parametrize(
    "first",
    [
        "Interaction.model_validate({})",  # a model nesting many others is built first
        "parse_event({'event_type': 'error'})",  # the adapter of every event type first
        "TextContent(text='x'); FunctionCallStep(name='f')",  # leaf models first
    ],
)
def test_the_build_order_changes_no_schema_error_or_serialisation(first: str) -> None:
    reference = run_python(_OBSERVE.replace("FIRST", "pass"))
    assert run_python(_OBSERVE.replace("FIRST", first)) == reference


def test_the_stream_models_are_listed_before_their_first_use() -> None:
    missing, loaded = run_python(
        "import json, sys\n"
        "import agentkit.types\n"
        "names = dir(agentkit.types)\n"
        "print(json.dumps([sorted(set(agentkit.types.__all__) - set(names)),\n"
        "    'agentkit.types._events' in sys.modules]))"
    )
    assert missing == []
    assert not loaded


@pytest.mark.parametrize("module", [agentkit, agentkit.types])
def test_every_exported_name_imports(module: Any) -> None:
    names: list[str] = module.__all__
    found = run_python(
        f"import json\nfrom {module.__name__} import {', '.join(names)}\n"
        f"print(json.dumps([type(v).__name__ for v in [{', '.join(names)}]]))"
    )
    assert len(found) == len(names)


@pytest.mark.parametrize(
    ("integration", "dependencies", "extra"),
    [
        ("agentkit.mcp", ["mcp", "httpx2"], "mcp"),
        ("agentkit.otel", ["opentelemetry"], "otel"),
        ("agentkit.contrib.temporal", ["temporalio"], "temporal"),
    ],
)
def test_an_integration_without_its_extra_says_which_extra_to_install(
    integration: str, dependencies: list[str], extra: str
) -> None:
    kind, message, missing = run_python(
        "import json, sys\n"
        f"for name in {dependencies!r}:\n"
        "    sys.modules[name] = None  # as if it were not installed\n"
        f"try:\n    import {integration}\n"
        "except ImportError as error:\n"
        "    print(json.dumps([type(error).__name__, str(error), error.name]))\n"
    )
    assert kind == "ModuleNotFoundError"  # what pytest.importorskip() skips on
    assert missing in dependencies
    assert message == (
        f"{integration} needs the {extra!r} extra ({missing} is not installed): "
        f'pip install "agentkit[{extra}]", or pip install -e ".[{extra}]" in a checkout.'
    )


def test_a_missing_module_of_agentkit_itself_is_not_blamed_on_an_extra() -> None:
    from agentkit._extras import missing_extra

    broken = ModuleNotFoundError(
        "No module named 'agentkit.mcp._server'", name="agentkit.mcp._server"
    )
    assert missing_extra("agentkit.mcp", "mcp", broken) is broken


@pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in ["click", "pygments", "rich"]),
    reason="httpx's command line needs httpx[cli]",
)
def test_httpx_own_command_line_still_runs_after_import_agentkit() -> None:
    loaded_before, helped = run_python(
        "import contextlib, io, json, sys\nimport agentkit, httpx\n"
        "before = 'rich' in sys.modules\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    httpx.main(['--help'], standalone_mode=False)\n"
        "print(json.dumps([before, out.getvalue()]))"
    )
    assert loaded_before is False
    assert "Usage:" in helped
    assert "--method" in helped


def test_httpx_command_line_without_its_extra_fails_as_httpx_alone_does() -> None:
    def httpx_main(imports: str) -> tuple[int, str, str]:
        completed = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import sys\nsys.modules['click'] = None\n{imports}\nhttpx.main()",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=ROOT,
        )
        return completed.returncode, completed.stdout, completed.stderr

    alone = httpx_main("import httpx")
    assert alone[0] == 1
    assert "httpx[cli]" in alone[1]
    assert httpx_main("import agentkit, httpx") == alone
