"""The graphs a Runner advances runs with: one per agent, model spec and version of the system
prompts, compiled once.

A run records its agent's reference, so any process rebuilds the same definition: read back from
the runs database, it is loaded only from a trusted place (``trust.py``). An agent given as an
object (a notebook's) has a reference only this Runner knows; so has a version of the prompts
given to one run (``Runner.start(prompts=)``): the run goes on with it in this Runner, with the
configured one (``prompts_dir``) in any other. Reading a run, or ending a killed one, needs no
agent code: a stand-in does it for every agent (their graphs share state and nodes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from agentlab.config import Settings
from agentlab.errors import AgentNotFoundError, ConfigError, ScriptError
from agentlab.memory.embedding import Embedder, load_embedder
from agentlab.memory.long_term import LongTermMemory
from agentlab.models.router import ModelRouter, ModelSpec, router_from_spec, unavailable_router
from agentlab.observability.tracing import Tracing
from agentlab.orchestration.agent import Agent
from agentlab.orchestration.deps import Deps
from agentlab.orchestration.graph import (
    build_graph,
    resolve_limits,
    resolve_long_term,
    resolve_models,
    resolve_output_bounds,
    resolve_policy,
    resolve_prompts,
)
from agentlab.orchestration.prompt_book import PromptBook
from agentlab.orchestration.references import load_agent, normalize_reference
from agentlab.orchestration.runner.reading import Graph
from agentlab.orchestration.trust import trusted_reference
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
        self._embedder: Embedder | None = None  # one for every agent's memory, loaded once
        self._memories: list[LongTermMemory] = []  # closed with the runner
        # A run's agent and models never change: one graph per (agent, models, prompts) serves
        # its runs.
        self._built: dict[tuple[str, str, str], tuple[Graph, ModelRouter]] = {}
        self._prompts: PromptBook | None = None  # the configured ones, read on first use
        self._run_prompts: dict[str, PromptBook] = {}  # runs started with prompts of their own
        self._agents: dict[str, Agent] = {}
        self._reading: Graph | None = None

    def definition(self, agent: str | Agent | None) -> tuple[str, Agent]:
        """The reference and definition of ``agent`` (a reference, an object, or ``None`` for
        the configured default agent): the caller's choice, so loaded without a trust check."""
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

    def stored(self, reference: str | None, whose: str) -> str | None:
        """A reference read back from storage, as it may be loaded (``UntrustedAgentError`` if
        it names code outside the trusted places); one this runner loaded passes as it is."""
        if reference is None or reference in self._agents:
            return reference
        return trusted_reference(reference, self._settings, whose=whose)

    @property
    def prompts(self) -> PromptBook:
        """The configured version of the system prompts (``prompts_dir``, else the built-in)."""
        if self._prompts is None:
            self._prompts = resolve_prompts(self._settings)
        return self._prompts

    def prompts_of(self, record: RunRecord) -> PromptBook:
        """The prompts the run ``record`` describes goes on with in this Runner."""
        return self._run_prompts.get(record.run_id) or self.prompts

    def keep_prompts(self, run_id: str, prompts: PromptBook) -> None:
        """Go on with ``prompts`` for the run ``run_id`` (started with them) in this Runner."""
        self._run_prompts[run_id] = prompts

    def graph(
        self,
        reference: str,
        agent: Agent,
        spec: ModelSpec | None,
        prompts: PromptBook | None = None,
    ) -> tuple[Graph, ModelRouter]:
        """The compiled graph of ``agent`` answering with ``spec``'s models (its own when
        ``None``) and the system prompts ``prompts`` (default: the configured ones)."""
        prompts = prompts or self.prompts
        key = (reference, spec.model_dump_json() if spec else "", prompts.key)
        if key not in self._built:
            router = resolve_models(agent, self._settings, spec)
            self._built[key] = self._build(agent, router, prompts)
        return self._built[key]

    def for_run(self, record: RunRecord, *, ending: bool = False) -> tuple[Graph, ModelRouter]:
        """The graph that advances the run ``record`` describes; a run ``ending`` (killed) is
        ended by a stand-in, without its agent's code."""
        if ending:
            return self._stand_in(record, "the run was killed: it ends without its models")
        if record.agent not in self._agents and record.agent.startswith(IN_PROCESS):
            raise AgentNotFoundError(
                f"run {record.run_id}'s agent {record.agent_name!r} was given as an object, "
                "not a reference, so only the process that started it can load it: start "
                "runs with a reference (module:attr or file.py:attr) to resume them anywhere; "
                "an agent defined in a notebook gets one with 'agentlab promote'"
            )
        reference, agent = self.definition(self.stored(record.agent, f"run {record.run_id}"))
        spec = ModelSpec(**record.models) if record.models else None
        return self.graph(reference, agent, spec, self.prompts_of(record))

    def for_reading(self, record: RunRecord) -> tuple[Graph, str]:
        """A graph that reads the run ``record`` describes, and where its models' answers come
        from: its own graph if this runner built it, else a stand-in (reading a run imports
        none of its agent's code)."""
        spec = ModelSpec(**record.models) if record.models else None
        models = (record.agent, spec.model_dump_json() if spec else "")
        for key, built in self._built.items():  # whatever its prompts: reading needs none
            if key[:2] == models:
                return built[0], built[1].source
        if spec is None:
            return self.reader(), "its agent's own models, or Claude's configured ones"
        try:
            return self.reader(), router_from_spec(spec, self._settings).source
        except (ConfigError, ScriptError) as exc:  # a script since moved: the run still reads
            return self.reader(), unavailable_router(str(exc)).source

    def reader(self) -> Graph:
        """A graph that only reads runs: every agent's graph has the same state and nodes."""
        if self._reading is None:
            stand_in = Agent("reader", "(reads runs, whatever their agent)")
            reading = unavailable_router("only reads runs")
            self._reading = self._build(stand_in, reading, PromptBook.builtin())[0]
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

    def _stand_in(self, record: RunRecord, why: str) -> tuple[Graph, ModelRouter]:
        """A graph of the run's name with no tools and no models: its nodes end a killed run."""
        return self._build(
            Agent(record.agent_name, "(a run ended without its agent)"),
            unavailable_router(why),
            PromptBook.builtin(),
        )

    def _long_term(self, agent: Agent) -> LongTermMemory | None:
        if self._embedder is None and self._settings.memory.enabled:
            self._embedder = load_embedder(self._settings.memory.embedder)
        memory = resolve_long_term(agent, self._settings, self._embedder)
        if memory is not None:
            self._memories.append(memory)
        return memory

    async def close_memories(self) -> None:
        """Close the agents' long-term memory (its facts store, Chroma's client)."""
        memories, self._memories = self._memories, []
        for memory in memories:
            try:
                await memory.aclose()
            except Exception:
                log.warning("long-term memory of %s did not close cleanly", memory.agent)

    def _build(
        self, agent: Agent, router: ModelRouter, prompts: PromptBook
    ) -> tuple[Graph, ModelRouter]:
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
            long_term=self._long_term(agent),
            prompts=prompts,
        ).compile(checkpointer=saver, name=agent.name)
        return graph, router
