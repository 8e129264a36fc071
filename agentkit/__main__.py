"""`python -m agentkit`: see `agentkit._cli` (the `agentkit` console script runs the same)."""

from __future__ import annotations

import sys

from agentkit._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
