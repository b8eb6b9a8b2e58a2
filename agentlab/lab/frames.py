"""pandas for the notebook's DataFrames, imported when first needed (the ``lab`` extra)."""

from __future__ import annotations

from typing import Any

from agentlab.errors import ConfigError


def pandas_or_hint() -> Any:
    """pandas, or an error saying how to get it (it comes with the ``lab`` extra)."""
    try:
        import pandas
    except ModuleNotFoundError:
        raise ConfigError(
            "reading runs as DataFrames needs pandas: pip install 'agentlab[lab]'"
        ) from None
    return pandas
