"""One execution of a node, and the transitions it records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentlab.events import Emit, StatusChanged
from agentlab.models.base import CallInfo
from agentlab.orchestration.context import RunContext
from agentlab.orchestration.state import AgentState, Status, Transition

Update = dict[str, Any]


@dataclass(frozen=True)
class Visit:
    """One execution of a node: the state it saw, the run's context, and where events go."""

    node: str
    state: AgentState
    ctx: RunContext
    emit: Emit

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

    def call_info(self, role: str, index: int | None = None) -> CallInfo:
        """Who makes the call, and its place among ``role``'s calls in the run (by default the
        next one)."""
        if index is None:
            index = self.state["calls_per_role"].get(role, 0)
        return CallInfo(run_id=self.ctx.run_id or "", principal=self.ctx.principal, index=index)
