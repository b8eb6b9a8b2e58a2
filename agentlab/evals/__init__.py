"""Evals: agents' outputs graded, by an LLM judge against a rubric (``judge.py``), its verdicts
cached so a rerun grades as before (``verdicts.py``).

Loaded on first use: importing ``agentlab.evals`` imports none of its modules.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "SUBMIT_JUDGEMENT": "agentlab.evals.judge",
    "Judge": "agentlab.evals.judge",
    "Judgement": "agentlab.evals.judge",
    "judge_model": "agentlab.evals.judge",
    "judge_request": "agentlab.evals.judge",
    "JudgeVerdict": "agentlab.evals.verdicts",
    "VerdictCache": "agentlab.evals.verdicts",
    "verdict_key": "agentlab.evals.verdicts",
}

__all__ = [
    "SUBMIT_JUDGEMENT",
    "Judge",
    "JudgeVerdict",
    "Judgement",
    "VerdictCache",
    "judge_model",
    "judge_request",
    "verdict_key",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'agentlab.evals' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from agentlab.evals.judge import (
        SUBMIT_JUDGEMENT,
        Judge,
        Judgement,
        judge_model,
        judge_request,
    )
    from agentlab.evals.verdicts import JudgeVerdict, VerdictCache, verdict_key
