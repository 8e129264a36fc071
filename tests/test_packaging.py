"""The runtime dependencies: every third-party import is declared, each with a floor CI tests.

CI's lowest_deps job installs the floors that `tools/lowest_constraints.py` prints and runs
the suite on them; these checks keep that list and the code's imports in step.
"""

from __future__ import annotations

import ast
import contextlib
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "agentkit"


def project() -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+; CI's main run has it
    data: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
    table: dict[str, Any] = data["project"]
    return table


def name_of(requirement: str) -> str:
    """The normalised distribution name of a requirement (`Typing_Extensions>=4` -> ...)."""
    name = re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def third_party_imports(path: Path) -> set[str]:
    """The top-level modules outside the standard library and agentkit that `path` imports."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.partition(".")[0])
    return modules - set(sys.stdlib_module_names) - {"agentkit", "__future__"}


def distributions_of(module: str) -> set[str]:
    """The installed distributions that provide `module` (`docstring_parser` -> ...).

    Python 3.10 reads only top_level.txt, which some wheels lack (docstring-parser 0.16): a
    distribution named as the module is counted too.
    """
    found = {name_of(dist) for dist in packages_distributions().get(module, [])}
    with contextlib.suppress(PackageNotFoundError):
        found.add(name_of(distribution(module).metadata["Name"]))
    return found


def test_the_constraints_script_prints_one_floor_for_each_runtime_dependency() -> None:
    declared = project()["dependencies"]
    completed = subprocess.run(
        [sys.executable, "tools/lowest_constraints.py"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr
    pins = completed.stdout.splitlines()
    assert len(pins) == len(declared)
    for requirement, pin in zip(declared, pins, strict=True):
        floor = re.search(r">=\s*([^,;\s]+)", requirement)
        assert floor is not None, f"{requirement!r} has no floor"
        assert pin == f"{requirement.split('>=')[0].strip()}=={floor[1]}"
    # Floors only: an upper bound would hide the releases users get.
    assert not [requirement for requirement in declared if "<" in requirement]


def test_every_third_party_module_agentkit_imports_is_a_declared_dependency() -> None:
    data = project()
    runtime = {name_of(requirement) for requirement in data["dependencies"]}
    extras: dict[str, list[str]] = data["optional-dependencies"]
    undeclared: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        # agentkit.<name> and agentkit.contrib.<name> are installed with the extra of their
        # name; the rest always.
        allowed = set(runtime)
        extra = parts[0]
        if extra == "contrib" and len(parts) > 2:
            extra = parts[1]
        if len(parts) > 1 and extra in extras:
            allowed |= {name_of(requirement) for requirement in extras[extra]}
        for module in third_party_imports(path):
            providers = distributions_of(module)
            assert providers, f"{module} (imported by {path.name}) is not installed"
            if not providers & allowed:
                undeclared.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    assert undeclared == {}


def test_the_scan_sees_imports_inside_functions_and_leaves_out_the_standard_library(
    tmp_path: Path,
) -> None:
    source = tmp_path / "sample.py"
    source.write_text(
        "from __future__ import annotations\n"
        "import json, httpx._client\n"
        "from . import sibling\n"
        "from agentkit._tool import tool\n"
        "def later():\n"
        "    from docstring_parser import parse\n"
        "    import typing_extensions as te\n"
    )
    assert third_party_imports(source) == {"httpx", "docstring_parser", "typing_extensions"}
    assert distributions_of("docstring_parser") == {"docstring-parser"}
    assert distributions_of("typing_extensions") == {"typing-extensions"}
