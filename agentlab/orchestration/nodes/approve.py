"""The ``approve`` node: the run waits for a person's decisions (``approvals.py``).

Only the interrupt sits before the decision: a resumed node re-runs from its top, so nothing with a
side effect belongs here. An approver's edited arguments make a new call, prepared (validated,
hashed, decided) once, as every call is.
"""

from __future__ import annotations

from typing import Any

from agentlab.orchestration import approvals, schedule
from agentlab.orchestration.nodes import bind
from agentlab.orchestration.nodes.common import Parts, also
from agentlab.orchestration.nodes.onward import Settling, onward
from agentlab.orchestration.state import PendingCall, PolicyRecord, Status
from agentlab.orchestration.visit import Update, Visit
from agentlab.tools.calls import CallRefused, CallRequest, call_hash


async def approve(parts: Parts, visit: Visit) -> Update:
    """Pause for a human's decisions on the calls that wait for one, then apply them."""
    state = visit.state
    plan = state["plan"]
    calls = state["calls"]
    decided: list[PolicyRecord] = []

    async def edit(call: PendingCall, arguments: dict[str, Any]) -> PendingCall:
        step = schedule.step_of(plan, call["step_id"])
        request = CallRequest(
            call_id=call["step_id"],
            tool=call["tool"],
            arguments=arguments,
            planned_destructive=step["destructive"],
            estimated_cost_usd=step["estimated_cost_usd"],
            untrusted_sources=tuple(call.get("untrusted_sources", [])),
        )
        try:
            prepared = await parts.executor.prepare(request, visit.ctx.principal)
        except CallRefused as exc:  # the edited arguments do not fit the tool: it fails so
            refused = PendingCall(
                step_id=call["step_id"],
                tool=call["tool"],
                arguments=dict(arguments),
                approval_reasons=[],
                tool_use_id=call["tool_use_id"],
                call_hash=call_hash(call["tool"], arguments),
                refused=str(exc),
            )
            if call.get("proposal") is not None:
                refused["proposal"] = call.get("proposal")
            return refused
        decided.append(bind.decided(visit, prepared))
        edited = bind.pending_of(prepared, tool_use_id=call["tool_use_id"])
        edited["untrusted_sources"] = list(request.untrusted_sources)
        if call.get("proposal") is not None:
            edited["proposal"] = call.get("proposal")
        return edited

    answers = await approvals.ask(
        visit, lambda step_id: schedule.step_of(plan, step_id), schedule.awaiting(calls), edit
    )
    if answers.refused is not None:
        return visit.move(Status.AWAITING_HUMAN, f"decision refused: {answers.refused}")
    calls = schedule.order([*schedule.runnable(calls), *answers.calls])
    logs: Update = {"approvals": answers.approvals, "transcript": answers.transcript}
    if decided:
        logs["policy_decisions"] = decided
    said = "; ".join(answers.said)
    if answers.stop is not None:
        return visit.move(Status.FAILED, answers.stop, calls=[], outcome=answers.stop, **logs)
    settling = Settling(visit)
    settling.add({step_id: schedule.Settled.REJECTED.value for step_id in answers.rejected})
    feedback = state["feedback"]
    for problem in answers.feedback:
        feedback = also(feedback, problem)
    return onward(visit, settling, calls, feedback, logs, said=said)
