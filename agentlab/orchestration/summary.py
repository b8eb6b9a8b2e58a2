"""A run's outcome in figures: steps, approvals, model calls, escalations, tokens and dollars."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentlab.models.base import Usage
from agentlab.models.pricing import FREE_PROVIDERS, SIMULATED
from agentlab.orchestration.limits import Limits


@dataclass(frozen=True)
class RunSummary:
    status: str
    outcome: str
    iterations: int
    max_iterations: int
    plans: int
    steps_ok: int
    steps_failed: int
    approved: int
    rejected: int
    model_calls: int
    usage: Usage
    cost_usd: float | None
    """``None`` when a model's price is unknown: the total would be wrong, not merely low."""
    scripted: bool
    """True when every model call was answered by a scripted model: no LLM was called."""
    simulated: bool = False
    """True when the cost is simulated: scripted calls priced as a real model (``priced_as``)."""
    escalations: int = 0
    """How many times a role escalated to its stronger model."""


def summarize(state: Mapping[str, Any], limits: Limits | None = None) -> RunSummary:
    """Figures for a run from its state (as ``Runner.get`` or a graph's ``get_state`` returns)
    and the limits it ran under (default ``Limits()``)."""
    calls = state.get("model_calls", [])
    results = state.get("results", [])
    approvals = state.get("approvals", [])
    usage = Usage()
    for c in calls:
        usage = usage + Usage(
            c["input_tokens"], c["output_tokens"], c["cache_read_tokens"], c["cache_write_tokens"]
        )
    costs = [c["cost_usd"] for c in calls]
    return RunSummary(
        status=state.get("status", "unknown"),
        outcome=state.get("outcome", ""),
        iterations=state.get("iterations", 0),
        max_iterations=(limits or Limits()).max_iterations,
        plans=state.get("plan_round", 0),
        steps_ok=sum(1 for r in results if r["outcome"]["ok"]),
        steps_failed=sum(1 for r in results if not r["outcome"]["ok"]),
        approved=sum(1 for a in approvals if a["approved"]),
        rejected=sum(1 for a in approvals if not a["approved"]),
        model_calls=len(calls),
        usage=usage,
        cost_usd=None if any(c is None for c in costs) else sum(costs),
        scripted=bool(calls) and all(c["provider"] in FREE_PROVIDERS | {SIMULATED} for c in calls),
        simulated=any(c["provider"] == SIMULATED for c in calls),
        escalations=len(state.get("escalations") or []),
    )
