"""Durable runs: listing, inspecting, approving from another runner, resuming after a crash."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from agentlab.config import Settings
from agentlab.errors import RunNotFoundError, RunStateError, ScriptError
from agentlab.models.router import ModelRouter, ModelSpec
from agentlab.orchestration import (
    Agent,
    ApprovalRequested,
    RunEnded,
    Runner,
    StatusChanged,
    ToolCalled,
)
from agentlab.tools import Toolset, tool
from tests.conftest import Ledger, toy_tools
from tests.scripts import plan, script, step, verdict


def write_script(tmp_path: Path, text: str) -> ModelSpec:
    path = tmp_path / "script.json"
    path.write_text(text)
    return ModelSpec(kind="scripted", script=str(path))


def toy_resolver(ledger: Ledger, extra: Toolset | None = None):
    def resolve(name: str, options: Mapping[str, Any], router: ModelRouter) -> Agent:
        tools = list(toy_tools(ledger)) + list(extra or [])
        return Agent(name, "a test agent", router, Toolset(tools))

    return resolve


def drain(events) -> list[Any]:
    return list(events)


APPROVAL_SCRIPT = script(
    planner=[plan(step("store", key="a", value=1), step("wipe", key="a"))],
    validator=[verdict(True, "wiped")],
)


def test_started_run_is_listed_with_its_status(settings: Settings, tmp_path, ledger):
    with Runner(settings, toy_resolver(ledger)) as runner:
        run_id, events = runner.start(
            "toy", "wipe a", models=write_script(tmp_path, APPROVAL_SCRIPT)
        )
        ended = drain(events)[-1]
        assert ended == RunEnded(run_id, "awaiting_human", "")
        [record] = runner.list()
    assert (record.run_id, record.status, record.task) == (run_id, "awaiting_human", "wipe a")


def test_events_report_tool_calls_transitions_and_the_pause(settings, tmp_path, ledger):
    with Runner(settings, toy_resolver(ledger)) as runner:
        _, events = runner.start("toy", "wipe a", models=write_script(tmp_path, APPROVAL_SCRIPT))
        kinds = [type(e).__name__ for e in drain(events)]
    assert kinds.index("PlanMade") < kinds.index("ToolCalled") < kinds.index("ApprovalRequested")
    assert kinds.count("StatusChanged") == 2 and kinds[-1] == "RunEnded"


def test_a_second_runner_approves_a_paused_run(settings, tmp_path, ledger):
    spec = write_script(tmp_path, APPROVAL_SCRIPT)
    with Runner(settings, toy_resolver(ledger)) as first:
        run_id, events = first.start("toy", "wipe a", models=spec)
        drain(events)
    with Runner(settings, toy_resolver(ledger)) as second:
        view = second.get(run_id)
        assert view.waiting_for is not None and view.waiting_for["tool"] == "wipe"
        events = drain(second.resume(run_id, {"approve": True}))
        assert isinstance(events[0], StatusChanged)
        assert events[-1].status == "completed"
        assert second.registry.get(run_id).status == "completed"
    assert ledger.names() == ["store", "wipe"]


def test_a_run_builds_its_agent_once_per_runner(settings, tmp_path, ledger):
    builds: list[str] = []
    resolve = toy_resolver(ledger)

    def counting(name, options, router):
        builds.append(name)
        return resolve(name, options, router)

    with Runner(settings, counting) as runner:
        run_id, events = runner.start("toy", "t", models=write_script(tmp_path, APPROVAL_SCRIPT))
        drain(events)
        runner.get(run_id)
        drain(runner.resume(run_id, {"approve": True}))
        assert runner.get(run_id).status == "completed"
    assert builds == ["toy"]
    with Runner(settings, counting) as other:  # another process builds it once too
        other.get(run_id)
        other.get(run_id)
    assert builds == ["toy", "toy"]


def test_runs_stop_after_ten_iterations_by_default(settings, tmp_path, ledger):
    forever = script(
        planner=[plan(step("lookup", key="a"))] * 30, validator=[verdict(False, "not yet")] * 30
    )
    with Runner(settings, toy_resolver(ledger)) as runner:
        run_id, events = runner.start("toy", "t", models=write_script(tmp_path, forever))
        ended = drain(events)[-1]
        state = runner.get(run_id).state
    assert ended.status == "failed" and "10 of 10 iterations" in ended.outcome
    assert state["iterations"] == 10


def test_waiting_run_needs_a_decision_to_resume(settings, tmp_path, ledger):
    with Runner(settings, toy_resolver(ledger)) as runner:
        run_id, events = runner.start("toy", "t", models=write_script(tmp_path, APPROVAL_SCRIPT))
        drain(events)
        with pytest.raises(RunStateError, match="waiting for approval of wipe"):
            drain(runner.resume(run_id))


def test_ended_run_cannot_be_resumed(settings, tmp_path, ledger):
    text = script(planner=[plan(step("lookup", key="a"))], validator=[verdict(True)])
    with Runner(settings, toy_resolver(ledger)) as runner:
        run_id, events = runner.start("toy", "t", models=write_script(tmp_path, text))
        drain(events)
        with pytest.raises(RunStateError, match="has ended \\(completed\\)"):
            drain(runner.resume(run_id, {"approve": True}))


def test_unknown_run_id_says_how_to_find_runs(settings, ledger):
    with (
        Runner(settings, toy_resolver(ledger)) as runner,
        pytest.raises(RunNotFoundError, match="agentlab runs"),
    ):
        runner.get("run-missing")


def test_broken_script_fails_before_a_run_is_recorded(settings, tmp_path, ledger):
    bad = tmp_path / "bad.yaml"
    bad.write_text("roles: [")
    with Runner(settings, toy_resolver(ledger)) as runner:
        with pytest.raises(ScriptError):
            runner.start("toy", "t", models=ModelSpec(kind="scripted", script=str(bad)))
        assert runner.list() == []


def test_empty_task_is_refused(settings, tmp_path, ledger):
    with Runner(settings, toy_resolver(ledger)) as runner, pytest.raises(Exception, match="empty"):
        runner.start("toy", "  ", models=write_script(tmp_path, APPROVAL_SCRIPT))


def test_run_crashed_mid_step_resumes_from_its_last_checkpoint(settings, tmp_path, ledger):
    crashes = {"left": 1}

    @tool
    def flaky(key: str) -> dict:
        """Crashes the first time, like a process dying in the middle of a step."""
        if crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("process died")
        ledger.calls.append(("flaky", {"key": key}))
        return {"ok": key}

    text = script(
        planner=[plan(step("store", key="a", value=1), step("flaky", key="a"))],
        validator=[verdict(True)],
    )
    spec = write_script(tmp_path, text)
    with Runner(settings, toy_resolver(ledger, Toolset([flaky]))) as runner:
        run_id, events = runner.start("toy", "t", models=spec)
        with pytest.raises(RuntimeError, match="process died"):
            drain(events)
        with pytest.raises(RunStateError, match="not waiting for approval"):
            drain(runner.resume(run_id, {"approve": True}))
        ended = drain(runner.resume(run_id))[-1]
    assert ended.status == "completed"
    assert ledger.names() == ["store", "flaky"]  # the step before the crash did not run again


def test_summary_figures_follow_the_run(settings, tmp_path, ledger):
    from agentlab.orchestration import summarize

    with Runner(settings, toy_resolver(ledger)) as runner:
        run_id, events = runner.start("toy", "t", models=write_script(tmp_path, APPROVAL_SCRIPT))
        drain(events)
        drain(runner.resume(run_id, {"approve": False, "stop": True}))
        s = summarize(runner.get(run_id).state)
    assert (s.status, s.steps_ok, s.approved, s.rejected, s.model_calls) == ("failed", 1, 0, 1, 1)
    assert s.cost_usd == 0.0 and s.scripted


def test_tool_events_carry_outcomes(settings, tmp_path, ledger):
    with Runner(settings, toy_resolver(ledger)) as runner:
        _, events = runner.start("toy", "t", models=write_script(tmp_path, APPROVAL_SCRIPT))
        evs = drain(events)
    [called] = [e for e in evs if isinstance(e, ToolCalled)]
    [paused] = [e for e in evs if isinstance(e, ApprovalRequested)]
    assert called.result["outcome"] == {"ok": True, "output": {"stored": "a"}, "error": None}
    assert paused.request["reasons"] == ["destructive"]
