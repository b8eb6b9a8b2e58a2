"""LangGraph's ``AsyncPostgresSaver``, writing only while the run's lease holds it.

As on SQLite (``checkpoints.py``), a run's config carries its lease token, and a checkpoint or a
step's writes made under a token that no longer holds the run's lease are refused
(``LeaseLostError``), so a process stopped past its lease and taken over does not fork the run.
The check runs on the saver's connection just before the write, not in its transaction (the
saver's writes are pipelined on an autocommit connection): a takeover within those milliseconds
is not caught. Imported only with the ``postgres`` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.postgres import _ainternal
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from agentlab.orchestration.checkpoints import lease_lost, lease_of
from agentlab.store.rows import LEASES

_HELD = f"SELECT 1 FROM {LEASES} WHERE run_id = %s AND token = %s"


class FencedPostgresSaver(AsyncPostgresSaver):
    """``AsyncPostgresSaver`` that checks the run's lease before each write."""

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        await self._hold(config, "a checkpoint")
        return await super().aput(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._hold(config, "a step's writes")
        await super().aput_writes(config, writes, task_id, task_path)

    async def _hold(self, config: RunnableConfig, what: str) -> None:
        held = lease_of(config)
        if held is None:
            return
        run_id, token = held
        async with self.lock, _ainternal.get_connection(self.conn) as conn:
            row = await (await conn.execute(_HELD, (run_id, token))).fetchone()
        if row is None:
            raise lease_lost(run_id, what)
