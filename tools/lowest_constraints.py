"""Pin every runtime dependency to its floor: `python tools/lowest_constraints.py [--check]`.

Prints one `name==floor` line for each requirement of pyproject.toml's `[project] dependencies`,
whose floors (`>=`) are the one source of truth: CI installs `-e ".[test]" -c` this output on
the lowest supported Python and runs the suite there. A dependency without a `>=` floor is an
error (exit 2).

`--check` prints nothing to pin: it compares the versions installed beside the interpreter that
runs it with the floors, and exits 1 when one differs (a pin the resolver did not honour).
Standard library only; on Python 3.10 it needs `tomli` (pytest's own dependency there).
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Final

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PYPROJECT: Final = Path(__file__).resolve().parent.parent / "pyproject.toml"

# `name[extras] >= floor [, more specifiers] [; marker]`: the name and the floor.
_REQUIREMENT: Final = re.compile(
    r"\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?"
    r"\s*>=\s*(?P<floor>[0-9][^,;\s]*)\s*(?:,[^;]*)?(?:;.*)?"
)


def floors(pyproject: Path = PYPROJECT) -> dict[str, str]:
    """The floor of each runtime dependency, by its name as written in pyproject.toml.

    Raises:
        ValueError: A dependency has no `>=` floor.
    """
    data: dict[str, Any] = tomllib.loads(pyproject.read_text())
    found: dict[str, str] = {}
    for requirement in data["project"]["dependencies"]:
        match = _REQUIREMENT.fullmatch(requirement)
        if match is None:
            raise ValueError(f"{requirement!r} has no '>=' floor")
        found[match["name"]] = match["floor"]
    return found


def _release(text: str) -> str:
    """`text` without trailing `.0` parts, so `0.16` and `0.16.0` compare equal."""
    return re.sub(r"(\.0+)+$", "", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare the installed versions with the floors"
    )
    args = parser.parse_args(argv)
    try:
        wanted = floors()
    except ValueError as exc:
        print(f"{PYPROJECT}: {exc}", file=sys.stderr)
        return 2
    if not args.check:
        for name, floor in wanted.items():
            print(f"{name}=={floor}")
        return 0
    wrong: list[str] = []
    for name, floor in wanted.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "not installed"
        if _release(installed) != _release(floor):
            wrong.append(f"{name}: {installed}, not the floor {floor}")
    for line in wrong:
        print(line, file=sys.stderr)
    if not wrong:
        print(f"{len(wanted)} runtime dependencies installed at their floors")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
