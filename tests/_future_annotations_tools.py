"""Tools written under `from __future__ import annotations`: every hint is a string."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from agentkit._context import RunContext
from agentkit._tool import tool


@tool
def schedule(
    when: datetime.datetime,
    tree: Tree,
    owner: Owner | None = None,
    mode: Literal["fast", "slow"] = "fast",
    *,
    ctx: RunContext[Deps],
    note: Annotated[str, Field(description="Free text.")] = "",
) -> dict[str, object]:
    """Schedule a tree for later.

    Args:
        when: When to run.
        tree: What to run.
        owner: Who asked.
        mode: How.
        note: Ignored: the Field description wins.
    """
    return {"when": when, "tree": tree, "owner": owner, "mode": mode, "prefix": ctx.deps.prefix}


class Planner:
    """Its method's hint names `Tree`, defined below: the schema is built on first use."""

    @tool
    def grow(self, tree: Tree) -> int:
        """Count the labels."""
        return 1 + sum(self.grow(child) for child in tree.children)


class Tree(BaseModel):
    """A tree of labels, defined after the tool that uses it (a forward reference)."""

    label: str
    children: list[Tree] = []


@dataclasses.dataclass
class Owner:
    name: str
    email: str | None = None


@dataclasses.dataclass
class Deps:
    prefix: str
