"""Durable runs: start, resume, list and inspect runs whose state lives in one SQLite file.

Every step is checkpointed by LangGraph's ``SqliteSaver`` (awaited on the loop: see
``checkpoints.py``), so a run survives its process: it
can be approved from another process, or continued after a crash from its last checkpoint. A run
records its agent's reference, so the process that resumes it loads the same definition.

``Runner`` is async (a notebook awaits it); ``SyncRunner`` drives it from plain code and the CLI.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from agentlab.config import Settings
from agentlab.errors import AgentlabError, AgentNotFoundError, ConfigError, RunStateError
from agentlab.events import RunEnded, RunEvent, StatusChanged, event_from_dict
from agentlab.models.router import ModelRouter, ModelSpec, unavailable_router
from agentlab.orchestration.agent import Agent
from agentlab.orchestration.checkpoints import LoopSqliteSaver
from agentlab.orchestration.context import RunContext, default_principal
from agentlab.orchestration.deps import Deps
from agentlab.orchestration.graph import (
    build_graph,
    resolve_limits,
    resolve_models,
    resolve_policy,
)
from agentlab.orchestration.limits import Limits
from agentlab.orchestration.references import load_agent, normalize_reference
from agentlab.orchestration.runs import RunRecord, RunRegistry, open_database, this_process
from agentlab.orchestration.state import TERMINAL, Decision, Status, initial_state

T = TypeVar("T")
Graph = CompiledStateGraph[Any, RunContext, Any, Any]


@dataclass(frozen=True)
class RunView:
    """A run as stored: its record, its latest state, and the approval it waits for, if any."""

    record: RunRecord
    state: dict[str, Any]
    waiting_for: dict[str, Any] | None
    model_source: str

    @property
    def status(self) -> str:
        return str(self.state.get("status", self.record.status))

    @property
    def limits(self) -> Limits:
        return Limits.model_validate(self.record.limits)


class Runner:
    """Runs agents durably. ``async with Runner(settings) as runner: ...``"""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._saver: LoopSqliteSaver | None = None
        self._runs: sqlite3.Connection | None = None
        self._registry: RunRegistry | None = None
        # A run's agent and models never change: one graph per (agent, models) serves its runs.
        self._built: dict[tuple[str, str], tuple[Graph, ModelRouter]] = {}
        self._agents: dict[str, Agent] = {}
        self._deps = Deps(settings.data_dir)

    async def open(self) -> Runner:
        """Open the runs database (created on first use)."""
        if self._saver is not None:
            return self
        path = self._settings.checkpoint_path
        # Two connections: checkpoints are written on the loop, the runs table from worker
        # threads; sharing one would interleave their transactions.
        self._runs = await asyncio.to_thread(open_database, path)
        self._registry = RunRegistry(self._runs)
        self._saver = LoopSqliteSaver.open(path)
        return self

    async def close(self) -> None:
        """Close the agents' deps and the database."""
        await self._deps.aclose()
        if self._saver is not None:
            self._saver.close()
        if self._runs is not None:
            self._runs.close()
        self._saver = None
        self._runs = None
        self._registry = None
        self._built.clear()  # compiled with the closed saver

    async def __aenter__(self) -> Runner:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def registry(self) -> RunRegistry:
        if self._registry is None:
            raise RuntimeError("the Runner is not open: use 'async with Runner(...)' or open()")
        return self._registry

    async def start(
        self,
        agent: str | Agent | None,
        task: str,
        *,
        models: ModelSpec | None = None,
        options: Mapping[str, Any] | None = None,
        principal: str | None = None,
        session: str | None = None,
        limits: Limits | None = None,
    ) -> tuple[str, AsyncIterator[RunEvent]]:
        """Create a run and return its id and the stream of its events (lazy: iterate to run).

        ``agent`` is a reference (``module:attr`` or ``file.py:attr``), an ``Agent`` (which only
        this runner can resume), or ``None`` for the configured default agent. ``models`` is the
        run's model spec (a script, or Claude); ``None`` uses the agent's own models.
        """
        task = task.strip()
        if not task:
            raise AgentlabError("the task is empty: say what the agent should do")
        reference, definition = self._definition(agent)
        options = dict(options or {})
        limits = limits or resolve_limits(definition, self._settings)
        built = self._graph(reference, definition, models)  # fails here, before a run exists
        run_id = f"run-{uuid.uuid4().hex[:10]}"
        ctx = RunContext(
            run_id=run_id,
            principal=principal or default_principal(),
            session=session,
            agent=reference,
            options=options,
            limits=limits,
        )
        await asyncio.to_thread(
            self.registry.create,
            run_id,
            agent=reference,
            agent_name=definition.name,
            task=task,
            status=Status.PLANNING.value,
            models=models.model_dump() if models else None,
            options=options,
            limits=limits.model_dump(),
            principal=ctx.principal,
            session=session,
        )
        return run_id, self._stream(ctx, built[0], initial_state(task))

    async def resume(
        self, run_id: str, decision: Decision | None = None
    ) -> AsyncIterator[RunEvent]:
        """Continue a run: with a decision if it waits for approval, else from its checkpoint."""
        record = await asyncio.to_thread(self.registry.get, run_id)
        graph, _ = self._for_run(record)
        ctx = _context(record)
        snapshot = await graph.aget_state(_config(ctx))
        status = snapshot.values.get("status", record.status)
        command: Command | None
        if snapshot.interrupts:
            if decision is None:
                tool = snapshot.interrupts[0].value.get("tool", "a step")
                raise RunStateError(
                    f"run {run_id} is waiting for approval of {tool}: "
                    "resume it with a decision (approve or reject)"
                )
            command = Command(resume=decision)
        elif snapshot.next or status not in TERMINAL:
            # A run killed after a node's writes were saved but before the next checkpoint shows
            # no next node; given no input, LangGraph applies those writes and goes on.
            if decision is not None:
                raise RunStateError(
                    f"run {run_id} is not waiting for approval (status {status}); "
                    "resume it without a decision to continue it"
                )
            command = None
        else:
            raise RunStateError(f"run {run_id} has ended ({status}): there is nothing to resume")
        return self._stream(ctx, graph, command)

    async def get(self, run_id: str) -> RunView:
        """A run's record and latest state."""
        record = await asyncio.to_thread(self.registry.get, run_id)
        graph, router = self._for_run(record, reading=True)
        snapshot = await graph.aget_state(_config(_context(record)))
        waiting = dict(snapshot.interrupts[0].value) if snapshot.interrupts else None
        return RunView(record, dict(snapshot.values), waiting, router.source)

    def list(self, limit: int = 50) -> list[RunRecord]:
        """The most recent runs first."""
        return self.registry.list(limit)

    def _definition(self, agent: str | Agent | None) -> tuple[str, Agent]:
        if isinstance(agent, Agent):
            reference = f"<in-process>:{agent.name}#{id(agent):x}"
            self._agents[reference] = agent
            return reference, agent
        if agent in self._agents:  # loaded before, or an in-process agent of this runner
            return agent, self._agents[agent]
        reference = normalize_reference(agent or self._settings.default_agent)
        if reference not in self._agents:
            self._agents[reference] = load_agent(reference)
        return reference, self._agents[reference]

    def _graph(
        self, reference: str, agent: Agent, spec: ModelSpec | None, *, reading: bool = False
    ) -> tuple[Graph, ModelRouter]:
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

    def _build(self, agent: Agent, router: ModelRouter) -> tuple[Graph, ModelRouter]:
        graph = build_graph(
            agent,
            router,
            policy=resolve_policy(agent, self._settings),
            limits=resolve_limits(agent, self._settings),
            deps=self._deps,
        ).compile(checkpointer=self._saver, name=agent.name)
        return graph, router

    def _for_run(self, record: RunRecord, *, reading: bool = False) -> tuple[Graph, ModelRouter]:
        if record.agent not in self._agents and record.agent.startswith("<in-process>"):
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
        reference, agent = self._definition(record.agent)
        spec = ModelSpec(**record.models) if record.models else None
        return self._graph(reference, agent, spec, reading=reading)

    async def _stream(self, ctx: RunContext, graph: Graph, payload: Any) -> AsyncIterator[RunEvent]:
        run_id = ctx.run_id or ""
        config = _config(ctx)
        await asyncio.to_thread(self.registry.set_holder, run_id, this_process())
        try:
            async for event in self._advance(ctx, graph, payload, config):
                yield event
        finally:
            # Also when the driver stops listening mid-run; by then the runner may be closed.
            if self._registry is not None:
                await asyncio.to_thread(self._registry.set_holder, run_id, None)
        # The run no longer advances: say how it ended (the holder is already released).
        values = (await graph.aget_state(config)).values
        await asyncio.to_thread(
            self.registry.set_status, run_id, values["status"], values.get("outcome", "")
        )
        yield RunEnded(run_id, values["status"], values.get("outcome", ""))

    async def _advance(
        self, ctx: RunContext, graph: Graph, payload: Any, config: RunnableConfig
    ) -> AsyncIterator[RunEvent]:
        run_id = ctx.run_id or ""
        async for chunk in graph.astream(payload, config, context=ctx, stream_mode="custom"):
            event = event_from_dict(chunk) if isinstance(chunk, Mapping) else None
            if event is None:
                continue
            if isinstance(event, StatusChanged):
                await asyncio.to_thread(
                    self.registry.set_status, run_id, event.transition["target"]
                )
            yield event


def _context(record: RunRecord) -> RunContext:
    return RunContext(
        run_id=record.run_id,
        principal=record.principal,
        session=record.session,
        agent=record.agent,
        options=record.options,
        limits=Limits.model_validate(record.limits),
    )


def _config(ctx: RunContext) -> RunnableConfig:
    assert ctx.limits is not None, "a Runner's runs always have their limits"
    return RunnableConfig(
        configurable={"thread_id": ctx.run_id}, recursion_limit=ctx.limits.recursion_limit
    )


class SyncRunner:
    """``Runner`` for code that does not await: scripts and the CLI. Not for use inside a running
    event loop (in a notebook, ``await`` the ``Runner`` instead)."""

    def __init__(self, settings: Settings) -> None:
        self._loop = asyncio.Runner()
        self.runner = Runner(settings)
        try:
            self._loop.run(self.runner.open())
        except BaseException:
            self._loop.close()
            raise

    def __enter__(self) -> SyncRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._loop.run(self.runner.close())
        finally:
            self._loop.close()

    @property
    def registry(self) -> RunRegistry:
        return self.runner.registry

    def start(
        self, agent: str | Agent | None, task: str, **kwargs: Any
    ) -> tuple[str, Iterator[RunEvent]]:
        """As ``Runner.start``; the events are a plain iterator."""
        run_id, events = self._loop.run(self.runner.start(agent, task, **kwargs))
        return run_id, self._iterate(events)

    def resume(self, run_id: str, decision: Decision | None = None) -> Iterator[RunEvent]:
        return self._iterate(self._loop.run(self.runner.resume(run_id, decision)))

    def get(self, run_id: str) -> RunView:
        return self._loop.run(self.runner.get(run_id))

    def list(self, limit: int = 50) -> list[RunRecord]:
        return self.runner.list(limit)

    def _iterate(self, events: AsyncIterator[T]) -> Iterator[T]:
        while True:
            try:
                yield self._loop.run(_next(events))
            except StopAsyncIteration:
                return


async def _next(events: AsyncIterator[T]) -> T:
    return await anext(events)
