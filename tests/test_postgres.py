"""Runs on a PostgreSQL server (``database_url``): the run store keeps the SQLite store's promises
(the same tests run on both), LangGraph's checkpoints (delta channels included) resume there,
the command line works against it, and 20 processes running at once lose nothing.

The server is a throwaway one (``tests/postgres_server.py``), started once for the session by
conftest's ``postgres`` fixture; each test gets a new database on it (``database_url``).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from agentlab.config import Settings, load_settings
from agentlab.domains.support import DEMO_TASK, REFERENCE, SupportDatabase, demo_script_path
from agentlab.errors import ConfigError, DamagedDataError, RunBusyError, RunNotFoundError
from agentlab.models.router import ModelSpec
from agentlab.orchestration import Limits, Runner, SyncRunner, decision_for
from agentlab.orchestration.database import open_run_database
from agentlab.store import DamagedRun, RunStore
from agentlab.store.postgres import open_postgres_store
from agentlab.store.records import LEASE_GRACE_S
from agentlab.tools.journal import LeaseLostError
from tests.cli import MEMORY_OFF
from tests.conftest import waiting
from tests.scripts import plan, script, step, verdict
from tests.test_cli import agentlab, run_id_in

# The Runner's resume specifications, collected again here: in this module they run on PostgreSQL
# (the ``settings`` fixture below). Those that edit the SQLite tables directly stay SQLite's.
from tests.test_resume import (  # noqa: F401
    test_a_call_killed_after_its_effect_asks_a_human_and_happened_finishes_once,
    test_a_decision_for_a_request_the_run_no_longer_waits_for_is_refused,
    test_a_run_held_by_a_live_process_cannot_be_resumed_by_another,
    test_a_run_killed_before_its_first_checkpoint_starts_again_from_its_task,
    test_a_stop_on_a_call_of_unknown_effect_ends_the_run,
    test_run_it_again_runs_the_call_once_more,
)

AGENTLAB = [sys.executable, "-m", "agentlab"]
REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """conftest's settings, on PostgreSQL."""
    return load_settings(data_dir=tmp_path / "data", database_url=database_url)


async def tamper(store: Any, sql: str, *params: Any) -> None:
    """Change a store's tables behind its back, as another process (or time) would."""
    await store.engine.execute(sql, params)


async def elsewhere(store: Any) -> None:
    """The run's lease is another host's, and has expired (its grace period too)."""
    lapsed = time.time() - LEASE_GRACE_S - 1
    await tamper(store, "UPDATE agentlab_run_leases SET host = 'elsewhere', expires_at = ?", lapsed)


async def new_run(store: RunStore, run_id: str = "run-1", task: str = "do it") -> None:
    await store.create_run(
        run_id,
        agent="tests:agent",
        agent_name="toy",
        task=task,
        status="planning",
        models=None,
        options={"k": 1},
        limits={"max_iterations": 3},
        principal="ada",
        session=None,
    )


async def journal_call(store: RunStore, call_id: str = "1.1", **kwargs: Any) -> None:
    await store.start(
        kwargs.pop("run_id", "run-1"),
        call_id,
        tool="append",
        call_hash="h",
        arguments={"text": "a"},
        attempt=kwargs.pop("attempt", 1),
        lease=kwargs.pop("lease", None),
    )


# -- the run store, on both engines ------------------------------------------------------------


async def test_runs_are_created_read_listed_newest_first_and_their_status_set(store):
    await new_run(store, "run-1", "first")
    await new_run(store, "run-2", "second")  # in the same second: still listed after run-1
    await store.set_status("run-1", "completed", "done")

    record = await store.get_run("run-1")
    assert (record.status, record.outcome, record.options, record.limits) == (
        "completed",
        "done",
        {"k": 1},
        {"max_iterations": 3},
    )
    assert [r.run_id for r in await store.list_runs()] == ["run-2", "run-1"]
    with pytest.raises(RunNotFoundError):
        await store.get_run("run-9")


async def test_a_row_that_cannot_be_read_is_listed_as_damaged_and_found_by_check(store):
    await new_run(store, "run-1")
    await new_run(store, "run-2")
    await tamper(
        store, "UPDATE agentlab_run_records SET options = '{not json' WHERE run_id = ?", "run-1"
    )

    listed = {r.run_id: r for r in await store.list_runs()}
    assert isinstance(listed["run-1"], DamagedRun) and not isinstance(listed["run-2"], DamagedRun)
    with pytest.raises(DamagedDataError, match="run run-1's record"):
        await store.get_run("run-1")
    assert any("run run-1: its record is unreadable" in p for p in await store.check())


async def test_a_live_lease_refuses_a_second_holder_and_names_the_first(store):
    first = await store.acquire_lease("run-1", ttl_s=30)

    with pytest.raises(RunBusyError, match=rf"being advanced by process {first.holder}"):
        await store.acquire_lease("run-1", ttl_s=30)

    assert await store.renew_lease(first, ttl_s=30)
    await store.release_lease(first)
    assert (await store.acquire_lease("run-1", ttl_s=30)).token != first.token


async def test_a_lease_of_a_dead_process_or_past_its_expiry_is_taken_over(store):
    code = "import os; print(os.getpid())"
    dead = subprocess.run([sys.executable, "-c", code], text=True, capture_output=True, check=True)
    first = await store.acquire_lease("run-1", ttl_s=30)
    await tamper(store, "UPDATE agentlab_run_leases SET pid = ?", int(dead.stdout))
    taken = await store.acquire_lease("run-1", ttl_s=30)
    assert taken.token != first.token

    # On another host only the expiry tells:
    await elsewhere(store)
    assert (await store.acquire_lease("run-1", ttl_s=30)).holder.endswith(f":{taken.pid}")
    assert not await store.renew_lease(taken, ttl_s=30)


def test_of_processes_claiming_a_run_at_once_exactly_one_gets_it(connect):
    ready = threading.Barrier(8)

    async def claim() -> bool:
        store = await connect()  # a connection (and event loop) each, as separate processes
        try:
            await asyncio.to_thread(ready.wait)
            await store.acquire_lease("run-1", ttl_s=30)
        except RunBusyError:
            return False
        finally:
            await store.close()
        return True

    with ThreadPoolExecutor(8) as pool:
        claimed = list(pool.map(lambda _: asyncio.run(claim()), range(8)))

    assert claimed.count(True) == 1


async def test_a_stale_lease_of_a_settled_run_is_cleared_and_a_live_one_kept(store):
    live = await store.acquire_lease("run-1", ttl_s=30)
    await store.clear_stale_lease("run-1")
    assert await store.renew_lease(live, ttl_s=30)

    await tamper(store, "UPDATE agentlab_run_leases SET expires_at = ?", time.time() - 1)
    await store.clear_stale_lease("run-1")
    assert not await store.renew_lease(live, ttl_s=30)


async def test_a_journaled_call_is_read_back_and_restarting_it_clears_its_outcome(store):
    await new_run(store)
    await journal_call(store)
    await store.finish("run-1", "1.1", 1, {"ok": True, "output": "done", "error": None})
    entry = await store.entry("run-1", "1.1")
    assert entry is not None and entry.finished and entry.arguments == {"text": "a"}

    await journal_call(store, attempt=2)  # run again, as a human said
    await store.finish("run-1", "1.1", 1, {"ok": True, "output": "late", "error": None})

    [again] = await store.journal("run-1")
    # The first attempt's late end is not the second's:
    assert (again.attempt, again.outcome) == (2, None)
    assert await store.entry("run-1", "9.9") is None


async def test_no_call_starts_without_the_runs_live_lease(store):
    await new_run(store)
    lease = await store.acquire_lease("run-1", ttl_s=30)

    with pytest.raises(LeaseLostError, match="no longer holds run run-1's lease"):
        await journal_call(store, lease="someone-elses")
    await journal_call(store, lease=lease.token)
    await tamper(store, "UPDATE agentlab_run_leases SET expires_at = ?", time.time() - 1)
    with pytest.raises(LeaseLostError):
        await journal_call(store, "1.2", lease=lease.token)

    assert [e.call_id for e in await store.journal("run-1")] == ["1.1"]


async def test_check_finds_stale_leases_calls_without_outcome_and_entries_of_no_run(store):
    await new_run(store)
    assert await store.check() == []
    lease = await store.acquire_lease("run-1", ttl_s=30)
    await journal_call(store, lease=lease.token)
    assert await store.check() == []  # the call's run is being advanced: it may still finish
    await elsewhere(store)
    await journal_call(store, run_id="run-ghost")

    problems = "\n".join(await store.check())

    assert "run run-1: stale lease of process elsewhere:" in problems
    assert "run run-1: append (call 1.1, attempt 1) started but has no recorded outcome" in problems
    assert "journal entry run-ghost/1.1 (append) belongs to no run" in problems


# -- opening a PostgreSQL database --------------------------------------------------------------


async def test_a_server_that_is_not_running_is_a_config_error_saying_what_to_check(postgres):
    url = postgres.url().replace(f":{postgres.port}/", ":1/")

    with pytest.raises(ConfigError) as refused:
        await open_postgres_store(url)

    message = str(refused.value)
    assert "postgresql://agentlab:***@127.0.0.1:1/postgres" in message
    assert "is the PostgreSQL server running" in message and postgres.password not in message


async def test_a_wrong_password_is_refused_without_showing_it(postgres):
    with pytest.raises(ConfigError) as refused:
        await open_postgres_store(postgres.url(password="not-the-password"))

    assert "password authentication failed" in str(refused.value)
    assert "not-the-password" not in str(refused.value)


def test_a_database_url_that_is_not_postgresql_is_a_config_error(monkeypatch):
    monkeypatch.setenv("AGENTLAB_DATABASE_URL", "mysql://ada:secret@db/runs")

    with pytest.raises(ConfigError, match="AGENTLAB_DATABASE_URL.*not a PostgreSQL URL") as bad:
        load_settings()
    assert "secret" not in str(bad.value)


async def test_where_the_runs_are_is_shown_without_the_password(settings, postgres):
    database = await open_run_database(settings)
    await database.close()

    assert database.where == settings.runs_database
    assert database.where.startswith("postgresql://agentlab:***@127.0.0.1:")
    assert postgres.password not in database.where + repr(settings)


@pytest.mark.slow
@pytest.mark.integration
def test_without_the_postgres_extra_agentlab_imports_and_a_postgres_url_says_what_to_install(
    tmp_path, database_url
):
    # psycopg made unimportable, as in an install without the extra:
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "import agentlab, agentlab.orchestration, agentlab.store\n"
        "from agentlab.cli.app import main\n"
        "sys.argv = ['agentlab', 'runs']; main()\n"
    )
    env = {**cli_env(tmp_path / "data", database_url)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)

    assert done.returncode == 2, done.stderr
    assert "pip install 'agentlab[postgres]'" in done.stderr
    assert "Traceback" not in done.stderr


# -- runs on PostgreSQL --------------------------------------------------------------------------


async def drain(events: AsyncIterator[Any]) -> list[Any]:
    return [e async for e in events]


async def approve_to_the_end(settings: Settings, run_id: str) -> int:
    """Approve each pause from a new Runner, as another process would; the approvals given."""
    approvals = 0
    while True:
        async with Runner(settings) as other:
            request = waiting(await other.get(run_id))
            if request is None:
                return approvals
            await drain(await other.resume(run_id, decision_for(request, approve=True)))
            approvals += 1


async def support_run(settings: Settings, tmp_path: Path) -> dict[str, Any]:
    db = SupportDatabase(tmp_path / "support.sqlite")
    db.reset()
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            REFERENCE,
            DEMO_TASK,
            models=ModelSpec(kind="scripted", script=str(demo_script_path())),
            options={"db_path": str(db.path)},
        )
        assert (await drain(events))[-1].status == "awaiting_human"
    approvals = await approve_to_the_end(settings, run_id)
    async with Runner(settings) as reader:
        view = await reader.get(run_id)
        journal = await reader.store.journal(run_id)
    return {
        "approvals_given": approvals,
        "status": view.status,
        "transitions": [t["target"] for t in view.state["transitions"]],
        "results": [(r["tool"], r["outcome"]["ok"]) for r in view.state["results"]],
        "approvals": [(a["tool"], a["approved"]) for a in view.state["approvals"]],
        "journal": [(e.tool, e.finished) for e in journal],
        "notified": db.query("SELECT COUNT(*) AS n FROM notifications")[0]["n"],
    }


async def test_a_support_run_approved_by_other_processes_ends_as_it_does_on_sqlite(
    settings, tmp_path
):
    on_postgres = await support_run(settings, tmp_path / "pg")
    sqlite = load_settings(data_dir=tmp_path / "sqlite")
    on_sqlite = await support_run(sqlite, tmp_path / "sqlite")

    assert on_postgres["status"] == "completed"
    assert on_postgres["approvals_given"] == 2 and on_postgres["notified"] == 1
    assert on_postgres["journal"] == [
        ("search_customers", True),
        ("send_notification", True),
        ("delete_customer", True),
    ]
    assert on_postgres == on_sqlite


async def test_a_long_run_reads_back_its_whole_history_from_delta_checkpoints(
    settings, make_agent, ledger
):
    steps = [step("lookup", key=f"k{i}") for i in range(30)]
    agent = make_agent(script(planner=[plan(*steps)], validator=[verdict(True, "all looked up")]))
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            agent, "look up 30 keys", limits=Limits(max_iterations=50)
        )
        ended = (await drain(events))[-1]
        view = await runner.get(run_id)

    assert ended.status == "completed"
    assert [r["arguments"]["key"] for r in view.state["results"]] == [f"k{i}" for i in range(30)]
    assert len(ledger.calls) == 30


# -- the command line on PostgreSQL -------------------------------------------------------------


def cli_env(data_dir: Path, database_url: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "AGENTLAB_"))}
    return {
        **keep,
        **MEMORY_OFF,
        "AGENTLAB_DATA_DIR": str(data_dir),
        "AGENTLAB_DATABASE_URL": database_url,
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }


def test_demo_runs_show_and_doctor_work_on_postgresql(tmp_path, database_url, postgres):
    env = cli_env(tmp_path / "data", database_url)

    demo = agentlab(env, "demo")
    assert demo.returncode == 0, demo.stderr
    run_id = run_id_in(demo.stdout)
    runs = agentlab(env, "runs")
    shown = agentlab(env, "show", run_id)
    doctor = agentlab(env, "doctor")

    assert "checkpoints in postgresql://agentlab:***@127.0.0.1" in demo.stdout
    assert re.search(rf"{run_id}\s+.\s*completed", runs.stdout), runs.stdout
    assert re.search(r"status\s+completed", shown.stdout), shown.stdout
    assert doctor.returncode == 0 and ": ok (runs, journal, leases)" in doctor.stdout
    outputs = [r.stdout + r.stderr for r in (demo, runs, shown, doctor)]
    assert not any(postgres.password in out for out in outputs)
    assert not (tmp_path / "data" / "runs.sqlite").exists()


def test_a_run_paused_for_approval_is_approved_by_another_process(tmp_path, database_url):
    env = cli_env(tmp_path / "data", database_url)

    started = agentlab(env, "run", DEMO_TASK, "--script", demo_script_path())
    run_id = run_id_in(started.stdout)
    assert "awaiting_human" in started.stdout, started.stderr
    resumed = [agentlab(env, "resume", run_id, "--approve") for _ in range(2)]

    assert all(r.returncode == 0 for r in resumed), resumed[-1].stderr
    assert re.search(r"status\s+completed", agentlab(env, "show", run_id).stdout)
    support = SupportDatabase(tmp_path / "data" / "support.sqlite")
    assert support.query("SELECT COUNT(*) AS n FROM notifications")[0]["n"] == 1


@pytest.mark.slow
@pytest.mark.integration
def test_twenty_runs_in_parallel_on_one_database_all_complete_and_lose_nothing(
    tmp_path, database_url, capsys
):
    # Twenty "machines": each its own data directory (and customer database), one runs database.
    envs = [cli_env(tmp_path / f"host-{i}", database_url) for i in range(20)]
    began = time.perf_counter()
    processes = [
        subprocess.Popen(
            [*AGENTLAB, "run", DEMO_TASK, "--script", str(demo_script_path()), "--approve"],
            env=env,
            cwd=REPOSITORY,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for env in envs
    ]
    outputs = [p.communicate(timeout=300) for p in processes]
    wall = time.perf_counter() - began

    assert [p.returncode for p in processes] == [0] * 20, [err for _, err in outputs if err]
    run_ids = [run_id_in(out) for out, _ in outputs]
    settings = load_settings(data_dir=tmp_path / "reader", database_url=database_url)
    with SyncRunner(settings) as reader:
        views = [reader.get(run_id) for run_id in run_ids]
        listed = reader.list(limit=100)
    with psycopg.connect(database_url) as conn:
        checkpoints = dict(
            conn.execute("SELECT thread_id, COUNT(*) FROM checkpoints GROUP BY thread_id")
        )
        # Per run: its journaled calls, and those with an outcome.
        journals = {
            run_id: (calls, finished)
            for run_id, calls, finished in conn.execute(
                "SELECT run_id, COUNT(*), COUNT(outcome) FROM agentlab_tool_journal GROUP BY run_id"
            )
        }
        leases = conn.execute("SELECT COUNT(*) FROM agentlab_run_leases").fetchone()
    doctor = agentlab(envs[0], "doctor")

    assert len(set(run_ids)) == 20
    assert all(v.status == "completed" and len(v.state["approvals"]) == 2 for v in views)
    assert all([r["outcome"]["ok"] for r in v.state["results"]] == [True] * 3 for v in views)
    assert journals == {run_id: (3, 3) for run_id in run_ids}
    assert sorted(r.run_id for r in listed if r.status == "completed") == sorted(run_ids)
    assert set(checkpoints) == set(run_ids) and min(checkpoints.values()) > 1
    assert leases == (0,)
    assert doctor.returncode == 0, doctor.stdout
    with capsys.disabled():
        print(
            f"\n20 parallel runs on PostgreSQL: {wall:.1f} s wall, "
            f"{sum(checkpoints.values())} checkpoints, 0 lost"
        )
