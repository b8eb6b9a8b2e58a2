"""What a paused run asks a human, and how their decision moves it on.

A run pauses for two kinds of request: ``approval`` (the policy asks before a call runs) and
``unknown_side_effect`` (a call started before a crash and left no outcome; its tool is not
idempotent, so only a person can say whether it happened). Each request has an id and the hash of
the call shown; a decision naming another request or call is refused, so an answer never applies to
a call its person was not shown: ``Runner.resume`` raises ``DecisionRefused``; a graph resumed
directly (e.g. by a LangGraph server) records the refusal and asks again.

Calls that wait at the same time (steps of a plan that run concurrently) are asked about together:
the interrupt's value is the first request with the whole ``group``, and the answer is one decision
or a list of them, each naming its request (approve each, or all). Calls left undecided keep
waiting, and the run asks about them again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langgraph.types import interrupt

from agentlab.events import ApprovalDecided
from agentlab.orchestration import transcript
from agentlab.orchestration.context import default_principal, served_caller
from agentlab.orchestration.requests import (
    Decision,
    DecisionRefused,
    RequestKind,
    approver_problem,
    decision_problem,
    describe_request,
    waiting_requests,
)
from agentlab.orchestration.state import Approval, PendingCall, PlanStep, TranscriptEntry
from agentlab.orchestration.visit import Visit
from agentlab.tools.journal import Resolution

APPROVAL = RequestKind.APPROVAL.value
UNKNOWN_SIDE_EFFECT = RequestKind.UNKNOWN_SIDE_EFFECT.value


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
    if pending.get("approvers") is not None:
        request["approvers"] = list(pending.get("approvers") or [])
    if pending.get("self_approval") is False:
        request["self_approval"] = False
    return request


@dataclass
class Answers:
    """What a person's decisions did to the calls they were shown."""

    calls: list[PendingCall] = field(default_factory=list)
    """The calls shown, as they now stand: approved, resolved or still waiting (rejected ones
    are gone)."""
    approvals: list[Approval] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    """The step ids of the rejected calls."""
    transcript: list[TranscriptEntry] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    """What was decided, call by call, for the transition's reason."""
    feedback: list[str] = field(default_factory=list)
    stop: str | None = None
    """Why the run ends, when a person stopped it."""
    refused: str | None = None
    """Why the answer was refused (nothing was decided)."""


def waiting_value(requests: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The interrupt's value: the first request, with the whole ``group`` when several wait
    (they are shown together, and may be answered one by one or all at once)."""
    if len(requests) == 1:
        return requests[0]
    return {**requests[0], "group": list(requests)}


Edit = Callable[[PendingCall, dict[str, Any]], Awaitable[PendingCall]]
"""Prepares a waiting call again with the arguments an approver edited (the edited call is then
validated, hashed and decided once, as any call is)."""


async def ask(
    visit: Visit,
    steps: Callable[[str], PlanStep],
    waiting: Sequence[PendingCall],
    edit: Edit,
) -> Answers:
    """Pause for a person's decisions on the ``waiting`` calls (``steps`` finds their steps),
    then apply them. An approval may edit the call's arguments: the edited call, prepared again
    (``edit``), is what runs, what the approval is bound to (its hash), and what is recorded.
    Calls the answer does not decide keep waiting.

    Only the interrupt sits before the decision: on resume this runs again from its top, so
    anything with a side effect belongs in ``execute``, after the decision is recorded.
    """
    requests = [request_for(steps(c["step_id"]), c) for c in waiting]
    answer = interrupt(waiting_value(requests))
    try:
        decided = as_decisions(waiting_value(requests), answer, deciding=served_caller())
        for request, given in decided:
            problem = approver_problem(request, given, visit.ctx.principal)
            if problem is not None:
                raise DecisionRefused(problem)
    except DecisionRefused as exc:
        # LangGraph keeps this answer as the interrupt's value: raising would refuse every later
        # answer too. Ask again instead (the edge comes back here, to a fresh interrupt).
        return Answers(calls=list(waiting), refused=str(exc))
    by_request = {r["request_id"]: d for r, d in decided}
    out = Answers()
    for request, pending in zip(requests, waiting, strict=True):
        decision = by_request.get(request["request_id"])
        if decision is None:
            out.calls.append(pending)
        else:
            await _apply(visit, request, pending, decision, edit, out)
    return out


async def _apply(
    visit: Visit,
    request: dict[str, Any],
    pending: PendingCall,
    decision: Decision,
    edit: Edit,
    out: Answers,
) -> None:
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
        by=str(decision.get("by") or default_principal()),
        via=str(decision.get("via") or "api"),
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
        out.said.append(f"a human said of {name}, attempt {attempt}: {said}{suffix}")
        # The question is answered: the call waits for nothing more (unless the policy, asked
        # again when it runs, wants a person's approval of it).
        out.calls.append(
            PendingCall(
                **{
                    **pending,
                    "resolution": resolution,
                    "unknown_attempt": None,
                    "approval_reasons": [],
                }
            )
        )
        return
    if decision["approve"]:
        edited = decision.get("arguments")
        if edited is not None and request["kind"] == APPROVAL:
            call = await edit(pending, edited)
            record = Approval(**{**record, "call_hash": call["call_hash"], "arguments": edited})
            out.said.append(f"approved {name} with edited arguments {edited}{suffix}")
            out.calls.append(PendingCall(**{**call, "approved": True}))
        else:
            out.said.append(f"approved {name}{suffix}")
            out.calls.append(PendingCall(**{**pending, "approved": True}))
        out.approvals.append(record)
        return
    out.approvals.append(record)
    out.rejected.append(pending["step_id"])
    proposal = pending.get("proposal")
    if proposal is not None:
        out.transcript.append(transcript.entry(visit.node, proposal))
    out.transcript += transcript.call_result(
        visit.node, pending, f"rejected by a human{suffix}", is_error=True
    )
    if stop and out.stop is None:
        out.stop = f"stopped by a human at step {pending['step_id']} ({pending['tool']}){suffix}"
    out.said.append(f"rejected {name}{suffix}")
    out.feedback.append(
        f"a human rejected {name}{suffix}; plan the rest of the task without that call"
    )


def as_decisions(
    waiting: Mapping[str, Any], answer: Any, *, deciding: str | None = None
) -> list[tuple[dict[str, Any], Decision]]:
    """The resume value (one ``Decision``, or a list of them) as decisions on the requests of
    ``waiting`` (the interrupt's value), or ``DecisionRefused`` saying why not. ``deciding``:
    the authenticated caller who sent them (a served run's), who is then their ``by``, whatever
    they say."""
    requests = waiting_requests(waiting)
    answers = list(answer) if isinstance(answer, list | tuple) else [answer]
    if not answers:
        raise DecisionRefused("an empty list of decisions decides nothing")
    by_id = {r["request_id"]: r for r in requests}
    decided: list[tuple[dict[str, Any], Decision]] = []
    for one in answers:
        request_id = one.get("request_id") if isinstance(one, Mapping) else None
        request = by_id.get(request_id, requests[0])
        if request_id is not None and request_id not in by_id and len(requests) > 1:
            shown = ", ".join(describe_request(r) for r in requests)
            raise DecisionRefused(
                f"the decision answers request {request_id} but the run is now waiting for "
                f"{shown}: look at them and decide on those"
            )
        if any(r is request for r, _ in decided):
            raise DecisionRefused(f"two decisions answer {describe_request(request)}")
        decision = as_decision(request, one)
        if deciding is not None:
            decision["by"], decision["via"] = deciding, "server"
        decided.append((request, decision))
    return decided


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
    for key in ("by", "via"):
        if answer.get(key):
            decision[key] = str(answer[key])
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
