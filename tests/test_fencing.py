"""Fencing: a process stopped past its lease (SIGSTOP, a paused VM) while its tool was running is
not taken over behind its back, and once taken over (``resume --force``) it writes nothing more:
no checkpoint, no journal entry, no status, so the run does not fork. A tool that honours the
fencing token shuts the stale process out of its effect too; the person taking over is told that
process may still be running the call.

The trials drive real processes: ``agentlab run`` in a subprocess, stopped and continued with
signals, and ``agentlab resume`` from this one."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli import AGENTLAB, REPOSITORY, agentlab
from tests.scripts import plan, script, step, verdict

TTL_S = 2.0

AGENT_MODULE = '''
import fcntl
import time
from pathlib import Path

from agentlab import Agent, Risk, ToolContext, ToolError, tool

HERE = Path(__file__).parent


@tool(risk=Risk.WRITE)
def charge(ctx: ToolContext, amount: int) -> dict:
    """Charge the customer. Use it to take a payment."""
    (HERE / f"started-{ctx.fencing_token}").write_text(ctx.run_id)
    deadline = time.time() + 60
    while not (HERE / "go").exists() and time.time() < deadline:
        time.sleep(0.01)
    # A payment service that keeps the greatest fencing token it has seen, and refuses less.
    with open(HERE / "service.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fence = HERE / "fence"
        seen = int(fence.read_text()) if fence.exists() else 0
        if ctx.fencing_token < seen:
            raise ToolError(f"stale fencing token {ctx.fencing_token} (seen {seen})")
        fence.write_text(str(ctx.fencing_token))
        with open(HERE / "charges.txt", "a") as charges:
            charges.write(f"{ctx.idempotency_key} {ctx.fencing_token}\\n")
    return {"charged": amount}


agent = Agent("payer", "a test agent that takes payments", tools=[charge])
'''


def wait_for(path: Path, timeout_s: float = 60) -> None:
    deadline = time.time() + timeout_s
    while not path.exists():
        assert time.time() < deadline, f"{path.name} never appeared"
        time.sleep(0.01)


def checkpoints(data: Path, run_id: str) -> tuple[int, int]:
    with sqlite3.connect(data / "runs.sqlite") as db:
        saved = db.execute("SELECT COUNT(*) FROM checkpoints WHERE thread_id = ?", (run_id,))
        writes = db.execute("SELECT COUNT(*) FROM writes WHERE thread_id = ?", (run_id,))
        return saved.fetchone()[0], writes.fetchone()[0]


def trial(base: Path, env: dict[str, str], seed: int) -> dict[str, object]:
    """One stopped-process trial; what happened, for the assertions and the figures."""
    here = base / f"trial-{seed}"
    here.mkdir()
    (here / "payer.py").write_text(AGENT_MODULE)
    script_path = here / "script.json"
    script_path.write_text(
        script(planner=[plan(step("charge", amount=5))], validator=[verdict(True, "charged")])
    )
    data = here / "data"
    env = {**env, "AGENTLAB_DATA_DIR": str(data), "AGENTLAB_LEASE_TTL_S": str(TTL_S)}
    agent_ref = f"{here / 'payer.py'}:agent"
    first = subprocess.Popen(
        [*AGENTLAB, "run", "charge 5", "--agent", agent_ref, "--script", str(script_path)],
        env=env, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(here / "started-1")
        time.sleep(random.Random(seed).uniform(0, 0.05))
        os.kill(first.pid, signal.SIGSTOP)  # its tool in flight, its lease soon expired
        run_id = (here / "started-1").read_text()
        time.sleep(TTL_S + 0.5)

        refused = agentlab(env, "resume", run_id)
        taken = agentlab(env, "resume", run_id, "--force")
        (here / "go").touch()
        again = agentlab(env, "resume", run_id, "--approve")
        before = checkpoints(data, run_id)  # the run, completed by the process that took it

        os.kill(first.pid, signal.SIGCONT)
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            os.kill(first.pid, signal.SIGCONT)
            first.kill()
    after = checkpoints(data, run_id)
    charges = (here / "charges.txt").read_text().splitlines()
    return {
        "refused": refused,
        "taken": taken,
        "again": again,
        "first": (first.returncode, out, err),
        "stale_writes": (after[0] - before[0]) + (after[1] - before[1]),
        "charges": charges,
        "shown": agentlab(env, "show", run_id).stdout,
        "listed": agentlab(env, "runs").stdout,
        "doctor": agentlab(env, "doctor"),
        "run_id": run_id,
    }


@pytest.mark.slow
@pytest.mark.integration
def test_a_process_stopped_past_its_lease_is_fenced_off_when_taken_over(env, tmp_path):
    trials = 10
    duplicates = stale_writes = 0
    for seed in range(trials):
        seen = trial(tmp_path, env, seed)
        refused, taken, again = seen["refused"], seen["taken"], seen["again"]
        assert refused.returncode == 2, refused.stdout + refused.stderr  # type: ignore[attr-defined]
        assert "still exists (stopped, or hung?)" in refused.stderr  # type: ignore[attr-defined]
        assert "--force" in refused.stderr  # type: ignore[attr-defined]
        assert taken.returncode == 0, taken.stderr  # type: ignore[attr-defined]
        assert "may still be running a tool call" in taken.stderr  # type: ignore[attr-defined]
        assert "unknown_side_effect" in taken.stdout  # type: ignore[attr-defined]
        assert again.returncode == 0, again.stdout + again.stderr  # type: ignore[attr-defined]
        code, out, err = seen["first"]  # type: ignore[misc]
        assert code != 0 and "Traceback" not in err, out + err
        assert "another process" in err and "lease" in err, err
        charges = seen["charges"]
        duplicates += len(charges) - 1  # type: ignore[arg-type]
        [charge] = charges  # type: ignore[misc]
        assert int(charge.split()[1]) > 1  # under a later claim's token: the stopped one's is 1
        # Continued after the takeover, the stopped process wrote no checkpoint, no step's writes:
        stale_writes += seen["stale_writes"]  # type: ignore[operator]
        assert seen["stale_writes"] == 0
        assert "completed" in seen["shown"]  # type: ignore[operator]
        listed = [line for line in str(seen["listed"]).splitlines() if seen["run_id"] in line]
        assert listed and "completed" in listed[0], seen["listed"]
        doctor = seen["doctor"]
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr  # type: ignore[attr-defined]
    print(f"stopped-process trials: {trials}, duplicate effects: {duplicates}, "
          f"stale writes: {stale_writes}")  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def engine_settings(request: pytest.FixtureRequest, tmp_path: Path):
    from agentlab.config import load_settings

    if request.param == "sqlite":
        return load_settings(data_dir=tmp_path / "data")
    url = request.getfixturevalue("database_url")
    return load_settings(data_dir=tmp_path / "data", database_url=url)


async def test_a_process_whose_lease_was_taken_writes_nothing_more_on_either_engine(
    engine_settings,
):
    from agentlab.errors import RunBusyError
    from agentlab.events import PlanMade
    from agentlab.models.router import scripted_router
    from agentlab.models.script import parse_script
    from agentlab.orchestration import Agent, Runner
    from tests.conftest import Ledger, toy_tools

    ledger = Ledger()
    text = script(
        planner=[plan(step("lookup", key="a"), step("store", key="a", value=1))],
        validator=[verdict(True)],
    )
    agent = Agent(
        "toy",
        "a test agent",
        toolsets=[toy_tools(ledger)],
        models=scripted_router(parse_script(text), source="test script"),
    )
    count = (
        "SELECT (SELECT COUNT(*) FROM checkpoints WHERE thread_id = ?) + "
        "(SELECT COUNT(*) FROM writes WHERE thread_id = ?)"
    )
    if engine_settings.database_url is not None:
        count = count.replace("FROM writes", "FROM checkpoint_writes")
    async with Runner(engine_settings) as runner:
        run_id, events = await runner.start(agent, "look a up and store it")
        async for event in events:
            if isinstance(event, PlanMade):
                break
        # Stopped past its lease here, and taken over: another process holds the run now.
        await runner.store.engine.execute(
            "UPDATE agentlab_run_leases SET token = 'taken-over' WHERE run_id = ?", (run_id,)
        )
        await asyncio.sleep(0.5)  # writes already under way when it lost the lease land
        before = await runner.store.engine.fetchone(count, (run_id, run_id))
        status = (await runner.store.get_run(run_id)).status
        with pytest.raises(RunBusyError, match="another process may have taken over"):
            async for _ in events:
                pass
        after = await runner.store.engine.fetchone(count, (run_id, run_id))
        assert (await runner.store.get_run(run_id)).status == status

    assert after == before  # no checkpoint and no step's writes after the takeover
    assert ledger.names() == []  # and no tool call
