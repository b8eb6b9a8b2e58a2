"""Who may do what: a principal is the OS user (or a token's), ``--as`` another only where the
configuration grants it; every decision records who gave it and how; a policy may name who
approves a tool and forbid approving one's own destructive calls; another principal's run is
killed, resumed or judged only with the right to."""

from __future__ import annotations

import getpass
import json
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from agentlab.config import Settings
from agentlab.domains.support import DEMO_TASK, demo_script_path
from agentlab.models.router import ModelSpec
from agentlab.orchestration import Runner
from agentlab.orchestration.identity import Identity, NotPermitted
from agentlab.orchestration.requests import DecisionRefused
from tests.cli import agentlab
from tests.test_cli import run_id_in

ME = getpass.getuser()
DEMO = ["--script", str(demo_script_path())]

POLICY = """\
default: allow
rules:
  - tool: send_notification
    verdict: ask
    reason: billing reads every message first
    approvers: [carol]
destructive_self_approval: false
"""


def ungranted(env: dict[str, str]) -> dict[str, str]:
    """``env`` without the test configuration's grant: the OS user acts only as itself."""
    return {k: v for k, v in env.items() if k != "AGENTLAB_ACCESS__ACT_AS"}


def test_acting_as_another_principal_needs_a_grant_and_a_run_records_both(env):
    refused = agentlab(ungranted(env), "run", DEMO_TASK, *DEMO, "--as", "support-bot")
    assert refused.returncode == 2
    assert f"{ME} may not act as support-bot" in refused.stderr
    assert "[access] act_as" in refused.stderr
    assert agentlab(ungranted(env), "runs").stdout.count("run-") == 0  # no run was made

    narrow = {**ungranted(env), "AGENTLAB_ACCESS__ACT_AS": json.dumps({ME: ["support-*"]})}
    ran = agentlab(narrow, "run", DEMO_TASK, *DEMO, "--as", "support-bot", "--approve")
    assert "delete_customer is denied by policy" in ran.stdout  # support-bot's rule applied
    shown = agentlab(narrow, "show", run_id_in(ran.stdout))
    assert f"support-bot (started by {ME})" in shown.stdout
    elsewhere = agentlab(narrow, "run", DEMO_TASK, *DEMO, "--as", "billing")
    assert elsewhere.returncode == 2 and "may not act as billing" in elsewhere.stderr


def test_every_decision_records_who_gave_it_and_how(env):
    ran = agentlab(env, "run", DEMO_TASK, *DEMO, "--approve")
    shown = agentlab(env, "show", run_id_in(ran.stdout))
    rows = [line for line in shown.stdout.splitlines() if "│ approved │" in line]
    assert len(rows) == 2, shown.stdout  # send_notification, delete_customer
    for row in rows:
        assert ME in row and "by a command's flag" in row


def test_another_principals_run_is_killed_resumed_or_judged_only_with_the_right(env):
    paused = agentlab(env, "run", DEMO_TASK, *DEMO, "--as", "carol")
    run_id = run_id_in(paused.stdout)
    mine = ungranted(env)
    for command in (
        ["kill", run_id],
        ["resume", run_id, "--approve"],
        ["feedback", run_id, "--score", "bad"],
    ):
        refused = agentlab(mine, *command)
        assert refused.returncode == 2, (command, refused.stdout)
        assert f"run {run_id} acts for carol" in refused.stderr
        assert "operators" in refused.stderr
    assert "awaiting_human" in agentlab(mine, "show", run_id).stdout  # nothing happened

    operator = {**mine, "AGENTLAB_ACCESS__OPERATORS": json.dumps([ME])}
    killed = agentlab(operator, "kill", run_id)
    assert killed.returncode == 0, killed.stderr


@asynccontextmanager
async def runner_as(settings: Settings, who: str) -> AsyncIterator[Runner]:
    async with Runner(settings, identity=Identity(who, who, via="notebook")) as runner:
        yield runner


async def until_paused(runner: Runner, events: AsyncIterator[object]) -> None:
    async for _ in events:
        pass


async def test_the_policy_names_who_approves_and_forbids_approving_ones_own_destructive_call(
    tmp_path: Path,
):
    (tmp_path / "policy.yaml").write_text(POLICY)
    module = tmp_path / "billing_agent.py"
    module.write_text(
        textwrap.dedent(
            f"""\
            from dataclasses import replace

            from agentlab.domains.support import agent as support
            from agentlab.tools.rules import load_policy

            agent = replace(support, policy=load_policy({str(tmp_path / "policy.yaml")!r}))
            """
        )
    )
    settings = Settings(
        data_dir=tmp_path / "data", access={"operators": ["ops"]}, agent_paths=[tmp_path]
    )
    script = ModelSpec(kind="scripted", script=str(demo_script_path()))
    async with runner_as(settings, "dave") as dave:
        run_id, events = await dave.start(f"{module}:agent", DEMO_TASK, models=script)
        await until_paused(dave, events)
        [asked] = (await dave.get(run_id)).requests
        assert asked.tool == "send_notification" and asked.approvers == ("carol",)
        with pytest.raises(DecisionRefused, match=r"dave may not approve send_notification"):
            await dave.decide(run_id, "approve")

    async with runner_as(settings, "carol") as carol:  # not dave's, but named by the policy
        await until_paused(carol, await carol.decide(run_id, "approve"))
        [asked] = (await carol.get(run_id)).requests
        assert asked.tool == "delete_customer" and not asked.self_approval
        with pytest.raises(NotPermitted, match=r"carol may not resume another principal's run"):
            await carol.decide(run_id, "approve")  # the policy names nobody for this one

    async with runner_as(settings, "dave") as dave:
        with pytest.raises(DecisionRefused, match=r"dave may not approve delete_customer"):
            await dave.decide(run_id, "approve")  # his own run's destructive call

    async with runner_as(settings, "ops") as ops:
        await until_paused(ops, await ops.decide(run_id, "approve"))
        view = await ops.get(run_id)
    assert view.status == "completed"
    decided = [(a["tool"], a["by"], a["via"]) for a in view.state["approvals"]]
    assert decided == [
        ("send_notification", "carol", "notebook"),
        ("delete_customer", "ops", "notebook"),
    ]


def test_the_approval_panel_says_who_may_approve():
    from rich.console import Console

    from agentlab.cli.render import approval_panel

    request = {
        "kind": "approval",
        "request_id": "1.3/approval",
        "call_hash": "c0ffee",
        "step_id": "1.3",
        "tool": "delete_customer",
        "arguments": {"customer_id": 1},
        "reasons": ["destructive"],
        "approvers": ["carol"],
        "self_approval": False,
    }
    console = Console(width=120, record=True)
    console.print(approval_panel(request))
    shown = console.export_text()
    assert "who may approve: carol; not the run's own principal" in shown
    console = Console(width=120, record=True)
    console.print(approval_panel({**request, "approvers": None, "self_approval": True}))
    assert "who may approve" not in console.export_text()
