"""The run store in one SQLite file, beside LangGraph's checkpoints: runs, leases, tool journal.

Its methods block. Async code calls the run and lease methods in a worker thread, so that the event
loop stays free to finish checkpoint writes that may hold the database's write lock meanwhile; the
journal's methods run on the loop (each is one short transaction, as checkpoint writes are).

Every failure to read the file (damaged, truncated, not a database) is a ``DamagedDataError``
naming the file and what to do, never a raw ``sqlite3`` error.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agentlab.errors import ConfigError, DamagedDataError, RunBusyError, RunNotFoundError
from agentlab.store.records import (
    Ceiling,
    CostTotal,
    DamagedRun,
    Feedback,
    Lease,
    LedgerEntry,
    Reservation,
    RunRecord,
    this_host,
)
from agentlab.store.rows import (
    ALL_CALLS,
    ALL_LEASES,
    COLUMNS,
    FEEDBACK_TABLE,
    FROM_RUNS,
    JOURNAL,
    JOURNAL_COLUMNS,
    KILLED,
    KILLS,
    LEASES,
    LEDGER,
    LEDGER_INDEXES,
    LIVE_RUNS_OF,
    OPEN_CALLS,
    ORPHANED_CALLS,
    RELEASE_ENTRY,
    RUN_ENTRIES,
    RUNS,
    SET_FEEDBACK,
    SETTLE_ENTRY,
    WITH_FEEDBACK,
    clock,
    entry_from_row,
    entry_of,
    feedback_values,
    now_text,
    problems,
    record_from_row,
    reserve_in,
    settle_params,
    total_of,
    totals_query,
)
from agentlab.tools.journal import JournalEntry, LeaseLostError
from agentlab.tools.tool import ToolOutcome

_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {RUNS} (
        run_id TEXT PRIMARY KEY,
        agent TEXT NOT NULL,
        agent_name TEXT NOT NULL,
        task TEXT NOT NULL,
        status TEXT NOT NULL,
        outcome TEXT NOT NULL DEFAULT '',
        models TEXT NOT NULL,
        options TEXT NOT NULL,
        limits TEXT NOT NULL,
        principal TEXT NOT NULL,
        session TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    f"""CREATE TABLE IF NOT EXISTS {LEASES} (
        run_id TEXT PRIMARY KEY,
        token TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        acquired_at REAL NOT NULL,
        expires_at REAL NOT NULL
    )""",
    f"""CREATE TABLE IF NOT EXISTS {JOURNAL} (
        run_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        tool TEXT NOT NULL,
        call_hash TEXT NOT NULL,
        arguments TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        outcome TEXT,
        started_at REAL NOT NULL,
        finished_at REAL,
        PRIMARY KEY (run_id, call_id)
    )""",
    f"""CREATE TABLE IF NOT EXISTS {LEDGER} (
        entry_id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        agent TEXT NOT NULL,
        principal TEXT NOT NULL,
        session TEXT,
        phase TEXT NOT NULL,
        role TEXT NOT NULL,
        model TEXT NOT NULL,
        provider TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        cost_usd REAL,
        reserved_usd REAL NOT NULL,
        reserved_tokens INTEGER NOT NULL,
        settled INTEGER NOT NULL,
        created_at REAL NOT NULL,
        day TEXT NOT NULL
    )""",
    *LEDGER_INDEXES,
    f"""CREATE TABLE IF NOT EXISTS {KILLS} (
        run_id TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        killed_at REAL NOT NULL
    )""",
    FEEDBACK_TABLE,
)


class SqliteRunStore:
    """Runs, leases and the tool journal in the SQLite file ``path`` (WAL, several processes).

    Safe to call from several threads (one at a time).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn = self._open(path)

    # -- opening and checking ------------------------------------------------------------------

    def _open(self, path: Path) -> sqlite3.Connection:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the data directory {path.parent}: {exc}; set data_dir "
                "(AGENTLAB_DATA_DIR) to a writable directory"
            ) from None
        _refuse_truncated(path)
        try:
            conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise ConfigError(
                f"cannot open the runs database {path}: {exc}; set data_dir "
                "(AGENTLAB_DATA_DIR) to a writable directory"
            ) from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            with _transaction(conn):
                for statement in _SCHEMA:
                    conn.execute(statement)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise damaged_database(path, exc) from None
        return conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _use(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection, in a transaction, with SQLite's errors turned into ours."""
        with self._lock:
            try:
                with _transaction(self._conn, immediate=immediate):
                    yield self._conn
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise DamagedDataError(
                        f"the runs database {self.path} stayed locked for 30 s by another "
                        "process: try again, or find the process holding it"
                    ) from None
                raise damaged_database(self.path, exc) from None
            except sqlite3.DatabaseError as exc:
                raise damaged_database(self.path, exc) from None

    # -- runs ----------------------------------------------------------------------------------

    def create_run(
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
    ) -> RunRecord:
        now = now_text()
        with self._use() as conn:
            conn.execute(
                f"INSERT INTO {RUNS} (run_id, agent, agent_name, task, status, outcome, models, "
                "options, limits, principal, session, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    agent,
                    agent_name,
                    task,
                    status,
                    json.dumps(models),
                    json.dumps(options),
                    json.dumps(limits),
                    principal,
                    session,
                    now,
                    now,
                ),
            )
        return self.get_run(run_id)

    def set_status(self, run_id: str, status: str, outcome: str = "") -> None:
        with self._use() as conn:
            conn.execute(
                f"UPDATE {RUNS} SET status = ?, outcome = ?, updated_at = ? WHERE run_id = ?",
                (status, outcome, now_text(), run_id),
            )

    def get_run(self, run_id: str) -> RunRecord:
        with self._use() as conn:
            row = conn.execute(f"SELECT {COLUMNS} FROM {FROM_RUNS} WHERE r.run_id = ?", (run_id,))
            found = row.fetchone()
        if found is None:
            raise RunNotFoundError(f"no run {run_id!r}: 'agentlab runs' lists the runs there are")
        record = record_from_row(found)
        if isinstance(record, DamagedRun):
            raise DamagedDataError(
                f"run {run_id}'s record in {self.path} is damaged ({record.problem}): it cannot "
                "be shown or resumed; 'agentlab doctor' checks the database"
            )
        return record

    def list_runs(
        self, limit: int = 50, *, feedback: str | None = None
    ) -> list[RunRecord | DamagedRun]:
        """The most recent runs first (only those whose feedback is ``feedback``, if given); a
        row that cannot be read is a ``DamagedRun``."""
        where = "" if feedback is None else f"{WITH_FEEDBACK} "
        params: tuple[Any, ...] = (limit,) if feedback is None else (feedback, limit)
        with self._use() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM {FROM_RUNS} {where}"
                "ORDER BY r.created_at DESC, r.rowid DESC LIMIT ?",
                params,
            ).fetchall()
        return [record_from_row(r) for r in rows]

    # -- leases --------------------------------------------------------------------------------

    def acquire_lease(self, run_id: str, ttl_s: float) -> Lease:
        """Claim ``run_id`` for this process for ``ttl_s`` seconds; a live claim of another
        process is a ``RunBusyError`` naming it, an expired (or dead) one is taken over."""
        host, pid = this_host()
        lease = Lease(run_id, uuid.uuid4().hex, host, pid, time.time() + ttl_s)
        with self._use(immediate=True) as conn:
            row = conn.execute(
                f"SELECT token, host, pid, expires_at FROM {LEASES} WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is not None:
                held = Lease(run_id, *row)
                if held.live():
                    raise RunBusyError(
                        f"run {run_id} is being advanced by process {held.holder} (lease until "
                        f"{clock(held.expires_at)}): wait for it to pause or end, then try again"
                    )
            conn.execute(
                f"INSERT OR REPLACE INTO {LEASES} "
                "(run_id, token, host, pid, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, lease.token, host, pid, time.time(), lease.expires_at),
            )
        return lease

    def renew_lease(self, lease: Lease, ttl_s: float) -> bool:
        """Extend ``lease``; ``False`` if it was lost (expired and taken over)."""
        with self._use() as conn:
            changed = conn.execute(
                f"UPDATE {LEASES} SET expires_at = ? WHERE run_id = ? AND token = ?",
                (time.time() + ttl_s, lease.run_id, lease.token),
            ).rowcount
        return changed == 1

    def release_lease(self, lease: Lease) -> None:
        with self._use() as conn:
            conn.execute(
                f"DELETE FROM {LEASES} WHERE run_id = ? AND token = ?", (lease.run_id, lease.token)
            )

    def clear_stale_lease(self, run_id: str) -> None:
        """Forget a dead process's claim on a run that has since been found settled."""
        with self._use(immediate=True) as conn:
            row = conn.execute(
                f"SELECT token, host, pid, expires_at FROM {LEASES} WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is not None and not Lease(run_id, *row).live():
                conn.execute(f"DELETE FROM {LEASES} WHERE run_id = ?", (run_id,))

    # -- the tool journal (tools.journal.Journal) ---------------------------------------------
    # The async methods run their statement on the event loop (each is one short transaction,
    # as checkpoint writes are); the sync ones are for callers that must not block a loop.

    async def entry(self, run_id: str, call_id: str) -> JournalEntry | None:
        return self.journal_entry(run_id, call_id)

    async def start(
        self,
        run_id: str,
        call_id: str,
        *,
        tool: str,
        call_hash: str,
        arguments: Any,
        attempt: int,
        lease: str | None,
    ) -> None:
        self.journal_start(
            run_id,
            call_id,
            tool=tool,
            call_hash=call_hash,
            arguments=arguments,
            attempt=attempt,
            lease=lease,
        )

    async def finish(self, run_id: str, call_id: str, attempt: int, outcome: ToolOutcome) -> None:
        self.journal_finish(run_id, call_id, attempt, outcome)

    def journal_entry(self, run_id: str, call_id: str) -> JournalEntry | None:
        with self._use() as conn:
            row = conn.execute(
                f"SELECT {JOURNAL_COLUMNS} FROM {JOURNAL} WHERE run_id = ? AND call_id = ?",
                (run_id, call_id),
            ).fetchone()
        return None if row is None else entry_from_row(row)

    def journal_start(
        self,
        run_id: str,
        call_id: str,
        *,
        tool: str,
        call_hash: str,
        arguments: Any,
        attempt: int,
        lease: str | None,
    ) -> None:
        with self._use(immediate=True) as conn:
            if lease is not None:
                row = conn.execute(
                    f"SELECT token, expires_at FROM {LEASES} WHERE run_id = ?", (run_id,)
                ).fetchone()
                if row is None or row[0] != lease or row[1] <= time.time():
                    raise LeaseLostError(
                        f"this process no longer holds run {run_id}'s lease, so it did not "
                        f"start {tool} (call {call_id}): another process may be advancing the run"
                    )
            conn.execute(
                f"INSERT OR REPLACE INTO {JOURNAL} ({JOURNAL_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, NULL, ?, NULL)",
                (
                    run_id,
                    call_id,
                    tool,
                    call_hash,
                    json.dumps(arguments, default=str),
                    attempt,
                    time.time(),
                ),
            )

    def journal_finish(self, run_id: str, call_id: str, attempt: int, outcome: ToolOutcome) -> None:
        with self._use() as conn:
            conn.execute(
                f"UPDATE {JOURNAL} SET outcome = ?, finished_at = ? "
                "WHERE run_id = ? AND call_id = ? AND attempt = ?",
                (json.dumps(outcome, default=str), time.time(), run_id, call_id, attempt),
            )

    def journal(self, run_id: str) -> list[JournalEntry]:
        """The journaled calls of ``run_id``, in the order they started."""
        with self._use() as conn:
            rows = conn.execute(
                f"SELECT {JOURNAL_COLUMNS} FROM {JOURNAL} WHERE run_id = ? ORDER BY started_at",
                (run_id,),
            ).fetchall()
        return [entry_from_row(r) for r in rows]

    # -- the cost ledger and budgets ------------------------------------------------------------

    def reserve(self, entry: LedgerEntry, ceilings: list[Ceiling]) -> Reservation:
        """Reserve a model call at its worst case unless that could cross a ceiling: the sums
        and the insert run under SQLite's write lock (BEGIN IMMEDIATE), so no other process
        reserves in between."""
        with self._use(immediate=bool(ceilings)) as conn:
            return reserve_in(conn.execute, entry, ceilings, time.time())

    def settle(self, entry: LedgerEntry) -> None:
        """Record what the reserved call ``entry.entry_id`` actually used and cost."""
        with self._use() as conn:
            conn.execute(SETTLE_ENTRY, settle_params(entry))

    def release(self, entry_id: str) -> None:
        """Drop the reservation of a call that was not made or failed."""
        with self._use() as conn:
            conn.execute(RELEASE_ENTRY, (entry_id,))

    def ledger(self, run_id: str) -> list[LedgerEntry]:
        """The run's model calls in the ledger, in the order they were made."""
        with self._use() as conn:
            rows = conn.execute(RUN_ENTRIES, (run_id,)).fetchall()
        return [entry_of(r) for r in rows]

    def cost_totals(self, by: str, since_day: str | None = None) -> list[CostTotal]:
        """Settled calls' tokens and dollars per agent, principal, session, day or run."""
        sql, params = totals_query(by, since_day)
        with self._use() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [total_of(r) for r in rows]

    # -- kills ---------------------------------------------------------------------------------

    def kill(self, run_id: str, reason: str = "killed") -> None:
        """Flag ``run_id``: the process advancing it stops at its next step."""
        self.get_run(run_id)  # an unknown run is a RunNotFoundError
        with self._use() as conn:
            conn.execute(
                f"INSERT OR IGNORE INTO {KILLS} (run_id, reason, killed_at) VALUES (?, ?, ?)",
                (run_id, reason, time.time()),
            )

    def kill_all(self, principal: str, reason: str = "killed") -> list[str]:
        """Flag every run of ``principal`` that has not ended; return their ids."""
        with self._use(immediate=True) as conn:
            ids = [r[0] for r in conn.execute(LIVE_RUNS_OF, (principal,)).fetchall()]
            conn.executemany(
                f"INSERT OR IGNORE INTO {KILLS} (run_id, reason, killed_at) VALUES (?, ?, ?)",
                [(run_id, reason, time.time()) for run_id in ids],
            )
        return ids

    def killed(self, run_id: str) -> str | None:
        """Why ``run_id`` was killed, or ``None`` if it was not (one primary-key lookup)."""
        with self._use() as conn:
            row = conn.execute(KILLED, (run_id,)).fetchone()
        return None if row is None else str(row[0])

    # -- feedback ------------------------------------------------------------------------------

    def set_feedback(self, feedback: Feedback) -> None:
        """Keep a person's verdict on ``feedback.run_id``, replacing any given before."""
        self.get_run(feedback.run_id)  # an unknown run is a RunNotFoundError
        with self._use() as conn:
            conn.execute(SET_FEEDBACK, feedback_values(feedback))

    # -- checks (agentlab doctor) -----------------------------------------------------------------

    def check(self) -> list[str]:
        """Problems found in the database: its integrity, unreadable rows, journal entries of no
        run or with no outcome while nothing advances their run, and leases of dead processes."""
        with self._use() as conn:
            integrity = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
            if integrity != ["ok"]:
                return [f"{self.path} failed SQLite's integrity check: {'; '.join(integrity[:5])}"]
            orphans = conn.execute(ORPHANED_CALLS).fetchall()
            open_calls = conn.execute(OPEN_CALLS).fetchall()
            leases = conn.execute(ALL_LEASES).fetchall()
            calls = conn.execute(ALL_CALLS).fetchall()
        return problems(orphans, open_calls, leases, self.list_runs(limit=1_000_000), calls)


@contextmanager
def _transaction(conn: sqlite3.Connection, *, immediate: bool = False) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def damaged_database(path: Path, exc: sqlite3.Error) -> DamagedDataError:
    """The error for a runs database SQLite cannot read."""
    return DamagedDataError(
        f"the runs database {path} cannot be read ({exc}): it is damaged or not an agentlab "
        "database; 'agentlab doctor' checks it; restore it from a backup, or move it aside to "
        "start afresh (its runs are then lost)"
    )


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
            "a backup, or remove it to start afresh"
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
            f"{page_size * pages}: it was truncated; restore it from a backup ('agentlab doctor' "
            "checks it)"
        )


class LazySqliteJournal:
    """A ``Journal`` in the SQLite file ``path``, opened on the first journaled call: for graphs a
    LangGraph server runs (their checkpoints live in the server; their journal lives here). Every
    operation runs in a worker thread: a server's event loop must not block on a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._store: SqliteRunStore | None = None
        self._opening = threading.Lock()

    def _open(self) -> SqliteRunStore:
        with self._opening:
            if self._store is None:
                self._store = SqliteRunStore(self.path)
            return self._store

    async def entry(self, run_id: str, call_id: str) -> JournalEntry | None:
        return await asyncio.to_thread(lambda: self._open().journal_entry(run_id, call_id))

    async def start(
        self,
        run_id: str,
        call_id: str,
        *,
        tool: str,
        call_hash: str,
        arguments: Any,
        attempt: int,
        lease: str | None,
    ) -> None:
        await asyncio.to_thread(
            lambda: self._open().journal_start(
                run_id,
                call_id,
                tool=tool,
                call_hash=call_hash,
                arguments=arguments,
                attempt=attempt,
                lease=lease,
            )
        )

    async def finish(self, run_id: str, call_id: str, attempt: int, outcome: ToolOutcome) -> None:
        await asyncio.to_thread(
            lambda: self._open().journal_finish(run_id, call_id, attempt, outcome)
        )
