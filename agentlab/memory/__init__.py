"""Memory: what a model call gets to read of the past, within what it can afford to read.

Working memory (``working``) assembles each call's context under a token budget: stable prefix,
memory slot, the session's running summary, its recent turns kept whole, and the call's own
message; ``tokens`` counts them offline. A conversation's stored shape (turns, running summary)
is in ``conversation``. ``embedding`` turns texts into vectors offline (``Embedder``, the default
``MiniLMEmbedder``); ``chroma_embedding`` adapts one to Chroma (imported only where used).
``facts`` keeps what an agent was told about its principal or a customer (``FactStore``, opened
by ``open_facts``; written by the ``remember_fact`` tool of ``fact_tool``), scoped by agent and
principal in LangGraph's key-value store (``keyvalue``). ``knowledge`` is the agent's knowledge
base (``KnowledgeBase``: documents cut into located passages by ``chunking``, searched by
meaning), which the ``search_knowledge_base`` tool of ``knowledge_tool`` searches. Episodic memory
and facts arrive through the memory slot.
"""

from agentlab.memory.conversation import ConversationTurn, Summary
from agentlab.memory.embedding import Embedder, MiniLMEmbedder, load_embedder
from agentlab.memory.fact_tool import fact_tools, remember_fact
from agentlab.memory.facts import Fact, FactChange, FactError, FactStore, facts_text, open_facts
from agentlab.memory.knowledge import (
    Document,
    IngestReport,
    KnowledgeBase,
    Passage,
    SourceInfo,
)
from agentlab.memory.knowledge_tool import KnowledgeToolset, knowledge_tools
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
    "Document",
    "Embedder",
    "EstimatedTokens",
    "Fact",
    "FactChange",
    "FactError",
    "FactStore",
    "IngestReport",
    "KnowledgeBase",
    "KnowledgeToolset",
    "MiniLMEmbedder",
    "Passage",
    "SourceInfo",
    "Summary",
    "TokenCounter",
    "assemble",
    "fact_tools",
    "facts_text",
    "knowledge_tools",
    "load_embedder",
    "open_facts",
    "prefix_tokens",
    "remember_fact",
    "turn_messages",
    "with_context",
]
