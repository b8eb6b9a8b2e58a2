"""Episodic memory under several processes on one data directory, and under a crash between a
turn's end and its memory write: nothing lost, nothing doubled, the index whole."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agentlab.config.memory import MemorySettings
from agentlab.memory.long_term import LongTermMemory
from tests.reliability.cli import agentlab, cli_env, harnessed
from tests.scripts import plan, step, verdict
from tests.scripts import script as script_text

HERE = Path(__file__).resolve().parent
WORKER = HERE / "memory" / "worker.py"
NOTES = f"{HERE / 'conversations' / 'agent.py'}:agent"

pytestmark = [pytest.mark.integration]


def test_four_processes_write_and_recall_at_once_and_lose_nothing(tmp_path):
    data = tmp_path / "data"
    count = 12
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(data), f"p{n}", str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert [r["problems"] for r in reports] == [[], [], [], []]

    memory = LongTermMemory.open("support", data, MemorySettings())
    for report in reports:
        entries = memory.episodes.entries(report["principal"])
        assert sorted(e["id"] for e in entries) == sorted(report["stored"])
    # The index is whole: every stored vector finds itself first.
    for report in reports:
        name = next(
            n for n, _ in memory.store.collections(kind="episodes", principal=report["principal"])
        )
        for record, vector in memory.store.get(name, embeddings=True):  # type: ignore[misc]
            [nearest] = memory.store.query(name, vector=vector, n=1)
            assert nearest.id == record.id


def memory_env(data: Path) -> dict[str, str]:
    return {**cli_env(data), "AGENTLAB_MEMORY__ENABLED": "true"}


def the_run(data: Path) -> str:
    with sqlite3.connect(data / "runs.sqlite") as conn:
        [(run_id,)] = conn.execute("SELECT run_id FROM agentlab_run_records").fetchall()
    return str(run_id)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["memory.remember:before#1", "memory.remember:after#1"])
def test_a_crash_around_the_memory_write_stores_the_interaction_once(tmp_path, point):
    data = tmp_path / "data"
    env = memory_env(data)
    script = tmp_path / "script.json"
    turns = json.loads(
        script_text(planner=[plan(step("lookup", topic="cats"))], validator=[verdict(True)])
    )
    turns["roles"]["responder"] = [{"text": "Cats are covered in the notes."}]
    script.write_text(json.dumps(turns))
    killed = harnessed(
        env, "run", "--agent", NOTES, "--script", script, "Tell me about cats", kill_at=point
    )
    assert killed.returncode == -9, killed.stderr
    run_id = the_run(data)
    resumed = agentlab(env, "resume", run_id)
    assert resumed.returncode == 0, resumed.stderr
    assert "Cats are covered in the notes." in resumed.stdout

    memory = LongTermMemory.open("notes", data, MemorySettings())
    entries = memory.episodes.entries(principal=_principal(data, run_id))
    assert [e["id"] for e in entries] == [f"{run_id}:1"]
    assert "Reply: Cats are covered in the notes." in entries[0]["text"]


def _principal(data: Path, run_id: str) -> str:
    with sqlite3.connect(data / "runs.sqlite") as conn:
        [(principal,)] = conn.execute(
            "SELECT principal FROM agentlab_run_records WHERE run_id = ?", (run_id,)
        ).fetchall()
    return str(principal)
