"""``agentlab eval``: run a task set, re-score its results, compare two evals, promote a run.

``agentlab eval SET`` is ``agentlab eval run SET``: the group runs a set when its first
argument is not one of its commands.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from agentlab.cli import common
from agentlab.cli.eval_report import render, report
from agentlab.safe_text import visible

if TYPE_CHECKING:
    from agentlab.config import Settings
    from agentlab.evals.cases import TaskSet
    from agentlab.evals.judge import Judge
    from agentlab.evals.results import EvalResults

EXIT_FAILED = 1


class _RunByDefault(TyperGroup):
    """``eval SET ...`` runs ``eval run SET ...``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=_RunByDefault,
    help="Evals: run a task set against an agent (agentlab eval SET), re-score, compare, promote.",
    no_args_is_help=True,
)

JudgeScript = Annotated[
    Path | None,
    typer.Option(
        "--judge-script",
        metavar="FILE",
        help="The judge's scripted verdicts (offline); default: the set's judge_script, else "
        "Claude when ANTHROPIC_API_KEY is set.",
    ),
]


@eval_app.command("run")
def run(
    ctx: typer.Context,
    task_set: Annotated[Path, typer.Argument(metavar="SET", help="A task set (YAML or JSONL).")],
    agent: Annotated[
        str | None,
        typer.Option(
            metavar="REF",
            help="The agent (default: the set's agent, else the configured default_agent).",
        ),
    ] = None,
    prompts: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="A prompt version's directory (default: the configured prompts_dir, else the "
            "built-in prompts).",
        ),
    ] = None,
    repeat: Annotated[int, typer.Option(min=1, help="Trials per case.")] = 1,
    concurrency: Annotated[int, typer.Option(min=1, help="Trials run at once.")] = 4,
    seed: Annotated[int, typer.Option(help="Seed of scripts' weighted variants.")] = 0,
    case: Annotated[
        list[str] | None, typer.Option("--case", metavar="ID", help="Only this case (repeat).")
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", metavar="TAG", help="Only cases with this tag (repeat)."),
    ] = None,
    skip_tag: Annotated[
        list[str] | None,
        typer.Option("--skip-tag", metavar="TAG", help="Not the cases with this tag (repeat)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Where runs and results go (default: a new directory under DATA_DIR/evals).",
        ),
    ] = None,
    retries: Annotated[
        int, typer.Option(min=0, help="Attempts more per trial on an infrastructure error.")
    ] = 2,
    judge_script: JudgeScript = None,
    escalation: Annotated[
        bool,
        typer.Option(
            "--escalation/--no-escalation",
            help="Let roles escalate to their stronger models (scripts' escalation sections, "
            "[models] escalation); off, to see what escalating buys.",
        ),
    ] = True,
    phoenix: Annotated[
        bool,
        typer.Option(
            "--phoenix",
            help="Log the eval to Phoenix as a dataset and an "
            "experiment (the configured endpoint's Phoenix).",
        ),
    ] = False,
) -> None:
    """Run every case of SET (each trial in a data directory of its own), score it, and save
    the results (Parquet and CSV). Exits 1 if a trial failed or could not run."""
    from agentlab.evals import EvalOptions, load_task_set, run_eval
    from agentlab.evals.results import version_of

    settings = common.settings(ctx)
    loaded = load_task_set(task_set)
    reference = agent or loaded.agent or settings.default_agent
    prompts = prompts or settings.prompts_dir
    if prompts is not None and not prompts.is_dir():
        raise typer.BadParameter(f"{prompts} is not a directory", param_hint="--prompts")
    options = EvalOptions(
        agent=_normalized(reference),
        prompts_dir=prompts,
        repeat=repeat,
        concurrency=concurrency,
        seed=seed,
        retries=retries,
        cases=tuple(case or ()),
        tags=tuple(tag or ()),
        skip_tags=tuple(skip_tag or ()),
        escalation=escalation,
    )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    named = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{loaded.name}-{version_of(prompts)}-{stamp}")
    where = out or settings.data_dir / "evals" / named
    judge = _judge(settings, loaded, judge_script)
    if phoenix:  # said now, not after the eval ran: a Phoenix that cannot take it
        from agentlab.evals.phoenix import check_phoenix

        check_phoenix(settings)
    total = sum(map(options.selects, loaded.cases)) * repeat
    console = common.console()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"eval {visible(loaded.name)}", total=total)
        results = asyncio.run(
            run_eval(
                loaded, options, settings, where, judge=judge, on_trial=lambda _: bar.advance(task)
            )
        )
    if phoenix:
        from agentlab.evals.phoenix import log_to_phoenix

        # Whole, as it is: a URL cut at the terminal's width could not be followed.
        console.print(
            visible(log_to_phoenix(results, settings, where)), soft_wrap=True, markup=False
        )
    report(results, where)
    if _failed(results):
        raise typer.Exit(EXIT_FAILED)


@eval_app.command("rescore")
def rescore(
    ctx: typer.Context,
    results: Annotated[Path, typer.Argument(metavar="RESULTS", help="An eval's directory.")],
    task_set: Annotated[
        Path | None,
        typer.Option(
            "--set",
            metavar="SET",
            help="The set with the checks to score by (default: the one the eval ran).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR", help="Where the new results go (default: RESULTS/rescored-TIME)."
        ),
    ] = None,
    judge_script: JudgeScript = None,
) -> None:
    """Score an eval's kept runs again, with the set's checks as they are now: no agent runs
    and no model is called (judged checks answer from the judge's cache; a new judged check
    asks the judge). Exits 1 if a trial fails."""
    from agentlab.evals import load_task_set, rescore_eval

    settings = common.settings(ctx)
    original = _load(results)
    loaded = load_task_set(task_set or Path(original.meta.set_path))
    judge = _judge(settings, loaded, judge_script)
    where = out or results / f"rescored-{time.strftime('%Y%m%d-%H%M%S')}"
    new = asyncio.run(rescore_eval(results, loaded, where, judge=judge))
    report(new, where)
    common.console().print(f"model calls: {new.judge_calls} (the judge's; no agent ran)")
    if _failed(new):
        raise typer.Exit(EXIT_FAILED)


@eval_app.command("compare")
def compare(
    baseline: Annotated[Path, typer.Argument(metavar="A", help="The baseline eval.")],
    candidate: Annotated[Path, typer.Argument(metavar="B", help="The candidate eval.")],
    alpha: Annotated[float, typer.Option(min=0.0001, max=0.5, help="Significance level.")] = 0.05,
    effect: Annotated[
        float,
        typer.Option(
            min=0.01,
            max=1.0,
            help="The drop in pass rate worth detecting (warns when n is too small).",
        ),
    ] = 0.2,
    method: Annotated[
        str,
        typer.Option(
            help="auto (McNemar for one trial per case, else a bootstrap over "
            "cases), mcnemar or bootstrap."
        ),
    ] = "auto",
    max_cost_ratio: Annotated[
        float, typer.Option(min=1.0, help="Candidate cost over baseline that fails the gate.")
    ] = 1.25,
    max_latency_ratio: Annotated[
        float,
        typer.Option(min=1.0, help="Candidate p95 latency over baseline that fails the gate."),
    ] = 2.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compare two evals of the same set case by case and trial by trial: per-case and
    overall pass-rate deltas (paired test), cost and p95 latency. Exits 1 only when a
    regression is supported at ALPHA, or cost / latency regress past their ratios."""
    from agentlab.evals.compare import compare_results

    if method not in ("auto", "mcnemar", "bootstrap"):
        raise typer.BadParameter("give auto, mcnemar or bootstrap", param_hint="--method")
    report = compare_results(
        _load(baseline),
        _load(candidate),
        alpha=alpha,
        effect=effect,
        method=method,
        max_cost_ratio=max_cost_ratio,
        max_latency_ratio=max_latency_ratio,
    )
    if json_out:
        import json

        print(json.dumps(report.as_dict(), indent=1, default=str))
    else:
        render(report, common.console())
    if report.regressed:
        raise typer.Exit(EXIT_FAILED)


@eval_app.command("promote")
def promote(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run to make a case of.")],
    to: Annotated[
        Path,
        typer.Option("--to", metavar="SET", help="The set file to add it to (created if missing)."),
    ],
    case_id: Annotated[
        str | None, typer.Option("--id", help="The case's id (default: from the run).")
    ] = None,
) -> None:
    """Turn a run (one a user hit a failure in) into a case of SET: its message, principal,
    decisions, a script of what its models answered, and the checks its outcome implies, for a
    person to edit."""
    from agentlab.evals.promote import promote_run

    settings = common.settings(ctx)
    with common.runner(settings) as runner:
        added = promote_run(runner, run_id, to, case_id=case_id, settings=settings)
    common.console().print(
        f"case {visible(added)} added to {visible(str(to))}: read its checks and edit them"
    )


def _normalized(reference: str) -> str:
    from agentlab.orchestration import normalize_reference

    return normalize_reference(reference)


def _judge(settings: Settings, task_set: TaskSet, script: Path | None) -> Judge | None:
    """The judge of a set with judged checks: ``script``, else the set's judge script, else
    Claude if a key is set (else none: only verdicts cached before can be given)."""
    if not any(case.checks.judged for case in task_set.cases):
        return None
    from agentlab.evals.judge import Judge, VerdictCache, judge_model

    if script is None and task_set.judge_script:
        script = task_set.base / task_set.judge_script
    model = judge_model(settings, script)
    # A cache per judge model: a scripted judge's verdicts are never served as Claude's.
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", model.name if model is not None else "none")
    cache = VerdictCache(settings.data_dir / "evals" / f"verdicts-{name}.sqlite")
    return Judge(model, cache)


def _load(path: Path) -> EvalResults:
    from agentlab.evals.results import EvalResults

    return EvalResults.load(path)


def _failed(results: EvalResults) -> bool:
    frame = results.frame
    return bool(len(frame)) and (
        bool(frame["error"].notna().any()) or not bool(frame["passed"].fillna(False).all())
    )
