"""Where a Runner keeps runs: the run store and LangGraph's checkpointer, opened together.

The embedded default is one SQLite file in the data directory (``runs.sqlite``): the run store
(runs, leases, tool journal) and LangGraph's ``SqliteSaver``, both on the event loop (see
``checkpoints.py``), on two connections. ``database_url`` in the settings selects a PostgreSQL
server instead (the ``postgres`` extra): the same run store and LangGraph's
``AsyncPostgresSaver``, each on a small pool of async connections, so that processes on many
machines share the runs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from agentlab.config import Settings
from agentlab.errors import AgentlabError
from agentlab.orchestration.checkpoints import LoopSqliteSaver
from agentlab.store import RunStore
from agentlab.store.engine import postgres_missing
from agentlab.store.failures import sqlite_failure
from agentlab.store.sqlite import open_sqlite_store


@dataclass
class RunDatabase:
    """An open run store and checkpointer; ``close`` closes both."""

    store: RunStore
    saver: BaseCheckpointSaver
    close: Callable[[], Awaitable[None]]
    where: str
    """The file or server, for messages (never a password)."""
    failures: tuple[type[Exception], ...] = ()
    """The engine's errors: raised by the checkpointer, they mean the database failed."""
    named: Callable[[Exception], AgentlabError] | None = None
    """One of ``failures`` as the error it is (a full disk, a lock held too long, damage...)."""


async def open_run_database(settings: Settings) -> RunDatabase:
    """Open (creating if needed) the database ``settings`` name for runs."""
    if settings.database_url is not None:
        return await _open_postgres(settings.database_url.get_secret_value())
    path = settings.checkpoint_path
    store = open_sqlite_store(path)
    try:
        saver = LoopSqliteSaver.open(path)
    except sqlite3.Error as exc:
        await store.close()
        raise sqlite_failure(path, exc) from None

    async def close() -> None:
        saver.close()
        await store.close()

    def named(exc: Exception) -> AgentlabError:
        assert isinstance(exc, sqlite3.Error)
        return sqlite_failure(path, exc)

    return RunDatabase(store, saver, close, str(path), (sqlite3.Error,), named)


# A run's process uses at most two store connections at once (e.g. a journal or status write while
# its lease is renewed; more statements at once wait for one); LangGraph's saver does one thing at
# a time (it holds a lock). So a process holds at most three connections: 30 processes fit
# PostgreSQL's default max_connections (100).
_STORE_CONNECTIONS = 2
_SAVER_CONNECTIONS = 1


async def _open_postgres(url: str) -> RunDatabase:
    try:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg import AsyncConnection
        from psycopg import Error as PostgresError
        from psycopg_pool import PoolTimeout

        from agentlab.orchestration.postgres_saver import FencedPostgresSaver
        from agentlab.store.postgres import open_postgres_store
    except ImportError as exc:
        raise postgres_missing(exc) from None

    async def checkpoint_tables(conn: AsyncConnection[Any]) -> None:
        # LangGraph's own migrations (those AsyncPostgresSaver.setup runs), under the schema
        # lock with the store's: processes starting together on a new database would race.
        await AsyncPostgresSaver(conn).setup()

    store = await open_postgres_store(
        url, pool_size=_STORE_CONNECTIONS, also_migrate=checkpoint_tables
    )
    try:
        pool = await store.engine.langgraph_pool(
            max_size=_SAVER_CONNECTIONS, name="agentlab-checkpoints"
        )
    except BaseException:
        await store.close()
        raise
    saver = FencedPostgresSaver(pool)

    async def close() -> None:
        await pool.close()
        await store.close()

    def named(exc: Exception) -> AgentlabError:
        return store.engine.failure(exc)

    return RunDatabase(store, saver, close, store.where, (PostgresError, PoolTimeout), named)
