"""The short path: an agent of plain functions, run from a script, its approval answered in a
line; the same durable run as the full API's."""

from __future__ import annotations

import asyncio

import pytest

from agentlab import Agent, AgentlabError, Risk, tool
from agentlab.models.router import scripted_router
from agentlab.models.script import parse_script
from tests.scripts import plan, script, step, verdict

LOOK_THEN_SHRED = script(
    planner=[plan(step("find", title="memo"), step("shred", title="memo"))],
    validator=[verdict(True, "the memo is gone")],
)


def office(done: list[str]) -> Agent:
    def find(title: str) -> dict:
        """Find a document by its title. Use it before acting on a document."""
        done.append(f"find {title}")
        return {"title": title}

    @tool(risk=Risk.DESTRUCTIVE)
    def shred(title: str) -> dict:
        """Shred a document for good."""
        done.append(f"shred {title}")
        return {"shredded": title}

    return Agent(
        "office",
        "finds and shreds documents",
        tools=[find, shred],  # a plain function and a @tool, no toolset
        models=scripted_router(parse_script(LOOK_THEN_SHRED)),
    )


def test_a_script_runs_an_agent_and_approves_its_pause_in_a_line(settings):
    done: list[str] = []

    result = office(done).run_sync("shred the memo", settings=settings)

    assert result.waiting and result.status == "awaiting_human"
    [request] = result.requests
    assert (request.tool, request.arguments, request.reasons) == (
        "shred",
        {"title": "memo"},
        ("destructive",),
    )
    assert done == ["find memo"]  # nothing destructive ran before the answer
    result.approve(note="checked")
    assert (result.status, result.outcome) == ("completed", "the memo is gone")
    assert result.reply.startswith("Done: the memo is gone.")  # no responder: from the record
    assert done == ["find memo", "shred memo"]
    assert [r["tool"] for r in result.results] == ["find", "shred"]


def test_a_rejected_call_with_stop_ends_the_run_and_nothing_runs(settings):
    done: list[str] = []

    with office(done).run_sync("shred the memo", settings=settings) as result:
        result.reject("not today", stop=True)

    assert result.status == "failed" and "stopped by a human" in result.outcome
    assert done == ["find memo"]


async def test_the_async_path_answers_with_await(settings):
    done: list[str] = []

    result = await office(done).run("shred the memo", settings=settings)
    await result.approve()

    assert result.ended and result.status == "completed"
    events = {type(e).__name__ for e in result.events}
    assert {"ToolCalled", "ApprovalDecided", "RunEnded"} <= events


async def test_run_sync_inside_an_event_loop_says_to_await_instead(settings):
    with pytest.raises(AgentlabError, match="await"):
        office([]).run_sync("shred the memo", settings=settings)
    await asyncio.sleep(0)


def test_the_short_paths_run_is_a_durable_run_of_the_data_directory(settings):
    from agentlab.orchestration import SyncRunner

    result = office([]).run_sync("shred the memo", settings=settings)
    result.close()  # the run stays saved, waiting
    with SyncRunner(settings) as runner:
        [listed] = runner.list()
    assert (listed.run_id, listed.status) == (result.run_id, "awaiting_human")
