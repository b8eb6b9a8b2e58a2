"""Forgetting a principal in every store agentlab keeps them in, and listing what it keeps.

``forget_principal`` deletes the principal's past interactions with every agent and the
knowledge chunks they ingested (Chroma), their facts with every past version (the facts
store), their sessions with turns and summaries, and unless ``keep_runs`` (runs kept for
audit) their runs: each run's checkpoints (its LangGraph thread) first, then its rows (tool
journal, cost ledger, leases, fences, kill flags, feedback), so that a crash in between
leaves the runs to be found again. Then the files are compacted (Chroma's, the SQLite runs
database), so that the deleted bytes leave the disk too; the facts store scrubs its own. A
principal with a run in progress is refused before anything is deleted. ``memory_of`` lists
what is kept of a principal per store; ``prune`` deletes expired past interactions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from agentlab.config import Settings
from agentlab.errors import AgentlabError
from agentlab.memory.facts import open_facts
from agentlab.memory.forgetting import ChromaMemory
from agentlab.memory.keyvalue import memory_path
from agentlab.orchestration.database import RunDatabase, open_run_database
from agentlab.orchestration.identity import NotPermitted, may_manage
from agentlab.store import SqlRunStore
from agentlab.store.engine import Engine
from agentlab.store.forgetting import compact, erase, runs_of, stored_of

COUNTS = (
    "episodes",
    "knowledge_chunks",
    "facts",
    "sessions",
    "turns",
    "summaries",
    "runs",
    "checkpoints",
    "journal",
    "ledger",
    "leases",
    "fences",
    "kills",
    "feedback",
)
"""What ``Forgotten`` counts, store by store (Chroma, facts, the runs database)."""


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What ``forget_principal`` removed of ``principal``: past interactions (``episodes``),
    ``knowledge_chunks`` they ingested, ``facts`` (every version), ``sessions`` with their
    ``turns`` and ``summaries``, and unless ``kept_runs`` their ``runs``, the ``checkpoints``
    (threads) of those runs and their rows in the other tables (``feedback`` also counts
    feedback the principal gave on others' runs, kept without the giver's name). ``notes``
    says what could not be done (a store that keeps deleted bytes until later)."""

    principal: str
    episodes: int = 0
    knowledge_chunks: int = 0
    facts: int = 0
    sessions: int = 0
    turns: int = 0
    summaries: int = 0
    runs: int = 0
    checkpoints: int = 0
    journal: int = 0
    ledger: int = 0
    leases: int = 0
    fences: int = 0
    kills: int = 0
    feedback: int = 0
    kept_runs: bool = False
    notes: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        """The counts, in ``COUNTS`` order."""
        return {name: int(getattr(self, name)) for name in COUNTS}


def check_forget(settings: Settings, actor: str, principal: str) -> None:
    """``NotPermitted`` unless ``actor`` may forget ``principal``: the principal themselves,
    whoever may act as them, and operators (as for managing their runs)."""
    if not may_manage(settings, actor, principal):
        raise NotPermitted(
            f"{actor} may not forget what is stored about {principal}: ask {principal} or an "
            f"operator (the configuration's [access] operators), or have {actor} granted "
            f"act_as {principal}"
        )


async def forget_principal(
    settings: Settings, principal: str, *, keep_runs: bool = False, actor: str | None = None
) -> Forgotten:
    """Delete everything stored about ``principal`` (their runs kept with ``keep_runs``), as
    ``actor`` if given (``NotPermitted`` unless they may); what was removed, per store. A run
    of theirs in progress is a ``RunInProgress`` (``store.forgetting``), nothing deleted."""
    if not principal.strip():
        raise AgentlabError("forgetting needs the principal whose memory goes")
    if actor is not None:
        check_forget(settings, actor, principal)
    counts: dict[str, int] = {}
    notes: list[str] = []
    async with _runs_database(settings) as database:
        engine = None if database is None else _engine(database)
        run_ids = [] if engine is None or keep_runs else await runs_of(engine, principal)
        memory = ChromaMemory(settings.data_dir, settings.memory)
        try:
            forgotten = await asyncio.to_thread(memory.forget, principal)
            counts["episodes"], counts["knowledge_chunks"] = forgotten
            counts["facts"] = await _forget_facts(settings, principal)
            if database is not None and engine is not None:
                counts["checkpoints"] = await _delete_threads(database.saver, run_ids)
                erased = await erase(engine, principal, keep_runs=keep_runs)
                counts |= erased.counts
                late = [r for r in erased.run_ids if r not in run_ids]  # started meanwhile
                counts["checkpoints"] += await _delete_threads(database.saver, late)
                left = await compact(engine)
                if left is not None:
                    notes.append(left)
            if not await asyncio.to_thread(memory.compact):
                notes.append(
                    f"Chroma's files at {memory.where} are a server's, so they were not "
                    "compacted: deleted texts may stay in them until they are (forgetting "
                    "again compacts the files of a data directory no server serves)"
                )
        finally:
            memory.close()
    return Forgotten(principal, **counts, kept_runs=keep_runs, notes=tuple(notes))


async def memory_of(settings: Settings, principal: str) -> dict[str, Any]:
    """What is stored about ``principal``, per store: past interactions per agent (how many,
    the latest), knowledge chunks they ingested per agent, facts (current, every version),
    and the runs database's sessions, turns, summaries, runs, journal and ledger rows."""
    memory = ChromaMemory(settings.data_dir, settings.memory)
    try:
        episodes = await asyncio.to_thread(memory.episodes, principal)
        knowledge = await asyncio.to_thread(memory.knowledge, principal)
    finally:
        memory.close()
    found: dict[str, Any] = {
        "principal": principal,
        "episodes": [
            {"agent": e.agent, "count": e.count, "latest": _iso(e.latest)} for e in episodes
        ],
        "knowledge": [{"agent": a, "chunks": n} for a, n in sorted(knowledge.items())],
        "facts": await _facts_of(settings, principal),
    }
    async with _runs_database(settings) as database:
        rows = {} if database is None else await stored_of(_engine(database), principal)
    for what in ("sessions", "turns", "summaries", "runs", "journal", "ledger"):
        found[what] = rows.get(what, 0)
    return found


async def prune(settings: Settings, now: float | None = None) -> dict[str, int]:
    """Delete the past interactions past their expiry, of every principal (and compact the
    files they were in); how many, per store."""
    memory = ChromaMemory(settings.data_dir, settings.memory)
    try:
        pruned = await asyncio.to_thread(memory.prune, now)
        if pruned:
            await asyncio.to_thread(memory.compact)
    finally:
        memory.close()
    return {"episodes": pruned}


@asynccontextmanager
async def _runs_database(settings: Settings) -> AsyncIterator[RunDatabase | None]:
    """The runs database, or ``None`` where there is none yet (none is created)."""
    if settings.database_url is None and not settings.checkpoint_path.exists():
        yield None
        return
    database = await open_run_database(settings)
    try:
        yield database
    finally:
        await database.close()


def _engine(database: RunDatabase) -> Engine:
    store = database.store
    if not isinstance(store, SqlRunStore):
        raise TypeError(f"forgetting needs a SQL run store, not {type(store).__name__}")
    return store.engine


async def _delete_threads(saver: BaseCheckpointSaver, run_ids: list[str]) -> int:
    """Delete the checkpoints of the runs ``run_ids``; how many runs had some."""
    deleted = 0
    for run_id in run_ids:
        config: Any = {"configurable": {"thread_id": run_id, "checkpoint_ns": ""}}
        deleted += await saver.aget_tuple(config) is not None
        await saver.adelete_thread(run_id)
    return deleted


def _facts_stored(settings: Settings) -> bool:
    return settings.database_url is not None or memory_path(settings).exists()


async def _forget_facts(settings: Settings, principal: str) -> int:
    if not _facts_stored(settings):
        return 0
    async with open_facts(settings) as facts:
        return await facts.forget(principal)


async def _facts_of(settings: Settings, principal: str) -> dict[str, int]:
    if not _facts_stored(settings):
        return {"current": 0, "versions": 0}
    async with open_facts(settings) as facts:
        agents = await facts.agents(principal)
        versions = sum([len(await facts.history(agent, principal)) for agent in agents])
        return {"current": await facts.count(principal=principal), "versions": versions}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
