"""Approvals bound to the exact call: an approver may edit the call's arguments, and the edited
call is what runs and what is recorded; a call that differs from the one approved does not run."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from agentlab.orchestration import Runner, decision_for
from agentlab.tools import CallRequest, CallScope, DefaultPolicy, ToolExecutor, ToolRegistry
from tests.conftest import toy_tools, waiting
from tests.scripts import plan, script, step, verdict
from tests.test_cli import agentlab, run_id_in
from tests.test_resume import crashing_agent, drain

WIPE = script(planner=[plan(step("wipe", key="a"))], validator=[verdict(True, "wiped")])


async def test_an_approver_may_edit_the_arguments_and_the_edited_call_runs(settings, ledger):
    agent = crashing_agent(ledger, WIPE, crashes=[])
    async with Runner(settings) as runner:
        run_id, events = await runner.start(agent, "wipe a")
        await drain(events)
        request = waiting(await runner.get(run_id))
        edited = decision_for(request, approve=True, arguments={"key": "b"}, note="b, not a")
        ended = (await drain(await runner.resume(run_id, edited)))[-1]
        view = await runner.get(run_id)

    assert ended.status == "completed"
    assert ledger.calls == [("wipe", {"key": "b"})]
    [result] = view.state["results"]
    assert result["arguments"] == {"key": "b"}
    [approval] = view.state["approvals"]
    assert approval["arguments"] == {"key": "b"}
    assert approval["call_hash"] != request["call_hash"]  # bound to the call that ran
    assert "with edited arguments {'key': 'b'}" in view.state["transitions"][-3]["reason"]


async def test_a_call_other_than_the_one_approved_is_refused_by_the_executor(ledger):
    executor = ToolExecutor(ToolRegistry([toy_tools(ledger)]), DefaultPolicy())
    wipe_b = CallRequest(call_id="1.1", tool="wipe", arguments={"key": "b"})

    outcome = await executor.call(wipe_b, CallScope(run_id="run-1"), lambda event: None)

    assert outcome["ok"] is False
    assert "needs a human's approval (destructive) and was not approved" in outcome["error"]
    assert ledger.calls == []


def test_resume_approve_with_args_runs_and_records_the_edited_call(env):
    demo = Path("agentlab/domains/support/demo_script.yaml").resolve()
    run_id = run_id_in(agentlab(env, "run", "Close Ada's account", "--script", demo).stdout)
    edited = {"user_id": 1, "message": "Edited by a human.", "channel": "email"}

    resumed = agentlab(env, "resume", run_id, "--approve", "--args", json.dumps(edited))

    assert resumed.returncode == 0, resumed.stderr
    assert f"approving it with the arguments {json.dumps(edited)}" in resumed.stdout
    db = sqlite3.connect(Path(env["AGENTLAB_DATA_DIR"]) / "support.sqlite")
    assert db.execute("SELECT message FROM notifications").fetchall() == [("Edited by a human.",)]
    assert "Edited by a human." in agentlab(env, "show", run_id).stdout


def test_args_that_are_not_a_json_object_are_a_usage_error(env):
    result = agentlab(env, "resume", "run-0000000000", "--approve", "--args", "[1, 2]")
    assert result.returncode == 2
    assert "--args must be a JSON object" in result.stderr
    alone = agentlab(env, "resume", "run-0000000000", "--args", "{}")
    assert alone.returncode == 2 and "--args goes with --approve" in alone.stderr
