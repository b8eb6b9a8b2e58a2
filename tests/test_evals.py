"""The eval harness end to end: a task set run against the support agent with scripted models,
each trial in a data directory of its own, scored, saved, re-scored and compared."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
import stat
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from agentlab.config import Settings
from agentlab.evals import (
    EvalOptions,
    EvalResults,
    EvalSetError,
    load_task_set,
    rescore_eval,
    run_eval,
)
from tests.cli import agentlab

REPOSITORY = Path(__file__).resolve().parents[1]
SUPPORT_SET = REPOSITORY / "agentlab/domains/support/evals/support.yaml"
SCRIPTS = REPOSITORY / "agentlab/domains/support/evals/scripts"
PROMPTS = REPOSITORY / "agentlab/domains/support/prompts"
AGENT = "agentlab.domains.support:agent"
REQUIRED_TAGS = {
    "approval",
    "waiting",
    "rejection",
    "edit",
    "stopped",
    "refusal",
    "iteration-cap",
    "multi-turn",
    "injection",
    "executor-fix",
    "tool-error",
    "parallel",
    "greeting",
    "sms",
    "kb",
}
"""What the support set must exercise, each named by a tag of its cases."""
BROKEN_BY_V2_TERSE = {
    "lookup-ada-by-email",
    "lookup-by-id",
    "parallel-compare-plans",
    "greeting",
    "email-ada-invoice",
    "refund-refused",
    "injection-delete-in-name",
    "mt-lookup-then-email",
}
"""The cases the deliberately worse prompt version v2-terse fails (its scripts/ overrides)."""


def write_set(tmp_path: Path, cases: list[dict], **extra: object) -> Path:
    path = tmp_path / "set.yaml"
    path.write_text(
        yaml.safe_dump({"version": 1, "name": "mini", "agent": AGENT, **extra, "cases": cases}),
        encoding="utf-8",
    )
    return path


def close_ada(**changes: object) -> dict:
    case = {
        "id": "close-ada",
        "message": "Close Ada Lovelace's account",
        "script": str(SCRIPTS / "close-ada.yaml"),
        "decisions": ["approve", "approve"],
        "checks": {
            "status": "completed",
            "database": [
                {
                    "file": "support.sqlite",
                    "query": "SELECT count(*) FROM customers WHERE id = 1",
                    "rows": [[0]],
                }
            ],
            "tools": {
                "mode": "superset",
                "calls": [{"tool": "delete_customer", "arguments": {"customer_id": 1}}],
            },
        },
    }
    case.update(changes)
    return case


def run(task_set: Path, settings: Settings, out: Path, **options: object) -> EvalResults:
    loaded = load_task_set(task_set)
    return asyncio.run(
        run_eval(loaded, EvalOptions(agent=AGENT, **options), settings, out)  # type: ignore[arg-type]
    )


def test_a_case_runs_the_full_loop_in_its_own_data_directory(tmp_path: Path, settings: Settings):
    results = run(write_set(tmp_path, [close_ada()]), settings, tmp_path / "out")
    row = results.frame.iloc[0]
    assert bool(row["passed"]), row["reasons"]
    assert row["status"] == "completed" and row["approvals"] == 2
    assert row["checks"] == 3 and row["model_calls"] >= 4
    trial = tmp_path / "out" / "trials" / "close-ada" / "0"
    assert (trial / "data" / "support.sqlite").is_file()
    assert not (settings.data_dir / "support.sqlite").exists()  # the user's data untouched
    saved = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert list(saved["case"]) == ["close-ada"]
    assert (tmp_path / "out" / "results.csv").is_file()


def test_a_trials_runs_database_is_private_and_whole_once_the_eval_ends(
    tmp_path: Path, settings: Settings
):
    run(write_set(tmp_path, [close_ada()]), settings, tmp_path / "out")
    database = tmp_path / "out" / "trials" / "close-ada" / "0" / "data" / "runs.sqlite"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert not database.with_name("runs.sqlite-wal").exists()  # checkpointed into the file
    with contextlib.closing(sqlite3.connect(database)) as conn:
        statuses = conn.execute("SELECT status FROM agentlab_run_records").fetchall()
    assert statuses == [("completed",)]


def test_a_failed_check_says_why(tmp_path: Path, settings: Settings):
    case = close_ada(decisions=["approve", "reject"])  # the delete rejected: Ada stays
    case["script"] = str(SCRIPTS / "close-ada.yaml")
    results = run(write_set(tmp_path, [case]), settings, tmp_path / "out")
    row = results.frame.iloc[0]
    assert not bool(row["passed"])
    assert "db:" in row["failed_checks"] and "rows [[1]], expected [[0]]" in row["reasons"]


def test_a_bad_set_names_file_case_and_field(tmp_path: Path):
    path = write_set(tmp_path, [close_ada(checks={"status": "done"})])
    with pytest.raises(EvalSetError) as caught:
        load_task_set(path)
    message = str(caught.value)
    assert str(path) in message and "'close-ada'" in message and "checks.status" in message


def test_rescore_reproduces_and_changed_checks_rescore_without_a_model(
    tmp_path: Path, settings: Settings
):
    path = write_set(tmp_path, [close_ada()])
    first = run(path, settings, tmp_path / "out", repeat=2)
    calls_before = model_calls_kept(tmp_path / "out")
    assert calls_before == int(first.frame["model_calls"].sum()) > 0
    again = asyncio.run(rescore_eval(tmp_path / "out", load_task_set(path), tmp_path / "re"))
    assert model_calls_kept(tmp_path / "out") == calls_before  # no run, no model call
    columns = ["case", "trial", "passed", "failed_checks", "reasons", "cost_usd", "tokens"]
    pd.testing.assert_frame_equal(first.frame[columns], again.frame[columns])
    changed = close_ada()
    changed["checks"]["status"] = "failed"
    write_set(tmp_path, [changed])
    third = asyncio.run(rescore_eval(tmp_path / "out", load_task_set(path), tmp_path / "re2"))
    assert not third.frame["passed"].any()
    assert set(third.frame["failed_checks"]) == {"status"}


def model_calls_kept(out: Path) -> int:
    """The model calls in the cost ledgers of every trial of the eval in ``out`` (each call a
    model answered is a ledger row)."""
    import sqlite3

    total = 0
    for db in out.glob("trials/*/*/data/runs.sqlite"):
        with sqlite3.connect(db) as conn:
            total += conn.execute("SELECT count(*) FROM agentlab_cost_ledger").fetchone()[0]
    return total


def test_cli_runs_a_set_and_compares_two_evals(tmp_path: Path, env: dict[str, str]):
    path = write_set(tmp_path, [close_ada()])
    a = agentlab(env, "eval", path, "--out", tmp_path / "a")
    assert a.returncode == 0, a.stderr
    assert "pass rate 1.000" in a.stdout and "scripted (no LLM was called)" in a.stdout
    b = agentlab(env, "eval", "run", path, "--out", tmp_path / "b")
    assert b.returncode == 0, b.stderr
    compared = agentlab(env, "eval", "compare", tmp_path / "a", tmp_path / "b")
    assert compared.returncode == 0, compared.stdout + compared.stderr
    assert "warning:" in compared.stdout  # one pair cannot show a drop: said, not concluded
    assert "verdict: inconclusive" in compared.stdout


def test_cli_refuses_a_missing_set_in_one_line(tmp_path: Path, env: dict[str, str]):
    done = agentlab(env, "eval", tmp_path / "nope.yaml")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "task set not found" in done.stderr


def test_promote_turns_a_run_into_a_case_that_replays_it(tmp_path: Path, env: dict[str, str]):
    script = SCRIPTS / "close-ada.yaml"
    started = agentlab(env, "run", "Close Ada Lovelace's account", "--script", script, "--approve")
    assert started.returncode == 0, started.stderr
    run_id = next(w for w in started.stdout.split() if w.startswith("run-"))
    to = tmp_path / "promoted" / "found.yaml"
    promoted = agentlab(env, "eval", "promote", run_id, "--to", to)
    assert promoted.returncode == 0, promoted.stderr
    task_set = load_task_set(to)
    [case] = task_set.cases
    assert case.turns[0].message == "Close Ada Lovelace's account"
    assert [d.answer for d in case.turns[0].decisions] == ["approve", "approve"]
    assert case.checks.status == "completed" and case.checks.approvals == 2
    assert [c["tool"] for c in case.checks.tools.calls] == [  # type: ignore[union-attr]
        "search_customers",
        "send_notification",
        "delete_customer",
    ]
    assert "edit them" in case.description
    again = agentlab(env, "eval", to, "--out", tmp_path / "out")
    assert again.returncode == 0, again.stdout + again.stderr  # the case replays the run
    second = agentlab(env, "eval", "promote", run_id, "--to", to, "--id", case.id)
    assert second.returncode == 2 and "already has a case" in second.stderr


def test_promote_writes_the_models_answers_when_the_script_is_gone(
    tmp_path: Path, env: dict[str, str]
):
    script = tmp_path / "gone.yaml"
    shutil.copy(SCRIPTS / "close-ada.yaml", script)
    started = agentlab(env, "run", "Close Ada Lovelace's account", "--script", script, "--approve")
    run_id = next(w for w in started.stdout.split() if w.startswith("run-"))
    script.unlink()  # as for a run on Claude: only the run's record says what was answered
    to = tmp_path / "found.yaml"
    assert agentlab(env, "eval", "promote", run_id, "--to", to).returncode == 0
    again = agentlab(env, "eval", to, "--out", tmp_path / "out")
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_prompt_version_reaches_the_runs_and_names_the_results(
    tmp_path: Path, settings: Settings
):
    version = tmp_path / "terse"
    version.mkdir()
    (version / "planner.md").write_text("You plan for {name} ({purpose}). Tools:\n{tools}\n")
    (version / "VERSION").write_text("terse-1\n")
    results = run(
        write_set(tmp_path, [close_ada()]), settings, tmp_path / "out", prompts_dir=version
    )
    assert set(results.frame["version"]) == {"terse-1"}
    from agentlab.evals import TrialRecord

    record = TrialRecord.load(tmp_path / "out" / "trials" / "close-ada" / "0")
    assert record.turns[0].prompt_version == "terse-1"


def test_a_directory_that_is_no_prompt_version_is_refused_before_anything_runs(
    tmp_path: Path, env: dict[str, str]
):
    (tmp_path / "empty").mkdir()
    done = agentlab(
        env,
        "eval",
        write_set(tmp_path, [close_ada()]),
        "--prompts",
        tmp_path / "empty",
        "--out",
        tmp_path / "out",
    )
    assert done.returncode == 2 and "holds no prompt file" in done.stderr
    assert not (tmp_path / "out").exists()


JUDGE_SCRIPT = """
version: 1
roles:
  planner: []
  executor: []
  validator: []
  judge:
    - tool_use:
        {name: submit_judgement, input: {passed: true, score: 0.9, reason: says it is closed}}
    - tool_use: {name: submit_judgement, input: {passed: false, score: 0.1, reason: flipped}}
"""


def judged_eval(tmp_path: Path, settings: Settings, out: str) -> EvalResults:
    from agentlab.evals import Judge, VerdictCache, judge_model

    (tmp_path / "judge.yaml").write_text(JUDGE_SCRIPT, encoding="utf-8")
    case = close_ada()
    case["checks"]["judged"] = [{"name": "closed", "rubric": "The reply says it is closed."}]
    path = write_set(tmp_path, [case], judge_script="judge.yaml")
    judge = Judge(
        judge_model(settings, tmp_path / "judge.yaml"), VerdictCache(tmp_path / "verdicts.sqlite")
    )
    loaded = load_task_set(path)
    return asyncio.run(
        run_eval(loaded, EvalOptions(agent=AGENT, repeat=2), settings, tmp_path / out, judge=judge)
    )


def test_a_judged_check_gives_its_reason_and_a_rerun_does_not_flip_it(
    tmp_path: Path, settings: Settings
):
    first = judged_eval(tmp_path, settings, "one")
    assert first.judge_calls == 1  # two trials, one reply: judged once
    reasons = json.loads(first.frame.iloc[1]["check_results"])
    [judged] = [c for c in reasons if c["name"] == "judge:closed"]
    assert judged["passed"] and "says it is closed" in judged["reason"]
    again = judged_eval(tmp_path, settings, "two")  # the script's next verdict would flip it
    assert again.judge_calls == 0
    assert again.frame["passed"].all()
    from agentlab.evals import Judge, VerdictCache

    # elsewhere (another data directory: an empty cache) and with no model at all: the verdicts
    # the eval kept beside its results grade it as before
    judge = Judge(None, VerdictCache(tmp_path / "elsewhere" / "verdicts.sqlite"))
    rescored = asyncio.run(
        rescore_eval(
            tmp_path / "one", load_task_set(tmp_path / "set.yaml"), tmp_path / "re", judge=judge
        )
    )
    assert rescored.judge_calls == 0 and judge.calls == 0
    assert list(rescored.frame["passed"]) == list(first.frame["passed"])


def test_the_support_set_has_forty_cases_and_every_required_behaviour():
    support = load_task_set(SUPPORT_SET)
    assert len(support.cases) >= 40
    tags = {tag for case in support.cases for tag in case.tags}
    assert tags >= REQUIRED_TAGS, f"no case tagged {sorted(REQUIRED_TAGS - tags)}"
    tagged = {tag: [c for c in support.cases if tag in c.tags] for tag in REQUIRED_TAGS}
    assert all(len(c.turns) > 1 for c in tagged["multi-turn"]) and len(tagged["multi-turn"]) >= 3
    assert len(tagged["injection"]) >= 3
    assert all("delete_customer" in c.checks.not_called for c in tagged["injection"])
    assert len(tagged["kb"]) <= 2  # each embeds the help centre when memory is on: ~10 s
    scripts = [t.script for c in support.cases for t in c.turns]
    assert all(isinstance(s, str) and (SUPPORT_SET.parent / s).is_file() for s in scripts)


def test_v2_terse_overrides_only_cases_of_the_set():
    ids = {case.id: len(case.turns) for case in load_task_set(SUPPORT_SET).cases}
    for path in (PROMPTS / "v2-terse" / "scripts").glob("*.yaml"):
        case, _, turn = path.stem.partition("@")
        assert case in ids and int(turn or 1) <= ids[case], path.name
    overridden = {p.stem.partition("@")[0] for p in (PROMPTS / "v2-terse/scripts").glob("*")}
    assert overridden == BROKEN_BY_V2_TERSE
    assert (PROMPTS / "v1" / "VERSION").read_text().strip() == "v1"
    assert (PROMPTS / "v2-terse" / "VERSION").read_text().strip() == "v2-terse"


@pytest.mark.slow
def test_every_support_case_passes_with_the_scripted_model(tmp_path: Path, settings: Settings):
    results = run(SUPPORT_SET, settings, tmp_path / "out")
    frame = results.frame
    assert set(frame["case"]) == {case.id for case in load_task_set(SUPPORT_SET).cases}
    failed = {
        row.case: f"{row.failed_checks}: {row.reasons}"
        for row in frame.itertuples(index=False)
        if not row.passed
    }
    assert not failed, "\n".join(f"{case} failed {why}" for case, why in failed.items())
    assert frame["error"].isna().all() and (frame["checks"] > 0).all()
    assert set(frame["status"]) == {"completed", "failed", "stopped", "waiting"}


@pytest.mark.slow
def test_a_broken_prompt_version_fails_its_cases_and_compare_reports_the_regression(
    tmp_path: Path, env: dict[str, str]
):
    baseline = agentlab(
        env,
        "eval",
        SUPPORT_SET,
        "--prompts",
        PROMPTS / "v1",
        "--skip-tag",
        "kb",
        "--out",
        tmp_path / "a",
    )
    assert baseline.returncode == 0, baseline.stdout + baseline.stderr
    assert "pass rate 1.000" in baseline.stdout
    broken = agentlab(
        env,
        "eval",
        SUPPORT_SET,
        "--prompts",
        PROMPTS / "v2-terse",
        "--skip-tag",
        "kb",
        "--out",
        tmp_path / "b",
    )
    assert broken.returncode == 1, broken.stdout + broken.stderr
    frame = pd.read_parquet(tmp_path / "b" / "results.parquet")
    assert set(frame.loc[~frame["passed"], "case"]) == BROKEN_BY_V2_TERSE
    assert set(frame["version"]) == {"v2-terse"}
    compared = agentlab(env, "eval", "compare", tmp_path / "a", tmp_path / "b")
    assert compared.returncode == 1, compared.stdout + compared.stderr
    assert "support v1 -> support v2-terse" in compared.stdout
    assert "8 worse, 0 better" in compared.stdout and "verdict: REGRESSION" in compared.stdout
    assert all(case in compared.stdout for case in BROKEN_BY_V2_TERSE)


ON_CLAUDE = {
    "id": "on-claude",
    "message": "Look up Ada Lovelace",
    "checks": {"status": "completed"},
}


def eval_on_failing_claude(
    tmp_path: Path, server, status: int, kind: str, cases: list[dict]
) -> EvalResults:
    """An eval whose unscripted cases run on Claude, through the test server answering every
    request with the HTTP error ``status`` (no retries, so each attempt fails at once)."""
    from agentlab.config import load_settings
    from agentlab.models.script import ScriptedError, Turn

    failing = Turn(error=ScriptedError(status=status, type=kind, message="no"))
    server = server.reset([failing] * 200)
    settings = load_settings(
        data_dir=tmp_path / "data",
        anthropic_api_key="sk-test",
        anthropic_base_url=server.base_url,
        anthropic_max_retries=0,
    )
    options = EvalOptions(agent=AGENT, retries=1, retry_delay_s=0.01)
    task_set = load_task_set(write_set(tmp_path, cases))
    return asyncio.run(run_eval(task_set, options, settings, tmp_path / "out"))


def test_a_provider_that_stays_down_is_an_error_apart_from_the_pass_rate(
    tmp_path: Path, anthropic_server
):
    results = eval_on_failing_claude(
        tmp_path, anthropic_server, 529, "overloaded_error", [close_ada(), ON_CLAUDE]
    )
    down = results.frame.set_index("case").loc["on-claude"]
    assert pd.isna(down["passed"]) and down["attempts"] == 2
    assert "unavailable" in down["error"] and "529" in down["error"]
    assert results.summary()["errors"] == 1
    assert results.pass_rate == 1.0  # close-ada passed; the trial that could not run is no fail


def test_a_jsonl_set_is_a_case_a_line_with_an_optional_head(tmp_path: Path):
    path = tmp_path / "few.jsonl"
    lines = [
        {"set": {"agent": AGENT, "principal": "ops"}},
        close_ada(),
        {"id": "x", "message": "hi", "checks": {"status": "completed"}},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    loaded = load_task_set(path)
    assert loaded.name == "few" and loaded.agent == AGENT and loaded.principal == "ops"
    assert [c.id for c in loaded.cases] == ["close-ada", "x"]
    path.write_text(json.dumps(close_ada()) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(EvalSetError, match="line 2: not JSON"):
        load_task_set(path)


@pytest.mark.slow
def test_facts_and_past_interactions_are_laid_down_for_the_case_and_recalled(
    tmp_path: Path, settings: Settings
):
    from agentlab.orchestration import SyncRunner

    case = close_ada(
        memory=True,
        principal="ada",
        fixtures={
            "facts": [{"key": "preferred_channel", "value": "sms"}],
            "memories": ["Ada asked to close her account last week, then changed her mind."],
        },
    )
    results = run(write_set(tmp_path, [case]), settings, tmp_path / "out")
    assert bool(results.frame.iloc[0]["passed"]), results.frame.iloc[0]["reasons"]
    data = tmp_path / "out" / "trials" / "close-ada" / "0" / "data"
    with SyncRunner(settings.model_copy(update={"data_dir": data})) as runner:
        view = runner.get(results.frame.iloc[0]["run_ids"])
    memory = "\n".join(view.state["recalled"]["memory"])
    assert "preferred_channel" in memory and "sms" in memory
    assert "changed her mind" in memory


def test_a_refusal_of_the_provider_is_the_agents_failure_not_an_infrastructure_error(
    tmp_path: Path, anthropic_server
):
    results = eval_on_failing_claude(
        tmp_path, anthropic_server, 401, "authentication_error", [ON_CLAUDE]
    )
    row = results.frame.iloc[0]
    assert row["passed"] == False and pd.isna(row["error"]) and row["attempts"] == 1  # noqa: E712
    assert "401" in row["reasons"]


def test_wrong_limits_and_paths_outside_the_trial_are_refused_when_the_set_loads(
    tmp_path: Path, env: dict[str, str]
):
    bad_limits = write_set(tmp_path, [close_ada(limits={"max_iterationz": 3})])
    done = agentlab(env, "eval", bad_limits, "--out", tmp_path / "o1")
    assert done.returncode == 2 and "case 'close-ada', field limits.max_iterationz" in done.stderr
    outside = close_ada()
    outside["checks"]["database"][0]["file"] = "../../elsewhere.sqlite"
    done = agentlab(env, "eval", write_set(tmp_path, [outside]), "--out", tmp_path / "o2")
    assert done.returncode == 2 and "inside the data directory" in done.stderr
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_promote_adds_only_to_a_yaml_set(tmp_path: Path, env: dict[str, str]):
    done = agentlab(env, "eval", "promote", "run-0000000000", "--to", tmp_path / "set.jsonl")
    assert done.returncode == 2 and "YAML set" in done.stderr
    assert not (tmp_path / "set.jsonl").exists()


def test_promote_keeps_the_facts_that_stood_when_the_run_started(
    tmp_path: Path, env: dict[str, str]
):
    from agentlab.config import load_settings
    from agentlab.memory.facts import open_facts

    env = {**env, "AGENTLAB_MEMORY__ENABLED": "true"}
    settings = load_settings(data_dir=Path(env["AGENTLAB_DATA_DIR"]))

    async def remember(value: str) -> None:
        async with open_facts(settings) as store:
            await store.remember("support", "ada", "plan", value, run_id="before")

    asyncio.run(remember("pro"))
    started = agentlab(
        env,
        "run",
        "Close Ada Lovelace's account",
        "--script",
        SCRIPTS / "close-ada.yaml",
        "--approve",
        "--as",
        "ada",
    )
    assert started.returncode == 0, started.stderr
    run_id = next(w for w in started.stdout.split() if w.startswith("run-"))
    time.sleep(1.1)  # the run's start is kept to the second
    asyncio.run(remember("free"))  # after the run: not its starting state
    to = tmp_path / "found.yaml"
    assert agentlab(env, "eval", "promote", run_id, "--to", to).returncode == 0
    [case] = load_task_set(to).cases
    assert [(f.key, f.value) for f in case.fixtures.facts] == [("plan", "pro")]
    assert case.principal == "ada"


def test_a_case_without_checks_is_refused_naming_it(tmp_path: Path):
    case = close_ada()
    del case["checks"]
    with pytest.raises(EvalSetError, match="case 'close-ada', field checks: Field required"):
        load_task_set(write_set(tmp_path, [case]))
    case["checks"] = {}
    with pytest.raises(EvalSetError, match="needs at least one check"):
        load_task_set(write_set(tmp_path, [case]))


def test_a_prior_conversation_is_the_history_the_case_continues(tmp_path: Path, settings: Settings):
    from agentlab.orchestration import SyncRunner

    case = close_ada(
        message="Close my account, please.",
        fixtures={
            "conversation": [
                {
                    "message": "Hi, I am Ada Lovelace (ada.lovelace@example.com).",
                    "reply": "Hello Ada, how can I help?",
                }
            ]
        },
    )
    results = run(write_set(tmp_path, [case]), settings, tmp_path / "out")
    row = results.frame.iloc[0]
    assert bool(row["passed"]), row["reasons"]
    data = tmp_path / "out" / "trials" / "close-ada" / "0" / "data"
    with SyncRunner(settings.model_copy(update={"data_dir": data})) as runner:
        view = runner.get(row["run_ids"])
        turns = runner.turns(view.record.session)
    assert [t["message"] for t in view.state["recalled"]["turns"]] == [
        "Hi, I am Ada Lovelace (ada.lovelace@example.com)."
    ]
    assert [t["number"] for t in turns] == [1, 2] and turns[1]["run_id"] == row["run_ids"]
