"""The customer database of the support domain: SQLite, seeded with generated customers.

Side effects go through ``write()``: one transaction each. That a call acts once across crashes
is the tool executor's journal's job (``agentlab/tools/journal.py``), not this database's.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from agentlab.errors import ConfigError, Fix
from agentlab.store.private import private_dir, private_file

SEED_CUSTOMERS = 300
_SEED = 20261125

# Fixed customers first, so scripts and docs can name them.
_KNOWN = [
    ("Ada Lovelace", "ada.lovelace@example.com", "pro"),
    ("Alan Turing", "alan.turing@example.com", "enterprise"),
    ("Grace Hopper", "grace.hopper@example.com", "free"),
]
_FIRST = [
    "Maria",
    "James",
    "Aiko",
    "Lena",
    "Omar",
    "Priya",
    "Lucas",
    "Sofia",
    "Chen",
    "Noah",
    "Amara",
    "Ivan",
    "Zara",
    "Mateo",
    "Yuki",
    "Elena",
    "Kwame",
    "Hana",
    "Leo",
    "Nadia",
]
_LAST = [
    "Silva",
    "Smith",
    "Tanaka",
    "Novak",
    "Haddad",
    "Patel",
    "Moreau",
    "Rossi",
    "Wang",
    "Berg",
    "Okafor",
    "Petrov",
    "Khan",
    "Garcia",
    "Sato",
    "Weber",
    "Mensah",
    "Kim",
    "Costa",
    "Ali",
]
_PLANS = ["free", "pro", "enterprise"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    phone TEXT NOT NULL,
    plan TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL,
    channel TEXT NOT NULL,
    message TEXT NOT NULL,
    sent_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
"""


def generate_customers(n: int = SEED_CUSTOMERS) -> list[tuple[str, str, str, str, str]]:
    """``n`` deterministic customers: (name, email, phone, plan, created_at)."""
    rng = random.Random(_SEED)
    start = date(2023, 1, 1)
    rows = []
    for i in range(n):
        if i < len(_KNOWN):
            name, email, plan = _KNOWN[i]
        else:
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            name, email = f"{first} {last}", f"{first}.{last}{i}@example.com".lower()
            plan = rng.choice(_PLANS)
        phone = f"+1-555-{rng.randrange(10_000):04d}"
        created = (start + timedelta(days=rng.randrange(1000))).isoformat()
        rows.append((name, email, phone, plan, created))
    return rows


class SupportDatabase:
    """Access to one support database file; each operation opens its own connection."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    def ensure(self, customers: int = SEED_CUSTOMERS) -> None:
        """Create the schema and seed customers if the database is new."""
        try:
            private_dir(self.path.parent)
            private_file(self.path)
            self._ensure(customers)
        except (OSError, sqlite3.OperationalError) as exc:
            raise ConfigError(
                f"cannot create the support database {self.path} ({exc})", fix=Fix.DATA_DIR
            ) from None

    def _ensure(self, customers: int) -> None:
        with self.connect() as conn:
            conn.executescript(_SCHEMA)
            with conn:  # the check and the seeding in one write transaction: no double seeding
                conn.execute("BEGIN IMMEDIATE")
                if conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0] == 0:
                    conn.executemany(
                        "INSERT INTO customers (name, email, phone, plan, created_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        generate_customers(customers),
                    )

    def reset(self, customers: int = SEED_CUSTOMERS) -> None:
        """Start over from a freshly seeded database."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot remove the support database {self.path} ({exc})", fix=Fix.DATA_DIR
            ) from None
        self.ensure(customers)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self.connect() as conn:
            return [dict(r) for r in conn.execute(sql, params).fetchall()]

    def write(self, action: Callable[[sqlite3.Connection], dict[str, Any]]) -> dict[str, Any]:
        """Run ``action`` in one write transaction: all its changes commit, or none."""
        with self.connect() as conn, conn:
            conn.execute("BEGIN IMMEDIATE")
            return action(conn)
