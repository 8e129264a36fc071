"""`import httpx` without its command line: click, rich and pygments load when it runs.

httpx imports its CLI eagerly when those packages are installed (as `agentkit[cli]` does),
which would make `import agentkit` load them. While agentkit imports httpx, a stand-in for
`httpx._main` answers that import; `httpx.main` then loads the real CLI on its first call.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

__all__: list[str] = []


def _main(*args: Any, **kwargs: Any) -> Any:
    """The command line of httpx, loaded now."""
    import httpx

    try:
        from httpx._main import main
    except ImportError:  # without `httpx[cli]`: what httpx's own stand-in does
        sys.stdout.write(
            "The httpx command line client could not run because the required "
            "dependencies were not installed.\nMake sure you've installed "
            "everything with: pip install 'httpx[cli]'\n"
        )
        sys.exit(1)
    httpx.main = main
    return main(*args, **kwargs)


def _import_httpx() -> None:
    """Import httpx, its CLI left for later (a no-op once httpx is imported)."""
    if "httpx" in sys.modules:
        return
    stand_in = ModuleType("httpx._main")
    stand_in.main = _main  # type: ignore[attr-defined]
    sys.modules["httpx._main"] = stand_in
    try:
        import httpx  # noqa: F401  # pyright: ignore[reportUnusedImport]
    finally:
        if sys.modules.get("httpx._main") is stand_in:
            del sys.modules["httpx._main"]


_import_httpx()
