"""A Runner's conversations: sessions listed and read, and a session opened for its next turn.

``Runner`` inherits ``Conversations``; a turn is started with ``Runner.start(..., session=ID)``.
"""

from __future__ import annotations

import builtins

from agentlab.errors import Fix, RunStateError, SessionNotFoundError
from agentlab.memory.conversation import ConversationTurn
from agentlab.orchestration.runner.graphs import Graphs
from agentlab.orchestration.runner.reconcile import reconcile
from agentlab.orchestration.state import TERMINAL, Status
from agentlab.store import RunRecord, RunStore, SessionRecord


class Conversations:
    """What a ``Runner`` does with sessions (its ``store`` and ``_graphs``)."""

    _graphs: Graphs

    @property
    def store(self) -> RunStore:
        raise NotImplementedError

    async def sessions(self, limit: int = 50) -> builtins.list[SessionRecord]:
        """Conversations, the latest active first: principal, agent, turns, tokens, cost."""
        return await self.store.list_sessions(limit)

    async def session(self, session_id: str) -> SessionRecord:
        """One conversation's record (``SessionNotFoundError`` if there is none)."""
        return await self.store.get_session(session_id)

    async def turns(self, session_id: str) -> builtins.list[ConversationTurn]:
        """A conversation's turns, in order (what each user said, what was done, the reply)."""
        await self.store.get_session(session_id)
        return await self.store.session_turns(session_id)

    async def open_turns(self, session_id: str) -> builtins.list[RunRecord]:
        """The session's turns that have not ended: waiting for a person, or cut short (their
        process died: ``resume`` finishes them). A session takes a new message only once its
        earlier turns have ended."""
        out = []
        for record in await self.store.open_turns(session_id):
            if record.interrupted:  # its status is read from its checkpoint
                record = await reconcile(self.store, self._graphs.reader(), record)
            if record.status not in TERMINAL:
                out.append(record)
        return out

    async def _session_agent(self, session_id: str) -> str | None:
        """The agent of the session ``session_id``; ``None`` (the default agent) for a new one."""
        try:
            record = await self.store.get_session(session_id)
        except SessionNotFoundError:
            return None
        return record.agent

    async def _next_turn(self, session: str, principal: str, agent: str, name: str) -> None:
        """Open ``session`` for a new turn: created on its first, else it must be the same
        principal's and agent's, with every earlier turn ended (a turn waiting for a person, or
        cut short by a crash, is finished first: its reply belongs before the next message)."""
        await self.store.open_session(session, principal=principal, agent=agent, agent_name=name)
        for record in await self.open_turns(session):
            waiting = record.status == Status.AWAITING_HUMAN
            raise RunStateError(
                f"session {session}'s turn in run {record.run_id} has not ended ("
                + ("it waits for a decision" if waiting else f"status {record.status}")
                + "): finish it first",
                fix=Fix.DECIDE if waiting else Fix.CONTINUE,
                run_id=record.run_id,
            )
