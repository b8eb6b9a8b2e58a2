"""The crash scenario: a scripted run of the crash agent, SIGKILLed at one point, then resumed from
the command line by a careful person until it ends; and what its effects and records say after.

The run looks Ada Lovelace (customer 1) up, sends her five notifications (each needs approval),
appends one outbox line (``append_effect``: not idempotent, no approval) and deletes her record
(destructive: needs approval). Its effects are observable outside agentlab: notification rows,
outbox lines keyed by the call's idempotency key, and a deletion log a trigger in the customer
database keeps (so a deletion that was rolled back leaves no trace, one that committed does).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentlab.domains.support import SupportDatabase
from agentlab.orchestration import SyncRunner
from tests.conftest import waiting
from tests.reliability.cli import (
    AGENTLAB,
    CRASH_AGENT,
    Terminal,
    checkpoint_values,
    cli_env,
    doctor_problems,
    harnessed,
    look,
    run_ids,
    settings_for,
    table_status,
)
from tests.reliability.crash_agent import EFFECTS_FILE
from tests.scripts import plan, script, step, verdict

CUSTOMER = 1
TASK = "Close Ada Lovelace's account: notify her five times, log it in the outbox, delete her"
NOTICES = [f"Notice {n} of 5: your account closes today." for n in range(1, 6)]
OUTBOX_TEXT = "account of customer 1 closed"
MAX_RESUMES = 20  # far more than the run's pauses: a run still going after these never ends
PROCESS_TIMEOUT_S = 90


def crash_script() -> str:
    """Search, five notifications, the outbox line and the deletion; then a verdict."""
    steps = [step("search_customers", email="ada.lovelace@example.com", limit=1)]
    steps += [
        step("send_notification", user_id=CUSTOMER, message=text, channel="email")
        for text in NOTICES
    ]
    steps.append(step("append_effect", text=OUTBOX_TEXT))
    steps.append(step("delete_customer", destructive=True, customer_id=CUSTOMER))
    return script(planner=[plan(*steps)], validator=[verdict(True, "all done")])


def prepare(data_dir: Path) -> None:
    """Seed the customer database and log committed deletions (a trigger: same transaction)."""
    db = SupportDatabase(data_dir / "support.sqlite")
    db.ensure()
    with closing(sqlite3.connect(db.path)) as conn, conn:
        conn.executescript(
            "CREATE TABLE deletions (customer_id INTEGER NOT NULL);"
            "CREATE TRIGGER log_deletion AFTER DELETE ON customers "
            "BEGIN INSERT INTO deletions VALUES (old.id); END;"
        )


@dataclass(frozen=True)
class Effects:
    """What the world shows: notification rows per message, outbox lines, deletions of Ada."""

    notifications: dict[str, int]
    outbox_lines: list[str]
    deletions: int
    customer_present: bool

    @classmethod
    def read(cls, data_dir: Path) -> Effects:
        with closing(sqlite3.connect(data_dir / "support.sqlite", timeout=30)) as conn:
            rows = conn.execute(
                "SELECT message, COUNT(*) FROM notifications WHERE customer_id = ? "
                "GROUP BY message",
                (CUSTOMER,),
            ).fetchall()
            deletions = conn.execute(
                "SELECT COUNT(*) FROM deletions WHERE customer_id = ?", (CUSTOMER,)
            ).fetchone()[0]
            present = conn.execute("SELECT 1 FROM customers WHERE id = ?", (CUSTOMER,)).fetchone()
        outbox = data_dir / EFFECTS_FILE
        lines = outbox.read_text(encoding="utf-8").splitlines() if outbox.exists() else []
        return cls(dict(rows), lines, deletions, present is not None)

    def happened(self, request: dict[str, Any], run_id: str) -> bool:
        """What a careful person finds on checking whether the call ``request`` took effect."""
        tool, arguments = request["tool"], request["arguments"]
        if tool == "append_effect":
            key = f"{run_id}:{request['step_id']}"
            return any(line.split("\t", 1)[0] == key for line in self.outbox_lines)
        if tool == "send_notification":
            return self.notifications.get(arguments["message"], 0) > 0
        if tool == "delete_customer":
            return not self.customer_present
        raise AssertionError(f"no way to check {tool} by hand")

    def duplicates(self) -> int:
        """Effects that happened more than once."""
        extra = sum(n - 1 for n in self.notifications.values() if n > 1)
        keys = Counter(line.split("\t", 1)[0] for line in self.outbox_lines)
        extra += sum(n - 1 for n in keys.values() if n > 1)
        return extra + max(self.deletions - 1, 0)

    def lost(self) -> int:
        """Effects of a completed run that never happened."""
        missing = sum(1 for text in NOTICES if self.notifications.get(text, 0) == 0)
        missing += 0 if self.outbox_lines else 1
        return missing + (1 if self.customer_present or self.deletions == 0 else 0)

    def count(self) -> int:
        return sum(self.notifications.values()) + len(self.outbox_lines) + self.deletions


@dataclass
class Trial:
    """One kill point (``SITE#K``: the K-th point of that site) and everything that followed."""

    kill_at: str
    index: int = 0  # the point's place among all the points the process reached
    site: str = ""  # where the process died (``kind.operation:phase``), "" if it was not killed
    detail: str = ""
    expected: list[list[str]] = field(default_factory=list)  # acceptable unknown-effect answers
    run_id: str | None = None
    end: str = ""  # the run's final status; "no run" if killed before its record existed
    resumes: int = 0
    decisions: list[str] = field(default_factory=list)  # approve, happened, run again
    unresumable: str = ""  # why the run could not be brought to its end, if so
    duplicates: int = 0
    lost: int = 0
    table_lagged: bool = False  # the runs table lagged behind the run's state until it was read
    stale: str = ""  # how 'agentlab runs' or the runs table disagree with the run's state
    doctor: list[str] = field(default_factory=list)
    provider_faults: list[str] = field(default_factory=list)  # the broken answers it was sent
    seconds: float = 0.0

    @property
    def action(self) -> str:
        """What was done at the point: ``kill`` (SIGKILL), ``stop`` (SIGSTOP), ``fill`` (the
        disk filled) or ``malformed`` (a SIGKILL, the model's answers broken on the way)."""
        action, _, rest = self.kill_at.partition(":")
        action = action.partition("=")[0]  # malformed=KIND,KIND: the broken answers it was sent
        return action if action in ("stop", "fill", "malformed") and rest else "kill"

    @property
    def kind(self) -> str:
        return self.site.split(".", 1)[0] if self.site else "not reached"

    @property
    def unknown_effects(self) -> int:
        """How many times the person was asked whether a call took effect."""
        return sum(d in ("happened", "run again") for d in self.decisions)


def dry_run(base: Path, script_path: Path) -> list[str]:
    """Run the scenario once without killing it; its kill points in order, as ``SITE#K``."""
    data_dir = base / "dry-run"
    prepare(data_dir)
    trace = base / "dry-run.trace"
    done = harnessed(
        cli_env(data_dir), *run_args(script_path), trace=trace, timeout=PROCESS_TIMEOUT_S
    )
    assert done.returncode == 0, done.stdout + done.stderr
    effects = Effects.read(data_dir)
    assert (effects.duplicates(), effects.lost()) == (0, 0), effects
    seen: Counter[str] = Counter()
    points = []
    for index, site, *_ in _trace(trace):
        if index != "0":  # not a mark
            seen[site] += 1
            points.append(f"{site}#{seen[site]}")
    return points


def run_args(script_path: Path) -> list[str]:
    return ["run", TASK, "--agent", CRASH_AGENT, "--script", str(script_path), "--approve"]


def trial(base: Path, script_path: Path, kill_at: str) -> Trial:
    """Kill the run at ``kill_at``, resume it until it ends, and check what it left."""
    started = time.monotonic()
    name = kill_at.replace(":", "-").replace("#", "-")
    data_dir = base / name
    prepare(data_dir)
    env = cli_env(data_dir)
    trace = base / f"{name}.trace"
    result = Trial(kill_at)
    killed = harnessed(
        env, *run_args(script_path), kill_at=kill_at, trace=trace, timeout=PROCESS_TIMEOUT_S
    )
    reached = _trace(trace)
    for index, site, detail, *_ in reached:
        if site.startswith("KILL "):
            result.index, result.site, result.detail = int(index), site[5:], detail
    result.expected = _questions_left([(s.removeprefix("KILL "), d) for _, s, d, *_ in reached])
    if not result.site or killed.returncode != -9:
        result.unresumable = f"the kill point was not reached (exit {killed.returncode})"
    ids = run_ids(data_dir)
    if not ids:  # killed before the run's record existed: nothing was started, nothing to resume
        result.end = "no run"
        effects = Effects.read(data_dir)
        if effects.count():
            result.unresumable = f"no run was recorded, yet effects happened: {effects}"
        result.seconds = time.monotonic() - started
        return result
    (run_id,) = ids
    result.run_id = run_id
    _resume_to_end(data_dir, env, run_id, result)
    record_end(data_dir, run_id, result)
    result.seconds = time.monotonic() - started
    return result


def record_end(
    data_dir: Path, run_id: str, result: Trial, effects: type[Effects] = Effects
) -> None:
    """What the world and the records show once the run ended: duplicates, lost effects (of a
    completed run), stale statuses and what ``doctor`` finds."""
    seen = effects.read(data_dir)
    result.duplicates = seen.duplicates()
    if result.end == "completed":
        result.lost = seen.lost()
    result.stale = _stale(data_dir, run_id)
    result.doctor = doctor_problems(data_dir)


SEARCH_STEP = "1.1"  # search_customers is a read: idempotent, re-run without asking


def _questions_left(reached: Sequence[tuple[str, str]]) -> list[list[str]]:
    """What a kill at the last of the points ``reached`` may leave for a person to answer: the
    acceptable lists of unknown-effect answers ("happened", "run again"; none when every call's
    outcome, or no start, was recorded).

    The thread that reached the last point died there; any other thread died before its next
    point, but possibly after a COMMIT it was about to make: LangGraph writes a checkpoint on the
    loop while a sync tool runs in a worker thread. So an effect write whose ``during`` point, or
    a journal write (one statement, committed as it runs) whose ``before`` point, was reached by
    another thread may or may not have committed: both answers are right.
    """
    killed = reached[-1][0] if reached else ""
    journal, effect = "closed", ""  # the non-idempotent call's journal entry; its last effect point
    for site, detail in reached:
        if site.startswith("journal.") and detail == SEARCH_STEP:
            continue
        if site == "journal.start:before":
            journal = "starting"
        elif site == "journal.start:after":
            journal, effect = "open", ""
        elif site == "journal.finish:before":
            journal = "finishing"
        elif site == "journal.finish:after":
            journal = "closed"
        elif site.startswith("effect."):
            effect = site
    if journal == "closed":
        return [[]]
    if journal == "starting":  # no outcome either way; the effect has not begun
        return [[]] if killed == "journal.start:before" else [[], ["run again"]]
    if journal == "finishing":
        return [["happened"]] if killed == "journal.finish:before" else [["happened"], []]
    if effect.endswith(":after"):
        return [["happened"]]
    uncommitted = not effect or effect == killed
    # A support tool commits after its ``during`` point; the file append has none.
    uncommitted = uncommitted or (effect.endswith(":before") and "append" not in effect)
    return [["run again"]] if uncommitted else [["happened"], ["run again"]]


def _resume_to_end(
    data_dir: Path,
    env: dict[str, str],
    run_id: str,
    result: Trial,
    effects: type[Effects] = Effects,
    force: bool = False,
) -> None:
    """Act as a careful person with ``agentlab resume`` at a terminal until the run completes or
    fails: answer what the run waits for with a flag (``--approve``; for a call of unknown effect,
    ``--happened`` or ``--approve`` once the world is checked), then ``y`` to each approval it asks
    at the terminal; a question about an unknown effect is answered ``l`` (later), to go and check.
    """
    while True:
        stored, _ = table_status(data_dir, run_id)  # before 'agentlab show' reconciles it
        view = look(data_dir, run_id)  # what 'agentlab show' shows the person
        result.table_lagged = stored != view.status
        if view.status in ("completed", "failed"):
            result.end = view.status
            return
        if result.resumes == MAX_RESUMES:
            result.end = view.status
            result.unresumable = f"still {result.end} after {MAX_RESUMES} resumes"
            return
        asked = waiting(view)
        flags: list[str] = []
        if asked is not None and asked["kind"] == "unknown_side_effect":
            if effects.read(data_dir).happened(asked, run_id):
                found = {"checked": "by hand", "tool": asked["tool"]}
                flags = ["--happened", "--result", json.dumps(found)]
                result.decisions.append("happened")
            else:
                flags = ["--approve"]
                result.decisions.append("run again")
        elif asked is not None:
            flags = ["--approve"]
            result.decisions.append("approve")

        def approve(screen: str) -> str:
            result.decisions.append("approve")
            return "y"

        if force and not result.resumes:  # its holder still exists (stopped): take it over
            flags.append("--force")
        command = f"agentlab resume {run_id} {' '.join(flags)}".strip()
        terminal = Terminal(env, [*AGENTLAB, "resume", run_id, *flags])
        try:
            code = terminal.answer(
                {"Approve this call?": approve, "Did this call take effect?": lambda s: "l"},
                timeout=PROCESS_TIMEOUT_S,
            )
        except TimeoutError:
            result.unresumable = f"'{command}' never ended"
            return
        finally:
            terminal.close()
        result.resumes += 1
        if code not in (0, 1, 3):
            result.unresumable = f"'{command}' exited {code}: {terminal.screen[-800:]}"
            return


def _stale(data_dir: Path, run_id: str) -> str:
    """How ``agentlab runs`` or the runs table disagree with the run's state after its end, or
    "" if they do not. The state is the run as LangGraph reads it from its checkpoints (the last
    checkpoint and the saved writes of the steps after it), which ``show`` and ``resume`` act on.
    """
    state = look(data_dir, run_id).status
    with SyncRunner(settings_for(data_dir)) as runner:  # what 'agentlab runs' does
        listed = {r.run_id: getattr(r, "status", "unreadable") for r in runner.list()}
    stored, leased = table_status(data_dir, run_id)
    values = checkpoint_values(data_dir, run_id) or {}
    problems = []
    if listed.get(run_id) != state:
        problems.append(f"'agentlab runs' says {listed.get(run_id)}, 'agentlab show' {state}")
    if stored != state:
        problems.append(f"the runs table says {stored}, 'agentlab show' {state}")
    if problems and values.get("status") != state:
        problems.append(f"the last checkpoint's own status is {values.get('status')}")
    if leased:
        problems.append("a lease is left on the ended run")
    return "; ".join(problems)


def _trace(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split("\t") for line in path.read_text().splitlines() if line]
