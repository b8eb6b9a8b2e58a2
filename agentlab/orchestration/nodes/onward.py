"""Where the plan goes after a node changed it: the next status, chosen in one place.

On executing (calls to run, or steps to bind), to a human (calls wait for one), to validation
(every step succeeded) or back to planning (a step did not). The edges route on that status.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping

from agentlab.orchestration import schedule
from agentlab.orchestration.state import PendingCall, Status
from agentlab.orchestration.visit import Update, Visit


def onward(
    visit: Visit,
    settling: Settling,
    calls: list[PendingCall],
    feedback: str,
    logs: Update,
    *,
    said: str = "",
) -> Update:
    """The update that moves the plan on: ``settling`` holds the steps this node settled (with
    those skipped for it) and the steps ready to bind, ``calls`` the bound calls now."""
    state = visit.state
    plan = state["plan"]
    ready, settled = settling.ready, settling.settled
    # Only what changed is written: every channel written is a row of the checkpoint's writes.
    changes: Update = {**logs}
    if calls != state["calls"]:
        changes["calls"] = calls
    if ready != state.get("ready"):
        changes["ready"] = list(ready)
    if feedback != state["feedback"]:
        changes["feedback"] = feedback
    if settled:
        changes["settled"] = dict(settled)
    if settling.recovered:
        changes["unblocks"] = settling.unblocks
    if schedule.runnable(calls) or ready:
        if said:
            return visit.move(Status.EXECUTING, said, **changes)
        if state["status"] != Status.EXECUTING:
            changes["status"] = Status.EXECUTING.value
        return changes
    waiting = schedule.awaiting(calls)
    if waiting:
        asks = "; ".join(_why_waiting(c) for c in waiting)
        return visit.move(Status.AWAITING_HUMAN, f"{said}; {asks}" if said else asks, **changes)
    if schedule.succeeded(plan, ChainMap(dict(settled), state["settled"])):
        ran = f"all {len(plan)} step(s) of plan {state['plan_round']} ran"
        return visit.move(Status.VALIDATING, f"{said}; {ran}" if said else ran, **changes)
    if said:
        return visit.move(Status.PLANNING, f"{said}; re-planning without it", **changes)
    return visit.move(Status.PLANNING, f"{feedback}; re-planning", **changes)


class Settling:
    """The steps a node settles, and what that does to the rest of the plan: the steps their
    failure skips, the steps their success makes ready."""

    def __init__(self, visit: Visit) -> None:
        state = visit.state
        self._state = state
        self.settled: dict[str, str] = {}
        self.recovered = "unblocks" not in state and bool(state["plan"])
        if self.recovered:  # checkpointed before the state kept them
            self.unblocks, self.ready = schedule.recovered(
                state["plan"], state["settled"], state["calls"]
            )
        else:
            self.unblocks = state.get("unblocks", {})
            self.ready = list(state.get("ready", []))

    def add(self, newly: Mapping[str, str]) -> None:
        """Settle ``newly`` (step id -> ``schedule.Settled``)."""
        if not newly:
            return
        self.ready, skipped = schedule.after_settling(
            self._state["plan"],
            self.unblocks,
            ChainMap(self.settled, self._state["settled"]),
            newly,
            self.ready,
        )
        self.settled.update(newly)
        self.settled.update(skipped)


def _why_waiting(call: PendingCall) -> str:
    if call.get("unknown_attempt") is not None:
        return "; ".join(call["approval_reasons"])
    return f"step {call['step_id']} {call['tool']} needs approval: " + ", ".join(
        call["approval_reasons"]
    )
