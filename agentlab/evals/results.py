"""An eval's results: one row per case and trial, saved as Parquet and CSV, with its summary.

A row says whether the trial passed and, per check, why; what it cost (dollars, tokens, model
calls), how long it took, its iterations, approvals and escalations; its runs and traces. A trial
stopped by an infrastructure error has ``error`` set and ``passed`` empty: it counts in no rate.
The summary gives the pass rate, pass@k and pass^k over the repeats (``stats.py``).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentlab.evals.cases import EvalSetError, TaskSet
from agentlab.evals.checks import CheckResult, passed, totals_of
from agentlab.evals.stats import p95, pass_at_k, pass_hat_k
from agentlab.evals.trial import TrialRecord

if TYPE_CHECKING:
    import pandas as pd

RESULTS = "results.parquet"
META = "eval.json"
VERDICTS = "verdicts.json"


@dataclass
class EvalMeta:
    """What was run: the set, the agent, the prompt version, repeats, concurrency, seed."""

    set_name: str
    set_path: str
    agent: str
    version: str
    prompts_dir: str | None
    repeat: int
    concurrency: int
    seed: int
    started: float = field(default_factory=time.time)
    finished: float = 0.0
    rescored_from: str | None = None


def version_of(prompts_dir: Path | None) -> str:
    """A prompt version's name (its ``VERSION`` file's, else its directory's); ``builtin``
    without one. Raises ``ConfigError`` for a directory that is not a prompt version."""
    from agentlab.orchestration.prompt_book import BUILTIN, load_prompts

    return BUILTIN if prompts_dir is None else load_prompts(prompts_dir).version


def build_frame(
    task_set: TaskSet, scored: list[tuple[TrialRecord, list[CheckResult]]], meta: EvalMeta
) -> pd.DataFrame:
    """The results' rows, in the set's order."""
    import pandas as pd

    rows = []
    for record, checks in scored:
        case = task_set.case(record.case)
        totals = totals_of(record)
        last = record.last
        failed = [c for c in checks if not c.passed]
        rows.append(
            {
                "set": meta.set_name,
                "version": meta.version,
                "case": record.case,
                "trial": record.trial,
                "passed": None if record.error is not None else passed(checks),
                "error": record.error,
                "checks": len(checks),
                "failed_checks": ", ".join(c.name for c in failed),
                "reasons": "; ".join(f"{c.name}: {c.reason}" for c in failed),
                "check_results": json.dumps([asdict(c) for c in checks]),
                "status": last.status if last else None,
                "reply": last.reply if last else None,
                "cost_usd": totals["cost_usd"],
                "tokens": int(totals["tokens"]),
                "model_calls": int(totals["model_calls"]),
                "latency_s": totals["latency_s"],
                "iterations": int(totals["iterations"]),
                "approvals": int(totals["approvals"]),
                "escalations": int(totals["escalations"]),
                "model": last.model_source if last else None,
                "run_ids": ",".join(t.run_id for t in record.turns),
                "trace_ids": ",".join(t.trace_id or "" for t in record.turns),
                "attempts": record.attempts,
                "tags": ",".join(case.tags),
                "seed": record.seed,
            }
        )
    frame = pd.DataFrame(rows)
    if not rows:
        return frame
    frame["passed"] = frame["passed"].astype("boolean")
    return frame


@dataclass
class EvalResults:
    """An eval's rows and what was run; ``judge_calls``: model calls the judge made."""

    meta: EvalMeta
    frame: pd.DataFrame
    judge_calls: int = 0
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    """The judge's verdicts the scoring used (rubric, input, output, verdict): kept beside the
    results (``verdicts.json``), so a rescore elsewhere grades as this one did."""

    @property
    def scored(self) -> pd.DataFrame:
        """The rows of trials that ran to their end (infrastructure errors left out)."""
        return self.frame[self.frame["error"].isna()]

    @property
    def pass_rate(self) -> float:
        scored = self.scored
        return float(scored["passed"].mean()) if len(scored) else float("nan")

    def per_case(self) -> pd.DataFrame:
        """Per case: trials, passes, errors, pass@k and pass^k for k = 1 .. repeats."""
        import pandas as pd

        rows = []
        for case, group in self.frame.groupby("case", sort=False):
            ok = group[group["error"].isna()]
            n, c = len(ok), int(ok["passed"].sum())
            row: dict[str, Any] = {"case": case, "trials": n, "passed": c, "errors": len(group) - n}
            for k in range(1, max(self.meta.repeat, 1) + 1):
                row[f"pass@{k}"] = pass_at_k(n, c, k) if 0 < k <= n else float("nan")
                row[f"pass^{k}"] = pass_hat_k(n, c, k) if 0 < k <= n else float("nan")
            rows.append(row)
        return pd.DataFrame(rows)

    def summary(self) -> dict[str, Any]:
        """The eval in numbers: trials, errors, pass rate, pass@k / pass^k (mean over cases),
        cost, tokens, latency p50/p95, approvals, escalations."""
        scored = self.scored
        per_case = self.per_case()
        out: dict[str, Any] = {
            "set": self.meta.set_name,
            "version": self.meta.version,
            "cases": int(self.frame["case"].nunique()) if len(self.frame) else 0,
            "trials": len(self.frame),
            "errors": len(self.frame) - len(scored),
            "pass_rate": self.pass_rate,
        }
        for k in range(1, self.meta.repeat + 1):
            out[f"pass@{k}"] = float(per_case[f"pass@{k}"].mean()) if len(per_case) else 0.0
            out[f"pass^{k}"] = float(per_case[f"pass^{k}"].mean()) if len(per_case) else 0.0
        out["cost_usd"] = float(scored["cost_usd"].sum()) if len(scored) else 0.0
        out["tokens"] = int(scored["tokens"].sum()) if len(scored) else 0
        latencies = list(scored["latency_s"]) if len(scored) else []
        out["latency_p50_s"] = float(sorted(latencies)[len(latencies) // 2]) if latencies else 0.0
        out["latency_p95_s"] = p95(latencies) if latencies else 0.0
        out["escalations"] = int(scored["escalations"].sum()) if len(scored) else 0
        out["judge_calls"] = self.judge_calls
        return out

    def save(self, directory: Path, name: str = "results") -> Path:
        """Write ``NAME.parquet``, ``NAME.csv`` and ``eval.json`` into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        self.frame.to_parquet(directory / f"{name}.parquet", index=False)
        self.frame.to_csv(directory / f"{name}.csv", index=False)
        meta = {**asdict(self.meta), "summary": _plain(self.summary())}
        (directory / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        (directory / VERDICTS).write_text(json.dumps(self.verdicts, indent=1), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, path: Path) -> EvalResults:
        """An eval's results from its directory (or its ``.parquet`` file)."""
        import pandas as pd

        directory = path.parent if path.suffix == ".parquet" else path
        table = path if path.suffix == ".parquet" else path / RESULTS
        try:
            meta_data = json.loads((directory / META).read_text(encoding="utf-8"))
            frame = pd.read_parquet(table)
        except FileNotFoundError as exc:
            raise EvalSetError(
                f"{path} holds no eval results ({Path(exc.filename or '').name} is missing): "
                "give the directory `agentlab eval` wrote"
            ) from None
        except (OSError, ValueError) as exc:
            raise EvalSetError(f"cannot read the eval results in {path}: {exc}") from None
        verdicts_file = directory / VERDICTS
        verdicts = (
            json.loads(verdicts_file.read_text(encoding="utf-8")) if verdicts_file.is_file() else []
        )
        meta_data.pop("summary", None)
        meta_data.pop("running", None)
        try:
            meta = EvalMeta(**meta_data)
        except TypeError:
            raise EvalSetError(f"{directory / META} is not an eval's metadata") from None
        return cls(meta, frame, verdicts=verdicts)


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in values.items()}


__all__ = ["META", "RESULTS", "EvalMeta", "EvalResults", "build_frame", "version_of"]
