"""The ``halt`` node: the end of a run that used up its iterations (the edges route here)."""

from __future__ import annotations

from agentlab.orchestration.nodes.common import Parts
from agentlab.orchestration.state import Status
from agentlab.orchestration.visit import Update, Visit


async def halt(parts: Parts, visit: Visit) -> Update:
    """End a run that used up its iterations."""
    reason = visit.limits.exceeded(iterations=visit.state["iterations"]) or "limit reached"
    return visit.move(Status.FAILED, reason, outcome=reason)
