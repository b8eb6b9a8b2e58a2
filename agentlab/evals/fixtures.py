"""A case's starting state, laid down in its own data directory before its first run.

Files are written; the agent's own ``deps`` factory is called first (it creates and seeds its
database as on a first tool call) and the case's SQL runs on top; facts and past interactions
go into the principal's long-term memory, as the agent's runs would have put them; a prior
conversation becomes the earlier turns of the session the case continues.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from agentlab.config import Settings
from agentlab.evals.cases import EvalSetError, Fixtures
from agentlab.memory.episodes import Episode
from agentlab.models.messages import assistant, user
from agentlab.orchestration import Agent
from agentlab.orchestration.deps import Deps
from agentlab.orchestration.graph import resolve_long_term
from agentlab.store import ConversationTurn, RunStore


async def lay_down(fixtures: Fixtures, agent: Agent, settings: Settings, principal: str) -> None:
    """Lay ``fixtures`` down in ``settings.data_dir`` for ``agent`` and ``principal``."""
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, content in fixtures.files.items():
        path = data_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    if fixtures.sqlite:
        if agent.deps is not None:
            deps = Deps(data_dir)
            try:
                await deps.get(agent.deps, fixtures.options)
            finally:
                await deps.aclose()
        for fixture in fixtures.sqlite:
            await asyncio.to_thread(_execute, data_dir / fixture.file, fixture.sql)
    if fixtures.facts or fixtures.memories:
        await _remember(fixtures, agent, settings, principal)


async def lay_down_conversation(
    store: RunStore, session: str, principal: str, agent: str, agent_name: str, fixtures: Fixtures
) -> None:
    """Open ``session`` with the fixtures' earlier turns, as if the principal had had them with
    the agent: the case's messages then continue it (its first run reads them as its history)."""
    await store.open_session(session, principal=principal, agent=agent, agent_name=agent_name)
    for number, prior in enumerate(fixtures.conversation, 1):
        messages = [user(prior.message), assistant(prior.reply)]
        await store.append_turn(
            ConversationTurn(
                session=session,
                number=number,
                run_id=f"eval-fixture-{number}",
                message=prior.message,
                reply=prior.reply,
                status="completed",
                messages=messages,
                tokens=(len(prior.message) + len(prior.reply)) // 4 + 8,
                calls={},  # no model answered them: a script starts at its first turn
                created_at=datetime.now(UTC).isoformat(timespec="microseconds"),
            )
        )


def _execute(path: Path, statements: list[str]) -> None:
    with sqlite3.connect(path) as db:
        for statement in statements:
            try:
                db.execute(statement)
            except sqlite3.Error as exc:
                raise EvalSetError(
                    f"fixture SQL on {path.name} failed: {exc}: {statement}"
                ) from None
    db.close()


async def _remember(fixtures: Fixtures, agent: Agent, settings: Settings, principal: str) -> None:
    memory = resolve_long_term(agent, settings)
    if memory is None:
        raise EvalSetError(
            f"the case gives facts or memories, but agent {agent.name!r} has long-term memory "
            "off (Agent(memory=False) or [memory] enabled = false): turn it on, or drop them"
        )
    try:
        store = await memory.fact_store()
        for fact in fixtures.facts:
            assert store is not None
            await store.remember(agent.name, principal, fact.key, fact.value, run_id="eval-fixture")
        now = time.time()
        for i, text in enumerate(fixtures.memories):
            await memory.remember(
                Episode(
                    agent=agent.name,
                    principal=principal,
                    session="eval-fixture",
                    run_id=f"eval-fixture-{i}",
                    turn=1,
                    message=text,
                    reply="",
                    outcome="completed",
                    at=now - 3600 * (len(fixtures.memories) - i),
                )
            )
    finally:
        await memory.aclose()


__all__ = ["lay_down", "lay_down_conversation"]
