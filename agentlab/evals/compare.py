"""The regression gate: a candidate eval against a baseline, case by case and trial by trial.

The two evals' rows are aligned on (case, trial); a pair where either trial hit an
infrastructure error is left out. The pass rate is compared paired (``stats.compare_paired``:
exact McNemar when each case ran once, a bootstrap over cases when they ran several times, as
trials of one case are not independent); cost (mean per trial) and p95 latency by ratio. The gate
fails only on a regression the data supports, or cost / latency past their ratios; too few pairs
to see the configured drop is a warning, not a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from agentlab.evals.cases import EvalSetError
from agentlab.evals.results import EvalResults
from agentlab.evals.stats import (
    MetricComparison,
    PairedComparison,
    compare_metric,
    compare_paired,
    p95,
)

if TYPE_CHECKING:
    import pandas as pd

_Method = Literal["mcnemar", "bootstrap"]
LATENCY_FLOOR_S = 5.0
"""A p95 latency rise smaller than this never fails the gate: a busy machine (another eval, CI
neighbours) stretches every trial by seconds, whatever the version."""
COST_FLOOR_USD = 0.0001
"""Nor does a change of mean cost per trial smaller than this."""


@dataclass
class CompareReport:
    baseline: str
    candidate: str
    paired: PairedComparison
    cost: MetricComparison
    latency: MetricComparison
    per_case: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """``regression``, ``inconclusive`` (too few pairs to see the drop that matters, and
        none seen), or ``no regression`` (enough pairs, none seen)."""
        if self.regressed:
            return "regression"
        return "inconclusive" if self.paired.warning else "no regression"

    @property
    def regressed(self) -> bool:
        """The gate's verdict: a supported drop in pass rate, or cost / latency past ratio."""
        return self.paired.regression or self.cost.regression or self.latency.regression

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {
            "baseline": self.baseline,
            "candidate": self.candidate,
            "regressed": self.regressed,
            "verdict": self.verdict,
            "pass_rate": asdict(self.paired),
            "cost": asdict(self.cost),
            "latency_p95": asdict(self.latency),
            "per_case": self.per_case.to_dict(orient="records"),
            "warnings": self.warnings,
        }


def compare_results(
    baseline: EvalResults,
    candidate: EvalResults,
    *,
    alpha: float = 0.05,
    effect: float = 0.2,
    method: Literal["auto", "mcnemar", "bootstrap"] | str = "auto",
    max_cost_ratio: float = 1.25,
    max_latency_ratio: float = 2.0,
    seed: int = 0,
) -> CompareReport:
    """Compare ``candidate`` with ``baseline`` (see the module's docstring)."""
    a, b = baseline.frame, candidate.frame
    warnings: list[str] = []
    if baseline.meta.set_name != candidate.meta.set_name:
        warnings.append(
            f"the evals ran different sets ({baseline.meta.set_name}, "
            f"{candidate.meta.set_name}): only their common case ids are compared"
        )
    merged = a.merge(b, on=["case", "trial"], suffixes=("_a", "_b"), how="inner")
    left_out = len(a) + len(b) - 2 * len(merged)
    if left_out:
        warnings.append(f"{left_out} trial(s) ran in only one of the evals: left out")
    errors = merged["error_a"].notna() | merged["error_b"].notna()
    if errors.any():
        warnings.append(f"{int(errors.sum())} pair(s) with an infrastructure error: left out")
    merged = merged[~errors]
    if merged.empty:
        raise EvalSetError("the two evals have no (case, trial) run to completion in common")
    trials = int(merged.groupby("case").size().max())
    chosen = method if method != "auto" else ("mcnemar" if trials == 1 else "bootstrap")
    if chosen not in ("mcnemar", "bootstrap"):
        raise EvalSetError(f"unknown method {method!r}: give auto, mcnemar or bootstrap")
    pairs = [
        (str(r.case), bool(r.passed_a), bool(r.passed_b)) for r in merged.itertuples(index=False)
    ]
    paired = compare_paired(
        pairs,
        alpha=alpha,
        method=cast(_Method, chosen),
        effect=effect,
        seed=seed,
    )
    if paired.warning:
        warnings.append(paired.warning)
    cost = _floored(
        compare_metric(
            "cost per trial (USD)",
            float(merged["cost_usd_a"].mean()),
            float(merged["cost_usd_b"].mean()),
            threshold=max_cost_ratio,
        ),
        COST_FLOOR_USD,
    )
    latency = _floored(
        compare_metric(
            "p95 latency (s)",
            p95(list(merged["latency_s_a"])),
            p95(list(merged["latency_s_b"])),
            threshold=max_latency_ratio,
        ),
        LATENCY_FLOOR_S,
    )
    return CompareReport(
        baseline=f"{baseline.meta.set_name} {baseline.meta.version}",
        candidate=f"{candidate.meta.set_name} {candidate.meta.version}",
        paired=paired,
        cost=cost,
        latency=latency,
        per_case=_per_case(merged),
        warnings=warnings,
    )


def _floored(metric: MetricComparison, floor: float) -> MetricComparison:
    from dataclasses import replace

    if metric.regression and metric.candidate - metric.baseline < floor:
        return replace(metric, regression=False)
    return metric


def _per_case(merged: pd.DataFrame) -> pd.DataFrame:
    grouped = merged.groupby("case", sort=False)
    frame = grouped.agg(
        trials=("trial", "size"),
        baseline=("passed_a", "mean"),
        candidate=("passed_b", "mean"),
        cost_baseline=("cost_usd_a", "mean"),
        cost_candidate=("cost_usd_b", "mean"),
    ).reset_index()
    frame["delta"] = frame["candidate"] - frame["baseline"]
    return frame


__all__ = ["CompareReport", "compare_results"]
