"""The runs table: one row per run, beside LangGraph's checkpoints in the same SQLite file.

Checkpoints hold a run's state; this table holds what is needed to list runs quickly and to rebuild
a run's agent in another process (which agent, with which options and models).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentlab.errors import ConfigError, RunNotFoundError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS agentlab_runs (
    run_id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    task TEXT NOT NULL,
    status TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT '',
    models TEXT NOT NULL,
    options TEXT NOT NULL,
    max_iterations INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the runs database, ready for use by several processes."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(
            f"cannot open the runs database {path}: {exc}; set --data-dir "
            "or AGENTLAB_DATA_DIR to a writable directory"
        ) from None
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(_SCHEMA)
    conn.commit()
    return conn


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    agent: str
    task: str
    status: str
    outcome: str
    models: dict[str, Any]
    options: dict[str, Any]
    max_iterations: int
    created_at: str
    updated_at: str


class RunRegistry:
    """Reads and writes the runs table."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def create(
        self,
        run_id: str,
        *,
        agent: str,
        task: str,
        status: str,
        models: dict[str, Any],
        options: dict[str, Any],
        max_iterations: int,
    ) -> RunRecord:
        now = _now()
        with self._conn:
            self._conn.execute(
                "INSERT INTO agentlab_runs VALUES (?, ?, ?, ?, '', ?, ?, ?, ?, ?)",
                (
                    run_id,
                    agent,
                    task,
                    status,
                    json.dumps(models),
                    json.dumps(options),
                    max_iterations,
                    now,
                    now,
                ),
            )
        return self.get(run_id)

    def set_status(self, run_id: str, status: str, outcome: str = "") -> None:
        with self._conn:
            self._conn.execute(
                "UPDATE agentlab_runs SET status = ?, outcome = ?, updated_at = ? WHERE run_id = ?",
                (status, outcome, _now(), run_id),
            )

    def get(self, run_id: str) -> RunRecord:
        row = self._conn.execute(
            "SELECT * FROM agentlab_runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None:
            raise RunNotFoundError(f"no run {run_id!r}: 'agentlab runs' lists the runs there are")
        return _record(row)

    def list(self, limit: int = 50) -> list[RunRecord]:
        rows = self._conn.execute(
            "SELECT * FROM agentlab_runs ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,)
        ).fetchall()
        return [_record(r) for r in rows]


def _record(row: tuple[Any, ...]) -> RunRecord:
    (
        run_id,
        agent,
        task,
        status,
        outcome,
        models,
        options,
        max_iterations,
        created_at,
        updated_at,
    ) = row
    return RunRecord(
        run_id,
        agent,
        task,
        status,
        outcome,
        json.loads(models),
        json.loads(options),
        max_iterations,
        created_at,
        updated_at,
    )
