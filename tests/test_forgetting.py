"""Forgetting a principal: ``forget`` leaves nothing of them in any file of the data directory
(Chroma's, the facts store's, the runs database with its checkpoints, sessions and summaries)
while another principal's memory stays whole; ``--keep-runs`` keeps their runs for audit; a run
in progress is refused; ``agentlab memory show/forget/prune`` say what is stored and what went.
The runs database's part runs on SQLite and on PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentlab.config import Settings, load_settings
from agentlab.errors import RunBusyError
from agentlab.memory.chroma import ChromaStore
from agentlab.memory.episodes import DAY, EpisodicMemory
from agentlab.memory.facts import open_facts
from agentlab.memory.forgetting import ChromaMemory
from agentlab.memory.long_term import chroma_store
from agentlab.orchestration import Runner
from agentlab.orchestration.forgetting import forget_principal, memory_of
from agentlab.store import ConversationTurn, LedgerEntry, Summary
from agentlab.store.forgetting import FORGOTTEN_GIVER, RunInProgress, erase, runs_of
from tests.cli import agentlab
from tests.embedders import HashEmbedder
from tests.scripts import plan, script, step, verdict
from tests.test_memory import SAYS, episode, helpdesk, turn
from tests.test_resume import drain

ZED = "zed-7c41"
MARK = "wombat-lantern-3391"
"""In everything Zed says, is told and ingests."""
BOB = "bob"
BOB_MARK = "pelican-harbour-5528"


def remembers(value: str) -> str:
    return script(
        planner=[plan(step("remember_fact", key="favourite_animal", value=value))],
        validator=[verdict(True)],
    )


def ingest(settings: Settings, principal: str, path: Path, text: str) -> None:
    """``text`` in the helpdesk's knowledge base, as ingested by ``principal``."""
    path.write_text(f"# Notes\n\n{text}\n", encoding="utf-8")
    store = chroma_store(settings.data_dir, settings.memory)
    try:
        if importlib.util.find_spec("agentlab.memory.knowledge") is not None:
            from agentlab.memory.knowledge import KnowledgeBase

            KnowledgeBase(store, "helpdesk").ingest([path], principal=principal)
        else:  # as the knowledge base stores a chunk
            meta = {"source": str(path), "location": "1", "ingested_by": principal, "at": 1.0}
            store.upsert(
                "knowledge-helpdesk",
                {"kind": "knowledge", "agent": "helpdesk"},
                ids=[f"{path.name}#0"],
                documents=[text],
                metadatas=[meta],
            )
    finally:
        store.close()


async def build_world(data_dir: Path, files: Path) -> dict[str, Any]:
    """Zed's memory in every store, Bob's beside it; the run ids, by whose."""
    settings = load_settings(data_dir=data_dir, memory={"enabled": True})
    async with Runner(settings) as runner:
        told, _ = await turn(runner, helpdesk([], remembers(f"{MARK} one")), f"I like {MARK}",
                             principal=ZED)  # fmt: skip
        changed, asks = await turn(runner, helpdesk([], remembers(f"{MARK} two")),
                                   f"No, {MARK} two", principal=ZED)  # fmt: skip
        # The first turn, recalled, holds a tool's output: the write asks, and Zed approves.
        assert asks.status == "awaiting_human"
        ended = (await drain(await runner.decide(changed, "approve")))[-1]
        assert ended.status == "completed"
        said = [
            (await turn(runner, helpdesk([], SAYS), text, principal=ZED, session="s-zed"))[0]
            for text in (f"Hello, {MARK} here", f"Still {MARK}")
        ]
        await runner.store.save_summary(
            "s-zed", Summary(through=2, text=f"{ZED} talked of {MARK}", tokens=9, written_by="m")
        )
        await runner.feedback(told, "good", comment=f"{MARK} was remembered", by=ZED)
        await runner.store.kill(changed, f"{MARK} stop")
        bobs, _ = await turn(runner, helpdesk([], remembers(BOB_MARK)), f"I like {BOB_MARK}",
                             principal=BOB)  # fmt: skip
        bob_said, _ = await turn(runner, helpdesk([], SAYS), f"Hi, {BOB_MARK} here",
                                 principal=BOB, session="s-bob")  # fmt: skip
        await runner.feedback(bobs, "bad", comment="too slow", by=ZED)  # Zed as an operator
    ingest(settings, ZED, files / "notes-a.md", f"Zed's notes about {MARK} in the attic")
    ingest(settings, BOB, files / "notes-b.md", f"Bob's notes about {BOB_MARK} in the harbour")
    return {"zed": [told, changed, *said], "bob": [bobs, bob_said]}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    """A data directory holding Zed's and Bob's memory, built once; each test copies it."""
    base = tmp_path_factory.mktemp("world")
    with pytest.MonkeyPatch.context() as env:
        for var in ("AGENTLAB_CONFIG", "AGENTLAB_DATABASE_URL", "AGENTLAB_DATA_DIR"):
            env.delenv(var, raising=False)
        runs = asyncio.run(build_world(base / "data", base))
    yield base / "data", runs


@pytest.fixture
def copied(world: tuple[Path, dict[str, Any]], tmp_path: Path) -> tuple[Settings, dict[str, Any]]:
    """The world in this test's data directory, memory on."""
    shutil.copytree(world[0], tmp_path / "data")
    return load_settings(data_dir=tmp_path / "data", memory={"enabled": True}), world[1]


def files_holding(data_dir: Path, *needles: str) -> list[str]:
    """The files under ``data_dir`` whose bytes hold one of ``needles`` (UTF-8)."""
    return sorted(
        str(f.relative_to(data_dir))
        for f in data_dir.rglob("*")
        if f.is_file() and any(n.encode() in f.read_bytes() for n in needles)
    )


# --- the acceptance: nothing of the principal is left, everything of the others is ----------------


async def test_forget_leaves_no_trace_of_the_principal_in_any_file_and_keeps_the_others(copied):
    settings, runs = copied
    assert files_holding(settings.data_dir, ZED, MARK)  # there is something to forget
    stored = await memory_of(settings, ZED)

    done = await forget_principal(settings, ZED)

    assert done.counts() == {
        "episodes": 4,  # two told, two said in the session
        "knowledge_chunks": sum(k["chunks"] for k in stored["knowledge"]),
        "facts": 2,  # the current one and the one it superseded
        "sessions": 1,
        "turns": 2,
        "summaries": 1,
        "runs": 4,
        "checkpoints": 4,
        "journal": 2,  # the two remember_fact calls
        "ledger": stored["ledger"],
        "leases": 0,
        "fences": 4,
        "kills": 1,
        "feedback": 2,  # on Zed's run, and Zed's name on Bob's run
    }
    assert done.knowledge_chunks >= 1 and done.ledger >= 4
    assert done.notes == ()
    assert files_holding(settings.data_dir, ZED, MARK) == []
    assert files_holding(settings.data_dir, BOB_MARK)  # Bob's are all still there
    await bobs_memory_is_whole(settings, runs["bob"])


async def bobs_memory_is_whole(settings: Settings, bob_runs: list[str]) -> None:
    async with Runner(settings) as runner:
        asked, _ = await turn(runner, helpdesk([], SAYS), f"About {BOB_MARK}?", principal=BOB)
        recalled = (await runner.get(asked)).state["recalled"]["memory"]
        session = await runner.session("s-bob")
        judged = (await runner.get(bob_runs[0])).record.feedback
    assert any(BOB_MARK in text for text in recalled)
    assert session.principal == BOB and session.turns == 1
    assert judged is not None and (judged.score, judged.by) == ("bad", FORGOTTEN_GIVER)
    async with open_facts(settings) as facts:
        [fact] = await facts.current("helpdesk", BOB)
    assert fact.value == BOB_MARK
    chroma = ChromaMemory(settings.data_dir, settings.memory)
    try:
        assert chroma.knowledge(BOB)["helpdesk"] >= 1 and chroma.knowledge(ZED) == {}
    finally:
        chroma.close()


async def test_forget_keeping_runs_keeps_them_and_their_checkpoints_and_removes_the_rest(copied):
    settings, runs = copied

    done = await forget_principal(settings, ZED, keep_runs=True)

    assert (done.episodes, done.facts, done.sessions, done.turns, done.summaries) == (4, 2, 1, 2, 1)
    assert (done.runs, done.checkpoints, done.journal, done.ledger) == (0, 0, 0, 0)
    left = await memory_of(settings, ZED)
    assert (left["episodes"], left["facts"], left["sessions"], left["turns"]) == (
        [],
        {"current": 0, "versions": 0},
        0,
        0,
    )
    assert left["runs"] == 4 and left["journal"] == 2
    async with Runner(settings) as runner:
        view = await runner.get(runs["zed"][0])
    assert view.record.principal == ZED and view.state["task"] == f"I like {MARK}"


async def test_show_lists_what_is_stored_of_the_principal_per_store(copied):
    settings, _ = copied

    found = await memory_of(settings, ZED)

    [episodes] = found["episodes"]
    assert (episodes["agent"], episodes["count"]) == ("helpdesk", 4)
    assert found["facts"] == {"current": 1, "versions": 2}
    assert [k["agent"] for k in found["knowledge"]] == ["helpdesk"]
    assert (found["sessions"], found["turns"], found["summaries"], found["runs"]) == (1, 2, 1, 4)


async def test_a_principal_with_a_run_in_progress_is_refused_and_nothing_is_forgotten(copied):
    settings, runs = copied
    async with Runner(settings) as runner:
        await runner.store.acquire_lease(runs["zed"][2], 60)  # as a process advancing it
    before = await memory_of(settings, ZED)

    with pytest.raises(RunInProgress, match=f"{ZED}'s run {runs['zed'][2]} is being advanced"):
        await forget_principal(settings, ZED)

    assert await memory_of(settings, ZED) == before
    kept = await forget_principal(settings, ZED, keep_runs=True)  # the runs stay: allowed
    assert kept.episodes == 4


# --- the runs database, on SQLite and PostgreSQL ------------------------------------------------


async def runs_and_sessions(store: Any, principal: str, *, runs: int = 2) -> list[str]:
    ids = []
    await store.open_session(f"s-{principal}", principal=principal, agent="t:a", agent_name="a")
    for n in range(runs):
        run_id = f"run-{principal}-{n}"
        await store.create_run(run_id, agent="t:a", agent_name="a", task=f"{principal} asks",
                               status="completed", models=None, options={}, limits={},
                               principal=principal, session=f"s-{principal}")  # fmt: skip
        await store.append_turn(
            ConversationTurn(session=f"s-{principal}", number=n + 1, run_id=run_id,
                             message="hi", reply="hello", status="completed", messages=[],
                             tokens=1, calls={}, created_at="2026-11-25T10:00:00+00:00")
        )  # fmt: skip
        call = LedgerEntry(f"e-{run_id}", run_id, "a", principal, f"s-{principal}", "reply",
                           "responder", "m", settled=True, day="2026-11-25")  # fmt: skip
        await store.record(call)
        await store.begin(run_id, "c-1", tool="t", call_hash="h", arguments={}, lease=None)
        ids.append(run_id)
    await store.save_summary(f"s-{principal}", Summary(through=1, text="s", tokens=1,
                                                       written_by="m"))  # fmt: skip
    await store.kill(ids[0])
    return ids


async def test_erase_deletes_the_principals_sessions_runs_and_their_rows_only(store):
    zeds = await runs_and_sessions(store, ZED)
    await runs_and_sessions(store, BOB)

    erased = await erase(store.engine, ZED)

    assert sorted(erased.run_ids) == zeds
    assert erased.counts == {
        "turns": 2, "summaries": 1, "sessions": 1, "leases": 0, "fences": 0, "journal": 2,
        "kills": 1, "feedback": 0, "ledger": 2, "runs": 2,
    }  # fmt: skip
    assert await runs_of(store.engine, ZED) == []
    assert [r.principal for r in await store.list_runs()] == [BOB, BOB]
    assert (await store.get_session(f"s-{BOB}")).turns == 2
    assert await store.latest_summary(f"s-{BOB}") is not None


async def test_erase_keeping_runs_deletes_only_the_sessions(store):
    zeds = await runs_and_sessions(store, ZED)

    erased = await erase(store.engine, ZED, keep_runs=True)

    assert erased == type(erased)({"turns": 2, "summaries": 1, "sessions": 1})
    assert sorted(r.run_id for r in await store.list_runs()) == zeds
    assert len(await store.journal(zeds[0])) == 1 and len(await store.ledger(zeds[0])) == 1


async def test_erase_refuses_a_principal_whose_run_is_being_advanced(store):
    zeds = await runs_and_sessions(store, ZED)
    await store.acquire_lease(zeds[1], 60)

    with pytest.raises(RunBusyError, match=f"run {zeds[1]} is being advanced"):
        await erase(store.engine, ZED)

    assert len(await store.list_runs()) == 2
    assert (await store.get_session(f"s-{ZED}")).turns == 2


# --- Chroma's files -----------------------------------------------------------------------------


def test_compacting_chroma_removes_deleted_texts_and_dropped_collections_files(tmp_path):
    path = tmp_path / "chroma"
    memory = EpisodicMemory(ChromaStore(HashEmbedder(), path=path))
    memory.remember([episode(ZED, f"about {MARK}", run="z1"), episode(BOB, BOB_MARK, run="b1")])
    segments = {d.name for d in path.iterdir() if d.is_dir()}

    memory.forget(ZED)
    assert files_holding(path, MARK)  # deleted, but its bytes are still in the file
    for kept in path.glob("*/length.bin"):  # as hnswlib writes unused slots: memory as it was
        with kept.open("r+b") as file:
            file.seek(-len(MARK), 2)
            file.write(MARK.encode())
    assert memory.store.compact()

    assert files_holding(path, MARK, ZED) == []
    assert len({d.name for d in path.iterdir() if d.is_dir()}) == len(segments) - 1
    assert [e["run_id"] for e in memory.entries(BOB)] == ["b1"]  # reopened, whole


def test_pruning_works_whatever_model_embedded_the_memories(tmp_path):
    memory = EpisodicMemory(ChromaStore(HashEmbedder(), path=tmp_path / "data" / "chroma"))
    memory.remember([episode(ZED, "old", run="o", expires=1.0), episode(ZED, "new", run="n")])
    settings = load_settings(data_dir=tmp_path / "data")  # the configured embedder is minilm

    assert ChromaMemory(settings.data_dir, settings.memory).prune(now=10 * DAY) == 1

    assert [e["run_id"] for e in memory.entries(ZED)] == ["n"]


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture
def world_env(copied: tuple[Settings, dict[str, Any]], env: dict[str, str]) -> dict[str, str]:
    """``env`` on the copied world (memory off: forgetting does not need it on)."""
    assert Path(env["AGENTLAB_DATA_DIR"]) == copied[0].data_dir
    return env


def test_memory_show_lists_each_store(world_env):
    shown = agentlab(world_env, "memory", "show", "--principal", ZED)
    as_json = agentlab(world_env, "memory", "show", "--principal", ZED, "--json")

    assert shown.returncode == 0, shown.stderr
    for said in ("past interactions", "helpdesk: 4", "current facts", "versions in all: 2",
                 "sessions", "runs", "knowledge chunks ingested"):  # fmt: skip
        assert said in shown.stdout
    assert json.loads(as_json.stdout)["runs"] == 4


def test_memory_show_and_prune_of_an_empty_data_directory_create_nothing(env):
    shown = agentlab(env, "memory", "show", "--principal", "nobody", "--json")
    pruned = agentlab(env, "memory", "prune", "--json")

    assert shown.returncode == 0 and pruned.returncode == 0, shown.stderr + pruned.stderr
    assert json.loads(shown.stdout)["runs"] == 0 and json.loads(pruned.stdout) == {"episodes": 0}
    assert not Path(env["AGENTLAB_DATA_DIR"]).exists()


def test_memory_forget_off_a_terminal_without_yes_is_refused_and_forgets_nothing(world_env):
    done = agentlab(world_env, "memory", "forget", "--principal", ZED)

    assert done.returncode == 2
    assert "asks at a terminal first" in done.stderr and "--yes" in done.stderr
    assert json.loads(agentlab(world_env, "memory", "show", "--principal", ZED, "--json")
                      .stdout)["runs"] == 4  # fmt: skip


def test_memory_forget_says_what_it_removed_per_store(world_env):
    done = agentlab(world_env, "memory", "forget", "--principal", ZED, "--yes")
    kept = agentlab(world_env, "memory", "forget", "--principal", BOB, "--yes", "--keep-runs",
                    "--json")  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert f"Forgotten about {ZED}" in done.stdout
    for said in ("past interactions", "facts and their past versions", "session summaries",
                 "checkpoints (runs' threads)", "tool journal entries"):  # fmt: skip
        assert said in done.stdout
    assert kept.returncode == 0, kept.stderr
    counts = json.loads(kept.stdout)
    assert counts["kept_runs"] and counts["runs"] == 0 and counts["sessions"] == 1


def test_memory_forget_of_another_principal_needs_the_right(world_env):
    del world_env["AGENTLAB_ACCESS__ACT_AS"]

    done = agentlab(world_env, "memory", "forget", "--principal", ZED, "--yes")

    assert done.returncode == 2
    assert f"may not forget what is stored about {ZED}" in done.stderr
    assert "Traceback" not in done.stderr


def test_memory_forget_names_the_run_in_progress_and_what_to_do(copied, world_env):
    settings, runs = copied

    async def lease() -> None:
        async with Runner(settings) as runner:
            await runner.store.acquire_lease(runs["zed"][0], 60)

    asyncio.run(lease())
    done = agentlab(world_env, "memory", "forget", "--principal", ZED, "--yes")

    assert done.returncode == 2
    assert f"'agentlab kill {runs['zed'][0]}' first, or pass --keep-runs" in done.stderr


def test_memory_prune_removes_expired_interactions(env, tmp_path):
    memory = EpisodicMemory(ChromaStore(HashEmbedder(), path=tmp_path / "data" / "chroma"))
    memory.remember([episode(ZED, "old", run="o", expires=time.time() - DAY)])

    done = agentlab(env, "memory", "prune")
    again = agentlab(env, "memory", "prune", "--json")

    assert done.returncode == 0, done.stderr
    assert "pruned 1 expired past interactions" in done.stdout
    assert json.loads(again.stdout) == {"episodes": 0}


# --- on PostgreSQL: the runs, their checkpoints and the facts in the server ---------------------


async def test_on_postgresql_forget_removes_the_runs_checkpoints_facts_and_sessions(
    tmp_path, database_url
):
    import psycopg

    settings = load_settings(data_dir=tmp_path / "data", database_url=database_url,
                             memory={"enabled": True})  # fmt: skip
    async with Runner(settings) as runner:
        zeds, _ = await turn(runner, helpdesk([], remembers(MARK)), f"I like {MARK}",
                             principal=ZED, session="s-zed")  # fmt: skip
        await turn(runner, helpdesk([], remembers(BOB_MARK)), "Hi", principal=BOB)

    done = await forget_principal(settings, ZED)

    assert (done.episodes, done.facts, done.sessions, done.turns) == (1, 1, 1, 1)
    assert (done.runs, done.checkpoints, done.journal) == (1, 1, 1)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        tables = ("checkpoints", "checkpoint_writes", "checkpoint_blobs")
        for table in tables:
            found = await conn.execute(f"SELECT COUNT(*) FROM {table} WHERE thread_id = %s",
                                       (zeds,))  # fmt: skip
            assert (await found.fetchone()) == (0,), table
        for who, left in ((ZED, 0), (BOB, 1)):
            facts = await conn.execute("SELECT COUNT(*) FROM store WHERE prefix LIKE %s",
                                       (f"%{who}%",))  # fmt: skip
            assert (await facts.fetchone()) == (left,), who
    left = await memory_of(settings, BOB)
    assert (left["runs"], left["facts"]["current"], len(left["episodes"])) == (1, 1, 1)
