"""One invocation of a run: its graph streamed under the run's lease, its events passed on.

The run's span (when tracing is on) is a child of the run's root, whose context its state keeps,
so a run resumed anywhere is one trace. While the run advances, the runs table's status follows
its transitions, but for its end: a run has ended once it has replied (``respond``), so when it
stops (ended, or paused for a person) its status and outcome are read
from its latest checkpoint (one row, however long the run) and recorded, and the lease let go.

A database that fails while the run advances (its disk full, say) stops the run with the error
naming why; what the run did is saved up to its last checkpoint and its journal, so once the
storage works again the run resumes where it stopped and no finished tool call runs again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from langgraph.types import Command
from opentelemetry.trace import Span

from agentlab.errors import DamagedDataError, RunBusyError, StorageError
from agentlab.events import RunEnded, RunEvent, StatusChanged, event_from_dict
from agentlab.observability import spans
from agentlab.observability.tracing import Tracing, context_of, ending, within
from agentlab.orchestration.context import RunContext
from agentlab.orchestration.database import RunDatabase
from agentlab.orchestration.runner.leases import Leases
from agentlab.orchestration.runner.reading import Graph, config_of, latest_values
from agentlab.orchestration.state import TERMINAL
from agentlab.store import Lease
from agentlab.tools.journal import LeaseLostError

_NO_SPAN: AbstractContextManager[None] = nullcontext()
log = logging.getLogger(__name__)


class Advancing:
    """Streams invocations of runs for a Runner: its database (``database()``), leases and
    tracing."""

    def __init__(
        self, database: Callable[[], RunDatabase], leases: Leases, tracing: Tracing
    ) -> None:
        self._database = database
        self._leases = leases
        self._tracing = tracing

    async def stream(
        self, ctx: RunContext, graph: Graph, payload: Any, lease: Lease
    ) -> AsyncIterator[RunEvent]:
        """The run's events until it ends or pauses, then ``RunEnded``; the lease is let go
        however the stream ends (also when the driver stops listening)."""
        run_id = ctx.run_id or ""
        store = self._database().store
        lost = asyncio.Event()
        keeper = asyncio.create_task(self._leases.keep(lease, lost))
        try:
            span = await self._span(ctx, graph, payload)
            with ending(span) if span is not None else _NO_SPAN:
                events = self._advance(ctx, graph, payload, lost)
                async for event in events if span is None else within(span, events):
                    yield event
                # The run no longer advances: record how it stands, then let it go.
                values = await latest_values(graph, ctx)
                status, outcome = str(values["status"]), str(values.get("outcome", ""))
                await store.set_status(run_id, status, outcome, lease=ctx.lease)
                if span is not None:
                    spans.run_ended(span, status, outcome)
        except StorageError as exc:
            raise exc.for_run(run_id) from None
        finally:
            keeper.cancel()
            await self._let_go(lease)
        yield RunEnded(run_id, status, outcome)

    async def _let_go(self, lease: Lease) -> None:
        """Release ``lease``; if the database cannot record that (its disk full, say), the
        lease is left to lapse: its process's end, or its expiry, lets the run be taken over,
        and the error that stopped the run stays the one reported."""
        try:
            await self._leases.release(lease)
        except StorageError as exc:
            log.debug("run %s's claim is left to lapse: %s", lease.run_id, exc.message)

    async def _span(self, ctx: RunContext, graph: Graph, payload: Any) -> Span | None:
        """This invocation's span (``AGENT``), or ``None`` while tracing is off. A run that
        began in an earlier invocation (in any process) keeps its root span's context in its
        state: the span is its child, so the whole run is one trace."""
        if not self._tracing.enabled:
            return None
        root = context_of((await latest_values(graph, ctx)).get("trace"))
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
        return self._tracing.start("run", attributes, parent=root)

    async def _advance(
        self, ctx: RunContext, graph: Graph, payload: Any, lost: asyncio.Event
    ) -> AsyncIterator[RunEvent]:
        run_id = ctx.run_id or ""
        database = self._database()  # bound now: the runner may be closed when the stream is
        stream = graph.astream(payload, config_of(ctx), context=ctx, stream_mode="custom")
        try:
            async for chunk in stream:
                if lost.is_set():
                    raise LeaseLostError(f"run {run_id}'s lease expired while it advanced")
                event = event_from_dict(chunk) if isinstance(chunk, Mapping) else None
                if event is None:
                    continue
                if isinstance(event, StatusChanged):
                    target = event.transition["target"]
                    # A run has ended once it has replied: its end is recorded after the stream.
                    if target not in TERMINAL:
                        await database.store.set_status(run_id, target, lease=ctx.lease)
                yield event
        except database.failures as exc:
            named = database.named(exc) if database.named is not None else None
            if isinstance(named, StorageError):
                raise named.for_run(run_id) from None
            raise DamagedDataError(
                f"the runs database {database.where} failed while run {run_id} advanced "
                f"({type(exc).__name__}: {exc}): the run is saved up to its last checkpoint; "
                f"'agentlab resume {run_id}' continues it once the database works again"
            ) from None
        except LeaseLostError as exc:
            raise RunBusyError(
                f"{exc}: this process stopped advancing run {run_id}, which another process may "
                f"have taken over (was it paused longer than lease_ttl_s, "
                f"{self._leases.ttl_s:g} s?); 'agentlab runs' shows who holds it"
            ) from None
