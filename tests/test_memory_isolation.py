"""Isolation by storage, whatever the text: memories written for several principals (names that
look alike, differ by case or space, or read as patterns) and read back with every other
principal's texts reach no one else, in Chroma (episodic memory), the facts store and the
session store."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentlab.config import load_settings
from agentlab.errors import SessionError
from agentlab.memory.chroma import ChromaStore
from agentlab.memory.episodes import EpisodicMemory
from agentlab.memory.facts import open_facts
from agentlab.store.conversations import ConversationTurn
from agentlab.store.sqlite import open_sqlite_store
from tests.embedders import HashEmbedder
from tests.test_memory import episode

NAMES = ["ada", "Ada", "ada ", "ada@example.com", "ada%", "*", "bob", "b0b", "зоя", "ad"]
WORDS = ["refund", "invoice", "ada", "bob", "password", "ticket", "close", "sms", "*", "%", "ад"]

principals = st.lists(st.sampled_from(NAMES), min_size=2, max_size=4, unique=True)
texts = st.lists(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join),
    min_size=1,
    max_size=3,
)
memories = principals.flatmap(lambda names: st.fixed_dictionaries({name: texts for name in names}))

ISOLATION = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@ISOLATION
@given(memories)
def test_no_recall_reaches_another_principals_interactions(said: dict[str, list[str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        memory = EpisodicMemory(ChromaStore(HashEmbedder(), path=Path(tmp) / "chroma"))
        owner_of = {}
        for principal, lines in said.items():
            batch = [
                episode(principal, text, run=f"r{len(owner_of) + i}")
                for i, text in enumerate(lines)
            ]
            owner_of.update({e.id: principal for e in batch})
            memory.remember(batch)
        for asker in said:
            for lines in said.values():
                for text in lines:
                    found = memory.recall("helpdesk", asker, text, k=50)
                    assert {owner_of[r.id] for r in found} <= {asker}
            assert {owner_of[e["id"]] for e in memory.entries(asker)} == {asker}
        memory.store.close()


@ISOLATION
@given(memories)
def test_no_read_of_facts_reaches_another_principals_facts(said: dict[str, list[str]]) -> None:
    async def check(data: Path) -> None:
        config = load_settings(data_dir=data)
        async with open_facts(config) as facts:
            for principal, lines in said.items():
                for i, text in enumerate(lines):
                    await facts.remember("helpdesk", principal, f"fact_{i}", text, run_id="r")
            for asker in said:
                mine = [(f.key, f.value) for f in await facts.current("helpdesk", asker)]
                assert mine == [(f"fact_{i}", t) for i, t in enumerate(said[asker])]
                assert all(f.principal == asker for f in await facts.history("helpdesk", asker))

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(check(Path(tmp)))


@ISOLATION
@given(memories)
def test_no_session_reaches_another_principal(said: dict[str, list[str]]) -> None:
    async def check(path: Path) -> None:
        store = open_sqlite_store(path)
        try:
            for n, (principal, lines) in enumerate(said.items()):
                session = f"s{n}"
                await store.open_session(session, principal=principal, agent="a", agent_name="a")
                for i, text in enumerate(lines, start=1):
                    await store.append_turn(turn(session, i, f"{session}-r{i}", text))
            for n, owner in enumerate(said):
                session = f"s{n}"
                for asker in said:
                    if asker == owner:
                        continue
                    try:
                        await store.open_session(
                            session, principal=asker, agent="a", agent_name="a"
                        )
                    except SessionError:
                        pass
                    else:
                        raise AssertionError(f"{asker!r} continued {owner!r}'s session")
                stored = [t["message"] for t in await store.session_turns(session)]
                assert stored == said[owner]
        finally:
            await store.close()

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(check(Path(tmp) / "runs.sqlite"))


def turn(session: str, number: int, run_id: str, text: str) -> ConversationTurn:
    return ConversationTurn(
        session=session,
        number=number,
        run_id=run_id,
        message=text,
        reply="ok",
        status="completed",
        messages=[],
        tokens=1,
        calls={},
        created_at="2026-12-07T00:00:00+00:00",
    )
