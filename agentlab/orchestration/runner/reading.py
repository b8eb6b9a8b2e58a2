"""A run's context (read from its record, or for advancing it) and config, reading its
checkpoint, and a damaged one said plainly."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from agentlab.config import Settings
from agentlab.errors import AgentlabError, DamagedDataError
from agentlab.memory.sessions import StoredConversation
from agentlab.observability.ledger import RunLedger
from agentlab.orchestration.checkpoints import LEASE_KEY
from agentlab.orchestration.context import RunContext
from agentlab.orchestration.limits import Limits
from agentlab.orchestration.state import TERMINAL
from agentlab.store import Lease, RunRecord, RunStore

Graph = CompiledStateGraph[Any, RunContext, Any, Any]


def context_of(record: RunRecord, lease: Lease | None = None) -> RunContext:
    """The run context of the run ``record`` describes (advanced under ``lease``, if given)."""
    return RunContext(
        run_id=record.run_id,
        principal=record.principal,
        session=record.session,
        agent=record.agent,
        options=record.options,
        limits=Limits.model_validate(record.limits),
        lease=lease.token if lease is not None else None,
        fence=lease.fence if lease is not None else 0,
    )


def advancing_context(
    record: RunRecord, lease: Lease, settings: Settings, store: RunStore
) -> RunContext:
    """The context of a run a Runner advances under ``lease``: its limits (with the configured
    budgets where the run set none), its account in the cost ledger (reservations, kill flag),
    and its session's conversation, if it has one."""
    ctx = context_of(record, lease)
    budgets = settings.budgets
    assert ctx.limits is not None
    limits = ctx.limits.with_defaults(
        Limits.model_validate(budgets.model_dump(exclude={"webhook_url"}))
    )
    ledger = RunLedger(
        store,
        record.run_id,
        agent=record.agent_name,
        principal=record.principal,
        session=record.session,
        webhook_url=budgets.webhook_url,
    )
    conversation = StoredConversation(store, record.session) if record.session is not None else None
    return ctx.model_copy(update={"limits": limits, "ledger": ledger, "conversation": conversation})


def config_of(ctx: RunContext) -> RunnableConfig:
    """The LangGraph config of a run: its thread, and a recursion limit its iteration cap always
    reaches first."""
    assert ctx.limits is not None, "a Runner's runs always have their limits"
    configurable: dict[str, Any] = {"thread_id": ctx.run_id}
    if ctx.lease is not None:  # the checkpointer writes only while this lease holds the run
        configurable[LEASE_KEY] = ctx.lease
    return RunnableConfig(configurable=configurable, recursion_limit=ctx.limits.recursion_limit)


async def snapshot(graph: Graph, ctx: RunContext) -> Any:
    """The run's state as LangGraph reads it: its last checkpoint with the writes after it."""
    try:
        return await graph.aget_state(config_of(ctx))
    except AgentlabError:
        raise
    except Exception as exc:  # a damaged checkpoint: this run only, the others are fine
        raise unreadable(ctx.run_id or "", exc) from None


def replied(state: Any) -> bool:
    """Whether the run ``state`` (a snapshot) has ended: a final status, nothing next, and its
    reply written. A run killed in ``respond`` after the writes of the node before it were
    saved shows nothing next and a final status, yet has not replied (nor stored its turn)."""
    values = state.values or {}
    done = values.get("replied", True)  # runs from before ``replied`` was kept: their status
    return not state.next and values.get("status") in TERMINAL and bool(done)


async def latest_values(graph: Graph, ctx: RunContext) -> dict[str, Any]:
    """The plain channels of the run's latest checkpoint (status, outcome, trace...): one row
    read, whatever the length of the run, where ``snapshot`` replays its logs."""
    saver = graph.checkpointer
    assert saver is not None and saver is not True and saver is not False
    try:
        found = await saver.aget_tuple(config_of(ctx))
    except Exception as exc:
        raise unreadable(ctx.run_id or "", exc) from None
    return dict(found.checkpoint["channel_values"]) if found is not None else {}


def unreadable(run_id: str, exc: Exception) -> DamagedDataError:
    return DamagedDataError(
        f"run {run_id}'s checkpoint cannot be read ({type(exc).__name__}: {exc}): this run "
        "cannot be shown or resumed, the others are unaffected; 'agentlab doctor' checks the "
        "database"
    )
