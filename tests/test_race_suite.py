"""Runs you can trust, under contention: two processes deciding on one paused run at once.

A support run waits for approval of ``delete_customer`` (or first of a notification, then of the
deletion); two ``agentlab resume`` processes answer it at the same moment (``tests/reliability/
race.py``). Whatever the timing: one writer at a time (the other is told who holds the run, or
that the run no longer waits for what it was shown), the deletion runs at most once and only
after an approval of exactly that call, nobody's decision lands on a call they were not shown,
and the run's record agrees with what ran. ``RACE_SUITE_TRIALS`` sets the trials per scenario
(default 8, so 16 per scenario); ``pytest -s`` prints who won how often.
"""

from __future__ import annotations

import os
import random

import pytest
from rich.console import Console
from rich.table import Table

from tests.reliability import race

TRIALS = int(os.environ.get("RACE_SUITE_TRIALS", "8"))

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow, pytest.mark.integration]


def _trials(tmp_path, variant, first, *others, seed) -> list[race.Race]:
    """``TRIALS`` races of ``first`` against each of ``others`` in turn."""
    rng = random.Random(seed)
    races = [
        race.race(tmp_path / f"trial-{n:02d}", variant, first, others[n % len(others)], rng)
        for n in range(TRIALS)
    ]
    against = " / ".join(" ".join(o.flags) for o in others)
    _print(f"{first.name} vs {against}, variant {variant}", races)
    return races


def _print(title: str, races: list[race.Race]) -> None:
    table = Table(title=f"Race suite: {title} ({len(races)} trials)")
    table.add_column("outcome")
    table.add_column("trials", justify="right")
    for outcome, n in sorted(race.tally(races)[races[0].variant].items()):
        table.add_row(outcome, str(n))
    Console(width=120, highlight=False).print(table)


def _assert_trustworthy(races: list[race.Race]) -> None:
    broken = {r.run_id: problems for r in races if (problems := r.problems())}
    assert not broken, "\n".join(f"{run}: {'; '.join(p)}" for run, p in broken.items())


@pytest.mark.parametrize("variant", race.VARIANTS)
def test_two_approvals_at_once_advance_the_run_once(tmp_path, variant):
    races = _trials(tmp_path, variant, race.approver("A"), race.approver("B"), seed=1)
    _assert_trustworthy(races)
    if variant == "delete":  # one pause: exactly one of them moves the run on
        assert all(sum(s.advanced for s in r.sides) == 1 for r in races)
        assert all(r.state["status"] == "completed" for r in races)


@pytest.mark.parametrize("variant", race.VARIANTS)
def test_an_approval_and_a_stop_at_once_never_both_apply(tmp_path, variant):
    races = _trials(tmp_path, variant, race.approver("approver"), race.stopper("stopper"), seed=2)
    _assert_trustworthy(races)
    for r in races:  # exactly one decision lands on the call both were shown
        decided = [a for a in r.state.get("approvals", []) if a["step_id"] == "1.2"]
        assert len(decided) == 1, r.state.get("approvals")


@pytest.mark.parametrize("variant", race.VARIANTS)
def test_a_terminal_approval_racing_a_flag_applies_only_to_the_call_it_showed(tmp_path, variant):
    flags = (race.approver("approver"), race.stopper("stopper"))
    races = _trials(tmp_path, variant, race.TERMINAL, *flags, seed=3)
    _assert_trustworthy(races)
    assert any(s.contender is race.TERMINAL and s.shown for r in races for s in r.sides)
