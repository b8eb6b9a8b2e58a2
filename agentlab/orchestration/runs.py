"""The runs table: one row per run, beside LangGraph's checkpoints in the same SQLite file.

Its methods block: async code calls them in a worker thread, so that the event loop stays free to
finish the checkpoint writes that may hold the database's write lock meanwhile.

Checkpoints hold a run's state; this table holds what is needed to list runs quickly and to rebuild
a run in another process: the agent's reference, its models, options, principal, session, limits.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentlab.errors import ConfigError, RunNotFoundError

_TABLE = "agentlab_run_records"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {_TABLE} (
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
    holder TEXT
)
"""
_COLUMNS = (
    "run_id, agent, agent_name, task, status, outcome, models, options, limits, principal, "
    "session, created_at, updated_at, holder"
)


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the runs database, ready for use by several processes."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(_SCHEMA)
        _add_missing_columns(conn)
        conn.commit()
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(
            f"cannot open the runs database {path}: {exc}; set data_dir (AGENTLAB_DATA_DIR) "
            "to a writable directory"
        ) from None
    return conn


# Columns added after the table was first released: (name, SQL type).
# Statuses in which no process needs to hold a run (state.Status values, which this module
# cannot import: the orchestration package imports it).
_SETTLED = frozenset({"completed", "failed", "awaiting_human"})
_ADDED_COLUMNS = (("holder", "TEXT"),)


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Bring a runs table made by an earlier agentlab up to date (new columns are nullable)."""
    present = {row[1] for row in conn.execute(f"PRAGMA table_info({_TABLE})")}
    for name, sql_type in _ADDED_COLUMNS:
        if name not in present:
            conn.execute(f"ALTER TABLE {_TABLE} ADD COLUMN {name} {sql_type}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunRecord:
    """A run's row: ``agent`` is the definition's reference, ``models`` the run's model spec
    (``None``: the agent's own models), ``limits`` its ``Limits`` as data."""

    run_id: str
    agent: str
    agent_name: str
    task: str
    status: str
    outcome: str
    models: dict[str, Any] | None
    options: dict[str, Any]
    limits: dict[str, Any]
    principal: str
    session: str | None
    created_at: str
    updated_at: str
    holder: str | None = None
    """``host:pid`` of the process advancing the run right now, if one is."""

    @property
    def interrupted(self) -> bool:
        """The run is mid-way (not ended, not waiting for a human) but no live process holds it:
        its process died or was stopped. ``agentlab resume`` continues it."""
        if self.status in _SETTLED:
            return False
        return self.holder is None or not holder_alive(self.holder)


class RunRegistry:
    """Reads and writes the runs table. Safe to call from several threads (one at a time)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def create(
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
        now = _now()
        with self._lock, self._conn:
            self._conn.execute(
                f"INSERT INTO {_TABLE} ({_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, NULL)",
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
        return self.get(run_id)

    def set_status(self, run_id: str, status: str, outcome: str = "") -> None:
        with self._lock, self._conn:
            self._conn.execute(
                f"UPDATE {_TABLE} SET status = ?, outcome = ?, updated_at = ? WHERE run_id = ?",
                (status, outcome, _now(), run_id),
            )

    def set_holder(self, run_id: str, holder: str | None) -> None:
        """Record which process advances the run (``None``: none does now)."""
        with self._lock, self._conn:
            self._conn.execute(f"UPDATE {_TABLE} SET holder = ? WHERE run_id = ?", (holder, run_id))

    def get(self, run_id: str) -> RunRecord:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM {_TABLE} WHERE run_id = ?", (run_id,)
            ).fetchone()
        if row is None:
            raise RunNotFoundError(f"no run {run_id!r}: 'agentlab runs' lists the runs there are")
        return _record(row)

    def list(self, limit: int = 50) -> list[RunRecord]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM {_TABLE} ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [_record(r) for r in rows]


def _record(row: tuple[Any, ...]) -> RunRecord:
    values = list(row)
    for i in (6, 7, 8):  # models, options, limits
        values[i] = json.loads(values[i])
    return RunRecord(*values)


def this_process() -> str:
    """This process as a holder: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_alive(holder: str) -> bool:
    """Whether the holding process still runs; one on another host is assumed to."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but someone else's
        return True
    return True
