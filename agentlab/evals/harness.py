"""Running an eval: every case of a set, ``repeat`` trials each, ``concurrency`` at a time.

Each trial runs in a directory of its own under the eval's directory (its data directory, its
scripts, its record), so trials share nothing and the eval's runs stay there to be looked at and
re-scored. An infrastructure error (a provider that stays down past its retries, storage) is
retried with a fresh directory; if it persists the trial is reported as an error, apart from the
pass rate. Scoring happens once every trial has run, in the order of the set, so a scripted
judge answers the same calls the same way whatever the concurrency.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentlab.config import Settings
from agentlab.errors import AgentlabError, ModelOverloadedError, StorageError
from agentlab.evals.cases import Case, TaskSet
from agentlab.evals.checks import CheckResult, score
from agentlab.evals.results import EvalMeta, EvalResults, build_frame, version_of
from agentlab.evals.trial import RECORD, InfraError, TrialPlan, TrialRecord, run_trial
from agentlab.evals.verdicts import JudgeVerdict

if TYPE_CHECKING:
    from agentlab.evals.judge import Judge

OnTrial = Callable[[TrialRecord], None]


INFRA_ERRORS: tuple[type[BaseException], ...] = (InfraError, ModelOverloadedError, StorageError)
"""What a trial is retried on: its provider overloaded or down past retries, its storage."""


@dataclass(frozen=True)
class EvalOptions:
    """How to run a set: the agent, the prompt version, trials per case, trials at once, the
    seed of scripted variants, attempts per trial on infrastructure errors."""

    agent: str
    prompts_dir: Path | None = None
    repeat: int = 1
    concurrency: int = 4
    seed: int = 0
    retries: int = 2
    retry_delay_s: float = 1.0
    cases: tuple[str, ...] = ()
    """Only these cases (all when empty)."""
    tags: tuple[str, ...] = ()
    """Only the cases with one of these tags (all when empty)."""
    skip_tags: tuple[str, ...] = ()
    """Not the cases with one of these tags."""
    escalation: bool = True
    """Whether roles escalate to their stronger models (off: the scripts' ``escalation``
    sections and the configured ``[models] escalation`` are left out), to see what it buys."""

    def selects(self, case: Case) -> bool:
        """Whether the eval runs ``case``."""
        return (
            (not self.cases or case.id in self.cases)
            and (not self.tags or bool(set(self.tags) & set(case.tags)))
            and not set(self.skip_tags) & set(case.tags)
        )

    def __post_init__(self) -> None:
        if self.repeat < 1:
            raise AgentlabError("repeat must be at least 1")
        if self.concurrency < 1:
            raise AgentlabError("concurrency must be at least 1")
        if self.retries < 0:
            raise AgentlabError("retries must be 0 or more")


async def run_eval(
    task_set: TaskSet,
    options: EvalOptions,
    settings: Settings,
    out: Path,
    *,
    judge: Judge | None = None,
    on_trial: OnTrial | None = None,
) -> EvalResults:
    """Run ``task_set`` as ``options`` say, into ``out`` (a new or empty directory), then score
    it; the results are saved there too (``results.parquet``, ``results.csv``, ``eval.json``).
    Without ``options.prompts_dir``, the configured ``prompts_dir`` (if any) is the version."""
    if options.prompts_dir is None and settings.prompts_dir is not None:
        options = replace(options, prompts_dir=settings.prompts_dir)
    cases = [c for c in task_set.cases if options.selects(c)]
    unknown = set(options.cases) - {c.id for c in task_set.cases}
    if unknown:
        raise AgentlabError(
            f"{task_set.name} has no case(s) {', '.join(sorted(unknown))}: see its file"
        )
    if not cases:
        raise AgentlabError(f"no case of {task_set.name} has the tags asked for: see its file")
    meta = EvalMeta(
        set_name=task_set.name,
        set_path=str(task_set.path or ""),
        agent=options.agent,
        version=version_of(options.prompts_dir)
        + ("" if options.escalation else " (no escalation)"),
        prompts_dir=str(options.prompts_dir.resolve()) if options.prompts_dir else None,
        repeat=options.repeat,
        concurrency=options.concurrency,
        seed=options.seed,
        started=time.time(),
    )
    _fresh(out)
    plans = [
        TrialPlan(
            case=case,
            trial=trial,
            seed=options.seed,
            directory=out / "trials" / case.id / str(trial),
            agent=options.agent,
            base=task_set.base,
            prompts_dir=options.prompts_dir,
            set_limits=task_set.limits,
            principal=task_set.principal,
            escalation=options.escalation,
        )
        for case in cases
        for trial in range(options.repeat)
    ]
    gate = asyncio.Semaphore(options.concurrency)

    async def one(plan: TrialPlan) -> TrialRecord:
        async with gate:
            record = await _attempts(plan, options, settings)
        record.save(plan.directory)
        if on_trial is not None:
            on_trial(record)
        return record

    records = await asyncio.gather(*(one(p) for p in plans))
    meta.finished = time.time()
    results = await score_records(task_set, records, meta, judge=judge)
    results.save(out)
    return results


async def score_records(
    task_set: TaskSet, records: list[TrialRecord], meta: EvalMeta, *, judge: Judge | None
) -> EvalResults:
    """Score every record against its case of ``task_set``, in the set's order."""
    order = {c.id: i for i, c in enumerate(task_set.cases)}
    records = sorted(records, key=lambda r: (order.get(r.case, len(order)), r.case, r.trial))
    scored: list[tuple[TrialRecord, list[CheckResult]]] = []
    index = 0  # each judged check's number in the eval: a scripted judge's turn for it
    for record in records:
        if record.case not in order:
            raise AgentlabError(
                f"the results have trials of case {record.case!r}, which {task_set.name} has "
                "no more: score them with the set the eval ran"
            )
        case = task_set.case(record.case)
        scored.append((record, await score(case, record, judge, judge_index=index)))
        index += len(case.checks.judged)
    calls = 0 if judge is None else judge.calls
    verdicts = [] if judge is None else [_verdict_row(*given) for given in judge.given]
    return EvalResults(
        meta, build_frame(task_set, scored, meta), judge_calls=calls, verdicts=verdicts
    )


def _verdict_row(rubric: str, input: str, output: str, verdict: JudgeVerdict) -> dict[str, Any]:
    return {"rubric": rubric, "input": input, "output": output, **asdict(verdict)}


async def _attempts(plan: TrialPlan, options: EvalOptions, settings: Settings) -> TrialRecord:
    last = ""
    for attempt in range(1, options.retries + 2):
        if attempt > 1:
            shutil.rmtree(plan.directory, ignore_errors=True)
            await asyncio.sleep(options.retry_delay_s * 2 ** (attempt - 2))
        try:
            record = await run_trial(plan, settings)
        except INFRA_ERRORS as exc:
            last = f"{type(exc).__name__}: {exc}"
            continue
        record.attempts = attempt
        return record
    record = TrialRecord(
        plan.case.id, plan.trial, plan.seed, str(plan.directory / "data"), error=last
    )
    record.attempts = options.retries + 1
    return record


def _fresh(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        raise AgentlabError(
            f"{out} is not empty: give the eval a new directory, or remove that one"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps({"running": True}), encoding="utf-8")


async def rescore_eval(
    directory: Path, task_set: TaskSet, out: Path, *, judge: Judge | None = None
) -> EvalResults:
    """Score the kept runs of the eval in ``directory`` again, with ``task_set``'s checks as
    they are now: no agent runs; the judge answers from its cache where it judged the same
    output before. The new results are saved in ``out``."""
    original = EvalResults.load(directory)
    kept = directory  # a rescore's own directory keeps no trials: they are its original's
    if not (kept / "trials").is_dir() and original.meta.rescored_from:
        kept = Path(original.meta.rescored_from)
    if judge is not None:  # the verdicts the eval was given, wherever it is rescored
        for row in original.verdicts:
            judge.cache.put(row["rubric"], row["input"], row["output"], _stored(row))
    records = []
    for trial_dir in sorted((kept / "trials").glob("*/*")):
        if (trial_dir / RECORD).is_file():
            record = TrialRecord.load(trial_dir)
            record.data_dir = str(trial_dir / "data")  # wherever the eval's directory is now
            records.append(record)
    if not records:
        raise AgentlabError(f"{directory} keeps no trials to re-score (trials/*/*/{RECORD})")
    meta = replace(original.meta, rescored_from=str(kept.resolve()))
    results = await score_records(task_set, records, meta, judge=judge)
    results.save(out)
    return results


def _stored(row: dict[str, Any]) -> JudgeVerdict:
    return JudgeVerdict(
        passed=bool(row["passed"]),
        score=float(row["score"]),
        reason=str(row["reason"]),
        cached=True,
        model=str(row["model"]),
    )


__all__ = ["EvalOptions", "rescore_eval", "run_eval", "score_records"]
