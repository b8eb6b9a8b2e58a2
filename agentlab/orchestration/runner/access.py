"""A Runner's access checks: who may start runs for whom, and act on others' runs.

A ``Runner`` made with an ``identity`` (the CLI's, a notebook's) holds every action to it: a run
is started only for a principal the identity may act as, another principal's run is killed,
resumed or judged only with the right to (``identity.py``), and every decision it takes in is
stamped with who gave it and how. Without one (code embedding agentlab, which speaks with its
own authority) nothing is checked, and decisions are stamped with the OS user.
"""

from __future__ import annotations

from agentlab.config import Settings
from agentlab.orchestration.context import default_principal
from agentlab.orchestration.identity import Identity, NotPermitted, check_manage, may_act_as
from agentlab.orchestration.requests import Decision
from agentlab.orchestration.runner.view import RunView
from agentlab.store import RunRecord


class Access:
    """What a ``Runner`` checks before it acts, for its ``identity``."""

    _settings: Settings
    identity: Identity | None

    def _principal_for(self, principal: str | None) -> tuple[str, str | None]:
        """Who a new run acts for and who starts it: ``principal`` (default: the identity's,
        else the OS user), if the identity may act as it; ``NotPermitted`` otherwise."""
        if self.identity is None:
            return principal or default_principal(), None
        return self._as(principal, "start runs"), self.identity.actor

    def _giver(self, by: str | None) -> str:
        """Who gives a verdict: ``by`` (default: the identity's principal, else the OS user),
        if the identity may act as it; ``NotPermitted`` otherwise."""
        if self.identity is None:
            return by or default_principal()
        return self._as(by, "give feedback")

    def _as(self, wanted: str | None, doing: str) -> str:
        assert self.identity is not None
        principal = wanted or self.identity.principal
        if not may_act_as(self._settings, self.identity.actor, principal):
            raise NotPermitted(
                f"{self.identity.actor} may not {doing} as {principal}: the configuration "
                "grants it no such right ([access] act_as)"
            )
        return principal

    def _check_manage(self, record: RunRecord, what: str) -> None:
        if self.identity is not None:
            actor, run_id = self.identity.actor, record.run_id
            check_manage(self._settings, actor, record.principal, what=what, run_id=run_id)

    def _stamped(self, decision: Decision) -> Decision:
        """``decision`` with who gives it (this runner's identity, else the OS user) and how."""
        stamped = Decision(**decision)
        if self.identity is None:
            stamped["by"], stamped["via"] = default_principal(), decision.get("via") or "api"
        else:
            stamped["by"] = self.identity.actor
            stamped["via"] = decision.get("via") or self.identity.via
        return stamped

    def _approving(self, decision: Decision | list[Decision]) -> bool:
        """Whether any of the decisions approves."""
        decisions = decision if isinstance(decision, list) else [decision]
        return any(d.get("approve") or d.get("happened") for d in decisions)

    async def _named_approver(self, run_id: str, decision: Decision | list[Decision]) -> bool:
        """Whether this runner's identity is, for every decision (each approving), one of the
        approvers the policy names for its request: such an approver may decide on another
        principal's run."""
        if self.identity is None or not self._approving(decision):
            return False
        decisions = decision if isinstance(decision, list) else [decision]
        requests = {r.request_id: r for r in (await self.get(run_id)).requests}
        for each in decisions:
            request = requests.get(str(each.get("request_id")))
            approving = each.get("approve") or each.get("happened")
            if not approving or request is None or request.approvers is None:
                return False
            if self.identity.actor not in request.approvers:
                return False
        return True

    async def get(self, run_id: str) -> RunView:
        raise NotImplementedError
