"""Commands that read runs: ``runs``, ``show``, ``costs``, and ``doctor`` (runs and memory)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from agentlab.cli import common

if TYPE_CHECKING:
    from agentlab.config import Settings


def runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many runs to list.")] = 20,
    feedback: Annotated[
        str | None,
        typer.Option(
            metavar="good|bad", help="Only runs given this verdict ('agentlab feedback')."
        ),
    ] = None,
) -> None:
    """List recent runs, newest first."""
    from agentlab.cli import listing
    from agentlab.safe_text import markup, visible
    from agentlab.store import RunRecord

    common.check_score("--feedback", feedback)
    settings = common.settings(ctx)
    console = common.console()
    with common.runner(settings) as runner:
        listed = runner.list(limit, feedback=feedback)
    if not listed and feedback is not None:
        print(f"no run has feedback {feedback!r}")
        return
    if not listed:
        console.print(f"No runs yet in {markup(settings.runs_database)}. Try: agentlab demo")
        return
    records = [r for r in listed if isinstance(r, RunRecord)]
    if records:
        console.print(listing.runs_table(records))
    for damaged in listed:
        if not isinstance(damaged, RunRecord):
            said = (
                f"error: run {damaged.run_id} in {settings.runs_database} cannot be read "
                f"({damaged.problem}); 'agentlab doctor' checks the database"
            )
            print(visible(said, lines=False), file=sys.stderr)


def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="A run id from 'agentlab runs'.")],
) -> None:
    """Show a run: its summary, transitions, tool calls, who decided what, and any approval it
    waits for."""
    from agentlab.cli import approvers, render
    from agentlab.safe_text import markup

    console = common.console()
    with common.runner(common.settings(ctx)) as runner:
        view = runner.get(run_id)
        entries = runner.ledger(run_id)
        killed = runner.killed(run_id)
    console.print(render.summary_panel(view))
    if killed and view.status not in ("completed", "failed"):
        console.print(
            f"[bold red]{markup(killed)}[/]: it ends failed when it is next advanced or resumed"
        )
    if entries:
        console.print(render.costs_table(entries))
    if view.state.get("plan"):
        console.print(render.plan_table(view.state["plan_round"], view.state["plan"]))
    console.print(render.transitions_table(view))
    if view.state.get("policy_decisions"):
        console.print(render.policy_table(view))
    if view.state.get("approvals"):
        console.print(approvers.approvals_table(view))
    console.print(render.results_table(view))
    if view.requests:
        for request in view.requests:
            console.print(render.approval_panel(request))
        console.print(f"Decide with: {markup(render.decide_hint(run_id, view.requests))}")


def costs(
    ctx: typer.Context,
    by: Annotated[
        str,
        typer.Option(
            "--by",
            metavar="agent|principal|session|day|run",
            help="Group the ledger's model calls by this.",
        ),
    ] = "principal",
    since: Annotated[
        str | None,
        typer.Option(metavar="YYYY-MM-DD", help="Only calls made on or after this UTC day."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Model calls, tokens, cache hit rate and dollars from the cost ledger, grouped.

    A call whose model has no price makes its group's cost unknown (never $0); calls of a
    scripted model priced as a real one (a script's priced_as) are marked simulated."""
    from agentlab.cli import costs as costs_view

    if by not in costs_view.GROUPS:
        raise typer.BadParameter(f"--by takes one of {', '.join(costs_view.GROUPS)}, not {by!r}")
    if since is not None:
        costs_view.check_day(since)
    with common.runner(common.settings(ctx)) as runner:
        totals = runner.cost_totals(by, since)
    if as_json:
        print(json.dumps(costs_view.as_json(by, totals), indent=2))
        return
    if not totals:
        print("no model calls in the cost ledger yet")
        return
    common.console().print(costs_view.table(by, totals))


def doctor(ctx: typer.Context) -> None:
    """Check the runs database: SQLite's integrity check, unreadable runs, calls whose outcome
    was never recorded, and claims on runs left by processes that died; and long-term memory's
    store: each collection's embedder, its count, and whether its index finds a sample of its
    own texts. Exit 1 if any. Also warns about data other users of the machine could read.

    The status of a run whose process died is first set from its checkpoint, as 'runs' does."""
    settings = common.settings(ctx)
    if _doctor_runs(settings) + _doctor_memory(settings):
        raise typer.Exit(1)


def _doctor_runs(settings: Settings) -> int:
    """Check the runs database, print what it finds; how many problems."""
    if settings.database_url is None and not settings.checkpoint_path.exists():
        print(f"no runs database at {settings.checkpoint_path} yet: nothing to check")
        return 0
    with common.runner(settings) as runner:
        where, problems = runner.where, runner.check()
    from agentlab.safe_text import visible
    from agentlab.store.private import readable_by_others

    for loose in readable_by_others(settings.data_dir):  # a warning: runs hold tool outputs
        print(f"warning: {visible(loose)}")
    checked = (
        "runs, journal, leases" if settings.database_url else "integrity, runs, journal, leases"
    )
    if not problems:
        print(f"{where}: ok ({checked})")
        return 0
    for problem in problems:
        print(f"problem: {visible(problem)}")
    print(f"{where}: {len(problems)} problem(s)")
    return len(problems)


def _doctor_memory(settings: Settings) -> int:
    """Check long-term memory's store (in a process of its own), print what it finds; how many
    problems."""
    if not settings.memory.enabled:
        print("memory: off ([memory] enabled = false): nothing to check")
        return 0
    from agentlab.memory.health import check_memory
    from agentlab.safe_text import visible

    health = check_memory(settings.data_dir, settings.memory)
    where = visible(f"memory in {health.where}", lines=False)
    if not health.stored:
        print(f"{where}: nothing stored yet")
        return 0
    problems = health.findings
    for problem in problems:
        print(f"problem: {visible(problem)}")
    if problems:
        print(f"{where}: {len(problems)} problem(s)")
        return len(problems)
    kinds = [
        f"{kind}: {_count(collections, 'collection')}, {_count(texts, 'text')}"
        for kind, (collections, texts) in health.kinds().items()
    ]
    summary = "; ".join(kinds) or "no collections"
    print(visible(f"{where}: ok (embedder {health.embedder}; {summary})", lines=False))
    return 0


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
