"""The agent graph: every status transition, the iteration cap, approvals, re-planning, the tool
executor (schema tools, failures) and the one policy both locks ask."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Command

from agentlab.config import load_settings
from agentlab.models.base import ModelRequest, Role
from agentlab.models.messages import text_of
from agentlab.models.router import scripted_router
from agentlab.models.script import parse_script
from agentlab.orchestration import (
    Agent,
    Evidence,
    Limits,
    RunContext,
    compile_agent,
    decision_for,
    initial_state,
)
from agentlab.orchestration.context import default_principal
from agentlab.tools import (
    DefaultPolicy,
    FunctionToolset,
    Policy,
    PolicyDecision,
    ProposedCall,
    Risk,
    Tool,
    ToolContext,
    Verdict,
    WrapperToolset,
    tool,
)
from agentlab.tools.journal import MemoryJournal, call_hash
from tests.conftest import Ledger, decide_graph, toy_tools
from tests.scripts import call, plan, script, step, verdict


class Run:
    """Drives one run of an agent's graph, as the runner does, and exposes its state."""

    def __init__(
        self,
        agent: Agent,
        *,
        saver: Any = None,
        thread: str = "run-test",
        max_iterations: int = 10,
        journal: Any = None,
    ) -> None:
        self.graph = compile_agent(agent, checkpointer=saver or InMemorySaver(), journal=journal)
        self.context = RunContext(limits=Limits(max_iterations=max_iterations))
        self.config = {
            "configurable": {"thread_id": thread},
            "recursion_limit": self.context.limits.recursion_limit,
        }

    async def start(self, task: str = "do the task", **kwargs: Any) -> dict[str, Any]:
        await self.graph.ainvoke(initial_state(task), self.config, context=self.context, **kwargs)
        return await self.state()

    async def decide(self, approve: bool, **choice: Any) -> dict[str, Any]:
        """Answer the request the run waits for now (``decision_for``'s keywords)."""
        decision = await decide_graph(self.graph, self.config, approve=approve, **choice)
        return await self.answer(decision)

    async def answer(self, decision: Any) -> dict[str, Any]:
        """Resume the run with ``decision`` as it is, bound to a request or not."""
        await self.graph.ainvoke(Command(resume=decision), self.config, context=self.context)
        return await self.state()

    async def proceed(self) -> dict[str, Any]:
        """Continue a run stopped by an ``interrupt_before`` (not by an approval)."""
        await self.graph.ainvoke(None, self.config, context=self.context)
        return await self.state()

    async def state(self) -> dict[str, Any]:
        return dict((await self.graph.aget_state(self.config)).values)

    async def waiting_for(self) -> dict[str, Any] | None:
        interrupts = (await self.graph.aget_state(self.config)).interrupts
        return dict(interrupts[0].value) if interrupts else None


def moves(state: dict[str, Any]) -> list[tuple[str, str]]:
    return [(t["source"], t["target"]) for t in state["transitions"]]


def errors(state: dict[str, Any]) -> list[str | None]:
    return [r["outcome"]["error"] for r in state["results"]]


def spy_on(agent: Agent, role: Role) -> list[ModelRequest]:
    """Record the requests ``role``'s model gets (our own ScriptedModel, not an SDK object)."""
    model = agent.models.for_role(role)
    original = model.request
    seen: list[ModelRequest] = []

    async def spy(request: ModelRequest):
        seen.append(request)
        return await original(request)

    model.request = spy
    return seen


def prompt(request: ModelRequest) -> str:
    return "\n".join(text_of(m["content"]) for m in request.messages)


def agent_with(
    ledger: Ledger, text: str, *tools: Tool, policy: Policy | None = None, threshold: float = 1.0
) -> Agent:
    """The toy agent, with ``tools`` in a second toolset and ``policy`` deciding approvals."""
    return Agent(
        "toy",
        "a test agent",
        toolsets=[toy_tools(ledger), FunctionToolset(tools)],
        policy=policy or DefaultPolicy(threshold),
        models=scripted_router(parse_script(text), source="test script"),
    )


# --- the status machine ------------------------------------------------------------------------


async def test_plan_execute_validate_completes(make_agent, ledger):
    agent = make_agent(
        script(
            planner=[plan(step("lookup", key="a"), step("store", key="a", value=1))],
            validator=[verdict(True, "stored")],
        )
    )
    state = await Run(agent).start()
    assert state["status"] == "completed"
    assert state["outcome"] == "stored"
    assert moves(state) == [
        ("planning", "executing"),
        ("executing", "validating"),
        ("validating", "completed"),
    ]
    assert ledger.names() == ["lookup", "store"]
    assert state["iterations"] == 3  # one planning round and two steps


async def test_every_transition_records_its_reason(make_agent):
    agent = make_agent(script(planner=[plan(step("lookup", key="a"))], validator=[verdict(True)]))
    state = await Run(agent).start()
    assert all(t["reason"] and t["node"] for t in state["transitions"])


async def test_destructive_step_waits_for_approval(make_agent, ledger):
    agent = make_agent(
        script(
            planner=[plan(step("lookup", key="a"), step("wipe", key="a"))],
            validator=[verdict(True)],
        )
    )
    run = Run(agent)
    state = await run.start()
    assert state["status"] == "awaiting_human"
    assert moves(state)[-1] == ("executing", "awaiting_human")
    waiting = await run.waiting_for()
    assert waiting is not None
    call_hash = waiting.pop("call_hash")
    assert isinstance(call_hash, str) and call_hash  # names the very call shown
    assert waiting == {
        "kind": "approval",
        "request_id": "1.2/approval",
        "step_id": "1.2",
        "description": "call wipe",
        "tool": "wipe",
        "arguments": {"key": "a"},
        "reasons": ["destructive"],
    }
    assert ledger.names() == ["lookup"]  # the destructive call has not run


async def test_step_the_planner_marks_destructive_waits_for_approval(make_agent, ledger):
    agent = make_agent(script(planner=[plan(step("lookup", destructive=True, key="a"))]))
    state = await Run(agent).start()
    assert state["status"] == "awaiting_human"
    assert ledger.calls == []


async def test_step_above_cost_threshold_waits_for_approval(make_agent, ledger):
    agent = make_agent(script(planner=[plan(step("order", item="desk"))]), threshold=1.0)
    run = Run(agent)
    await run.start()
    waiting = await run.waiting_for()
    assert waiting is not None
    assert waiting["reasons"] == ["estimated cost $5.00 > $1.00"]
    assert ledger.calls == []


async def test_approve_runs_the_step_and_completes(make_agent, ledger):
    agent = make_agent(script(planner=[plan(step("wipe", key="a"))], validator=[verdict(True)]))
    run = Run(agent)
    await run.start()
    shown = await run.waiting_for()
    state = await run.decide(True, note="fine")
    assert state["status"] == "completed"
    assert ("awaiting_human", "executing") in moves(state)
    assert ledger.names() == ["wipe"]
    assert state["approvals"] == [
        {
            "step_id": "1.1",
            "tool": "wipe",
            "approved": True,
            "note": "fine",
            "call_hash": shown["call_hash"],
            "by": default_principal(),  # the graph driven in code: its process's user
            "via": "api",
        }
    ]


async def test_reject_replans_without_the_step(make_agent, ledger):
    agent = make_agent(
        script(
            planner=[plan(step("wipe", key="a")), plan(step("lookup", key="a"))],
            validator=[verdict(True, "looked up instead")],
        )
    )
    run = Run(agent)
    await run.start()
    state = await run.decide(False, note="too risky")
    assert state["status"] == "completed"
    assert ("awaiting_human", "planning") in moves(state)
    assert ledger.names() == ["lookup"]  # the rejected call never ran
    assert state["plan_round"] == 2


async def test_rejection_is_in_the_next_planner_prompt(make_agent):
    agent = make_agent(
        script(planner=[plan(step("wipe", key="a")), plan()], validator=[verdict(True)])
    )
    seen = spy_on(agent, Role.PLANNER)
    run = Run(agent)
    await run.start()
    await run.decide(False, note="too risky")
    assert "Rejected by a human" in prompt(seen[1]) and "too risky" in prompt(seen[1])


async def test_reject_with_stop_ends_the_run_failed(make_agent, ledger):
    agent = make_agent(script(planner=[plan(step("wipe", key="a"))]))
    run = Run(agent)
    await run.start()
    state = await run.decide(False, stop=True, note="no")
    assert state["status"] == "failed"
    assert moves(state)[-1] == ("awaiting_human", "failed")
    assert "stopped by a human" in state["outcome"]
    assert ledger.calls == []


async def test_failed_step_replans_instead_of_repeating(make_agent, ledger):
    agent = make_agent(
        script(
            planner=[
                plan(step("store", key="broken", value=1)),
                plan(step("store", key="ok", value=1)),
            ],
            validator=[verdict(True)],
        )
    )
    run = Run(agent)
    state = await run.start()
    # The re-planned write was proposed after the planner saw tool output: a human approves it.
    assert (await run.waiting_for())["reasons"] == ["proposed after untrusted content from store"]
    state = await run.decide(True)
    assert state["status"] == "completed"
    assert ("executing", "planning") in moves(state)
    assert "cannot be stored" in state["transitions"][1]["reason"]
    assert [r["outcome"]["ok"] for r in state["results"]] == [False, True]


async def test_identical_failed_call_is_not_run_again(make_agent, ledger):
    same = step("store", key="broken", value=1)
    agent = make_agent(script(planner=[plan(same), plan(same), plan(give_up="cannot store it")]))
    run = Run(agent)
    state = await run.start()
    # Proposed again after its failure was seen: it runs only if a human says so.
    assert len(state["results"]) == 1
    assert (await run.waiting_for())["arguments"] == {"key": "broken", "value": 1}
    state = await run.decide(False)
    assert len(state["results"]) == 1
    assert state["status"] == "failed" and "cannot store it" in state["outcome"]


async def test_invalid_tool_arguments_are_a_result_the_planner_sees(make_agent, ledger):
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
    seen = spy_on(agent, Role.PLANNER)
    run = Run(agent)
    await run.start()
    state = await run.decide(True)  # the re-planned write, proposed after tool output
    first = state["results"][0]["outcome"]
    assert not first["ok"] and "value: Input should be less than or equal to 100" in first["error"]
    assert "Input should be less than or equal to 100" in prompt(seen[1])
    assert state["status"] == "completed"


async def test_validator_falling_short_sends_the_run_back_to_planning(make_agent):
    agent = make_agent(
        script(
            planner=[plan(step("lookup", key="a")), plan(step("lookup", key="b"))],
            validator=[verdict(False, "b is missing"), verdict(True)],
        )
    )
    state = await Run(agent).start()
    assert ("validating", "planning") in moves(state)
    assert state["status"] == "completed" and state["plan_round"] == 2


async def test_iteration_cap_ends_the_run_failed_not_looping(make_agent):
    forever = [plan(step("lookup", key="a"))] * 20
    agent = make_agent(script(planner=forever, validator=[verdict(False, "not yet")] * 20))
    state = await Run(agent, max_iterations=5).start()
    assert state["status"] == "failed"
    assert state["iterations"] == 5
    assert "iteration cap reached" in state["outcome"]
    assert state["transitions"][-1]["node"] == "halt"


async def test_planner_giving_up_fails_the_run(make_agent):
    agent = make_agent(script(planner=[plan(give_up="no tool can do that")]))
    state = await Run(agent).start()
    assert moves(state) == [("planning", "failed")]
    assert state["outcome"] == "planner gave up: no tool can do that"


async def test_plan_naming_an_unknown_tool_is_replanned(make_agent):
    agent = make_agent(
        script(
            planner=[plan(step("teleport")), plan(step("lookup", key="a"))],
            validator=[verdict(True)],
        )
    )
    state = await Run(agent).start()
    assert ("planning", "planning") in moves(state)
    assert "unknown tool(s) teleport" in state["transitions"][0]["reason"]
    assert state["status"] == "completed"


async def test_empty_plan_goes_to_validation(make_agent):
    agent = make_agent(script(planner=[plan()], validator=[verdict(True, "nothing to do")]))
    state = await Run(agent).start()
    assert moves(state) == [("planning", "validating"), ("validating", "completed")]


async def test_executor_fills_in_arguments_the_plan_left_out(make_agent, ledger):
    agent = make_agent(
        script(
            planner=[plan(step("lookup", key="a"), step("store", key="a"))],
            executor=[call("store", key="a", value=7)],
            validator=[verdict(True)],
        )
    )
    run = Run(agent)
    await run.start()
    # The executor filled the value in after seeing the lookup's output: a human approves it.
    assert (await run.waiting_for())["reasons"] == ["proposed after untrusted content from lookup"]
    state = await run.decide(True)
    assert ledger.calls[1][1]["value"] == 7
    assert [c["role"] for c in state["model_calls"]] == ["planner", "executor", "validator"]


async def test_model_that_cannot_answer_fails_the_run_with_the_reason(make_agent):
    agent = make_agent(script(planner=[plan(step("lookup", key="a"))]))  # no validator turn
    state = await Run(agent).start()
    assert state["status"] == "failed"
    assert state["outcome"].startswith("validator unavailable: the script in test script has 0")


async def test_every_designed_transition_occurs(make_agent):
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
        # a validator that answers without a verdict, twice
        (
            script(
                planner=[plan(step("lookup", key="a"))],
                validator=[{"text": "looks fine"}, {"text": "still fine"}],
            ),
            [],
        ),
        # the iteration cap, reached between steps
        (script(planner=[plan(step("lookup", key="a"), step("lookup", key="b"))]), []),
    ]
    seen: set[tuple[str, str]] = set()
    for i, (text, decisions) in enumerate(scenarios):
        run = Run(make_agent(text), thread=f"t{i}", max_iterations=10 if i < 4 else 2)
        await run.start()
        for d in decisions:
            await run.decide(**d)
        state = await run.state()
        assert state["status"] in ("completed", "failed"), state["transitions"]
        seen |= set(moves(state))
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
        ("validating", "validating"),
        ("validating", "failed"),
    }


# --- checkpoints -------------------------------------------------------------------------------


async def test_checkpoints_store_history_as_deltas_not_copies(make_agent, tmp_path: Path):
    n = 30
    agent = make_agent(
        script(
            planner=[plan(*[step("lookup", key=f"k{i}") for i in range(n)])],
            validator=[verdict(True)],
        )
    )
    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "cp.sqlite")) as saver:
        run = Run(agent, saver=saver, max_iterations=n + 5)
        state = await run.start()
        # the task, the plan and its answer, n results, the verdict and its answer
        assert len(state["results"]) == n and len(state["transcript"]) == 1 + 2 + n + 2
        latest = await saver.aget_tuple(run.config)
    assert latest is not None
    stored = latest.checkpoint["channel_values"]
    for channel in ("transcript", "results", "transitions", "model_calls"):
        assert channel not in stored, f"{channel} was copied into the checkpoint"


async def test_run_resumes_in_a_new_graph_from_the_sqlite_checkpoint(make_agent, ledger, tmp_path):
    text = script(
        planner=[plan(step("store", key="a", value=1), step("wipe", key="a"))],
        validator=[verdict(True)],
    )
    path = str(tmp_path / "cp.sqlite")
    async with AsyncSqliteSaver.from_conn_string(path) as saver:
        await Run(make_agent(text), saver=saver).start()
    # A new agent, graph and connection: as a second process would build them.
    async with AsyncSqliteSaver.from_conn_string(path) as saver:
        state = await Run(make_agent(text), saver=saver).decide(True)
    assert state["status"] == "completed"
    assert ledger.names() == ["store", "wipe"]  # store ran once, before the pause


async def test_tool_gets_a_stable_idempotency_key_per_step(make_agent, ledger):
    agent = make_agent(
        script(planner=[plan(step("store", key="a", value=1))], validator=[verdict(True)])
    )
    await Run(agent, thread="run-42").start()
    assert ledger.calls[0][1]["idem"] == "run-42:1.1"


@pytest.mark.parametrize(
    ("decision", "problem"),
    [
        ({"approve": "yes"}, "a decision says approve \\(true or false\\)"),
        ("ok", "resume value must be a Decision"),
        ({"approve": True}, "must name the request it answers .* waiting for wipe\\(key='a'\\)"),
    ],
)
async def test_resume_value_that_is_not_a_decision_on_the_request_is_refused(
    make_agent, ledger, decision, problem
):
    """A graph resumed directly (as a LangGraph server does) records the refusal and asks again:
    LangGraph keeps a resume value, so raising would refuse every later answer too."""
    agent = make_agent(script(planner=[plan(step("wipe", key="a"))]))
    run = Run(agent)
    await run.start()
    state = await run.answer(decision)
    assert ledger.calls == []  # nothing ran on a refused decision
    assert state["status"] == "awaiting_human"
    refusal = state["transitions"][-1]
    assert (refusal["node"], refusal["target"]) == ("approve", "awaiting_human")
    assert re.search(f"decision refused: .*{problem}", refusal["reason"])
    assert (await run.waiting_for())["request_id"] == "1.1/approval"


async def test_a_decision_on_an_earlier_request_does_not_answer_a_later_one(make_agent, ledger):
    agent = make_agent(script(planner=[plan(step("wipe", key="a"), step("wipe", key="b"))]))
    run = Run(agent)
    await run.start()
    first = await run.waiting_for()
    await run.decide(True)
    second = await run.waiting_for()
    assert (first["step_id"], second["step_id"]) == ("1.1", "1.2")
    state = await run.answer(decision_for(first, approve=True))  # a stale approval, replayed
    assert "answers request 1.1/approval but the run is now" in state["transitions"][-1]["reason"]
    assert ledger.calls == [("wipe", {"key": "a"})]  # only the call approved when shown ran
    assert (await run.waiting_for())["request_id"] == "1.2/approval"


async def test_a_run_whose_decision_was_refused_can_still_be_decided(make_agent, ledger):
    """A refused answer (stale, or unbound) leaves the run waiting for a right one."""
    agent = make_agent(script(planner=[plan(step("wipe", key="a"))], validator=[verdict(True)]))
    run = Run(agent)
    await run.start()
    assert (await run.answer({"approve": True}))["status"] == "awaiting_human"
    assert ledger.calls == []
    assert (await run.decide(True))["status"] == "completed"
    assert ledger.names() == ["wipe"]


# --- tools described by a JSON schema ----------------------------------------------------------

TAG_SCHEMA = {
    "type": "object",
    "properties": {
        "key": {"type": "string", "minLength": 1},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    },
    "required": ["key", "tags"],
    "additionalProperties": False,
}


def schema_tool(ledger: Ledger, name: str = "tag", **options: Any) -> Tool:
    """A tool with no Python signature, as MCP and HTTP tools arrive."""

    def run(arguments: dict[str, Any]) -> dict[str, Any]:
        ledger.calls.append((name, dict(arguments)))
        return {"tagged": arguments["key"], "count": len(arguments["tags"])}

    return Tool.from_schema(name, "Tag a key with labels.", TAG_SCHEMA, run, **options)


async def test_schema_tool_is_planned_and_executed_like_a_function_tool(ledger):
    agent = agent_with(
        ledger,
        script(
            planner=[plan(step("lookup", key="a"), step("tag", key="a", tags=["x", "y"]))],
            validator=[verdict(True)],
        ),
        schema_tool(ledger),
    )
    seen = spy_on(agent, Role.PLANNER)
    state = await Run(agent).start()
    assert "- tag (read): Tag a key with labels." in seen[0].system
    assert state["status"] == "completed"
    assert ledger.calls[1] == ("tag", {"key": "a", "tags": ["x", "y"]})
    assert state["results"][1]["outcome"] == {
        "ok": True,
        "output": {"tagged": "a", "count": 2},
        "error": None,
    }


async def test_schema_tool_arguments_the_plan_left_out_are_asked_of_the_executor(ledger):
    agent = agent_with(
        ledger,
        script(
            planner=[plan(step("tag", key="a"))],
            executor=[call("tag", key="a", tags=["z"])],
            validator=[verdict(True)],
        ),
        schema_tool(ledger),
    )
    seen = spy_on(agent, Role.EXECUTOR)
    state = await Run(agent).start()
    [request] = seen
    assert request.tool_choice == "tag"
    assert {t.name: t for t in request.tools}["tag"].input_schema == TAG_SCHEMA
    assert "'tags' is a required property" in prompt(request)
    assert state["status"] == "completed" and ledger.calls == [("tag", {"key": "a", "tags": ["z"]})]


async def test_invalid_schema_tool_arguments_are_a_result_the_planner_sees(ledger):
    agent = agent_with(
        ledger,
        script(
            planner=[
                plan(step("tag", key="a", tags="x")),
                plan(step("tag", key="a", tags=["x"])),
            ],
            executor=[call("tag", key="a", tags="x")],
            validator=[verdict(True)],
        ),
        schema_tool(ledger),
    )
    seen = spy_on(agent, Role.PLANNER)
    state = await Run(agent).start()  # a read tool: tool output seen before is no concern
    first = state["results"][0]["outcome"]
    assert not first["ok"]
    assert first["error"] == "invalid arguments: tags: 'x' is not of type 'array'"
    assert "'x' is not of type 'array'" in prompt(seen[1])
    assert ledger.calls == [("tag", {"key": "a", "tags": ["x"]})]  # only the valid call ran
    assert state["status"] == "completed"


async def test_destructive_schema_tool_waits_for_approval(ledger):
    agent = agent_with(
        ledger,
        script(planner=[plan(step("purge", key="a", tags=["old"]))], validator=[verdict(True)]),
        schema_tool(ledger, "purge", risk=Risk.DESTRUCTIVE),
    )
    run = Run(agent)
    await run.start()
    waiting = await run.waiting_for()
    assert waiting is not None and (waiting["tool"], waiting["reasons"]) == (
        "purge",
        ["destructive"],
    )
    assert ledger.calls == []
    state = await run.decide(True)
    assert state["status"] == "completed" and ledger.names() == ["purge"]


# --- a tool's failure is a result, never a crash -----------------------------------------------


@pytest.mark.parametrize(
    ("exception", "error"),
    [
        (RuntimeError("the disk is gone"), "RuntimeError: the disk is gone"),
        (KeyError("missing"), "KeyError: 'missing'"),
        (ZeroDivisionError("division by zero"), "ZeroDivisionError: division by zero"),
    ],
)
async def test_tool_raising_any_exception_ends_as_an_error_result_and_the_run_goes_on(
    ledger, exception, error
):
    @tool
    def explode(key: str) -> dict:
        """Fails the way buggy code fails."""
        raise exception

    agent = agent_with(
        ledger,
        script(
            planner=[plan(step("explode", key="a")), plan(step("lookup", key="a"))],
            validator=[verdict(True)],
        ),
        explode,
    )
    seen = spy_on(agent, Role.PLANNER)
    state = await Run(agent).start()
    assert errors(state) == [error, None]
    assert ("executing", "planning") in moves(state)
    assert error in prompt(seen[1])
    assert state["status"] == "completed" and ledger.names() == ["lookup"]


async def test_tool_error_result_does_not_carry_the_traceback(ledger):
    @tool
    def explode(key: str) -> dict:
        """Fails deep inside."""
        raise RuntimeError("boom")

    agent = agent_with(
        ledger, script(planner=[plan(step("explode", key="a")), plan(give_up="no")]), explode
    )
    state = await Run(agent).start()
    assert errors(state) == ["RuntimeError: boom"]
    assert all("Traceback" not in str(e["message"]) for e in state["transcript"])


# --- one policy decides approvals --------------------------------------------------------------


class Rules:
    """A policy with verdicts per tool name that a test can change mid-run; else the default."""

    def __init__(self, **verdicts: Verdict) -> None:
        self.verdicts = dict(verdicts)
        self.seen: list[ProposedCall] = []

    def decide(self, call: ProposedCall) -> PolicyDecision:
        self.seen.append(call)
        verdict = self.verdicts.get(call.tool.name)
        if verdict is None:
            return DefaultPolicy().decide(call)
        return PolicyDecision(verdict, (f"the rules say {verdict.value} for {call.tool.name}",))


async def test_custom_policy_asking_for_a_write_tool_pauses_the_run(ledger):
    agent = agent_with(
        ledger,
        script(planner=[plan(step("store", key="a", value=1))], validator=[verdict(True)]),
        policy=Rules(store=Verdict.ASK),
    )
    run = Run(agent)
    state = await run.start()
    assert state["status"] == "awaiting_human"
    waiting = await run.waiting_for()
    assert waiting is not None
    assert (waiting["tool"], waiting["reasons"]) == ("store", ["the rules say ask for store"])
    assert ledger.calls == []
    assert (await run.decide(True))["status"] == "completed"
    assert ledger.names() == ["store"]


async def test_planner_is_told_which_tools_the_policy_asks_about(ledger):
    agent = agent_with(
        ledger,
        script(planner=[plan(give_up="just looking")]),
        policy=Rules(store=Verdict.ASK, order=Verdict.DENY),
    )
    seen = spy_on(agent, Role.PLANNER)
    await Run(agent).start()
    assert "- store (write, needs human approval)" in seen[0].system
    assert "- order (write, not allowed: the rules say deny for order)" in seen[0].system


async def test_policy_change_after_the_gate_pauses_for_a_human(ledger):
    rules = Rules()
    agent = agent_with(
        ledger,
        script(planner=[plan(step("store", key="a", value=1))], validator=[verdict(True)]),
        policy=rules,
    )
    run = Run(agent)
    state = await run.start(interrupt_before=["execute"])
    assert state["calls"][0]["approval_reasons"] == []  # the gate let the call through
    rules.verdicts["store"] = Verdict.ASK  # the policy changes before the call runs
    state = await run.proceed()
    # The second lock asked again: the step waits for a person, it did not fail.
    assert state["status"] == "awaiting_human"
    assert (await run.waiting_for())["reasons"] == ["the rules say ask for store"]
    assert errors(state) == [] and ledger.calls == []  # nothing ran unapproved
    assert ("executing", "awaiting_human") in moves(state)


async def test_call_the_second_lock_held_runs_once_a_human_approves_it(ledger):
    rules = Rules()
    agent = agent_with(
        ledger,
        script(planner=[plan(step("store", key="a", value=1))], validator=[verdict(True)]),
        policy=rules,
    )
    run = Run(agent)
    await run.start(interrupt_before=["execute"])
    rules.verdicts["store"] = Verdict.ASK
    state = await run.proceed()
    assert state["status"] == "awaiting_human"
    state = await run.decide(True)
    assert state["status"] == "completed"
    assert ledger.names() == ["store"]


async def test_a_call_run_again_after_the_policy_changed_waits_for_an_approval_then_runs_once(
    ledger,
):
    rules = Rules()
    journal = MemoryJournal()
    stored = {"key": "a", "value": 1}
    # Step 1.1 started before a crash and left no outcome: its effect is unknown.
    await journal.start("run-test", "1.1", tool="store", call_hash=call_hash("store", stored),
                        arguments=stored, attempt=1, lease=None)  # fmt: skip
    agent = agent_with(
        ledger,
        script(planner=[plan(step("store", **stored))], validator=[verdict(True)]),
        policy=rules,
    )
    run = Run(agent, journal=journal)
    await run.start()
    assert (await run.waiting_for())["kind"] == "unknown_side_effect"
    rules.verdicts["store"] = Verdict.ASK  # meanwhile, the policy came to ask about it
    state = await run.decide(True)  # run it again: the second lock now wants an approval
    assert state["status"] == "awaiting_human" and ledger.calls == []
    assert (await run.waiting_for())["kind"] == "approval"
    state = await run.decide(True)
    assert state["status"] == "completed"
    assert ledger.names() == ["store"]


async def test_a_tool_gone_by_the_time_its_approved_call_runs_fails_the_step_and_replans(ledger):
    text = script(planner=[plan(step("wipe", key="a")), plan(give_up="nothing left to wipe with")])
    saver = InMemorySaver()
    await Run(agent_with(ledger, text), saver=saver).start()
    # Resumed where the agent's tools no longer include it (a module or an MCP server changed).
    without_wipe = Agent(
        "toy",
        "a test agent",
        toolsets=[WrapperToolset(toy_tools(ledger), exclude=["wipe"])],
        models=scripted_router(parse_script(text), source="test script"),
    )
    resumed = Run(without_wipe, saver=saver)
    state = await resumed.decide(True)
    assert errors(state)[0].startswith("unknown tool 'wipe'; the tools are: lookup, store")
    assert state["status"] == "failed" and "nothing left to wipe with" in state["outcome"]
    assert ledger.calls == []


async def test_policy_changed_by_an_earlier_step_stops_a_later_step_at_the_gate(ledger):
    rules = Rules()

    @tool
    def lock(key: str) -> dict:
        """Lock a key: from now on, writing it needs a human."""
        rules.verdicts["store"] = Verdict.ASK
        return {"locked": key}

    agent = agent_with(
        ledger,
        script(
            planner=[plan(step("lock", key="a"), step("store", key="a", value=1))],
            validator=[verdict(True)],
        ),
        lock,
        policy=rules,
    )
    run = Run(agent)
    state = await run.start()
    assert state["status"] == "awaiting_human"
    assert (await run.waiting_for())["tool"] == "store"
    assert ledger.calls == []


async def test_call_the_policy_denies_fails_and_the_run_replans(ledger):
    agent = agent_with(
        ledger,
        script(
            planner=[plan(step("store", key="a", value=1)), plan(step("lookup", key="a"))],
            validator=[verdict(True)],
        ),
        policy=Rules(store=Verdict.DENY),
    )
    state = await Run(agent).start()
    assert errors(state) == ["store is denied by policy: the rules say deny for store", None]
    assert ("executing", "planning") in moves(state)
    assert state["status"] == "completed" and ledger.names() == ["lookup"]


async def test_policy_sees_the_call_and_the_principal(ledger):
    rules = Rules()
    agent = agent_with(
        ledger,
        script(planner=[plan(step("store", key="a", value=1))], validator=[verdict(True)]),
        policy=rules,
    )
    run = Run(agent)
    run.context = run.context.model_copy(update={"principal": "alice"})
    await run.start()
    calls = [c for c in rules.seen if c.tool.name == "store" and c.arguments]
    assert calls and all(
        (c.principal, dict(c.arguments)) == ("alice", {"key": "a", "value": 1}) for c in calls
    )


FOREVER = script(
    planner=[plan(step("lookup", key="a"))] * 20, validator=[verdict(False, "not yet")] * 20
)


async def drive_without_limits(graph: Any) -> dict[str, Any]:
    """Drive a graph as LangGraph would, with no run context at all."""
    config = {"configurable": {"thread_id": "no-context"}, "recursion_limit": 200}
    await graph.ainvoke(initial_state("t"), config)
    return dict((await graph.aget_state(config)).values)


async def test_a_graph_driven_without_a_context_keeps_the_agents_limits(make_agent, settings):
    agent = dataclasses.replace(make_agent(FOREVER), limits=Limits(max_iterations=3))
    graph = compile_agent(agent, settings=settings, checkpointer=InMemorySaver())
    state = await drive_without_limits(graph)
    assert state["status"] == "failed" and state["iterations"] == 3
    assert "iteration cap reached: 3 of 3" in state["outcome"]


async def test_a_graph_driven_without_a_context_keeps_the_configured_limits(make_agent, tmp_path):
    settings = load_settings(data_dir=tmp_path, max_iterations=2)
    graph = compile_agent(make_agent(FOREVER), settings=settings, checkpointer=InMemorySaver())
    state = await drive_without_limits(graph)
    assert state["status"] == "failed" and state["iterations"] == 2


async def test_deps_that_cannot_be_opened_fail_the_run_with_the_reason(make_agent):
    def broken(data_dir: Path, options: Any) -> None:
        raise OSError("disk full")

    text = script(planner=[plan(step("lookup", key="a"))], validator=[verdict(True)])
    agent = dataclasses.replace(make_agent(text), deps=broken)
    state = await Run(agent).start()
    assert state["status"] == "failed"
    assert state["outcome"] == "could not open what toy's tools need: OSError: disk full"


async def test_a_toolset_that_cannot_list_its_tools_fails_the_run_with_the_reason(make_agent):
    class Down:
        async def list_tools(self) -> list[Tool]:
            raise ConnectionError("server gone")

        async def call_tool(self, name: str, arguments: dict[str, Any], ctx: Any) -> Any:
            raise AssertionError("never called")

    agent = dataclasses.replace(make_agent(script(planner=[plan()])), toolsets=[Down()])
    state = await Run(agent).start()
    assert state["status"] == "failed"
    assert state["outcome"] == "could not list toy's tools: ConnectionError: server gone"


async def test_the_graph_takes_a_task_and_a_session_and_acts_for_its_contexts_principal(ledger):
    """Who a run acts for is its context's principal (a served run's: its authenticated caller),
    never its input's: a principal in the input is not the graph's to take."""
    seen: list[tuple[str, str | None]] = []

    @tool
    def whoami(ctx: ToolContext) -> str:
        """Say who the run acts for."""
        seen.append((ctx.principal, ctx.session))
        return ctx.principal

    text = script(planner=[plan(step("whoami"))], validator=[verdict(True)])
    agent = Agent(
        "who",
        "answers who it acts for",
        toolsets=[FunctionToolset([whoami])],
        models=scripted_router(parse_script(text)),
    )
    graph = compile_agent(agent, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "served"}}
    given = {"task": "who?", "principal": "mallory", "session": "s-1"}
    output = await graph.ainvoke(given, config)
    assert seen == [(default_principal(), "s-1")]
    assert output["status"] == "completed"
    assert "principal" not in graph.get_input_jsonschema()["properties"]
    ctx = RunContext(principal="bob", session="s-2")
    await graph.ainvoke({"task": "who?"}, {"configurable": {"thread_id": "t2"}}, context=ctx)
    assert seen[-1] == ("bob", "s-2")
    assert set(output) == {"status", "outcome", "reply", "plan", "results"}


async def test_a_deterministic_check_replaces_the_validator_model(make_agent, ledger):
    seen: list[Evidence] = []

    def stored_a(evidence: Evidence) -> tuple[bool, str]:
        seen.append(evidence)
        done = any(
            c == ("store", {"key": "a", "value": 1, "idem": "run-test:1.1"}) for c in ledger.calls
        )
        return done, "a is stored" if done else "a is missing"

    text = script(planner=[plan(step("store", key="a", value=1))])  # no validator turn at all
    agent = dataclasses.replace(make_agent(text), check=stored_a)
    state = await Run(agent).start("store a")
    assert state["status"] == "completed" and state["outcome"] == "a is stored"
    assert [c["role"] for c in state["model_calls"]] == ["planner"]
    assert seen[0].task == "store a" and seen[0].results[0]["tool"] == "store"


async def test_a_check_that_finds_the_task_unfinished_sends_the_run_back_to_planning(make_agent):
    text = script(planner=[plan(step("lookup", key="a"))] * 2 + [plan(give_up="cannot")])
    agent = dataclasses.replace(make_agent(text), check=lambda evidence: (False, "not yet"))
    state = await Run(agent).start()
    reasons = [t["reason"] for t in state["transitions"] if t["node"] == "validate"]
    assert reasons == ["falls short: not yet", "falls short: not yet"]
    assert state["status"] == "failed" and state["outcome"] == "planner gave up: cannot"


async def test_a_check_given_as_an_async_callable_object_is_awaited(make_agent):
    class Done:
        async def __call__(self, evidence: Evidence) -> tuple[bool, str]:
            return True, "checked asynchronously"

    text = script(planner=[plan(step("lookup", key="a"))])
    state = await Run(dataclasses.replace(make_agent(text), check=Done())).start()
    assert state["status"] == "completed" and state["outcome"] == "checked asynchronously"
