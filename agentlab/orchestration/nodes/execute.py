"""The ``execute`` node: run the calls that may run, then bind the steps they made ready.

The runnable calls run concurrently (at most ``max_parallel_calls`` at once) through the one
``ToolExecutor``, which re-checks each prepared call's hash and asks the policy once more (the
second lock); results are recorded in plan order. A call whose policy answer changed to "ask", or
whose effect is unknown after a crash, waits for a person instead. Then the steps the finished
calls made ready are bound in the same step (``bind.py``), so a plan of N steps takes N
supersteps, not 2N.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agentlab.events import ApprovalRequested
from agentlab.orchestration import approvals, schedule, transcript
from agentlab.orchestration.nodes.bind import bind_ready, refused_result, with_approval_rights
from agentlab.orchestration.nodes.common import Parts, also, together
from agentlab.orchestration.nodes.onward import Settling, onward
from agentlab.orchestration.state import (
    AgentState,
    PendingCall,
    PlanStep,
    Status,
    StepResult,
    TranscriptEntry,
)
from agentlab.orchestration.visit import Update, Visit
from agentlab.tools.calls import CallRequest, CallScope, NeedsApproval, PreparedCall
from agentlab.tools.journal import UnknownSideEffect
from agentlab.tools.policy import PolicyDecision, Verdict
from agentlab.tools.tool import ToolOutcome

log = logging.getLogger(__name__)

UNKNOWN = "unknown_side_effect"


async def execute(parts: Parts, visit: Visit) -> Update:
    """Run the runnable calls, record them, and bind the steps that became ready."""
    state = visit.state
    plan = state["plan"]
    calls = list(state["calls"])
    running = schedule.runnable(calls)
    try:
        deps = await parts.deps_for(visit.ctx)
    except Exception as exc:  # the run cannot do its job: say so, never crash the process
        log.exception("the deps of agent %s could not be opened", parts.agent.name)
        name = parts.agent.name
        reason = f"could not open what {name}'s tools need: {type(exc).__name__}: {exc}"
        return visit.move(Status.FAILED, reason, outcome=reason)
    scope = CallScope(
        run_id=visit.ctx.run_id or "",
        principal=visit.ctx.principal,
        session=visit.ctx.session,
        deps=deps,
        lease=visit.ctx.lease,
        fence=visit.ctx.fence,
        memory=parts.long_term,
    )
    limit = asyncio.Semaphore(visit.limits.max_parallel_calls)

    async def run(call: PendingCall) -> ToolOutcome | UnknownSideEffect | NeedsApproval:
        prepared = await _prepared(parts, plan, call)
        if isinstance(prepared, str):  # it cannot run: never started, failed
            return refused_result(visit, {**call, "refused": prepared})["outcome"]
        async with limit:
            try:
                return await parts.executor.run(
                    prepared,
                    scope,
                    visit.emit,
                    approved=_approved(state, call),
                    failed_before=_failed_before(state, call),
                    resolution=call.get("resolution"),
                )
            except (UnknownSideEffect, NeedsApproval) as exc:
                return exc

    outcomes = await together([run(call) for call in running])
    settling = Settling(visit)
    feedback = state["feedback"]
    results: list[StepResult] = []
    entries: list[TranscriptEntry] = []
    failed: dict[str, int] = {}
    for call, outcome in zip(running, outcomes, strict=True):
        calls.remove(call)
        step = schedule.step_of(plan, call["step_id"])
        if isinstance(outcome, UnknownSideEffect):
            calls.append(_ask_about(visit, step, call, outcome))
            continue
        if isinstance(outcome, NeedsApproval):
            calls.append(_ask_again(visit, step, call, outcome.decision))
            continue
        results.append(
            StepResult(
                step_id=call["step_id"],
                tool=call["tool"],
                arguments=call["arguments"],
                outcome=outcome,
            )
        )
        proposal = call.get("proposal")
        if proposal is not None:
            entries.append(transcript.entry(visit.node, proposal))
        shown = outcome["output"] if outcome["ok"] else {"error": outcome["error"]}
        entries += transcript.call_result(visit.node, call, shown, is_error=not outcome["ok"])
        if outcome["ok"]:
            settling.add({call["step_id"]: schedule.Settled.OK.value})
        else:
            settling.add({call["step_id"]: schedule.Settled.FAILED.value})
            failed[call["call_hash"]] = state["plan_round"]
            feedback = also(
                feedback, f"step {call['step_id']} {call['tool']} failed: {outcome['error']}"
            )
    iterations = state["iterations"] + len(results)
    logs: Update = {"results": results, "transcript": entries, "iterations": iterations}
    if failed:
        logs["failed_calls"] = failed
    calls = schedule.order(calls)
    # Bind what became ready now, in this step, as many as the iterations left can run.
    room = visit.limits.max_iterations - iterations - len(schedule.runnable(calls))
    if settling.ready and room > 0:
        asked = state["calls_per_role"].get("executor", 0)
        bound, settling.ready = await bind_ready(
            parts, visit, settling.ready, room=room, asked=asked, recent=results
        )
        for key, value in bound.logs.items():
            logs[key] = [*logs.get(key, []), *value] if isinstance(value, list) else value
        if bound.unavailable is not None:
            why = bound.unavailable
            return visit.move(Status.FAILED, why, outcome=why, calls=[], **logs)
        for step_id, problem in bound.failed.items():
            settling.add({step_id: schedule.Settled.FAILED.value})
            feedback = also(feedback, problem)
        calls = schedule.order([*calls, *bound.calls])
    return onward(visit, settling, calls, feedback, logs)


async def _prepared(parts: Parts, plan: list[PlanStep], call: PendingCall) -> PreparedCall | str:
    """The call as it was prepared, from what the state keeps of it (its tool looked up by name:
    nothing is validated, hashed or decided again here); or why it cannot run (its arguments did
    not fit, or its tool is gone since)."""
    refused = call.get("refused")
    if refused is not None:
        return refused
    tool = await parts.executor.tools.get(call["tool"])
    if tool is None:
        return await parts.executor.unknown(call["tool"])
    step = schedule.step_of(plan, call["step_id"])
    request = CallRequest(
        call_id=call["step_id"],
        tool=call["tool"],
        arguments=call["arguments"],
        planned_destructive=step["destructive"],
        estimated_cost_usd=step["estimated_cost_usd"],
        untrusted_sources=tuple(call.get("untrusted_sources", [])),
    )
    decision = PolicyDecision(
        Verdict(call.get("verdict", Verdict.ALLOW.value)),
        tuple(call.get("reasons", call["approval_reasons"])),
        call.get("rule"),
    )
    return PreparedCall(request, tool, dict(call["arguments"]), call["call_hash"], decision)


def _approved(state: AgentState, call: PendingCall) -> bool:
    """Whether a human approved this very call: same step, same tool and arguments."""
    if not call.get("approved"):
        return False
    return any(
        a["approved"]
        and a["step_id"] == call["step_id"]
        and a.get("call_hash") == call["call_hash"]
        for a in reversed(state.get("approvals", []))
    )


def _failed_before(state: AgentState, call: PendingCall) -> bool:
    """Whether the same call (tool and canonical arguments) already failed in this run."""
    failed: Any = state.get("failed_calls") or {}
    if isinstance(failed, list):  # a run checkpointed before failures carried their round
        return call["call_hash"] in failed
    failed_in = failed.get(call["call_hash"])
    return failed_in is not None and failed_in > state.get("first_round", 0)


def _ask_about(
    visit: Visit, step: PlanStep, pending: PendingCall, unknown: UnknownSideEffect
) -> PendingCall:
    """The call, waiting for a human: it started (before a crash, or it failed mid-call) and
    its effect is unknown."""
    entry = unknown.entry
    what = (
        "started before the run was interrupted and its outcome was not recorded"
        if unknown.why is None
        else f"got no answer: {unknown.why}"
    )
    reason = (
        f"{UNKNOWN}: {entry.tool} (step {entry.call_id}, attempt {entry.attempt}) {what}; it "
        "is not idempotent, so running it again might do it twice"
    )
    asking = PendingCall(
        **{**pending, "unknown_attempt": entry.attempt, "approval_reasons": [reason]}
    )
    visit.emit(ApprovalRequested(visit.ctx.run_id or "", approvals.request_for(step, asking)))
    return asking


def _ask_again(
    visit: Visit, step: PlanStep, pending: PendingCall, decision: PolicyDecision
) -> PendingCall:
    """The call, waiting for a human: the policy, asked again right before it ran, wants one
    (its answer changed since the call was prepared)."""
    asking = PendingCall(
        **{
            **pending,
            "verdict": decision.verdict.value,
            "reasons": list(decision.reasons),
            "rule": decision.rule,
            "approval_reasons": list(decision.reasons) or ["the policy asks a human"],
            "approved": False,
        }
    )
    asking = with_approval_rights(asking, decision)
    visit.emit(ApprovalRequested(visit.ctx.run_id or "", approvals.request_for(step, asking)))
    return asking
