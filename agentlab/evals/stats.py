"""The statistics of an eval: pass@k and pass^k, percentiles, and whether a candidate regressed.

A drop in pass rate between two versions is judged on paired results (the same case and trial
run by both), so the noise of the cases cancels; the interval resamples cases, not trials, since
the trials of one case are not independent. When too few pairs were run to see the drop that
matters, the comparison says so instead of passing as "no regression".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np

_METHODS = ("mcnemar", "bootstrap")
# Bootstrap resamples are drawn in chunks of about this many case draws, to bound memory.
_DRAWS_PER_CHUNK = 1 << 20


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimate of pass@k (Chen et al. 2021): the chance that at least one of k
    trials drawn without replacement from n, of which c passed, passes."""
    _check_trials(n, c, k)
    # Python's int division rounds once, exactly: no loss for large n.
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k (tau-bench): the chance that k trials drawn without replacement from n, of which
    c passed, all pass; it measures consistency where pass@k measures reach."""
    _check_trials(n, c, k)
    return math.comb(c, k) / math.comb(n, k)


def _check_trials(n: int, c: int, k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got k={k}")
    if k > n:
        raise ValueError(f"k={k} is more than the n={n} trials run: run at least k trials")
    if not 0 <= c <= n:
        raise ValueError(f"c (trials passed) must be between 0 and n={n}, got c={c}")


def p95(values: Sequence[float]) -> float:
    """The 95th percentile (linear interpolation between ranks), nan when there are no values."""
    if len(values) == 0:
        return math.nan
    return float(np.percentile(np.asarray(values, dtype=float), 95, method="linear"))


@dataclass(frozen=True)
class PairedComparison:
    """The pass rates of a baseline and a candidate on the same (case, trial) pairs, the change,
    its confidence interval and significance, and whether enough pairs were run to tell."""

    method: str
    alpha: float
    n_pairs: int
    n_cases: int
    baseline_rate: float
    candidate_rate: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    worse: int
    better: int
    regression: bool
    improvement: bool
    needed_pairs: int
    underpowered: bool
    warning: str | None

    def summary(self) -> str:
        """One line for people: rates, change with its interval, test, verdict."""
        level = f"{100 * (1 - self.alpha):g}%"
        test = "McNemar" if self.method == "mcnemar" else "bootstrap"
        p = "p<0.001" if self.p_value < 0.001 else f"p={self.p_value:.3f}"
        if self.regression:
            verdict = "regression"
        elif self.improvement:
            verdict = "improvement"
        elif self.underpowered:
            verdict = (
                f"inconclusive (underpowered: {self.n_pairs} pairs, {self.needed_pairs} needed)"
            )
        else:
            verdict = "no significant change"
        return (
            f"pass rate {self.baseline_rate:.3f} -> {self.candidate_rate:.3f} "
            f"({self.delta:+.3f}, {level} CI {self.ci_low:+.2f}..{self.ci_high:+.2f}), "
            f"{test} {p} ({self.worse} worse, {self.better} better): {verdict}"
        )


def compare_paired(
    pairs: Sequence[tuple[str, bool, bool]],
    *,
    alpha: float = 0.05,
    method: Literal["mcnemar", "bootstrap"] = "mcnemar",
    effect: float = 0.2,
    power: float = 0.8,
    resamples: int = 10_000,
    seed: int = 0,
) -> PairedComparison:
    """Compare a candidate with a baseline on aligned ``(case_id, baseline_passed,
    candidate_passed)`` pairs, one per (case, trial).

    ``method`` decides significance: ``"mcnemar"`` (exact, on discordant pairs; it takes pairs as
    independent, so trials of one case that always agree count as several) or ``"bootstrap"``
    (resamples cases with all their trials, so correlated trials are not over-counted). The
    interval is the case bootstrap either way. ``effect`` and ``power`` size the smallest drop
    worth detecting: with fewer pairs than needed, a non-significant result carries a warning.
    """
    if len(pairs) == 0:
        raise ValueError("no pairs to compare: give one (case_id, baseline, candidate) per trial")
    for name, value in (("alpha", alpha), ("power", power), ("effect", effect)):
        if not 0 < value < 1:
            raise ValueError(f"{name} must be between 0 and 1 (exclusive), got {value}")
    if method not in _METHODS:
        raise ValueError(f"unknown method {method!r}: use one of {', '.join(_METHODS)}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")

    n_pairs = len(pairs)
    baseline = np.fromiter((bool(b) for _, b, _ in pairs), dtype=bool, count=n_pairs)
    candidate = np.fromiter((bool(c) for _, _, c in pairs), dtype=bool, count=n_pairs)
    worse = int(np.sum(baseline & ~candidate))
    better = int(np.sum(~baseline & candidate))
    baseline_rate = float(baseline.mean())
    candidate_rate = float(candidate.mean())
    delta = (better - worse) / n_pairs  # candidate_rate - baseline_rate, rounded once

    case_ids, trials, gains = _per_case(pairs)
    deltas = _bootstrap_deltas(trials, gains, resamples, seed)
    ci_low, ci_high = (float(q) for q in np.quantile(deltas, [alpha / 2, 1 - alpha / 2]))

    if method == "mcnemar":
        p_value = _mcnemar_p(worse, better)
        regression = delta < 0 and p_value < alpha
        improvement = delta > 0 and p_value < alpha
    else:
        p_value = _bootstrap_p(deltas, delta)
        regression = delta < 0 and ci_high < 0
        improvement = delta > 0 and ci_low > 0

    needed = _needed_pairs(
        discordance=(worse + better) / n_pairs, effect=effect, alpha=alpha, power=power
    )
    underpowered = n_pairs < needed
    warning = None
    if underpowered and not (regression or improvement):
        warning = (
            f"{n_pairs} pairs are too few to detect a drop of {effect:g} in pass rate "
            f"(about {needed} needed at alpha {alpha:g}, power {power:g}): this result is not "
            "evidence of no regression"
        )
    return PairedComparison(
        method=method,
        alpha=alpha,
        n_pairs=n_pairs,
        n_cases=len(case_ids),
        baseline_rate=baseline_rate,
        candidate_rate=candidate_rate,
        delta=delta,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        worse=worse,
        better=better,
        regression=regression,
        improvement=improvement,
        needed_pairs=needed,
        underpowered=underpowered,
        warning=warning,
    )


def _mcnemar_p(worse: int, better: int) -> float:
    """The exact two-sided McNemar p-value: under no change each discordant pair is equally
    likely to go either way, so the smaller count is binomial(worse + better, 1/2)."""
    discordant = worse + better
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, i) for i in range(min(worse, better) + 1))
    return min(1.0, 2 * tail / 2**discordant)


def _needed_pairs(*, discordance: float, effect: float, alpha: float, power: float) -> int:
    """Pairs McNemar's test needs to detect a change of ``effect`` in pass rate (Connor 1987,
    normal approximation); the discordance rate is at least ``effect``, as a change needs it."""
    psi = max(discordance, effect)
    z_alpha = NormalDist().inv_cdf(1 - alpha / 2)
    z_power = NormalDist().inv_cdf(power)
    root = z_alpha * math.sqrt(psi) + z_power * math.sqrt(psi - effect**2)
    return math.ceil(root**2 / effect**2)


def _per_case(
    pairs: Sequence[tuple[str, bool, bool]],
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The case ids in order of first appearance, each case's number of trials and its net gain
    (candidate passes minus baseline passes)."""
    index: dict[str, int] = {}
    trials: list[int] = []
    gains: list[int] = []
    for case_id, base, cand in pairs:
        i = index.setdefault(case_id, len(index))
        if i == len(trials):
            trials.append(0)
            gains.append(0)
        trials[i] += 1
        gains[i] += int(bool(cand)) - int(bool(base))
    return list(index), np.asarray(trials, dtype=np.int64), np.asarray(gains, dtype=np.int64)


def _bootstrap_deltas(
    trials: np.ndarray, gains: np.ndarray, resamples: int, seed: int
) -> np.ndarray:
    """Deltas of pass rate over ``resamples`` samples of the cases, drawn with replacement, each
    case with all its trials (a cluster bootstrap)."""
    rng = np.random.default_rng(seed)
    n_cases = len(trials)
    rows = max(1, _DRAWS_PER_CHUNK // n_cases)
    deltas = np.empty(resamples, dtype=float)
    for start in range(0, resamples, rows):
        stop = min(start + rows, resamples)
        drawn = rng.integers(0, n_cases, size=(stop - start, n_cases))
        deltas[start:stop] = gains[drawn].sum(axis=1) / trials[drawn].sum(axis=1)
    return deltas


def _bootstrap_p(deltas: np.ndarray, delta: float) -> float:
    """Two-sided bootstrap p: twice the share of resampled deltas at or past 0 on the side away
    from the observed delta, capped at 1."""
    if delta == 0:
        return 1.0
    other_side = deltas >= 0 if delta < 0 else deltas <= 0
    return min(1.0, 2 * float(np.mean(other_side)))


@dataclass(frozen=True)
class MetricComparison:
    """A cost-like metric (latency, tokens, dollars: lower is better) of a baseline and a
    candidate, and whether the candidate grew past ``threshold`` times the baseline."""

    name: str
    baseline: float
    candidate: float
    ratio: float
    threshold: float
    regression: bool

    def summary(self) -> str:
        """One line for people: values, ratio against the threshold, verdict."""
        verdict = "regression" if self.regression else "ok"
        return (
            f"{self.name} {self.baseline:.4g} -> {self.candidate:.4g} "
            f"(x{self.ratio:.2f}, threshold x{self.threshold:.2f}): {verdict}"
        )


def compare_metric(
    name: str, baseline: float, candidate: float, *, threshold: float
) -> MetricComparison:
    """Compare a metric by ratio, candidate over baseline; a ratio above ``threshold`` (1.2: 20%
    more) is a regression. Values must be finite and not negative, as a ratio needs."""
    for label, value in (("baseline", baseline), ("candidate", candidate)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(
                f"{name}: {label} must be a finite number >= 0 to compare by ratio, got {value}"
            )
    if not math.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"{name}: threshold must be a finite ratio > 0, got {threshold}")
    # From nothing to something is an unbounded rise; nothing to nothing is no change.
    ratio = candidate / baseline if baseline > 0 else (math.inf if candidate > 0 else 1.0)
    return MetricComparison(
        name=name,
        baseline=baseline,
        candidate=candidate,
        ratio=ratio,
        threshold=threshold,
        regression=ratio > threshold,
    )
