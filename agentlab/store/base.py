"""The ``RunStore`` seam: where runs, leases, the tool journal, the cost ledger, kill flags,
people's feedback on runs and conversation sessions live (SQLite or PostgreSQL).

Every method is async; the journal's are the ``tools.journal.Journal`` protocol. One class
implements it for every SQL engine (``sql.SqlRunStore``). Every failure to read stored data is a
``DamagedDataError`` naming what to do.
"""

from __future__ import annotations

from typing import Any, Protocol

from agentlab.store.conversations import ConversationTurn, SessionRecord, Summary
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
    @property
    def where(self) -> str:
        """The file or server, for messages (never a password)."""
        ...

    async def create_run(
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

    async def set_status(
        self, run_id: str, status: str, outcome: str = "", *, lease: str | None = None
    ) -> None: ...

    async def get_run(self, run_id: str) -> RunRecord: ...

    async def list_runs(
        self, limit: int = 50, *, feedback: str | None = None
    ) -> list[RunRecord | DamagedRun]: ...

    async def acquire_lease(self, run_id: str, ttl_s: float, *, force: bool = False) -> Lease: ...

    async def renew_lease(self, lease: Lease, ttl_s: float) -> bool: ...

    async def release_lease(self, lease: Lease) -> None: ...

    async def clear_stale_lease(self, run_id: str) -> None: ...

    async def journal(self, run_id: str) -> list[JournalEntry]: ...

    async def reserve(self, entry: LedgerEntry, ceilings: list[Ceiling]) -> Reservation: ...

    async def settle(self, entry: LedgerEntry) -> None: ...

    async def record(self, entry: LedgerEntry) -> None: ...

    async def release(self, entry_id: str) -> None: ...

    async def ledger(self, run_id: str) -> list[LedgerEntry]: ...

    async def cost_totals(self, by: str, since_day: str | None = None) -> list[CostTotal]: ...

    async def kill(self, run_id: str, reason: str = "killed") -> None: ...

    async def kill_all(self, principal: str, reason: str = "killed") -> list[str]: ...

    async def killed(self, run_id: str) -> str | None: ...

    async def set_feedback(self, feedback: Feedback) -> None: ...

    async def open_session(
        self, session_id: str, *, principal: str, agent: str, agent_name: str
    ) -> SessionRecord: ...

    async def get_session(self, session_id: str) -> SessionRecord: ...

    async def list_sessions(self, limit: int = 50) -> list[SessionRecord]: ...

    async def open_turns(self, session_id: str) -> list[RunRecord]: ...

    async def append_turn(self, turn: ConversationTurn) -> bool: ...

    async def turn_of_run(self, run_id: str) -> ConversationTurn | None: ...

    async def session_turns(
        self,
        session_id: str,
        *,
        after: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[ConversationTurn]: ...

    async def turn_count(self, session_id: str) -> int: ...

    async def save_summary(self, session_id: str, summary: Summary) -> None: ...

    async def latest_summary(self, session_id: str) -> Summary | None: ...

    async def check(self) -> list[str]: ...

    async def close(self) -> None: ...
