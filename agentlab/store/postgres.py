"""The run store on a PostgreSQL server: runs, leases and the tool journal, shared by every process
and machine pointing at it (``database_url``). Same tables and meaning as ``sqlite.py``.

Its methods block, on a small pool of psycopg connections; the journal's async methods run them in
a worker thread. (Measured: as fast per call as psycopg's async connection, whose round trips go
through the event loop, and usable from any loop.) Each journal and status write is one statement,
so one round trip and one commit. A lease is claimed under ``SELECT ... FOR UPDATE``; ``start``
reads it ``FOR SHARE`` in the statement that journals the call, so a run cannot be taken over
between a call's lease check and its journal entry.

A server that cannot be reached is a ``ConfigError`` on opening, a ``DamagedDataError`` later,
each saying what to check; no message shows the URL's password.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from agentlab.config import masked_url
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

# JSON is kept as text, as in SQLite, so a damaged row reads as a DamagedRun, not a failed query;
# ``seq`` orders runs created in the same second.
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
        updated_at TEXT NOT NULL,
        seq BIGINT GENERATED ALWAYS AS IDENTITY
    )""",
    f"""CREATE TABLE IF NOT EXISTS {LEASES} (
        run_id TEXT PRIMARY KEY,
        token TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        acquired_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    )""",
    f"""CREATE TABLE IF NOT EXISTS {JOURNAL} (
        run_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        tool TEXT NOT NULL,
        call_hash TEXT NOT NULL,
        arguments TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        outcome TEXT,
        started_at DOUBLE PRECISION NOT NULL,
        finished_at DOUBLE PRECISION,
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
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cache_read_tokens BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION,
        reserved_usd DOUBLE PRECISION NOT NULL,
        reserved_tokens BIGINT NOT NULL,
        settled INTEGER NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        day TEXT NOT NULL
    )""",
    *LEDGER_INDEXES,
    f"""CREATE TABLE IF NOT EXISTS {KILLS} (
        run_id TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        killed_at DOUBLE PRECISION NOT NULL
    )""",
    FEEDBACK_TABLE,
)
_SCHEMA_LOCK = 0x6167656E746C6162  # "agentlab": the advisory lock held while tables are created
# Held (for its transaction) by each reservation checked against ceilings: reservations are
# serialized, so two processes of one principal cannot both pass a ceiling only one fits under.
_BUDGET_LOCK = 0x6167656E74627564
_CONNECT_TIMEOUT_S = 10


class PostgresRunStore:
    """Runs, leases and the tool journal on the PostgreSQL server ``url`` names (tables created if
    missing). Safe to call from several threads; ``pool_size`` connections at most."""

    def __init__(self, url: str, *, pool_size: int = 2) -> None:
        self._url = url
        self._password = str(conninfo_to_dict(url).get("password") or "")
        self.where = masked_url(url)
        """The server, for messages (never the password)."""
        with self.migrating() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs=_connect_options(),
            open=False,
            name="agentlab-runs",
        )
        try:
            self._pool.open(wait=True, timeout=_CONNECT_TIMEOUT_S)
        except psycopg.OperationalError as exc:
            self._pool.close()
            raise self.unreachable(exc) from None

    # -- opening and errors --------------------------------------------------------------------

    @contextmanager
    def migrating(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection of its own (autocommit) holding the database's schema lock: one process
        at a time creates or migrates tables, so processes starting together on a new database
        do not race to create the same ones."""
        try:
            conn = psycopg.connect(self._url, **_connect_options())
        except psycopg.OperationalError as exc:
            raise ConfigError(
                f"cannot connect to the runs database {self.where} ({self._reason(exc)}): is the "
                "PostgreSQL server running and reachable, and are the URL's host, port, database, "
                "user and password right? database_url (AGENTLAB_DATABASE_URL) names it"
            ) from None
        try:
            with conn:
                if not _lock_schema(conn):
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

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def _use(self, transaction: bool = False) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection (each statement commits alone, unless in a ``transaction``), with
        psycopg's errors turned into ours."""
        try:
            with self._pool.connection() as conn:
                if not transaction:
                    yield conn
                    return
                with conn.transaction():
                    yield conn
        except psycopg.OperationalError as exc:  # also the pool's timeout
            raise self.unreachable(exc) from None
        except psycopg.Error as exc:
            raise DamagedDataError(
                f"the runs database {self.where} failed ({self._reason(exc)}): is it an agentlab "
                "database? 'agentlab doctor' checks it"
            ) from None

    def unreachable(self, exc: Exception) -> DamagedDataError:
        """The error for the server gone away (also for the checkpointer on it)."""
        return DamagedDataError(
            f"the runs database {self.where} cannot be reached ({self._reason(exc)}): is the "
            "PostgreSQL server running, and does it accept more connections? Try again once it "
            "does; 'agentlab doctor' checks the database"
        )

    def _reason(self, exc: Exception) -> str:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return reason.replace(self._password, "***") if self._password else reason

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
                "VALUES (%s, %s, %s, %s, %s, '', %s, %s, %s, %s, %s, %s, %s)",
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
                f"UPDATE {RUNS} SET status = %s, outcome = %s, updated_at = %s WHERE run_id = %s",
                (status, outcome, now_text(), run_id),
            )

    def get_run(self, run_id: str) -> RunRecord:
        with self._use() as conn:
            found = conn.execute(
                f"SELECT {COLUMNS} FROM {FROM_RUNS} WHERE r.run_id = %s", (run_id,)
            ).fetchone()
        if found is None:
            raise RunNotFoundError(f"no run {run_id!r}: 'agentlab runs' lists the runs there are")
        record = record_from_row(found)
        if isinstance(record, DamagedRun):
            raise DamagedDataError(
                f"run {run_id}'s record in {self.where} is damaged ({record.problem}): it cannot "
                "be shown or resumed; 'agentlab doctor' checks the database"
            )
        return record

    def list_runs(
        self, limit: int = 50, *, feedback: str | None = None
    ) -> list[RunRecord | DamagedRun]:
        """The most recent runs first (only those whose feedback is ``feedback``, if given); a
        row that cannot be read is a ``DamagedRun``."""
        where = "" if feedback is None else f"{_pg(WITH_FEEDBACK)} "
        params: tuple[Any, ...] = (limit,) if feedback is None else (feedback, limit)
        with self._use() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM {FROM_RUNS} {where}"
                "ORDER BY r.created_at DESC, r.seq DESC LIMIT %s",
                params,
            ).fetchall()
        return [record_from_row(r) for r in rows]

    # -- leases --------------------------------------------------------------------------------

    def acquire_lease(self, run_id: str, ttl_s: float) -> Lease:
        """Claim ``run_id`` for this process for ``ttl_s`` seconds; a live claim of another
        process is a ``RunBusyError`` naming it, an expired (or dead) one is taken over."""
        host, pid = this_host()
        lease = Lease(run_id, uuid.uuid4().hex, host, pid, time.time() + ttl_s)
        values = (lease.token, host, pid, time.time(), lease.expires_at, run_id)
        while True:
            with self._use(transaction=True) as conn:
                row = conn.execute(
                    f"SELECT token, host, pid, expires_at FROM {LEASES} WHERE run_id = %s "
                    "FOR UPDATE",
                    (run_id,),
                ).fetchone()
                if row is not None:
                    held = Lease(run_id, *row)
                    if held.live():
                        raise RunBusyError(
                            f"run {run_id} is being advanced by process {held.holder} (lease "
                            f"until {clock(held.expires_at)}): wait for it to pause or end, "
                            "then try again"
                        )
                    conn.execute(
                        f"UPDATE {LEASES} SET token = %s, host = %s, pid = %s, acquired_at = %s, "
                        "expires_at = %s WHERE run_id = %s",
                        values,
                    )
                    return lease
                inserted = conn.execute(
                    f"INSERT INTO {LEASES} (token, host, pid, acquired_at, expires_at, run_id) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (run_id) DO NOTHING",
                    values,
                ).rowcount
            if inserted == 1:
                return lease
            # Another process claimed the run between the read and the insert: read its claim.

    def renew_lease(self, lease: Lease, ttl_s: float) -> bool:
        """Extend ``lease``; ``False`` if it was lost (expired and taken over)."""
        with self._use() as conn:
            changed = conn.execute(
                f"UPDATE {LEASES} SET expires_at = %s WHERE run_id = %s AND token = %s",
                (time.time() + ttl_s, lease.run_id, lease.token),
            ).rowcount
        return changed == 1

    def release_lease(self, lease: Lease) -> None:
        with self._use() as conn:
            conn.execute(
                f"DELETE FROM {LEASES} WHERE run_id = %s AND token = %s",
                (lease.run_id, lease.token),
            )

    def clear_stale_lease(self, run_id: str) -> None:
        """Forget a dead process's claim on a run that has since been found settled."""
        with self._use(transaction=True) as conn:
            row = conn.execute(
                f"SELECT token, host, pid, expires_at FROM {LEASES} WHERE run_id = %s FOR UPDATE",
                (run_id,),
            ).fetchone()
            if row is not None and not Lease(run_id, *row).live():
                conn.execute(f"DELETE FROM {LEASES} WHERE run_id = %s", (run_id,))

    # -- the tool journal (tools.journal.Journal) ------------------------------------------------

    async def entry(self, run_id: str, call_id: str) -> JournalEntry | None:
        return await asyncio.to_thread(self.journal_entry, run_id, call_id)

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
            functools.partial(
                self.journal_start,
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
        await asyncio.to_thread(self.journal_finish, run_id, call_id, attempt, outcome)

    def journal_entry(self, run_id: str, call_id: str) -> JournalEntry | None:
        with self._use() as conn:
            row = conn.execute(
                f"SELECT {JOURNAL_COLUMNS} FROM {JOURNAL} WHERE run_id = %s AND call_id = %s",
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
        now = time.time()
        with self._use() as conn:
            # Journaled only while ``lease`` holds the run (unless runs are not leased); FOR SHARE
            # keeps another process from taking the lease over until the entry is committed.
            journaled = conn.execute(
                f"INSERT INTO {JOURNAL} ({JOURNAL_COLUMNS}) "
                "SELECT %s, %s, %s, %s, %s, %s, NULL, %s, NULL "
                f"WHERE %s::text IS NULL OR EXISTS (SELECT FROM {LEASES} WHERE run_id = %s "
                "AND token = %s AND expires_at > %s FOR SHARE) "
                "ON CONFLICT (run_id, call_id) DO UPDATE SET tool = EXCLUDED.tool, "
                "call_hash = EXCLUDED.call_hash, arguments = EXCLUDED.arguments, "
                "attempt = EXCLUDED.attempt, outcome = NULL, started_at = EXCLUDED.started_at, "
                "finished_at = NULL",
                (run_id, call_id, tool, call_hash, json.dumps(arguments, default=str), attempt)
                + (now, lease, run_id, lease, now),
            ).rowcount
        if journaled != 1:
            raise LeaseLostError(
                f"this process no longer holds run {run_id}'s lease, so it did not start {tool} "
                f"(call {call_id}): another process may be advancing the run"
            )

    def journal_finish(self, run_id: str, call_id: str, attempt: int, outcome: ToolOutcome) -> None:
        with self._use() as conn:
            conn.execute(
                f"UPDATE {JOURNAL} SET outcome = %s, finished_at = %s "
                "WHERE run_id = %s AND call_id = %s AND attempt = %s",
                (json.dumps(outcome, default=str), time.time(), run_id, call_id, attempt),
            )

    def journal(self, run_id: str) -> list[JournalEntry]:
        """The journaled calls of ``run_id``, in the order they started."""
        with self._use() as conn:
            rows = conn.execute(
                f"SELECT {JOURNAL_COLUMNS} FROM {JOURNAL} WHERE run_id = %s ORDER BY started_at",
                (run_id,),
            ).fetchall()
        return [entry_from_row(r) for r in rows]

    # -- the cost ledger and budgets ------------------------------------------------------------

    def reserve(self, entry: LedgerEntry, ceilings: list[Ceiling]) -> Reservation:
        """Reserve a model call at its worst case unless that could cross a ceiling: the sums
        and the insert run in one transaction holding the budget lock (an advisory lock), so no
        other process reserves in between."""
        with self._use(transaction=True) as conn:
            if ceilings:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_BUDGET_LOCK,))
            return reserve_in(
                lambda sql, params: conn.execute(_pg(sql), params), entry, ceilings, time.time()
            )

    def settle(self, entry: LedgerEntry) -> None:
        """Record what the reserved call ``entry.entry_id`` actually used and cost."""
        with self._use() as conn:
            conn.execute(_pg(SETTLE_ENTRY), settle_params(entry))

    def release(self, entry_id: str) -> None:
        """Drop the reservation of a call that was not made or failed."""
        with self._use() as conn:
            conn.execute(_pg(RELEASE_ENTRY), (entry_id,))

    def ledger(self, run_id: str) -> list[LedgerEntry]:
        """The run's model calls in the ledger, in the order they were made."""
        with self._use() as conn:
            rows = conn.execute(_pg(RUN_ENTRIES), (run_id,)).fetchall()
        return [entry_of(r) for r in rows]

    def cost_totals(self, by: str, since_day: str | None = None) -> list[CostTotal]:
        """Settled calls' tokens and dollars per agent, principal, session, day or run."""
        sql, params = totals_query(by, since_day)
        with self._use() as conn:
            rows = conn.execute(_pg(sql), params).fetchall()
        return [total_of(r) for r in rows]

    # -- kills ---------------------------------------------------------------------------------

    def kill(self, run_id: str, reason: str = "killed") -> None:
        """Flag ``run_id``: the process advancing it stops at its next step."""
        self.get_run(run_id)  # an unknown run is a RunNotFoundError
        with self._use() as conn:
            conn.execute(
                f"INSERT INTO {KILLS} (run_id, reason, killed_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (run_id) DO NOTHING",
                (run_id, reason, time.time()),
            )

    def kill_all(self, principal: str, reason: str = "killed") -> list[str]:
        """Flag every run of ``principal`` that has not ended; return their ids."""
        with self._use(transaction=True) as conn:
            ids = [r[0] for r in conn.execute(_pg(LIVE_RUNS_OF), (principal,)).fetchall()]
            for run_id in ids:
                conn.execute(
                    f"INSERT INTO {KILLS} (run_id, reason, killed_at) VALUES (%s, %s, %s) "
                    "ON CONFLICT (run_id) DO NOTHING",
                    (run_id, reason, time.time()),
                )
        return ids

    def killed(self, run_id: str) -> str | None:
        """Why ``run_id`` was killed, or ``None`` if it was not (one primary-key lookup)."""
        with self._use() as conn:
            row = conn.execute(_pg(KILLED), (run_id,)).fetchone()
        return None if row is None else str(row[0])

    # -- feedback ------------------------------------------------------------------------------

    def set_feedback(self, feedback: Feedback) -> None:
        """Keep a person's verdict on ``feedback.run_id``, replacing any given before."""
        self.get_run(feedback.run_id)  # an unknown run is a RunNotFoundError
        with self._use() as conn:
            conn.execute(_pg(SET_FEEDBACK), feedback_values(feedback))

    # -- checks (agentlab doctor) -----------------------------------------------------------------

    def check(self) -> list[str]:
        """Problems found in the database: unreadable rows, journal entries of no run or with no
        outcome while nothing advances their run, and leases of dead processes. (No integrity
        check: PostgreSQL guards its own pages; ``pg_amcheck`` checks them in depth.)"""
        with self._use(transaction=True) as conn:
            orphans = conn.execute(ORPHANED_CALLS).fetchall()
            open_calls = conn.execute(OPEN_CALLS).fetchall()
            leases = conn.execute(ALL_LEASES).fetchall()
            calls = conn.execute(ALL_CALLS).fetchall()
        return problems(orphans, open_calls, leases, self.list_runs(limit=1_000_000), calls)


def _pg(sql: str) -> str:
    """The shared SQL (``?`` placeholders) in psycopg's placeholders."""
    return sql.replace("?", "%s")


def _connect_options() -> dict[str, Any]:
    return {
        "autocommit": True,  # transactions are explicit: conn.transaction()
        "connect_timeout": _CONNECT_TIMEOUT_S,
        "application_name": "agentlab",
    }


def _lock_schema(conn: psycopg.Connection[Any], timeout_s: float = 60) -> bool:
    """Take the schema lock (until ``conn`` closes); ``False`` if it stayed held. It is polled: a
    lock request that waits holds a snapshot, which the holder's ``CREATE INDEX CONCURRENTLY`` (in
    LangGraph's migrations) would wait for in turn."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (_SCHEMA_LOCK,)).fetchone()
        if row is not None and row[0]:
            return True
        time.sleep(0.05)
    return False
