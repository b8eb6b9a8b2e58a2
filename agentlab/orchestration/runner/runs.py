"""Durable runs: ``Runner`` starts, resumes, decides, kills, lists and reads them.

Every step is checkpointed (LangGraph's ``SqliteSaver`` awaited on the loop, or its
``AsyncPostgresSaver``), so a run survives its process: it can be approved from another process,
or continued after a crash from its last checkpoint. A run records its agent's reference, so the
process that resumes it loads the same definition (``graphs.py``). Tool calls are journaled in the
same database, so none runs twice across a crash (``tools/journal.py``). One process at a time
advances a run, under its lease (``leases.py``); what ``resume`` does is decided from the
checkpoint (``resume.py``), never from the runs table, which is only a copy for listing
(``reconcile.py``).

A person answers what a paused run asks with ``decide``: the answer is bound to the requests they
were shown, and refused if the run has moved on. ``Runner`` is async (a notebook awaits it);
``SyncRunner`` drives it from plain code and the CLI.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from agentlab.config import Settings
from agentlab.errors import (
    AgentlabError,
    DamagedDataError,
    RunStateError,
)
from agentlab.events import RunEvent
from agentlab.models.router import ModelSpec
from agentlab.observability.tracing import Tracing, shared_tracing
from agentlab.orchestration.agent import Agent
from agentlab.orchestration.context import RunContext, default_principal
from agentlab.orchestration.database import RunDatabase, open_run_database
from agentlab.orchestration.deps import Deps
from agentlab.orchestration.graph import resolve_limits
from agentlab.orchestration.identity import Identity, check_manage
from agentlab.orchestration.limits import Limits
from agentlab.orchestration.prompt_book import PromptBook
from agentlab.orchestration.requests import (
    Decision,
    requests_of,
)
from agentlab.orchestration.runner.access import Access
from agentlab.orchestration.runner.advance import Advancing
from agentlab.orchestration.runner.conversations import Conversations
from agentlab.orchestration.runner.deciding import Deciding
from agentlab.orchestration.runner.graphs import Graphs
from agentlab.orchestration.runner.leases import Leases
from agentlab.orchestration.runner.reading import advancing_context, context_of, snapshot
from agentlab.orchestration.runner.reconcile import reconcile, regressed
from agentlab.orchestration.runner.resume import resume_payload
from agentlab.orchestration.runner.view import RunView
from agentlab.orchestration.state import TERMINAL, Status, initial_state
from agentlab.store import (
    CostTotal,
    DamagedRun,
    Lease,
    LedgerEntry,
    RunRecord,
    RunStore,
)
from agentlab.tools.journal import Journal

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from agentlab.observability.feedback import FeedbackGiven


class Runner(Conversations, Access, Deciding):
    """Runs agents durably. ``async with Runner(settings) as runner: ...``

    Its spans go to ``tracing``, by default to the process's tracing for the settings (the
    OTLP endpoint they name; off without one); ``close`` flushes them. With an ``identity``
    (who acts, for whom, how) it holds every action to that identity's rights (``access.py``).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        tracing: Tracing | None = None,
        identity: Identity | None = None,
    ) -> None:
        self._settings = settings
        self.identity = identity
        self.tracing = shared_tracing(settings) if tracing is None else tracing.borrowed()
        self._database: RunDatabase | None = None
        self._deps = Deps(settings.data_dir)
        self._graphs = Graphs(settings, self._deps, self.tracing, self._journal_and_saver)
        self._leases = Leases(self._store_if_open, settings.lease_ttl_s)
        self._advancing = Advancing(self._open, self._leases, self.tracing)

    async def open(self) -> Runner:
        """Open the runs database (created on first use)."""
        if self._database is None:
            self._database = await open_run_database(self._settings)
        return self

    async def close(self) -> None:
        """Release the runs this runner still holds; close the agents' deps and the database."""
        database, self._database = self._database, None
        if database is not None:
            await self._leases.release_all(database.store)
        await self._deps.aclose()
        await self._graphs.close_toolsets()
        await self._graphs.close_memories()
        if database is not None:
            await database.close()
        self._graphs.forget()  # compiled with the closed saver
        self.tracing.flush()  # what is batched is exported now, not at process exit

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

    # -- advancing runs -----------------------------------------------------------------------

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
        prompts: PromptBook | None = None,
    ) -> tuple[str, AsyncIterator[RunEvent]]:
        """Create a run and return its id and the stream of its events (lazy: iterate to run).

        ``agent`` is a reference (``module:attr`` or ``file.py:attr``), an ``Agent`` (which only
        this runner can resume), or ``None`` for the configured default agent. ``models`` is the
        run's model spec (a script, or Claude); ``None`` uses the agent's own models.
        ``prompts`` is the version of the system prompts it runs with (``load_prompts``;
        default: the configured ``prompts_dir``'s): this runner goes on with it when the run is
        resumed, another process with its own configured version.
        """
        task = task.strip()
        if not task:
            raise AgentlabError("the task is empty: say what the agent should do")
        principal, actor = self._principal_for(principal)
        if session is not None and agent is None:  # a session goes on with its own (stored) agent
            agent = self._graphs.stored(await self._session_agent(session), f"session {session}")
        reference, definition = self._graphs.definition(agent)
        limits = limits or resolve_limits(definition, self._settings)
        # Fails before a run exists (no agent, no models, a prompt directory that is no version).
        graph, _ = self._graphs.graph(reference, definition, models, prompts)
        if session is not None:
            await self._next_turn(session, principal, reference, definition.name)
        run_id = f"run-{uuid.uuid4().hex[:10]}"
        record = await self.store.create_run(
            run_id,
            agent=reference,
            agent_name=definition.name,
            task=task,
            status=Status.PLANNING.value,
            models=models.model_dump() if models else None,
            options=dict(options or {}),
            limits=limits.model_dump(),
            principal=principal,
            session=session,
        )
        if prompts is not None:
            self._graphs.keep_prompts(run_id, prompts)
        lease = await self._leases.acquire(run_id)
        ctx = self._run_context(record, lease).model_copy(update={"actor": actor})
        return run_id, self._advancing.stream(ctx, graph, initial_state(task), lease)

    async def resume(
        self,
        run_id: str,
        decision: Decision | list[Decision] | None = None,
        *,
        force: bool = False,
    ) -> AsyncIterator[RunEvent]:
        """Continue a run: with decisions if it waits for some (``decide`` makes them from a
        person's answer), else from where it stopped. Calls left undecided keep waiting.

        Decided from the run's checkpoint (``resume.py``). Raises ``RunBusyError`` while another
        process advances the run, and ``DecisionRefused`` for a decision that does not answer the
        request the run waits for. ``force`` takes the run over from a process on this host that
        still exists past its lease (stopped or hung): that process writes nothing more to the
        run, but may still be running a tool call (those that honour the idempotency key or the
        fencing token are safe).
        """
        record = await self.store.get_run(run_id)
        if decision is not None:
            decision = (
                [self._stamped(d) for d in decision]
                if isinstance(decision, list)
                else self._stamped(decision)
            )
        if decision is None or not await self._named_approver(run_id, decision):
            self._check_manage(record, "resume")
        killed = decision is None and await self.store.killed(run_id) is not None
        graph, _ = self._graphs.for_run(record, ending=killed)  # killed: no agent code to end it
        lease = await self._leases.acquire(run_id, force=force)
        held = record.lease
        if force and held is not None and held.token != lease.token and held.live():
            log.warning(
                "took run %s over from process %s, which still exists: it may still be running a "
                "tool call, and writes nothing more to the run",
                run_id,
                held.holder,
            )
        try:
            ctx = self._run_context(record, lease)
            # A run goes on with this process's prompts: resume_payload warns if they differ.
            prompts = None if killed else self._graphs.prompts_of(record).version
            payload = await resume_payload(self.store, record, graph, ctx, decision, prompts)
        except BaseException:
            await self._leases.release(lease)
            raise
        return self._advancing.stream(ctx, graph, payload, lease)

    async def kill(self, run_id: str) -> RunRecord:
        """Flag a run that has not ended: the process advancing it ends it at its next step; a
        run waiting for a human, which no process advances, is ended here at once (failed,
        killed). Its record after that: ``failed``, or as it was when flagged."""
        record = await self.store.get_run(run_id)
        self._check_manage(record, "kill")
        if record.status in TERMINAL:
            raise RunStateError(f"run {run_id} has ended ({record.status}): nothing to kill")
        await self.store.kill(run_id)
        return await self._end_if_waiting(record)

    async def kill_all(self, principal: str) -> list[RunRecord]:
        """Flag every run of ``principal`` that has not ended (ending those that wait for a
        human, as ``kill`` does); their records."""
        if self.identity is not None:
            check_manage(self._settings, self.identity.actor, principal, what="kill", run_id=None)
        flagged = [await self.store.get_run(each) for each in await self.store.kill_all(principal)]
        return [await self._end_if_waiting(record) for record in flagged]

    async def _end_if_waiting(self, record: RunRecord) -> RunRecord:
        """End a flagged run that waits for a human now (its approve node sees the flag; no
        agent code is needed), so it is listed as killed at once. Left flagged, to end when next
        resumed, if this process cannot advance it (another holds it)."""
        if record.status != Status.AWAITING_HUMAN:
            return record
        try:
            async for _ in await self.resume(record.run_id):
                pass
        except AgentlabError as exc:
            log.info("run %s is flagged; it ends when next resumed (%s)", record.run_id, exc)
            return record
        return await self.store.get_run(record.run_id)

    # -- reading runs -------------------------------------------------------------------------

    async def get(self, run_id: str) -> RunView:
        """A run's record (its status reconciled with its checkpoint), latest state, and the
        requests it waits on."""
        record = await self.store.get_run(run_id)
        if record.interrupted:
            record = await reconcile(self.store, self._graphs.reader(), record)
        graph, source = self._graphs.for_reading(record)  # imports none of the agent's code
        state = await snapshot(graph, context_of(record))
        waiting = state.interrupts[0].value if state.interrupts else None
        return RunView(record, dict(state.values), requests_of(waiting), source)

    async def ledger(self, run_id: str) -> list[LedgerEntry]:
        """The run's model calls in the cost ledger, in the order they were made."""
        return await self.store.ledger(run_id)

    async def killed(self, run_id: str) -> str | None:
        """Why the run was killed (``kill``), or ``None`` if it was not."""
        return await self.store.killed(run_id)

    async def cost_totals(self, by: str, since_day: str | None = None) -> list[CostTotal]:
        """Settled model calls' tokens and dollars per agent, principal, session, day or run."""
        return await self.store.cost_totals(by, since_day)

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
        self._check_manage(view.record, "give feedback on")
        by = self._giver(by)
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
        ended), as ``list`` does; also runs whose checkpoints fork, and ended runs whose last
        checkpoint says they go on (a process wrote after the run ended)."""
        records = await self.list(limit=1_000_000)
        found = await self.store.check()
        return found + await regressed(self._graphs.reader(), records)

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
                    record = await reconcile(self.store, self._graphs.reader(), record)
                except DamagedDataError as exc:
                    record = DamagedRun(record.run_id, str(exc))
            out.append(record)
        return out

    # -- internals ----------------------------------------------------------------------------

    def _run_context(self, record: RunRecord, lease: Lease) -> RunContext:
        return advancing_context(record, lease, self._settings, self.store)

    def _open(self) -> RunDatabase:
        if self._database is None:
            raise RuntimeError("the Runner is not open: use 'async with Runner(...)' or open()")
        return self._database

    def _store_if_open(self) -> RunStore | None:
        return None if self._database is None else self._database.store

    def _journal_and_saver(self) -> tuple[Journal, BaseCheckpointSaver[Any]]:
        database = self._open()
        return database.store, database.saver
