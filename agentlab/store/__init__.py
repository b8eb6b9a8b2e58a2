"""Run storage: run records, leases (one writer per run) and the exactly-once tool journal."""

from agentlab.store.base import RunStore
from agentlab.store.records import DamagedRun, Lease, RunRecord
from agentlab.store.sqlite import SqliteRunStore

__all__ = ["DamagedRun", "Lease", "RunRecord", "RunStore", "SqliteRunStore"]
