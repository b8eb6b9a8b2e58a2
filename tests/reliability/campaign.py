"""Crash campaigns: a scenario's kill points counted by a dry run, a trial at each chosen
point (two at a time), and the figures and table the crash suite prints."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentlab.orchestration.references import load_agent
from tests.reliability.cli import CRASH_AGENT
from tests.reliability.crash import Trial, _trace, crash_script, dry_run, trial
from tests.reliability.faults import (
    BROKEN,
    DRY_TRACE,
    can_mount,
    fault_dry_run,
    fault_script,
    fault_trial,
    stop_points,
    stop_trial,
)

KINDS = ("checkpoint", "journal", "effect", "runs", "event")


def site_of(point: str) -> str:
    """``checkpoint.put:during`` of the point ``checkpoint.put:during#3``."""
    return point.rpartition("#")[0]


def choose(points: Sequence[str], n: int | None, seed: int = 2026) -> list[str]:
    """``n`` of ``points`` (all if ``None``), in run order: one of every site, then a spread."""
    if n is None or n >= len(points):
        return list(points)
    rng = random.Random(seed)
    by_site: dict[str, list[str]] = {}
    for point in points:
        by_site.setdefault(site_of(point), []).append(point)
    chosen = {rng.choice(of_site) for of_site in by_site.values()}
    rest = [p for p in points if p not in chosen]
    stride = max(len(rest) / max(n - len(chosen), 1), 1)
    k = 0.0
    while len(chosen) < n and int(k) < len(rest):
        chosen.add(rest[int(k)])
        k += stride
    return [p for p in points if p in chosen]


def as_json(trials: Sequence[Trial]) -> list[dict[str, Any]]:
    return [{**asdict(t), "kind": t.kind} for t in trials]


@dataclass
class Campaign:
    """A dry run's kill points, and the trials at the chosen ones."""

    base: Path
    script_path: Path
    points: list[str]
    trials: list[Trial] = field(default_factory=list)
    seconds: float = 0.0
    faults: FaultCampaign | None = None  # the fault scenario's trials, when it ran

    @property
    def every_trial(self) -> list[Trial]:
        """The crash scenario's trials and the fault scenario's."""
        return [*self.trials, *(self.faults.trials if self.faults else [])]

    @classmethod
    def prepare(cls, base: Path) -> Campaign:
        """Write the script and dry-run it to count the kill points."""
        script_path = base / "crash-script.json"
        script_path.write_text(crash_script())
        load_agent(CRASH_AGENT)  # once, here: the trials' readers then share the loaded module
        return cls(base, script_path, dry_run(base, script_path))

    def kill(self, points: Sequence[str], workers: int = 2) -> list[Trial]:
        """A trial at each of ``points``, ``workers`` at a time."""
        started = time.monotonic()
        with ThreadPoolExecutor(workers) as pool:
            trials = list(pool.map(lambda p: trial(self.base, self.script_path, p), points))
        self.trials += trials
        self.seconds += time.monotonic() - started
        return trials

    def last(self, site: str) -> str:
        """The last point of ``site`` in a run."""
        return [p for p in self.points if site_of(p) == site][-1]

    def sites(self) -> Counter[str]:
        return Counter(site_of(p) for p in self.points)

    def figures(self) -> dict[str, Any]:
        trials = self.trials
        return {
            "points_in_a_run": len(self.points),
            "points_by_kind": dict(Counter(p.split(".")[0] for p in self.points)),
            "killed": len(trials),
            "killed_by_kind": dict(Counter(t.kind for t in trials)),
            "completed": sum(t.end == "completed" for t in trials),
            "failed": sum(t.end == "failed" for t in trials),
            "awaiting_human": sum(t.end == "awaiting_human" for t in trials),
            "no_run": sum(t.end == "no run" for t in trials),
            **outcomes(trials),
            "stale_statuses": sum(bool(t.stale) for t in trials),
            "table_lagged_until_read": sum(t.table_lagged for t in trials),
            "doctor_problems": sum(len(t.doctor) for t in trials),
            "resumes": sum(t.resumes for t in trials),
            "seconds": round(self.seconds, 1),
            "faults": self.faults.figures() if self.faults else None,
        }


def outcomes(trials: Sequence[Trial]) -> dict[str, int]:
    """What the trials' people were asked, and what their runs' effects and records show."""
    return {
        "asked_unknown_effect": sum(t.unknown_effects > 0 for t in trials),
        "answered_happened": sum(t.decisions.count("happened") for t in trials),
        "answered_run_again": sum(t.decisions.count("run again") for t in trials),
        "duplicate_effects": sum(t.duplicates for t in trials),
        "lost_effects": sum(t.lost for t in trials),
        "unresumable": sum(bool(t.unresumable) for t in trials),
    }


def summary_table(result: Campaign) -> Any:
    """Per site where a process was killed: trials and what followed (a Rich table)."""
    from rich.table import Table

    sites = result.sites()
    table = Table(title="Crash suite: kills by point (site = kind.operation:phase)")
    for column in (
        "site",
        "in a run",
        "killed",
        "completed",
        "no run",
        "asked",
        "happened",
        "run again",
        "dup",
        "lost",
        "unresumable",
        "stale",
    ):
        table.add_column(column, justify="left" if column == "site" else "right")
    by_site: dict[str, list[Trial]] = {}
    for t in result.trials:
        by_site.setdefault(t.site or "not reached", []).append(t)

    def row(name: str, trials: list[Trial], in_run: int) -> list[str]:
        return [
            name,
            str(in_run),
            str(len(trials)),
            str(sum(t.end == "completed" for t in trials)),
            str(sum(t.end == "no run" for t in trials)),
            str(sum(t.unknown_effects > 0 for t in trials)),
            str(sum(t.decisions.count("happened") for t in trials)),
            str(sum(t.decisions.count("run again") for t in trials)),
            str(sum(t.duplicates for t in trials)),
            str(sum(t.lost for t in trials)),
            str(sum(bool(t.unresumable) for t in trials)),
            str(sum(bool(t.stale) for t in trials)),
        ]

    for kind in (*KINDS, "not reached"):
        names = sorted({*by_site, *sites} - {"not reached"}) if kind != "not reached" else []
        for name in (n for n in names if n.startswith(f"{kind}.")):
            table.add_row(*row(name, by_site.get(name, []), sites.get(name, 0)))
        kind_trials = [t for t in result.trials if t.kind == kind]
        in_run = sum(n for s, n in sites.items() if s.startswith(f"{kind}."))
        if kind_trials or in_run:
            table.add_row(*row(f"[bold]{kind} (all)[/]", kind_trials, in_run), end_section=True)
    table.add_row(*row("[bold]total[/]", result.trials, len(result.points)))
    return table


@dataclass
class FaultCampaign:
    """The fault scenario's dry run, and its trials: killed, stopped or its disk filled at chosen
    points (two trials at a time)."""

    base: Path
    script_path: Path
    points: list[str]
    stoppable: list[str]
    trials: list[Trial] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str = ""  # why no disk was filled, if none was

    @classmethod
    def prepare(cls, base: Path) -> FaultCampaign:
        script_path = base / "fault-script.json"
        script_path.write_text(fault_script())
        points = fault_dry_run(base, script_path)
        return cls(base, script_path, points, stop_points(points, _trace(base / DRY_TRACE)))

    def choose(self, kills: int, stops: int, fills: int, malformed: int) -> list[str]:
        """``kills`` kill points, ``stops`` stop points, ``fills`` disk-full points and
        ``malformed`` kill points of runs whose model answers arrive broken, spread over the run
        (the journal's and the effects' points first among the kills); fills become kills where
        no small disk can be mounted (``skipped`` says why)."""
        self.skipped = can_mount()
        if self.skipped:
            kills, fills = kills + fills, 0
        rng = random.Random(2026)
        calls = [p for p in self.points if p.startswith(("journal.", "effect."))]
        rest = [p for p in self.points if p not in calls]
        killed = rng.sample(calls, min(len(calls), kills - kills // 3))
        killed += rng.sample(rest, kills - len(killed))
        stopped = rng.sample(self.stoppable, stops)
        filled = rng.sample([p for p in rest if not p.endswith(":during")], fills)
        broken = rng.sample(calls, malformed)
        return [
            *killed,
            *(f"stop:{p}" for p in stopped),
            *(f"fill:{p}" for p in filled),
            *(
                f"malformed={BROKEN[2 * i % 4]},{BROKEN[(2 * i + 1) % 4]}:{p}"
                for i, p in enumerate(broken)
            ),  # fmt: skip
        ]

    def run(self, chosen: list[str], workers: int = 2) -> list[Trial]:
        started = time.monotonic()
        with ThreadPoolExecutor(workers) as pool:
            trials = list(pool.map(self._one, chosen))
        self.trials += trials
        self.seconds += time.monotonic() - started
        return trials

    def _one(self, point: str) -> Trial:
        if point.startswith("stop:"):
            return stop_trial(self.base, self.script_path, point)
        return fault_trial(self.base, self.script_path, point)

    def figures(self) -> dict[str, Any]:
        trials = self.trials
        return {
            "points_in_a_run": len(self.points),
            "trials": len(trials),
            "by_action": dict(Counter(t.action for t in trials)),
            "broken_answers_sent": dict(Counter(f for t in trials for f in t.provider_faults)),
            "completed": sum(t.end == "completed" for t in trials),
            **outcomes(trials),
            "stale_or_forked": sum(bool(t.stale) for t in trials),
            "doctor_problems": sum(len(t.doctor) for t in trials),
            "seconds": round(self.seconds, 1),
            "disk_not_filled_because": self.skipped or None,
        }
