"""Assemble the agent graph: plan -> prepare -> (approve) -> execute -> validate."""

from __future__ import annotations

from functools import partial

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agentlab.orchestration import edges, nodes
from agentlab.orchestration.agent import Agent
from agentlab.orchestration.state import AgentState

# A planning round or a step takes at most four supersteps (prepare, approve, execute, validate).
_SUPERSTEPS_PER_ITERATION = 4


def build_graph(agent: Agent) -> StateGraph:
    """The uncompiled graph of ``agent``: nodes that use it get it bound; edges see the state."""
    g = StateGraph(AgentState)
    g.add_node("plan", partial(nodes.plan, agent=agent))
    g.add_node("prepare", partial(nodes.prepare, agent=agent))
    g.add_node("approve", nodes.approve)
    g.add_node("execute", partial(nodes.execute, agent=agent))
    g.add_node("validate", partial(nodes.validate, agent=agent))
    g.add_node("halt", nodes.halt)
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", edges.after_plan, ["prepare", "validate", "plan", "halt", END])
    g.add_conditional_edges(
        "prepare", edges.after_prepare, ["approve", "execute", "plan", "halt", END]
    )
    g.add_conditional_edges("approve", edges.after_approve, ["execute", "plan", "halt", END])
    g.add_conditional_edges("execute", edges.after_execute, ["prepare", "validate", "plan", "halt"])
    g.add_conditional_edges("validate", edges.after_validate, ["plan", "halt", END])
    g.add_edge("halt", END)
    return g


def compile_agent(
    agent: Agent, *, checkpointer: BaseCheckpointSaver | None = None
) -> CompiledStateGraph:
    """Compile ``agent``'s graph; approvals need a ``checkpointer`` to pause and resume."""
    return build_graph(agent).compile(checkpointer=checkpointer, name=agent.name)


def recursion_limit(max_iterations: int) -> int:
    """A LangGraph recursion limit that the iteration cap always reaches first."""
    return _SUPERSTEPS_PER_ITERATION * (max_iterations + 1) + 10
