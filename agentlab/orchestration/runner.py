"""Durable runs: start, resume, list and inspect runs whose state lives in one SQLite file.

Every step is checkpointed by LangGraph's ``SqliteSaver``, so a run survives its process: it can be
approved from another process, or continued after a crash from its last checkpoint.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from agentlab.config import Settings
from agentlab.errors import AgentlabError, RunStateError
from agentlab.models.router import ModelRouter, ModelSpec, router_from_spec
from agentlab.orchestration.agent import Agent
from agentlab.orchestration.events import RunEnded, RunEvent, StatusChanged, events_from_update
from agentlab.orchestration.graph import compile_agent, recursion_limit
from agentlab.orchestration.runs import RunRecord, RunRegistry, open_database
from agentlab.orchestration.state import Decision, Status, initial_state

AgentResolver = Callable[[str, Mapping[str, Any], ModelRouter], Agent]
"""Builds the agent named in a run record from its stored options and a model router."""


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


class Runner:
    """Runs agents durably. Use as a context manager, or call ``close()``."""

    def __init__(self, settings: Settings, resolve: AgentResolver) -> None:
        self._settings = settings
        self._resolve = resolve
        # Two connections: LangGraph writes checkpoints from a background thread, and a shared
        # connection would interleave its transactions with the runs table's.
        self._checkpoints = open_database(settings.checkpoint_path)
        self._saver = SqliteSaver(self._checkpoints)
        self._saver.setup()
        self._runs = open_database(settings.checkpoint_path)
        self.registry = RunRegistry(self._runs)
        # A run's agent, options and models never change: build its graph once per runner.
        self._built: dict[str, tuple[CompiledStateGraph, ModelRouter]] = {}

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._checkpoints.close()
        self._runs.close()

    def start(
        self,
        agent: str,
        task: str,
        *,
        models: ModelSpec,
        options: Mapping[str, Any] | None = None,
    ) -> tuple[str, Iterator[RunEvent]]:
        """Create a run and return its id and the stream of its events (lazy: iterate to run)."""
        task = task.strip()
        if not task:
            raise AgentlabError("the task is empty: say what the agent should do")
        options = dict(options or {})
        built = self._build(agent, options, models)  # fails here, before a run is recorded
        run_id = f"run-{uuid.uuid4().hex[:10]}"
        max_iterations = self._settings.max_iterations
        self.registry.create(
            run_id,
            agent=agent,
            task=task,
            status=Status.PLANNING.value,
            models=models.model_dump(),
            options=options,
            max_iterations=max_iterations,
        )
        self._built[run_id] = built
        start = initial_state(task, max_iterations=max_iterations)
        return run_id, self._stream(run_id, built[0], start, max_iterations)

    def resume(self, run_id: str, decision: Decision | None = None) -> Iterator[RunEvent]:
        """Continue a run: with a decision if it waits for approval, else from its checkpoint."""
        record = self.registry.get(run_id)
        graph, _ = self._for_run(record)
        snapshot = graph.get_state(self._config(run_id, record.max_iterations))
        status = snapshot.values.get("status", record.status)
        command: Command | None
        if snapshot.interrupts:
            if decision is None:
                tool = snapshot.interrupts[0].value.get("tool", "a step")
                raise RunStateError(
                    f"run {run_id} is waiting for approval of {tool}: "
                    "resume it with --approve or --reject"
                )
            command = Command(resume=decision)
        elif snapshot.next:
            if decision is not None:
                raise RunStateError(
                    f"run {run_id} is not waiting for approval (status {status}); "
                    "resume it without --approve/--reject to continue it"
                )
            command = None
        else:
            raise RunStateError(f"run {run_id} has ended ({status}): there is nothing to resume")
        return self._stream(run_id, graph, command, record.max_iterations)

    def get(self, run_id: str) -> RunView:
        """A run's record and latest state."""
        record = self.registry.get(run_id)
        graph, router = self._for_run(record)
        snapshot = graph.get_state(self._config(run_id, record.max_iterations))
        waiting = dict(snapshot.interrupts[0].value) if snapshot.interrupts else None
        return RunView(record, dict(snapshot.values), waiting, router.source)

    def list(self, limit: int = 50) -> list[RunRecord]:
        """The most recent runs first."""
        return self.registry.list(limit)

    def _build(
        self, agent: str, options: Mapping[str, Any], models: ModelSpec
    ) -> tuple[CompiledStateGraph, ModelRouter]:
        router = router_from_spec(models, self._settings)
        graph = compile_agent(self._resolve(agent, options, router), checkpointer=self._saver)
        return graph, router

    def _for_run(self, record: RunRecord) -> tuple[CompiledStateGraph, ModelRouter]:
        if record.run_id not in self._built:
            self._built[record.run_id] = self._build(
                record.agent, record.options, ModelSpec(**record.models)
            )
        return self._built[record.run_id]

    @staticmethod
    def _config(run_id: str, max_iterations: int) -> RunnableConfig:
        return RunnableConfig(
            configurable={"thread_id": run_id}, recursion_limit=recursion_limit(max_iterations)
        )

    def _stream(
        self, run_id: str, graph: CompiledStateGraph, payload: Any, max_iterations: int
    ) -> Iterator[RunEvent]:
        config = self._config(run_id, max_iterations)
        for chunk in graph.stream(payload, config, stream_mode="updates"):
            for event in events_from_update(run_id, chunk):
                if isinstance(event, StatusChanged):
                    self.registry.set_status(run_id, event.transition["target"])
                yield event
        values = graph.get_state(config).values
        self.registry.set_status(run_id, values["status"], values.get("outcome", ""))
        yield RunEnded(run_id, values["status"], values.get("outcome", ""))
