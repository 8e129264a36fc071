"""The repository's shape, README, CI script and benchmark.

These read files of the clone (and run `tools/bench.py --quick` once, for a few seconds,
without asserting any timing: the ratio is for the closing note, not a test).
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

import agentkit

ROOT = Path(__file__).resolve().parent.parent
TOP_LEVEL = {
    "pyproject.toml",
    "README.md",
    "CHANGELOG.md",
    "LICENSE",
    "agentkit",
    "_agentkit_pytest_plugin.py",  # the pytest plugin's entry point: it imports agentkit lazily
    "tools",
    "benchmarks",
    "examples",
    "tests",
    "docs",  # the README's pictures
}
RUNTIME_DEPENDENCIES = [  # the floors: CI's lowest_deps job runs the suite on exactly these
    "pydantic>=2.11.0",
    "pydantic-core>=2.33.0",
    "httpx>=0.25.1",
    "httpcore>=1.0.6",
    "anyio>=4.1.0",
    "sniffio>=1.3.0",
    "docstring-parser>=0.16",
    "typing-extensions>=4.12.2",
]


def pyproject() -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+; 3.10 runs the other checks
    data: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return data


def ignored(name: str) -> bool:
    patterns = (ROOT / ".gitignore").read_text().split()
    return any(fnmatch.fnmatch(name, pattern.strip("/")) for pattern in patterns)


def test_the_top_level_holds_exactly_the_agreed_entries() -> None:
    visible = {p.name for p in ROOT.iterdir() if not p.name.startswith(".")}
    assert {name for name in visible if not ignored(name)} == TOP_LEVEL
    run = ROOT / ".ci" / "run"
    assert run.is_file()
    assert os.access(run, os.X_OK)


def test_the_package_is_typed_and_licensed() -> None:
    assert files("agentkit").joinpath("py.typed").is_file()
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text
    assert "Version 2.0, January 2004" in license_text


def test_pyproject_dependencies_build_backend_and_python() -> None:
    data = pyproject()
    assert data["build-system"]["build-backend"] == "hatchling.build"
    project = data["project"]
    assert project["dependencies"] == RUNTIME_DEPENDENCIES
    assert project["requires-python"] == ">=3.10"
    assert project["license"] == "Apache-2.0"
    test_extra = {
        re.split(r"[=<>~\[ ]", requirement)[0]
        for requirement in project["optional-dependencies"]["test"]
    }
    assert {"pytest", "hypothesis", "google-genai"} <= test_extra


def test_the_type_checks_are_strict() -> None:
    data = pyproject()
    assert data["tool"]["mypy"]["strict"] is True
    assert data["tool"]["pyright"]["typeCheckingMode"] == "strict"


def test_the_readme_states_the_two_set_up_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = [line for line in readme.splitlines() if line.startswith("python3 -m venv")]
    assert commands == [
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e . "
        "&& python examples/quickstart.py",
        'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[test]" && pytest',
    ]


def test_ci_runs_the_readme_test_command_ruff_and_the_strict_type_checks() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "python3 -m venv .venv && . .venv/bin/activate" in script
    assert re.search(r'pip install .*-e "\.\[test\]"', script)
    checks = re.findall(r"^check (.+)$", script, flags=re.MULTILINE)
    for command in ("pytest", "ruff format --check", "ruff check", "mypy", "pyright"):
        assert [check for check in checks if check.startswith(command)], command
    # Any failing check fails the run.
    assert 'exit "$status"' in script


def test_the_benchmarks_run_their_contenders_and_print_their_rows() -> None:
    # Two of the quick rows: the harness, its fake server and its contenders stay in working
    # order. The figures are never judged here.
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--rows", "5,8", "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr
    rows = (
        r"^5  mock transport 2-turn run, async +[\d.]+ [mu]?s",
        r"^5  \.\.\. vs the raw loop streaming its creates +[\d.]+ [mu]?s +[\d.]+ [mu]?s",
        r"^8  20 tools x 0.1 s",
    )
    for row in rows:
        assert re.search(row, completed.stdout, flags=re.MULTILINE), completed.stdout


def test_the_version_has_one_source() -> None:
    data = pyproject()
    assert data["project"]["dynamic"] == ["version"]
    assert "version" not in data["project"]
    assert data["tool"]["hatch"]["version"]["path"] == "agentkit/__init__.py"
    assert version("agentkit") == agentkit.__version__


def test_comments_cite_no_document_outside_the_repository() -> None:
    sources = [
        path
        for folder in ("agentkit", "tests", "tools", "examples")
        for path in (ROOT / folder).rglob("*.py")
    ]
    outside = "PROTOCOL" + " §"  # a reference document that is not shipped
    citing = [path.name for path in sources if outside in path.read_text()]
    assert citing == []


def test_ci_runs_the_suite_on_every_python_the_metadata_lists() -> None:
    project = pyproject()["project"]
    listed = sorted(
        classifier.rsplit(" ", 1)[-1]
        for classifier in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", classifier)
    )
    assert listed == ["3.10", "3.11", "3.12", "3.13"]
    assert project["requires-python"] == f">={listed[0]}"
    script = (ROOT / ".ci" / "run").read_text()
    # The main run uses the machine's python3 (3.11); the loop runs the suite on the others.
    assert re.search(r"^for version in 3\.10 3\.12 3\.13; do$", script, flags=re.MULTILINE)
