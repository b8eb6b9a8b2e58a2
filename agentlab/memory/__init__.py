"""Memory: what a model call gets to read of the past, within what it can afford to read.

Working memory (``working``) assembles each call's context under a token budget: stable prefix,
memory slot, the session's running summary, its recent turns kept whole, and the call's own
message; ``tokens`` counts them offline. A conversation's stored shape (turns, running summary)
is in ``conversation``. ``embedding`` turns texts into vectors offline (``Embedder``, the default
``MiniLMEmbedder``); ``chroma_embedding`` adapts one to Chroma (imported only where used).
Episodic and semantic memory and facts about the user arrive through the memory slot.
"""

from agentlab.memory.conversation import ConversationTurn, Summary
from agentlab.memory.embedding import Embedder, MiniLMEmbedder, load_embedder
from agentlab.memory.tokens import ESTIMATE, EstimatedTokens, TokenCounter
from agentlab.memory.working import (
    Context,
    ContextOverflow,
    assemble,
    prefix_tokens,
    turn_messages,
    with_context,
)

__all__ = [
    "ESTIMATE",
    "Context",
    "ContextOverflow",
    "ConversationTurn",
    "Embedder",
    "EstimatedTokens",
    "MiniLMEmbedder",
    "Summary",
    "TokenCounter",
    "assemble",
    "load_embedder",
    "prefix_tokens",
    "turn_messages",
    "with_context",
]
