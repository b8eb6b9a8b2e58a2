"""Escalation: a role's stronger model, asked when the role's own did not do. The planner
escalates once validation finds the task unfinished (for the rest of the run), the executor when
its arguments do not fit the tool (for another try at that step). Escalated calls are held to the
run's budgets, traced, counted in the run's state and emitted; a resumed run asks the same
stronger model the same call. Without a stronger model, nothing changes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import ValidationError
from rich.console import Console

from agentlab.cli import render
from agentlab.config import RoleModels, Settings, load_settings
from agentlab.config.roles import ESCALATING_ROLES
from agentlab.errors import ConfigError, ScriptError
from agentlab.models.base import ESCALATING_ROLES as ROLES_THAT_ESCALATE
from agentlab.models.base import ModelRequest, ModelResponse, Role
from agentlab.models.messages import text_of
from agentlab.models.router import ModelRouter, ModelSpec, claude_router, scripted_router
from agentlab.models.script import parse_script
from agentlab.models.scripted import ScriptedModel
from agentlab.observability.tracing import exporting_to
from agentlab.orchestration import (
    Agent,
    Escalated,
    Evidence,
    Limits,
    Runner,
    RunView,
    decision_for,
    summarize,
)
from agentlab.tools import DefaultPolicy
from tests.conftest import Ledger, toy_tools, waiting
from tests.scripts import call, plan, step, verdict
from tests.test_ledger import used
from tests.test_runner import agent_module, ledger_of
from tests.test_script_and_config import model_names


def script(escalation: dict[str, list[dict[str, Any]]] | None = None, **roles: Any) -> str:
    """A script (JSON) with turns per role and, if given, per role of its stronger model."""
    body: dict[str, Any] = {"roles": roles}
    if escalation is not None:
        body["escalation"] = escalation
    return json.dumps(body)


# A first plan the validator finds short of the task, and a stronger planner's plan that does it.
FALLS_SHORT = dict(
    planner=[plan(step("lookup", key="a"))],
    validator=[verdict(False, "b was not looked up"), verdict(True, "both looked up")],
)
STRONGER_PLAN = {"planner": [plan(step("lookup", key="b"))]}


def toy(ledger: Ledger, text: str) -> tuple[Agent, ModelRouter]:
    """The toy agent replaying ``text``, and its router (whose scripted models tests look at)."""
    router = scripted_router(parse_script(text), source="test script")
    agent = Agent(
        "toy", "a test agent", toolsets=[toy_tools(ledger)], policy=DefaultPolicy(), models=router
    )
    return agent, router


async def drain(events: AsyncIterator[Any]) -> list[Any]:
    return [e async for e in events]


async def finish(runner: Runner, run_id: str) -> list[Any]:
    """Approve whatever the run asks until it ends; the events of its resumptions."""
    seen: list[Any] = []
    while (request := waiting(await runner.get(run_id))) is not None:
        seen += await drain(await runner.resume(run_id, decision_for(request, approve=True)))
    return seen


async def run(settings: Settings, agent: Agent, **start: Any) -> tuple[RunView, list[Any]]:
    """Run ``agent`` to its end (approving what it asks): the run, and its events."""
    async with Runner(settings) as runner:
        run_id, events = await runner.start(agent, "look up a and b", **start)
        seen = await drain(events)
        seen += await finish(runner, run_id)
        return await runner.get(run_id), seen


def stronger(router: ModelRouter, role: Role) -> ScriptedModel:
    model = router.escalated(role)
    assert isinstance(model, ScriptedModel)
    return model


def calls_of(view: RunView) -> list[tuple[str, int, bool]]:
    """Each model call: role, index, escalated."""
    return [(c["role"], c["index"], c.get("escalated", False)) for c in view.state["model_calls"]]


def spy_on(model: ScriptedModel) -> list[ModelRequest]:
    """The requests ``model`` (our own scripted model) gets."""
    original, seen = model.request, []

    async def spy(request: ModelRequest) -> ModelResponse:
        seen.append(request)
        return await original(request)

    model.request = spy  # type: ignore[method-assign]
    return seen


def prompt(request: ModelRequest) -> str:
    return "\n".join(text_of(m["content"]) for m in request.messages)


def tool_blocks(transcript: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The ids of the transcript's tool calls, and of the tool calls its results answer."""
    blocks = [b for e in transcript for b in e["message"]["content"] if isinstance(b, dict)]
    return (
        [b["id"] for b in blocks if b["type"] == "tool_use"],
        [b["tool_use_id"] for b in blocks if b["type"] == "tool_result"],
    )


# --- the planner ----------------------------------------------------------------------------------


async def test_a_plan_that_fails_validation_is_replanned_by_the_stronger_planner(settings, ledger):
    agent, router = toy(ledger, script(escalation=STRONGER_PLAN, **FALLS_SHORT))
    view, events = await run(settings, agent)
    assert view.status == "completed" and view.state["outcome"] == "both looked up"
    assert ledger.calls == [("lookup", {"key": "a"}), ("lookup", {"key": "b"})]
    assert calls_of(view) == [
        ("planner", 0, False),
        ("validator", 0, False),
        ("planner", 0, True),  # the first escalated call: the stronger model's first turn
        ("validator", 1, False),
    ]
    stronger(router, Role.PLANNER).assert_complete()
    reason = "validation failed: b was not looked up"
    assert view.escalations == [
        {
            "role": "planner",
            "from_model": "scripted-planner",
            "to_model": "scripted-planner-escalated",
            "reason": reason,
        }
    ]
    assert len(view.escalations) == summarize(view.state).escalations == 1
    [escalated] = [e for e in events if isinstance(e, Escalated)]
    assert escalated == Escalated(
        view.record.run_id, "planner", "scripted-planner", "scripted-planner-escalated", reason
    )
    assert view.state["calls_per_role"]["planner:escalated"] == 1


async def test_show_prints_a_line_per_escalation(settings, ledger):
    agent, _ = toy(ledger, script(escalation=STRONGER_PLAN, **FALLS_SHORT))
    view, _ = await run(settings, agent)
    console = Console(record=True, width=200)
    console.print(render.summary_panel(view))
    [line] = [line for line in console.export_text().splitlines() if "escalated" in line]
    assert (
        "planner: scripted-planner → scripted-planner-escalated (validation failed: b was" in line
    )


async def test_without_a_stronger_planner_the_run_replans_with_the_same_one(settings, ledger):
    planner = [*FALLS_SHORT["planner"], *STRONGER_PLAN["planner"]]
    agent, router = toy(ledger, script(planner=planner, validator=FALLS_SHORT["validator"]))
    view, events = await run(settings, agent)
    assert view.status == "completed"
    assert router.escalated(Role.PLANNER) is None
    assert calls_of(view) == [
        ("planner", 0, False),
        ("validator", 0, False),
        ("planner", 1, False),
        ("validator", 1, False),
    ]
    assert view.escalations == [] and summarize(view.state).escalations == 0
    assert not any(isinstance(e, Escalated) for e in events)


async def test_a_check_that_finds_the_task_unfinished_escalates_the_planner(settings, ledger):
    def check(evidence: Evidence) -> tuple[bool, str]:
        looked_up = {r["arguments"]["key"] for r in evidence.results}
        return looked_up == {"a", "b"}, f"looked up {sorted(looked_up)}"

    text = script(escalation=STRONGER_PLAN, planner=FALLS_SHORT["planner"])
    agent, _ = toy(ledger, text)
    view, _ = await run(settings, dataclasses.replace(agent, check=check))
    assert view.status == "completed"
    assert [e["reason"] for e in view.escalations] == ["validation failed: looked up ['a']"]


async def test_the_planner_stays_escalated_and_a_resumed_run_asks_its_next_turn(settings, tmp_path):
    """The escalation and the escalated calls' count are in the checkpoint: another runner,
    resuming the run, asks the stronger planner for its second turn, not its first again."""
    module = agent_module(tmp_path)
    text = script(
        planner=[plan(step("store", key="a", value=1))],
        validator=[verdict(False, "a is still there"), verdict(False, "b missing"), verdict(True)],
        escalation={
            "planner": [plan(step("wipe", key="a")), plan(step("store", key="b", value=2))]
        },
    )
    path = tmp_path / "script.json"
    path.write_text(text)
    spec = ModelSpec(kind="scripted", script=str(path))
    async with Runner(settings) as first:
        run_id, events = await first.start(f"{module}:agent", "t", models=spec)
        await drain(events)
        view = await first.get(run_id)
    assert view.status == "awaiting_human"  # the stronger planner's wipe asks a person
    async with Runner(settings) as second:
        await finish(second, run_id)
        view = await second.get(run_id)
    assert view.status == "completed"
    assert ledger_of(module) == ["store", "wipe", "store"]
    planner = [(i, e) for role, i, e in calls_of(view) if role == "planner"]
    assert planner == [(0, False), (0, True), (1, True)]
    assert len(view.escalations) == 1  # one escalation: the planner stays escalated


# --- the executor ---------------------------------------------------------------------------------

# The plan leaves the value out; the executor gives one the tool refuses (0..100).
MISSING_VALUE = dict(
    planner=[plan(step("store", key="a"))],
    executor=[call("store", key="a", value=1000)],
    validator=[verdict(True, "stored")],
)


async def test_arguments_the_executor_gets_wrong_are_asked_of_its_stronger_model(settings, ledger):
    agent, router = toy(
        ledger, script(escalation={"executor": [call("store", key="a", value=7)]}, **MISSING_VALUE)
    )
    seen = spy_on(stronger(router, Role.EXECUTOR))
    view, events = await run(settings, agent)
    assert view.status == "completed"
    assert [(n, {k: a[k] for k in ("key", "value")}) for n, a in ledger.calls] == [
        ("store", {"key": "a", "value": 7})
    ]
    assert calls_of(view) == [
        ("planner", 0, False),
        ("executor", 0, False),
        ("executor", 0, True),
        ("validator", 0, False),
    ]
    stronger(router, Role.EXECUTOR).assert_complete()
    [escalation] = view.escalations
    assert escalation["role"] == "executor" and escalation["step_id"] == "1.1"
    assert escalation["reason"] == (
        "step 1.1: the arguments given for store do not fit: invalid arguments: value: Input "
        "should be less than or equal to 100"
    )
    assert [e.role for e in events if isinstance(e, Escalated)] == ["executor"]
    # The stronger model is told what was refused; the first answer's tool call is answered in
    # the transcript, which stays a valid conversation.
    [asked] = seen
    assert '(in the arguments {"key": "a", "value": 1000}, given before)' in prompt(asked)
    assert asked.call.escalation == escalation["reason"]
    uses, results = tool_blocks(view.state["transcript"])
    assert len(set(uses)) == len(uses) == 4 and sorted(uses) == sorted(results)
    assert "asked again of a stronger model" in json.dumps(view.state["transcript"])


async def test_without_a_stronger_executor_its_invalid_arguments_fail_the_step(settings, ledger):
    text = script(
        **{
            **MISSING_VALUE,
            "planner": [*MISSING_VALUE["planner"], plan(step("store", key="a", value=7))],
        }
    )
    agent, _ = toy(ledger, text)
    view, events = await run(settings, agent)
    assert view.status == "completed" and not view.escalations
    first = view.state["results"][0]["outcome"]
    assert not first["ok"] and first["error"].startswith("invalid arguments:")
    assert [role for role, _, _ in calls_of(view)] == [
        "planner",
        "executor",
        "planner",
        "validator",
    ]
    assert not any(isinstance(e, Escalated) for e in events)


# --- budgets and tracing -------------------------------------------------------------------------


def priced(text: str, escalation_priced_as: str | None = None) -> str:
    """``text`` priced as Haiku 4.5; its escalated calls as ``escalation_priced_as``."""
    body = {**json.loads(text), "priced_as": "claude-haiku-4-5"}
    if escalation_priced_as:
        body["escalation_priced_as"] = escalation_priced_as
    return json.dumps(body)


# The first plan and verdict cost $0.0054 at Haiku 4.5's prices; a re-plan could cost about
# $0.02 more at Haiku's, $0.10 at Opus 4.5's (4096 tokens of output at $5 or $25 a million).
COSTLY = dict(
    planner=[used(2_000, 300, **plan(step("lookup", key="a")))],
    validator=[used(1_500, 80, **verdict(False, "b was not looked up")), verdict(True)],
)


@pytest.mark.parametrize("escalated_price", ["claude-haiku-4-5", "claude-opus-4-5"])
async def test_an_escalated_call_is_held_to_the_run_budget(settings, ledger, escalated_price):
    """The same $0.05 ceiling lets a stronger planner priced as Haiku re-plan, and stops one
    priced as Opus before it is asked: the run ends as a budget ends it."""
    agent, router = toy(ledger, priced(script(escalation=STRONGER_PLAN, **COSTLY), escalated_price))
    async with Runner(settings) as runner:
        run_id, events = await runner.start(agent, "t", limits=Limits(max_usd=0.05))
        await drain(events)
        view, entries = await runner.get(run_id), await runner.ledger(run_id)
    assert len(view.escalations) == 1  # escalated either way: the budget decides the call
    if escalated_price == "claude-haiku-4-5":
        assert view.status == "completed"
        return
    assert view.status == "failed"
    assert view.state["outcome"].startswith("budget_exceeded: per-run dollar ceiling of $0.05")
    assert "the planner call (claude-opus-4-5) could cost up to" in view.state["outcome"]
    assert [e.phase for e in entries] == ["plan", "validate"]  # the escalated call was not made
    assert ledger.names() == ["lookup"]


async def test_an_escalated_call_is_an_llm_span_saying_so_and_why(settings, ledger):
    agent, _ = toy(ledger, script(escalation=STRONGER_PLAN, **FALLS_SHORT))
    exporter = InMemorySpanExporter()
    async with Runner(settings, tracing=exporting_to(exporter)) as runner:
        _, events = await runner.start(agent, "t")
        await drain(events)
    planner = [
        dict(s.attributes or {}) for s in exporter.get_finished_spans() if s.name == "llm planner"
    ]
    assert [a.get("agentlab.escalated", False) for a in planner] == [False, True]
    escalated = planner[1]
    assert escalated["agentlab.escalation.reason"] == "validation failed: b was not looked up"
    assert escalated["llm.model_name"] == "scripted-planner-escalated"
    assert escalated["agentlab.call_index"] == 0


# --- configuration and scripts --------------------------------------------------------------------


def test_the_roles_that_escalate_are_the_same_in_the_settings_and_the_router():
    assert tuple(r.value for r in ROLES_THAT_ESCALATE) == ESCALATING_ROLES


def test_an_escalation_for_a_role_that_cannot_escalate_is_refused_naming_it(monkeypatch):
    with pytest.raises(ValidationError, match="'validator' cannot escalate"):
        RoleModels(escalation={"validator": "claude-opus-4-5"})
    monkeypatch.setenv("AGENTLAB_MODELS__ESCALATION", '{"planer": "claude-opus-4-5"}')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "models.escalation" in str(caught.value) and "'planer' cannot escalate" in str(
        caught.value
    )


def test_claude_router_builds_the_stronger_models_with_the_fallbacks(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    roles = RoleModels(escalation={"planner": "claude-opus-4-5"})
    router = claude_router(load_settings(), roles)
    assert model_names(router.for_role(Role.PLANNER, escalated=True)) == [
        "claude-opus-4-5",
        "claude-sonnet-4-6",
        "claude-haiku-4-5",
    ]
    assert router.escalated(Role.EXECUTOR) is None
    assert "planner escalates to claude-opus-4-5" in router.source
    assert claude_router(load_settings()).escalations == {}  # none by default


def test_a_script_escalating_a_role_that_cannot_is_refused():
    text = script(planner=[], validator=[], escalation={"validator": [verdict(True)]})
    with pytest.raises(ScriptError, match="escalation: .*'validator' cannot escalate"):
        parse_script(text)


def test_a_router_given_a_stronger_model_for_another_role_is_refused():
    model = ScriptedModel([])
    models = {role: model for role in (Role.PLANNER, Role.EXECUTOR, Role.VALIDATOR)}
    with pytest.raises(ConfigError, match="the validator cannot escalate"):
        ModelRouter(models, source="test", escalations={Role.VALIDATOR: model})
