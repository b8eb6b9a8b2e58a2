"""Assemble an agent's graph: recall -> plan -> prepare -> (approve) -> execute -> validate ->
respond."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from agentlab.config import ContextBudgets, RoleModels, Settings
from agentlab.memory.embedding import Embedder
from agentlab.memory.fact_tool import fact_tools
from agentlab.memory.facts import open_facts
from agentlab.memory.fitting import WorkingMemory
from agentlab.memory.long_term import LongTermMemory
from agentlab.models.base import Model
from agentlab.models.router import (
    ModelRouter,
    ModelSpec,
    claude_router,
    no_key_error,
    router_from_spec,
)
from agentlab.models.wrappers import BudgetedModel
from agentlab.observability import spans
from agentlab.observability.traced import TracedModel, traced_calls
from agentlab.observability.tracing import (
    NO_TRACING,
    Tracing,
    context_of,
    current_carrier,
    current_span_is_set,
    shared_tracing,
)
from agentlab.orchestration.agent import Agent
from agentlab.orchestration.context import RunContext, run_context
from agentlab.orchestration.deps import Deps
from agentlab.orchestration.edges import Routes
from agentlab.orchestration.limits import Limits
from agentlab.orchestration.nodes import (
    Parts,
    approve,
    begin,
    execute,
    halt,
    plan,
    prepare,
    recall,
    respond,
    validate,
)
from agentlab.orchestration.prompt_book import PromptBook, load_prompts
from agentlab.orchestration.state import AgentState, RunInput, RunOutput
from agentlab.orchestration.visit import Update, Visit, visiting
from agentlab.tools.bounds import OutputBounds
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


def resolve_output_bounds(settings: Settings) -> OutputBounds:
    """How deep and large tool outputs may be, as configured (a tool may set its own)."""
    return OutputBounds(
        max_depth=settings.tool_output_max_depth, max_bytes=settings.tool_output_max_bytes
    )


def resolve_prompts(settings: Settings) -> PromptBook:
    """The version of the system prompts in the configured ``prompts_dir``, else the built-in
    one (``ConfigError`` for a directory that does not hold a valid version)."""
    if settings.prompts_dir is None:
        return PromptBook.builtin()
    return load_prompts(settings.prompts_dir)


def build_graph(
    agent: Agent,
    models: ModelRouter,
    *,
    policy: Policy,
    limits: Limits,
    deps: Deps,
    journal: Journal | None = None,
    tracing: Tracing = NO_TRACING,
    output_bounds: OutputBounds | None = None,
    context: ContextBudgets | None = None,
    long_term: LongTermMemory | None = None,
    prompts: PromptBook | None = None,
) -> StateGraph[AgentState, RunContext, RunInput, RunOutput]:
    """The uncompiled graph of ``agent`` answering with ``models`` under ``policy``; runs whose
    context gives no limits get ``limits``; the agent's deps are opened into ``deps``; tool calls
    are journaled in ``journal`` (exactly once across crashes; in memory when not given). With
    ``tracing`` on, each node execution, model call and tool call is a span. Tool outputs are
    held to ``output_bounds`` (default: 64 levels, 1 MB). Each model call's context is fitted to
    its role's budget in ``context`` (default: ``ContextBudgets()``); ``long_term`` is the
    agent's long-term memory (recalled into each turn, written after it), if it has one. The
    roles' system prompts are the version ``prompts`` (default: the built-in one)."""
    # An agent with long-term memory can also keep facts about its users (remember_fact).
    toolsets = (*agent.all_toolsets, fact_tools) if long_term else agent.all_toolsets
    executor = ToolExecutor(
        ToolRegistry(toolsets),
        policy,
        journal,
        wrap=traced_calls(tracing) if tracing.enabled else None,
        bounds=output_bounds,
    )
    memory = WorkingMemory(
        context or ContextBudgets(),
        counts=models.counts,
        slot_tokens=long_term.settings.slot_tokens if long_term else None,
    )
    parts = Parts(
        agent,
        stacked(models, tracing),
        executor,
        deps,
        memory,
        long_term,
        prompts or PromptBook.builtin(),
    )
    edges = Routes(limits)
    g = StateGraph(
        AgentState, context_schema=RunContext, input_schema=RunInput, output_schema=RunOutput
    )
    traced = _node_spans(tracing, agent.name)

    def node(
        name: str, run: Callable[[Parts, Visit], Awaitable[Update]], kill: bool = True
    ) -> None:
        async def visit(v: Visit) -> Update:
            return await run(parts, v)

        g.add_node(name, traced(name, visiting(name, visit, limits, kill_check=kill)))

    g.add_node("begin", traced("begin", begin))
    node("recall", recall)
    node("plan", plan)
    node("prepare", prepare)
    node("approve", approve)
    node("execute", execute)
    node("validate", validate)
    node("halt", halt, kill=False)
    node("respond", respond, kill=False)  # a killed run is answered too, without a model
    g.add_edge(START, "begin")
    g.add_edge("begin", "recall")
    g.add_edge("recall", "plan")
    g.add_conditional_edges(
        "plan", edges.after_plan, ["execute", "prepare", "validate", "plan", "halt", "respond"]
    )
    g.add_conditional_edges(
        "prepare",
        edges.after_prepare,
        ["approve", "execute", "validate", "plan", "halt", "respond"],
    )
    g.add_conditional_edges(
        "approve",
        edges.after_approve,
        ["approve", "execute", "prepare", "validate", "plan", "halt", "respond"],
    )
    g.add_conditional_edges(
        "execute",
        edges.after_execute,
        ["execute", "prepare", "approve", "validate", "plan", "halt", "respond"],
    )
    g.add_conditional_edges(
        "validate", edges.after_validate, ["validate", "plan", "halt", "respond"]
    )
    g.add_edge("halt", "respond")
    g.add_edge("respond", END)
    return g


def stacked(models: ModelRouter, tracing: Tracing) -> ModelRouter:
    """Each role's model with the run's concerns stacked on it: every call held to the run's
    budgets (``BudgetedModel``), and, with tracing on, a span around what reaches the model."""

    def stack(model: Model) -> Model:
        return BudgetedModel(TracedModel(model, tracing) if tracing.enabled else model)

    return models.wrapped(stack)


def compile_agent(
    agent: Agent,
    *,
    models: ModelRouter | None = None,
    settings: Settings | None = None,
    checkpointer: BaseCheckpointSaver | None = None,
    journal: Journal | None = None,
    tracing: Tracing | None = None,
) -> CompiledStateGraph[AgentState, RunContext, RunInput, RunOutput]:
    """Compile ``agent``'s graph; approvals need a ``checkpointer`` to pause and resume.

    Without ``models`` the agent's own router is used (Claude per ``settings`` otherwise); without
    ``settings`` they are loaded from the environment. The graph takes a ``RunContext``
    (``context=``) with each invocation. Tool calls are journaled in ``journal``, keyed by run
    (thread) id and step id (steps keep counting across runs on one thread): pass a durable one
    (``served_journal``) for a LangGraph server; the default journal lives in memory, with the
    graph. Spans go to ``tracing``; by default to the process's tracing for ``settings`` (off
    when no OTLP endpoint is configured). The system prompts are ``settings.prompts_dir``'s.
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
        tracing=shared_tracing(settings) if tracing is None else tracing,
        output_bounds=resolve_output_bounds(settings),
        context=settings.context,
        long_term=resolve_long_term(agent, settings),
        prompts=resolve_prompts(settings),
    )
    return graph.compile(checkpointer=checkpointer, name=agent.name)


def resolve_long_term(
    agent: Agent, settings: Settings, embedder: Embedder | None = None
) -> LongTermMemory | None:
    """The agent's long-term memory as configured (``[memory]``), or ``None`` when it is off
    (for the agent, or in the settings); nothing is opened until a run recalls."""
    if not (agent.memory and settings.memory.enabled):
        return None
    return LongTermMemory.open(
        agent.name,
        settings.data_dir,
        settings.memory,
        embedder,
        facts=lambda: open_facts(settings),
    )


def served_journal(settings: Settings) -> Journal:
    """The durable journal of graphs a LangGraph server runs: ``served.sqlite`` in the data
    directory, opened on the first tool call; its statements run in a worker thread (a server's
    event loop must not block on a file)."""
    from agentlab.store.sqlite import open_sqlite_store

    return open_sqlite_store(settings.data_dir / "served.sqlite", in_thread=True)


GraphNode = Callable[..., Awaitable[Update]]


def _node_spans(tracing: Tracing, agent: str) -> Callable[[str, GraphNode], GraphNode]:
    """What wraps each node: nothing while tracing is off, else a ``CHAIN`` span per execution.

    A node's span nests under the current span: the run's, which the ``Runner`` makes current
    around the graph. Without one (a LangGraph server drives the graph), it nests under the
    run's root span, whose context the run's state keeps (``trace``); a run that has none yet
    gets it in ``begin``: the current span's, else a root ``AGENT`` span made there.
    """
    if not tracing.enabled:
        return lambda name, node: node

    def wrap(name: str, node: GraphNode) -> GraphNode:
        takes_runtime = len(inspect.signature(node).parameters) > 1
        begins = name == "begin"

        # One coroutine around the node, not two: every time the node resumes after an await,
        # each coroutine it runs inside is resumed too.
        async def traced(state: AgentState, runtime: Runtime[RunContext]) -> Update:
            parent = None
            if not current_span_is_set():  # no driver's span around the graph
                if begins:  # and the run has no root yet: it is made here
                    return await _as_root(state, runtime)
                parent = context_of(state.get("trace"))
            attributes = spans.node_attributes(name, state)
            with tracing.span(name, attributes, parent=parent, errors=False) as span:
                try:
                    update = await (node(state, runtime) if takes_runtime else node(state))
                except GraphBubbleUp:  # interrupt(): the run waits for a human
                    spans.node_interrupted(span, "waiting for a human's decision")
                    raise
                except BaseException as exc:
                    spans.failed(span, exc)
                    raise
                spans.node_ended(span, state, update)
            if begins:  # the current span is the run's root
                update = {**update, "trace": current_carrier()}
            return update

        async def _as_root(state: AgentState, runtime: Runtime[RunContext]) -> Update:
            ctx = run_context(runtime, state)
            attributes = spans.run_attributes(
                agent=agent,
                run_id=ctx.run_id or "",
                principal=ctx.principal,
                session=ctx.session,
                invocation="served",
                given=state.get("task", ""),
            )
            with tracing.span("run", attributes):
                if not current_span_is_set():  # a tracer whose spans are not recorded
                    return await (node(state, runtime) if takes_runtime else node(state))
                return await traced(state, runtime)  # which keeps the root's context

        traced.__name__ = name
        return traced

    return wrap
