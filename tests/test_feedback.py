"""Feedback: 'agentlab feedback RUN --score good|bad --comment TEXT' (and ``LabRun.feedback``) keeps
a person's verdict with the run, where 'agentlab runs --feedback bad' finds it, and attaches it to
the run's trace in Phoenix as a ``user feedback`` annotation of its root span. A run that was not
traced keeps it with the run only; a Phoenix that does not take it is one warning line.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentlab.config import load_settings
from agentlab.domains.support import DEMO_TASK, demo_script_path
from agentlab.errors import RunNotFoundError
from agentlab.lab import Lab
from agentlab.observability.feedback import (
    FeedbackError,
    FeedbackGiven,
    give_feedback,
    phoenix_url_for,
)
from agentlab.observability.phoenix import PhoenixServer
from agentlab.orchestration.context import default_principal
from agentlab.store import Feedback, RunStore
from tests.phoenix_server import free_ports
from tests.test_cli import agentlab, run_id_in


async def _run(runs: RunStore, run_id: str, principal: str = "ada") -> None:
    await runs.create_run(run_id, agent="a", agent_name="a", task="t", status="completed",
                          models=None, options={}, limits={}, principal=principal,
                          session=None)  # fmt: skip


# -- the run record, on each engine ----------------------------------------------------------------


async def test_feedback_is_kept_with_the_run_and_the_latest_replaces_it(store):
    await _run(store, "run-1")
    assert (await store.get_run("run-1")).feedback is None
    await store.set_feedback(Feedback("run-1", "bad", "wrong customer", "bob",
                                      "2026-11-25T10:00:00"))  # fmt: skip
    await store.set_feedback(Feedback("run-1", "good", "fixed on retry", "carol",
                                      "2026-11-25T11:00:00"))  # fmt: skip
    assert (await store.get_run("run-1")).feedback == Feedback(
        "run-1", "good", "fixed on retry", "carol", "2026-11-25T11:00:00"
    )


async def test_runs_are_listed_by_their_feedback(store):
    for run_id in ("run-1", "run-2", "run-3"):
        await _run(store, run_id)
    await store.set_feedback(Feedback("run-1", "bad", "", "bob", "2026-11-25T10:00:00"))
    await store.set_feedback(Feedback("run-3", "bad", "too slow", "bob", "2026-11-25T10:00:00"))
    await store.set_feedback(Feedback("run-2", "good", "", "bob", "2026-11-25T10:00:00"))
    assert {r.run_id for r in await store.list_runs(feedback="bad")} == {"run-1", "run-3"}
    assert [r.run_id for r in await store.list_runs(feedback="good")] == ["run-2"]
    assert len(await store.list_runs()) == 3
    assert len(await store.list_runs(1, feedback="bad")) == 1


async def test_feedback_on_an_unknown_run_or_of_another_score_is_refused(store):
    with pytest.raises(RunNotFoundError, match="agentlab runs"):
        await store.set_feedback(Feedback("run-0", "bad", "", "bob", "2026-11-25T10:00:00"))
    await _run(store, "run-1")
    with pytest.raises(ValueError, match="good or bad"):
        await store.set_feedback(Feedback("run-1", "meh", "", "bob", "2026-11-25T10:00:00"))
    assert (await store.get_run("run-1")).feedback is None


def test_phoenix_is_found_where_runs_export_their_spans():
    assert phoenix_url_for("http://127.0.0.1:6006/v1/traces", {}) == "http://127.0.0.1:6006"
    assert phoenix_url_for("https://px.example.com/phoenix/v1/traces/", {}) == (
        "https://px.example.com/phoenix"
    )
    assert phoenix_url_for("http://127.0.0.1:4318/otlp", {}) is None  # not Phoenix's shape
    assert phoenix_url_for(None, {}) is None
    standard = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:6006/"}
    assert phoenix_url_for(None, standard) == "http://collector:6006"


# -- the command line ------------------------------------------------------------------------------


def test_the_feedback_command_takes_good_or_bad_of_a_known_run(env):
    demo = agentlab(env, "demo")
    assert demo.returncode == 0, demo.stderr
    run_id = run_id_in(demo.stdout)
    for args, message in [
        (("--score", "meh"), "error: Invalid value: --score takes good or bad, not 'meh'"),
        ((), "error: Missing option '--score'"),
    ]:
        refused = agentlab(env, "feedback", run_id, *args)
        assert refused.returncode == 2
        assert refused.stderr.startswith(message), refused.stderr
        assert "Traceback" not in refused.stderr
    unknown = agentlab(env, "feedback", "run-0000000000", "--score", "bad")
    assert unknown.returncode == 2
    assert unknown.stderr.splitlines() == [
        "error: no run 'run-0000000000': 'agentlab runs' lists the runs there are"
    ]
    listed = agentlab(env, "runs", "--feedback", "fine")
    assert listed.returncode == 2 and "--feedback takes good or bad" in listed.stderr


def test_feedback_on_an_untraced_run_is_kept_with_the_run_and_filters_the_runs(env):
    judged, other = (run_id_in(agentlab(env, "demo").stdout) for _ in range(2))
    given = agentlab(env, "feedback", judged, "--score", "bad", "--comment", "wrong customer",
                     "--as", "bob")  # fmt: skip
    assert given.returncode == 0, given.stderr
    assert given.stdout.splitlines() == [
        f"run {judged}: feedback bad (wrong customer) from bob, kept with the run",
        f"not in Phoenix: run {judged} was not traced (no otlp_endpoint was configured when it "
        "ran)",
    ]
    bad = agentlab(env, "runs", "--feedback", "bad").stdout
    assert judged in bad and other not in bad and "bad: wrong customer" in bad
    assert agentlab(env, "runs", "--feedback", "good").stdout == "no run has feedback 'good'\n"
    everything = agentlab(env, "runs").stdout
    assert judged in everything and other in everything and "feedback" in everything
    shown = agentlab(env, "show", judged).stdout
    assert "feedback       bad: wrong customer (from bob, " in shown


# -- the notebook ----------------------------------------------------------------------------------


async def test_a_notebook_gives_feedback_and_lists_runs_by_it(tmp_path):
    me = default_principal()
    acting = {"act_as": {me: ["dora"]}}  # the notebook's user may speak for dora
    async with Lab(load_settings(data_dir=tmp_path / "data", access=acting)) as lab:
        script = demo_script_path()
        run = await lab.start("agentlab.domains.support:agent", DEMO_TASK, script=script,
                              on_event=None)  # fmt: skip
        given = await run.feedback("good", comment="polite and quick", by="dora")
        assert (given.outcome, given.feedback.score, given.feedback.by) == (
            "untraced", "good", "dora"
        )  # fmt: skip
        assert run.view is not None and run.view.record.feedback == given.feedback
        frame = await lab.runs(feedback="good")
        assert list(frame["run_id"]) == [run.run_id]
        assert list(frame["feedback_comment"]) == ["polite and quick"]
        assert (await lab.runs(feedback="bad")).empty
        with pytest.raises(FeedbackError, match="good or bad"):
            await run.feedback("fine")


# -- Phoenix (the session's) -----------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.slow
def test_feedback_on_a_traced_run_is_an_annotation_of_its_root_span_in_phoenix(
    phoenix: PhoenixServer, env: dict[str, str]
) -> None:
    project = f"agentlab-feedback-{uuid.uuid4().hex[:8]}"
    traced = {**env, "AGENTLAB_OTLP_ENDPOINT": phoenix.otlp_endpoint}
    traced["AGENTLAB_TRACE_PROJECT"] = project
    ran = agentlab(traced, "run", DEMO_TASK, "--script", demo_script_path(), "--as", "ann",
                   "--approve")  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    run_id = run_id_in(ran.stdout)

    # At once: Phoenix may not have filed the run's spans yet, and is waited for.
    given = _agentlab_without_phoenix(
        traced, "feedback", run_id, "--score", "bad", "--comment", "emailed the wrong Ada",
        "--as", "bob",
    )  # fmt: skip
    assert given.returncode == 0, given.stderr
    assert given.stderr == ""
    root = _root_span(phoenix, project)
    assert f"attached to its trace in Phoenix ({phoenix.url}, span {root})" in given.stdout
    [annotation] = _annotations(phoenix, project, root)
    assert annotation["name"] == "user feedback"
    assert annotation["annotator_kind"] == "HUMAN"
    assert annotation["result"] == {
        "label": "bad",
        "score": 0.0,
        "explanation": "emailed the wrong Ada",
    }
    assert annotation["metadata"] == {"run_id": run_id, "principal": "ann", "by": "bob"}

    again = agentlab(traced, "feedback", run_id, "--score", "good")  # a second thought
    assert again.returncode == 0, again.stderr
    [replaced] = _annotations(phoenix, project, root)
    assert (replaced["result"]["label"], replaced["result"]["score"]) == ("good", 1.0)
    assert agentlab(traced, "runs", "--feedback", "bad").stdout == "no run has feedback 'bad'\n"


@pytest.mark.integration
@pytest.mark.slow
def test_feedback_phoenix_does_not_take_is_kept_with_the_run_and_is_one_warning(
    phoenix: PhoenixServer, env: dict[str, str], settings: Any
) -> None:
    traced = {**env, "AGENTLAB_OTLP_ENDPOINT": phoenix.otlp_endpoint}
    traced["AGENTLAB_TRACE_PROJECT"] = f"agentlab-feedback-{uuid.uuid4().hex[:8]}"
    ran = agentlab(traced, "run", DEMO_TASK, "--script", demo_script_path(), "--approve")
    run_id = run_id_in(ran.stdout)
    closed = f"http://127.0.0.1:{free_ports(1)[0]}"
    elsewhere = {**env, "AGENTLAB_OTLP_ENDPOINT": f"{closed}/v1/traces"}
    given = agentlab(elsewhere, "feedback", run_id, "--score", "bad")
    assert given.returncode == 0, given.stderr
    [warning] = given.stderr.splitlines()
    assert warning.startswith(
        f"warning: not attached to its trace in Phoenix: Phoenix at {closed} cannot be reached ("
    )
    assert "bad" in agentlab(env, "runs", "--feedback", "bad").stdout

    # A span Phoenix never received is waited for a moment, then said to be missing.
    from agentlab.orchestration import Runner

    async def give() -> FeedbackGiven:
        async with Runner(settings) as runner:
            record = await runner.store.get_run(run_id)
            state = {"trace": {"traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"}}
            return await give_feedback(runner.store, record, state, score="good", by="bob",
                                       phoenix_url=phoenix.url, wait_s=1)  # fmt: skip

    lost = asyncio.run(give())
    assert lost.outcome == "failed"
    assert lost.reason.startswith(f"the run's root span {lost.span_id} is not in Phoenix at")
    assert "good" in agentlab(env, "runs", "--feedback", "good").stdout


def _agentlab_without_phoenix(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``agentlab *args``, failing if the command imported the ``phoenix`` package."""
    probe = (
        "import sys\n"
        "from agentlab.cli.app import main\n"
        f"sys.argv = ['agentlab', *{list(args)!r}]\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    assert not [m for m in sys.modules if m.split('.')[0] == 'phoenix'], 'phoenix'\n"
    )
    return subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[1])  # fmt: skip


def _root_span(phoenix: PhoenixServer, project: str) -> str:
    """The span id of the (one) run span without a parent in ``project``."""
    answer = httpx.get(f"{phoenix.url}/v1/projects/{project}/spans", params={"limit": 1000})
    answer.raise_for_status()
    roots = [s for s in answer.json()["data"] if not s.get("parent_id")]
    assert len(roots) == 1, roots
    return str(roots[0]["context"]["span_id"])


def _annotations(phoenix: PhoenixServer, project: str, span_id: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{phoenix.url}/v1/projects/{project}/span_annotations",
        params={"span_ids": [span_id], "include_annotation_names": ["user feedback"]},
    )
    answer.raise_for_status()
    return list(answer.json()["data"])
