"""The run store on a PostgreSQL server, shared by every process and machine pointing at it
(``database_url``): the same tables and SQL as on SQLite (``sql.py``).

Statements run on psycopg's async connection pool (autocommit: each write is one round trip and
one commit). Transactions (a reservation checked against ceilings, ``kill --all``) hold an
advisory lock, so they run one at a time as SQLite's write lock makes them; the lease a call is
journaled under is read ``FOR SHARE`` in the statement that journals it, so a run cannot be taken
over between the check and the entry. Tables are created under the schema lock
(``migrating``), which LangGraph's migrations take too.

A server that cannot be reached is a ``ConfigError`` on opening, a ``DamagedDataError`` later,
each saying what to check; a server whose disk is full, that is read-only (a standby) or that
refuses this user a write is the ``StorageError`` naming that (by SQLSTATE). No message shows the
URL's password.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from agentlab.config import masked_url
from agentlab.errors import (
    AgentlabError,
    ConfigError,
    DamagedDataError,
    DatabaseLockedError,
    DiskFullError,
    Fix,
    ReadOnlyStorageError,
    StoragePermissionError,
)
from agentlab.store.engine import Dialect, Fetch, Params, Statements
from agentlab.store.schema import schema
from agentlab.store.sql import SqlRunStore

# ``seq`` orders runs created in the same second.
POSTGRES = Dialect(
    real="DOUBLE PRECISION",
    bigint="BIGINT",
    sequence=",\n        seq BIGINT GENERATED ALWAYS AS IDENTITY",
    run_order="seq",
    for_share=" FOR SHARE",
)
_SCHEMA_LOCK = 0x6167656E746C6162  # "agentlab": the advisory lock held while tables are created
# Held by each transaction (for its duration): two processes of one principal cannot both pass a
# ceiling only one fits under.
_WRITE_LOCK = 0x6167656E74627564
_CONNECT_TIMEOUT_S = 10
# SQLSTATEs of failures that leave the data intact: disk full, a read-only transaction (a
# standby), insufficient privilege, lock not available.
_DISK_FULL = ("53100",)
_READ_ONLY = "25006"
_DENIED = "42501"
_LOCKED = ("55P03",)

Connection = psycopg.AsyncConnection[Any]


async def open_postgres_store(
    url: str,
    *,
    pool_size: int = 2,
    also_migrate: Callable[[Connection], Awaitable[None]] | None = None,
) -> SqlRunStore[PostgresEngine]:
    """The run store on the server ``url`` names (tables created if missing), on a pool of at
    most ``pool_size`` connections. ``also_migrate`` creates other tables (LangGraph's) under the
    same schema lock."""
    engine = PostgresEngine(url, pool_size=pool_size)
    async with engine.migrating() as conn:
        for statement in schema(POSTGRES):
            await conn.execute(statement)
        if also_migrate is not None:
            await also_migrate(conn)
    await engine.open()
    return SqlRunStore(engine)


class PostgresEngine(Statements):
    """A pool of connections to the server ``url`` names (opened by ``open``)."""

    dialect = POSTGRES

    def __init__(self, url: str, *, pool_size: int) -> None:
        self._url = url
        self._password = str(conninfo_to_dict(url).get("password") or "")
        self.where = masked_url(url)
        self._pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs=_connect_options(),
            open=False,
            name="agentlab-runs",
        )

    async def open(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=_CONNECT_TIMEOUT_S)
        except psycopg.OperationalError as exc:
            await self._pool.close()
            raise self.unreachable(exc) from None

    async def close(self) -> None:
        await self._pool.close()

    async def langgraph_pool(
        self, *, max_size: int, name: str
    ) -> AsyncConnectionPool[psycopg.AsyncConnection[DictRow]]:
        """An open pool of at most ``max_size`` connections to this server, as LangGraph's
        PostgreSQL classes (its checkpointer, its store) expect them: autocommit, no prepared
        statements, rows as dicts. A server that cannot be reached is ``unreachable``."""
        pool = AsyncConnectionPool(
            self._url,
            connection_class=psycopg.AsyncConnection[DictRow],
            min_size=1,
            max_size=max_size,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            open=False,
            name=name,
        )
        try:
            await pool.open(wait=True, timeout=_CONNECT_TIMEOUT_S)
        except psycopg.OperationalError as exc:
            await pool.close()
            raise self.unreachable(exc) from None
        return pool

    @asynccontextmanager
    async def migrating(self) -> AsyncIterator[Connection]:
        """A connection of its own (autocommit) holding the database's schema lock: one process
        at a time creates or migrates tables, so processes starting together on a new database
        do not race to create the same ones."""
        try:
            conn = await psycopg.AsyncConnection.connect(self._url, **_connect_options())
        except psycopg.OperationalError as exc:
            raise ConfigError(
                f"cannot connect to the runs database {self.where} ({self._reason(exc)}): is the "
                "PostgreSQL server running and reachable, and are the URL's host, port, database, "
                "user and password right? database_url (AGENTLAB_DATABASE_URL) names it"
            ) from None
        try:
            async with conn:
                if not await _lock_schema(conn):
                    raise ConfigError(
                        f"the runs database {self.where} stayed locked for 60 s by another "
                        "process creating its tables: try again, or find the process holding "
                        "it (pg_locks, advisory lock)"
                    )
                yield conn
        except psycopg.Error as exc:
            raise ConfigError(
                f"cannot set up the runs database {self.where} ({self._reason(exc)}): its user "
                "must be allowed to create tables in it (own the database, or be granted CREATE "
                "on its schema)"
            ) from None

    async def _run(self, fetch: Fetch, sql: str, params: Params) -> Any:
        try:
            async with self._pool.connection() as conn:
                return await _fetch(conn, fetch, sql, params)
        except psycopg.Error as exc:
            raise self.failure(exc) from None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Statements]:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
                yield _Transaction(self, conn)
        except psycopg.Error as exc:
            raise self.failure(exc) from None

    async def integrity(self) -> list[str]:
        return []  # PostgreSQL guards its own pages; pg_amcheck checks them in depth

    def unreachable(self, exc: Exception) -> DamagedDataError:
        """The error for the server gone away (also for the checkpointer on it)."""
        return DamagedDataError(
            f"the runs database {self.where} cannot be reached ({self._reason(exc)}): is the "
            "PostgreSQL server running, and does it accept more connections? Try again once it "
            "does; 'agentlab doctor' checks the database"
        )

    def failure(self, exc: Exception) -> AgentlabError:
        """The error for ``exc``, raised by psycopg on this database (also by the
        checkpointer's connections to it), named for its cause."""
        reason = self._reason(exc)
        state = getattr(exc, "sqlstate", None)
        if state in _DISK_FULL:
            return DiskFullError(
                f"disk full: the runs database {self.where} could not be written ({reason}); "
                "free space on the PostgreSQL server's data disk",
                fix=Fix.AGAIN,
            )
        if state == _READ_ONLY:
            return ReadOnlyStorageError(
                f"read-only database: the runs database {self.where} could not be written "
                f"({reason}); point database_url at the primary server, not a read-only standby "
                "(or unset default_transaction_read_only)",
                fix=Fix.AGAIN,
            )
        if state == _DENIED:
            return StoragePermissionError(
                f"permission denied: the runs database {self.where} could not be written "
                f"({reason}); grant the URL's user write access to agentlab's tables",
                fix=Fix.AGAIN,
            )
        if state in _LOCKED:
            return DatabaseLockedError(
                f"database locked: the runs database {self.where} was locked by another session "
                f"({reason}); find it in pg_locks",
                fix=Fix.AGAIN,
            )
        if isinstance(exc, psycopg.OperationalError):  # also the pool's timeout
            return self.unreachable(exc)
        return DamagedDataError(
            f"the runs database {self.where} failed ({self._reason(exc)}): is it an agentlab "
            "database? 'agentlab doctor' checks it"
        )

    def _reason(self, exc: Exception) -> str:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return reason.replace(self._password, "***") if self._password else reason


class _Transaction(Statements):
    """The statements of one transaction, on its connection."""

    def __init__(self, engine: PostgresEngine, conn: Connection) -> None:
        self._engine = engine
        self._conn = conn

    async def _run(self, fetch: Fetch, sql: str, params: Params) -> Any:
        try:
            return await _fetch(self._conn, fetch, sql, params)
        except psycopg.Error as exc:
            raise self._engine.failure(exc) from None


async def _fetch(conn: Connection, fetch: Fetch, sql: str, params: Params) -> Any:
    cursor = await conn.execute(_placeholders(sql), params)
    if fetch == "one":
        return await cursor.fetchone()
    if fetch == "all":
        return await cursor.fetchall()
    return cursor.rowcount


@lru_cache(maxsize=256)
def _placeholders(sql: str) -> str:
    """The store's SQL (``?`` placeholders) in psycopg's."""
    return sql.replace("%", "%%").replace("?", "%s")


def _connect_options() -> dict[str, Any]:
    return {
        "autocommit": True,  # transactions are explicit: conn.transaction()
        "connect_timeout": _CONNECT_TIMEOUT_S,
        "application_name": "agentlab",
    }


async def _lock_schema(conn: Connection, timeout_s: float = 60) -> bool:
    """Take the schema lock (until ``conn`` closes); ``False`` if it stayed held. It is polled: a
    lock request that waits holds a snapshot, which the holder's ``CREATE INDEX CONCURRENTLY`` (in
    LangGraph's migrations) would wait for in turn."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (_SCHEMA_LOCK,))
        row = await cursor.fetchone()
        if row is not None and row[0]:
            return True
        await asyncio.sleep(0.05)
    return False
