"""Assemble an agent's graph: plan -> prepare -> (approve) -> execute -> validate."""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agentlab.config import RoleModels, Settings
from agentlab.models.router import (
    ModelRouter,
    ModelSpec,
    claude_router,
    no_key_error,
    router_from_spec,
)
from agentlab.orchestration.agent import Agent
from agentlab.orchestration.context import RunContext
from agentlab.orchestration.deps import Deps
from agentlab.orchestration.edges import Routes
from agentlab.orchestration.limits import Limits
from agentlab.orchestration.nodes import AgentNodes
from agentlab.orchestration.state import AgentState, RunInput, RunOutput
from agentlab.tools.executor import ToolExecutor
from agentlab.tools.journal import Journal
from agentlab.tools.policy import DefaultPolicy, Policy
from agentlab.tools.toolset import ToolRegistry


def resolve_models(agent: Agent, settings: Settings, spec: ModelSpec | None = None) -> ModelRouter:
    """The models a run of ``agent`` uses: the run's ``spec`` if given (a script, or Claude), else
    the agent's own router, else Claude with the agent's (or the configured) model per role."""
    if spec is not None and spec.kind == "scripted":
        return router_from_spec(spec, settings)
    if isinstance(agent.models, ModelRouter) and spec is None:
        return agent.models
    if spec is None and not settings.has_anthropic_key:
        raise no_key_error(f"agent {agent.name!r} has no models of its own, so it")
    roles = agent.models if isinstance(agent.models, RoleModels) else None
    return claude_router(settings, roles)


def resolve_policy(agent: Agent, settings: Settings) -> Policy:
    """The agent's policy, or the default one with the configured cost threshold."""
    if agent.policy is not None:
        return agent.policy
    return DefaultPolicy(cost_threshold_usd=settings.approval_cost_threshold_usd)


def resolve_limits(agent: Agent, settings: Settings) -> Limits:
    """The agent's limits, or the configured ones."""
    return agent.limits or Limits(
        max_iterations=settings.max_iterations, max_parallel_calls=settings.max_parallel_calls
    )


def build_graph(
    agent: Agent,
    models: ModelRouter,
    *,
    policy: Policy,
    limits: Limits,
    deps: Deps,
    journal: Journal | None = None,
) -> StateGraph[AgentState, RunContext, RunInput, RunOutput]:
    """The uncompiled graph of ``agent`` answering with ``models`` under ``policy``; runs whose
    context gives no limits get ``limits``; the agent's deps are opened into ``deps``; tool calls
    are journaled in ``journal`` (exactly once across crashes; in memory when not given)."""
    executor = ToolExecutor(ToolRegistry(agent.toolsets), policy, journal)
    n = AgentNodes(agent, models, executor, limits=limits, deps=deps)
    edges = Routes(limits)
    g = StateGraph(
        AgentState, context_schema=RunContext, input_schema=RunInput, output_schema=RunOutput
    )
    g.add_node("begin", n.begin)
    g.add_node("plan", n.plan)
    g.add_node("prepare", n.prepare)
    g.add_node("approve", n.approve)
    g.add_node("execute", n.execute)
    g.add_node("validate", n.validate)
    g.add_node("halt", n.halt)
    g.add_edge(START, "begin")
    g.add_edge("begin", "plan")
    g.add_conditional_edges("plan", edges.after_plan, ["prepare", "validate", "plan", "halt", END])
    g.add_conditional_edges(
        "prepare", edges.after_prepare, ["approve", "execute", "validate", "plan", "halt", END]
    )
    g.add_conditional_edges(
        "approve",
        edges.after_approve,
        ["approve", "execute", "prepare", "validate", "plan", "halt", END],
    )
    g.add_conditional_edges(
        "execute", edges.after_execute, ["prepare", "approve", "validate", "plan", "halt", END]
    )
    g.add_conditional_edges("validate", edges.after_validate, ["plan", "halt", END])
    g.add_edge("halt", END)
    return g


def compile_agent(
    agent: Agent,
    *,
    models: ModelRouter | None = None,
    settings: Settings | None = None,
    checkpointer: BaseCheckpointSaver | None = None,
    journal: Journal | None = None,
) -> CompiledStateGraph[AgentState, RunContext, RunInput, RunOutput]:
    """Compile ``agent``'s graph; approvals need a ``checkpointer`` to pause and resume.

    Without ``models`` the agent's own router is used (Claude per ``settings`` otherwise); without
    ``settings`` they are loaded from the environment. The graph takes a ``RunContext``
    (``context=``) with each invocation. Tool calls are journaled in ``journal``, keyed by run
    (thread) id and step id (steps keep counting across runs on one thread): pass a durable one
    (``served_journal``) for a LangGraph server; the default journal lives in memory, with the
    graph.
    """
    if settings is None:
        from agentlab.config import load_settings

        settings = load_settings()
    graph = build_graph(
        agent,
        models or resolve_models(agent, settings),
        policy=resolve_policy(agent, settings),
        limits=resolve_limits(agent, settings),
        deps=Deps(settings.data_dir),
        journal=journal,
    )
    return graph.compile(checkpointer=checkpointer, name=agent.name)


def served_journal(settings: Settings) -> Journal:
    """The durable journal of graphs a LangGraph server runs: ``served.sqlite`` in the data
    directory, opened on the first tool call."""
    from agentlab.store.sqlite import LazySqliteJournal

    return LazySqliteJournal(settings.data_dir / "served.sqlite")
