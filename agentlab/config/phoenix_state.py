"""Where a running ``agentlab phoenix`` says it is: the settings find its OTLP endpoint there."""

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
    try:
        state = json.loads((working_dir / PHOENIX_STATE_FILE).read_text(encoding="utf-8"))
        pid, endpoint = int(state["pid"]), state["otlp_endpoint"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return None
    except PermissionError:  # it exists, as another user's
        pass
    return state if isinstance(endpoint, str) else None
