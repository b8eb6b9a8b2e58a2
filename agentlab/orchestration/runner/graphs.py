"""The graphs a Runner advances runs with: one per agent and model spec, compiled once.

A run records its agent's reference, so any process rebuilds the same definition; an agent given
as an object (a notebook's) has a reference only this Runner knows. Reading a run needs its
graph, not its models: a stand-in reads every agent's runs (their graphs share state and nodes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from agentlab.config import Settings
from agentlab.errors import AgentNotFoundError, ConfigError
from agentlab.models.router import ModelRouter, ModelSpec, unavailable_router
from agentlab.observability.tracing import Tracing
from agentlab.orchestration.agent import Agent
from agentlab.orchestration.deps import Deps
from agentlab.orchestration.graph import (
    build_graph,
    resolve_limits,
    resolve_models,
    resolve_output_bounds,
    resolve_policy,
)
from agentlab.orchestration.references import load_agent, normalize_reference
from agentlab.orchestration.runner.reading import Graph
from agentlab.store import RunRecord
from agentlab.tools.journal import Journal

log = logging.getLogger(__name__)

IN_PROCESS = "<in-process>"


class Graphs:
    """The agents a Runner has loaded and the graphs compiled for them, over the journal and
    checkpointer ``database()`` gives (the Runner's, while it is open)."""

    def __init__(
        self,
        settings: Settings,
        deps: Deps,
        tracing: Tracing,
        database: Callable[[], tuple[Journal, BaseCheckpointSaver[Any]]],
    ) -> None:
        self._settings = settings
        self._deps = deps
        self._tracing = tracing
        self._database = database
        # A run's agent and models never change: one graph per (agent, models) serves its runs.
        self._built: dict[tuple[str, str], tuple[Graph, ModelRouter]] = {}
        self._agents: dict[str, Agent] = {}
        self._reading: Graph | None = None

    def definition(self, agent: str | Agent | None) -> tuple[str, Agent]:
        """The reference and definition of ``agent`` (a reference, an object, or ``None`` for
        the configured default agent)."""
        if isinstance(agent, Agent):
            reference = f"{IN_PROCESS}:{agent.name}#{id(agent):x}"
            self._agents[reference] = agent
            return reference, agent
        if agent in self._agents:  # loaded before, or an in-process agent of this runner
            return agent, self._agents[agent]
        reference = normalize_reference(agent or self._settings.default_agent)
        if reference not in self._agents:
            self._agents[reference] = load_agent(reference)
        return reference, self._agents[reference]

    def graph(
        self, reference: str, agent: Agent, spec: ModelSpec | None, *, reading: bool = False
    ) -> tuple[Graph, ModelRouter]:
        """The compiled graph of ``agent`` answering with ``spec``'s models (its own when
        ``None``); for ``reading`` only, models that cannot be built (no key) do not matter."""
        key = (reference, spec.model_dump_json() if spec else "")
        if key not in self._built:
            try:
                self._built[key] = self._build(agent, resolve_models(agent, self._settings, spec))
            except ConfigError as exc:
                if not reading:
                    raise
                # Reading a run needs its graph, not its models (e.g. 'show' without an API key).
                return self._build(agent, unavailable_router(str(exc)))
        return self._built[key]

    def for_run(self, record: RunRecord, *, reading: bool = False) -> tuple[Graph, ModelRouter]:
        """The graph of the run ``record`` describes."""
        if record.agent not in self._agents and record.agent.startswith(IN_PROCESS):
            if reading:  # every agent's graph has the same state: a stand-in reads it
                stand_in = Agent(record.agent_name, "(a run read without its agent)")
                why = "the run's agent was defined in another process"
                return self._build(stand_in, unavailable_router(why))
            raise AgentNotFoundError(
                f"run {record.run_id}'s agent {record.agent_name!r} was given as an object, "
                "not a reference, so only the process that started it can load it: start "
                "runs with a reference (module:attr or file.py:attr) to resume them anywhere; "
                "an agent defined in a notebook gets one with 'agentlab promote'"
            )
        reference, agent = self.definition(record.agent)
        spec = ModelSpec(**record.models) if record.models else None
        return self.graph(reference, agent, spec, reading=reading)

    def reader(self) -> Graph:
        """A graph that only reads runs: every agent's graph has the same state and nodes."""
        if self._reading is None:
            stand_in = Agent("reader", "(reads runs, whatever their agent)")
            self._reading = self._build(stand_in, unavailable_router("only reads runs"))[0]
        return self._reading

    def forget(self) -> None:
        """Drop the compiled graphs (compiled with a checkpointer now closed)."""
        self._built.clear()
        self._reading = None

    async def close_toolsets(self) -> None:
        """Close what the agents' toolsets hold open (an MCP server's process); a toolset used
        again later opens anew."""
        seen: set[int] = set()
        for agent in self._agents.values():
            for toolset in agent.all_toolsets:
                closing = getattr(toolset, "aclose", None)
                if closing is None or id(toolset) in seen:
                    continue
                seen.add(id(toolset))
                try:
                    await closing()
                except Exception:
                    log.warning("could not close a toolset of agent %s", agent.name, exc_info=True)

    def _build(self, agent: Agent, router: ModelRouter) -> tuple[Graph, ModelRouter]:
        journal, saver = self._database()
        graph = build_graph(
            agent,
            router,
            policy=resolve_policy(agent, self._settings),
            limits=resolve_limits(agent, self._settings),
            deps=self._deps,
            journal=journal,
            tracing=self._tracing,
            output_bounds=resolve_output_bounds(self._settings),
            context=self._settings.context,
        ).compile(checkpointer=saver, name=agent.name)
        return graph, router
