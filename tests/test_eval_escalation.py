"""What escalation buys, measured: the support-escalation set run with and without it. Its scripts
are a cheap model (priced as Haiku 4.5) that fails some cases alone, and a stronger one (priced as
Opus 4.8 or Sonnet 4.6) that the planner or the executor escalates to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentlab.config import Settings
from agentlab.evals import EvalResults, load_task_set
from tests.test_evals import REPOSITORY, run

ESCALATION_SET = REPOSITORY / "agentlab/domains/support/evals/escalation.yaml"
PLANNER_ESCALATES = {
    "email-grace-wrong-domain",
    "close-alan-forgets-delete",
    "push-ada-wrong-channel",
    "count-patel-past-limit",
    "james-phone-wrong-customer",
    "delete-grace-duplicate",
}
"""The cheap plan falls short; only the stronger planner's re-plan does the task."""
EXECUTOR_ESCALATES = {"text-ada-channel-case", "grace-phone-name-as-email"}
"""The cheap executor's arguments are refused twice; the stronger executor's fit."""
NEEDS_ESCALATION = PLANNER_ESCALATES | EXECUTOR_ESCALATES
CHEAP_ALONE = {"email-alan-maintenance", "list-silva-limit-fixed"}


def with_and_without(settings: Settings, tmp_path: Path) -> tuple[EvalResults, EvalResults]:
    """The set run with escalation, then without."""
    on = run(ESCALATION_SET, settings, tmp_path / "on")
    off = run(ESCALATION_SET, settings, tmp_path / "off", escalation=False)
    return on, off


def by_case(results: EvalResults, column: str) -> dict[str, Any]:
    return dict(zip(results.frame["case"], results.frame[column], strict=True))


def test_the_cases_tags_say_which_need_escalation():
    cases = load_task_set(ESCALATION_SET).cases

    def tagged(tag: str) -> set[str]:
        return {c.id for c in cases if tag in c.tags}

    assert tagged("planner-escalation") == PLANNER_ESCALATES
    assert tagged("executor-escalation") == EXECUTOR_ESCALATES
    assert tagged("cheap-alone") == CHEAP_ALONE
    assert {c.id for c in cases} == NEEDS_ESCALATION | CHEAP_ALONE


def test_with_escalation_every_case_passes_and_escalates_where_it_must(
    settings: Settings, tmp_path: Path
):
    results = run(ESCALATION_SET, settings, tmp_path / "on")
    assert results.frame["passed"].all(), results.frame[["case", "reasons"]].to_string()
    escalated = {case for case, n in by_case(results, "escalations").items() if n > 0}
    assert escalated == NEEDS_ESCALATION
    assert set(by_case(results, "escalations").values()) == {0, 1}  # once a case at most


def test_without_escalation_exactly_the_cases_that_need_it_fail(settings: Settings, tmp_path: Path):
    results = run(ESCALATION_SET, settings, tmp_path / "off", escalation=False)
    failed = {case for case, passed in by_case(results, "passed").items() if not passed}
    assert failed == NEEDS_ESCALATION
    assert not results.frame["escalations"].any()
    assert results.meta.version.endswith("(no escalation)")


def test_escalation_costs_more_where_it_happens_and_nothing_elsewhere(
    settings: Settings, tmp_path: Path
):
    on, off = with_and_without(settings, tmp_path)
    cost_on, cost_off = by_case(on, "cost_usd"), by_case(off, "cost_usd")
    for case in NEEDS_ESCALATION:
        assert cost_on[case] > cost_off[case], case
    for case in CHEAP_ALONE:
        assert cost_on[case] == pytest.approx(cost_off[case]), case
    with_it, without = on.summary(), off.summary()
    assert with_it["pass_rate"] == 1.0
    assert without["pass_rate"] == pytest.approx(len(CHEAP_ALONE) / len(cost_on))
    assert with_it["cost_usd"] > without["cost_usd"]
    assert (with_it["escalations"], without["escalations"]) == (len(NEEDS_ESCALATION), 0)
