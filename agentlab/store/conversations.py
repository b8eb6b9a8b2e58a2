"""A conversation as stored: its session, its turns (one row each, append-only) and its running
summary.

A session is a conversation between one principal and one agent; each user message is a turn (a
run of the agent's graph) that ends with a reply. A turn keeps what a model needs to read it back:
its messages as content blocks (the user's message, the tool calls and their results, the reply)
and their token count, counted once when the turn is stored. These shapes live here, below
``memory``, so that the store can keep them; ``memory.conversation`` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing_extensions import TypedDict

from agentlab.models.messages import Message


class ConversationTurn(TypedDict):
    """One turn of a session."""

    session: str
    number: int
    """1 for the session's first turn."""
    run_id: str
    message: str
    """What the user said."""
    reply: str
    """What the agent answered."""
    status: str
    """How the turn's run ended (completed, failed)."""
    messages: list[Message]
    """The turn as Messages API messages: the user's message first, the reply last, roles
    alternating, every tool use answered by its result in the next message."""
    tokens: int
    """The tokens of ``messages`` (a model reads them back as they are)."""
    calls: dict[str, int]
    """Model calls per role in the session up to the end of this turn (a scripted model replays
    the session's answers in order)."""
    created_at: str


class Summary(TypedDict):
    """The running summary of a session's turns up to ``through`` (inclusive)."""

    through: int
    text: str
    tokens: int
    written_by: str
    """The model that wrote it, or ``record`` when it was written from the turns without one."""


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A session's row with what it has used: ``agent`` is the agent's reference, ``updated_at``
    its last activity (UTC, ISO 8601), ``turns`` how many turns it has; ``tokens`` and
    ``cost_usd`` sum the settled model calls of its runs in the cost ledger (``cost_usd`` is
    ``None`` when a call's model had no price, so the sum would understate it)."""

    session_id: str
    principal: str
    agent: str
    agent_name: str
    created_at: str
    updated_at: str
    turns: int = 0
    tokens: int = 0
    cost_usd: float | None = 0.0
