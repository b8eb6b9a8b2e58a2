"""The run store's tables and how their rows become records: shared by every engine."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from agentlab.errors import DamagedDataError
from agentlab.store.records import (
    Ceiling,
    CostTotal,
    DamagedRun,
    Feedback,
    Lease,
    LedgerEntry,
    RunRecord,
)
from agentlab.tools.journal import JournalEntry

RUNS = "agentlab_run_records"
LEASES = "agentlab_run_leases"
JOURNAL = "agentlab_tool_journal"
LEDGER = "agentlab_cost_ledger"
KILLS = "agentlab_run_kills"
FEEDBACK = "agentlab_run_feedback"
FENCES = "agentlab_run_fences"
COLUMNS = (
    "r.run_id, r.agent, r.agent_name, r.task, r.status, r.outcome, r.models, r.options, r.limits, "
    "r.principal, r.session, r.created_at, r.updated_at, "
    "l.token, l.host, l.pid, l.expires_at, "
    "f.score, f.comment, f.given_by, f.given_at"
)
FROM_RUNS = (
    f"{RUNS} r LEFT JOIN {LEASES} l ON l.run_id = r.run_id "
    f"LEFT JOIN {FEEDBACK} f ON f.run_id = r.run_id"
)
JOURNAL_COLUMNS = (
    "run_id, call_id, tool, call_hash, arguments, attempt, outcome, started_at, finished_at"
)

# -- runs, leases and the journal (``?`` placeholders, upserts every engine speaks) ---------------

INSERT_RUN = (
    f"INSERT INTO {RUNS} (run_id, agent, agent_name, task, status, outcome, models, options, "
    "limits, principal, session, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?)"
)
SET_STATUS = f"UPDATE {RUNS} SET status = ?, outcome = ?, updated_at = ? WHERE run_id = ?"
RUN = f"SELECT {COLUMNS} FROM {FROM_RUNS} WHERE r.run_id = ?"

LEASE = f"SELECT token, host, pid, expires_at FROM {LEASES} WHERE run_id = ?"
# A lease is claimed by compare-and-set, so that no engine needs a lock for it: inserted if the
# run has none, taken over only from the very claim (token and expiry) that was read and judged.
CLAIM = (
    f"INSERT INTO {LEASES} (token, host, pid, acquired_at, expires_at, run_id) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING"
)
TAKE_OVER = (
    f"UPDATE {LEASES} SET token = ?, host = ?, pid = ?, acquired_at = ?, expires_at = ? "
    "WHERE run_id = ? AND token = ? AND expires_at = ?"
)
RENEW = f"UPDATE {LEASES} SET expires_at = ? WHERE run_id = ? AND token = ?"
# Each claim of a run raises its fencing token (kept apart from the lease row, which a release
# deletes), so a later holder's token is always greater.
BUMP_FENCE = (
    f"INSERT INTO {FENCES} (run_id, fence) VALUES (?, 1) "
    f"ON CONFLICT (run_id) DO UPDATE SET fence = {FENCES}.fence + 1"
)
FENCE = f"SELECT fence FROM {FENCES} WHERE run_id = ?"
# A write a lease holder makes, made only while its lease still holds the run (in the same
# statement): the run's id and the lease's token follow the statement's own parameters.
HELD = f"EXISTS (SELECT 1 FROM {LEASES} WHERE run_id = ? AND token = ?)"
RELEASE = f"DELETE FROM {LEASES} WHERE run_id = ? AND token = ?"
CLEAR_STALE = f"DELETE FROM {LEASES} WHERE run_id = ? AND token = ? AND expires_at = ?"

JOURNAL_ENTRY = f"SELECT {JOURNAL_COLUMNS} FROM {JOURNAL} WHERE run_id = ? AND call_id = ?"
RUN_JOURNAL = f"SELECT {JOURNAL_COLUMNS} FROM {JOURNAL} WHERE run_id = ? ORDER BY started_at"
FINISH_CALL = (
    f"UPDATE {JOURNAL} SET outcome = ?, finished_at = ? "
    "WHERE run_id = ? AND call_id = ? AND attempt = ?"
)
SET_STATUS_HELD = f"{SET_STATUS} AND {HELD}"
FINISH_CALL_HELD = f"{FINISH_CALL} AND {HELD}"


def start_call_sql(for_share: str) -> str:
    """Journal a call as started, in one statement, only while the lease given (unless none is)
    holds the run: parameters are the entry's first seven columns, then the lease token, the run
    id, the token again and now. (The ``WHERE`` also keeps SQLite from reading ``ON`` as a join.)"""
    return (
        f"INSERT INTO {JOURNAL} ({JOURNAL_COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, NULL, ?, NULL "
        f"WHERE CAST(? AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM {LEASES} WHERE run_id = ? "
        f"AND token = ? AND expires_at > ?{for_share}) "
        "ON CONFLICT (run_id, call_id) DO UPDATE SET tool = excluded.tool, "
        "call_hash = excluded.call_hash, arguments = excluded.arguments, "
        "attempt = excluded.attempt, outcome = NULL, started_at = excluded.started_at, "
        "finished_at = NULL"
    )


def begin_call_sql(for_share: str) -> str:
    """``start_call_sql`` for a call's first attempt that leaves an entry already there alone
    (no row changes: the caller reads it)."""
    return (
        f"INSERT INTO {JOURNAL} ({JOURNAL_COLUMNS}) SELECT ?, ?, ?, ?, ?, 1, NULL, ?, NULL "
        f"WHERE CAST(? AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM {LEASES} WHERE run_id = ? "
        f"AND token = ? AND expires_at > ?{for_share}) "
        "ON CONFLICT (run_id, call_id) DO NOTHING"
    )


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def record_from_row(row: tuple[Any, ...]) -> RunRecord | DamagedRun:
    values = list(row[:13])
    try:
        for i in (6, 7, 8):  # models, options, limits
            values[i] = json.loads(values[i])
        if not isinstance(values[7], dict) or not isinstance(values[8], dict):
            raise ValueError("options and limits must be JSON objects")
    except (TypeError, ValueError) as exc:
        return DamagedRun(str(values[0]), f"unreadable JSON: {exc}")
    token, host, pid, expires_at = row[13:17]
    lease = None if token is None else Lease(values[0], token, host, pid, expires_at)
    score, comment, by, at = row[17:21]
    feedback = None if score is None else Feedback(values[0], score, comment, by, at)
    return dataclasses.replace(RunRecord(*values), lease=lease, feedback=feedback)


def entry_from_row(row: tuple[Any, ...]) -> JournalEntry:
    """A journal row as an entry; ``DamagedDataError`` if its JSON cannot be read."""
    run_id, call_id, tool, hashed, arguments, attempt, outcome, started, finished = row
    try:
        parsed_arguments = json.loads(arguments)
        parsed_outcome = None if outcome is None else json.loads(outcome)
    except (TypeError, ValueError) as exc:
        raise DamagedDataError(
            f"run {run_id}: the journal entry of call {call_id} ({tool}) is unreadable ({exc}): "
            f"the run cannot go on past it; 'agentlab doctor' checks the database"
        ) from None
    return JournalEntry(
        run_id,
        call_id,
        tool,
        hashed,
        parsed_arguments,
        attempt,
        parsed_outcome,
        started,
        finished,
    )


def clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


# What 'agentlab doctor' reads (the same SQL for every engine), and what it says of it.
ORPHANED_CALLS = (
    f"SELECT j.run_id, j.call_id, j.tool FROM {JOURNAL} j "
    f"LEFT JOIN {RUNS} r ON r.run_id = j.run_id WHERE r.run_id IS NULL"
)
OPEN_CALLS = (
    f"SELECT j.run_id, j.call_id, j.tool, j.attempt, l.token, l.host, l.pid, "
    f"l.expires_at FROM {JOURNAL} j JOIN {RUNS} r ON r.run_id = j.run_id "
    f"LEFT JOIN {LEASES} l ON l.run_id = j.run_id WHERE j.outcome IS NULL "
    "AND r.status NOT IN ('completed', 'failed')"
)
ALL_LEASES = f"SELECT run_id, token, host, pid, expires_at FROM {LEASES}"
# LangGraph's checkpoints (its savers for SQLite and PostgreSQL name them alike): a run's
# checkpoints form a chain, so two that follow one parent mean two processes wrote the run.
FORKS = (
    "SELECT thread_id, parent_checkpoint_id, COUNT(*) FROM checkpoints "
    "WHERE checkpoint_ns = '' AND parent_checkpoint_id IS NOT NULL "
    "GROUP BY thread_id, parent_checkpoint_id HAVING COUNT(*) > 1"
)
ALL_CALLS = f"SELECT {JOURNAL_COLUMNS} FROM {JOURNAL}"


def problems(
    orphans: Sequence[Sequence[Any]],
    open_calls: Sequence[Sequence[Any]],
    leases: Sequence[Sequence[Any]],
    records: Sequence[RunRecord | DamagedRun],
    calls: Sequence[Sequence[Any]] = (),
) -> list[str]:
    """What is wrong, from the rows of ``ORPHANED_CALLS``, ``OPEN_CALLS``, ``ALL_LEASES`` and the
    listed runs: journal entries of no run, calls with no outcome while nothing advances their
    run, claims of processes that died or expired, and unreadable run records."""
    found = [
        f"journal entry {run_id}/{call_id} ({tool}) belongs to no run"
        for run_id, call_id, tool in orphans
    ]
    for run_id, call_id, tool, attempt, *lease in open_calls:
        if lease[0] is None or not Lease(run_id, *lease).live():
            found.append(
                f"run {run_id}: {tool} (call {call_id}, attempt {attempt}) started but "
                f"has no recorded outcome: 'agentlab resume {run_id}' asks what happened"
            )
    for row in leases:
        held = Lease(*row)
        if not held.live():
            found.append(
                f"run {held.run_id}: stale lease of process {held.holder} (it died or "
                f"expired): 'agentlab resume {held.run_id}' takes the run over"
            )
        elif held.expired():
            found.append(
                f"run {held.run_id}: process {held.holder} still exists but its lease expired "
                f"(stopped, or hung?): end it, or 'agentlab resume {held.run_id} --force' takes "
                "the run over"
            )
    for call in calls:
        try:
            entry_from_row(tuple(call))
        except DamagedDataError as exc:
            found.append(str(exc))
    for record in records:
        if isinstance(record, DamagedRun):
            found.append(f"run {record.run_id}: its record is unreadable ({record.problem})")
    return found


# -- the cost ledger and kills (the same SQL for every engine; ``?`` placeholders) ---------------

LEDGER_COLUMNS = (
    "entry_id, run_id, agent, principal, session, phase, role, model, provider, input_tokens, "
    "output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, reserved_usd, "
    "reserved_tokens, settled, created_at, day"
)
# A reservation whose process died before settling it stops counting after this long.
RESERVATION_TTL_S = 3600.0


def entry_values(entry: LedgerEntry) -> tuple[Any, ...]:
    values = [getattr(entry, name.strip()) for name in LEDGER_COLUMNS.split(",")]
    values[16] = int(values[16])  # settled: an integer in every engine
    return tuple(values)


def entry_of(row: Sequence[Any]) -> LedgerEntry:
    values = list(row)
    values[16] = bool(values[16])
    return LedgerEntry(*values)


INSERT_ENTRY = f"INSERT INTO {LEDGER} ({LEDGER_COLUMNS}) VALUES ({', '.join('?' * 19)})"
SETTLE_ENTRY = (
    f"UPDATE {LEDGER} SET model = ?, provider = ?, input_tokens = ?, output_tokens = ?, "
    "cache_read_tokens = ?, cache_write_tokens = ?, cost_usd = ?, settled = 1 WHERE entry_id = ?"
)
RELEASE_ENTRY = f"DELETE FROM {LEDGER} WHERE entry_id = ? AND settled = 0"
RUN_ENTRIES = f"SELECT {LEDGER_COLUMNS} FROM {LEDGER} WHERE run_id = ? ORDER BY created_at"

# What a ledger row counts as its tokens (every kind, as ``Usage.total`` does).
TOKENS = "input_tokens + output_tokens + cache_read_tokens + cache_write_tokens"
_SCOPES = {
    "run": "run_id = ?",
    "session": "session = ?",
    "principal_day": "principal = ? AND day = ?",
}


def spend_query(ceiling: Ceiling, now: float) -> tuple[str, tuple[Any, ...]]:
    """What ``ceiling``'s scope has spent: settled calls at their cost, open reservations (not
    older than ``RESERVATION_TTL_S``) at their worst case."""
    actual, reserved = (
        ("COALESCE(cost_usd, 0)", "reserved_usd")
        if ceiling.metric == "usd"
        else (TOKENS, "reserved_tokens")
    )
    params: tuple[Any, ...] = (
        (ceiling.key, ceiling.day) if ceiling.scope == "principal_day" else (ceiling.key,)
    )
    sql = (
        f"SELECT COALESCE(SUM(CASE WHEN settled = 1 THEN {actual} ELSE {reserved} END), 0) "
        f"FROM {LEDGER} WHERE {_SCOPES[ceiling.scope]} "
        "AND (settled = 1 OR created_at > ?)"
    )
    return sql, (*params, now - RESERVATION_TTL_S)


GROUPS = {
    "agent": "agent",
    "principal": "principal",
    "session": "COALESCE(session, '(none)')",
    "day": "day",
    "run": "run_id",
}


def totals_query(by: str, since_day: str | None) -> tuple[str, tuple[Any, ...]]:
    """The settled calls' figures grouped ``by`` one of ``GROUPS``, since a UTC day."""
    key = GROUPS[by]
    where = "settled = 1" + (" AND day >= ?" if since_day else "")
    sql = (
        f"SELECT {key}, COUNT(*), COUNT(DISTINCT run_id), COALESCE(SUM(input_tokens), 0), "
        "COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cache_read_tokens), 0), "
        "COALESCE(SUM(cache_write_tokens), 0), COALESCE(SUM(cost_usd), 0), "
        "SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN provider = 'simulated' THEN 1 ELSE 0 END) "
        f"FROM {LEDGER} WHERE {where} GROUP BY {key} ORDER BY {key}"
    )
    return sql, ((since_day,) if since_day else ())


def total_of(row: Sequence[Any]) -> CostTotal:
    key, calls, runs, tokens_in, tokens_out, read, written, dollars, unpriced, simulated = row
    return CostTotal(
        key=str(key),
        calls=int(calls),
        runs=int(runs),
        input_tokens=int(tokens_in),
        output_tokens=int(tokens_out),
        cache_read_tokens=int(read),
        cache_write_tokens=int(written),
        cost_usd=float(dollars or 0),
        unpriced=int(unpriced or 0),
        simulated=int(simulated or 0),
    )


KILLED = f"SELECT reason FROM {KILLS} WHERE run_id = ?"
KILL = (
    f"INSERT INTO {KILLS} (run_id, reason, killed_at) VALUES (?, ?, ?) "
    "ON CONFLICT (run_id) DO NOTHING"
)
# Runs of a principal that may still advance (or be resumed): what 'kill --all' flags.
LIVE_RUNS_OF = (
    f"SELECT run_id FROM {RUNS} WHERE principal = ? AND status NOT IN ('completed', 'failed')"
)


# -- feedback (the same SQL for every engine) ------------------------------------------------------

FEEDBACK_SCORES = ("good", "bad")
# A run keeps one verdict: the latest given replaces any before it.
SET_FEEDBACK = (
    f"INSERT INTO {FEEDBACK} (run_id, score, comment, given_by, given_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id) DO UPDATE SET score = excluded.score, comment = excluded.comment, "
    "given_by = excluded.given_by, given_at = excluded.given_at"
)
WITH_FEEDBACK = "WHERE f.score = ?"


def feedback_values(feedback: Feedback) -> tuple[str, str, str, str, str]:
    """``feedback`` as ``SET_FEEDBACK``'s parameters; a score other than good or bad is a
    ``ValueError`` (the table refuses it too)."""
    if feedback.score not in FEEDBACK_SCORES:
        raise ValueError(f"a feedback score is good or bad, not {feedback.score!r}")
    return (feedback.run_id, feedback.score, feedback.comment, feedback.by, feedback.at)


def settle_params(entry: LedgerEntry) -> tuple[Any, ...]:
    """The parameters of ``SETTLE_ENTRY`` for ``entry``: what its call used and cost."""
    return (
        entry.model,
        entry.provider,
        entry.input_tokens,
        entry.output_tokens,
        entry.cache_read_tokens,
        entry.cache_write_tokens,
        entry.cost_usd,
        entry.entry_id,
    )
