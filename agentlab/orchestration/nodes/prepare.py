"""The ``prepare`` node: bind the steps a new plan (or a person's answer) made ready.

Binding is ``bind.py``'s: each ready step becomes a prepared call, decided once; calls the policy
asks about wait for a person. ``execute`` binds the steps its calls make ready itself.
"""

from __future__ import annotations

from agentlab.orchestration import schedule
from agentlab.orchestration.nodes.bind import bind_ready
from agentlab.orchestration.nodes.common import Parts, also
from agentlab.orchestration.nodes.onward import Settling, onward
from agentlab.orchestration.state import Status
from agentlab.orchestration.visit import Update, Visit


async def prepare(parts: Parts, visit: Visit) -> Update:
    """Bind each ready step to a prepared call, as many as the iterations left can run."""
    state = visit.state
    calls = list(state["calls"])
    # Never bind more steps than the iterations left can run.
    room = visit.limits.max_iterations - state["iterations"] - len(schedule.runnable(calls))
    asked = state["calls_per_role"].get("executor", 0)
    settling = Settling(visit)
    bound, settling.ready = await bind_ready(parts, visit, settling.ready, room=room, asked=asked)
    if bound.unavailable is not None:
        why = bound.unavailable
        return visit.move(Status.FAILED, why, outcome=why, **bound.logs)
    feedback = state["feedback"]
    for step_id, problem in bound.failed.items():
        settling.add({step_id: schedule.Settled.FAILED.value})
        feedback = also(feedback, problem)
    calls = schedule.order([*calls, *bound.calls])
    return onward(visit, settling, calls, feedback, bound.logs)
