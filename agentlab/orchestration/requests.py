"""What a paused run asks a person, and how an answer becomes the decisions that resume it.

A run pauses for two kinds of request: ``approval`` (the policy asks before a call runs) and
``unknown_side_effect`` (a call started before a crash and left no outcome; its tool is not
idempotent, so only a person can say whether it happened). A ``Request`` names the call shown
(its id and hash); a ``Decision`` (the value a run is resumed with) names the request it answers,
and a decision for any other request is refused.

``decisions_for`` is the one place that works out which requests a person's answer applies to
(those shown, or the one of a step) and refuses answers that do not fit them: every front end
(the command line, a notebook, a script) answers through ``Runner.decide``, which uses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NotRequired

from typing_extensions import TypedDict

from agentlab.errors import Fix, RunStateError


class DecisionRefused(RunStateError):
    """A decision that does not answer the request the run waits for."""


class RequestKind(StrEnum):
    APPROVAL = "approval"
    UNKNOWN_SIDE_EFFECT = "unknown_side_effect"


class Answer(StrEnum):
    """What a person answers about a call: ``approve`` it (for a call of unknown effect: run it
    again), ``reject`` it (the run re-plans without it), ``stop`` the run, or say it
    ``happened`` (a call of unknown effect took effect)."""

    APPROVE = "approve"
    REJECT = "reject"
    STOP = "stop"
    HAPPENED = "happened"


@dataclass(frozen=True, slots=True)
class Request:
    """What a paused run asks about one call: its kind, the request's id, the hash of the call
    shown, the step, the tool and its arguments (canonical), and why it asks. ``attempt`` is the
    attempt of unknown effect asked about."""

    kind: RequestKind
    request_id: str
    call_hash: str
    step_id: str
    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    description: str = ""
    attempt: int | None = None
    approvers: tuple[str, ...] | None = None
    """Who may approve the call, where the policy names them."""
    self_approval: bool = True
    """Whether the run's own principal may approve it."""

    @property
    def unknown_effect(self) -> bool:
        return self.kind is RequestKind.UNKNOWN_SIDE_EFFECT

    def describe(self) -> str:
        """``tool(arguments) (step 1.2)``: how a request is named in messages."""
        return describe_request(self.data())

    def data(self) -> dict[str, Any]:
        """The request as plain data (what the run's interrupt carries)."""
        out: dict[str, Any] = {
            "kind": self.kind.value,
            "request_id": self.request_id,
            "call_hash": self.call_hash,
            "step_id": self.step_id,
            "description": self.description,
            "tool": self.tool,
            "arguments": dict(self.arguments),
            "reasons": list(self.reasons),
        }
        if self.attempt is not None:
            out["attempt"] = self.attempt
        if self.approvers is not None:
            out["approvers"] = list(self.approvers)
        if not self.self_approval:
            out["self_approval"] = False
        return out

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Request:
        """The request plain data describes (one of ``requests_of``'s)."""
        attempt = data.get("attempt")
        return cls(
            kind=RequestKind(data.get("kind", RequestKind.APPROVAL.value)),
            request_id=str(data["request_id"]),
            call_hash=str(data.get("call_hash", "")),
            step_id=str(data["step_id"]),
            tool=str(data["tool"]),
            arguments=dict(data.get("arguments") or {}),
            reasons=tuple(data.get("reasons") or ()),
            description=str(data.get("description", "")),
            attempt=None if attempt is None else int(attempt),
            approvers=None if data.get("approvers") is None else tuple(data["approvers"]),
            self_approval=bool(data.get("self_approval", True)),
        )


class Decision(TypedDict):
    """A human's answer to what a paused run asks: the value it is resumed with.

    ``request_id`` and ``call_hash`` are those of the request shown to the person: a decision for
    any other request is refused, so an answer never applies to a call its person was not shown.
    ``decision_for`` builds one.

    For an approval: ``approve`` runs the call; otherwise it is rejected (and the run re-plans,
    or with ``stop`` ends). For a call whose effect is unknown (``kind`` ``unknown_side_effect``):
    ``approve`` runs it again; ``happened`` records it as done, with ``result`` as its output;
    otherwise the run re-plans without it (or with ``stop`` ends). An approval may carry edited
    ``arguments``: the call runs with those instead (and the policy is asked about it again).
    """

    approve: bool
    request_id: NotRequired[str]
    call_hash: NotRequired[str]
    note: NotRequired[str]
    stop: NotRequired[bool]
    happened: NotRequired[bool]
    result: NotRequired[Any]
    arguments: NotRequired[dict[str, Any]]
    by: NotRequired[str]
    """Who decides (set by whoever takes the decision in: the ``Runner``, a served run)."""
    via: NotRequired[str]
    """How the decision was given (see ``Approval.via``)."""


def decision_for(
    request: Request | Mapping[str, Any],
    *,
    approve: bool = False,
    note: str = "",
    stop: bool = False,
    happened: bool = False,
    result: Any = None,
    arguments: Mapping[str, Any] | None = None,
) -> Decision:
    """A decision on ``request`` (a ``Request``, or the payload a paused run shows);
    ``arguments`` edits the call an approval lets run."""
    shown = request.data() if isinstance(request, Request) else request
    decision = Decision(
        approve=approve,
        request_id=str(shown["request_id"]),
        call_hash=str(shown["call_hash"]),
        note=note,
        stop=stop,
    )
    if happened:
        decision["happened"] = True
        decision["result"] = result
    if arguments is not None:
        decision["arguments"] = dict(arguments)
    return decision


def approver_problem(
    request: Mapping[str, Any], decision: Mapping[str, Any], principal: str
) -> str | None:
    """Why ``decision``'s maker (its ``by``) may not give it on ``request`` of a run acting
    for ``principal``, or ``None``. Only approving is restricted: anyone who may act on the run
    may reject or stop it."""
    if not (decision.get("approve") or decision.get("happened")):
        return None
    by = str(decision.get("by") or "")
    approvers = request.get("approvers")
    name = f"{request.get('tool')} (step {request.get('step_id')})"
    if approvers is not None and by not in approvers:
        who = ", ".join(approvers) or "nobody"
        return (
            f"{by or 'an unknown person'} may not approve {name}: the policy names who may "
            f"({who}); ask one of them, or reject it"
        )
    if request.get("self_approval") is False and by == principal:
        return (
            f"{by} may not approve {name} of their own run: the policy forbids approving one's own "
            "destructive calls; ask another person who may act on the run, or reject it"
        )
    return None


def requests_of(waiting: Mapping[str, Any] | None) -> tuple[Request, ...]:
    """Every request of what a paused run waits for (its interrupt's value): its ``group`` when
    several calls wait together (steps that ran concurrently), else the one request."""
    if waiting is None:
        return ()
    return tuple(Request.of(r) for r in waiting_requests(waiting))


def waiting_requests(waiting: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every request of an interrupt's value, as plain data."""
    return [dict(r) for r in waiting.get("group") or [waiting]]


def describe_request(request: Mapping[str, Any]) -> str:
    """``tool(arguments) (step 1.2)``: how a request is named in errors."""
    arguments = ", ".join(f"{k}={v!r}" for k, v in dict(request.get("arguments") or {}).items())
    return f"{request.get('tool')}({arguments}) (step {request.get('step_id')})"


def decision_problem(request: Mapping[str, Any], decision: Mapping[str, Any]) -> str | None:
    """Why ``decision`` does not answer ``request``, or ``None`` when it does."""
    if not isinstance(decision.get("approve"), bool):
        return "a decision says approve (true or false)"
    if decision.get("request_id") is None or decision.get("call_hash") is None:
        return (
            "a decision must name the request it answers (its request_id and call_hash, as "
            f"shown with the request): the run is waiting for {describe_request(request)}"
        )
    if (decision["request_id"], decision["call_hash"]) != (
        request.get("request_id"),
        request.get("call_hash"),
    ):
        return (
            f"the decision answers request {decision['request_id']} but the run is now waiting "
            f"for {describe_request(request)}, request {request.get('request_id')}: look at it "
            "and decide on that"
        )
    return None


def decisions_for(
    run_id: str,
    answer: Answer,
    shown: Sequence[Request],
    *,
    step: str | None = None,
    note: str = "",
    arguments: Mapping[str, Any] | None = None,
    result: Any = None,
    every: bool = False,
) -> list[Decision]:
    """A person's ``answer`` about the requests they were ``shown`` (all of them, or the one of
    ``step``), as decisions bound to those requests. ``RunStateError`` when the answer does not
    fit them: nothing is shown, no shown request is ``step``'s, edited ``arguments`` for more
    than one call or for a call of unknown effect, ``happened`` of an approval, one ``approve`` or
    ``happened`` for several calls when any of them is of unknown effect, unless ``every`` says
    the person means all of them."""
    if not shown:
        raise RunStateError(
            f"run {run_id} is waiting for no decision", fix=Fix.CONTINUE, run_id=run_id
        )
    targets = [r for r in shown if step is None or r.step_id == step]
    if not targets:
        listed = ", ".join(f"step {r.step_id} ({r.tool})" for r in shown)
        raise RunStateError(f"run {run_id} is waiting on {listed}, not step {step}")
    unknown = [r for r in targets if r.unknown_effect]
    sweeping = len(targets) > 1 and unknown and answer in (Answer.APPROVE, Answer.HAPPENED)
    if sweeping and not every:
        # Whether a call took effect is a fact a person checks call by call: one answer re-runs,
        # or records as done, several calls of unknown effect only when told it means them all.
        listed = ", ".join(r.describe() for r in unknown)
        raise RunStateError(
            f"{len(targets)} calls wait, {len(unknown)} of them of unknown effect; whether "
            f"{listed} took effect is answered call by call",
            fix=Fix.EACH,
        )
    if answer is Answer.HAPPENED and any(not r.unknown_effect for r in targets):
        raise RunStateError(
            "'happened' answers a call of unknown effect; the run waits for an approval: "
            "approve or reject it",
            fix=Fix.ONE_STEP if len(targets) > 1 else None,
        )
    if arguments is not None:
        if len(targets) > 1:
            steps = ", ".join(r.step_id for r in targets)
            raise RunStateError(
                f"edited arguments are for one call and {len(targets)} wait (steps {steps})",
                fix=Fix.ONE_STEP,
            )
        if targets[0].unknown_effect:
            raise RunStateError(
                "edited arguments go with an approval; a call of unknown effect runs again as "
                "it was"
            )
    return [
        decision_for(
            r,
            approve=answer is Answer.APPROVE,
            note=note,
            stop=answer is Answer.STOP,
            happened=answer is Answer.HAPPENED,
            result=result,
            arguments=arguments,
        )
        for r in targets
    ]
