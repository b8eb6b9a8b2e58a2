"""The kill switch: 'agentlab kill RUN' (or --all --principal P) flags a run in the store; the
process advancing it reads the flag before each step and ends the run failed, reason killed. A run
waiting for a human, which no process advances, ends so at once (no agent code is needed for that;
when another process holds it, when it is next resumed), and a killed run cannot be resumed."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agentlab.errors import RunStateError
from agentlab.orchestration import Agent, Runner, SyncRunner
from tests.conftest import Ledger, decide, decide_sync, toy_tools
from tests.scripts import plan, script, step, verdict
from tests.test_cli import agentlab, run_id_in
from tests.test_ledger import spec_of

AGENTLAB = [sys.executable, "-m", "agentlab"]
REPOSITORY = Path(__file__).resolve().parents[1]

AGENT_MODULE = '''
import time
from pathlib import Path

from agentlab import Agent, FunctionToolset, ToolContext, tool

HERE = Path(__file__).parent


@tool
def hold(ctx: ToolContext, name: str) -> dict:
    """Wait until the test releases it."""
    (HERE / "held").write_text(ctx.run_id)
    deadline = time.time() + 60
    while not (HERE / "release").exists() and time.time() < deadline:
        time.sleep(0.02)
    return {"held": name}


@tool
def lookup(key: str) -> dict:
    """Look up a value by key."""
    with (HERE / "lookups.txt").open("a") as f:
        f.write(key + "\\n")
    return {"key": key}


agent = Agent("holder", "a test agent", toolsets=[FunctionToolset([hold, lookup])])
'''


async def drain(events: AsyncIterator[Any]) -> list[Any]:
    return [e async for e in events]


@pytest.mark.slow
@pytest.mark.integration
def test_kill_stops_a_running_run_from_another_process_within_one_step(env, tmp_path):
    module = tmp_path / "holder.py"
    module.write_text(AGENT_MODULE)
    path = tmp_path / "script.json"
    path.write_text(
        script(
            planner=[plan(step("hold", name="a"), step("lookup", key="b"))],
            validator=[verdict(True)],
        )  # fmt: skip
    )
    running = subprocess.Popen(
        [*AGENTLAB, "run", "t", "--agent", f"{module}:agent", "--script", str(path)],
        env=env, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        held = tmp_path / "held"
        deadline = time.time() + 60
        while not held.exists() and time.time() < deadline:
            time.sleep(0.05)
        run_id = held.read_text()
        killed = agentlab(env, "kill", run_id)
        assert killed.returncode == 0, killed.stderr
        assert f"killed run {run_id}" in killed.stdout
        (tmp_path / "release").touch()
        out, err = running.communicate(timeout=60)
    finally:
        running.kill()
    assert running.returncode == 1, out + err
    assert not (tmp_path / "lookups.txt").exists()  # the next step did not happen
    shown = agentlab(env, "show", run_id).stdout
    assert "failed" in shown and "killed" in shown
    assert agentlab(env, "resume", run_id).returncode == 2  # it has ended: nothing to resume


WAITS = script(
    planner=[plan(step("store", key="a", value=1), step("wipe", key="a"))],
    validator=[verdict(True)],
)


def toy(ledger: Ledger) -> Agent:
    return Agent("toy", "a test agent", toolsets=[toy_tools(ledger)])


async def test_a_killed_run_waiting_for_a_human_ends_at_once_and_is_listed_killed(
    settings, tmp_path, ledger
):
    async with Runner(settings) as runner:
        run_id, events = await runner.start(toy(ledger), "t", models=spec_of(tmp_path, WAITS))
        assert (await drain(events))[-1].status == "awaiting_human"
        approval = await decide(runner, run_id, approve=True)  # shown before the kill

        record = await runner.kill(run_id)

        assert record.status == "failed"
        assert [r.status for r in await runner.store.list_runs()] == ["failed"]
        view = await runner.get(run_id)
        assert (view.status, view.state["outcome"], view.requests) == ("failed", "killed", ())
        with pytest.raises(RunStateError, match="has ended"):
            await runner.resume(run_id, approval)
    assert ledger.names() == ["store"]  # the approved wipe never ran


async def test_a_waiting_run_is_ended_at_once_by_a_process_without_its_agent(
    settings, tmp_path, ledger
):
    async with Runner(settings) as runner:
        run_id, events = await runner.start(toy(ledger), "t", models=spec_of(tmp_path, WAITS))
        assert (await drain(events))[-1].status == "awaiting_human"
        async with Runner(settings) as other:  # knows neither the agent nor its models
            record = await other.kill(run_id)
            assert record.status == "failed"
        view = await runner.get(run_id)
        assert (view.status, view.state["outcome"], view.requests) == ("failed", "killed", ())
        assert "killed" in view.state["reply"]
    assert ledger.names() == ["store"]


@pytest.mark.parametrize(
    ("reason", "code"),
    [("killed", 1), ("stopped by a human at step 1.2 (wipe): no", 3)],
)
def test_a_run_killed_at_its_approval_exits_failed_not_stopped_by_a_human(reason, code):
    from types import SimpleNamespace

    from agentlab.cli.drive import exit_code

    last = {"source": "awaiting_human", "target": "failed", "node": "approve", "reason": reason}
    view = SimpleNamespace(status="failed", state={"transitions": [last]})

    assert exit_code(view) == code  # type: ignore[arg-type]


def test_kill_all_stops_every_live_run_of_a_principal(settings, tmp_path, ledger):
    with SyncRunner(settings) as runner:
        ids = {}
        for who in ("alice", "alice", "bob"):
            run_id, events = runner.start(
                toy(ledger), "t", models=spec_of(tmp_path, WAITS), principal=who
            )
            list(events)
            ids.setdefault(who, []).append(run_id)
        killed = runner.kill_all("alice")
        assert sorted(r.run_id for r in killed) == sorted(ids["alice"])
        assert {r.status for r in killed} == {"failed"}  # they waited: ended at once
        assert runner.killed(ids["bob"][0]) is None
        for run_id in ids["alice"]:
            assert runner.get(run_id).state["outcome"] == "killed"
        approval = decide_sync(runner, ids["bob"][0], approve=True)
        assert list(runner.resume(ids["bob"][0], approval))[-1].status == "completed"


def test_the_kill_command_names_what_it_stopped_and_refuses_ended_runs(env):
    demo = agentlab(env, "demo")  # completes
    assert demo.returncode == 0, demo.stderr
    finished = agentlab(env, "kill", run_id_in(demo.stdout))
    assert finished.returncode == 2 and "has ended (completed)" in finished.stderr
    paused = agentlab(env, "run", "Close Ada Lovelace's account", "--as", "carol", "--script",
                      "agentlab/domains/support/demo_script.yaml")  # fmt: skip
    assert paused.returncode == 0, paused.stderr
    everything = agentlab(env, "kill", "--all", "--principal", "carol")
    assert everything.returncode == 0, everything.stderr
    assert f"killed run {run_id_in(paused.stdout)}: it ended failed (killed)" in everything.stdout
    shown = agentlab(env, "show", run_id_in(paused.stdout)).stdout
    assert "failed" in shown and "killed" in shown
    listed = agentlab(env, "runs").stdout
    assert "awaiting_human" not in listed
    nobody = agentlab(env, "kill", "--all", "--principal", "nobody")
    assert "nothing to kill" in nobody.stdout
    ended = agentlab(env, "kill", "--all")
    assert ended.returncode == 2 and "--principal" in ended.stderr
    unknown = agentlab(env, "kill", "run-0000000000")
    assert unknown.returncode == 2 and "no run" in unknown.stderr


async def test_kill_flags_are_kept_on_each_engine(store):
    await store.create_run("run-1", agent="a", agent_name="a", task="t", status="executing",
                           models=None, options={}, limits={}, principal="ada",
                           session=None)  # fmt: skip
    await store.create_run("run-2", agent="a", agent_name="a", task="t", status="completed",
                           models=None, options={}, limits={}, principal="ada",
                           session=None)  # fmt: skip
    assert await store.killed("run-1") is None
    assert await store.kill_all("ada") == ["run-1"]  # an ended run is left alone
    await store.kill("run-1")  # twice is once
    assert await store.killed("run-1") == "killed" and await store.killed("run-2") is None
