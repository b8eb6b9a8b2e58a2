"""The run store in one SQLite file, beside LangGraph's checkpoints (WAL, several processes).

Statements run on the event loop, as the checkpoint saver's do (``orchestration/checkpoints.py``
says why): each is one short autocommit statement, tens of microseconds, and a read opens no
transaction. While another process holds the file's write lock, a write waits for it on the loop
(up to the 30 s busy timeout), as a checkpoint write does. ``in_thread=True`` runs every statement
in a worker thread instead, one at a time, and opens the file on first use: for a LangGraph
server's event loop, which must not block on a file (``served.sqlite``).

Every failure is an ``AgentlabError`` naming the file, its cause and what to do, never a raw
``sqlite3`` error: a ``StorageError`` where the file is intact but cannot be written (a full disk,
a read-only file system, permissions, a lock held too long; ``failures.py``), a
``DamagedDataError`` where it cannot be read (damaged, truncated, not a database).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any, TypeVar

from agentlab.errors import AgentlabError, ConfigError, DamagedDataError, Fix
from agentlab.store.engine import Dialect, Fetch, Params, Statements
from agentlab.store.failures import BACKUP_WARNING, os_failure, sqlite_failure
from agentlab.store.private import private_dir, private_file
from agentlab.store.schema import schema
from agentlab.store.sql import SqlRunStore

T = TypeVar("T")
_BUSY_TIMEOUT_S = 30

# A statement alone holds SQLite's write lock from its first read, and rows keep their rowid.
SQLITE = Dialect(real="REAL", bigint="INTEGER", sequence="", run_order="rowid", for_share="")


def open_sqlite_store(path: Path, *, in_thread: bool = False) -> SqlRunStore[SqliteEngine]:
    """The run store in the SQLite file ``path`` (created with its tables if missing): opened now
    (statements on the event loop), or with ``in_thread``, on first use (statements in a worker
    thread)."""
    return SqlRunStore(SqliteEngine(path, in_thread=in_thread))


def sqlite_connection(path: Path, *, synced: bool = True) -> sqlite3.Connection:
    """A connection to the run store's file ``path``, made with its tables (WAL) if missing, as
    ``open_sqlite_store`` makes it; blocking. With ``synced=False`` its own writes (making the
    file) and the checkpoint as it closes, if it is the last, are not synced to disk: they
    survive the process crashing, not the machine (``PRAGMA synchronous=OFF``)."""
    return _open(path, synced=synced)


class SqliteEngine(Statements):
    """One connection to the file ``path``, in autocommit mode."""

    dialect = SQLITE

    def __init__(self, path: Path, *, in_thread: bool = False) -> None:
        self.path = path
        self.where = str(path)
        self._conn: sqlite3.Connection | None = None
        self._opening = threading.Lock()
        # In threads, one statement (or transaction) at a time uses the connection.
        self._turn = asyncio.Lock() if in_thread else None
        if not in_thread:
            self._conn = _open(path)

    def _connection(self) -> sqlite3.Connection:
        with self._opening:
            if self._conn is None:
                self._conn = _open(self.path)
            return self._conn

    async def _run(self, fetch: Fetch, sql: str, params: Params) -> Any:
        if self._turn is None:
            return self._now(fetch, sql, params)
        async with self._turn:
            return await asyncio.to_thread(self._now, fetch, sql, params)

    def _now(self, fetch: Fetch, sql: str, params: Params) -> Any:
        conn = self._conn or self._connection()
        try:
            cursor = conn.execute(sql, params)
            if fetch == "one":
                return cursor.fetchone()
            if fetch == "all":
                return cursor.fetchall()
            return cursor.rowcount
        except sqlite3.Error as exc:
            raise self._failure(exc) from None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Statements]:
        """``BEGIN IMMEDIATE``: SQLite's write lock, taken before the transaction's first read.
        The body awaits only its statements: on the loop they never yield, so no other coroutine
        uses the connection meanwhile (in threads, the turn keeps them off)."""
        async with self._turn or nullcontext():
            await self._hop(self._now, "count", "BEGIN IMMEDIATE", ())
            try:
                yield _Transaction(self)
            except BaseException:
                await self._hop(self._roll_back)
                raise
            await self._hop(self._commit)

    async def _hop(self, do: Callable[..., T], *args: Any) -> T:
        """``do(*args)`` where this engine runs statements: here, or in a worker thread."""
        if self._turn is None:
            return do(*args)
        return await asyncio.to_thread(do, *args)

    def _commit(self) -> None:
        try:
            self._connection().execute("COMMIT")
        except sqlite3.Error as exc:
            self._roll_back()
            raise self._failure(exc) from None

    def _roll_back(self) -> None:
        """Roll back what SQLite has not rolled back itself already: after some errors (a full
        disk, a trigger's RAISE(ROLLBACK)) it has, and a second ROLLBACK would fail with "no
        transaction is active", hiding the error that ended the transaction."""
        _roll_back(self._connection())

    async def integrity(self) -> list[str]:
        rows = await self.fetchall("PRAGMA integrity_check")
        found = [str(r[0]) for r in rows]
        if found == ["ok"]:
            return []
        return [f"{self.path} failed SQLite's integrity check: {'; '.join(found[:5])}"]

    async def close(self) -> None:
        async with self._turn or nullcontext():
            if self._conn is not None:
                self._conn.close()

    def _failure(self, exc: sqlite3.Error) -> AgentlabError:
        return sqlite_failure(self.path, exc, locked_s=_BUSY_TIMEOUT_S)


class _Transaction(Statements):
    """The statements of a transaction of ``engine`` (which holds its turn meanwhile)."""

    def __init__(self, engine: SqliteEngine) -> None:
        self._engine = engine

    async def _run(self, fetch: Fetch, sql: str, params: Params) -> Any:
        return await self._engine._hop(self._engine._now, fetch, sql, params)


def _roll_back(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with suppress(sqlite3.DatabaseError):  # the error that ended it is the one to report
            conn.execute("ROLLBACK")


def _open(path: Path, *, synced: bool = True) -> sqlite3.Connection:
    try:
        private_dir(path.parent)
    except OSError as exc:
        raise os_failure(path.parent, exc, what="the data directory") or ConfigError(
            f"cannot create the data directory {path.parent} ({exc})", fix=Fix.DATA_DIR
        ) from None
    try:
        _refuse_truncated(path)
        private_file(path)  # before SQLite creates it with the process's umask
    except OSError as exc:
        raise os_failure(path, exc, what="the runs database") or ConfigError(
            f"cannot read the runs database {path} ({exc})", fix=Fix.DATA_DIR
        ) from None
    try:
        conn = sqlite3.connect(
            path, check_same_thread=False, timeout=_BUSY_TIMEOUT_S, isolation_level=None
        )
    except sqlite3.Error as exc:
        raise sqlite_failure(path, exc) from None
    try:
        if not synced:
            conn.execute("PRAGMA synchronous=OFF")  # making the file (WAL) writes, too
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'NORMAL' if synced else 'OFF'}")
        conn.execute("BEGIN")
        try:
            for statement in schema(SQLITE):
                conn.execute(statement)
        except BaseException:
            _roll_back(conn)
            raise
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.close()
        raise sqlite_failure(path, exc) from None
    return conn


def _refuse_truncated(path: Path) -> None:
    """A SQLite file shorter than its header says was cut.

    Only judged while no write-ahead log exists: with one, another connection may be moving pages
    into the file right now (it is then briefly shorter than its header says), and a damaged file
    shows as SQLite's own errors instead. An empty file is a new database: SQLite creates it so,
    and another process may be about to write its first page.
    """
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        return
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    if size < 100:
        raise DamagedDataError(
            f"the runs database {path} is only {size} bytes: it was truncated; restore it from "
            f"a backup (but {BACKUP_WARNING}), or remove it to start afresh"
        )
    with path.open("rb") as f:
        header = f.read(100)
    if not header.startswith(b"SQLite format 3\x00"):
        raise DamagedDataError(
            f"{path} is not a SQLite database: check data_dir (AGENTLAB_DATA_DIR), or move "
            "the file aside"
        )
    page_size = int.from_bytes(header[16:18], "big") or 65536
    pages = int.from_bytes(header[28:32], "big")
    size_valid = header[24:28] == header[92:96]  # else SQLite ignores the size field
    if size_valid and size < page_size * pages and not wal.exists():
        raise DamagedDataError(
            f"the runs database {path} is {size} bytes but its header says "
            f"{page_size * pages}: it was truncated; restore it from a backup (but "
            f"{BACKUP_WARNING}; 'agentlab doctor' checks it)"
        )
