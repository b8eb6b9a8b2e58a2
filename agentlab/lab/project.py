"""A project's ``langgraph.json``: the graphs it serves, by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentlab.errors import ConfigError


def read_langgraph_json(path: Path) -> dict[str, Any]:
    """The parsed file, with a ``graphs`` mapping (added empty if missing)."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"no {path} here: run in the project directory, or give its path"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    if not isinstance(config, dict) or not isinstance(config.setdefault("graphs", {}), dict):
        raise ConfigError(f"{path} must be a JSON object whose 'graphs' maps names to references")
    return config
