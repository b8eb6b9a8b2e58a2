"""The ``plan`` node: the planner says the steps that (still) accomplish the task."""

from __future__ import annotations

import logging

from pydantic import ValidationError

from agentlab.errors import AgentlabError
from agentlab.events import PlanMade
from agentlab.models.base import Role
from agentlab.orchestration import prompts, schedule, transcript
from agentlab.orchestration.nodes.common import (
    MAX_FORCED_MISSES,
    Parts,
    forced_misses,
    ignored_tool_choice,
    recalled_sources,
    sources,
    unavailable,
)
from agentlab.orchestration.nodes.escalate import planner_escalation
from agentlab.orchestration.state import PlanStep, Status
from agentlab.orchestration.visit import Update, Visit
from agentlab.tools.tool import Risk, Tool, format_validation_error

log = logging.getLogger(__name__)


async def plan(parts: Parts, visit: Visit) -> Update:
    """Ask the planner for the steps that (still) accomplish the task."""
    state, agent = visit.state, parts.agent
    iterations = state["iterations"] + 1
    plan_round = state["plan_round"] + 1
    try:
        catalog = await parts.executor.catalog(visit.ctx.principal)
    except Exception as exc:  # a toolset that cannot list its tools: the run cannot go on
        log.exception("the toolsets of agent %s could not list their tools", agent.name)
        reason = f"could not list {agent.name}'s tools: {type(exc).__name__}: {exc}"
        return visit.move(Status.FAILED, reason, iterations=iterations, outcome=reason)
    request = prompts.planner_request(
        (agent.name, agent.purpose),
        catalog,
        state["task"],
        results=state.get("results", []),
        approvals=state.get("approvals", []),
        feedback=state["feedback"],
        call=visit.call_info("planner", escalation=planner_escalation(parts, visit)),
        prompts=parts.prompts,
    )
    try:
        response, logs = await parts.ask_logged(visit, request)
    except AgentlabError as exc:
        return unavailable(visit, request, exc, iterations=iterations)

    def replan(problem: str) -> Update:
        logs["transcript"] += transcript.answer(visit.node, response, problem, is_error=True)
        return visit.move(
            Status.PLANNING,
            f"unusable plan: {problem}",
            iterations=iterations,
            plan_round=plan_round,
            feedback=problem,
            **logs,
        )

    call = response.tool_call(prompts.SUBMIT_PLAN.name)
    misses, noted = forced_misses(visit, Role.PLANNER.value, [call is not None])
    logs.update(noted)
    if misses >= MAX_FORCED_MISSES:
        reason = ignored_tool_choice(Role.PLANNER.value, prompts.SUBMIT_PLAN.name, response)
        logs["transcript"] += transcript.answer(visit.node, response, reason, is_error=True)
        return visit.move(
            Status.FAILED,
            reason,
            iterations=iterations,
            plan_round=plan_round,
            outcome=reason,
            **logs,
        )
    if call is None:
        return replan("the planner did not call submit_plan")
    try:
        submission = prompts.PlanSubmission.model_validate(call.arguments)
    except ValidationError as exc:
        return replan(f"submit_plan arguments are invalid: {format_validation_error(exc)}")
    if submission.give_up:
        reason = f"planner gave up: {submission.give_up}"
        logs["transcript"] += transcript.answer(visit.node, response, "noted: the task is given up")
        return visit.move(
            Status.FAILED,
            reason,
            iterations=iterations,
            plan_round=plan_round,
            outcome=reason,
            **logs,
        )
    if submission.reply and not submission.steps:  # nothing to do but answer
        logs["transcript"] += transcript.answer(visit.node, response, "answered directly")
        return visit.move(
            Status.COMPLETED,
            "the planner answered directly: the message needs no tool",
            iterations=iterations,
            plan_round=plan_round,
            outcome="answered directly, without tools",
            reply=submission.reply,
            **logs,
        )
    by_name = {t.name: t for t, _ in catalog}
    unknown = sorted({s.tool for s in submission.steps if s.tool not in by_name})
    if unknown:
        return replan(f"unknown tool(s) {', '.join(unknown)}; use only {', '.join(by_name)}")
    for number, s in enumerate(submission.steps, start=1):
        problem = schedule.dependency_problem(s.depends_on or [], number)
        if problem:
            return replan(problem)
    steps = [
        _plan_step(plan_round, i, s, by_name[s.tool])
        for i, s in enumerate(submission.steps, start=1)
    ]
    logs["transcript"] += transcript.answer(
        visit.node, response, f"plan {plan_round} accepted: {len(steps)} step(s)"
    )
    visit.emit(PlanMade(plan_round, [dict(s) for s in steps]))
    common = dict(
        iterations=iterations,
        plan=steps,
        plan_round=plan_round,
        unblocks=schedule.unblocks(steps),
        ready=schedule.roots(steps),
        calls=[],
        feedback="",
        # What the planner saw: tool results, and recollections holding tool output.
        plan_sources=sources(state.get("results", []), recalled_sources(state)),
        **logs,
    )
    if not steps:
        return visit.move(Status.VALIDATING, "the planner found nothing left to do", **common)
    names = ", ".join(s["tool"] for s in steps)
    return visit.move(
        Status.EXECUTING, f"plan {plan_round}: {len(steps)} step(s): {names}", **common
    )


def _plan_step(plan_round: int, number: int, planned: prompts.PlannedStep, tool: Tool) -> PlanStep:
    step = PlanStep(
        id=f"{plan_round}.{number}",
        description=planned.description,
        tool=planned.tool,
        arguments=planned.arguments,
        destructive=planned.destructive or tool.risk is Risk.DESTRUCTIVE,
        estimated_cost_usd=max(planned.estimated_cost_usd, tool.cost_usd),
    )
    if planned.depends_on is not None:
        step["depends_on"] = [f"{plan_round}.{d}" for d in sorted(set(planned.depends_on))]
    return step
