"""The approval buttons without a browser: a click's outcome (the events that followed, or the
error) shows under the buttons, displays of the run follow it, and an answer in a later cell says
the run was already decided instead of failing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentlab import Agent, FunctionToolset, Risk, tool
from agentlab.lab import Lab, LabRun
from agentlab.lab.widgets import WIDGET_VIEW
from agentlab.models import parse_script, scripted_router
from tests.scripts import plan, step, verdict

REPLY = "The memo is shredded."


def filing_agent(filed: list[str]) -> Agent:
    """A notebook's agent: a destructive tool, and a responder whose reply ends the run."""

    @tool(risk=Risk.DESTRUCTIVE)
    def shred(name: str) -> str:
        """Shred a file for good."""
        filed.append(name)
        return f"shredded {name}"

    roles = {
        "planner": [plan(step("shred", name="memo"))],
        "executor": [],
        "validator": [verdict(True, "the memo is shredded")],
        "responder": [{"text": REPLY}],
    }
    return Agent(
        "filer",
        "shreds files",
        toolsets=[FunctionToolset([shred])],
        models=scripted_router(parse_script(json.dumps({"roles": roles}))),
    )


@pytest.fixture
async def lab():
    async with Lab() as opened:
        yield opened


async def paused(lab: Lab, filed: list[str] | None = None) -> LabRun:
    run = await lab.start(filing_agent([] if filed is None else filed), "shred the memo")
    assert run.status == "awaiting_human"
    return run


def shown_under(panel: Any) -> str:
    """What the Output widget under the buttons shows, as text."""
    out = panel.children[-1]
    return "".join(o["text"] for o in out.outputs if o["output_type"] == "stream")


def approve_button(panel: Any) -> Any:
    return panel.children[1].children[0]


async def test_a_click_shows_the_events_that_followed_and_the_reply_under_the_buttons(lab):
    filed: list[str] = []
    run = await paused(lab, filed)
    panel = run.approval_buttons()
    approve_button(panel).click()
    await run.settled()
    assert filed == ["memo"]
    shown = shown_under(panel)
    assert "approved shred (approved in the notebook)" in shown
    assert "shred(" in shown and "shredded memo" in shown
    assert REPLY in shown
    assert shown.endswith(f"run {run.run_id} is now completed\n")


async def test_a_click_on_a_run_decided_elsewhere_shows_the_error_under_the_buttons(lab):
    run = await paused(lab)
    panel = run.approval_buttons()
    elsewhere = await lab.runner.decide(run.run_id, "approve", note="from a terminal")
    async for _ in elsewhere:
        pass
    approve_button(panel).click()
    await run.settled()
    shown = shown_under(panel)
    assert f"error: run {run.run_id} has ended (completed)" in shown
    assert shown.endswith(f"run {run.run_id} is now completed\n")
    assert all(b.disabled for b in panel.children[1].children)  # nothing left to answer


async def test_an_approval_in_a_cell_after_a_click_says_the_run_was_already_decided(lab, capsys):
    run = await paused(lab)
    approve_button(run.approval_buttons()).click()
    await run.approve("in a later cell")  # before the click's task is done: it waits for it
    said = capsys.readouterr().out
    assert f"run {run.run_id} was already decided (approved by a click): it is now completed" in (
        said
    )
    assert run.status == "completed"
    decided = [e for e in run.events if type(e).__name__ == "ApprovalDecided"]
    assert [e.note for e in decided] == ["approved in the notebook"]


async def test_an_approval_of_a_run_that_has_ended_says_so_in_a_line(lab, capsys):
    run = await paused(lab)
    elsewhere = await lab.runner.decide(run.run_id, "approve", note="from a terminal")
    async for _ in elsewhere:
        pass
    await run.approve()
    assert f"nothing to decide: run {run.run_id} has already ended (completed)" in (
        capsys.readouterr().out
    )
    assert run.status == "completed"


async def test_a_display_of_the_run_follows_it_after_a_click(lab):
    run = await paused(lab)
    shown = run._repr_mimebundle_()
    assert "awaiting_human" in shown["text/html"] and WIDGET_VIEW in shown
    approve_button(run.approval_buttons()).click()
    await run.settled()
    assert "completed" in run._live.value and "awaiting_human" not in run._live.value
    assert REPLY in run._live.value
