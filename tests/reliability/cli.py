"""The ``agentlab`` command in subprocesses, and what a run left in its data directory.

The suites drive runs the way a person does, through the command line, and then read the stores
directly: the runs table as it is (a stale status is not reconciled away by reading it), the
checkpoint as LangGraph saved it, and the run as ``agentlab show`` sees it.
"""

from __future__ import annotations

import asyncio
import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig

from agentlab.config import Settings, load_settings
from agentlab.orchestration import RunView, SyncRunner
from agentlab.orchestration.checkpoints import LoopSqliteSaver
from agentlab.store.rows import LEASES, RUNS
from tests.cli import MEMORY_OFF, trusted_agents

HERE = Path(__file__).resolve().parent
AGENTLAB = [sys.executable, "-m", "agentlab"]  # this interpreter, whatever is on PATH
HARNESS = [sys.executable, str(HERE / "crash_harness.py")]
CRASH_AGENT = f"{HERE / 'crash_agent.py'}:agent"
REPOSITORY = HERE.parent.parent


def cli_env(data_dir: Path) -> dict[str, str]:
    """This process's environment for ``agentlab`` on ``data_dir``: no key, no config of the
    developer's, plain wide output."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "AGENTLAB_"))}
    env = {**keep, "AGENTLAB_DATA_DIR": str(data_dir), "COLUMNS": "200", "NO_COLOR": "1"}
    return {**env, **trusted_agents(data_dir), **MEMORY_OFF}  # the crash agents, under tests/


def agentlab(
    env: Mapping[str, str], *args: str | Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``agentlab ARGS`` off a terminal; raises ``subprocess.TimeoutExpired`` after ``timeout``."""
    return subprocess.run(
        [*AGENTLAB, *map(str, args)],
        env=dict(env),
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def harnessed(
    env: Mapping[str, str],
    *args: str | Path,
    kill_at: int | str = 0,
    trace: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``agentlab ARGS`` under the crash harness: SIGKILLed at ``kill_at`` (the N-th point, or
    ``SITE#K``; 0: never), tracing the points it reaches to ``trace``."""
    own = ["--kill-at", str(kill_at), *(["--trace", str(trace)] if trace else [])]
    return subprocess.run(
        [*HARNESS, *own, "--", *map(str, args)],
        env=dict(env),
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


class Terminal:
    """A command at a pseudo-terminal, as a person runs it: read the screen, type answers."""

    def __init__(self, env: Mapping[str, str], command: list[str]) -> None:
        self._fd, secondary = pty.openpty()
        self.proc = subprocess.Popen(
            command,
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
            env=dict(env),
            cwd=REPOSITORY,
            start_new_session=True,
        )
        os.close(secondary)
        self.screen = ""
        self.closed = False

    def read(self, wait: float) -> None:
        """Add what the command printed within ``wait`` seconds to ``screen``."""
        if self.closed or not select.select([self._fd], [], [], wait)[0]:
            return
        try:
            chunk = os.read(self._fd, 65536)
        except OSError:  # the command exited and its terminal closed
            chunk = b""
        if not chunk:
            self.closed = True
        self.screen += ANSI.sub("", chunk.decode(errors="replace")).replace("\r\n", "\n")

    def answer(self, prompts: Mapping[str, Callable[[str], str]], timeout: float) -> int:
        """Answer each prompt of ``prompts`` (its text -> the answer, given the screen so far)
        as it appears, until the command exits; its exit code. Raises ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        answered = 0
        while not self.closed:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no end after {timeout:g} s:\n{self.screen}")
            self.read(0.05)
            asked = [(self.screen.rfind(p), p) for p in prompts]
            at, prompt = max(asked)
            if at >= answered:  # a prompt shown since the last answer
                self.type(prompts[prompt](self.screen))
                answered = at + len(prompt)
        return self.proc.wait(timeout=max(deadline - time.monotonic(), 1))

    def type(self, line: str) -> None:
        os.write(self._fd, (line + "\n").encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        os.close(self._fd)


def settings_for(data_dir: Path) -> Settings:
    return load_settings(data_dir=data_dir)


@contextmanager
def _runs_db(data_dir: Path) -> Iterator[sqlite3.Connection | None]:
    path = settings_for(data_dir).checkpoint_path
    if not path.exists():
        yield None
        return
    with closing(sqlite3.connect(path, timeout=30)) as conn:
        yield conn


def run_ids(data_dir: Path) -> list[str]:
    """The runs in the runs table, oldest first (none if the table was never created)."""
    with _runs_db(data_dir) as conn:
        if conn is None:
            return []
        try:
            rows = conn.execute(f"SELECT run_id FROM {RUNS} ORDER BY rowid").fetchall()
        except sqlite3.OperationalError:  # killed before the table existed
            return []
    return [r[0] for r in rows]


def table_status(data_dir: Path, run_id: str) -> tuple[str, bool]:
    """The run's status in the runs table as stored, and whether a lease row is left."""
    with _runs_db(data_dir) as conn:
        assert conn is not None
        row = conn.execute(f"SELECT status FROM {RUNS} WHERE run_id = ?", (run_id,)).fetchone()
        leased = conn.execute(f"SELECT 1 FROM {LEASES} WHERE run_id = ?", (run_id,)).fetchone()
    return row[0], leased is not None


def checkpoint_values(data_dir: Path, run_id: str) -> dict[str, Any] | None:
    """The channel values of the run's latest checkpoint as LangGraph saved it, or ``None``."""
    saver = LoopSqliteSaver.open(settings_for(data_dir).checkpoint_path)
    try:
        saved = saver.get_tuple(RunnableConfig(configurable={"thread_id": run_id}))
    finally:
        saver.close()
    return None if saved is None else dict(saved.checkpoint["channel_values"])


def look(data_dir: Path, run_id: str) -> RunView:
    """The run as ``agentlab show`` sees it (its status reconciled if its writer died)."""
    with SyncRunner(settings_for(data_dir)) as runner:
        return runner.get(run_id)


def doctor_problems(data_dir: Path) -> list[str]:
    """What ``agentlab doctor`` reports for ``data_dir`` (``[]``: ok)."""
    from agentlab.store import open_sqlite_store

    path = settings_for(data_dir).checkpoint_path
    if not path.exists():
        return []

    async def check() -> list[str]:
        store = open_sqlite_store(path)
        try:
            return await store.check()
        finally:
            await store.close()

    return asyncio.run(check())
