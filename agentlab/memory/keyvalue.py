"""Long-term memory's key-value store: LangGraph's ``BaseStore``, opened where the settings say.

Without ``database_url`` it is ``AsyncSqliteStore`` on the file ``data_dir/memory.sqlite``,
private (``0600``, as the runs database), in WAL mode with a 30 s busy timeout so that the
processes of a data directory share it, and with ``secure_delete`` on: what is deleted is
overwritten, and the write-ahead log is truncated after a deletion (``scrub``), so forgetting
leaves no copy in the file. With ``database_url`` it is ``AsyncPostgresStore`` on a small pool
of the same server as the runs. Either way its tables are created (``setup``) by one process at
a time: LangGraph's migrations are not one transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agentlab.errors import AgentlabError, ConfigError, Fix
from agentlab.store.engine import postgres_missing
from agentlab.store.failures import os_failure, sqlite_failure
from agentlab.store.private import private_dir, private_file

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore

    from agentlab.config import Settings

MEMORY_FILE = "memory.sqlite"
WHAT = "the memory database"
_BUSY_TIMEOUT_S = 30
_POOL_SIZE = 2


@dataclass(frozen=True)
class OpenStore:
    """An open ``BaseStore``, with what names its backend's failures (``None`` for errors
    that are not the storage's) and what runs after a deletion (``scrub``)."""

    store: BaseStore
    failure: Callable[[Exception], AgentlabError | None]
    scrub: Callable[[], Awaitable[None]] | None = None
    where: str = ""
    """The file or server, for messages (never a password)."""


def memory_path(settings: Settings) -> Path:
    """The SQLite file of long-term memory's key-value store (without ``database_url``)."""
    return settings.data_dir / MEMORY_FILE


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[OpenStore]:
    """The key-value store ``settings`` name, its tables created; closed on exit."""
    if settings.database_url is not None:
        async with _postgres(settings.database_url.get_secret_value()) as opened:
            yield opened
    else:
        async with _sqlite(memory_path(settings)) as opened:
            yield opened


@asynccontextmanager
async def _sqlite(path: Path) -> AsyncIterator[OpenStore]:
    import aiosqlite
    from langgraph.store.sqlite.aio import AsyncSqliteStore

    def failure(exc: Exception) -> AgentlabError | None:
        if not isinstance(exc, sqlite3.Error):
            return None
        return sqlite_failure(path, exc, locked_s=_BUSY_TIMEOUT_S, what=WHAT)

    try:
        private_dir(path.parent)
        private_file(path)  # before SQLite creates it with the process's umask
    except OSError as exc:
        raise os_failure(path, exc, what=WHAT) or ConfigError(
            f"cannot create {WHAT} {path} ({exc})", fix=Fix.DATA_DIR
        ) from None
    try:
        conn = await aiosqlite.connect(path, isolation_level=None, timeout=_BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise sqlite_failure(path, exc, what=WHAT) from None
    try:
        try:
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "secure_delete=ON"):
                await conn.execute(f"PRAGMA {pragma}")
            store = AsyncSqliteStore(conn)
            async with _setting_up(path):
                await store.setup()
        except sqlite3.Error as exc:
            raise sqlite_failure(path, exc, what=WHAT) from None

        async def scrub() -> None:
            async with store.lock:  # the store's own statements use the connection too
                await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

        yield OpenStore(store, failure, scrub, str(path))
    finally:
        await conn.close()


@asynccontextmanager
async def _setting_up(path: Path) -> AsyncIterator[None]:
    """Hold the lock file beside ``path`` while the tables are created: two processes opening
    a new file together would otherwise both apply LangGraph's migrations."""
    import fcntl  # POSIX: here, so that importing agentlab does not need it

    lock = path.with_name(path.name + ".lock")
    private_file(lock)
    with lock.open("a") as handle:
        await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@asynccontextmanager
async def _postgres(url: str) -> AsyncIterator[OpenStore]:
    try:
        from langgraph.store.postgres.aio import AsyncPostgresStore
        from psycopg import Error as PostgresError

        from agentlab.store.postgres import PostgresEngine
    except ImportError as exc:
        raise postgres_missing(exc) from None

    engine = PostgresEngine(url, pool_size=1)  # names failures; its own pool is never opened
    try:
        async with engine.migrating() as conn:  # under the schema lock the runs' tables use
            await AsyncPostgresStore(conn).setup()
        pool = await engine.langgraph_pool(max_size=_POOL_SIZE, name="agentlab-memory")
    except BaseException:
        await engine.close()
        raise

    def failure(exc: Exception) -> AgentlabError | None:
        # The pool's timeout is one of psycopg's errors too (OperationalError).
        return engine.failure(exc) if isinstance(exc, PostgresError) else None

    try:
        yield OpenStore(AsyncPostgresStore(pool), failure, where=engine.where)
    finally:
        await pool.close()
        await engine.close()
