"""The run store, written once for every SQL engine: runs, leases, the tool journal, the cost
ledger with its reservations, kill flags, people's feedback, and ``check`` for ``agentlab doctor``.

Each write is one statement that commits alone, except a reservation checked against ceilings and
``kill --all``, which read and then write in one serialized transaction; a read opens no
transaction. A lease is claimed by compare-and-set (``rows.CLAIM``, ``rows.TAKE_OVER``), and a call
is journaled in the statement that checks its lease, so neither needs a lock of its own. What an
engine does differently (placeholders, types, locks, errors) is in ``sqlite.py`` and
``postgres.py``.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from typing import Any, Generic, TypeVar

from agentlab.errors import DamagedDataError, RunNotFoundError
from agentlab.store.engine import Engine, Statements
from agentlab.store.leasing import busy
from agentlab.store.records import (
    Ceiling,
    CostTotal,
    DamagedRun,
    Feedback,
    Lease,
    LedgerEntry,
    Reservation,
    RunRecord,
    Spent,
    this_host,
)
from agentlab.store.rows import (
    ALL_CALLS,
    ALL_LEASES,
    BUMP_FENCE,
    CLAIM,
    CLEAR_STALE,
    COLUMNS,
    FENCE,
    FINISH_CALL,
    FINISH_CALL_HELD,
    FORKS,
    FROM_RUNS,
    INSERT_ENTRY,
    INSERT_RUN,
    JOURNAL_ENTRY,
    KILL,
    KILLED,
    LEASE,
    LIVE_RUNS_OF,
    OPEN_CALLS,
    ORPHANED_CALLS,
    RELEASE,
    RELEASE_ENTRY,
    RENEW,
    RUN,
    RUN_ENTRIES,
    RUN_JOURNAL,
    SET_FEEDBACK,
    SET_STATUS,
    SET_STATUS_HELD,
    SETTLE_ENTRY,
    TAKE_OVER,
    WITH_FEEDBACK,
    begin_call_sql,
    entry_from_row,
    entry_of,
    entry_values,
    feedback_values,
    now_text,
    problems,
    record_from_row,
    settle_params,
    spend_query,
    start_call_sql,
    total_of,
    totals_query,
)
from agentlab.store.sessions import SessionStore
from agentlab.tools.journal import JournalEntry, LeaseLostError
from agentlab.tools.tool import ToolOutcome

E = TypeVar("E", bound=Engine)


class SqlRunStore(SessionStore, Generic[E]):
    """The ``RunStore`` (the executor's ``Journal``, the sessions) in the database ``engine``."""

    engine: E

    def __init__(self, engine: E) -> None:
        self.engine = engine
        self._start_call = start_call_sql(engine.dialect.for_share)
        self._begin_call = begin_call_sql(engine.dialect.for_share)
        newest = f"ORDER BY r.created_at DESC, r.{engine.dialect.run_order} DESC LIMIT ?"
        self._runs = f"SELECT {COLUMNS} FROM {FROM_RUNS} {newest}"
        self._judged_runs = f"SELECT {COLUMNS} FROM {FROM_RUNS} {WITH_FEEDBACK} {newest}"

    @property
    def where(self) -> str:
        """The file or server, for messages (never a password)."""
        return self.engine.where

    async def close(self) -> None:
        await self.engine.close()

    # -- runs ----------------------------------------------------------------------------------

    async def create_run(
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
        values = (run_id, agent, agent_name, task, status, json.dumps(models), json.dumps(options))
        await self.engine.execute(
            INSERT_RUN, (*values, json.dumps(limits), principal, session, now, now)
        )
        return await self.get_run(run_id)

    async def set_status(
        self, run_id: str, status: str, outcome: str = "", *, lease: str | None = None
    ) -> None:
        """Record the run's status; given the ``lease`` token of the process advancing it, only
        while that lease holds the run (``LeaseLostError`` otherwise: nothing was written)."""
        if lease is None:
            await self.engine.execute(SET_STATUS, (status, outcome, now_text(), run_id))
            return
        held = (status, outcome, now_text(), run_id, run_id, lease)
        if await self.engine.execute(SET_STATUS_HELD, held) != 1:
            raise LeaseLostError(
                f"this process no longer holds run {run_id}'s lease, so it did not record its "
                f"status ({status}): another process may have taken the run over"
            )

    async def get_run(self, run_id: str) -> RunRecord:
        found = await self.engine.fetchone(RUN, (run_id,))
        if found is None:
            raise RunNotFoundError(f"no run {run_id!r}: 'agentlab runs' lists the runs there are")
        record = record_from_row(found)
        if isinstance(record, DamagedRun):
            raise DamagedDataError(
                f"run {run_id}'s record in {self.where} is damaged ({record.problem}): it cannot "
                "be shown or resumed; 'agentlab doctor' checks the database"
            )
        return record

    async def list_runs(
        self, limit: int = 50, *, feedback: str | None = None
    ) -> list[RunRecord | DamagedRun]:
        """The most recent runs first (only those whose feedback is ``feedback``, if given); a
        row that cannot be read is a ``DamagedRun``."""
        if feedback is None:
            rows = await self.engine.fetchall(self._runs, (limit,))
        else:
            rows = await self.engine.fetchall(self._judged_runs, (feedback, limit))
        return [record_from_row(r) for r in rows]

    # -- leases --------------------------------------------------------------------------------

    async def acquire_lease(self, run_id: str, ttl_s: float, *, force: bool = False) -> Lease:
        """Claim ``run_id`` for this process for ``ttl_s`` seconds, with the run's next fencing
        token. A claim whose process may still advance the run (``Lease.live``) is a
        ``RunBusyError`` naming it; a dead or lapsed one is taken over. ``force`` takes over an
        expired claim whose process still exists on this host (stopped or hung): that process
        may still be running a tool call, and writes nothing more once it resumes."""
        host, pid = this_host()
        lease = Lease(run_id, uuid.uuid4().hex, host, pid, time.time() + ttl_s)
        claim = (lease.token, host, pid, time.time(), lease.expires_at, run_id)
        while True:
            row = await self.engine.fetchone(LEASE, (run_id,))
            if row is None:
                claimed = await self.engine.execute(CLAIM, claim)
            else:
                held = Lease(run_id, *row)
                if held.live() and not (force and held.expired()):
                    raise busy(run_id, held)
                claimed = await self.engine.execute(
                    TAKE_OVER, (*claim, held.token, held.expires_at)
                )
            if claimed == 1:
                try:
                    await self.engine.execute(BUMP_FENCE, (run_id,))
                    fence = await self.engine.fetchone(FENCE, (run_id,))
                except BaseException:
                    await self.engine.execute(RELEASE, (run_id, lease.token))
                    raise
                return dataclasses.replace(lease, fence=int(fence[0]) if fence else 0)
            # Another process claimed (or renewed) the run between the read and the write.

    async def renew_lease(self, lease: Lease, ttl_s: float) -> bool:
        """Extend ``lease``; ``False`` if it was lost (expired and taken over)."""
        renewed = await self.engine.execute(RENEW, (time.time() + ttl_s, lease.run_id, lease.token))
        return renewed == 1

    async def release_lease(self, lease: Lease) -> None:
        await self.engine.execute(RELEASE, (lease.run_id, lease.token))

    async def clear_stale_lease(self, run_id: str) -> None:
        """Forget a dead process's claim on a run that has since been found settled."""
        row = await self.engine.fetchone(LEASE, (run_id,))
        # Dead, or lapsed (a stopped process that continues finds its claim gone, and writes
        # nothing): either way, nothing advances a run found settled.
        if row is not None and (not (held := Lease(run_id, *row)).live() or held.expired()):
            await self.engine.execute(CLEAR_STALE, (run_id, held.token, held.expires_at))

    # -- the tool journal (tools.journal.Journal) ----------------------------------------------

    async def entry(self, run_id: str, call_id: str) -> JournalEntry | None:
        row = await self.engine.fetchone(JOURNAL_ENTRY, (run_id, call_id))
        return None if row is None else entry_from_row(row)

    async def begin(
        self,
        run_id: str,
        call_id: str,
        *,
        tool: str,
        call_hash: str,
        arguments: Any,
        lease: str | None,
    ) -> JournalEntry | None:
        now = time.time()
        entry = (run_id, call_id, tool, call_hash, json.dumps(arguments, default=str))
        started = await self.engine.execute(
            self._begin_call, (*entry, now, lease, run_id, lease, now)
        )
        if started == 1:
            return None
        found = await self.entry(run_id, call_id)  # journaled before, or the lease is lost
        if found is None:
            raise _lease_lost(run_id, tool, call_id)
        return found

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
        now = time.time()
        entry = (run_id, call_id, tool, call_hash, json.dumps(arguments, default=str), attempt)
        started = await self.engine.execute(
            self._start_call, (*entry, now, lease, run_id, lease, now)
        )
        if started != 1:
            raise _lease_lost(run_id, tool, call_id)

    async def finish(
        self,
        run_id: str,
        call_id: str,
        attempt: int,
        outcome: ToolOutcome,
        *,
        lease: str | None = None,
    ) -> None:
        finished = (json.dumps(outcome, default=str), time.time(), run_id, call_id, attempt)
        if lease is None:
            await self.engine.execute(FINISH_CALL, finished)
        elif await self.engine.execute(FINISH_CALL_HELD, (*finished, run_id, lease)) != 1:
            raise LeaseLostError(
                f"this process no longer holds run {run_id}'s lease, so it did not record the "
                f"outcome of call {call_id} (attempt {attempt}): another process took the run "
                "over, and asks a person whether the call took effect"
            )

    async def journal(self, run_id: str) -> list[JournalEntry]:
        """The journaled calls of ``run_id``, in the order they started."""
        return [entry_from_row(r) for r in await self.engine.fetchall(RUN_JOURNAL, (run_id,))]

    # -- the cost ledger and budgets ------------------------------------------------------------

    async def reserve(self, entry: LedgerEntry, ceilings: list[Ceiling]) -> Reservation:
        """Reserve a model call at its worst case unless that could cross a ceiling: the sums
        and the insert run in one serialized transaction, so no other process reserves in
        between."""
        if not ceilings:
            await self.engine.execute(INSERT_ENTRY, entry_values(entry))
            return Reservation(entry.entry_id, None)
        async with self.engine.transaction() as tx:
            return await _reserve_in(tx, entry, ceilings, time.time())

    async def settle(self, entry: LedgerEntry) -> None:
        """Record what the reserved call ``entry.entry_id`` actually used and cost."""
        await self.engine.execute(SETTLE_ENTRY, settle_params(entry))

    async def record(self, entry: LedgerEntry) -> None:
        """Record a settled call that no reservation preceded (no ceiling held it)."""
        await self.engine.execute(INSERT_ENTRY, entry_values(entry))

    async def release(self, entry_id: str) -> None:
        """Drop the reservation of a call that was not made or failed."""
        await self.engine.execute(RELEASE_ENTRY, (entry_id,))

    async def ledger(self, run_id: str) -> list[LedgerEntry]:
        """The run's model calls in the ledger, in the order they were made."""
        return [entry_of(r) for r in await self.engine.fetchall(RUN_ENTRIES, (run_id,))]

    async def cost_totals(self, by: str, since_day: str | None = None) -> list[CostTotal]:
        """Settled calls' tokens and dollars per agent, principal, session, day or run."""
        sql, params = totals_query(by, since_day)
        return [total_of(r) for r in await self.engine.fetchall(sql, params)]

    # -- kills and feedback ----------------------------------------------------------------------

    async def kill(self, run_id: str, reason: str = "killed") -> None:
        """Flag ``run_id``: the process advancing it stops at its next step."""
        await self.get_run(run_id)  # an unknown run is a RunNotFoundError
        await self.engine.execute(KILL, (run_id, reason, time.time()))

    async def kill_all(self, principal: str, reason: str = "killed") -> list[str]:
        """Flag every run of ``principal`` that has not ended; return their ids."""
        async with self.engine.transaction() as tx:
            ids = [str(r[0]) for r in await tx.fetchall(LIVE_RUNS_OF, (principal,))]
            for run_id in ids:
                await tx.execute(KILL, (run_id, reason, time.time()))
        return ids

    async def killed(self, run_id: str) -> str | None:
        """Why ``run_id`` was killed, or ``None`` if it was not (one primary-key lookup)."""
        row = await self.engine.fetchone(KILLED, (run_id,))
        return None if row is None else str(row[0])

    async def set_feedback(self, feedback: Feedback) -> None:
        """Keep a person's verdict on ``feedback.run_id``, replacing any given before."""
        await self.get_run(feedback.run_id)  # an unknown run is a RunNotFoundError
        await self.engine.execute(SET_FEEDBACK, feedback_values(feedback))

    # -- checks (agentlab doctor) ----------------------------------------------------------------

    async def check(self) -> list[str]:
        """Problems found in the database: its integrity (where the engine checks its own),
        unreadable rows, journal entries of no run or with no outcome while nothing advances
        their run, and leases of dead processes."""
        integrity = await self.engine.integrity()
        if integrity:
            return integrity
        orphans = await self.engine.fetchall(ORPHANED_CALLS)
        open_calls = await self.engine.fetchall(OPEN_CALLS)
        leases = await self.engine.fetchall(ALL_LEASES)
        calls = await self.engine.fetchall(ALL_CALLS)
        runs = await self.list_runs(limit=1_000_000)
        return problems(orphans, open_calls, leases, runs, calls) + await self._forks()

    async def _forks(self) -> list[str]:
        """Runs whose checkpoints fork: two processes wrote the same run (one had lost it)."""
        try:
            forks = await self.engine.fetchall(FORKS)
        except Exception:  # no checkpoint written yet: LangGraph creates its tables then
            return []
        return [
            f"run {run_id}: forked: {count} checkpoints follow checkpoint {parent}, so two "
            f"processes advanced it (one after losing its lease); 'agentlab show {run_id}' "
            "shows the branch written last: check its tool calls' effects"
            for run_id, parent, count in forks
        ]


async def _reserve_in(
    tx: Statements, entry: LedgerEntry, ceilings: list[Ceiling], now: float
) -> Reservation:
    """Reserve ``entry`` (at its worst case) unless that could cross one of ``ceilings``."""
    spent: list[Spent] = []
    for ceiling in ceilings:
        sql, params = spend_query(ceiling, now)
        row = await tx.fetchone(sql, params)
        before = float((row or (0,))[0] or 0)
        amount = entry.reserved_usd if ceiling.metric == "usd" else entry.reserved_tokens
        this = Spent(ceiling, before, before + amount)
        spent.append(this)
        if this.after > ceiling.limit:
            return Reservation(entry.entry_id, this, tuple(spent))
    await tx.execute(INSERT_ENTRY, entry_values(entry))
    return Reservation(entry.entry_id, None, tuple(spent))


def _lease_lost(run_id: str, tool: str, call_id: str) -> LeaseLostError:
    return LeaseLostError(
        f"this process no longer holds run {run_id}'s lease, so it did not start {tool} "
        f"(call {call_id}): another process may be advancing the run"
    )
