"""Many runs at once on one runs database: ``agentlab run --approve`` in N processes started
together, then what the database holds.

Each run closes one customer's account (search, notify, delete: two approvals) in the same
customer database, each on a customer of its own, so the runs share every file (runs database
and customer database) without one's effect undoing another's. The first tool calls also race
to create and seed the customer database.

``RunsDatabase`` says where the runs are kept: SQLite in the data directory by default; a server
URL (``database_url``, e.g. PostgreSQL) runs the same batch against it.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig

from tests.reliability.cli import AGENTLAB, REPOSITORY, cli_env, settings_for
from tests.scripts import plan, script, step, verdict

FIRST_CUSTOMER = 10  # past the named ones (Ada, Alan, Grace)
TIMEOUT_S = 240


@dataclass(frozen=True)
class RunsDatabase:
    """Where a batch's runs are kept: SQLite in ``data_dir``, or the server ``url`` names (as
    the ``database_url`` setting). The customer database is in ``data_dir`` either way."""

    data_dir: Path
    url: str | None = None

    def env(self) -> dict[str, str]:
        env = cli_env(self.data_dir)
        if self.url is not None:
            env["AGENTLAB_DATABASE_URL"] = self.url
        return env


def customer(n: int) -> int:
    return FIRST_CUSTOMER + n


def close_account_script(n: int) -> str:
    """Run ``n``: look its customer up, notify them, delete them."""
    c = customer(n)
    steps = [
        step("search_customers", customer_id=c),
        step("send_notification", user_id=c, message=f"Run {n}: your account closes today."),
        step("delete_customer", destructive=True, customer_id=c),
    ]
    return script(planner=[plan(*steps)], validator=[verdict(True, f"customer {c} closed")])


@dataclass
class Started:
    """One ``agentlab run`` of the batch and how it went."""

    n: int
    code: int
    output: str

    @property
    def run_id(self) -> str | None:
        found = re.search(r"run-[0-9a-f]{10}", self.output)
        return found.group(0) if found else None


def run_all(db: RunsDatabase, n: int) -> tuple[list[Started], float]:
    """Start ``n`` runs at once, each ``agentlab run ... --approve``; wait for all of them."""
    scripts = db.data_dir / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    env = db.env()
    procs = []
    started = time.monotonic()
    for i in range(n):
        path = scripts / f"run-{i:02d}.json"
        path.write_text(close_account_script(i))
        task = f"Close the account of customer {customer(i)}"
        procs.append(
            subprocess.Popen(
                [*AGENTLAB, "run", task, "--script", str(path), "--approve"],
                env=env,
                cwd=REPOSITORY,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        )
    done = []
    deadline = started + TIMEOUT_S
    for i, proc in enumerate(procs):
        try:
            output, _ = proc.communicate(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            output += f"\n(killed: still running after {TIMEOUT_S} s)"
        done.append(Started(i, proc.returncode, output))
    return done, time.monotonic() - started


def checkpoint_history(db: RunsDatabase, run_ids: Sequence[str]) -> dict[str, list[Any]]:
    """Every checkpoint of each run, newest first, each read back in full (deserialized):
    a checkpoint that cannot be read raises."""
    from agentlab.orchestration.checkpoints import LoopSqliteSaver

    assert db.url is None, "reading checkpoints from a server: open its saver here"
    saver = LoopSqliteSaver.open(settings_for(db.data_dir).checkpoint_path)
    try:
        return {
            run_id: list(saver.list(RunnableConfig(configurable={"thread_id": run_id})))
            for run_id in run_ids
        }
    finally:
        saver.close()


def customer_effects(db: RunsDatabase, n: int) -> tuple[dict[int, int], set[int]]:
    """Notifications per customer of the batch, and which of its customers remain."""
    ids = [customer(i) for i in range(n)]
    marks = ",".join("?" * len(ids))
    with closing(sqlite3.connect(db.data_dir / "support.sqlite", timeout=30)) as conn:
        sent = conn.execute(
            f"SELECT customer_id, COUNT(*) FROM notifications WHERE customer_id IN ({marks}) "
            "GROUP BY customer_id",
            ids,
        ).fetchall()
        left = conn.execute(f"SELECT id FROM customers WHERE id IN ({marks})", ids).fetchall()
    return dict(sent), {r[0] for r in left}
