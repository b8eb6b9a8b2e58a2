"""Evals: task sets run against an agent, scored (deterministic checks, and a judge model whose
verdicts are cached), compared between prompt versions.

::

    from agentlab.evals import EvalOptions, load_task_set, run_eval
    results = await run_eval(load_task_set("support.yaml"), EvalOptions(agent="pkg.mod:agent"),
                             settings, Path("out"))
    results.frame          # one row per case and trial (pandas)

Loaded on first use: importing ``agentlab.evals`` imports neither pandas nor LangGraph.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Case": "agentlab.evals.cases",
    "EvalSetError": "agentlab.evals.cases",
    "TaskSet": "agentlab.evals.cases",
    "load_task_set": "agentlab.evals.cases",
    "CheckResult": "agentlab.evals.checks",
    "CompareReport": "agentlab.evals.compare",
    "compare_results": "agentlab.evals.compare",
    "EvalOptions": "agentlab.evals.harness",
    "rescore_eval": "agentlab.evals.harness",
    "run_eval": "agentlab.evals.harness",
    "EvalResults": "agentlab.evals.results",
    "pass_at_k": "agentlab.evals.stats",
    "pass_hat_k": "agentlab.evals.stats",
    "compare_paired": "agentlab.evals.stats",
    "TrialRecord": "agentlab.evals.trial",
    "Judge": "agentlab.evals.judge",
    "judge_model": "agentlab.evals.judge",
    "JudgeVerdict": "agentlab.evals.verdicts",
    "VerdictCache": "agentlab.evals.verdicts",
}

__all__ = [
    "Case",
    "CheckResult",
    "CompareReport",
    "EvalOptions",
    "EvalResults",
    "EvalSetError",
    "Judge",
    "JudgeVerdict",
    "TaskSet",
    "TrialRecord",
    "VerdictCache",
    "compare_paired",
    "compare_results",
    "judge_model",
    "load_task_set",
    "pass_at_k",
    "pass_hat_k",
    "rescore_eval",
    "run_eval",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'agentlab.evals' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from agentlab.evals.cases import Case, EvalSetError, TaskSet, load_task_set
    from agentlab.evals.checks import CheckResult
    from agentlab.evals.compare import CompareReport, compare_results
    from agentlab.evals.harness import EvalOptions, rescore_eval, run_eval
    from agentlab.evals.judge import Judge, judge_model
    from agentlab.evals.results import EvalResults
    from agentlab.evals.stats import compare_paired, pass_at_k, pass_hat_k
    from agentlab.evals.trial import TrialRecord
    from agentlab.evals.verdicts import JudgeVerdict, VerdictCache
