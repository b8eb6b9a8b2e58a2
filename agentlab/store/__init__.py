"""Run storage: run records, leases (one writer per run), the exactly-once tool journal, the cost
ledger (with budget reservations), kill flags, feedback on runs and conversation sessions; one
``SqlRunStore`` on SQLite (``open_sqlite_store``) or PostgreSQL
(``store.postgres.open_postgres_store``)."""

from agentlab.store.base import RunStore
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
    Spent,
)
from agentlab.store.sql import SqlRunStore
from agentlab.store.sqlite import open_sqlite_store

__all__ = [
    "Ceiling",
    "ConversationTurn",
    "CostTotal",
    "DamagedRun",
    "Feedback",
    "Lease",
    "LedgerEntry",
    "Reservation",
    "RunRecord",
    "RunStore",
    "SessionRecord",
    "SqlRunStore",
    "Spent",
    "Summary",
    "open_sqlite_store",
]
