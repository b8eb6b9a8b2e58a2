"""Parallel steps: steps whose dependencies are done run at the same time (at most
``max_parallel_calls`` at once), results land in plan order, a failing or slow step does not hold
up its siblings, calls that need a human are asked about together while the others run, and the
journal still runs every call exactly once when a crash cuts a wave of concurrent calls short."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import Field

from agentlab.errors import Fix, RunStateError
from agentlab.models.base import ModelRequest, Role
from agentlab.models.messages import text_of
from agentlab.models.router import ModelSpec, scripted_router
from agentlab.models.script import parse_script
from agentlab.orchestration import (
    Agent,
    Answer,
    Limits,
    Runner,
    ToolCalled,
    decision_for,
    waiting_requests,
)
from agentlab.tools import DefaultPolicy, FunctionToolset, Risk, ToolError, tool
from tests.conftest import Ledger, toy_tools
from tests.scripts import call, plan, script, step, verdict
from tests.test_graph import Run, moves, spy_on


class Probe:
    """What the tools saw: how many calls were in flight at once, and the order they ended."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self.finished: list[str] = []
        self.effects: list[str] = []
        self.hold: set[str] = set()
        self._events: dict[str, asyncio.Event] = {}

    def event(self, name: str) -> asyncio.Event:
        return self._events.setdefault(name, asyncio.Event())


class Crash(BaseException):
    """The process dying mid-call: nothing catches it."""


def probe_tools(probe: Probe) -> FunctionToolset:
    @tool
    async def fetch(
        key: str,
        wait_for: str = "",
        delay_ms: Annotated[int, Field(ge=0, le=5000)] = 0,
    ) -> dict:
        """Fetch the record of a key (reads only). Fails for the key 'broken'."""
        probe.in_flight += 1
        probe.most = max(probe.most, probe.in_flight)
        try:
            if key == "broken":
                raise ToolError("there is no record 'broken'")
            if wait_for:  # a sibling run one after the other would never set it: time out
                await asyncio.wait_for(probe.event(wait_for).wait(), 5)
            await asyncio.sleep(delay_ms / 1000)
            return {"key": key}
        finally:
            probe.in_flight -= 1
            probe.finished.append(key)
            probe.event(key).set()

    @tool(risk=Risk.WRITE)
    async def note(key: str, crash_after: list[str] | None = None) -> dict:
        """Write a note (not idempotent); with ``crash_after``, wait for those notes, write,
        then take the process down."""
        for other in crash_after or []:
            await asyncio.wait_for(probe.event(other).wait(), 5)
        if key in probe.hold:  # in flight when the process dies
            await asyncio.Event().wait()
        probe.effects.append(key)
        probe.event(key).set()
        if crash_after:
            raise Crash("process died")
        return {"noted": key}

    return FunctionToolset([fetch, note])


def agent_for(ledger: Ledger, probe: Probe, text: str | None = None) -> Agent:
    models = scripted_router(parse_script(text), source="test script") if text else None
    return Agent(
        "par",
        "a test agent whose steps may run at once",
        toolsets=[toy_tools(ledger), probe_tools(probe)],
        policy=DefaultPolicy(1.0),
        models=models,
    )


def parallel_run(agent: Agent, *, max_parallel_calls: int = 4) -> Run:
    run = Run(agent)
    run.context = run.context.model_copy(
        update={"limits": Limits(max_iterations=20, max_parallel_calls=max_parallel_calls)}
    )
    run.config["recursion_limit"] = run.context.limits.recursion_limit
    return run


def step_ids(state: dict[str, Any]) -> list[str]:
    return [r["step_id"] for r in state["results"]]


# --- running at once ---------------------------------------------------------------------------


async def test_a_slow_step_does_not_block_its_sibling(ledger):
    probe = Probe()
    text = script(
        planner=[
            plan(
                step("fetch", key="slow", wait_for="fast", after=[]),
                step("fetch", key="fast", after=[]),
            )
        ],
        validator=[verdict(True)],
    )
    state = await parallel_run(agent_for(ledger, probe, text)).start()
    assert state["status"] == "completed", state["transitions"]
    assert probe.finished == ["fast", "slow"]  # the slow one was still running
    assert probe.most == 2


async def test_results_are_recorded_in_plan_order_not_the_order_they_finish(ledger):
    probe = Probe()
    text = script(
        planner=[
            plan(
                step("fetch", key="a", delay_ms=60, after=[]),
                step("fetch", key="b", delay_ms=30, after=[]),
                step("fetch", key="c", after=[]),
            )
        ],
        validator=[verdict(True)],
    )
    state = await parallel_run(agent_for(ledger, probe, text)).start()
    assert probe.finished == ["c", "b", "a"]
    assert step_ids(state) == ["1.1", "1.2", "1.3"]
    texts = [
        text_of(e["message"]["content"]) for e in state["transcript"] if e["node"] == "execute"
    ]
    assert [t.split("(")[0] for t in texts] == [
        "Step 1.1 fetch",
        "Step 1.2 fetch",
        "Step 1.3 fetch",
    ]


async def test_no_more_calls_run_at_once_than_the_limit(ledger):
    probe = Probe()
    steps = [step("fetch", key=k, delay_ms=40, after=[]) for k in "abcde"]
    text = script(planner=[plan(*steps)], validator=[verdict(True)])
    state = await parallel_run(agent_for(ledger, probe, text), max_parallel_calls=2).start()
    assert state["status"] == "completed"
    assert probe.most == 2
    assert sorted(probe.finished) == list("abcde")


async def test_steps_that_name_no_dependencies_run_one_after_the_other(ledger):
    probe = Probe()
    text = script(
        planner=[plan(*(step("fetch", key=k, delay_ms=20) for k in "abc"))],
        validator=[verdict(True)],
    )
    state = await parallel_run(agent_for(ledger, probe, text)).start()
    assert state["status"] == "completed"
    assert probe.most == 1 and probe.finished == ["a", "b", "c"]


async def test_a_step_waits_for_the_steps_it_depends_on(ledger):
    probe = Probe()
    text = script(
        planner=[
            plan(
                step("fetch", key="a", delay_ms=50, after=[]),
                step("fetch", key="b", after=[]),
                step("fetch", key="c", after=[1]),
            )
        ],
        validator=[verdict(True)],
    )
    state = await parallel_run(agent_for(ledger, probe, text)).start()
    assert state["status"] == "completed"
    assert probe.finished == ["b", "a", "c"]
    assert state["plan"][2]["depends_on"] == ["1.1"]


async def test_a_failing_step_does_not_fail_its_siblings_and_its_dependents_are_skipped(ledger):
    probe = Probe()
    text = script(
        planner=[
            plan(
                step("fetch", key="broken", after=[]),
                step("fetch", key="a", after=[]),
                step("fetch", key="b", after=[1]),
                step("fetch", key="c", after=[2]),
            ),
            plan(),
        ],
        validator=[verdict(True)],
    )
    agent = agent_for(ledger, probe, text)
    seen = spy_on(agent, Role.PLANNER)
    run = parallel_run(agent)
    state = await run.start()
    assert state["status"] == "completed"
    assert sorted(probe.finished) == ["a", "broken", "c"]  # b never ran: it needed 'broken'
    assert [r["outcome"]["ok"] for r in state["results"]] == [False, True, True]
    [back] = [
        t for t in state["transitions"] if (t["source"], t["target"]) == ("executing", "planning")
    ]
    assert "step 1.1 fetch failed: there is no record 'broken'" in back["reason"]
    assert "there is no record 'broken'" in _prompt(seen[1])


async def test_a_dependency_on_a_later_step_is_sent_back_to_the_planner(ledger):
    probe = Probe()
    text = script(
        planner=[
            plan(step("fetch", key="a", after=[2]), step("fetch", key="b", after=[])),
            plan(),
        ],
        validator=[verdict(True)],
    )
    state = await parallel_run(agent_for(ledger, probe, text)).start()
    assert state["status"] == "completed"
    assert probe.finished == []
    assert "step 1 depends on step(s) 2" in state["transitions"][0]["reason"]


async def test_the_executor_completes_a_step_from_the_results_it_depends_on(ledger):
    probe = Probe()
    text = script(
        planner=[
            plan(
                step("lookup", key="x", after=[]),
                step("lookup", key="yy", after=[]),
                step("store", key="sum", after=[1, 2]),  # value: from the lookups
            )
        ],
        executor=[call("store", key="sum", value=3)],
        validator=[verdict(True)],
    )
    agent = agent_for(ledger, probe, text)
    seen = spy_on(agent, Role.EXECUTOR)
    run = parallel_run(agent)
    await run.start()
    # The executor saw the lookups (tool output): its write asks a human first.
    waiting = await run_waiting(run)
    assert waiting["reasons"] == ["proposed after untrusted content from lookup"]
    state = await run.decide(True)
    assert state["status"] == "completed"
    assert ledger.names() == ["lookup", "lookup", "store"]
    shown = _prompt(seen[0])
    assert "step 1.1 lookup" in shown and "step 1.2 lookup" in shown
    # The transcript stays a conversation: the executor's tool use, then its result.
    messages = [e["message"] for e in state["transcript"]]
    uses = [
        i for i, m in enumerate(messages) if _blocks(m, "tool_use") and m["role"] == "assistant"
    ]
    for i in uses:
        answered = {b["tool_use_id"] for b in _blocks(messages[i + 1], "tool_result")}
        assert answered == {b["id"] for b in _blocks(messages[i], "tool_use")}


# --- approvals, together -------------------------------------------------------------------------


GROUP = script(
    planner=[
        plan(
            step("wipe", key="a", after=[]),
            step("wipe", key="b", after=[]),
            step("lookup", key="c", after=[]),
        ),
        plan(),
    ],
    validator=[verdict(True)],
)


async def run_waiting(run: Run) -> dict[str, Any]:
    interrupts = (await run.graph.aget_state(run.config)).interrupts
    assert interrupts, "the run is not waiting for a decision"
    return dict(interrupts[0].value)


async def test_calls_needing_approval_are_asked_about_together_while_the_others_run(ledger):
    run = parallel_run(agent_for(ledger, Probe(), GROUP))
    state = await run.start()
    assert state["status"] == "awaiting_human"
    assert ledger.names() == ["lookup"]  # ran meanwhile
    requests = waiting_requests(await run_waiting(run))
    assert [(r["step_id"], r["tool"]) for r in requests] == [("1.1", "wipe"), ("1.2", "wipe")]
    assert moves(state)[-1] == ("executing", "awaiting_human")


async def test_approving_all_at_once_runs_every_call(ledger):
    run = parallel_run(agent_for(ledger, Probe(), GROUP))
    await run.start()
    requests = waiting_requests(await run_waiting(run))
    state = await run.answer([decision_for(r, approve=True) for r in requests])
    assert state["status"] == "completed"
    assert sorted(ledger.names()) == ["lookup", "wipe", "wipe"]
    assert [a["step_id"] for a in state["approvals"]] == ["1.1", "1.2"]


async def test_approving_one_runs_it_and_keeps_asking_about_the_other(ledger):
    run = parallel_run(agent_for(ledger, Probe(), GROUP))
    await run.start()
    second = waiting_requests(await run_waiting(run))[1]
    state = await run.answer(decision_for(second, approve=True))
    assert state["status"] == "awaiting_human"
    assert ledger.calls[-1] == ("wipe", {"key": "b"})
    left = await run_waiting(run)
    assert (left["step_id"], "group" in left) == ("1.1", False)
    state = await run.answer(decision_for(left, note="keep a"))
    assert state["status"] == "completed"
    assert ("wipe", {"key": "a"}) not in ledger.calls
    assert state["plan_round"] == 2  # a new round began after the rejection
    assert any("rejected wipe (step 1.1): keep a" in t["reason"] for t in state["transitions"])


async def test_a_decision_for_a_call_not_shown_is_refused_and_nothing_runs(ledger):
    run = parallel_run(agent_for(ledger, Probe(), GROUP))
    await run.start()
    first = waiting_requests(await run_waiting(run))[0]
    forged = {**decision_for(first, approve=True), "request_id": "9.9/approval"}
    state = await run.answer([forged])
    assert state["status"] == "awaiting_human"
    assert "decision refused" in state["transitions"][-1]["reason"]
    assert ledger.names() == ["lookup"]


# --- exactly once, across a crash in a wave ----------------------------------------------------


async def drain(events: AsyncIterator[Any]) -> list[Any]:
    return [e async for e in events]


def crashing_wave(tmp_path: Path) -> tuple[Probe, ModelSpec]:
    """Three concurrent notes: when the process dies, a has ended, b is in flight (held) and c
    has taken its effect."""
    probe = Probe()
    probe.hold = {"b"}
    text = script(
        planner=[
            plan(
                step("note", key="a", after=[]),
                step("note", key="b", after=[]),
                step("note", key="c", crash_after=["a"], after=[]),
            )
        ],
        validator=[verdict(True)],
    )
    path = tmp_path / "script.json"
    path.write_text(text)
    return probe, ModelSpec(kind="scripted", script=str(path))


async def test_a_crash_in_a_wave_of_concurrent_calls_repeats_none_of_them(settings, tmp_path: Path):
    """a ends, b is in flight and c takes its effect when the process dies. On resume a is
    replayed from the journal, and a person is asked about b and c together (neither is
    idempotent): b is run again, c is said to have happened. Each effect happens once."""
    probe, spec = crashing_wave(tmp_path)
    agent = agent_for(Ledger(), probe)
    async with Runner(settings) as runner:
        run_id, events = await runner.start(agent, "note three things", models=spec)
        with pytest.raises(Crash):
            await drain(events)
        assert probe.effects == ["a", "c"]
        probe.hold = set()
        paused = await drain(await runner.resume(run_id))
        replayed = [e.result for e in paused if isinstance(e, ToolCalled)]
        assert [(r["step_id"], r["journal"]) for r in replayed] == [("1.1", "replayed")]
        requests = [r.data() for r in (await runner.get(run_id)).requests]
        assert [(r["kind"], r["step_id"]) for r in requests] == [
            ("unknown_side_effect", "1.2"),
            ("unknown_side_effect", "1.3"),
        ]
        b, c = requests
        answer = [
            decision_for(b, approve=True),
            decision_for(c, happened=True, result={"noted": "c"}),
        ]
        ended = await drain(await runner.resume(run_id, answer))
        assert ended[-1].status == "completed"
    assert sorted(probe.effects) == ["a", "b", "c"]


async def test_one_answer_about_several_calls_of_unknown_effect_needs_every(
    settings, tmp_path: Path
):
    """b is in flight and c took its effect when the process dies: one approve (or happened)
    is not taken to answer both, since a person who checked one would re-run (or record) the
    other; answering one by its step leaves the other waiting, and answering several at once
    takes saying so (``every``, the CLI's --all)."""
    probe, spec = crashing_wave(tmp_path)
    async with Runner(settings) as runner:
        run_id, events = await runner.start(agent_for(Ledger(), probe), "three", models=spec)
        with pytest.raises(Crash):
            await drain(events)
        probe.hold = set()
        await drain(await runner.resume(run_id))
        for answer in (Answer.APPROVE, Answer.HAPPENED):
            with pytest.raises(RunStateError) as refused:
                await runner.decide(run_id, answer)
            assert "2 calls wait, 2 of them of unknown effect" in str(refused.value)
            assert refused.value.fix is Fix.EACH
        assert len((await runner.get(run_id)).requests) == 2  # nothing was decided

        await drain(await runner.decide(run_id, Answer.APPROVE, step="1.2"))
        [left] = (await runner.get(run_id)).requests
        assert left.step_id == "1.3" and left.unknown_effect
        ended = await drain(await runner.decide(run_id, Answer.HAPPENED, every=True))
        assert ended[-1].status == "completed"
    assert sorted(probe.effects) == ["a", "b", "c"]  # each once


def _prompt(request: ModelRequest) -> str:
    return "\n".join(text_of(m["content"]) for m in request.messages)


def _blocks(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    content = message["content"]
    return (
        [b for b in content if isinstance(b, dict) and b.get("type") == kind]
        if isinstance(content, list)
        else []
    )


# --- at the command line -----------------------------------------------------------------------


def test_the_cli_asks_about_calls_waiting_together_and_decides_all_or_one(env, tmp_path: Path):
    from tests.test_cli import agentlab, run_id_in, support_db

    deletions = script(
        planner=[
            plan(
                step("delete_customer", customer_id=1, after=[]),
                step("delete_customer", customer_id=2, after=[]),
            ),
            plan(),
        ],
        validator=[verdict(True, "customer 2 is deleted; a person kept customer 1")],
    )
    path = tmp_path / "deletions.json"
    path.write_text(deletions)
    started = agentlab(env, "run", "Delete customers 1 and 2", "--script", path)
    assert started.returncode == 0, started.stderr
    run_id = run_id_in(started.stdout)
    assert "after" in started.stdout  # the plan shows which steps wait for which
    shown = agentlab(env, "show", run_id)
    assert shown.stdout.count("approval needed") == 2
    assert "--step S for one of steps 1.1, 1.2" in shown.stdout

    edited = agentlab(env, "resume", run_id, "--approve", "--args", '{"customer_id": 3}')
    assert edited.returncode == 2
    said = "edited arguments are for one call and 2 wait (steps 1.1, 1.2): choose one with --step"
    assert said in edited.stderr

    one = agentlab(env, "resume", run_id, "--approve", "--step", "1.2")
    assert one.returncode == 0, one.stderr
    with support_db(env) as db:
        ids = {row[0] for row in db.execute("SELECT id FROM customers WHERE id IN (1, 2)")}
    assert ids == {1}  # customer 2 is gone; customer 1 still waits for a decision
    rest = agentlab(env, "resume", run_id, "--reject", "--note", "keep 1")
    assert rest.returncode == 0, rest.stderr
    assert "completed" in agentlab(env, "show", run_id).stdout
    with support_db(env) as db:
        assert db.execute("SELECT count(*) FROM customers WHERE id = 1").fetchone() == (1,)
