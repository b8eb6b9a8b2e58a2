"""Storage failures named for what they are: a full disk, a read-only file system, permission
denied and a lock held too long each give one ``error:`` line saying so and what to do, never
"damaged" or "move it aside" for a healthy database; a run stopped by one resumes, once the
storage works again, without repeating a tool call that finished.

The file-system scenarios need root (to mount a small tmpfs); each is skipped, saying why,
otherwise. Permission denied needs a second, unprivileged user as well (root bypasses
permissions): ``nobody``, through ``setpriv``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentlab.errors import (
    DamagedDataError,
    DatabaseLockedError,
    DiskFullError,
    ReadOnlyStorageError,
    StoragePermissionError,
)
from tests.cli import MEMORY_OFF, agentlab_process, trusted_agents
from tests.scripts import plan, script, step, verdict
from tests.storage_agent import BALLAST_ENV, EFFECTS_ENV, LEAVE_ENV
from tests.test_cli import run_id_in
from tests.test_damaged_data import only_error_line

AGENT = f"{Path(__file__).with_name('storage_agent.py')}:agent"
NOTICES = [f"notice {n}" for n in range(1, 5)]
RUNS = "runs.sqlite"


def healthy(line: str) -> None:
    """``line`` does not call a healthy database damaged, nor advise giving up its runs."""
    for wrong in ("damaged", "move it aside", "cannot rollback", "no transaction is active"):
        assert wrong not in line, line


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs of its own, unmounted after the test."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(disk)], check=True)


def cli_env(data: Path, **extra: str | Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "AGENTLAB_"))}
    env = {
        **keep,
        "AGENTLAB_DATA_DIR": str(data),
        **trusted_agents(data),
        **MEMORY_OFF,
        "COLUMNS": "200",
    }
    env["NO_COLOR"] = "1"
    return {**env, **{k: str(v) for k, v in extra.items()}}


def notices_script(tmp_path: Path, *, fill_after: int | None = None) -> Path:
    """Four notices one after the other; ``fill_disk`` after the ``fill_after``-th, if given."""
    steps = []
    for n, text in enumerate(NOTICES, start=1):
        steps.append(step("send_notice", text=text, after=[len(steps)] if steps else []))
        if n == fill_after:
            steps.append(step("fill_disk", after=[len(steps)]))
    path = tmp_path / "notices.json"
    path.write_text(script(planner=[plan(*steps)], validator=[verdict(True, "all sent")]))
    return path


def sent(effects: Path) -> Counter[str]:
    """How many times each notice was sent."""
    lines = effects.read_text(encoding="utf-8").splitlines() if effects.exists() else []
    return Counter(line.split("\t", 1)[1] for line in lines)


def resume_to_end(env: dict[str, str], run_id: str) -> str:
    """``agentlab resume RUN`` until the run ends (with ``--approve`` where it waits for an
    approval); its last output."""
    decision: list[str] = []
    for _ in range(6):
        done = agentlab_process(env, "resume", run_id, *decision)
        if "awaiting" not in done.stdout:
            assert done.returncode == 0, done.stdout + done.stderr
            return done.stdout
        decision = ["--approve"]
    raise AssertionError(f"run {run_id} did not end: {done.stdout}{done.stderr}")


def start_notices(env: dict[str, str], script_path: Path) -> subprocess.CompletedProcess[str]:
    return agentlab_process(
        env, "run", "send the notices", "--agent", AGENT, "--script", script_path, "--approve"
    )


# -- a full disk ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("leave", [0, 16 * 1024], ids=["no-space-left", "16KiB-left"])
def test_a_full_disk_mid_run_is_named_and_the_run_resumes_without_repeating_a_call(
    tmp_path, small_disk, leave
):
    data, effects, ballast = small_disk / "data", tmp_path / "effects.log", small_disk / "ballast"
    env = cli_env(data, **{EFFECTS_ENV: effects, BALLAST_ENV: ballast, LEAVE_ENV: str(leave)})

    stopped = start_notices(env, notices_script(tmp_path, fill_after=2))

    assert stopped.returncode == 2, stopped.stdout + stopped.stderr
    line = only_error_line(stopped.stderr)
    healthy(line)
    run_id = run_id_in(stopped.stdout)
    assert line.startswith(f"error: disk full: the runs database {data / RUNS} could not be ")
    assert f"free space on {small_disk}, then 'agentlab resume {run_id}' continues" in line
    assert "nothing was lost" in line
    # The disk filled after the second notice: with no space left, the next write fails; with
    # 16 KiB, a page or two may still fit, and a notice more is sent first (each once).
    before = sent(effects)
    assert before == Counter(NOTICES[: sum(before.values())]) and sum(before.values()) >= 2
    assert leave or before == Counter(NOTICES[:2])

    ballast.unlink()  # space freed
    listed = agentlab_process(env, "runs")
    assert listed.returncode == 0 and f"{run_id}" in listed.stdout, listed.stderr
    assert "(interrupted)" in listed.stdout
    assert "completed" in resume_to_end(env, run_id)
    assert sent(effects) == Counter(NOTICES)  # each notice once: none repeated, none lost


@pytest.mark.slow
def test_a_full_disk_before_a_run_starts_says_run_the_command_again(tmp_path, small_disk):
    data = small_disk / "data"
    data.mkdir()
    _fill(small_disk / "ballast")

    done = agentlab_process(cli_env(data), "runs")

    line = only_error_line(done.stderr)
    healthy(line)
    assert line.startswith(f"error: disk full: the runs database {data / RUNS} could not be ")
    assert line.endswith(
        f"free space on {small_disk}, then run the command again: nothing was lost"
    )


def _fill(ballast: Path) -> None:
    with ballast.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass


@pytest.mark.slow
async def test_a_transaction_at_a_full_disk_reports_the_full_disk_not_the_rollback(small_disk):
    # SQLite rolls a transaction back itself at a full disk: rolling it back again used to fail
    # with "cannot rollback - no transaction is active", hiding why.
    from agentlab.store import Ceiling, LedgerEntry, open_sqlite_store

    store = open_sqlite_store(small_disk / RUNS)
    _fill(small_disk / "ballast")
    entries = [
        LedgerEntry(f"e-{n}", "run-1", "toy", "ada", None, "plan", "planner", "m", day="d")
        for n in range(200)
    ]
    ceiling = Ceiling("max_usd", "run", "run-1", "usd", 10.0)

    with pytest.raises(DiskFullError) as failed:
        for entry in entries:  # until a page more is needed than the disk has
            await store.reserve(entry, [ceiling])
    healthy(str(failed.value))
    assert str(failed.value).endswith(
        f"free space on {small_disk}, then try again: nothing was lost"
    )

    (small_disk / "ballast").unlink()
    assert (await store.reserve(entries[-1], [ceiling])).crossed is None
    await store.close()


# -- a read-only file system ---------------------------------------------------------------------


def paused_run(tmp_path: Path, data: Path) -> tuple[dict[str, str], str, Path]:
    """A run that sent one notice and waits for approval of the second (destructive); its
    environment, its id and its outbox file."""
    effects = tmp_path / "effects.log"
    env = cli_env(data, **{EFFECTS_ENV: effects})
    first = step("send_notice", text=NOTICES[0])
    second = step("send_notice", text=NOTICES[1], destructive=True, after=[1])
    path = tmp_path / "paused.json"
    path.write_text(script(planner=[plan(first, second)], validator=[verdict(True, "sent")]))
    started = agentlab_process(env, "run", "send two notices", "--agent", AGENT, "--script", path)
    assert started.returncode == 0 and "awaiting" in started.stdout, started.stdout + started.stderr
    return env, run_id_in(started.stdout), effects


@pytest.mark.slow
def test_a_read_only_file_system_is_named_and_the_run_resumes_once_writable(tmp_path, small_disk):
    env, run_id, effects = paused_run(tmp_path, small_disk / "data")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        for command in (["runs"], ["resume", run_id, "--approve"]):
            refused = agentlab_process(env, *command)
            assert refused.returncode == 2, refused.stdout
            line = only_error_line(refused.stderr)
            healthy(line)
            assert line.startswith(
                f"error: read-only file system: the runs database {small_disk / 'data' / RUNS} "
            )
            assert f"{small_disk} is mounted read-only: remount it read-write" in line
            assert line.endswith("then run the command again: nothing was lost")
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)

    assert "completed" in agentlab_process(env, "resume", run_id, "--approve").stdout
    assert sent(effects) == Counter(NOTICES[:2])


# -- permission denied ---------------------------------------------------------------------------


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory every user may enter (a test's tmp dir is its owner's alone)."""
    import tempfile

    made = Path(tempfile.mkdtemp(prefix="agentlab-storage-"))
    made.chmod(0o755)
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


def _as_nobody() -> list[str]:
    """The command prefix running a command as the unprivileged user ``nobody``; skips the test
    where that cannot run this Python with agentlab."""
    import sys

    if os.geteuid() != 0:
        pytest.skip("switching to another user needs root")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("there is no user nobody")
    prefix = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", "import typer, langgraph, agentlab"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["?"])[-1]
        pytest.skip(f"the user nobody cannot run this Python with agentlab ({reason})")
    return prefix


@pytest.mark.slow
def test_permission_denied_to_another_user_is_named(tmp_path, shared_dir):
    prefix = _as_nobody()
    env, run_id, _ = paused_run(tmp_path, shared_dir / "data")  # made by root: 0644, dir 0755
    import sys

    refused = subprocess.run(
        [*prefix, sys.executable, "-m", "agentlab", "resume", run_id, "--approve"],
        env={**env, "HOME": str(shared_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )

    line = only_error_line(refused.stderr)
    healthy(line)
    assert line.startswith(f"error: permission denied: the runs database {shared_dir / 'data'}")
    assert "user nobody may not write" in line


@pytest.mark.slow
def test_an_unwritable_database_file_is_named_permission_denied(tmp_path):
    # Root writes whatever a file's mode says: an immutable file (chattr +i) it may not.
    if os.geteuid() != 0:
        pytest.skip("chattr +i needs root")
    data = tmp_path / "data"
    env, run_id, effects = paused_run(tmp_path, data)
    marked = subprocess.run(["chattr", "+i", str(data / RUNS)], capture_output=True, text=True)
    if marked.returncode != 0:
        pytest.skip(f"this file system keeps no immutable attribute: {marked.stderr.strip()}")
    try:
        refused = agentlab_process(env, "resume", run_id, "--approve")
    finally:
        subprocess.run(["chattr", "-i", str(data / RUNS)], check=True)

    line = only_error_line(refused.stderr)
    healthy(line)
    assert line.startswith(f"error: permission denied: the runs database {data / RUNS} could not ")
    assert f"may not write {data / RUNS}" in line
    assert line.endswith("then run the command again: nothing was lost")
    assert "completed" in agentlab_process(env, "resume", run_id, "--approve").stdout
    assert sent(effects) == Counter(NOTICES[:2])


# -- a lock held too long, other engines, the words of each front end ----------------------------


def test_a_lock_held_past_the_busy_timeout_is_named(tmp_path):
    from agentlab.store.failures import sqlite_failure

    path = tmp_path / RUNS
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, timeout=0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError) as locked:
        waiter.execute("INSERT INTO t VALUES (1)")
    holder.close()
    waiter.close()

    named = sqlite_failure(path, locked.value, locked_s=30)

    assert isinstance(named, DatabaseLockedError)
    assert str(named).startswith(
        f"database locked: the runs database {path} stayed locked for 30 s"
    )
    healthy(str(named))


def test_a_damaged_database_is_still_named_damaged_with_the_backup_warning(tmp_path):
    from agentlab.store.failures import sqlite_failure

    path = tmp_path / RUNS
    path.write_bytes(b"not a database at all" * 400)
    with pytest.raises(sqlite3.DatabaseError) as unreadable:
        sqlite3.connect(path).execute("SELECT * FROM sqlite_master")

    named = sqlite_failure(path, unreadable.value)

    assert isinstance(named, DamagedDataError)
    assert "damaged or not an agentlab database" in str(named)
    assert "restore it from a backup (but effects its runs had after the backup was taken" in (
        str(named)
    )
    assert "happen again when they resume, unless their tools are idempotent by key" in str(named)


def test_postgres_failures_are_named_by_sqlstate():
    psycopg = pytest.importorskip("psycopg")
    from agentlab.store.postgres import PostgresEngine

    engine = PostgresEngine("postgresql://ada:secret@127.0.0.1:1/runs", pool_size=1)
    errors = psycopg.errors
    expected = {
        errors.DiskFull: (DiskFullError, "disk full: "),
        errors.ReadOnlySqlTransaction: (ReadOnlyStorageError, "read-only database: "),
        errors.InsufficientPrivilege: (StoragePermissionError, "permission denied: "),
        errors.LockNotAvailable: (DatabaseLockedError, "database locked: "),
    }
    for raised, (kind, lead) in expected.items():
        named = engine.failure(raised("it failed"))
        assert isinstance(named, kind) and str(named).startswith(lead), named
        assert "secret" not in str(named)


def test_each_front_end_says_what_to_do_after_a_storage_failure_in_its_words():
    from agentlab.cli.words import CLI_WORDS
    from agentlab.errors import Fix
    from agentlab.lab.words import NOTEBOOK_WORDS

    full = DiskFullError("disk full: the runs database x could not be written", fix=Fix.AGAIN)
    mid_run = full.for_run("run-1")

    assert str(full).endswith("could not be written, then try again: nothing was lost")
    assert full.worded(CLI_WORDS).endswith(", then run the command again: nothing was lost")
    assert mid_run.worded(CLI_WORDS).endswith(
        ", then 'agentlab resume run-1' continues the run where it stopped: nothing was lost "
        "and no finished tool call runs again"
    )
    assert "await run.resume()" in mid_run.worded(NOTEBOOK_WORDS)
    assert isinstance(mid_run, DiskFullError) and full.fix is Fix.AGAIN
