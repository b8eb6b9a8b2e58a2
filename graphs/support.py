"""The customer-support agent, for a LangGraph server (see ``langgraph.json``).

``agent`` is the definition (``agentlab agents`` lists its tools); ``make_graph`` compiles it.
Claude answers when ``ANTHROPIC_API_KEY`` is set; without it the graph replays the offline demo
script. The server supplies the checkpointer, so none is attached here; tool calls are journaled
in the data directory (``served.sqlite``), so none runs twice across a server restart.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph.state import CompiledStateGraph

from agentlab.config import load_settings
from agentlab.domains.support import agent, demo_script_path
from agentlab.models.router import ModelSpec
from agentlab.orchestration import compile_agent, resolve_models, served_journal

__all__ = ["agent", "make_graph"]


def make_graph() -> CompiledStateGraph[Any, Any, Any, Any]:
    settings = load_settings()
    spec = ModelSpec.choose(settings, None if settings.has_anthropic_key else demo_script_path())
    return compile_agent(
        agent,
        models=resolve_models(agent, settings, spec),
        settings=settings,
        journal=served_journal(settings),
    )
