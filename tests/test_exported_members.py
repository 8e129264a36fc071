"""The public surface: each public module exports exactly its `__all__` (ruff keeps it sorted)."""

from __future__ import annotations

import inspect
import types

import pytest

import agentkit
import agentkit.events
import agentkit.exceptions
import agentkit.hooks
import agentkit.journal
import agentkit.testing
import agentkit.types

PUBLIC_MODULES = [
    agentkit,
    agentkit.events,
    agentkit.exceptions,
    agentkit.hooks,
    agentkit.journal,
    agentkit.testing,
    agentkit.types,
]


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_the_public_names_are_exactly_the_sorted_all(module: types.ModuleType) -> None:
    for name in module.__all__:  # names exported lazily (PEP 562) appear on first use
        getattr(module, name)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    exported: list[str] = module.__all__
    assert len(set(exported)) == len(exported)
    assert set(exported) - {"__version__"} == public


def test_the_top_level_holds_few_enough_names_to_keep_in_mind() -> None:
    assert len(agentkit.__all__) == 29  # + five server tool factories (issue 13)
    assert len(agentkit.__all__) < 30


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_module_and_name_is_documented(module: types.ModuleType) -> None:
    assert inspect.getdoc(module)
    # Type aliases (`InteractionStatus`...) cannot carry a docstring; classes and functions do.
    # An alias such as `Callable[[X], Y]` passes inspect.isclass on Python 3.10: not a class.
    undocumented = [
        name
        for name in module.__all__
        if (
            (
                inspect.isclass(value := getattr(module, name))
                and not isinstance(value, types.GenericAlias)
            )
            or inspect.isfunction(value)
        )
        and not inspect.getdoc(value)
    ]
    assert undocumented == []


def test_the_base_exceptions_are_at_the_top_and_every_exception_in_its_module() -> None:
    for name in ("AgentkitError", "APIError", "RunError", "UsageError"):
        assert getattr(agentkit, name) is getattr(agentkit.exceptions, name)
    assert all(
        issubclass(getattr(agentkit.exceptions, name), agentkit.AgentkitError)
        for name in agentkit.exceptions.__all__
    )


@pytest.mark.parametrize(
    ("name", "home"),
    [
        *((name, agentkit.events) for name in agentkit.events.__all__),
        *(
            (name, agentkit.exceptions)
            for name in agentkit.exceptions.__all__
            if name not in agentkit.__all__
        ),
    ],
)
def test_a_name_that_moved_still_imports_from_the_top_with_a_warning(
    name: str, home: types.ModuleType
) -> None:
    with pytest.warns(DeprecationWarning, match=rf"agentkit\.{name} moved to {home.__name__}\."):
        moved = getattr(agentkit, name)
    assert moved is getattr(home, name)


def test_an_unknown_top_level_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Agnet'"):
        _ = agentkit.Agnet
