"""The run store's tables and how their rows become records: shared by every engine."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from agentlab.errors import DamagedDataError
from agentlab.store.records import DamagedRun, Lease, RunRecord
from agentlab.tools.journal import JournalEntry

RUNS = "agentlab_run_records"
LEASES = "agentlab_run_leases"
JOURNAL = "agentlab_tool_journal"
COLUMNS = (
    "r.run_id, r.agent, r.agent_name, r.task, r.status, r.outcome, r.models, r.options, r.limits, "
    "r.principal, r.session, r.created_at, r.updated_at, "
    "l.token, l.host, l.pid, l.expires_at"
)
FROM_RUNS = f"{RUNS} r LEFT JOIN {LEASES} l ON l.run_id = r.run_id"
JOURNAL_COLUMNS = (
    "run_id, call_id, tool, call_hash, arguments, attempt, outcome, started_at, finished_at"
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
    token, host, pid, expires_at = row[13:]
    lease = None if token is None else Lease(values[0], token, host, pid, expires_at)
    return dataclasses.replace(RunRecord(*values), lease=lease)


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
    for call in calls:
        try:
            entry_from_row(tuple(call))
        except DamagedDataError as exc:
            found.append(str(exc))
    for record in records:
        if isinstance(record, DamagedRun):
            found.append(f"run {record.run_id}: its record is unreadable ({record.problem})")
    return found
