"""The customer-support agent, compiled for a LangGraph server (see ``langgraph.json``).

Claude answers when ``ANTHROPIC_API_KEY`` is set; without it the graph replays the offline demo
script. The server supplies the checkpointer, so none is attached here.
"""

from __future__ import annotations

from langgraph.graph.state import CompiledStateGraph

from agentlab.config import load_settings
from agentlab.domains import agent_for, support
from agentlab.orchestration import compile_agent


def make_graph() -> CompiledStateGraph:
    settings = load_settings()
    script = None if settings.has_anthropic_key else support.demo_script_path()
    return compile_agent(agent_for(support.NAME, settings, script=script))
