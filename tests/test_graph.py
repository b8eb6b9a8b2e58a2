"""The agent graph: every status transition, the iteration cap, approvals, re-planning."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from agentlab.models.base import Role
from agentlab.orchestration import Agent, compile_agent, initial_state, recursion_limit
from tests.scripts import call, plan, script, step, verdict


class Run:
    """Drives one run of an agent's graph, as the runner does, and exposes its state."""

    def __init__(
        self, agent: Agent, *, saver: Any = None, thread: str = "run-test", max_iterations: int = 10
    ) -> None:
        self.graph = compile_agent(agent, checkpointer=saver or InMemorySaver())
        self.config = {
            "configurable": {"thread_id": thread},
            "recursion_limit": recursion_limit(max_iterations),
        }
        self.max_iterations = max_iterations

    def start(self, task: str = "do the task") -> dict[str, Any]:
        self.graph.invoke(initial_state(task, max_iterations=self.max_iterations), self.config)
        return self.state

    def decide(self, approve: bool, **extra: Any) -> dict[str, Any]:
        self.graph.invoke(Command(resume={"approve": approve, **extra}), self.config)
        return self.state

    @property
    def state(self) -> dict[str, Any]:
        return dict(self.graph.get_state(self.config).values)

    @property
    def waiting_for(self) -> dict[str, Any] | None:
        interrupts = self.graph.get_state(self.config).interrupts
        return dict(interrupts[0].value) if interrupts else None


def moves(state: dict[str, Any]) -> list[tuple[str, str]]:
    return [(t["source"], t["target"]) for t in state["transitions"]]


def test_plan_execute_validate_completes(make_agent, ledger):
    agent = make_agent(
        script(
            planner=[plan(step("lookup", key="a"), step("store", key="a", value=1))],
            validator=[verdict(True, "stored")],
        )
    )
    state = Run(agent).start()
    assert state["status"] == "completed"
    assert state["outcome"] == "stored"
    assert moves(state) == [
        ("planning", "executing"),
        ("executing", "validating"),
        ("validating", "completed"),
    ]
    assert ledger.names() == ["lookup", "store"]
    assert state["iterations"] == 3  # one planning round and two steps


def test_every_transition_records_its_reason(make_agent):
    agent = make_agent(script(planner=[plan(step("lookup", key="a"))], validator=[verdict(True)]))
    state = Run(agent).start()
    assert all(t["reason"] and t["node"] for t in state["transitions"])


def test_destructive_step_waits_for_approval(make_agent, ledger):
    agent = make_agent(
        script(
            planner=[plan(step("lookup", key="a"), step("wipe", key="a"))],
            validator=[verdict(True)],
        )
    )
    run = Run(agent)
    state = run.start()
    assert state["status"] == "awaiting_human"
    assert moves(state)[-1] == ("executing", "awaiting_human")
    assert run.waiting_for == {
        "step_id": "1.2",
        "description": "call wipe",
        "tool": "wipe",
        "arguments": {"key": "a"},
        "reasons": ["destructive"],
    }
    assert ledger.names() == ["lookup"]  # the destructive call has not run


def test_step_the_planner_marks_destructive_waits_for_approval(make_agent, ledger):
    agent = make_agent(script(planner=[plan(step("lookup", destructive=True, key="a"))]))
    state = Run(agent).start()
    assert state["status"] == "awaiting_human"
    assert ledger.calls == []


def test_step_above_cost_threshold_waits_for_approval(make_agent, ledger):
    agent = make_agent(script(planner=[plan(step("order", item="desk"))]), threshold=1.0)
    run = Run(agent)
    run.start()
    assert run.waiting_for is not None
    assert run.waiting_for["reasons"] == ["estimated cost $5.00 > $1.00"]
    assert ledger.calls == []


def test_approve_runs_the_step_and_completes(make_agent, ledger):
    agent = make_agent(script(planner=[plan(step("wipe", key="a"))], validator=[verdict(True)]))
    run = Run(agent)
    run.start()
    state = run.decide(True, note="fine")
    assert state["status"] == "completed"
    assert ("awaiting_human", "executing") in moves(state)
    assert ledger.names() == ["wipe"]
    assert state["approvals"] == [
        {"step_id": "1.1", "tool": "wipe", "approved": True, "note": "fine"}
    ]


def test_reject_replans_without_the_step(make_agent, ledger):
    agent = make_agent(
        script(
            planner=[plan(step("wipe", key="a")), plan(step("lookup", key="a"))],
            validator=[verdict(True, "looked up instead")],
        )
    )
    run = Run(agent)
    run.start()
    state = run.decide(False, note="too risky")
    assert state["status"] == "completed"
    assert ("awaiting_human", "planning") in moves(state)
    assert ledger.names() == ["lookup"]  # the rejected call never ran
    assert state["plan_round"] == 2


def test_rejection_is_in_the_next_planner_prompt(make_agent):
    agent = make_agent(
        script(planner=[plan(step("wipe", key="a")), plan()], validator=[verdict(True)])
    )
    seen: list[str] = []
    planner = agent.models.for_role(Role.PLANNER)
    original = planner.request

    def spy(request):
        seen.append(request.messages[0].content)
        return original(request)

    planner.request = spy  # our own ScriptedModel, not an SDK object
    run = Run(agent)
    run.start()
    run.decide(False, note="too risky")
    assert "Rejected by a human" in seen[1] and "too risky" in seen[1]


def test_reject_with_stop_ends_the_run_failed(make_agent, ledger):
    agent = make_agent(script(planner=[plan(step("wipe", key="a"))]))
    run = Run(agent)
    run.start()
    state = run.decide(False, stop=True, note="no")
    assert state["status"] == "failed"
    assert moves(state)[-1] == ("awaiting_human", "failed")
    assert "stopped by a human" in state["outcome"]
    assert ledger.calls == []


def test_failed_step_replans_instead_of_repeating(make_agent, ledger):
    agent = make_agent(
        script(
            planner=[
                plan(step("store", key="broken", value=1)),
                plan(step("store", key="ok", value=1)),
            ],
            validator=[verdict(True)],
        )
    )
    state = Run(agent).start()
    assert state["status"] == "completed"
    assert ("executing", "planning") in moves(state)
    assert "cannot be stored" in state["transitions"][1]["reason"]
    assert [r["outcome"]["ok"] for r in state["results"]] == [False, True]


def test_identical_failed_call_is_not_run_again(make_agent, ledger):
    same = step("store", key="broken", value=1)
    agent = make_agent(script(planner=[plan(same), plan(same), plan(give_up="cannot store it")]))
    state = Run(agent).start()
    errors = [r["outcome"]["error"] for r in state["results"]]
    assert errors[1] == "the same call already failed earlier in this run"
    assert state["status"] == "failed" and "cannot store it" in state["outcome"]


def test_invalid_tool_arguments_are_a_result_the_planner_sees(make_agent, ledger):
    agent = make_agent(
        script(
            planner=[
                plan(step("store", key="a", value=1000)),
                plan(step("store", key="a", value=10)),
            ],
            executor=[call("store", key="a", value=1000)],
            validator=[verdict(True)],
        )
    )
    state = Run(agent).start()
    first = state["results"][0]["outcome"]
    assert not first["ok"] and "value: Input should be less than or equal to 100" in first["error"]
    assert state["status"] == "completed"


def test_validator_falling_short_sends_the_run_back_to_planning(make_agent):
    agent = make_agent(
        script(
            planner=[plan(step("lookup", key="a")), plan(step("lookup", key="b"))],
            validator=[verdict(False, "b is missing"), verdict(True)],
        )
    )
    state = Run(agent).start()
    assert ("validating", "planning") in moves(state)
    assert state["status"] == "completed" and state["plan_round"] == 2


def test_iteration_cap_ends_the_run_failed_not_looping(make_agent):
    forever = [plan(step("lookup", key="a"))] * 20
    agent = make_agent(script(planner=forever, validator=[verdict(False, "not yet")] * 20))
    state = Run(agent, max_iterations=5).start()
    assert state["status"] == "failed"
    assert state["iterations"] == 5
    assert "iteration cap reached" in state["outcome"]
    assert state["transitions"][-1]["node"] == "halt"


def test_planner_giving_up_fails_the_run(make_agent):
    agent = make_agent(script(planner=[plan(give_up="no tool can do that")]))
    state = Run(agent).start()
    assert moves(state) == [("planning", "failed")]
    assert state["outcome"] == "planner gave up: no tool can do that"


def test_plan_naming_an_unknown_tool_is_replanned(make_agent):
    agent = make_agent(
        script(
            planner=[plan(step("teleport")), plan(step("lookup", key="a"))],
            validator=[verdict(True)],
        )
    )
    state = Run(agent).start()
    assert ("planning", "planning") in moves(state)
    assert "unknown tool(s) teleport" in state["transitions"][0]["reason"]
    assert state["status"] == "completed"


def test_empty_plan_goes_to_validation(make_agent):
    agent = make_agent(script(planner=[plan()], validator=[verdict(True, "nothing to do")]))
    state = Run(agent).start()
    assert moves(state) == [("planning", "validating"), ("validating", "completed")]


def test_executor_fills_in_arguments_the_plan_left_out(make_agent, ledger):
    agent = make_agent(
        script(
            planner=[plan(step("lookup", key="a"), step("store", key="a"))],
            executor=[call("store", key="a", value=7)],
            validator=[verdict(True)],
        )
    )
    state = Run(agent).start()
    assert ledger.calls[1][1]["value"] == 7
    assert [c["role"] for c in state["model_calls"]] == ["planner", "executor", "validator"]


def test_model_that_cannot_answer_fails_the_run_with_the_reason(make_agent):
    agent = make_agent(script(planner=[plan(step("lookup", key="a"))]))  # no validator turn
    state = Run(agent).start()
    assert state["status"] == "failed"
    assert state["outcome"].startswith("validator unavailable: the script in test script has 0")


def test_every_designed_transition_occurs(make_agent):
    """Between them, these runs walk every edge of the status machine."""
    scenarios = [
        # unknown tool, approval, validator unhappy, empty re-plan, validator happy
        (
            script(
                planner=[plan(step("teleport")), plan(step("wipe", key="a")), plan()],
                validator=[verdict(False, "again"), verdict(True)],
            ),
            [{"approve": True}],
        ),
        # failed step, rejection and re-plan, planner gives up
        (
            script(
                planner=[
                    plan(step("store", key="broken", value=1)),
                    plan(step("wipe", key="a")),
                    plan(give_up="stop"),
                ]
            ),
            [{"approve": False}],
        ),
        # rejection that stops the run
        (script(planner=[plan(step("wipe", key="a"))]), [{"approve": False, "stop": True}]),
        # a validator that answers without a verdict
        (script(planner=[plan(step("lookup", key="a"))], validator=[{"text": "looks fine"}]), []),
        # the iteration cap, reached between steps
        (script(planner=[plan(step("lookup", key="a"), step("lookup", key="b"))]), []),
    ]
    seen: set[tuple[str, str]] = set()
    for i, (text, decisions) in enumerate(scenarios):
        run = Run(make_agent(text), thread=f"t{i}", max_iterations=10 if i < 4 else 2)
        run.start()
        for d in decisions:
            run.decide(**d)
        assert run.state["status"] in ("completed", "failed"), run.state["transitions"]
        seen |= set(moves(run.state))
    assert seen == {
        ("planning", "executing"),
        ("planning", "planning"),
        ("planning", "validating"),
        ("planning", "failed"),
        ("executing", "awaiting_human"),
        ("executing", "validating"),
        ("executing", "planning"),
        ("executing", "failed"),
        ("awaiting_human", "executing"),
        ("awaiting_human", "planning"),
        ("awaiting_human", "failed"),
        ("validating", "completed"),
        ("validating", "planning"),
        ("validating", "failed"),
    }


def test_checkpoints_store_history_as_deltas_not_copies(make_agent, tmp_path: Path):
    n = 30
    agent = make_agent(
        script(
            planner=[plan(*[step("lookup", key=f"k{i}") for i in range(n)])],
            validator=[verdict(True)],
        )
    )
    conn = sqlite3.connect(tmp_path / "cp.sqlite", check_same_thread=False)
    saver = SqliteSaver(conn)
    run = Run(agent, saver=saver, max_iterations=n + 5)
    state = run.start()
    assert len(state["results"]) == n and len(state["messages"]) == 1 + 1 + n + 1
    latest = saver.get_tuple(run.config)
    assert latest is not None
    stored = latest.checkpoint["channel_values"]
    for channel in ("messages", "results", "transitions", "model_calls"):
        assert channel not in stored, f"{channel} was copied into the checkpoint"


def test_run_resumes_in_a_new_graph_from_the_sqlite_checkpoint(make_agent, ledger, tmp_path):
    text = script(
        planner=[plan(step("store", key="a", value=1), step("wipe", key="a"))],
        validator=[verdict(True)],
    )
    path = tmp_path / "cp.sqlite"
    first = Run(make_agent(text), saver=SqliteSaver(sqlite3.connect(path, check_same_thread=False)))
    first.start()
    # A new agent, graph and connection: as a second process would build them.
    second = Run(
        make_agent(text), saver=SqliteSaver(sqlite3.connect(path, check_same_thread=False))
    )
    state = second.decide(True)
    assert state["status"] == "completed"
    assert ledger.names() == ["store", "wipe"]  # store ran once, before the pause


def test_tool_gets_a_stable_idempotency_key_per_step(make_agent, ledger):
    agent = make_agent(
        script(planner=[plan(step("store", key="a", value=1))], validator=[verdict(True)])
    )
    Run(agent, thread="run-42").start()
    assert ledger.calls[0][1]["idem"] == "run-42:1.1"


@pytest.mark.parametrize("decision", [{"approve": "yes"}, "ok"])
def test_resume_value_that_is_not_a_decision_is_refused(make_agent, decision):
    agent = make_agent(script(planner=[plan(step("wipe", key="a"))]))
    run = Run(agent)
    run.start()
    with pytest.raises(ValueError, match="resume value must be a Decision"):
        run.graph.invoke(Command(resume=decision), run.config)
