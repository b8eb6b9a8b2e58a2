"""Conversation sessions in the runs database: each session's row, its turns and its running
summaries, on every SQL engine (``SessionStore``, which ``SqlRunStore`` inherits).

Turns and summaries are append-only and written idempotently (``ON CONFLICT DO NOTHING``): a turn
stored twice (a process retrying after a crash) keeps its first row, so a session reads the same
whichever process stored it. A session's tokens and dollars are not kept with it: they are summed
from the cost ledger's settled calls of its runs when it is read, as ``cost_totals`` sums them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from agentlab.errors import DamagedDataError, Fix, SessionError, SessionNotFoundError
from agentlab.store.conversations import ConversationTurn, SessionRecord, Summary
from agentlab.store.engine import Engine
from agentlab.store.records import DamagedRun, RunRecord
from agentlab.store.rows import COLUMNS, FROM_RUNS, LEDGER, TOKENS, record_from_row

SESSIONS = "agentlab_sessions"
TURNS = "agentlab_session_turns"
SUMMARIES = "agentlab_session_summaries"

TURN_COLUMNS = (
    "session_id, number, run_id, message, reply, status, messages, tokens, calls, created_at"
)
SUMMARY_COLUMNS = "through, text, tokens, written_by"

OPEN = (
    f"INSERT INTO {SESSIONS} (session_id, principal, agent, agent_name, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_id) DO NOTHING"
)
# A session with its turns counted and its runs' settled calls summed (unpriced ones counted).
_SESSION = (
    "SELECT s.session_id, s.principal, s.agent, s.agent_name, s.created_at, s.updated_at, "
    f"(SELECT COUNT(*) FROM {TURNS} t WHERE t.session_id = s.session_id), "
    f"COALESCE(SUM({TOKENS}), 0), COALESCE(SUM(g.cost_usd), 0), "
    "SUM(CASE WHEN g.entry_id IS NOT NULL AND g.cost_usd IS NULL THEN 1 ELSE 0 END) "
    f"FROM {SESSIONS} s LEFT JOIN {LEDGER} g ON g.session = s.session_id AND g.settled = 1"
)
_GROUPED = "GROUP BY s.session_id, s.principal, s.agent, s.agent_name, s.created_at, s.updated_at"
SESSION = f"{_SESSION} WHERE s.session_id = ? {_GROUPED}"
LATEST_SESSIONS = f"{_SESSION} {_GROUPED} ORDER BY s.updated_at DESC, s.session_id DESC LIMIT ?"

# Stored only into a session that exists; a turn whose number or run is stored already is left
# alone. (The ``WHERE`` also keeps SQLite from reading ``ON`` as a join.)
APPEND_TURN = (
    f"INSERT INTO {TURNS} ({TURN_COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "
    f"WHERE EXISTS (SELECT 1 FROM {SESSIONS} WHERE session_id = ?) ON CONFLICT DO NOTHING"
)
TOUCH = f"UPDATE {SESSIONS} SET updated_at = ? WHERE session_id = ?"
TURN_OF_RUN = f"SELECT {TURN_COLUMNS} FROM {TURNS} WHERE run_id = ?"
_TURNS_AFTER = f"SELECT {TURN_COLUMNS} FROM {TURNS} WHERE session_id = ? AND number > ?"
LAST_TURN = f"SELECT COALESCE(MAX(number), 0) FROM {TURNS} WHERE session_id = ?"

# The runs table's status is a copy: a run whose process died is listed with the status it had
# (``Runner`` reconciles it with its checkpoint).
OPEN_TURNS = (
    f"SELECT {COLUMNS} FROM {FROM_RUNS} WHERE r.session = ? "
    "AND r.status NOT IN ('completed', 'failed')"
)

SAVE_SUMMARY = (
    f"INSERT INTO {SUMMARIES} (session_id, {SUMMARY_COLUMNS}, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, through) DO NOTHING"
)
LATEST_SUMMARY = (
    f"SELECT {SUMMARY_COLUMNS} FROM {SUMMARIES} WHERE session_id = ? ORDER BY through DESC LIMIT 1"
)


def now_text() -> str:
    """Now, in UTC (ISO 8601) to the microsecond: sessions active within one second still list
    in the order they were."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def turns_sql(*, newest_first: bool, limited: bool) -> str:
    """A session's turns after a number (parameters: the session, the number, then the limit if
    ``limited``), oldest or newest first."""
    order = "DESC" if newest_first else "ASC"
    return f"{_TURNS_AFTER} ORDER BY number {order}" + (" LIMIT ?" if limited else "")


class SessionStore:
    """Conversation sessions, kept in the database ``engine`` (``SqlRunStore`` sets it)."""

    engine: Engine

    async def open_session(
        self, session_id: str, *, principal: str, agent: str, agent_name: str
    ) -> SessionRecord:
        """The session ``session_id``, created for ``principal`` and the agent (its reference
        and name) unless it exists; one of another principal or agent is a ``SessionError``."""
        now = now_text()
        await self.engine.execute(OPEN, (session_id, principal, agent, agent_name, now, now))
        session = await self.get_session(session_id)
        if (session.principal, session.agent_name) != (principal, agent_name):
            raise SessionError(
                f"session {session_id} belongs to principal {session.principal} and agent "
                f"{session.agent_name}: {principal} cannot continue it with agent {agent_name}",
                fix=Fix.NEW_SESSION,
                principal=session.principal,
                agent_name=session.agent_name,
            )
        return session

    async def get_session(self, session_id: str) -> SessionRecord:
        """The session ``session_id`` (a ``SessionNotFoundError`` if there is none)."""
        row = await self.engine.fetchone(SESSION, (session_id,))
        if row is None:
            raise SessionNotFoundError(
                f"no session {session_id!r} in {self.engine.where}: 'agentlab sessions' lists "
                "the sessions there are"
            )
        return session_from_row(row)

    async def list_sessions(self, limit: int = 50) -> list[SessionRecord]:
        """The ``limit`` sessions active most recently, the latest first."""
        rows = await self.engine.fetchall(LATEST_SESSIONS, (limit,))
        return [session_from_row(r) for r in rows]

    async def open_turns(self, session_id: str) -> list[RunRecord]:
        """The session's runs that have not ended, as the runs table lists them (a run whose
        process died keeps the status it had there)."""
        rows = await self.engine.fetchall(OPEN_TURNS, (session_id,))
        records = [record_from_row(r) for r in rows]
        damaged = [r for r in records if isinstance(r, DamagedRun)]
        if damaged:
            raise DamagedDataError(
                f"run {damaged[0].run_id} of session {session_id} in {self.engine.where} is "
                f"damaged ({damaged[0].problem}): 'agentlab doctor' checks the database"
            )
        return [r for r in records if isinstance(r, RunRecord)]

    async def append_turn(self, turn: ConversationTurn) -> bool:
        """Store ``turn`` unless its session already has a turn of its number or its run (then
        the first stored stays, and this is ``False``); marks the session active now. A session
        never opened is a ``SessionNotFoundError``."""
        stored = await self.engine.execute(APPEND_TURN, (*turn_values(turn), turn["session"]))
        if stored != 1:
            await self.get_session(turn["session"])  # an unknown session is an error
            return False
        await self.engine.execute(TOUCH, (now_text(), turn["session"]))
        return True

    async def turn_of_run(self, run_id: str) -> ConversationTurn | None:
        """The turn run ``run_id`` was, if it was stored as one."""
        row = await self.engine.fetchone(TURN_OF_RUN, (run_id,))
        return None if row is None else turn_from_row(row, self.engine.where)

    async def session_turns(
        self,
        session_id: str,
        *,
        after: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[ConversationTurn]:
        """The session's turns numbered after ``after``, oldest first (or newest first); with
        ``limit``, only that many of them from the start of that order (``newest_first`` and a
        limit: the latest turns)."""
        sql = turns_sql(newest_first=newest_first, limited=limit is not None)
        params: tuple[Any, ...] = (session_id, after) + (() if limit is None else (limit,))
        rows = await self.engine.fetchall(sql, params)
        return [turn_from_row(r, self.engine.where) for r in rows]

    async def turn_count(self, session_id: str) -> int:
        """The number of the session's last turn (0 before its first, or for no session). Turns
        are numbered from 1 on, so it is also how many there are; the next turn is this plus 1."""
        row = await self.engine.fetchone(LAST_TURN, (session_id,))
        return int(row[0]) if row is not None else 0

    async def save_summary(self, session_id: str, summary: Summary) -> None:
        """Keep ``summary`` of the session's turns through ``summary["through"]``; one kept
        already for that turn stays (summaries are append-only)."""
        values = (summary["through"], summary["text"], summary["tokens"], summary["written_by"])
        await self.engine.execute(SAVE_SUMMARY, (session_id, *values, now_text()))

    async def latest_summary(self, session_id: str) -> Summary | None:
        """The session's current summary: the one through its latest turn, if any was kept."""
        row = await self.engine.fetchone(LATEST_SUMMARY, (session_id,))
        if row is None:
            return None
        through, text, tokens, written_by = row
        return Summary(through=int(through), text=text, tokens=int(tokens), written_by=written_by)


def session_from_row(row: tuple[Any, ...]) -> SessionRecord:
    session_id, principal, agent, agent_name, created, updated, turns, tokens, usd, unpriced = row
    return SessionRecord(
        session_id,
        principal,
        agent,
        agent_name,
        created,
        updated,
        turns=int(turns),
        tokens=int(tokens),
        cost_usd=None if unpriced else float(usd),
    )


def turn_values(turn: ConversationTurn) -> tuple[Any, ...]:
    """``turn`` as the columns of ``TURN_COLUMNS``, its lists and mappings as JSON."""
    return (
        turn["session"],
        turn["number"],
        turn["run_id"],
        turn["message"],
        turn["reply"],
        turn["status"],
        json.dumps(turn["messages"]),
        turn["tokens"],
        json.dumps(turn["calls"]),
        turn["created_at"],
    )


def turn_from_row(row: tuple[Any, ...], where: str) -> ConversationTurn:
    """A turn's row (``TURN_COLUMNS``) as a turn; ``DamagedDataError`` if its JSON cannot be
    read."""
    session, number, run_id, message, reply, status, messages, tokens, calls, created = row
    try:
        parsed_messages = json.loads(messages)
        parsed_calls = json.loads(calls)
        if not isinstance(parsed_messages, list) or not isinstance(parsed_calls, dict):
            raise ValueError("messages must be a JSON list and calls a JSON object")
    except (TypeError, ValueError) as exc:
        raise DamagedDataError(
            f"session {session}: turn {number} (run {run_id}) in {where} is unreadable ({exc}): "
            "the session cannot be read back past it; start a new session, or restore the "
            "database from a backup"
        ) from None
    return ConversationTurn(
        session=session,
        number=int(number),
        run_id=run_id,
        message=message,
        reply=reply,
        status=status,
        messages=parsed_messages,
        tokens=int(tokens),
        calls=parsed_calls,
        created_at=created,
    )
