"""Forgetting a principal in the runs database, on every SQL engine.

``erase`` deletes, in one transaction, the principal's sessions with their turns and summaries
and, unless the runs are kept for audit, their runs and every row keyed by those runs (leases,
fences, the tool journal, the cost ledger, kill flags, feedback) plus the ledger's rows of the
principal; feedback the principal gave on another principal's run loses its giver's name.
LangGraph's checkpoints of the runs are the saver's, not this store's: the caller deletes those
threads first (``runs_of`` names them), then the rows, so that a crash in between leaves the
runs listed and forgetting again finds them. A run whose process is advancing it is not
forgotten (``RunInProgress``). ``compact`` then rewrites a SQLite file, so that no deleted row
stays in a free page or in the write-ahead log.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentlab.errors import RunBusyError
from agentlab.store.engine import Engine, Statements
from agentlab.store.records import Lease
from agentlab.store.rows import FEEDBACK, FENCES, JOURNAL, KILLS, LEASES, LEDGER, RUNS
from agentlab.store.sessions import SESSIONS, SUMMARIES, TURNS

FORGOTTEN_GIVER = "(forgotten)"
"""Who gave a feedback once its giver is forgotten."""

_RUNS_OF = f"SELECT run_id FROM {RUNS} WHERE principal = ?"
_SESSIONS_OF = f"SELECT session_id FROM {SESSIONS} WHERE principal = ?"
_LEASES_OF = (
    f"SELECT l.run_id, l.token, l.host, l.pid, l.expires_at FROM {LEASES} l "
    f"JOIN {RUNS} r ON r.run_id = l.run_id WHERE r.principal = ?"
)
# What each count is of, and how many times the statement takes the principal.
_SESSION_ROWS = {
    "turns": (f"{TURNS} WHERE session_id IN ({_SESSIONS_OF})", 1),
    "summaries": (f"{SUMMARIES} WHERE session_id IN ({_SESSIONS_OF})", 1),
    "sessions": (f"{SESSIONS} WHERE principal = ?", 1),
}
_RUN_ROWS = {
    "leases": (f"{LEASES} WHERE run_id IN ({_RUNS_OF})", 1),
    "fences": (f"{FENCES} WHERE run_id IN ({_RUNS_OF})", 1),
    "journal": (f"{JOURNAL} WHERE run_id IN ({_RUNS_OF})", 1),
    "kills": (f"{KILLS} WHERE run_id IN ({_RUNS_OF})", 1),
    "feedback": (f"{FEEDBACK} WHERE run_id IN ({_RUNS_OF})", 1),
    "ledger": (f"{LEDGER} WHERE principal = ? OR run_id IN ({_RUNS_OF})", 2),
    "runs": (f"{RUNS} WHERE principal = ?", 1),  # last: the rows above find the runs by it
}
_UNSIGN = f"UPDATE {FEEDBACK} SET given_by = ? WHERE given_by = ?"


class RunInProgress(RunBusyError):
    """A run of the principal to forget is being advanced by a process (``run_id``);
    ``refusal`` says so without what to do, for a front end to add that in its own words."""

    def __init__(self, principal: str, lease: Lease) -> None:
        self.refusal = (
            f"{principal}'s run {lease.run_id} is being advanced by process {lease.holder}, "
            "so nothing was forgotten"
        )
        super().__init__(f"{self.refusal}: kill the run first, or keep the runs")
        self.run_id = lease.run_id


@dataclass(frozen=True, slots=True)
class Erased:
    """What ``erase`` deleted: rows per table (``sessions``, ``turns``, ``summaries``, and
    without ``keep_runs`` ``runs``, ``leases``, ``fences``, ``journal``, ``ledger``, ``kills``,
    ``feedback``) and the ids of the runs deleted (their checkpoints are the saver's)."""

    counts: dict[str, int]
    run_ids: tuple[str, ...] = ()


async def runs_of(engine: Engine, principal: str) -> list[str]:
    """The ids of ``principal``'s runs; ``RunInProgress`` if a process advances one of them."""
    await _check_idle(engine, principal)
    return [str(row[0]) for row in await engine.fetchall(_RUNS_OF, (principal,))]


async def erase(engine: Engine, principal: str, *, keep_runs: bool = False) -> Erased:
    """Delete what the runs database holds of ``principal`` in one transaction: their sessions
    (turns, summaries), and unless ``keep_runs`` their runs with every row of them
    (``RunInProgress``, deleting nothing, if a process advances one)."""
    async with engine.transaction() as tx:
        counts = await _delete(tx, principal, _SESSION_ROWS)
        if keep_runs:
            return Erased(counts)
        await _check_idle(tx, principal)
        run_ids = tuple(str(row[0]) for row in await tx.fetchall(_RUNS_OF, (principal,)))
        counts |= await _delete(tx, principal, _RUN_ROWS)
        counts["feedback"] += await tx.execute(_UNSIGN, (FORGOTTEN_GIVER, principal))
    return Erased(counts, run_ids)


async def stored_of(engine: Engine, principal: str) -> dict[str, int]:
    """How many rows the runs database holds of ``principal``: ``sessions``, ``turns``,
    ``summaries``, ``runs``, ``journal`` and ``ledger``."""
    counted = {k: _SESSION_ROWS[k] for k in ("sessions", "turns", "summaries")}
    counted |= {k: _RUN_ROWS[k] for k in ("runs", "journal", "ledger")}
    found: dict[str, int] = {}
    for what, (rows, uses) in counted.items():
        row = await engine.fetchone(f"SELECT COUNT(*) FROM {rows}", (principal,) * uses)
        found[what] = int(row[0]) if row else 0
    return found


async def compact(engine: Engine) -> str | None:
    """Rewrite a SQLite file (``VACUUM``) and empty its write-ahead log, so that deleted rows
    leave no copy in it; ``None`` once done, else what is left to do. A PostgreSQL server
    reclaims dead rows itself (autovacuum): nothing is done here."""
    from agentlab.store.sqlite import SqliteEngine

    if not isinstance(engine, SqliteEngine):
        return None
    await engine.execute("VACUUM")
    row = await engine.fetchone("PRAGMA wal_checkpoint(TRUNCATE)")
    if row is not None and int(row[0]) != 0:  # a reader of another process kept the log
        return (
            f"the write-ahead log of {engine.where} is still read by another process: deleted "
            "rows stay in it until that process closes the database"
        )
    return None


async def _check_idle(statements: Engine | Statements, principal: str) -> None:
    for row in await statements.fetchall(_LEASES_OF, (principal,)):
        lease = Lease(str(row[0]), str(row[1]), str(row[2]), int(row[3]), float(row[4]))
        if lease.live():
            raise RunInProgress(principal, lease)


async def _delete(
    tx: Statements, principal: str, tables: dict[str, tuple[str, int]]
) -> dict[str, int]:
    return {
        what: await tx.execute(f"DELETE FROM {rows}", (principal,) * uses)
        for what, (rows, uses) in tables.items()
    }
