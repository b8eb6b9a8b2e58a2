"""The race scenario: two processes decide on one paused run at the same moment.

A support run pauses for approval of ``delete_customer`` (variant ``delete``), or first of a
notification and then of the deletion (variant ``notify-then-delete``). Two contenders then run
``agentlab resume`` at once, each under the crash harness with no kill point, which only traces
when it holds the run's lease and what it writes. A contender with a flag is a plain subprocess;
the terminal contender runs at a pseudo-terminal, is shown the approval panel and prompted, and
answers ``y`` after a short delay. Each contender's note (``--note``; none at the terminal) tells
the run's approval records apart by who decided.
"""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentlab.models import ModelSpec
from agentlab.orchestration import SyncRunner
from agentlab.store import open_sqlite_store
from agentlab.tools.journal import JournalEntry
from tests.reliability.cli import (
    HARNESS,
    REPOSITORY,
    Terminal,
    cli_env,
    look,
    settings_for,
    table_status,
)
from tests.reliability.crash import CUSTOMER, Effects, prepare
from tests.scripts import plan, script, step, verdict

SUPPORT = "agentlab.domains.support:agent"
TASK = "Close Ada Lovelace's account"
NOTICE = "Your account closes today."
VARIANTS = ("delete", "notify-then-delete")
TIMEOUT_S = 90
TERMINAL_NOTE = ""  # a 'y' at the prompt records no note

_PANEL = re.compile(r"request: (\S+) \(call ([0-9a-f]+)\)")
_HOLDER = re.compile(r"being advanced by process (\S+):(\d+)")


def race_script(variant: str) -> str:
    steps = [step("search_customers", email="ada.lovelace@example.com", limit=1)]
    if variant == "notify-then-delete":
        steps.append(step("send_notification", user_id=CUSTOMER, message=NOTICE))
    steps.append(step("delete_customer", destructive=True, customer_id=CUSTOMER))
    return script(planner=[plan(*steps)], validator=[verdict(True, "closed")])


def paused_run(data_dir: Path, variant: str) -> str:
    """A support run of ``variant`` paused at its first approval (started in this process)."""
    prepare(data_dir)
    path = data_dir / f"{variant}.json"
    path.write_text(race_script(variant))
    with SyncRunner(settings_for(data_dir)) as runner:
        run_id, events = runner.start(
            SUPPORT, TASK, models=ModelSpec(kind="scripted", script=str(path))
        )
        for _ in events:
            pass
    return run_id


@dataclass(frozen=True)
class Contender:
    """Who resumes: ``flags`` for ``agentlab resume RUN``, or at a terminal (``flags`` empty)."""

    name: str
    flags: tuple[str, ...] = ()
    note: str = TERMINAL_NOTE

    @property
    def at_terminal(self) -> bool:
        return not self.flags

    def args(self, run_id: str) -> list[str]:
        note = ["--note", self.note] if self.flags else []
        return ["resume", run_id, *self.flags, *note]


def approver(name: str) -> Contender:
    return Contender(name, ("--approve",), note=f"by {name}")


def stopper(name: str) -> Contender:
    return Contender(name, ("--reject", "--stop"), note=f"by {name}")


TERMINAL = Contender("terminal")


@dataclass
class Side:
    """What one contender did: its output, exit code, process id and trace."""

    contender: Contender
    pid: int = 0
    code: int | None = None
    output: str = ""
    trace: list[tuple[str, float]] = field(default_factory=list)  # (site, monotonic time)

    @property
    def shown(self) -> set[tuple[str, str]]:
        """The requests (id, call hash) whose approval panel this contender printed."""
        return set(_PANEL.findall(self.output))

    @property
    def advanced(self) -> bool:
        return any(site == "advance:begin" for site, _ in self.trace)

    @property
    def refusal(self) -> str:
        """Why it was turned away (its ``error:`` line), if it was: ``busy`` (another process
        holds the run), ``moved on`` (the run waits for another call than it was shown) or
        ``not waiting`` (the run waits for nothing: it ended or went on)."""
        errors = " ".join(line for line in self.output.splitlines() if line.startswith("error: "))
        if "is being advanced by process" in errors:
            return "busy"
        if "is now waiting for" in errors:  # "the decision answers X but the run ...", or
            return "moved on"  # "was waiting for no decision when it was read, but ..."
        if "is waiting for a decision on" in errors:  # read while the other advanced it (so
            return "moved on"  # nothing was shown), continued: it waits on a call not shown
        if "is not waiting for a decision" in errors or "has ended" in errors:
            return "not waiting"
        return ""

    @property
    def result(self) -> str:
        """advanced, refused (busy / moved on / not waiting), or both."""
        parts = ["advanced"] if self.advanced else []
        if self.refusal:
            parts.append(f"refused: {self.refusal}")
        return ", then ".join(parts) or f"exit {self.code}"

    def holding(self) -> list[tuple[float, float]]:
        """When it surely held the run's lease: from each acquisition's commit to the release
        after it (one statement, committed as it runs)."""
        spans, since = [], None
        for site, at in self.trace:
            if site == "runs.acquire_lease:after":
                since = at
            elif site == "runs.release_lease:before" and since is not None:
                spans.append((since, at))
                since = None
        if since is not None:
            spans.append((since, float("inf")))
        return spans

    def writes(self) -> list[tuple[str, float]]:
        """Its writes that advance a run, when they were about to commit: checkpoints and tool
        effects (their ``during`` points), the journal's (one statement each: by its ``after``)."""
        return [
            (s, t)
            for s, t in self.trace
            if (s.startswith(("checkpoint.", "effect.")) and s.endswith(":during"))
            or (s.startswith("journal.") and s.endswith(":after"))
        ]


@dataclass
class Race:
    """One trial: the two sides, and what the run and the world show afterwards."""

    variant: str
    run_id: str
    sides: list[Side]
    state: dict[str, Any]
    table: str
    leased: bool
    journal: list[Any]
    effects: Effects

    def by_note(self, note: str) -> Side | None:
        return next((s for s in self.sides if s.contender.note == note), None)

    def problems(self) -> list[str]:
        """Every way this trial broke the rules of 'runs you can trust' (none, when it holds)."""
        out = []
        a, b = self.sides
        for start, end in a.holding():
            for b_start, b_end in b.holding():
                if start < b_end and b_start < end:
                    out.append(f"{a.contender.name} and {b.contender.name} held the run at once")
        for mine, other in ((a, b), (b, a)):
            for site, at in mine.writes():
                if not any(s <= at <= e for s, e in mine.holding()):
                    out.append(f"{mine.contender.name} wrote {site} without holding the run")
            holder = _HOLDER.search(mine.output)
            if holder and int(holder.group(2)) != other.pid:
                out.append(f"{mine.contender.name} was told process {holder.group(2)} holds it")
            if not (mine.advanced or mine.refusal) or mine.code not in (0, 2, 3):
                out.append(f"{mine.contender.name} neither advanced nor was refused: {mine.output}")
        if not (a.advanced or b.advanced):
            out.append("neither side advanced the run")
        out += self._decisions_match_what_was_shown()
        out += self._record_matches_what_ran()
        return out

    def _decisions_match_what_was_shown(self) -> list[str]:
        out = []
        for record in self.state.get("approvals", []):
            side = self.by_note(record["note"])
            request = (f"{record['step_id']}/approval", record.get("call_hash", ""))
            if side is None:
                out.append(f"a decision by nobody here: {record}")
            elif request not in side.shown:
                out.append(f"{side.contender.name} decided on {request}, never shown to it")
        return out

    def _record_matches_what_ran(self) -> list[str]:
        out = []
        deleted = self.effects.deletions
        if deleted > 1 or sum(self.effects.notifications.values()) > 1:
            out.append(f"an effect happened twice: {self.effects}")
        ran = [e for e in self.journal if e.tool == "delete_customer"]
        approved = [
            a
            for a in self.state.get("approvals", [])
            if a["approved"] and a["tool"] == "delete_customer"
        ]
        if deleted and not any(
            a["call_hash"] == e.call_hash and a["step_id"] == e.call_id
            for a in approved
            for e in ran
        ):
            out.append("the customer was deleted without an approval of exactly that call")
        status = self.state["status"]
        if status == "completed" and not deleted:
            out.append("the run completed but the customer was not deleted")
        if status == "failed" and deleted:
            out.append("the run was stopped but the customer was deleted")
        targets = [t["target"] for t in self.state.get("transitions", [])]
        if "failed" in targets and "completed" in targets[targets.index("failed") :]:
            out.append(f"a failed run went on to complete: {targets}")
        if self.table != status:
            out.append(f"the runs table says {self.table}, the run's state {status}")
        if self.leased:
            out.append("a lease is left on the run")
        return out


def race(
    data_dir: Path, variant: str, first: Contender, second: Contender, rng: random.Random
) -> Race:
    """Pause a run of ``variant``, let both contenders resume it at once, gather the outcome."""
    run_id = paused_run(data_dir, variant)
    env = cli_env(data_dir)
    sides = [Side(first), Side(second)]
    traces = {c.name: data_dir / f"{c.name}.trace" for c in (first, second)}
    handles: dict[str, Any] = {}
    # Who starts first, and how much later the other does, vary: each gets to win, to be turned
    # away (while the other holds the run, or after it moved it on) and, at the terminal, to be
    # overtaken while its prompt waits for an answer.
    later = rng.uniform(0, 0.1) if rng.random() < 0.5 else rng.uniform(0, 1.2)
    for n, side in enumerate(rng.sample(sides, 2)):
        if n:
            time.sleep(later)
        trace = traces[side.contender.name]
        command = [*HARNESS, "--trace", str(trace), "--", *side.contender.args(run_id)]
        if side.contender.at_terminal:
            handle: Any = Terminal(env, command)
            side.pid = handle.proc.pid
        else:
            handle = subprocess.Popen(
                command,
                env=env,
                cwd=REPOSITORY,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
            )
            side.pid = handle.pid
        handles[side.contender.name] = handle
    for side in sorted(sides, key=lambda s: not s.contender.at_terminal):  # prompts first
        handle = handles[side.contender.name]
        if side.contender.at_terminal:
            try:
                side.code = handle.answer(
                    {"Approve this call?": lambda _, r=rng: _after(r.uniform(0.05, 0.8), "y")},
                    timeout=TIMEOUT_S,
                )
            finally:
                handle.close()
            side.output = handle.screen
        else:
            side.output, _ = handle.communicate(timeout=TIMEOUT_S)
            side.code = handle.returncode
    for side in sides:
        side.trace = _read(traces[side.contender.name])
    table, leased = table_status(data_dir, run_id)  # as stored, before 'show' may reconcile it
    state = look(data_dir, run_id).state
    journal = asyncio.run(_journal(data_dir, run_id))
    return Race(variant, run_id, sides, state, table, leased, journal, Effects.read(data_dir))


async def _journal(data_dir: Path, run_id: str) -> list[JournalEntry]:
    store = open_sqlite_store(settings_for(data_dir).checkpoint_path)
    try:
        return await store.journal(run_id)
    finally:
        await store.close()


def _after(seconds: float, answer: str) -> str:
    time.sleep(seconds)
    return answer


def _read(trace: Path) -> list[tuple[str, float]]:
    if not trace.exists():
        return []
    rows = [line.split("\t") for line in trace.read_text().splitlines() if line]
    return [(site, float(at)) for _, site, _, _, at in rows]


def tally(races: Sequence[Race]) -> dict[str, Counter[str]]:
    """Per scenario: each side's result, the run's end, and whether the customer was deleted."""
    counts: dict[str, Counter[str]] = {}
    for r in races:
        c = counts.setdefault(r.variant, Counter())
        for side in r.sides:
            c[f"{side.contender.name}: {side.result}"] += 1
        c[f"run ended {r.state['status']}"] += 1
        c["customer deleted" if r.effects.deletions else "customer kept"] += 1
    return counts
