"""A conversation as stored: its turns (one row each, append-only) and its running summary.

A session is a conversation between one principal and one agent; each user message is a turn (a
run of the agent's graph) that ends with a reply. A turn keeps what a model needs to read it back:
its messages as content blocks (the user's message, the tool calls and their results, the reply;
results clipped to ``RESULT_CHARS``: the run itself keeps them whole) and their token count,
counted once when the turn is stored. The stored shapes are the store's
(``store.conversations``), re-exported here.
"""

from __future__ import annotations

from agentlab.store.conversations import ConversationTurn, Summary

__all__ = ["RESULT_CHARS", "ConversationTurn", "Summary"]

RESULT_CHARS = 2000
"""How much of each tool result a stored turn keeps (the run's own record keeps it whole)."""
