"""What a paused run asks a human, and how their decision moves it on.

A run pauses for two kinds of request: ``approval`` (the policy asks before a call runs) and
``unknown_side_effect`` (a call started before a crash and left no outcome; its tool is not
idempotent, so only a person can say whether it happened). Each request has an id and the hash of
the call shown; a decision naming another request or call is refused, so an answer never applies to
a call its person was not shown: ``Runner.resume`` raises ``DecisionRefused``; a graph resumed
directly (e.g. by a LangGraph server) records the refusal and asks again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langgraph.types import interrupt

from agentlab.errors import RunStateError
from agentlab.events import ApprovalDecided
from agentlab.orchestration import transcript
from agentlab.orchestration.state import (
    Approval,
    Decision,
    PendingCall,
    PlanStep,
    Status,
    decision_problem,
)
from agentlab.orchestration.visit import Update, Visit
from agentlab.tools.journal import Resolution

APPROVAL = "approval"
UNKNOWN_SIDE_EFFECT = "unknown_side_effect"


class DecisionRefused(RunStateError):
    """A decision that does not answer the request the run waits for."""


def request_for(step: PlanStep, pending: PendingCall) -> dict[str, Any]:
    """What a person deciding on the pending call is shown (the interrupt's value)."""
    attempt = pending.get("unknown_attempt")
    kind = APPROVAL if attempt is None else UNKNOWN_SIDE_EFFECT
    request: dict[str, Any] = {
        "kind": kind,
        "request_id": f"{pending['step_id']}/{kind}" + ("" if attempt is None else f"/{attempt}"),
        "call_hash": pending.get("call_hash", ""),
        "step_id": pending["step_id"],
        "description": step["description"],
        "tool": pending["tool"],
        "arguments": pending["arguments"],
        "reasons": pending["approval_reasons"],
    }
    if attempt is not None:
        request["attempt"] = attempt
    return request


def ask(
    visit: Visit,
    step: PlanStep,
    pending: PendingCall,
    hash_call: Callable[[dict[str, Any]], str],
) -> Update:
    """Pause for the person's decision on ``pending``, then apply it. An approval may edit the
    call's arguments: the edited call is what runs, what the approval is bound to (``hash_call``
    names it as the executor will), and what is recorded.

    Only the interrupt sits before the decision: on resume this runs again from its top, so
    anything with a side effect belongs in ``execute``, after the decision is recorded.
    """
    request = request_for(step, pending)
    answer = interrupt(request)
    try:
        decision = as_decision(request, answer)
    except DecisionRefused as exc:
        # LangGraph keeps this answer as the interrupt's value: raising would refuse every later
        # answer too. Ask again instead (the edge comes back here, to a fresh interrupt).
        return visit.move(Status.AWAITING_HUMAN, f"decision refused: {exc}")
    note = decision.get("note", "")
    suffix = f": {note}" if note else ""
    stop = bool(decision.get("stop", False))
    happened = bool(decision.get("happened", False))
    visit.emit(
        ApprovalDecided(
            run_id=visit.ctx.run_id or "",
            step_id=pending["step_id"],
            tool=pending["tool"],
            approved=decision["approve"] or happened,
            note=note,
            stop=stop,
        )
    )
    record = Approval(
        step_id=pending["step_id"],
        tool=pending["tool"],
        approved=decision["approve"],
        note=note,
        call_hash=str(request["call_hash"]),
    )
    name = f"{pending['tool']} (step {pending['step_id']})"
    if request["kind"] == UNKNOWN_SIDE_EFFECT and (decision["approve"] or happened):
        attempt = int(request["attempt"])
        resolution = Resolution(
            attempt=attempt,
            action="happened" if happened else "run_again",
            result=decision.get("result") if happened else None,
        )
        said = "it happened" if happened else "run it again"
        return visit.move(
            Status.EXECUTING,
            f"a human said of {name}, attempt {attempt}: {said}{suffix}",
            pending={**pending, "resolution": resolution, "unknown_attempt": None},
        )
    if decision["approve"]:
        edited = decision.get("arguments")
        if edited is not None and request["kind"] == APPROVAL:
            call = hash_call(edited)
            record = Approval(**{**record, "call_hash": call, "arguments": edited})
            return visit.move(
                Status.EXECUTING,
                f"approved {name} with edited arguments {edited}{suffix}",
                approvals=[record],
                pending={**pending, "arguments": edited, "call_hash": call},
            )
        return visit.move(Status.EXECUTING, f"approved {name}{suffix}", approvals=[record])
    answered = transcript.call_result(
        visit.node, pending, f"rejected by a human{suffix}", is_error=True
    )
    if stop:
        reason = f"stopped by a human at step {pending['step_id']} ({pending['tool']}){suffix}"
        return visit.move(
            Status.FAILED,
            reason,
            approvals=[record],
            pending=None,
            outcome=reason,
            transcript=answered,
        )
    reason = f"rejected {name}{suffix}"
    return visit.move(
        Status.PLANNING,
        f"{reason}; re-planning without it",
        approvals=[record],
        pending=None,
        feedback=f"a human {reason}; plan the rest of the task without that call",
        transcript=answered,
    )


def as_decision(request: Mapping[str, Any], answer: Any) -> Decision:
    """The resume value as a ``Decision`` on ``request``, or ``DecisionRefused`` saying why not."""
    if not isinstance(answer, Mapping):
        raise DecisionRefused(
            f"resume value must be a Decision (a mapping), got {answer!r}: build one with "
            "decision_for(request, approve=...)"
        )
    problem = decision_problem(request, answer)
    if problem is not None:
        raise DecisionRefused(problem)
    decision = Decision(
        approve=bool(answer["approve"]),
        request_id=str(answer["request_id"]),
        call_hash=str(answer["call_hash"]),
        note=str(answer.get("note") or ""),
        stop=bool(answer.get("stop", False)),
    )
    unknown = request.get("kind") == UNKNOWN_SIDE_EFFECT
    if answer.get("happened") and not unknown:
        raise DecisionRefused(
            "'happened' answers a call of unknown effect; this request is an approval: "
            "approve or reject it"
        )
    if answer.get("arguments") is not None and unknown:
        raise DecisionRefused(
            "edited arguments go with an approval; a call of unknown effect runs again as it was"
        )
    if answer.get("happened"):
        decision["happened"] = True
        decision["result"] = answer.get("result")
    if answer.get("arguments") is not None:
        if not isinstance(answer["arguments"], Mapping):
            raise DecisionRefused(
                f"edited arguments must be a JSON object, got {answer['arguments']!r}"
            )
        decision["arguments"] = dict(answer["arguments"])
    return decision
