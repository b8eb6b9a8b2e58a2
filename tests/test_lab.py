"""The notebook API: runs of agents defined in a notebook, decided in cells or with buttons, read
as DataFrames, and shared with the CLI through the same data directory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentlab import Agent, FunctionToolset, Risk, tool
from agentlab.domains.support import DEMO_TASK, demo_script_path
from agentlab.lab import Lab, draw
from agentlab.models import parse_script, scripted_router
from tests.scripts import plan, script, step, verdict

LONG_NOTE = "Dear customer, " + "this sentence is long on purpose. " * 8


def filing_agent(filed: list[str]) -> Agent:
    """An agent as a notebook defines it: two tools, one destructive, an inline script."""

    @tool
    def find(name: str) -> dict[str, Any]:
        """Find a file by name."""
        return {"name": name, "size": 3}

    @tool(risk=Risk.DESTRUCTIVE)
    def shred(name: str, note: str) -> str:
        """Shred a file for good."""
        filed.append(name)
        return f"shredded {name}"

    text = script(
        planner=[plan(step("find", name="memo"), step("shred", name="memo", note=LONG_NOTE))],
        validator=[verdict(True, "the memo is shredded")],
    )
    return Agent(
        "filer",
        "finds and shreds files",
        toolsets=[FunctionToolset([find, shred])],
        models=scripted_router(parse_script(text)),
    )


@pytest.fixture
async def lab():
    async with Lab() as opened:
        yield opened


async def test_a_notebook_agent_pauses_is_approved_in_a_cell_and_completes(lab):
    filed: list[str] = []
    run = await lab.start(filing_agent(filed), "shred the memo", on_event=None)
    assert run.status == "awaiting_human" and filed == []
    [request] = run.requests
    assert request.tool == "shred" and request.arguments["note"] == LONG_NOTE
    await run.approve("fine")
    assert run.status == "completed" and filed == ["memo"]


async def test_a_run_reads_as_dataframes(lab):
    run = await lab.start(filing_agent([]), "shred the memo", on_event=None)
    await run.approve()
    assert list(run.plan()["tool"]) == ["find", "shred"]
    calls = run.tool_calls()
    assert list(calls["tool"]) == ["find", "shred"] and calls["ok"].all()
    assert list(run.model_calls()["role"]) == ["planner", "validator"]
    assert run.model_calls()["cost_usd"].sum() == 0
    assert list(run.transitions()["target"])[-1] == "completed"


async def test_a_paused_run_shows_its_status_plan_and_full_pending_call_as_html(lab):
    run = await lab.start(filing_agent([]), "shred the memo", on_event=None)
    page = run._repr_html_()
    assert "awaiting_human" in page and "<table" in page and "approval needed" in page
    assert "this sentence is long on purpose. " * 8 in page  # the argument is not cut short
    assert "cost $0.0000 (scripted: no LLM was called)" in page


@pytest.mark.parametrize(("button", "status"), [(0, "completed"), (2, "failed")])
async def test_approval_buttons_decide_the_waiting_call(lab, button, status):
    filed: list[str] = []
    run = await lab.start(filing_agent(filed), "shred the memo", on_event=None)
    panel = run.approval_buttons()
    buttons = panel.children[1].children
    buttons[button].click()
    await run.settled()
    assert run.status == status and all(b.disabled for b in buttons)
    assert filed == (["memo"] if status == "completed" else [])


async def test_events_reach_on_event_as_they_happen(lab):
    filed: list[str] = []
    tools_run_before: list[int] = []  # what the tools had done when each event arrived

    def on_event(event: Any) -> None:
        tools_run_before.append(len(filed))

    run = await lab.start(filing_agent(filed), "shred", on_event=on_event)
    await run.approve()
    assert filed == ["memo"] and len(run.events) == len(tools_run_before)
    # Events before the approval arrived before the destructive tool ran: not replayed at the end.
    assert tools_run_before[0] == 0 and tools_run_before[-1] == 1


@pytest.mark.slow  # a notebook's process and a shell's
@pytest.mark.integration
async def test_a_notebook_run_is_seen_and_finished_by_the_cli(lab, tmp_path):
    run = await lab.start(
        "agentlab.domains.support:agent",
        DEMO_TASK,
        script=demo_script_path(),
        options={"db_path": str(tmp_path / "customers.sqlite")},
        on_event=None,
    )
    env = {**os.environ, "COLUMNS": "200"}
    listing = subprocess.run(
        [sys.executable, "-m", "agentlab", "runs"], env=env, capture_output=True, text=True
    )
    assert run.run_id in listing.stdout
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "agentlab", "resume", run.run_id, "--approve"],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stderr
    again = await lab.run(run.run_id, on_event=None)
    assert again.status == "completed"
    frame = await lab.runs()
    assert frame.loc[frame.run_id == run.run_id, "status"].item() == "completed"
    assert re.search(r"status\s+completed", done.stdout)


def test_the_lab_opens_the_cli_data_directory_by_default():
    assert Lab().data_dir == Path(os.environ["AGENTLAB_DATA_DIR"])


needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("CI"),
    reason="Graphviz's dot is not installed (.ci/run installs it; apt-get install graphviz)",
)


@needs_dot
def test_an_agents_graph_is_drawn_offline_as_svg_with_every_node():
    picture = draw(filing_agent([]))
    svg = picture._repr_svg_()
    assert "<svg" in svg
    for node in ("begin", "recall", "plan", "prepare", "approve", "execute", "validate", "halt"):
        assert f">{node}</text>" in svg
    assert '"prepare" -> "approve" [style=dashed]' in picture.dot


@pytest.mark.slow  # a notebook's process and a shell's
@pytest.mark.integration
async def test_a_run_of_a_notebook_agent_is_shown_from_a_shell(lab):
    run = await lab.start(filing_agent([]), "shred the memo", on_event=None)
    env = {**os.environ, "COLUMNS": "200"}
    shown = subprocess.run(
        [sys.executable, "-m", "agentlab", "show", run.run_id],
        env=env,
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    assert "filer" in shown.stdout and "awaiting_human" in shown.stdout and "shred" in shown.stdout
    resumed = subprocess.run(
        [sys.executable, "-m", "agentlab", "resume", run.run_id, "--approve"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert resumed.returncode == 2 and "agentlab promote" in resumed.stderr


async def test_a_run_whose_event_callback_fails_lets_go_of_the_run(lab):
    def fail(event: Any) -> None:
        raise RuntimeError("a notebook cell's callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        await lab.start(filing_agent([]), "shred the memo", on_event=fail)
    [record] = await lab.runner.list()
    assert record.lease is None  # released: another process may resume the run at once
