"""Damaged data: a truncated or corrupt runs database, a bad row and an unreadable checkpoint each
give one ``error:`` line naming the file or the run and what to do; the other runs stay listed and
usable; ``agentlab doctor`` says what it finds."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from tests.cli import MEMORY_OFF
from tests.test_cli import agentlab, run_id_in

RUNS = "runs.sqlite"


def cli_env(data: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "AGENTLAB_"))}
    return {**keep, **MEMORY_OFF, "AGENTLAB_DATA_DIR": str(data), "COLUMNS": "200", "NO_COLOR": "1"}


def database(env: dict[str, str]) -> Path:
    return Path(env["AGENTLAB_DATA_DIR"]) / RUNS


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A data directory with two completed demo runs, made once for this module."""
    data = tmp_path_factory.mktemp("template") / "data"
    made = cli_env(data)
    first = run_id_in(agentlab(made, "demo").stdout)
    second = run_id_in(agentlab(made, "demo").stdout)
    return data, first, second


@pytest.fixture
def two_runs(env: dict[str, str], template: tuple[Path, str, str]) -> tuple[str, str]:
    data, first, second = template
    shutil.copytree(data, env["AGENTLAB_DATA_DIR"])
    return first, second


def only_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_a_truncated_database_is_an_error_naming_the_file(env, two_runs):
    path = database(env)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    result = agentlab(env, "runs")

    assert result.returncode == 2
    line = only_error_line(result.stderr)
    assert str(path) in line and "truncated" in line and "restore it from a backup" in line
    assert "happen again when they resume, unless their tools are idempotent by key" in line


def test_a_corrupt_database_is_an_error_naming_the_file_and_doctor_says_so(env, two_runs):
    path = database(env)
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(page, len(data), page):  # every page but the first (the schema)
        data[offset : offset + 200] = b"\xa5" * 200
    path.write_bytes(bytes(data))

    for command in (["runs"], ["show", two_runs[0]]):
        result = agentlab(env, *command)
        assert result.returncode == 2, result.stdout
        line = only_error_line(result.stderr)
        assert str(path) in line and "agentlab doctor" in line
        if "restore it from a backup" in line:  # restoring one repeats effects: it says so
            assert "unless their tools are idempotent by key" in line

    doctor = agentlab(env, "doctor")
    assert doctor.returncode != 0
    assert str(path) in doctor.stdout + doctor.stderr
    assert "Traceback" not in doctor.stderr


def test_a_row_with_bad_json_is_an_error_line_and_the_other_runs_stay_listed(env, two_runs):
    bad, good = two_runs
    with sqlite3.connect(database(env)) as conn:
        conn.execute(
            "UPDATE agentlab_run_records SET options = '{not json' WHERE run_id = ?", (bad,)
        )

    listed = agentlab(env, "runs")
    assert listed.returncode == 0
    assert good in listed.stdout and bad not in listed.stdout
    line = only_error_line(listed.stderr)
    assert bad in line and "agentlab doctor" in line

    shown = agentlab(env, "show", bad)
    assert shown.returncode == 2
    assert bad in only_error_line(shown.stderr)
    assert agentlab(env, "show", good).returncode == 0
    assert "unreadable" in agentlab(env, "doctor").stdout


def test_an_unreadable_checkpoint_is_an_error_for_that_run_only(env, two_runs):
    bad, good = two_runs
    with sqlite3.connect(database(env)) as conn:
        conn.execute("UPDATE checkpoints SET checkpoint = x'c1c1c1' WHERE thread_id = ?", (bad,))

    shown = agentlab(env, "show", bad)
    assert shown.returncode == 2
    line = only_error_line(shown.stderr)
    assert f"run {bad}'s checkpoint cannot be read" in line
    assert "the others are unaffected" in line
    resumed = agentlab(env, "resume", bad)
    assert resumed.returncode == 2 and bad in only_error_line(resumed.stderr)

    listed = agentlab(env, "runs")
    assert good in listed.stdout and bad in listed.stdout
    assert "completed" in agentlab(env, "show", good).stdout


def test_doctor_finds_stale_claims_and_calls_without_an_outcome(env, two_runs):
    ended, waiting = two_runs
    assert agentlab(env, "doctor").returncode == 0
    with sqlite3.connect(database(env)) as conn:
        # A run whose process died mid-call: its status, a dead process's claim, an open call.
        conn.execute(
            "UPDATE agentlab_run_records SET status = 'awaiting_human' WHERE run_id = ?",
            (waiting,),
        )
        conn.execute(
            "UPDATE agentlab_tool_journal SET outcome = NULL WHERE run_id = ? AND call_id = '1.2'",
            (waiting,),
        )
        conn.execute(
            "INSERT INTO agentlab_run_leases VALUES ('run-gone', 'token', 'elsewhere', 1, ?, ?)",
            (time.time() - 100, time.time() - 50),
        )
        conn.execute(
            "INSERT INTO agentlab_tool_journal VALUES "
            "('run-gone', '1.1', 'send_notification', 'h', '{}', 1, NULL, 0, NULL)"
        )
        # An ended run whose process died before it let go of its claim: not a problem, the
        # claim is cleared when the run's status is reconciled.
        conn.execute(
            "INSERT INTO agentlab_run_leases VALUES (?, 'token', 'elsewhere', 1, ?, ?)",
            (ended, time.time() - 100, time.time() - 50),
        )

    result = agentlab(env, "doctor")

    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "run run-gone: stale lease of process elsewhere:1" in out
    assert f"run {waiting}: send_notification (call 1.2, attempt 1) started but has no " in out
    assert "journal entry run-gone/1.1 (send_notification) belongs to no run" in out
    assert ended not in out
    assert "3 problem(s)" in out


def test_doctor_with_no_database_yet_says_so(env):
    result = agentlab(env, "doctor")
    assert result.returncode == 0
    assert "no runs database" in result.stdout


async def test_a_write_that_sqlite_rolled_back_itself_reports_its_own_error(tmp_path):
    # At a full disk SQLite rolls the transaction back itself; a trigger's RAISE(ROLLBACK) does
    # the same, on demand. The error said must be that one, not "no transaction is active".
    from agentlab.errors import DamagedDataError
    from agentlab.store import Ceiling, LedgerEntry, open_sqlite_store

    store = open_sqlite_store(tmp_path / RUNS)
    await store.engine.execute(
        "CREATE TRIGGER full BEFORE INSERT ON agentlab_cost_ledger "
        "BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full'); END"
    )
    entry = LedgerEntry("e-1", "run-1", "toy", "ada", None, "plan", "planner", "m", day="d")
    ceiling = Ceiling("max_usd", "run", "run-1", "usd", 10.0)

    with pytest.raises(DamagedDataError, match="database or disk is full") as failed:
        await store.reserve(entry, [ceiling])
    assert "no transaction is active" not in str(failed.value)

    await store.engine.execute("DROP TRIGGER full")  # the disk has room again
    assert (await store.reserve(entry, [ceiling])).crossed is None
    await store.close()
