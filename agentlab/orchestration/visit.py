"""One execution of a node, and the one wrapper every node runs in.

``visiting`` wraps a node: it builds the ``Visit`` (the state the node saw, the run's context and
limits, where events go), first ends a run killed from another process (``agentlab kill``: one read
of the flag in the run store), and gives the node the account its model calls are charged to
(``RunAccount``: the run's ceilings, reserved in its ledger). Nodes record the transitions they
make through ``Visit.move``.

Annotations here are evaluated when defined (no ``from __future__ import annotations``):
LangGraph reads the node functions' type hints each time a graph is built, and strings would be
evaluated again every time.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from langgraph.runtime import Runtime

from agentlab.events import Emit, StatusChanged, writer_emit
from agentlab.models.base import CallInfo
from agentlab.models.calls import usage_of
from agentlab.observability.budgets import RunAccount
from agentlab.observability.ledger import utc_day
from agentlab.orchestration.context import RunContext, run_context
from agentlab.orchestration.limits import Limits
from agentlab.orchestration.state import AgentState, Status, Transition, counted_as

Update = dict[str, Any]


@dataclass
class Visit:
    """One execution of a node: the state it saw, the run's context and limits, and where events
    go."""

    node: str
    state: AgentState
    ctx: RunContext
    emit: Emit
    limits: Limits
    _account: RunAccount | None = field(default=None, repr=False)

    def move(self, target: Status, reason: str, **changes: Any) -> Update:
        """An update that sets the status and records (and emits) the transition with its reason."""
        transition = Transition(
            source=self.state["status"],
            target=target.value,
            node=self.node,
            reason=reason,
            iteration=changes.get("iterations", self.state["iterations"]),
        )
        self.emit(StatusChanged(dict(transition)))
        return {"status": target.value, "transitions": [transition], **changes}

    @property
    def phase(self) -> str:
        """The ledger's phase of the model calls this visit makes: ``replan`` for planning rounds
        after the run's first, else the node's name."""
        if self.node == "plan" and self.state["iterations"] > 0:
            return "replan"
        return self.node

    @property
    def account(self) -> RunAccount:
        """What this visit's model calls are charged to (one account for the visit, so
        concurrent calls see each other's reservations): every ceiling of the run, reserved in
        its ledger when the run context has one, else the per-run ceilings, from the state."""
        if self._account is None:
            ctx, limits = self.ctx, self.limits
            run_id = ctx.run_id or ""
            if ctx.ledger is not None:
                ceilings = limits.ceilings(
                    run_id=run_id, principal=ctx.principal, session=ctx.session, day=utc_day()
                )
                self._account = RunAccount(ceilings, ctx.ledger, warn_at=limits.warning_fraction)
            else:
                ceilings = limits.run_ceilings(run_id)
                spent = _spent(self.state) if ceilings else {}
                self._account = RunAccount(ceilings, spent=spent, warn_at=limits.warning_fraction)
        return self._account

    def call_info(
        self, role: str, index: int | None = None, *, phase: str = "", escalation: str = ""
    ) -> CallInfo:
        """Who makes the call, its place among ``role``'s calls in the run (by default the next
        one; among its escalated calls if ``escalation`` says why it is one), its phase (by
        default this visit's), and the account it is charged to."""
        if index is None:
            key = counted_as(role, escalated=bool(escalation))
            index = self.state["calls_per_role"].get(key, 0)
        return CallInfo(
            run_id=self.ctx.run_id or "",
            principal=self.ctx.principal,
            index=index,
            phase=phase or self.phase,
            account=self.account,
            escalation=escalation,
        )


Node = Callable[[Visit], Awaitable[Update]]


def visiting(
    name: str, node: Node, limits: Limits, *, kill_check: bool = True
) -> Callable[[AgentState, Runtime[RunContext]], Awaitable[Update]]:
    """The LangGraph node that runs ``node`` in a ``Visit`` (runs whose context gives no limits
    get ``limits``); unless ``kill_check`` is off, a run killed since its last step ends first."""

    async def run(state: AgentState, runtime: Runtime[RunContext]) -> Update:
        ctx = run_context(runtime, state)
        visit = Visit(name, state, ctx, writer_emit(runtime.stream_writer), ctx.limits or limits)
        if kill_check and ctx.ledger is not None:
            reason = await ctx.ledger.killed()
            if reason is not None:
                return visit.move(Status.FAILED, reason, outcome=reason, calls=[])
        return await node(visit)

    run.__name__ = name
    return run


def _spent(state: AgentState) -> dict[str, float]:
    """The dollars (priced calls) and tokens the model calls in ``state`` used."""
    calls = state.get("model_calls", [])
    return {
        "usd": sum(c["cost_usd"] or 0.0 for c in calls),
        "tokens": float(sum(usage_of(c).total for c in calls)),
    }
