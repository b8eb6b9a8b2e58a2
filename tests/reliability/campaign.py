"""A crash campaign: the scenario's kill points counted by a dry run, a trial at each chosen
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
from tests.reliability.crash import Trial, crash_script, dry_run, trial

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
            "asked_unknown_effect": sum(t.unknown_effects > 0 for t in trials),
            "answered_happened": sum(t.decisions.count("happened") for t in trials),
            "answered_run_again": sum(t.decisions.count("run again") for t in trials),
            "duplicate_effects": sum(t.duplicates for t in trials),
            "lost_effects": sum(t.lost for t in trials),
            "unresumable": sum(bool(t.unresumable) for t in trials),
            "stale_statuses": sum(bool(t.stale) for t in trials),
            "table_lagged_until_read": sum(t.table_lagged for t in trials),
            "doctor_problems": sum(len(t.doctor) for t in trials),
            "resumes": sum(t.resumes for t in trials),
            "seconds": round(self.seconds, 1),
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
