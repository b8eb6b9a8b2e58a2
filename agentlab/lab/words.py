"""How a notebook says what to do about an error: the ``LabRun``'s methods."""

from __future__ import annotations

from collections.abc import Mapping

from agentlab.errors import Fix

NOTEBOOK_WORDS: Mapping[Fix, str] = {
    Fix.DECIDE: "answer it with await run.approve() or run.reject()",
    Fix.CONTINUE: "await run.resume() continues it",
    Fix.OFFLINE: "export ANTHROPIC_API_KEY to use Claude, or replay a scripted model offline "
    "(script=...)",
    Fix.ONE_STEP: "say which call, step=...",
}
