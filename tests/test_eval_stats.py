"""agentlab.evals.stats: pass@k, pass^k, p95 and paired comparisons, checked against values worked
out by hand and against simulated versions whose true difference is known."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Literal

import numpy as np
import pytest

from agentlab.evals.stats import (
    compare_metric,
    compare_paired,
    p95,
    pass_at_k,
    pass_hat_k,
)

Pairs = list[tuple[str, bool, bool]]
Method = Literal["mcnemar", "bootstrap"]


def table(
    *, worse: int = 0, better: int = 0, both_pass: int = 0, both_fail: int = 0, trials: int = 1
) -> Pairs:
    """Pairs of a 2x2 table, counted in cases; each case's ``trials`` trials all agree."""
    kinds = (
        [(True, False)] * worse
        + [(False, True)] * better
        + [(True, True)] * both_pass
        + [(False, False)] * both_fail
    )
    return [(f"case{i}", b, c) for i, (b, c) in enumerate(kinds) for _ in range(trials)]


def noisy_versions(seed: int, *, cases: int = 40, trials: int = 3, fail: float = 0.1) -> Pairs:
    """Two equally good versions, each failing a trial at random with probability ``fail``."""
    rng = np.random.default_rng(seed)
    base = rng.random((cases, trials)) >= fail
    cand = rng.random((cases, trials)) >= fail
    return [
        (f"case{i}", bool(base[i, t]), bool(cand[i, t]))
        for i in range(cases)
        for t in range(trials)
    ]


def worse_by(delta: float, seed: int, *, cases: int = 40, trials: int = 3) -> Pairs:
    """A candidate whose pass probability is ``delta`` below the baseline's on every case, the
    cases themselves of unequal difficulty (so trials of a case are correlated)."""
    rng = np.random.default_rng(seed)
    p_base = rng.uniform(0.7, 1.0, cases)
    base = rng.random((cases, trials)) < p_base[:, None]
    cand = rng.random((cases, trials)) < (p_base - delta)[:, None]
    return [
        (f"case{i}", bool(base[i, t]), bool(cand[i, t]))
        for i in range(cases)
        for t in range(trials)
    ]


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (10, 3, 1, 0.3),
        (10, 3, 2, 1 - 21 / 45),  # 1 - C(7,2)/C(10,2)
        (5, 0, 1, 0.0),
        (5, 0, 5, 0.0),
        (5, 5, 1, 1.0),
        (5, 5, 3, 1.0),
        (5, 1, 5, 1.0),  # drawing all 5 trials always includes the one that passed
        (5, 4, 2, 1.0),  # only one failure: any two trials include a pass
    ],
)
def test_pass_at_k_matches_hand_computed_values(n: int, c: int, k: int, expected: float):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-15)


def test_pass_at_k_agrees_with_chen_et_al_product_form_for_large_n():
    n, c, k = 200, 100, 50
    product = 1 - np.prod(1 - k / np.arange(n - c + 1, n + 1))
    assert pass_at_k(n, c, k) == pytest.approx(product, rel=1e-12)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (10, 3, 1, 0.3),
        (10, 3, 2, 3 / 45),  # C(3,2)/C(10,2)
        (5, 4, 2, 0.6),  # C(4,2)/C(5,2)
        (5, 5, 5, 1.0),
        (5, 4, 5, 0.0),  # k = n with a failure among them
        (5, 0, 1, 0.0),
    ],
)
def test_pass_hat_k_matches_hand_computed_values(n: int, c: int, k: int, expected: float):
    assert pass_hat_k(n, c, k) == pytest.approx(expected, abs=1e-15)


def test_pass_hat_k_never_exceeds_pass_at_k_and_both_are_the_pass_rate_at_k_1():
    for n in range(1, 9):
        for c in range(n + 1):
            assert pass_at_k(n, c, 1) == pytest.approx(c / n)
            assert pass_hat_k(n, c, 1) == pytest.approx(c / n)
            for k in range(1, n + 1):
                assert pass_hat_k(n, c, k) <= pass_at_k(n, c, k) + 1e-15


@pytest.mark.parametrize("estimator", [pass_at_k, pass_hat_k])
@pytest.mark.parametrize(
    ("n", "c", "k", "message"),
    [
        (5, 2, 0, "k must be at least 1"),
        (5, 2, 6, "more than the n=5 trials"),
        (5, 6, 1, "between 0 and n=5"),
        (5, -1, 1, "between 0 and n=5"),
    ],
)
def test_trial_counts_out_of_range_raise(
    estimator: Callable[[int, int, int], float], n: int, c: int, k: int, message: str
):
    with pytest.raises(ValueError, match=message):
        estimator(n, c, k)


def test_p95_interpolates_linearly_between_ranks():
    assert p95([float(v) for v in range(1, 101)]) == pytest.approx(95.05)
    assert p95([0.0, 10.0]) == pytest.approx(9.5)
    assert p95([3.0]) == 3.0


def test_p95_of_no_values_is_nan():
    assert math.isnan(p95([]))


@pytest.mark.parametrize(
    ("worse", "better", "p_value"),
    [
        (6, 0, 0.03125),  # 2 * 0.5**6
        (0, 6, 0.03125),
        (2, 0, 0.5),  # 2 * 0.5**2
        (6, 1, 0.125),  # 2 * (1 + 7) / 2**7
        (3, 3, 1.0),
        (0, 0, 1.0),
    ],
)
def test_mcnemar_exact_p_for_known_tables(worse: int, better: int, p_value: float):
    result = compare_paired(table(worse=worse, better=better, both_pass=10), resamples=2000)
    assert (result.worse, result.better) == (worse, better)
    assert result.p_value == pytest.approx(p_value)


def test_inspect_example_drop_from_1_0_to_0_8_on_ten_cases_is_underpowered_not_a_pass():
    result = compare_paired(table(worse=2, both_pass=8), resamples=2000)
    assert (result.baseline_rate, result.candidate_rate) == (1.0, 0.8)
    assert result.delta == pytest.approx(-0.2)
    assert result.p_value == pytest.approx(0.5)
    assert not result.regression
    # Discordance 0.2: (1.96*sqrt(0.2) + 0.8416*sqrt(0.2 - 0.04))**2 / 0.04 = 36.8
    assert result.needed_pairs == 37
    assert result.underpowered
    assert result.warning is not None
    assert "10 pairs" in result.warning
    assert "about 37 needed" in result.warning
    assert "not evidence of no regression" in result.warning
    assert result.summary().endswith("inconclusive (underpowered: 10 pairs, 37 needed)")


@pytest.mark.parametrize("method", ["mcnemar", "bootstrap"])
def test_clear_regression_on_forty_cases_is_supported(method: Method):
    result = compare_paired(
        table(worse=8, both_pass=30, both_fail=2), method=method, resamples=2000
    )
    assert (result.n_pairs, result.n_cases) == (40, 40)
    assert result.delta == pytest.approx(-0.2)
    assert result.ci_high < 0
    assert result.regression
    assert not result.improvement
    assert not result.underpowered
    assert result.warning is None
    if method == "mcnemar":
        assert result.p_value == pytest.approx(2 / 2**8)


@pytest.mark.parametrize("method", ["mcnemar", "bootstrap"])
def test_clear_improvement_is_supported_as_an_improvement(method: Method):
    result = compare_paired(
        table(better=8, both_pass=30, both_fail=2), method=method, resamples=2000
    )
    assert result.delta == pytest.approx(0.2)
    assert result.ci_low > 0
    assert result.improvement
    assert not result.regression


@pytest.mark.parametrize("method", ["mcnemar", "bootstrap"])
def test_independent_noise_is_rarely_called_a_regression(method: Method):
    seeds = range(200)
    called = [
        compare_paired(noisy_versions(s), method=method, resamples=2000, seed=s).regression
        for s in seeds
    ]
    assert sum(called) <= 0.05 * len(seeds)


def test_bootstrap_interval_covers_the_true_delta_about_95_percent_of_the_time():
    covered = 0
    for seed in range(200):
        result = compare_paired(worse_by(0.2, seed), resamples=2000, seed=seed)
        assert result.ci_low <= result.delta <= result.ci_high
        covered += result.ci_low <= -0.2 <= result.ci_high
    assert covered >= 0.9 * 200


def test_bootstrap_is_reproducible_with_the_same_seed():
    pairs = worse_by(0.1, seed=7)
    first = compare_paired(pairs, method="bootstrap", resamples=2000, seed=3)
    assert compare_paired(pairs, method="bootstrap", resamples=2000, seed=3) == first
    other = compare_paired(pairs, method="bootstrap", resamples=2000, seed=4)
    assert (other.ci_low, other.ci_high) != (first.ci_low, first.ci_high)


def test_case_bootstrap_is_wider_than_a_naive_one_when_trials_of_a_case_agree():
    pairs = table(worse=6, better=1, both_pass=30, both_fail=3, trials=3)
    # The same pairs with each trial as a case of its own: what ignoring the clusters gives.
    naive_pairs = [(f"{case}/{i}", b, c) for i, (case, b, c) in enumerate(pairs)]
    clustered = compare_paired(pairs, resamples=2000)
    naive = compare_paired(naive_pairs, resamples=2000)
    assert (clustered.n_cases, naive.n_cases) == (40, 120)
    assert clustered.delta == naive.delta
    width = clustered.ci_high - clustered.ci_low
    naive_width = naive.ci_high - naive.ci_low
    assert width > 1.4 * naive_width  # about sqrt(3): 3 agreeing trials hold one case's evidence


def test_mcnemar_counts_agreeing_trials_as_independent_evidence_the_bootstrap_does_not():
    # 2 of 40 cases broke, each in all 3 trials: 6 discordant pairs from only 2 cases.
    pairs = table(worse=2, both_pass=38, trials=3)
    mcnemar = compare_paired(pairs, method="mcnemar", resamples=2000)
    bootstrap = compare_paired(pairs, method="bootstrap", resamples=2000)
    assert mcnemar.p_value == pytest.approx(0.03125)
    assert mcnemar.regression
    assert not bootstrap.regression
    assert bootstrap.ci_high == 0.0  # (38/40)**40 = 13% of resamples draw neither broken case


def test_needed_pairs_follow_connor_with_the_observed_discordance():
    # Discordance 0.5, effect 0.2: (1.96*sqrt(0.5) + 0.8416*sqrt(0.5 - 0.04))**2 / 0.04 = 95.7
    result = compare_paired(table(worse=10, better=10, both_pass=20), resamples=2000)
    assert result.needed_pairs == 96
    assert result.underpowered
    # Less discordance than the effect counts as the effect (a drop needs that many flips):
    # (1.96*sqrt(0.1) + 0.8416*sqrt(0.1 - 0.01))**2 / 0.01 = 76.1
    assert compare_paired(table(both_pass=40), effect=0.1, resamples=2000).needed_pairs == 77


@pytest.mark.parametrize(
    ("pairs", "options", "message"),
    [
        ([], {}, "no pairs"),
        (None, {"alpha": 0.0}, "alpha must be between 0 and 1"),
        (None, {"alpha": 1.0}, "alpha must be between 0 and 1"),
        (None, {"power": 0.0}, "power must be between 0 and 1"),
        (None, {"power": 1.5}, "power must be between 0 and 1"),
        (None, {"effect": 0.0}, "effect must be between 0 and 1"),
        (None, {"effect": 1.0}, "effect must be between 0 and 1"),
        (None, {"method": "ttest"}, "unknown method 'ttest'"),
        (None, {"resamples": 0}, "resamples must be at least 1"),
    ],
)
def test_bad_comparison_inputs_raise(pairs: Pairs | None, options: dict, message: str):
    with pytest.raises(ValueError, match=message):
        compare_paired(table(worse=1, both_pass=5) if pairs is None else pairs, **options)


def test_paired_summary_is_one_line_with_rates_interval_test_and_verdict():
    result = compare_paired(table(worse=8, both_pass=30, both_fail=2), resamples=2000)
    assert re.fullmatch(
        r"pass rate 0\.950 -> 0\.750 \(-0\.200, 95% CI -0\.\d\d\.\.-0\.\d\d\), "
        r"McNemar p=0\.008 \(8 worse, 0 better\): regression",
        result.summary(),
    )


def test_metric_regresses_when_the_ratio_passes_the_threshold():
    slower = compare_metric("latency_p95_s", 2.0, 3.0, threshold=1.2)
    assert slower.ratio == 1.5
    assert slower.regression
    assert slower.summary() == "latency_p95_s 2 -> 3 (x1.50, threshold x1.20): regression"
    assert not compare_metric("latency_p95_s", 2.0, 2.2, threshold=1.2).regression
    assert not compare_metric("latency_p95_s", 2.0, 2.4, threshold=1.2).regression  # not above


def test_metric_ratio_from_zero_is_infinite_and_zero_to_zero_is_one():
    from_zero = compare_metric("dollars", 0.0, 0.01, threshold=1.2)
    assert from_zero.ratio == math.inf
    assert from_zero.regression
    both_zero = compare_metric("dollars", 0.0, 0.0, threshold=1.2)
    assert both_zero.ratio == 1.0
    assert not both_zero.regression


@pytest.mark.parametrize(
    ("baseline", "candidate", "threshold", "message"),
    [
        (-1.0, 1.0, 1.2, "baseline must be a finite number >= 0"),
        (1.0, math.nan, 1.2, "candidate must be a finite number >= 0"),
        (1.0, 1.0, 0.0, "threshold must be a finite ratio > 0"),
    ],
)
def test_bad_metric_inputs_raise(baseline: float, candidate: float, threshold: float, message: str):
    with pytest.raises(ValueError, match=message):
        compare_metric("tokens", baseline, candidate, threshold=threshold)
