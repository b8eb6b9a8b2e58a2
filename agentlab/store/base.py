"""The ``RunStore`` seam: where runs, leases, the tool journal, the cost ledger, kill flags and
people's feedback on runs live (SQLite or PostgreSQL).

Run and lease methods block (async callers use a worker thread); journal methods are the
``tools.journal.Journal`` protocol. Every failure to read stored data is a ``DamagedDataError``
naming what to do.
"""

from __future__ import annotations

from typing import Any, Protocol

from agentlab.store.records import (
    Ceiling,
    CostTotal,
    DamagedRun,
    Feedback,
    Lease,
    LedgerEntry,
    Reservation,
    RunRecord,
)
from agentlab.tools.journal import Journal, JournalEntry


class RunStore(Journal, Protocol):
    def create_run(
        self,
        run_id: str,
        *,
        agent: str,
        agent_name: str,
        task: str,
        status: str,
        models: dict[str, Any] | None,
        options: dict[str, Any],
        limits: dict[str, Any],
        principal: str,
        session: str | None,
    ) -> RunRecord: ...

    def set_status(self, run_id: str, status: str, outcome: str = "") -> None: ...

    def get_run(self, run_id: str) -> RunRecord: ...

    def list_runs(
        self, limit: int = 50, *, feedback: str | None = None
    ) -> list[RunRecord | DamagedRun]: ...

    def acquire_lease(self, run_id: str, ttl_s: float) -> Lease: ...

    def renew_lease(self, lease: Lease, ttl_s: float) -> bool: ...

    def release_lease(self, lease: Lease) -> None: ...

    def clear_stale_lease(self, run_id: str) -> None: ...

    def journal(self, run_id: str) -> list[JournalEntry]: ...

    def reserve(self, entry: LedgerEntry, ceilings: list[Ceiling]) -> Reservation: ...

    def settle(self, entry: LedgerEntry) -> None: ...

    def release(self, entry_id: str) -> None: ...

    def ledger(self, run_id: str) -> list[LedgerEntry]: ...

    def cost_totals(self, by: str, since_day: str | None = None) -> list[CostTotal]: ...

    def kill(self, run_id: str, reason: str = "killed") -> None: ...

    def kill_all(self, principal: str, reason: str = "killed") -> list[str]: ...

    def killed(self, run_id: str) -> str | None: ...

    def set_feedback(self, feedback: Feedback) -> None: ...

    def check(self) -> list[str]: ...

    def close(self) -> None: ...
