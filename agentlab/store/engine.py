"""What the run store asks of a database engine: statements, a serialized transaction, and the
few words of SQL that differ (its ``Dialect``).

The store's SQL is written once, with ``?`` placeholders and the ``ON CONFLICT`` upserts that
SQLite and PostgreSQL both speak; an engine turns placeholders into its own, runs statements and
turns its driver's errors into ``DamagedDataError``s naming the database and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from agentlab.errors import ConfigError

Row = tuple[Any, ...]
Params = Sequence[Any]
Fetch = Literal["one", "all", "count"]
"""What a statement gives back: its first row, all its rows, or how many rows it changed."""


@dataclass(frozen=True, slots=True)
class Dialect:
    """The words of SQL that differ between engines."""

    real: str
    """The type of epoch seconds and dollars (SQLite ``REAL``, PostgreSQL ``DOUBLE PRECISION``)."""
    bigint: str
    """The type of token counts."""
    sequence: str
    """The runs table's column of insertion order, if the engine has none of its own."""
    run_order: str
    """What orders runs created in the same second (SQLite's ``rowid``, else ``sequence``)."""
    for_share: str
    """Appended to the read of a lease that a journal entry depends on: keeps the lease from
    being taken over until the entry is committed (a statement alone already does on SQLite)."""


class Statements:
    """Runs one statement at a time; subclasses implement ``_run``."""

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = await self._run("one", sql, params)
        return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        rows: list[Row] = await self._run("all", sql, params)
        return rows

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a write; the rows it changed. Outside a transaction it commits alone."""
        count: int = await self._run("count", sql, params)
        return count

    async def _run(self, fetch: Fetch, sql: str, params: Params) -> Any:
        raise NotImplementedError


class Engine(Protocol):
    """A database the run store is kept in. Statements outside ``transaction`` each commit alone
    (a read opens no transaction at all)."""

    dialect: Dialect
    where: str
    """The file or server, for messages (never a password)."""

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def execute(self, sql: str, params: Params = ()) -> int: ...

    def transaction(self) -> AbstractAsyncContextManager[Statements]:
        """A write transaction that no other process's transaction runs alongside (SQLite's
        write lock, a PostgreSQL advisory lock): for a read and the write it decides."""
        ...

    async def integrity(self) -> list[str]:
        """What the engine's own check of its pages finds (``[]`` where it has none to run)."""
        ...

    async def close(self) -> None: ...


def postgres_missing(exc: ImportError) -> ConfigError:
    """The error for ``database_url`` set where the ``postgres`` extra is not installed (``exc``:
    the import that failed)."""
    return ConfigError(
        f"database_url names a PostgreSQL server, but {exc.name} is not installed: "
        "pip install 'agentlab[postgres]'"
    )
