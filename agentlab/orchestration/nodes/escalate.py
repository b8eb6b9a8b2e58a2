"""Escalation: a role's stronger model, asked when the role's own model did not do.

The planner escalates once validation finds the task unfinished: the re-plan, and every later
planner call of the run, goes to its stronger model. The executor escalates for one step at a
time: when the arguments it gave do not fit the tool, its stronger model is asked once more
(``bind.py``). Each escalation is recorded in the run's state (``escalations``), so a run resumed
in any process asks the same model, and emitted (``Escalated``) where it is decided; escalated
calls count apart (``state.counted_as``) and are held to the run's budgets like any other. A role
without a stronger model (``ModelRouter.escalations``) never escalates.
"""

from __future__ import annotations

from agentlab.events import Escalated
from agentlab.models.base import Role
from agentlab.orchestration.nodes.common import Parts
from agentlab.orchestration.state import Escalation
from agentlab.orchestration.visit import Update, Visit


def planner_escalation(parts: Parts, visit: Visit) -> str:
    """Why the run's planner calls go to its stronger model, or ``""``: they do not."""
    if parts.models.escalated(Role.PLANNER) is None:
        return ""
    planner = (e for e in visit.state.get("escalations") or [] if e["role"] == Role.PLANNER.value)
    return next((e["reason"] for e in planner), "")


def escalate_planner(parts: Parts, visit: Visit, shortfall: str) -> Update:
    """The update that escalates the planner for the rest of the run, validation having found
    the task unfinished (``shortfall``); nothing if it has no stronger model or escalated
    already."""
    if planner_escalation(parts, visit):
        return {}
    record = record_escalation(parts, visit, Role.PLANNER, f"validation failed: {shortfall}")
    if record is None:
        return {}
    return {"escalations": [*(visit.state.get("escalations") or []), record]}


def record_escalation(
    parts: Parts, visit: Visit, role: Role, reason: str, *, step_id: str | None = None
) -> Escalation | None:
    """``role``'s escalation to its stronger model for ``reason`` (for the step ``step_id``),
    emitted; ``None`` if it has none."""
    stronger = parts.models.escalated(role)
    if stronger is None:
        return None
    record = Escalation(
        role=role.value,
        from_model=parts.models.for_role(role).name,
        to_model=stronger.name,
        reason=reason,
    )
    if step_id is not None:
        record["step_id"] = step_id
    run_id = visit.ctx.run_id or ""
    visit.emit(Escalated(run_id, role.value, record["from_model"], record["to_model"], reason))
    return record
