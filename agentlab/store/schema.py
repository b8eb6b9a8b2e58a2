"""The run store's tables, defined once and rendered in an engine's ``Dialect``.

JSON is kept as text, so that a damaged row reads as a ``DamagedRun``, not a failed query.
"""

from __future__ import annotations

from agentlab.store.engine import Dialect
from agentlab.store.rows import FEEDBACK, FENCES, JOURNAL, KILLS, LEASES, LEDGER, RUNS
from agentlab.store.sessions import SESSIONS, SUMMARIES, TURNS


def schema(d: Dialect) -> tuple[str, ...]:
    """The statements creating the tables and indexes that do not exist yet."""
    return (
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
        updated_at TEXT NOT NULL{d.sequence}
    )""",
        f"CREATE INDEX IF NOT EXISTS {RUNS}_session ON {RUNS} (session)",
        f"""CREATE TABLE IF NOT EXISTS {LEASES} (
        run_id TEXT PRIMARY KEY,
        token TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        acquired_at {d.real} NOT NULL,
        expires_at {d.real} NOT NULL
    )""",
        f"""CREATE TABLE IF NOT EXISTS {FENCES} (
        run_id TEXT PRIMARY KEY,
        fence {d.bigint} NOT NULL
    )""",
        f"""CREATE TABLE IF NOT EXISTS {JOURNAL} (
        run_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        tool TEXT NOT NULL,
        call_hash TEXT NOT NULL,
        arguments TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        outcome TEXT,
        started_at {d.real} NOT NULL,
        finished_at {d.real},
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
        input_tokens {d.bigint} NOT NULL,
        output_tokens {d.bigint} NOT NULL,
        cache_read_tokens {d.bigint} NOT NULL,
        cache_write_tokens {d.bigint} NOT NULL,
        cost_usd {d.real},
        reserved_usd {d.real} NOT NULL,
        reserved_tokens {d.bigint} NOT NULL,
        settled INTEGER NOT NULL,
        created_at {d.real} NOT NULL,
        day TEXT NOT NULL
    )""",
        f"CREATE INDEX IF NOT EXISTS {LEDGER}_run ON {LEDGER} (run_id)",
        f"CREATE INDEX IF NOT EXISTS {LEDGER}_principal_day ON {LEDGER} (principal, day)",
        f"CREATE INDEX IF NOT EXISTS {LEDGER}_session ON {LEDGER} (session)",
        f"""CREATE TABLE IF NOT EXISTS {KILLS} (
        run_id TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        killed_at {d.real} NOT NULL
    )""",
        f"""CREATE TABLE IF NOT EXISTS {FEEDBACK} (
        run_id TEXT PRIMARY KEY,
        score TEXT NOT NULL CHECK (score IN ('good', 'bad')),
        comment TEXT NOT NULL,
        given_by TEXT NOT NULL,
        given_at TEXT NOT NULL
    )""",
        f"""CREATE TABLE IF NOT EXISTS {SESSIONS} (
        session_id TEXT PRIMARY KEY,
        principal TEXT NOT NULL,
        agent TEXT NOT NULL,
        agent_name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
        f"""CREATE TABLE IF NOT EXISTS {TURNS} (
        session_id TEXT NOT NULL,
        number INTEGER NOT NULL,
        run_id TEXT NOT NULL UNIQUE,
        message TEXT NOT NULL,
        reply TEXT NOT NULL,
        status TEXT NOT NULL,
        messages TEXT NOT NULL,
        tokens {d.bigint} NOT NULL,
        calls TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (session_id, number)
    )""",
        f"""CREATE TABLE IF NOT EXISTS {SUMMARIES} (
        session_id TEXT NOT NULL,
        through INTEGER NOT NULL,
        text TEXT NOT NULL,
        tokens {d.bigint} NOT NULL,
        written_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (session_id, through)
    )""",
        f"CREATE INDEX IF NOT EXISTS {SESSIONS}_updated ON {SESSIONS} (updated_at)",
    )
