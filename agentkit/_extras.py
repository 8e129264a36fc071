"""What an optional integration raises when the extra it needs is not installed."""

from __future__ import annotations

__all__ = ["missing_extra"]


def missing_extra(integration: str, extra: str, error: ModuleNotFoundError) -> ModuleNotFoundError:
    """The error to raise for `error`: one naming the extra to install, if it is a dependency's.

    Args:
        integration: The integration's module (`__name__` of its package).
        extra: The extra that installs its dependencies.
        error: What importing the integration raised.
    """
    missing = (error.name or "").partition(".")[0]
    if missing in ("", "agentkit"):
        return error  # agentkit's own module missing: a broken install, not a missing extra
    return ModuleNotFoundError(
        f"{integration} needs the {extra!r} extra ({missing} is not installed): "
        f'pip install "agentkit[{extra}]", or pip install -e ".[{extra}]" in a checkout.',
        name=missing,
    )
