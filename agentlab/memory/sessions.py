"""Where a turn finds its conversation: the ``Conversation`` seam.

A ``Runner``'s sessions keep their turns and summaries in the runs database
(``StoredConversation``, which the run context carries); a graph run on a LangGraph server's
thread keeps them in the thread's state (``ThreadConversation``: its writes become the node's
state update). Nodes read and write through the one protocol and never know which it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from agentlab.memory.conversation import ConversationTurn, Summary
from agentlab.store import RunStore


@runtime_checkable
class Conversation(Protocol):
    """A session's turns and running summary."""

    async def summary(self) -> Summary | None:
        """The latest running summary, if one was written."""
        ...

    async def turns(self, after: int) -> list[ConversationTurn]:
        """The turns numbered above ``after``, oldest first."""
        ...

    async def last(self) -> ConversationTurn | None:
        """The latest turn, if any."""
        ...

    async def turn(self, number: int) -> ConversationTurn | None:
        """The turn ``number``, if it was stored."""
        ...

    async def append(self, turn: ConversationTurn) -> None:
        """Add a turn (a number stored before keeps its first turn)."""
        ...

    async def save_summary(self, summary: Summary) -> None:
        """Keep a new running summary."""
        ...


class StoredConversation:
    """A session of the runs database."""

    def __init__(self, store: RunStore, session: str) -> None:
        self.store = store
        self.session = session

    async def summary(self) -> Summary | None:
        return await self.store.latest_summary(self.session)

    async def turns(self, after: int) -> list[ConversationTurn]:
        return await self.store.session_turns(self.session, after=after)

    async def last(self) -> ConversationTurn | None:
        found = await self.store.session_turns(self.session, limit=1, newest_first=True)
        return found[0] if found else None

    async def turn(self, number: int) -> ConversationTurn | None:
        found = await self.store.session_turns(self.session, after=number - 1, limit=1)
        return found[0] if found and found[0]["number"] == number else None

    async def append(self, turn: ConversationTurn) -> None:
        await self.store.append_turn(turn)

    async def save_summary(self, summary: Summary) -> None:
        await self.store.save_summary(self.session, summary)


class ThreadConversation:
    """A conversation kept in a thread's state (``history`` and ``summary``); what it is told
    to keep is in ``updates``, for the node to return."""

    def __init__(self, state: Mapping[str, Any]) -> None:
        self._history: Sequence[ConversationTurn] = state.get("history") or []
        self._summary: Summary | None = state.get("summary")
        self.updates: dict[str, Any] = {}

    async def summary(self) -> Summary | None:
        return self._summary

    async def turns(self, after: int) -> list[ConversationTurn]:
        return [t for t in self._history if t["number"] > after]

    async def last(self) -> ConversationTurn | None:
        return self._history[-1] if self._history else None

    async def turn(self, number: int) -> ConversationTurn | None:
        return next((t for t in reversed(self._history) if t["number"] == number), None)

    async def append(self, turn: ConversationTurn) -> None:
        if await self.turn(turn["number"]) is None:
            self.updates["history"] = [turn]

    async def save_summary(self, summary: Summary) -> None:
        self._summary = summary
        self.updates["summary"] = summary
