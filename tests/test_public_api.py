"""The package's public API: what ``import agentlab`` offers, and what it costs."""

from __future__ import annotations

import subprocess
import sys

import agentlab


def test_public_api_names_resolve_lazily_and_all_lists_them():
    assert sorted(agentlab.__all__) == sorted(agentlab._EXPORTS)
    for name in agentlab.__all__:
        assert getattr(agentlab, name) is not None
    probe = "import sys, agentlab; print('langgraph' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # importing the package loads no heavy dependency
