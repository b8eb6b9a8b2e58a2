"""Runs you can trust, side by side: 20 runs started at once on one runs database all complete,
with every checkpoint there and readable, and ``agentlab doctor`` finds nothing wrong.

Twenty ``agentlab run --approve`` processes start together on the same data directory: one
SQLite runs database, and one customer database in which each run closes its own customer's
account (``tests/reliability/parallel.py``). The batch is parametrized by where runs are kept
(``RunsDatabase``): SQLite here; a PostgreSQL URL can join as another parameter.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time

import pytest
from rich.console import Console

from agentlab.errors import DamagedDataError
from agentlab.store import open_sqlite_store
from tests.cli import agentlab
from tests.reliability.cli import look, run_ids, settings_for, table_status
from tests.reliability.parallel import (
    RunsDatabase,
    Started,
    checkpoint_history,
    customer,
    customer_effects,
    run_all,
)

RUNS = 20

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module", params=["sqlite"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> RunsDatabase:
    data_dir = tmp_path_factory.mktemp(f"parallel-{request.param}") / "data"
    return RunsDatabase(data_dir)  # "postgres": RunsDatabase(data_dir, url=server.url)


@pytest.fixture(scope="module")
def batch(database: RunsDatabase) -> tuple[RunsDatabase, list[Started]]:
    started, seconds = run_all(database, RUNS)
    Console(highlight=False).print(f"{RUNS} runs at once on one runs database: {seconds:.1f} s")
    return database, started


def test_twenty_runs_at_once_all_complete_with_every_checkpoint_readable(batch):
    db, started = batch
    failed = [s for s in started if s.code != 0 or s.run_id is None]
    assert not failed, "\n\n".join(f"run {s.n} exited {s.code}:\n{s.output}" for s in failed)
    ids = [s.run_id for s in started]
    assert sorted(run_ids(db.data_dir)) == sorted(ids) and len(set(ids)) == RUNS

    histories = checkpoint_history(db, ids)
    for run_id in ids:
        view = look(db.data_dir, run_id)
        assert view.status == "completed", (run_id, view.state.get("transitions"))
        assert table_status(db.data_dir, run_id) == ("completed", False)
        assert [r["outcome"]["ok"] for r in view.state["results"]] == [True] * 3
        assert histories[run_id][0].checkpoint["channel_values"]["status"] == "completed"
    # The same script makes the same steps: a lost checkpoint would show as a shorter history.
    lengths = {run_id: len(h) for run_id, h in histories.items()}
    assert len(set(lengths.values())) == 1, lengths

    sent, left = customer_effects(db, RUNS)
    assert sent == {customer(i): 1 for i in range(RUNS)}
    assert left == set()


def test_each_run_of_the_batch_is_shown_and_doctor_reports_ok(batch):
    db, started = batch
    ids = [s.run_id for s in started if s.run_id]
    env = db.env()
    shown = [agentlab(env, "show", run_id) for run_id in ids]  # in process, one at a time
    for run_id, result in zip(ids, shown, strict=True):
        assert result.returncode == 0, result.stderr
        assert run_id in result.stdout and re.search(r"status\s+completed", result.stdout)

    listed = agentlab(env, "runs", "--limit", "50")
    assert listed.returncode == 0, listed.stderr
    assert all(re.search(rf"{run_id}\s.*completed", listed.stdout) for run_id in ids)

    doctor = agentlab(env, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert ": ok (" in doctor.stdout


_RECORD = dict(
    agent="a",
    agent_name="a",
    status="planning",
    models=None,
    options={},
    limits={},
    principal="p",
    session=None,
)


def test_the_runs_database_is_never_called_truncated_while_another_connection_writes_it(
    tmp_path,
):
    """What a process starting beside running ones meets: the file as SQLite is writing it
    (a WAL checkpoint copies pages into it, the header first), never a damaged database."""
    path = settings_for(tmp_path / "data").checkpoint_path
    writing = threading.Event()
    stop = threading.Event()

    async def write() -> None:  # another process's runs, as SQLite sees them: another connection
        store = open_sqlite_store(path)
        try:
            for n in itertools.count():
                await store.create_run(f"run-{n:010d}", task="x" * 5_000, **_RECORD)
                writing.set()
                if stop.is_set():
                    return
        finally:
            await store.close()

    def open_and_close() -> None:
        asyncio.run(open_sqlite_store(path).close())

    writer = threading.Thread(target=asyncio.run, args=(write(),))
    open_and_close()
    writer.start()
    refused: list[str] = []
    try:
        writing.wait(10)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                open_and_close()
            except DamagedDataError as exc:
                refused.append(str(exc))
    finally:
        stop.set()
        writer.join(30)
    assert not refused, f"{len(refused)} opens refused a healthy database, e.g.: {refused[0]}"
