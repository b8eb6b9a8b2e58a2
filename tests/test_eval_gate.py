"""The regression gate on the support set: a broken prompt version is caught, noise is not
taken for a regression, and too few cases give a warning instead of a verdict."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from agentlab.evals import load_task_set
from tests.cli import agentlab

REPOSITORY = Path(__file__).resolve().parents[1]
SUPPORT = REPOSITORY / "agentlab/domains/support"
SUPPORT_SET = SUPPORT / "evals/support.yaml"
V1 = SUPPORT / "prompts/v1"
BROKEN = SUPPORT / "prompts/v2-terse"

pytestmark = pytest.mark.slow

GIVE_UP = {
    "version": 1,
    "description": "a bad draw: the planner gives up",
    "roles": {
        "planner": [
            {"tool_use": {"name": "submit_plan", "input": {"give_up": "I am not sure how."}}}
        ],
        "executor": [],
        "validator": [],
    },
}


def noisy_version(tmp_path: Path) -> Path:
    """A version whose model fails 1 trial in 10 at random: each case's first turn replays
    its own script 9 times in 10 and gives up the 10th (drawn with the eval's seed)."""
    version = tmp_path / "noisy"
    scripts = version / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "give-up.yaml").write_text(yaml.safe_dump(GIVE_UP), encoding="utf-8")
    task_set = load_task_set(SUPPORT_SET)
    for case in task_set.cases:
        own = case.turns[0].script
        assert isinstance(own, str), case.id
        variants = {
            "variants": [
                {"weight": 9, "script": str(task_set.base / own)},
                {"weight": 1, "script": "give-up.yaml"},
            ]
        }
        (scripts / f"{case.id}.yaml").write_text(yaml.safe_dump(variants), encoding="utf-8")
    (version / "VERSION").write_text("noisy\n", encoding="utf-8")
    shutil.copy(V1 / "planner.md", version)  # v1's prompts, a model that wavers under them
    return version


def test_noise_of_one_in_ten_does_not_trip_the_gate(tmp_path: Path, env: dict[str, str]):
    noisy = noisy_version(tmp_path)
    runs = []
    for seed in ("1", "2"):
        out = tmp_path / f"seed-{seed}"
        done = agentlab(
            env,
            "eval",
            SUPPORT_SET,
            "--prompts",
            noisy,
            "--seed",
            seed,
            "--skip-tag",
            "kb",
            "--out",
            out,
        )
        assert done.returncode in (0, 1), done.stderr
        runs.append(out)
    compared = agentlab(env, "eval", "compare", *runs)
    assert compared.returncode == 0, compared.stdout
    # the noise did fail some trials: the gate saw changes and did not call them a regression
    assert "cases whose pass rate changed" in compared.stdout
    assert "REGRESSION" not in compared.stdout  # no verdict of regression: some noise, no more


def test_too_few_cases_give_a_warning_not_a_verdict(tmp_path: Path, env: dict[str, str]):
    task_set = load_task_set(SUPPORT_SET)
    broken = {p.stem for p in (BROKEN / "scripts").glob("*.yaml")}
    few = [c.id for c in task_set.cases if c.id in broken][:1]
    few += [c.id for c in task_set.cases if c.id not in broken][:2]
    chosen = [arg for case in few for arg in ("--case", case)]
    for name, version in (("a", V1), ("b", BROKEN)):
        agentlab(env, "eval", SUPPORT_SET, "--prompts", version, *chosen, "--out", tmp_path / name)
    compared = agentlab(env, "eval", "compare", tmp_path / "a", tmp_path / "b")
    assert compared.returncode == 0, compared.stdout
    assert "warning:" in compared.stdout and "too few to detect" in compared.stdout
    assert "not evidence of no regression" in compared.stdout
    assert "verdict: inconclusive" in compared.stdout
