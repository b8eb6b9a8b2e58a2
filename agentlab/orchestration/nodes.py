"""The nodes of the agent graph: plain functions of the state that return partial updates.

Each node sets ``status`` and, when it changes the course of the run, records a ``Transition`` with
its reason; the edges in ``edges.py`` route on ``status``. Nodes never raise for a model's mistake
or an unavailable model: the first re-plans, the second ends the run ``failed`` with the reason.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt
from pydantic import ValidationError

from agentlab.errors import AgentlabError
from agentlab.models.base import ModelRequest, ModelResponse
from agentlab.models.pricing import cost_usd
from agentlab.orchestration import prompts
from agentlab.orchestration.agent import Agent
from agentlab.orchestration.state import (
    AgentState,
    Approval,
    ChatEntry,
    Decision,
    ModelCallRecord,
    PendingCall,
    PlanStep,
    Status,
    StepResult,
    Transition,
)
from agentlab.tools.base import Permission, Tool, ToolContext, ToolOutcome, format_validation_error
from agentlab.tools.toolset import authorization_error

Update = dict[str, Any]


def _move(state: AgentState, target: Status, node: str, reason: str, **changes: Any) -> Update:
    """An update that sets the status and records the transition with its reason."""
    iteration = changes.get("iterations", state["iterations"])
    transition = Transition(
        source=state["status"], target=target.value, node=node, reason=reason, iteration=iteration
    )
    return {"status": target.value, "transitions": [transition], **changes}


# Transcript lines are for people; the full plan and results live in their own channels.
_TRANSCRIPT_CHARS = 1000


def _fingerprint(tool: str, arguments: dict[str, Any]) -> str:
    return f"{tool}:{json.dumps(arguments, sort_keys=True, default=str)}"


def _clip(text: str) -> str:
    return text if len(text) <= _TRANSCRIPT_CHARS else text[: _TRANSCRIPT_CHARS - 1] + "…"


def _ask(agent: Agent, request: ModelRequest, state: AgentState) -> tuple[ModelResponse, Update]:
    """Call the role's model; return its response and the updates recording the call.

    The request is numbered by the role's earlier calls in this run, so a scripted model replays
    the right turn in whichever process resumes the run.
    """
    request = replace(request, sequence=state["calls_per_role"].get(request.role.value, 0))
    response = agent.models.for_role(request.role).request(request)
    u = response.usage
    record = ModelCallRecord(
        role=request.role.value,
        model=response.model,
        sequence=request.sequence,
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cache_read_tokens=u.cache_read_tokens,
        cache_write_tokens=u.cache_write_tokens,
        cost_usd=cost_usd(response.model, u, scripted=response.scripted),
        latency_s=response.latency_s,
        scripted=response.scripted,
    )
    said = [response.text] if response.text else []
    said += [f"{c.name}({json.dumps(c.arguments, default=str)})" for c in response.tool_calls]
    entry = ChatEntry(speaker="assistant", name=request.role.value, content=_clip("\n".join(said)))
    counts = {**state["calls_per_role"], request.role.value: request.sequence + 1}
    return response, {"model_calls": [record], "messages": [entry], "calls_per_role": counts}


def _unavailable(
    state: AgentState, node: str, request: ModelRequest, exc: AgentlabError, **changes: Any
) -> Update:
    """End the run: a model that cannot answer is a failure to report, not to hide."""
    reason = f"{request.role.value} unavailable: {exc}"
    return _move(state, Status.FAILED, node, reason, outcome=reason, **changes)


def plan(state: AgentState, *, agent: Agent) -> Update:
    """Ask the planner for the steps that (still) accomplish the task."""
    iterations = state["iterations"] + 1
    plan_round = state["plan_round"] + 1
    request = prompts.planner_request(
        agent,
        state["task"],
        results=state.get("results", []),
        approvals=state.get("approvals", []),
        feedback=state["feedback"],
    )
    try:
        response, logs = _ask(agent, request, state)
    except AgentlabError as exc:
        return _unavailable(state, "plan", request, exc, iterations=iterations)

    def replan(problem: str) -> Update:
        return _move(
            state,
            Status.PLANNING,
            "plan",
            f"unusable plan: {problem}",
            iterations=iterations,
            plan_round=plan_round,
            feedback=problem,
            **logs,
        )

    call = response.tool_call(prompts.SUBMIT_PLAN.name)
    if call is None:
        return replan("the planner did not call submit_plan")
    try:
        submission = prompts.PlanSubmission.model_validate(call.arguments)
    except ValidationError as exc:
        return replan(f"submit_plan arguments are invalid: {format_validation_error(exc)}")
    if submission.give_up:
        reason = f"planner gave up: {submission.give_up}"
        return _move(
            state,
            Status.FAILED,
            "plan",
            reason,
            iterations=iterations,
            plan_round=plan_round,
            outcome=reason,
            **logs,
        )
    unknown = sorted({s.tool for s in submission.steps if s.tool not in agent.tools})
    if unknown:
        return replan(
            f"unknown tool(s) {', '.join(unknown)}; use only {', '.join(agent.tools.names)}"
        )

    steps: list[PlanStep] = []
    for i, s in enumerate(submission.steps, start=1):
        tool = agent.tools.get(s.tool)
        assert tool is not None
        steps.append(
            PlanStep(
                id=f"{plan_round}.{i}",
                description=s.description,
                tool=s.tool,
                arguments=s.arguments,
                destructive=s.destructive or tool.permission is Permission.DESTRUCTIVE,
                estimated_cost_usd=max(s.estimated_cost_usd, tool.cost_usd),
            )
        )
    common = dict(
        iterations=iterations,
        plan=steps,
        plan_round=plan_round,
        cursor=0,
        pending=None,
        feedback="",
        **logs,
    )
    if not steps:
        return _move(
            state, Status.VALIDATING, "plan", "the planner found nothing left to do", **common
        )
    names = ", ".join(s["tool"] for s in steps)
    return _move(
        state,
        Status.EXECUTING,
        "plan",
        f"plan {plan_round}: {len(steps)} step(s): {names}",
        **common,
    )


def approval_reasons(step: PlanStep, tool: Tool, threshold_usd: float) -> list[str]:
    """Why a step must wait for a human (empty when it need not)."""
    reasons = []
    if step["destructive"] or tool.permission is Permission.DESTRUCTIVE:
        reasons.append("destructive")
    if tool.requires_confirmation:
        reasons.append("needs confirmation")
    if step["estimated_cost_usd"] > threshold_usd:
        reasons.append(f"estimated cost ${step['estimated_cost_usd']:.2f} > ${threshold_usd:.2f}")
    return reasons


def prepare(state: AgentState, *, agent: Agent) -> Update:
    """Bind the current step to a concrete call, asking the executor only for missing arguments."""
    step = state["plan"][state["cursor"]]
    tool = agent.tools.get(step["tool"])
    assert tool is not None, "plan() admits only known tools"
    arguments = dict(step["arguments"])
    logs: Update = {}
    problem = tool.invalid_arguments(arguments)
    if problem:
        request = prompts.executor_request(
            state["task"],
            step,
            tool,
            results=state.get("results", []),
            problem=problem,
        )
        try:
            response, logs = _ask(agent, request, state)
        except AgentlabError as exc:
            return _unavailable(state, "prepare", request, exc)
        call = response.tool_call(tool.name)
        if call is None:
            reason = f"step {step['id']}: the executor did not call {tool.name}"
            return _move(state, Status.PLANNING, "prepare", reason, feedback=reason, **logs)
        arguments = {**arguments, **call.arguments}

    reasons = approval_reasons(step, tool, agent.approval_cost_threshold_usd)
    pending = PendingCall(
        step_id=step["id"], tool=tool.name, arguments=arguments, approval_reasons=reasons
    )
    if reasons:
        return _move(
            state,
            Status.AWAITING_HUMAN,
            "prepare",
            f"step {step['id']} {tool.name} needs approval: {', '.join(reasons)}",
            pending=pending,
            **logs,
        )
    return {"status": Status.EXECUTING.value, "pending": pending, **logs}


def approve(state: AgentState) -> Update:
    """Pause for a human decision on the pending call.

    Only the interrupt sits here: on resume this node re-runs from its top, so anything with a side
    effect belongs in ``execute``, after the decision is recorded.
    """
    pending = state["pending"]
    assert pending is not None
    step = state["plan"][state["cursor"]]
    answer = interrupt(
        {
            "step_id": pending["step_id"],
            "description": step["description"],
            "tool": pending["tool"],
            "arguments": pending["arguments"],
            "reasons": pending["approval_reasons"],
        }
    )
    decision = _as_decision(answer)
    note = decision.get("note", "")
    record = Approval(
        step_id=pending["step_id"], tool=pending["tool"], approved=decision["approve"], note=note
    )
    suffix = f": {note}" if note else ""
    if decision["approve"]:
        return _move(
            state,
            Status.EXECUTING,
            "approve",
            f"approved {pending['tool']} (step {pending['step_id']}){suffix}",
            approvals=[record],
        )
    if decision.get("stop"):
        reason = f"stopped by a human at step {pending['step_id']} ({pending['tool']}){suffix}"
        return _move(
            state,
            Status.FAILED,
            "approve",
            reason,
            approvals=[record],
            pending=None,
            outcome=reason,
        )
    reason = f"rejected {pending['tool']} (step {pending['step_id']}){suffix}"
    return _move(
        state,
        Status.PLANNING,
        "approve",
        f"{reason}; re-planning without it",
        approvals=[record],
        pending=None,
        feedback=f"a human {reason}; plan the rest of the task without that call",
    )


def _as_decision(answer: Any) -> Decision:
    if isinstance(answer, bool):
        return Decision(approve=answer)
    if isinstance(answer, dict) and isinstance(answer.get("approve"), bool):
        return Decision(
            approve=answer["approve"],
            note=str(answer.get("note") or ""),
            stop=bool(answer.get("stop", False)),
        )
    raise ValueError(f"resume value must be a Decision, got {answer!r}")


def execute(state: AgentState, config: RunnableConfig, *, agent: Agent) -> Update:
    """Run the pending call, once: the idempotency key lets a tool recognise a re-execution."""
    pending = state["pending"]
    assert pending is not None
    iterations = state["iterations"] + 1
    run_id = str(config.get("configurable", {}).get("thread_id", "local"))
    tool = agent.tools.get(pending["tool"])
    approved = any(
        a["approved"] and a["step_id"] == pending["step_id"] for a in state.get("approvals", [])
    )
    fingerprint = _fingerprint(pending["tool"], pending["arguments"])
    outcome: ToolOutcome
    if tool is None:
        outcome = ToolOutcome(ok=False, output=None, error=f"unknown tool {pending['tool']}")
    elif refusal := authorization_error(tool, approved=approved):
        outcome = ToolOutcome(ok=False, output=None, error=refusal)
    elif fingerprint in state["failed_calls"]:
        outcome = ToolOutcome(
            ok=False, output=None, error="the same call already failed earlier in this run"
        )
    else:
        context = ToolContext(
            run_id=run_id,
            step_id=pending["step_id"],
            idempotency_key=f"{run_id}:{pending['step_id']}",
        )
        outcome = tool.run(context, pending["arguments"])

    result = StepResult(
        step_id=pending["step_id"],
        tool=pending["tool"],
        arguments=pending["arguments"],
        outcome=outcome,
    )
    shown = json.dumps(
        outcome["output"] if outcome["ok"] else {"error": outcome["error"]}, default=str
    )
    logs: Update = {
        "results": [result],
        "messages": [ChatEntry(speaker="tool", name=pending["tool"], content=_clip(shown))],
        "iterations": iterations,
        "pending": None,
    }
    if not outcome["ok"]:
        reason = f"step {pending['step_id']} {pending['tool']} failed: {outcome['error']}"
        return _move(
            state,
            Status.PLANNING,
            "execute",
            f"{reason}; re-planning",
            feedback=reason,
            failed_calls=[*state["failed_calls"], fingerprint],
            **logs,
        )
    if state["cursor"] + 1 < len(state["plan"]):
        return {"status": Status.EXECUTING.value, "cursor": state["cursor"] + 1, **logs}
    return _move(
        state,
        Status.VALIDATING,
        "execute",
        f"all {len(state['plan'])} step(s) of plan {state['plan_round']} ran",
        **logs,
    )


def validate(state: AgentState, *, agent: Agent) -> Update:
    """Ask the validator whether the results accomplish the task."""
    request = prompts.validator_request(
        state["task"],
        plan=state["plan"],
        results=state.get("results", []),
    )
    try:
        response, logs = _ask(agent, request, state)
    except AgentlabError as exc:
        return _unavailable(state, "validate", request, exc)
    call = response.tool_call(prompts.SUBMIT_VERDICT.name)
    try:
        verdict = prompts.Verdict.model_validate(call.arguments if call else {})
    except ValidationError as exc:
        reason = f"the validator gave no usable verdict ({format_validation_error(exc)})"
        return _move(state, Status.FAILED, "validate", reason, outcome=reason, **logs)
    if verdict.complete:
        return _move(
            state, Status.COMPLETED, "validate", verdict.reason, outcome=verdict.reason, **logs
        )
    return _move(
        state,
        Status.PLANNING,
        "validate",
        f"falls short: {verdict.reason}",
        feedback=f"the validator found the task unfinished: {verdict.reason}",
        **logs,
    )


def halt(state: AgentState) -> Update:
    """End a run that used up its iterations."""
    reason = (
        f"iteration cap reached: {state['iterations']} of {state['max_iterations']} "
        "iterations used before the task was done"
    )
    return _move(state, Status.FAILED, "halt", reason, outcome=reason)
