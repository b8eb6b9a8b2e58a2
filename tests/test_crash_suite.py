"""Runs you can trust, under SIGKILL: a run killed at any point is resumed to its end from the
command line, and every effect happens exactly once.

The scenario (``tests/reliability/crash.py``): the crash agent (support tools plus a file append)
closes Ada Lovelace's account with ``agentlab run --approve`` under the crash harness
(``tests/reliability/crash_harness.py``), which SIGKILLs the process at a chosen kill point:
before and after each checkpoint write, journal write, tool effect, runs-table write and event,
and during those that are transactions of several statements (checkpoints, the support tools'
effects). A dry run counts the points; the campaign (``tests/reliability/campaign.py``) kills at
``CRASH_SUITE_POINTS`` of them (default 60: one of every site, then a spread; ``all`` for every
point), plus the last points of a run, two trials at a time. After each kill a careful person
resumes with ``agentlab resume`` until the run ends: ``--approve`` at an approval (``y`` when
asked at the terminal); for a call of unknown effect they check the world and answer
``--happened`` or ``--approve``.

The fault scenario (``tests/reliability/faults.py``) adds the faults a process meets besides its
death: its run, with an MCP server that dies mid-call and a call that outlives its timeout, is
killed at ``FAULTS["kills"]`` points, stopped (SIGSTOP) past its lease and taken over at
``FAULTS["stops"]``, has its disk filled at ``FAULTS["fills"]`` (a small tmpfs: as root; else
those are kills too, and the report says why), and at ``FAULTS["malformed"]`` it is killed while
its model (Claude's path, through the Anthropic test server) answers broken: a non-object tool
input, an unknown block, a cut stream, a JSON body for a stream. The crash scenario takes the rest
of the points.

``pytest -s`` prints the table of kills by point and the figures, also written as JSON (to the
test's tmp dir, or to the file ``CRASH_SUITE_REPORT`` names).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from tests.reliability.campaign import (
    KINDS,
    Campaign,
    FaultCampaign,
    as_json,
    choose,
    summary_table,
)
from tests.reliability.crash import Trial
from tests.reliability.faults import BROKEN

pytestmark = [pytest.mark.timeout(1200), pytest.mark.slow, pytest.mark.integration]

# Between the last step's saved writes and the run's last checkpoint: the run has completed as
# far as its state goes, yet LangGraph's final checkpoint was never written.
LAST_WRITES = ("checkpoint.put_writes:after", "checkpoint.put:before", "checkpoint.put:during")


FAULTS = {"kills": 4, "stops": 3, "fills": 2, "malformed": 3}


def _wanted() -> int | None:
    """How many points the crash scenario gets: the suite's (``CRASH_SUITE_POINTS``) less the
    fault scenario's."""
    value = os.environ.get("CRASH_SUITE_POINTS", "60")
    return None if value == "all" else max(int(value) - sum(FAULTS.values()), 1)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campaign]:
    base = tmp_path_factory.mktemp("crash-suite")
    with pytest.MonkeyPatch.context() as env:  # as tests/conftest.py isolates each test
        for name in list(os.environ):
            if name.startswith(("ANTHROPIC_", "AGENTLAB_")):
                env.delenv(name)
        result = Campaign.prepare(base)
        chosen = choose(result.points, _wanted())
        last = [result.last(site) for site in LAST_WRITES]
        result.kill([p for p in result.points if p in {*chosen, *last}])
        faults = FaultCampaign.prepare(tmp_path_factory.mktemp("faults"))
        faults.run(faults.choose(**FAULTS))
        result.faults = faults
    yield result
    report = Path(os.environ.get("CRASH_SUITE_REPORT") or base / "crash-suite.json")
    figures = result.figures()
    report.write_text(json.dumps({"figures": figures, "trials": as_json(result.trials)}, indent=2))
    console = Console(width=170, highlight=False)
    console.print(summary_table(result))
    console.print(json.dumps(figures))
    console.print(f"figures and trials: {report}")


def _each(trials: list[Trial], what: str) -> str:
    return "\n".join(f"killed at {t.kill_at} (point {t.index}): {what.format(t=t)}" for t in trials)


def test_kills_land_at_60_points_of_every_kind_including_mid_write(campaign):
    killed = Counter(t.kind for t in campaign.trials)
    assert len(campaign.every_trial) >= min(60, len(campaign.points))
    assert set(KINDS) <= set(killed), killed
    sites = {t.site for t in campaign.trials}
    assert set(campaign.sites()) <= sites  # every site, "during" a write included


def test_the_fault_scenario_is_killed_stopped_and_its_disk_filled(campaign):
    faults = campaign.faults
    done = Counter(t.action for t in faults.trials)
    fills = 0 if faults.skipped else FAULTS["fills"]
    assert done == {
        "kill": FAULTS["kills"] + FAULTS["fills"] - fills,
        "stop": FAULTS["stops"],
        "malformed": FAULTS["malformed"],
        **({"fill": fills} if fills else {}),
    }
    assert all(t.site for t in faults.trials), [t.unresumable for t in faults.trials]
    # Each run met both faults of its tools: the person was asked about the note and the record.
    assert all(t.decisions.count("happened") >= 2 for t in faults.trials if t.end == "completed")
    # Each broken answer was sent, and taken as a provider error: the runs went on.
    assert {f for t in faults.trials for f in t.provider_faults} == set(BROKEN)


def test_every_killed_run_is_resumed_to_its_end_from_the_command_line(campaign):
    stuck = [t for t in campaign.every_trial if t.unresumable]
    assert not stuck, _each(stuck, "{t.unresumable}")
    unfinished = [t for t in campaign.every_trial if t.end not in ("completed", "no run")]
    assert not unfinished, _each(unfinished, "ended {t.end}")


def test_no_effect_happens_twice(campaign):
    doubled = [t for t in campaign.every_trial if t.duplicates]
    assert not doubled, _each(doubled, "{t.duplicates} effect(s) happened twice")


def test_no_effect_of_a_completed_run_is_lost(campaign):
    lost = [t for t in campaign.every_trial if t.lost]
    assert not lost, _each(lost, "{t.lost} effect(s) of the completed run never happened")


def test_the_person_is_asked_exactly_about_calls_whose_outcome_was_not_recorded(campaign):
    wrong = [
        t for t in campaign.trials if [d for d in t.decisions if d != "approve"] not in t.expected
    ]
    assert not wrong, _each(wrong, "answered {t.decisions}, expected one of {t.expected}")
    answers = Counter(d for t in campaign.trials for d in t.decisions)
    assert answers["happened"] and answers["run again"]


def test_after_the_end_agentlab_runs_and_the_runs_table_match_the_run(campaign):
    stale = [t for t in campaign.every_trial if t.stale]
    assert not stale, _each(stale, "{t.stale}")


def test_doctor_finds_nothing_wrong_after_the_end(campaign):
    sick = [t for t in campaign.every_trial if t.doctor]
    assert not sick, _each(sick, "{t.doctor}")


def test_a_run_killed_between_its_last_writes_and_its_last_checkpoint_is_listed_as_it_ended(
    campaign,
):
    last = {campaign.last(site) for site in LAST_WRITES}
    trials = [t for t in campaign.trials if t.kill_at in last]
    assert [t.end for t in trials] == ["completed"] * len(LAST_WRITES)
    stale = [t for t in trials if t.stale or t.doctor]
    assert not stale, _each(stale, "{t.stale}; doctor: {t.doctor}")
