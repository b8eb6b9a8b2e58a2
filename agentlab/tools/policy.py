"""The approval policy: for any proposed call, allow it, ask a human first, or deny it.

One ``Policy`` object decides. The approval gate asks it before pausing a run, and the tool executor
asks it again right before running a call (the second lock), so no path runs a call the policy
would stop. A policy is any object with ``decide``; ``DefaultPolicy`` is the built-in one.

A policy may also have its word on tools: ``adjust(tool) -> Tool`` returns the tool with the risk,
idempotency and egress the policy gives it (a policy file's ``tools:``). The executor hands out
only adjusted tools, so the planner's catalog, every decision and the journal read the same risk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from agentlab.tools.tool import Risk, Tool


class Verdict(StrEnum):
    ALLOW = "allow"
    ASK = "ask"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class ProposedCall:
    """A call about to be made: the tool, its arguments, and who and what proposed it.

    ``planned_destructive`` and ``estimated_cost_usd`` are what the planner said of the step.
    """

    tool: Tool
    arguments: Mapping[str, Any] = field(default_factory=dict)
    principal: str = ""
    planned_destructive: bool = False
    estimated_cost_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """A policy's answer, with the reasons a person (or a model) is shown, and the rule(s) that
    decided it, where the policy has rules."""

    verdict: Verdict
    reasons: tuple[str, ...] = ()
    rule: str | None = None
    approvers: tuple[str, ...] | None = None
    """Who may approve the call when it asks (``None``: anyone who may act on the run)."""
    self_approval: bool = True
    """Whether the run's own principal may approve it (a policy may forbid it for destructive
    calls)."""

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW


@runtime_checkable
class Policy(Protocol):
    def decide(self, call: ProposedCall) -> PolicyDecision:
        """Whether ``call`` may run, needs a human's approval first, or may not run at all."""
        ...


def tool_adjuster(policy: Policy) -> Callable[[Tool], Tool] | None:
    """``policy``'s ``adjust(tool) -> Tool``, when it has one."""
    adjust = getattr(policy, "adjust", None)
    return adjust if callable(adjust) else None


@dataclass(frozen=True)
class DefaultPolicy:
    """Asks for destructive tools and steps, tools that require confirmation, and steps estimated
    above ``cost_threshold_usd``; allows everything else."""

    cost_threshold_usd: float = 1.0

    def decide(self, call: ProposedCall) -> PolicyDecision:
        reasons = []
        if call.planned_destructive or call.tool.risk is Risk.DESTRUCTIVE:
            reasons.append("destructive")
        if call.tool.requires_confirmation:
            reasons.append("needs confirmation")
        cost = max(call.estimated_cost_usd, call.tool.cost_usd)
        if cost > self.cost_threshold_usd:
            reasons.append(f"estimated cost ${cost:.2f} > ${self.cost_threshold_usd:.2f}")
        return (
            PolicyDecision(Verdict.ASK, tuple(reasons))
            if reasons
            else PolicyDecision(Verdict.ALLOW)
        )
