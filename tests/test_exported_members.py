"""The public surface: each public module exports exactly its `__all__` (ruff keeps it sorted)."""

from __future__ import annotations

import types

import pytest

import agentkit
import agentkit.journal
import agentkit.testing
import agentkit.types


@pytest.mark.parametrize("module", [agentkit, agentkit.types, agentkit.testing, agentkit.journal])
def test_the_public_names_are_exactly_the_sorted_all(module: types.ModuleType) -> None:
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    exported: list[str] = module.__all__
    assert len(set(exported)) == len(exported)
    assert set(exported) - {"__version__"} == public
