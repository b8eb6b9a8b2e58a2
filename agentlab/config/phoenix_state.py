"""Where a running ``agentlab phoenix`` says it is: the settings find its OTLP endpoint there.
``published`` reads any such file (``agentlab chroma`` writes one too)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# What a running `agentlab phoenix` publishes in its working directory (and removes on exit).
PHOENIX_STATE_FILE = "agentlab-server.json"


def running_phoenix(working_dir: Path) -> dict[str, Any] | None:
    """What the ``agentlab phoenix`` serving ``working_dir`` published (``pid``, ``url``,
    ``otlp_endpoint``), or None if there is none or its Phoenix process is gone."""
    return published(working_dir / PHOENIX_STATE_FILE, "otlp_endpoint")


def published(path: Path, key: str) -> dict[str, Any] | None:
    """What a server agentlab started published in the file ``path`` (its ``pid``, and ``key``
    a string), or None if there is no such file or its process is gone."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        pid, value = int(state["pid"]), state[key]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return None
    except PermissionError:  # it exists, as another user's
        pass
    return state if isinstance(value, str) else None
