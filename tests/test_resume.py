"""Every run resumable, one writer per run, decisions bound to the call shown, and statuses that
are never stale: the Runner's side of "runs you can trust"."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentlab.errors import RunBusyError, RunStateError
from agentlab.models.router import scripted_router
from agentlab.models.script import parse_script
from agentlab.orchestration import Agent, Runner, decision_for
from agentlab.orchestration.approvals import DecisionRefused
from agentlab.tools import DefaultPolicy, FunctionToolset, Risk, ToolContext, tool
from tests.conftest import Ledger, toy_tools, waiting
from tests.scripts import plan, script, step, verdict


class Crash(BaseException):
    """The process dying inside a tool, after its effect."""


async def drain(events: AsyncIterator[Any]) -> list[Any]:
    return [e async for e in events]


def crashing_agent(ledger: Ledger, text: str, crashes: list[bool]) -> Agent:
    """The toy agent plus ``notify``, a non-idempotent tool that records its effect in the
    ledger and then dies while ``crashes`` holds ``True``."""

    @tool(risk=Risk.WRITE)
    def notify(ctx: ToolContext, who: str) -> dict[str, Any]:
        """Notify someone. Use it to tell a person the work is done."""
        ledger.calls.append(("notify", {"who": who, "key": ctx.idempotency_key}))
        if crashes and crashes.pop(0):
            raise Crash
        return {"notified": who}

    return Agent(
        "toy",
        "a test agent",
        toolsets=[toy_tools(ledger), FunctionToolset([notify])],
        policy=DefaultPolicy(),
        models=scripted_router(parse_script(text), source="test script"),
    )


NOTIFY = script(
    planner=[plan(step("lookup", key="a"), step("notify", who="ada"))],
    validator=[verdict(True, "told")],
)


async def tamper(runner: Runner, sql: str, *params: Any) -> None:
    """Change the runs database behind the Runner's back, as another process (or time) would."""
    await runner.store.engine.execute(sql, params)


async def crash_in_notify(runner: Runner, agent: Agent) -> str:
    run_id, events = await runner.start(agent, "tell ada")
    with pytest.raises(Crash):
        await drain(events)
    return run_id


async def test_a_call_killed_after_its_effect_asks_a_human_and_happened_finishes_once(
    settings, ledger
):
    agent = crashing_agent(ledger, NOTIFY, crashes=[True])
    async with Runner(settings) as runner:
        run_id = await crash_in_notify(runner, agent)

        ended = (await drain(await runner.resume(run_id)))[-1]
        view = await runner.get(run_id)
        assert ended.status == "awaiting_human"
        request = waiting(view)
        assert request is not None
        assert (request["kind"], request["tool"], request["attempt"]) == (
            "unknown_side_effect",
            "notify",
            1,
        )
        assert request["reasons"][0].startswith("unknown_side_effect: notify (step 1.2, attempt 1)")

        decision = decision_for(request, happened=True, result={"notified": "ada", "checked": 1})
        ended = (await drain(await runner.resume(run_id, decision)))[-1]
        view = await runner.get(run_id)

    assert ended.status == "completed"
    assert ledger.names() == ["lookup", "notify"]  # the effect happened once
    assert view.state["results"][-1]["outcome"]["output"] == {"notified": "ada", "checked": 1}


async def test_run_it_again_runs_the_call_once_more(settings, ledger):
    agent = crashing_agent(ledger, NOTIFY, crashes=[True])
    async with Runner(settings) as runner:
        run_id = await crash_in_notify(runner, agent)
        await drain(await runner.resume(run_id))
        request = waiting(await runner.get(run_id))
        ended = (await drain(await runner.resume(run_id, decision_for(request, approve=True))))[-1]

    assert ended.status == "completed"
    assert ledger.names() == ["lookup", "notify", "notify"]
    assert ledger.calls[1][1]["key"] == ledger.calls[2][1]["key"]  # the same idempotency key


async def test_a_stop_on_a_call_of_unknown_effect_ends_the_run(settings, ledger):
    agent = crashing_agent(ledger, NOTIFY, crashes=[True])
    async with Runner(settings) as runner:
        run_id = await crash_in_notify(runner, agent)
        await drain(await runner.resume(run_id))
        request = waiting(await runner.get(run_id))
        decision = decision_for(request, stop=True, note="checked: unsure")
        ended = (await drain(await runner.resume(run_id, decision)))[-1]

    assert ended.status == "failed"
    assert "stopped by a human at step 1.2 (notify): checked: unsure" in ended.outcome
    assert ledger.names() == ["lookup", "notify"]


async def test_a_run_killed_before_its_first_checkpoint_starts_again_from_its_task(
    settings, ledger
):
    agent = crashing_agent(ledger, NOTIFY, crashes=[])
    async with Runner(settings) as runner:
        run_id, _never_iterated = await runner.start(agent, "tell ada")
    # The process died there: a record, no checkpoint. (Closing the runner released its lease.)
    async with Runner(settings) as runner:
        record = await runner.store.get_run(run_id)
        runner._graphs._agents[record.agent] = agent  # the same process: the agent is at hand
        ended = (await drain(await runner.resume(run_id)))[-1]

    assert ended.status == "completed"
    assert ledger.names() == ["lookup", "notify"]


async def test_a_run_held_by_a_live_process_cannot_be_resumed_by_another(settings, ledger):
    agent = crashing_agent(ledger, NOTIFY, crashes=[True])
    async with Runner(settings) as runner:
        run_id = await crash_in_notify(runner, agent)
        holder = await runner.store.acquire_lease(run_id, ttl_s=30)  # another process's claim

        with pytest.raises(RunBusyError, match=rf"being advanced by process {holder.holder}"):
            await runner.resume(run_id)

        await runner.store.release_lease(holder)
        assert (await drain(await runner.resume(run_id)))[-1].status == "awaiting_human"


async def test_the_claim_of_a_process_that_died_is_taken_over(settings, ledger):
    agent = crashing_agent(ledger, NOTIFY, crashes=[True])
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    async with Runner(settings) as runner:
        run_id = await crash_in_notify(runner, agent)
        await runner.store.acquire_lease(run_id, ttl_s=30)
        await tamper(runner, "UPDATE agentlab_run_leases SET pid = ?", int(dead.stdout))
        [record] = await runner.list()
        assert record.interrupted and record.holder is None

        assert (await drain(await runner.resume(run_id)))[-1].status == "awaiting_human"


async def test_a_decision_for_a_request_the_run_no_longer_waits_for_is_refused(settings, ledger):
    text = script(
        planner=[plan(step("wipe", key="a"), step("wipe", key="b"))],
        validator=[verdict(True, "wiped")],
    )
    agent = crashing_agent(ledger, text, crashes=[])
    async with Runner(settings) as runner:
        run_id, events = await runner.start(agent, "wipe a and b")
        await drain(events)
        first = waiting(await runner.get(run_id))
        # Another person approves the first wipe meanwhile; the run now waits on the second.
        await drain(await runner.resume(run_id, decision_for(first, approve=True)))
        second = waiting(await runner.get(run_id))
        assert second["arguments"] == {"key": "b"}

        with pytest.raises(DecisionRefused, match=r"the run is now waiting for wipe\(key='b'\)"):
            await runner.resume(run_id, decision_for(first, approve=True))
        with pytest.raises(RunStateError, match="must name the request it answers"):
            await runner.resume(run_id, {"approve": True})

        assert ledger.names() == ["wipe"]  # only the call that was shown and approved ran
        tampered = {**decision_for(second, approve=True), "call_hash": first["call_hash"]}
        with pytest.raises(DecisionRefused):
            await runner.resume(run_id, tampered)
    assert ledger.names() == ["wipe"]


async def test_a_completed_run_left_with_a_stale_status_is_listed_as_it_ended(settings, ledger):
    agent = crashing_agent(ledger, NOTIFY, crashes=[])
    async with Runner(settings) as runner:
        run_id, events = await runner.start(agent, "tell ada")
        await drain(events)
        # The process died after the last checkpoint, before the runs table was updated:
        await runner.store.set_status(run_id, "validating")
        await runner.store.acquire_lease(run_id, ttl_s=30)
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        await tamper(runner, "UPDATE agentlab_run_leases SET pid = ?", int(dead.stdout))

        [record] = await runner.list()
        assert (record.status, record.interrupted) == ("completed", False)
        assert (await runner.store.get_run(run_id)).status == "completed"
        with pytest.raises(RunStateError, match="has ended"):
            await runner.resume(run_id)


async def test_a_process_that_lost_its_claim_stops_before_its_next_call(settings, ledger):
    agent = crashing_agent(ledger, NOTIFY, crashes=[])
    async with Runner(settings) as runner:
        run_id, events = await runner.start(agent, "tell ada")
        async for event in events:
            if type(event).__name__ == "PlanMade":
                break
        # Paused past its lease, this process's claim was taken over by another:
        await tamper(runner, "UPDATE agentlab_run_leases SET token = 'someone-else'")
        with pytest.raises(RunBusyError, match="another process may have taken over"):
            async for _ in events:
                pass
    assert ledger.names() == []


async def test_a_database_failing_mid_run_is_an_error_saying_the_run_is_saved(
    settings, ledger, monkeypatch
):
    import sqlite3

    from agentlab.errors import DamagedDataError

    agent = crashing_agent(ledger, NOTIFY, crashes=[])
    async with Runner(settings) as runner:
        run_id, events = await runner.start(agent, "tell ada")
        saver = runner._open().saver
        writes = 0
        real_put = saver.aput

        async def failing_put(*args: Any, **kwargs: Any) -> Any:
            nonlocal writes
            writes += 1
            if writes == 3:
                raise sqlite3.OperationalError("disk I/O error")
            return await real_put(*args, **kwargs)

        monkeypatch.setattr(saver, "aput", failing_put)
        with pytest.raises(DamagedDataError, match=rf"failed while run {run_id} advanced"):
            await drain(events)
        monkeypatch.setattr(saver, "aput", real_put)

        assert (await drain(await runner.resume(run_id)))[-1].status == "completed"
    assert ledger.names() == ["lookup", "notify"]


async def test_two_runs_on_one_thread_never_share_a_step_id_or_an_outcome(settings, ledger):
    """A LangGraph server runs many tasks on one thread: each call is its own."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    from agentlab.orchestration import RunContext, compile_agent, initial_state
    from tests.conftest import decide_graph

    # A thread is a conversation: its second run is the script's second turn of each role, and
    # both plan the same store.
    again = plan(step("store", key="a", value=1))
    text = script(planner=[again, again], validator=[verdict(True), verdict(True)])
    agent = crashing_agent(ledger, text, crashes=[])
    graph = compile_agent(agent, settings=settings, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "thread-1"}}
    for task in ("store a", "store a again"):
        await graph.ainvoke(initial_state(task), config, context=RunContext())
    # The second run's planner saw the first run's tool output: its write waits for a human.
    approval = await decide_graph(graph, config, approve=True)
    await graph.ainvoke(Command(resume=approval), config, context=RunContext())

    state = (await graph.aget_state(config)).values
    # The second run's step is 2.1, not 1.1 again: its call ran, not the first run's replayed.
    assert [c[1]["idem"] for c in ledger.calls] == ["thread-1:1.1", "thread-1:2.1"]
    assert [r["step_id"] for r in state["results"]] == ["1.1", "2.1"]
    assert state["status"] == "completed"


async def test_a_failed_renewal_of_the_claim_is_retried(settings, ledger, monkeypatch):
    import asyncio as aio

    @tool(risk=Risk.WRITE)
    async def slow(ctx: ToolContext, who: str) -> dict[str, Any]:
        """Take a while. Use it to wait."""
        await aio.sleep(1.6)
        return {"waited": who}

    agent = crashing_agent(
        ledger, script(planner=[plan(step("slow", who="x"))], validator=[verdict(True)]), crashes=[]
    )
    agent.toolsets.append(FunctionToolset([slow]))
    settings = settings.model_copy(update={"lease_ttl_s": 2.0})
    async with Runner(settings) as runner:
        real = runner.store.renew_lease
        failures = iter([True])

        async def flaky(lease: Any, ttl: float) -> bool:
            if next(failures, False):
                raise OSError("the database blinked")
            return await real(lease, ttl)

        monkeypatch.setattr(runner.store, "renew_lease", flaky)
        run_id, events = await runner.start(agent, "wait")
        assert (await drain(events))[-1].status == "completed"


async def test_happened_is_refused_as_an_answer_to_an_approval(settings, ledger):
    text = script(planner=[plan(step("wipe", key="a"))], validator=[verdict(True)])
    agent = crashing_agent(ledger, text, crashes=[])
    async with Runner(settings) as runner:
        run_id, events = await runner.start(agent, "wipe a")
        await drain(events)
        request = waiting(await runner.get(run_id))
        with pytest.raises(DecisionRefused, match="'happened' answers a call of unknown effect"):
            await runner.resume(run_id, decision_for(request, happened=True))
    assert ledger.calls == []
