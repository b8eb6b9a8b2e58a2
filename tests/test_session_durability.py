"""A long conversation: 300 scripted turns, the process killed in the middle of turn 150 and
started again. Every model call's context stays under its role's budget while the stored
history grows with every turn; the session goes on where it stopped, each turn stored once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentlab.config import load_settings
from agentlab.orchestration import Runner
from tests.conversations.script import SLOW_TURN, session_script

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "tests" / "conversations" / "driver.py"
TURNS = 300
BUDGETS = {
    "AGENTLAB_CONTEXT__PLANNER": "4000",
    "AGENTLAB_CONTEXT__EXECUTOR": "4000",
    "AGENTLAB_CONTEXT__VALIDATOR": "4000",
    "AGENTLAB_CONTEXT__RESPONDER": "4000",
    "AGENTLAB_CONTEXT__SUMMARIZER": "3000",
    "AGENTLAB_CONTEXT__RECENT_TOKENS": "1500",
    "AGENTLAB_CONTEXT__SUMMARY_TOKENS": "300",
}


def driver(tmp_path: Path, script: Path, mark: Path, turns: int = TURNS) -> subprocess.Popen[str]:
    env = {**os.environ, **BUDGETS, "CONVERSATION_MARK": str(mark), "PYTHONPATH": str(ROOT)}
    args = ["--data-dir", tmp_path / "data", "--script", script, "--session", "long"]
    return subprocess.Popen(
        [sys.executable, str(DRIVER), *map(str, args), "--turns", str(turns)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_a_300_turn_session_stays_under_budget_and_survives_a_kill_at_turn_150(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "session.json"
    script.write_text(session_script(TURNS))
    mark = tmp_path / "slow-lookup-started"

    first = driver(tmp_path, script, mark)
    deadline = time.monotonic() + 300
    while not mark.exists():  # turn 150's lookup is running
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "turn 150 never started its lookup"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    mark.unlink()

    second = driver(tmp_path, script, mark)
    out, err = second.communicate(timeout=400)
    assert second.returncode == 0, err
    assert out.splitlines()[0].startswith("RESUME run-")  # the killed turn was finished first
    assert out.splitlines()[1] == f"TURN {SLOW_TURN + 1}"

    for name, value in BUDGETS.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(data_dir=tmp_path / "data")
    async with Runner(settings) as runner:
        turns = await runner.turns("long")
        assert [t["number"] for t in turns] == list(range(1, TURNS + 1))  # each stored once
        assert len({t["run_id"] for t in turns}) == TURNS
        assert "slow" in turns[SLOW_TURN - 1]["messages"][1]["content"][0]["input"]["topic"]
        assert turns[SLOW_TURN - 1]["reply"].startswith(f"Turn {SLOW_TURN}:")
        assert all(t["status"] == "completed" for t in turns)

        # Every call of every turn fitted its role's budget; the context stays flat while the
        # stored history grows with every turn.
        context_at: dict[int, int] = {}
        for turn in turns:
            view = await runner.get(turn["run_id"])
            for call in view.state["model_calls"]:
                report = call["context"]
                assert report["tokens"] <= settings.context.for_role(call["role"]), call
                assert report["tokens"] == sum(report["parts"].values())
                if call["role"] == "planner":
                    context_at[turn["number"]] = report["tokens"]
        stored = [sum(t["tokens"] for t in turns[:n]) for n in (10, 100, 300)]
        assert stored[1] > 8 * stored[0] and stored[2] > 2.5 * stored[1]  # linear growth
        assert context_at[300] < 1.3 * context_at[100]  # flat
        assert context_at[300] < stored[2] / 10

        summary = await runner.store.latest_summary("long")
        assert summary is not None and summary["through"] > 250
        assert summary["written_by"] == "scripted-summarizer"


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_a_session_killed_at_random_moments_stores_every_turn_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed again and again wherever it is (recalling, folding a summary, planning, calling a
    tool, replying, storing the turn), the session ends with each turn stored once, in order,
    its reply the one its run's state holds."""
    import random

    turns_wanted = 60
    script = tmp_path / "session.json"
    script.write_text(session_script(turns_wanted, slow_turn=0))
    rng = random.Random(18)
    kills = 0
    while kills < 8:  # each time the process has begun a turn, kill it a moment later
        process = driver(tmp_path, script, tmp_path / "unused-mark", turns_wanted)
        assert process.stdout is not None
        line = process.stdout.readline()
        while line and not line.startswith(("TURN", "RESUME", "DONE")):
            line = process.stdout.readline()
        if line.startswith("DONE") or not line:
            process.wait(timeout=60)
            break
        time.sleep(rng.uniform(0.0, 0.25))
        process.send_signal(signal.SIGKILL)
        process.communicate()
        kills += 1
    assert kills >= 5, "the session ended before it was killed often enough"
    last = driver(tmp_path, script, tmp_path / "unused-mark", turns_wanted)
    out, err = last.communicate(timeout=300)
    assert last.returncode == 0 and "DONE" in out, err

    for name, value in BUDGETS.items():
        monkeypatch.setenv(name, value)
    async with Runner(load_settings(data_dir=tmp_path / "data")) as runner:
        turns = await runner.turns("long")
        assert [t["number"] for t in turns] == list(range(1, turns_wanted + 1))
        for turn in turns:
            view = await runner.get(turn["run_id"])
            assert view.status == "completed"
            assert view.state["reply"] == turn["reply"]
            assert view.state["turn"] == turn["number"]
        assert await runner.open_turns("long") == []
