"""The fault scenario: the crash scenario's run meeting the faults a process has besides its own
death (an MCP server that dies mid-call, a call that outlives its timeout), and at a point of the
run a SIGKILL, a SIGSTOP past its lease (then a takeover, then SIGCONT), a full disk, or a SIGKILL
while its model's answers arrive broken; then resumed by a careful person to its end; and what its
effects and records say after.

The run (``fault_agent`` of ``crash_agent.py``) looks Ada up, notifies her once, appends the
outbox line, deletes her (approved by ``--approve``), and in the same wave writes a note through
the MCP notes server, which dies once the note is written (``die: ...``), and records a line in
the slow ledger, whose tool answers after its ``timeout_s``. Both leave their effect unknown to
the run: it asks the person, who checks the notes file and the ledger and answers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from agentlab.models.script import load_script
from agentlab.store.rows import JOURNAL, RUNS
from agentlab.testing import AnthropicTestServer
from agentlab.testing.faults import FaultKind, Faults
from tests.reliability.cli import (
    HARNESS,
    HERE,
    REPOSITORY,
    cli_env,
    harnessed,
    run_ids,
)
from tests.reliability.crash import (
    CUSTOMER,
    NOTICES,
    OUTBOX_TEXT,
    PROCESS_TIMEOUT_S,
    Effects,
    Trial,
    _resume_to_end,
    _trace,
    prepare,
    record_end,
)
from tests.reliability.crash_agent import NOTES_FILE, SLOW_FILE
from tests.reliability.crash_harness import BALLAST
from tests.scripts import plan, script, step, verdict

FAULT_AGENT = f"{HERE / 'crash_agent.py'}:fault_agent"
TASK = "Close Ada Lovelace's account: notify her, log it, note it, record it slowly, delete her"
NOTE = "die: account of customer 1 closing"  # the notes server dies once it is written
SLOW_TEXT = "account of customer 1 closing"
NOTICE = NOTICES[0]
DISK = "8m"  # the tmpfs a full-disk trial's data directory is
DRY_TRACE = "fault-dry-run.trace"


def fault_script() -> str:
    steps = [
        step("search_customers", email="ada.lovelace@example.com", limit=1),
        step("send_notification", user_id=CUSTOMER, message=NOTICE, channel="email"),
        step("append_effect", text=OUTBOX_TEXT),
        step("notes_append_note", text=NOTE),
        step("record_slowly", text=SLOW_TEXT),
        step("delete_customer", destructive=True, customer_id=CUSTOMER),
    ]
    return script(planner=[plan(*steps)], validator=[verdict(True, "all done")])


def run_args(script_path: Path) -> list[str]:
    return ["run", TASK, "--agent", FAULT_AGENT, "--script", str(script_path), "--approve"]


@dataclass(frozen=True)
class FaultEffects(Effects):
    """The crash scenario's effects, and the notes file and the slow ledger."""

    notes: list[str] = field(default_factory=list)
    slow: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, data_dir: Path) -> FaultEffects:
        base = Effects.read(data_dir)
        return cls(
            base.notifications,
            base.outbox_lines,
            base.deletions,
            base.customer_present,
            _lines(data_dir / NOTES_FILE),
            _lines(data_dir / SLOW_FILE),
        )

    def happened(self, request: dict[str, Any], run_id: str) -> bool:
        if request["tool"] == "notes_append_note":
            return NOTE in self.notes
        if request["tool"] == "record_slowly":
            key = f"{run_id}:{request['step_id']}"
            return any(line.split("\t", 1)[0] == key for line in self.slow)
        return super().happened(request, run_id)

    def duplicates(self) -> int:
        keys = Counter(line.split("\t", 1)[0] for line in self.slow)
        extra = sum(n - 1 for n in keys.values() if n > 1)
        return super().duplicates() + extra + max(self.notes.count(NOTE) - 1, 0)

    def lost(self) -> int:
        missing = [
            self.notifications.get(NOTICE, 0) == 0,
            not self.outbox_lines,
            self.customer_present or self.deletions == 0,
            NOTE not in self.notes,
            not self.slow,
        ]
        return sum(missing)

    def count(self) -> int:
        return super().count() + len(self.notes) + len(self.slow)


TTL_S = 2  # the lease of a stop trial's stopped process: it soon expires
# What a process that lost its run's lease must not change.
WRITTEN = ("checkpoints", "writes", "journal", "status")


def _written(data_dir: Path, run_id: str) -> tuple[Any, ...]:
    """The run's checkpoints and saved writes (counts), journal (its rows) and status."""
    with contextlib.closing(sqlite3.connect(data_dir / "runs.sqlite", timeout=30)) as db:
        one = "SELECT COUNT(*) FROM {} WHERE thread_id = ?"
        return (
            db.execute(one.format("checkpoints"), (run_id,)).fetchone()[0],
            db.execute(one.format("writes"), (run_id,)).fetchone()[0],
            db.execute(
                f"SELECT * FROM {JOURNAL} WHERE run_id = ? ORDER BY 1, 2, 3", (run_id,)
            ).fetchall(),
            db.execute(f"SELECT status FROM {RUNS} WHERE run_id = ?", (run_id,)).fetchone(),
        )


def stop_points(points: list[str], trace: list[list[str]]) -> list[str]:
    """The points of ``points`` (the dry run's, in order) before its first call was journaled or
    after the run paused for the person (every call then ended or timed out, its effect done),
    outside transactions (not ``during``): a process stopped there and continued after another
    took its run over must not act on the world. (In between the wave's calls run in parallel,
    so which are in flight at a point varies from run to run.) A call in flight when its process
    stopped is another matter: only a tool that honours the fencing token or the idempotency key
    can refuse it then (``tests/test_fencing.py``)."""
    marks = [(site, detail) for index, site, detail, *_ in trace if index != "0"]
    first = min(i for i, (site, _) in enumerate(marks) if site.startswith("journal.start"))
    paused = max(
        i for i, mark in enumerate(marks) if mark == ("runs.set_status:after", "awaiting_human")
    )
    return [
        point
        for i, (point, (site, _)) in enumerate(zip(points, marks, strict=True))
        if (i < first or i > paused) and not site.endswith(":during")
    ]


def stop_trial(base: Path, script_path: Path, point: str) -> Trial:
    """The run meets its faults and its process is stopped (SIGSTOP) at ``point`` past its
    lease; a person takes the run over (``resume --force``) and resumes it to its end; then the
    stopped process is continued: it must write nothing more, and no effect may happen twice."""
    started = time.monotonic()
    name = "faults-" + point.replace(":", "-").replace("#", "-")
    data_dir = base / name
    prepare(data_dir)
    env = cli_env(data_dir)  # the person's processes: the usual lease
    trace = base / f"{name}.trace"
    result = Trial(point)
    with (base / f"{name}.out").open("w") as out:
        first = subprocess.Popen(
            [*HARNESS, "--kill-at", point, "--trace", str(trace), "--", *run_args(script_path)],
            env={**env, "AGENTLAB_LEASE_TTL_S": str(TTL_S)}, cwd=REPOSITORY, stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            result = _taken_over(data_dir, env, trace, first, result)
        finally:
            if first.poll() is None:
                os.kill(first.pid, signal.SIGCONT)
                first.kill()
                first.wait(30)
    result.seconds = time.monotonic() - started
    return result


def _taken_over(
    data_dir: Path, env: dict[str, str], trace: Path, first: subprocess.Popen[bytes], result: Trial
) -> Trial:
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    while not any(s.startswith("STOP ") for _, s, *_ in _trace(trace)):
        if first.poll() is not None or time.monotonic() > deadline:
            result.unresumable = f"the point was not reached (exit {first.returncode})"
            return result
        time.sleep(0.02)
    for index, site, detail, *_ in _trace(trace):
        if site.startswith("STOP "):
            result.index, result.site, result.detail = int(index), site[5:], detail
    time.sleep(TTL_S + 0.5)  # its lease expires; it still exists, stopped
    late: list[str] = []
    if not run_ids(data_dir):  # stopped before its run was recorded: it goes on, and runs it
        os.kill(first.pid, signal.SIGCONT)
        first.wait(PROCESS_TIMEOUT_S)
    ids = run_ids(data_dir)
    if not ids:
        result.end = "no run"
        return result
    (run_id,) = ids
    result.run_id = run_id
    taking_over = first.poll() is None
    _resume_to_end(data_dir, env, run_id, result, effects=FaultEffects, force=taking_over)
    if taking_over:
        before = _written(data_dir, run_id)
        os.kill(first.pid, signal.SIGCONT)  # the stopped process goes on, its run taken over
        first.wait(PROCESS_TIMEOUT_S)
        after = _written(data_dir, run_id)
        late = [
            f"{w}: {b} then {a}" for w, b, a in zip(WRITTEN, before, after, strict=True) if a != b
        ]
    record_end(data_dir, run_id, result, FaultEffects)
    if late:
        wrote = f"the stopped process wrote after the takeover: {late}"
        result.stale = "; ".join([*filter(None, [result.stale]), wrote])
    return result


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def fault_dry_run(base: Path, script_path: Path) -> list[str]:
    """The scenario once, not killed: its kill points in order (``SITE#K``), up to the pause
    where it asks about the two calls of unknown effect."""
    data_dir = base / "fault-dry-run"
    prepare(data_dir)
    trace = base / DRY_TRACE
    done = harnessed(
        cli_env(data_dir), *run_args(script_path), trace=trace, timeout=PROCESS_TIMEOUT_S
    )
    assert "awaiting_human" in done.stdout + done.stderr, done.stdout + done.stderr
    seen: Counter[str] = Counter()
    points = []
    for index, site, *_ in _trace(trace):
        if index != "0":
            seen[site] += 1
            points.append(f"{site}#{seen[site]}")
    return points


def fault_trial(base: Path, script_path: Path, point: str) -> Trial:
    """The run meets its faults and is killed at ``point`` (or, for ``fill:SITE#K``, its disk
    fills there: on a small tmpfs, so as root only); then a person resumes it to its end."""
    started = time.monotonic()
    name = "faults-" + point.replace(":", "-").replace("#", "-").replace("=", "-").replace(",", "-")
    data_dir = base / name
    data_dir.mkdir()
    result = Trial(point)
    with contextlib.ExitStack() as stack:
        if point.startswith("fill:"):
            stack.enter_context(_small_disk(data_dir))
        prepare(data_dir)
        env, args, kill_at = cli_env(data_dir), run_args(script_path), point
        if point.startswith("malformed="):  # Claude's path, through a server that breaks answers
            kinds, _, kill_at = point.removeprefix("malformed=").partition(":")
            broken = cast(list[FaultKind], kinds.split(","))
            server = stack.enter_context(_breaking_server(script_path, broken))
            env |= {
                "ANTHROPIC_API_KEY": "sk-test-local",
                "ANTHROPIC_BASE_URL": server.base_url,
                "AGENTLAB_ANTHROPIC_STREAM": "true",
            }
            args = args[: args.index("--script")] + args[args.index("--script") + 2 :]
        trace = base / f"{name}.trace"
        first = harnessed(env, *args, kill_at=kill_at, trace=trace, timeout=PROCESS_TIMEOUT_S)
        for index, site, detail, *_ in _trace(trace):
            if site.startswith(("KILL ", "FILL ")):
                result.index, result.site, result.detail = int(index), site[5:], detail
        if not result.site:
            result.unresumable = f"the point was not reached (exit {first.returncode})"
        (data_dir / BALLAST).unlink(missing_ok=True)  # the person frees space, then resumes
        ids = run_ids(data_dir)
        if not ids:
            result.end = "no run"
            if FaultEffects.read(data_dir).count():
                result.unresumable = "no run was recorded, yet effects happened"
            result.seconds = time.monotonic() - started
            return result
        (run_id,) = ids
        result.run_id = run_id
        _resume_to_end(data_dir, env, run_id, result, effects=FaultEffects)
        record_end(data_dir, run_id, result, FaultEffects)
        if point.startswith("malformed="):
            result.provider_faults = list(server.faults_injected)
        result.seconds = time.monotonic() - started
        return result


# The broken answers of malformed trials, two a trial, in turn: a tool-use block whose input is
# not an object, a block of an unknown type, a stream cut short, a JSON body for a streamed
# request. Each is a provider error, retried within the call's attempts.
BROKEN: tuple[FaultKind, ...] = ("bad_tool_input", "unknown_block", "truncated", "wrong_format")


def _breaking_server(script_path: Path, broken: list[FaultKind]) -> AnthropicTestServer:
    """An Anthropic test server answering each forced tool with the script's turn for it (spares
    for the resumes), its first answers broken as ``broken`` says, every other request."""
    roles = load_script(script_path).roles
    turns = [*roles["planner"], *roles["validator"]] * 4
    faults = Faults(at={2 * i: kind for i, kind in enumerate(broken)})
    return AnthropicTestServer(turns, faults=faults, by_tool_choice=True)


def can_mount() -> str:
    """Why a full-disk trial cannot run here ("" if it can)."""
    if os.geteuid() != 0:
        return "mounting a small tmpfs needs root"
    return ""


@contextlib.contextmanager
def _small_disk(path: Path) -> Iterator[None]:
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK},mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        raise RuntimeError(f"cannot mount a tmpfs at {path}: {mounted.stderr.strip()}")
    try:
        yield
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=True)
