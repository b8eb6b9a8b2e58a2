"""Where runs are checkpointed on one machine: LangGraph's ``SqliteSaver``, awaited on the loop,
writing only while the run's lease holds it.

LangGraph's ``AsyncSqliteSaver`` sends each statement to aiosqlite's thread and back: about 14
thread round trips per step, which more than doubled agentlab's per-step cost
(``benchmarks/overhead.py``). ``LoopSqliteSaver`` runs the sync saver's methods directly instead.
Each write (WAL, ``synchronous=NORMAL``) holds the event loop for tens of microseconds, and while
another process holds the database's write lock, for as long as it does (bounded by the busy
timeout): right for a CLI or a notebook driving a few runs; a server with many concurrent runs
should use ``AsyncSqliteSaver`` or PostgreSQL.

Fencing: a run's config carries its lease token (``LEASE_KEY``; the ``Runner`` sets it), and each
checkpoint and each write is made in a transaction that first checks, under SQLite's write lock,
that the token still holds the run's lease. A process stopped past its lease and taken over
(``agentlab resume --force``) so writes nothing when it continues: its run does not fork.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.sqlite import SqliteSaver

from agentlab.store.rows import LEASES
from agentlab.tools.journal import LeaseLostError

LEASE_KEY = "__agentlab_lease"
"""The config key of the lease token a run's checkpoints are written under (``__``: LangGraph
keeps it out of the checkpoints' metadata)."""
_HELD = f"SELECT 1 FROM {LEASES} WHERE run_id = ? AND token = ?"


class LoopSqliteSaver(SqliteSaver):
    """``SqliteSaver`` whose async methods call its sync ones on the event loop."""

    @classmethod
    def open(cls, path: Path) -> LoopSqliteSaver:
        """A saver over the SQLite file ``path`` (WAL), with its tables created."""
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        saver = cls(conn)
        saver.setup()
        return saver

    def close(self) -> None:
        self.conn.close()

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.get_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        for item in self.list(config, filter=filter, before=before, limit=limit):
            yield item

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        self._hold(config, "a checkpoint")
        try:
            return super().put(config, checkpoint, metadata, new_versions)
        except BaseException:
            self._let_go()
            raise

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._hold(config, "a step's writes")
        try:
            super().put_writes(config, writes, task_id, task_path)
        except BaseException:
            self._let_go()
            raise

    def _let_go(self) -> None:
        """Roll back a write that failed before the saver committed it (serializing it, say):
        its transaction holds SQLite's write lock until then."""
        if self.conn.in_transaction:
            self.conn.rollback()

    def _hold(self, config: RunnableConfig, what: str) -> None:
        """Open the write's transaction (holding SQLite's write lock) if the config's lease still
        holds its run; ``LeaseLostError`` otherwise. The saver's write then commits it."""
        held = lease_of(config)
        if held is None:
            return
        run_id, token = held
        if self.conn.in_transaction:
            self.conn.commit()  # nothing of ours is pending: the saver commits each write
        self.conn.execute("BEGIN IMMEDIATE")
        if self.conn.execute(_HELD, (run_id, token)).fetchone() is None:
            self.conn.rollback()
            raise lease_lost(run_id, what)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        self.delete_thread(thread_id)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, Any]:
        return self.get_delta_channel_history(config=config, channels=channels)


def lease_of(config: RunnableConfig) -> tuple[str, str] | None:
    """The run and lease token a write under ``config`` is made for (``None``: not leased)."""
    configurable = config.get("configurable") or {}
    token = configurable.get(LEASE_KEY)
    return None if token is None else (str(configurable["thread_id"]), str(token))


def lease_lost(run_id: str, what: str) -> LeaseLostError:
    return LeaseLostError(
        f"this process no longer holds run {run_id}'s lease, so it did not write {what}: "
        "another process took the run over"
    )
