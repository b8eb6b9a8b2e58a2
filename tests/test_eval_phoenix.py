"""An eval in Phoenix: its set as a dataset (a case an example, kept by case id), the eval as an
experiment whose runs are the trials, each linked to its agent run's trace and evaluated check by
check; without a Phoenix that can take it, one line says why before the eval runs.

The slow tests log to the session's Phoenix (``tests/phoenix_server.py``), each under a set name
and a trace project of its own, and read everything back with Phoenix's client.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentlab.config import Settings, load_settings
from agentlab.evals import EvalOptions, EvalResults, TrialRecord, load_task_set, run_eval
from agentlab.evals.harness import score_records
from agentlab.evals.phoenix import PASSED, PhoenixLogError, check_phoenix, log_to_phoenix
from agentlab.observability.phoenix import PhoenixServer
from agentlab.observability.traces import read_trace
from tests.cli import agentlab
from tests.phoenix_server import free_ports
from tests.test_evals import AGENT, close_ada, write_set

CHECKS = {"status", "db:SELECT count(*) FROM customers WHERE id = 1", "tools:superset"}
CALLS = ["search_customers", "send_notification", "delete_customer"]


def traced_settings(phoenix: PhoenixServer, tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        otlp_endpoint=phoenix.otlp_endpoint,
        trace_project=f"agentlab-eval-{uuid.uuid4().hex[:8]}",
    )


def run(path: Path, settings: Settings, out: Path, repeat: int = 1) -> EvalResults:
    options = EvalOptions(agent=AGENT, repeat=repeat)
    return asyncio.run(run_eval(load_task_set(path), options, settings, out))


def client_of(phoenix: PhoenixServer) -> Any:
    from phoenix.client import Client

    return Client(base_url=phoenix.url)


@pytest.mark.slow
@pytest.mark.integration
def test_an_eval_is_a_dataset_and_an_experiment_whose_runs_link_to_their_traces(
    phoenix: PhoenixServer, env: dict[str, str], tmp_path: Path
) -> None:
    name, project = f"mini-{uuid.uuid4().hex[:8]}", f"agentlab-eval-{uuid.uuid4().hex[:8]}"
    path = write_set(tmp_path, [close_ada(tags=["account"])], name=name)
    traced = {
        **env,
        "AGENTLAB_OTLP_ENDPOINT": phoenix.otlp_endpoint,
        "AGENTLAB_TRACE_PROJECT": project,
    }
    done = agentlab(traced, "eval", path, "--repeat", "2", "--out", tmp_path / "out", "--phoenix")
    assert done.returncode == 0, done.stderr
    results = EvalResults.load(tmp_path / "out")

    client = client_of(phoenix)
    dataset = client.datasets.get_dataset(dataset=name)
    [example] = dataset.examples
    assert example["id"] == "close-ada"
    assert example["input"] == {"messages": ["Close Ada Lovelace's account"]}
    assert example["output"]["checks"]["status"] == "completed"
    assert example["metadata"] == {"case": "close-ada", "tags": ["account"]}
    [experiment] = client.experiments.list(dataset_id=dataset.id)
    line = next(x for x in done.stdout.splitlines() if x.startswith("Phoenix:"))
    assert f"{phoenix.url}/datasets/{dataset.id}/examples" in line
    assert f"experimentId={experiment['id']}" in line
    assert experiment["name"].startswith(f"{name} builtin ")

    ran = client.experiments.get_experiment(experiment_id=experiment["id"])
    runs = sorted(ran["task_runs"], key=lambda r: r["repetition_number"])
    assert [r["repetition_number"] for r in runs] == [1, 2]
    rows = results.frame.sort_values("trial").to_dict("records")
    for run_, row in zip(runs, rows, strict=True):
        output = run_["output"]
        assert output["status"] == "completed" and "account is closed" in output["reply"]
        assert [call["tool"] for call in output["tool_calls"]] == CALLS
        assert "ada.lovelace@example.com" not in str(output)  # redacted, as spans are
        assert output["metadata"]["run_ids"] == [row["run_ids"]]
        assert output["metadata"]["tokens"] == row["tokens"] > 0
        # The run carries the trial's trace id, and that trace is in Phoenix: the agent's run.
        assert run_["trace_id"] == row["trace_ids"] != ""
        spans = read_trace(phoenix.url, run_["trace_id"], project=project)
        assert "run" in set(spans["name"]) and "delete_customer" in set(spans["tool"])

    evaluations: dict[str, dict[str, Any]] = {}
    for evaluation in ran["evaluation_runs"]:
        evaluations.setdefault(evaluation.experiment_run_id, {})[evaluation.name] = (
            evaluation.result
        )
    assert set(evaluations) == {r["id"] for r in runs}
    for results_of_run in evaluations.values():
        assert set(results_of_run) == CHECKS | {PASSED}
        assert all(r["score"] == 1.0 and r["label"] == "pass" for r in results_of_run.values())
    assert results_of_run["tools:superset"]["explanation"].startswith("each of the 1 expected")


@pytest.mark.slow
@pytest.mark.integration
def test_a_failed_check_is_a_failing_evaluation_with_its_reason(
    phoenix: PhoenixServer, tmp_path: Path
) -> None:
    name = f"mini-{uuid.uuid4().hex[:8]}"
    path = write_set(tmp_path, [close_ada(decisions=["approve", "reject"])], name=name)
    settings = traced_settings(phoenix, tmp_path)
    results = run(path, settings, tmp_path / "out")
    log_to_phoenix(results, settings, tmp_path / "out")

    client = client_of(phoenix)
    dataset = client.datasets.get_dataset(dataset=name)
    [experiment] = client.experiments.list(dataset_id=dataset.id)
    ran = client.experiments.get_experiment(experiment_id=experiment["id"])
    verdicts = {e.name: e.result for e in ran["evaluation_runs"]}
    database = verdicts["db:SELECT count(*) FROM customers WHERE id = 1"]
    assert (database["score"], database["label"]) == (0.0, "fail")
    assert database["explanation"] == "rows [[1]], expected [[0]]"
    assert verdicts[PASSED]["label"] == "fail" and "db:" in verdicts[PASSED]["explanation"]


@pytest.mark.slow
@pytest.mark.integration
def test_logging_again_reuses_the_dataset_and_a_changed_case_makes_a_new_version(
    phoenix: PhoenixServer, tmp_path: Path
) -> None:
    name = f"mini-{uuid.uuid4().hex[:8]}"
    path = write_set(tmp_path, [close_ada()], name=name)
    settings = traced_settings(phoenix, tmp_path)
    results = run(path, settings, tmp_path / "out")
    first = log_to_phoenix(results, settings, tmp_path / "out")
    again = log_to_phoenix(results, settings, tmp_path / "out")
    assert "a new version" in first and "unchanged" in again

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["cases"][0]["tags"] = ["closing"]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    changed = log_to_phoenix(results, settings, tmp_path / "out")
    assert "a new version" in changed

    client = client_of(phoenix)
    assert len(client.datasets.get_dataset_versions(dataset=name)) == 2
    dataset = client.datasets.get_dataset(dataset=name)
    assert [e["metadata"]["tags"] for e in dataset.examples] == [["closing"]]
    experiments = client.experiments.list(dataset_id=dataset.id)
    assert len(experiments) == 3
    assert len({e["dataset_version_id"] for e in experiments}) == 2


@pytest.mark.slow
@pytest.mark.integration
def test_a_trial_stopped_by_an_infrastructure_error_is_a_run_with_its_error(
    phoenix: PhoenixServer, tmp_path: Path
) -> None:
    name = f"mini-{uuid.uuid4().hex[:8]}"
    path = write_set(tmp_path, [close_ada()], name=name)
    settings = traced_settings(phoenix, tmp_path)
    out = tmp_path / "out"
    ran_one = run(path, settings, out)
    # A second trial as the harness records one whose provider stayed down past its retries.
    stopped = TrialRecord(
        "close-ada",
        1,
        0,
        str(out / "trials/close-ada/1/data"),
        error="ModelUnavailableError: claude unavailable: overloaded",
    )
    (out / "trials/close-ada/1").mkdir(parents=True)
    stopped.save(out / "trials/close-ada/1")
    records = [TrialRecord.load(out / "trials/close-ada/0"), stopped]
    results = asyncio.run(score_records(load_task_set(path), records, ran_one.meta, judge=None))
    line = log_to_phoenix(results, settings, out)
    assert "1 with an infrastructure error" in line

    client = client_of(phoenix)
    dataset = client.datasets.get_dataset(dataset=name)
    [experiment] = client.experiments.list(dataset_id=dataset.id)
    assert (experiment["successful_run_count"], experiment["failed_run_count"]) == (1, 1)
    ran = client.experiments.get_experiment(experiment_id=experiment["id"])
    failed = next(r for r in ran["task_runs"] if r["repetition_number"] == 2)
    assert failed["error"] == "ModelUnavailableError: claude unavailable: overloaded"
    assert {e.experiment_run_id for e in ran["evaluation_runs"]} == {
        r["id"] for r in ran["task_runs"] if r["repetition_number"] == 1
    }


def test_without_a_reachable_phoenix_the_eval_does_not_run_and_one_line_says_so(
    env: dict[str, str], tmp_path: Path
) -> None:
    [port] = free_ports(1)
    path = write_set(tmp_path, [close_ada()])
    dead = {**env, "AGENTLAB_OTLP_ENDPOINT": f"http://127.0.0.1:{port}/v1/traces"}
    done = agentlab(dead, "eval", path, "--out", tmp_path / "out", "--phoenix")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert f"Phoenix at http://127.0.0.1:{port} cannot be reached" in done.stderr
    assert "agentlab phoenix" in done.stderr
    assert not (tmp_path / "out").exists()  # said before any trial ran


def test_without_a_configured_phoenix_one_line_says_how_to_start_one(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = write_set(tmp_path, [close_ada()])
    plain = {k: v for k, v in env.items() if not k.startswith("OTEL_")}
    done = agentlab(plain, "eval", path, "--out", tmp_path / "out", "--phoenix")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: no Phoenix to log the eval to")
    assert "start it (agentlab phoenix)" in done.stderr


def test_without_phoenix_client_the_error_says_to_install_the_lab_extra(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "phoenix.client", None)  # as if it were not installed
    with pytest.raises(PhoenixLogError, match=r"pip install 'agentlab\[lab\]'"):
        check_phoenix(settings)
