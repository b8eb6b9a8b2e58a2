"""Run storage: run records, leases (one writer per run), the exactly-once tool journal, the cost
ledger (with budget reservations), kill flags and feedback on runs."""

from agentlab.store.base import RunStore
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
from agentlab.store.sqlite import SqliteRunStore

__all__ = [
    "Ceiling",
    "CostTotal",
    "DamagedRun",
    "Feedback",
    "Lease",
    "LedgerEntry",
    "Reservation",
    "RunRecord",
    "RunStore",
    "SqliteRunStore",
    "Spent",
]
