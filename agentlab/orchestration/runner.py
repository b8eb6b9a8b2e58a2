"""Durable runs: start, resume, list and inspect runs whose state lives in one SQLite file.

Every step is checkpointed by LangGraph's ``SqliteSaver`` (awaited on the loop: see
``checkpoints.py``), so a run survives its process: it can be approved from another process, or
continued after a crash from its last checkpoint. A run records its agent's reference, so the
process that resumes it loads the same definition. Tool calls are journaled in the same file, so
none runs twice across a crash (``tools/journal.py``).

One process at a time advances a run: it holds the run's lease (renewed while it advances);
another gets a ``RunBusyError`` naming the holder, and takes over once a crashed holder's lease is
over. What ``resume`` does is decided from the checkpoint, never from the runs table's status,
which is only a copy for listing (reconciled with the checkpoint when its writer died).

``Runner`` is async (a notebook awaits it); ``SyncRunner`` drives it from plain code and the CLI.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from opentelemetry.trace import Span

from agentlab.config import Settings
from agentlab.errors import (
    AgentlabError,
    AgentNotFoundError,
    ConfigError,
    DamagedDataError,
    Fix,
    RunBusyError,
    RunStateError,
)
from agentlab.events import RunEnded, RunEvent, StatusChanged, event_from_dict
from agentlab.models.router import ModelRouter, ModelSpec, unavailable_router
from agentlab.observability import spans
from agentlab.observability.ledger import RunLedger
from agentlab.observability.tracing import Tracing, context_of, ending, shared_tracing, within
from agentlab.orchestration.agent import Agent
from agentlab.orchestration.approvals import DecisionRefused, as_decisions
from agentlab.orchestration.context import RunContext, default_principal
from agentlab.orchestration.database import RunDatabase, open_run_database
from agentlab.orchestration.deps import Deps
from agentlab.orchestration.graph import (
    build_graph,
    resolve_limits,
    resolve_models,
    resolve_policy,
)
from agentlab.orchestration.limits import Limits
from agentlab.orchestration.references import load_agent, normalize_reference
from agentlab.orchestration.requests import Decision, describe_request
from agentlab.orchestration.state import TERMINAL, Status, initial_state
from agentlab.store import CostTotal, DamagedRun, Lease, LedgerEntry, RunRecord, RunStore
from agentlab.store.records import SETTLED
from agentlab.tools.journal import LeaseLostError

if TYPE_CHECKING:
    from agentlab.observability.feedback import FeedbackGiven

T = TypeVar("T")
log = logging.getLogger(__name__)
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
    """Runs agents durably. ``async with Runner(settings) as runner: ...``

    Its spans go to ``tracing``, by default to the process's tracing for the settings (the
    OTLP endpoint they name; off without one); ``close`` flushes them.
    """

    def __init__(self, settings: Settings, *, tracing: Tracing | None = None) -> None:
        self._settings = settings
        self.tracing = shared_tracing(settings) if tracing is None else tracing.borrowed()
        self._database: RunDatabase | None = None
        # A run's agent and models never change: one graph per (agent, models) serves its runs.
        self._built: dict[tuple[str, str], tuple[Graph, ModelRouter]] = {}
        self._agents: dict[str, Agent] = {}
        self._deps = Deps(settings.data_dir)
        self._leases: dict[str, Lease] = {}  # the runs this runner advances now
        self._reading: Graph | None = None

    async def open(self) -> Runner:
        """Open the runs database (created on first use)."""
        if self._database is None:
            self._database = await open_run_database(self._settings)
        return self

    async def close(self) -> None:
        """Release the runs this runner still holds; close the agents' deps and the database."""
        database, self._database = self._database, None
        if database is not None:
            for lease in list(self._leases.values()):
                await database.store.release_lease(lease)
        self._leases.clear()
        await self._deps.aclose()
        await self._close_toolsets()
        if database is not None:
            await database.close()
        self._built.clear()  # compiled with the closed saver
        self._reading = None
        self.tracing.flush()  # what is batched is exported now, not at process exit

    async def _close_toolsets(self) -> None:
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

    async def __aenter__(self) -> Runner:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def store(self) -> RunStore:
        """Where runs, leases and the tool journal are kept."""
        return self._open().store

    @property
    def where(self) -> str:
        """The runs database: its file, or its server (never a password)."""
        return self._open().where

    def _open(self) -> RunDatabase:
        if self._database is None:
            raise RuntimeError("the Runner is not open: use 'async with Runner(...)' or open()")
        return self._database

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
        record = await self.store.create_run(
            run_id,
            agent=reference,
            agent_name=definition.name,
            task=task,
            status=Status.PLANNING.value,
            models=models.model_dump() if models else None,
            options=options,
            limits=limits.model_dump(),
            principal=principal or default_principal(),
            session=session,
        )
        lease = await self._acquire(run_id)
        ctx = self._run_context(record, lease)
        return run_id, self._stream(ctx, built[0], initial_state(task), lease)

    async def resume(
        self, run_id: str, decision: Decision | list[Decision] | None = None
    ) -> AsyncIterator[RunEvent]:
        """Continue a run: with a decision if it waits for one, else from where it stopped.
        Where several calls wait together (``waiting_for["group"]``), give a list of decisions
        to answer several at once; calls left undecided keep waiting.

        Decided from the run's checkpoint: a run killed before its first checkpoint starts again
        from its task; one killed mid-step goes on from its last checkpoint (and its journal: no
        tool call runs twice). Raises ``RunBusyError`` while another process advances the run, and
        ``DecisionRefused`` for a decision that does not answer the request the run waits for.
        """
        record = await self.store.get_run(run_id)
        graph, _ = self._for_run(record)
        lease = await self._acquire(run_id)
        try:
            ctx = self._run_context(record, lease)
            payload = await self._resume_payload(record, graph, ctx, decision)
        except BaseException:
            await self._release(lease)
            raise
        return self._stream(ctx, graph, payload, lease)

    async def _resume_payload(
        self,
        record: RunRecord,
        graph: Graph,
        ctx: RunContext,
        decision: Decision | list[Decision] | None,
    ) -> Any:
        run_id = record.run_id
        snapshot = await self._snapshot(graph, ctx)
        status = snapshot.values.get("status", record.status)
        if snapshot.interrupts:
            waiting = snapshot.interrupts[0].value
            killed = await self.store.killed(run_id) if decision is None else None
            if killed is not None:
                # Killed while it waited: the approve node ends it before asking anyone.
                return Command(resume={"killed": True})
            if decision is None:
                raise RunStateError(
                    f"run {run_id} is waiting for a decision on {describe_request(waiting)}",
                    fix=Fix.DECIDE,
                    run_id=run_id,
                )
            try:
                as_decisions(waiting, decision)  # what the approve node will accept
            except DecisionRefused as exc:
                raise DecisionRefused(f"run {run_id}: {exc}") from None
            return Command(resume=decision)
        ended = bool(snapshot.values) and not snapshot.next and status in TERMINAL
        if ended:
            raise RunStateError(f"run {run_id} has ended ({status}): there is nothing to resume")
        if decision is not None:
            raise RunStateError(
                f"run {run_id} is not waiting for a decision (status {status})",
                fix=Fix.CONTINUE,
                run_id=run_id,
            )
        if not snapshot.values:  # killed before its first checkpoint: start again from the task
            return initial_state(record.task)
        # A run killed after a node's writes were saved but before the next checkpoint shows no
        # next node; given no input, LangGraph applies those writes and goes on.
        return None

    async def get(self, run_id: str) -> RunView:
        """A run's record (its status reconciled with its checkpoint) and latest state."""
        record = await self.store.get_run(run_id)
        if record.interrupted:
            record = await self._reconcile(record)
        graph, router = self._for_run(record, reading=True)
        snapshot = await self._snapshot(graph, _context(record))
        waiting = dict(snapshot.interrupts[0].value) if snapshot.interrupts else None
        return RunView(record, dict(snapshot.values), waiting, router.source)

    # -- what people ask of runs besides advancing them (the CLI, a notebook) ---------------

    async def ledger(self, run_id: str) -> list[LedgerEntry]:
        """The run's model calls in the cost ledger, in the order they were made."""
        return await self.store.ledger(run_id)

    async def killed(self, run_id: str) -> str | None:
        """Why the run was killed (``kill``), or ``None`` if it was not."""
        return await self.store.killed(run_id)

    async def cost_totals(self, by: str, since_day: str | None = None) -> list[CostTotal]:
        """Settled model calls' tokens and dollars per agent, principal, session, day or run."""
        return await self.store.cost_totals(by, since_day)

    async def kill(self, run_id: str) -> RunRecord:
        """Flag a run that has not ended: the process advancing it ends it at its next step (a run
        waiting for a human, when it is next resumed). Its record, as it was when flagged."""
        record = await self.store.get_run(run_id)
        if record.status in TERMINAL:
            raise RunStateError(f"run {run_id} has ended ({record.status}): nothing to kill")
        await self.store.kill(run_id)
        return record

    async def kill_all(self, principal: str) -> list[RunRecord]:
        """Flag every run of ``principal`` that has not ended; their records."""
        return [await self.store.get_run(each) for each in await self.store.kill_all(principal)]

    async def feedback(
        self,
        run_id: str,
        score: str,
        *,
        comment: str = "",
        by: str | None = None,
        phoenix_url: str | None = None,
    ) -> FeedbackGiven:
        """Keep a person's verdict on a run (``by``: default the OS user), replacing any given
        before, and attach it to the run's trace in Phoenix at ``phoenix_url`` if it was traced."""
        from agentlab.observability.feedback import give_feedback

        view = await self.get(run_id)  # the latest state names the run's trace
        return await give_feedback(
            self.store,
            view.record,
            view.state,
            score=score,
            comment=comment,
            by=by or default_principal(),
            phoenix_url=phoenix_url,
        )

    async def check(self) -> list[str]:
        """What ``agentlab doctor`` reports of the runs database, after setting the status of
        runs whose process died from their checkpoints (clearing the claims of those that had
        ended), as ``list`` does."""
        await self.list(limit=1_000_000)
        return await self.store.check()

    async def list(
        self, limit: int = 50, *, feedback: str | None = None
    ) -> list[RunRecord | DamagedRun]:
        """The most recent runs first (only those a person judged ``feedback``, good or bad, if
        given); a row that cannot be read is a ``DamagedRun``. The status of a run whose process
        died is read from its checkpoint, so it is never stale."""
        listed = await self.store.list_runs(limit, feedback=feedback)
        out: list[RunRecord | DamagedRun] = []
        for record in listed:
            if isinstance(record, RunRecord) and record.interrupted:
                try:
                    record = await self._reconcile(record)
                except DamagedDataError as exc:
                    record = DamagedRun(record.run_id, str(exc))
            out.append(record)
        return out

    async def _reconcile(self, record: RunRecord) -> RunRecord:
        """Set the runs table's status of a run whose writer died from the run's state: its last
        checkpoint with the writes saved after it (what a resume would continue from)."""
        snapshot = await self._snapshot(self._reader(), _context(record))
        if not snapshot.values:  # killed before its first checkpoint: nothing to reconcile
            return record
        status = str(snapshot.values.get("status", record.status))
        outcome = str(snapshot.values.get("outcome", record.outcome))
        if (status, outcome) != (record.status, record.outcome):
            await self.store.set_status(record.run_id, status, outcome)
        if status in SETTLED:
            await self.store.clear_stale_lease(record.run_id)
        return await self.store.get_run(record.run_id)

    def _run_context(self, record: RunRecord, lease: Lease) -> RunContext:
        """The context of a run this runner advances: its limits (with the configured budgets
        where the run set none) and its account in the cost ledger (reservations, kill flag)."""
        ctx = _context(record, lease)
        budgets = self._settings.budgets
        assert ctx.limits is not None
        limits = ctx.limits.with_defaults(
            Limits.model_validate(budgets.model_dump(exclude={"webhook_url"}))
        )
        ledger = RunLedger(
            self.store,
            record.run_id,
            agent=record.agent_name,
            principal=record.principal,
            session=record.session,
            webhook_url=budgets.webhook_url,
        )
        return ctx.model_copy(update={"limits": limits, "ledger": ledger})

    def _reader(self) -> Graph:
        """A graph that only reads runs: every agent's graph has the same state and nodes."""
        if self._reading is None:
            stand_in = Agent("reader", "(reads runs, whatever their agent)")
            self._reading = self._build(stand_in, unavailable_router("only reads runs"))[0]
        return self._reading

    async def _snapshot(self, graph: Graph, ctx: RunContext) -> Any:
        try:
            return await graph.aget_state(_config(ctx))
        except AgentlabError:
            raise
        except Exception as exc:  # a damaged checkpoint: this run only, the others are fine
            raise _unreadable(ctx.run_id or "", exc) from None

    async def _acquire(self, run_id: str) -> Lease:
        lease = await self.store.acquire_lease(run_id, self._settings.lease_ttl_s)
        self._leases[run_id] = lease
        return lease

    async def _release(self, lease: Lease) -> None:
        if self._leases.get(lease.run_id) == lease:
            del self._leases[lease.run_id]
        if self._database is not None:  # the runner may be closed by now
            await self._database.store.release_lease(lease)

    async def _keep(self, lease: Lease, lost: asyncio.Event) -> None:
        """Renew ``lease`` while the run advances; set ``lost`` once it is gone: taken by another
        process, or expired because renewing kept failing (a database hiccup is retried)."""
        ttl = self._settings.lease_ttl_s
        expires = time.time() + ttl
        while True:
            await asyncio.sleep(ttl / 3)
            if self._database is None:
                lost.set()
                return
            try:
                renewed = await self._database.store.renew_lease(lease, ttl)
            except Exception:
                log.warning("could not renew the claim on run %s; retrying", lease.run_id)
                if time.time() < expires:
                    continue
                renewed = False
            if not renewed:
                lost.set()
                return
            expires = time.time() + ttl

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
            journal=self._open().store,
            tracing=self.tracing,
        ).compile(checkpointer=self._open().saver, name=agent.name)
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

    async def _stream(
        self, ctx: RunContext, graph: Graph, payload: Any, lease: Lease
    ) -> AsyncIterator[RunEvent]:
        run_id = ctx.run_id or ""
        config = _config(ctx)
        lost = asyncio.Event()
        keeper = asyncio.create_task(self._keep(lease, lost))
        try:
            span = await self._run_span(ctx, graph, payload)
            with ending(span) if span is not None else _NO_SPAN:
                events = self._advance(ctx, graph, payload, config, lost)
                async for event in events if span is None else within(span, events):
                    yield event
                # The run no longer advances: record how it stands, then let it go.
                values = (await self._snapshot(graph, ctx)).values
                await self.store.set_status(run_id, values["status"], values.get("outcome", ""))
                if span is not None:
                    spans.run_ended(span, values["status"], values.get("outcome", ""))
        finally:
            # Also when the driver stops listening mid-run; by then the runner may be closed.
            keeper.cancel()
            await self._release(lease)
        yield RunEnded(run_id, values["status"], values.get("outcome", ""))

    async def _run_span(self, ctx: RunContext, graph: Graph, payload: Any) -> Span | None:
        """This invocation's span (``AGENT``), or ``None`` while tracing is off. A run that
        began in an earlier invocation (in any process) keeps its root span's context in its
        state: the span is its child, so the whole run is one trace."""
        if not self.tracing.enabled:
            return None
        root = context_of((await self._snapshot(graph, ctx)).values.get("trace"))
        if isinstance(payload, Command):
            invocation, given = "resume", payload.resume
        elif payload is None:
            invocation, given = "resume", "continue from the last checkpoint"
        else:
            invocation, given = "start", payload["task"]
        attributes = spans.run_attributes(
            agent=str(graph.name),
            run_id=ctx.run_id or "",
            principal=ctx.principal,
            session=ctx.session,
            invocation=invocation,
            given=given,
        )
        return self.tracing.start("run", attributes, parent=root)

    async def _advance(
        self,
        ctx: RunContext,
        graph: Graph,
        payload: Any,
        config: RunnableConfig,
        lost: asyncio.Event,
    ) -> AsyncIterator[RunEvent]:
        run_id = ctx.run_id or ""
        database = self._open()  # bound now: the runner may be closed when the stream is
        stream = graph.astream(payload, config, context=ctx, stream_mode="custom")
        try:
            async for chunk in stream:
                if lost.is_set():
                    raise LeaseLostError(f"run {run_id}'s lease expired while it advanced")
                event = event_from_dict(chunk) if isinstance(chunk, Mapping) else None
                if event is None:
                    continue
                if isinstance(event, StatusChanged):
                    await self.store.set_status(run_id, event.transition["target"])
                yield event
        except database.failures as exc:
            where = database.where
            raise DamagedDataError(
                f"the runs database {where} failed while run {run_id} advanced "
                f"({type(exc).__name__}: {exc}): the run is saved up to its last checkpoint; "
                f"'agentlab resume {run_id}' continues it once the database works again"
            ) from None
        except LeaseLostError as exc:
            raise RunBusyError(
                f"{exc}: this process stopped advancing run {run_id}, which another process may "
                f"have taken over (was it paused longer than lease_ttl_s, "
                f"{self._settings.lease_ttl_s:g} s?); 'agentlab runs' shows who holds it"
            ) from None


_NO_SPAN: AbstractContextManager[None] = nullcontext()


def _context(record: RunRecord, lease: Lease | None = None) -> RunContext:
    return RunContext(
        run_id=record.run_id,
        principal=record.principal,
        session=record.session,
        agent=record.agent,
        options=record.options,
        limits=Limits.model_validate(record.limits),
        lease=lease.token if lease is not None else None,
    )


def _config(ctx: RunContext) -> RunnableConfig:
    assert ctx.limits is not None, "a Runner's runs always have their limits"
    return RunnableConfig(
        configurable={"thread_id": ctx.run_id}, recursion_limit=ctx.limits.recursion_limit
    )


def _unreadable(run_id: str, exc: Exception) -> DamagedDataError:
    return DamagedDataError(
        f"run {run_id}'s checkpoint cannot be read ({type(exc).__name__}: {exc}): this run "
        "cannot be shown or resumed, the others are unaffected; 'agentlab doctor' checks the "
        "database"
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
    def store(self) -> RunStore:
        return self.runner.store

    def start(
        self, agent: str | Agent | None, task: str, **kwargs: Any
    ) -> tuple[str, Iterator[RunEvent]]:
        """As ``Runner.start``; the events are a plain iterator."""
        run_id, events = self._loop.run(self.runner.start(agent, task, **kwargs))
        return run_id, self._iterate(events)

    def resume(
        self, run_id: str, decision: Decision | list[Decision] | None = None
    ) -> Iterator[RunEvent]:
        return self._iterate(self._loop.run(self.runner.resume(run_id, decision)))

    def get(self, run_id: str) -> RunView:
        return self._loop.run(self.runner.get(run_id))

    @property
    def where(self) -> str:
        return self.runner.where

    def ledger(self, run_id: str) -> list[LedgerEntry]:
        return self._loop.run(self.runner.ledger(run_id))

    def killed(self, run_id: str) -> str | None:
        return self._loop.run(self.runner.killed(run_id))

    def cost_totals(self, by: str, since_day: str | None = None) -> list[CostTotal]:
        return self._loop.run(self.runner.cost_totals(by, since_day))

    def kill(self, run_id: str) -> RunRecord:
        return self._loop.run(self.runner.kill(run_id))

    def kill_all(self, principal: str) -> list[RunRecord]:
        return self._loop.run(self.runner.kill_all(principal))

    def feedback(self, run_id: str, score: str, **kwargs: Any) -> FeedbackGiven:
        """As ``Runner.feedback``."""
        return self._loop.run(self.runner.feedback(run_id, score, **kwargs))

    def check(self) -> list[str]:
        return self._loop.run(self.runner.check())

    def list(self, limit: int = 50, *, feedback: str | None = None) -> list[RunRecord | DamagedRun]:
        return self._loop.run(self.runner.list(limit, feedback=feedback))

    def _iterate(self, events: AsyncIterator[T]) -> Iterator[T]:
        while True:
            try:
                yield self._loop.run(_next(events))
            except StopAsyncIteration:
                return


async def _next(events: AsyncIterator[T]) -> T:
    return await anext(events)
