"""Commands that act on a run: ``resume`` (decide, or continue), ``kill`` and ``feedback``."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from agentlab.cli import common, drive
from agentlab.safe_text import markup, visible


def resume(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help=common.RUN_HELP)],
    approve: Annotated[
        bool,
        typer.Option(
            "--approve",
            help="Approve the waiting call (for a call of unknown effect: run it again).",
        ),
    ] = False,
    reject: Annotated[
        bool, typer.Option("--reject", help="Reject it: the run re-plans without it.")
    ] = False,
    stop: Annotated[
        bool, typer.Option("--stop", help="With --reject: end the run instead of re-planning.")
    ] = False,
    happened: Annotated[
        bool,
        typer.Option(
            "--happened", help="For a call of unknown effect: it took effect; record it as done."
        ),
    ] = False,
    result: Annotated[
        str | None,
        typer.Option(metavar="JSON", help="With --happened: the call's output, as JSON."),
    ] = None,
    step: Annotated[
        str | None,
        typer.Option(
            metavar="STEP",
            help="Decide only if the run waits on this step (e.g. 1.2); refuse otherwise.",
        ),
    ] = None,
    edited: Annotated[
        str | None,
        typer.Option(
            "--args",
            metavar="JSON",
            help="With --approve: run the call with these arguments instead (a JSON object).",
        ),
    ] = None,
    every: Annotated[
        bool,
        typer.Option(
            "--all",
            help="With --approve or --happened: answer every waiting call of unknown effect at "
            "once (otherwise each is answered with its --step).",
        ),
    ] = False,
    note: Annotated[str, typer.Option(help="Why (recorded with the decision).")] = "",
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Take the run over from a process of this machine that still exists past its "
            "lease (stopped or hung); it may still be running a tool call.",
        ),
    ] = False,
) -> None:
    """Continue a saved run: decide what it waits for, or carry on after a crash.

    The decision applies to the request the run waits for now, shown before it is applied; if
    another process moved the run on meanwhile, it is refused. At a terminal, a waiting run given
    no decision asks you, and so do its later pauses; otherwise it stops at its next pause again.
    """
    from agentlab.cli import render
    from agentlab.orchestration import Answer

    if stop and not reject:
        raise typer.BadParameter("--stop goes with --reject")
    if result is not None and not happened:
        raise typer.BadParameter("--result goes with --happened")
    if sum((approve, reject, happened)) > 1:
        raise typer.BadParameter("choose one of --approve, --reject and --happened")
    if edited is not None and not approve:
        raise typer.BadParameter("--args goes with --approve")
    if every and not (approve or happened):
        raise typer.BadParameter("--all goes with --approve or --happened")
    if every and step is not None:
        raise typer.BadParameter("choose one of --all and --step")
    output = common.json_option("--result", result) if result is not None else None
    arguments = common.json_option("--args", edited) if edited is not None else None
    if arguments is not None and not isinstance(arguments, dict):
        raise typer.BadParameter('--args must be a JSON object: {"name": value, ...}')
    answer = (
        Answer.APPROVE
        if approve
        else Answer.HAPPENED
        if happened
        else (Answer.STOP if stop else Answer.REJECT)
        if reject
        else None
    )
    console = common.console()
    interactive = sys.stdin.isatty()
    with common.runner(common.settings(ctx)) as runner:
        view = runner.get(run_id)
        shown = view.requests
        held = view.record.lease
        if force and held is not None and held.live() and held.expired():
            warning = (
                f"warning: taking run {run_id} over from process {held.holder}, which still "
                "exists (stopped or hung): it may still be running a tool call; tools that check "
                "neither the idempotency key nor the fencing token may act twice. It writes "
                "nothing more to the run."
            )
            print(visible(warning, lines=False), file=sys.stderr)
        if answer is not None:
            for request in shown:  # what the person decides on, before it is applied
                if step is None or request.step_id == step:
                    console.print(render.approval_panel(request))
            if arguments is not None:
                console.print(f"approving it with the arguments {markup(json.dumps(arguments))}")
            events = runner.decide(
                run_id,
                answer,
                shown=shown,
                step=step,
                note=note,
                arguments=arguments,
                result=output,
                every=every,
                force=force,
                via="flag",
            )
        elif shown and interactive:
            for request in shown:
                console.print(render.approval_panel(request))
            decisions = drive.ask(console, run_id, shown)
            if decisions is None:
                console.print(f"Run [bold]{markup(run_id)}[/] is still waiting for a decision.")
                return
            events = runner.resume(run_id, decisions, force=force)
        else:
            events = runner.resume(run_id, force=force)
        mode = "ask" if interactive else "leave"
        code = drive.drive(console, runner, run_id, events, decide=mode)
    raise typer.Exit(code)


def kill(
    ctx: typer.Context,
    run_id: Annotated[
        str | None, typer.Argument(metavar="RUN", help="A run id from 'agentlab runs'.")
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Every run of --principal that has not ended.")
    ] = False,
    principal: Annotated[
        str | None, typer.Option("--principal", help="With --all: whose runs.")
    ] = None,
) -> None:
    """Stop a run from any process: the process advancing it ends it at its next step (status
    failed, reason killed); a run waiting for a human ends so at once."""
    if everything == (run_id is not None):
        raise typer.BadParameter("give a RUN, or --all --principal P")
    if everything and principal is None:
        raise typer.BadParameter("--all goes with --principal P")
    if principal is not None and not everything:
        raise typer.BadParameter("--principal goes with --all")
    with common.runner(common.settings(ctx)) as runner:
        if run_id is not None:
            killed = [runner.kill(run_id)]
        else:
            assert principal is not None
            killed = runner.kill_all(principal)
    if not killed:
        print(visible(f"no run of {principal} is running or waiting: nothing to kill"))
    for record in killed:
        if record.status == "failed":  # it waited for a human: ended at once
            print(visible(f"killed run {record.run_id}: it ended failed (killed)"))
            continue
        when = (
            "when it is next resumed" if record.status == "awaiting_human" else "at its next step"
        )
        said = f"killed run {record.run_id} ({record.status}): it ends failed (killed) {when}"
        print(visible(said))


def feedback(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="A run id from 'agentlab runs'.")],
    score: Annotated[str, typer.Option("--score", metavar="good|bad", help="Your verdict.")],
    comment: Annotated[str, typer.Option(metavar="TEXT", help="Why: kept with the verdict.")] = "",
    by: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Who gives it (default: your OS user; another only where the configuration's "
            "[access] act_as grants it).",
        ),
    ] = None,
) -> None:
    """Give a run your verdict: kept with the run ('agentlab runs --feedback bad' lists those so
    judged) and attached to its trace in Phoenix, as a 'user feedback' annotation of the run's
    root span. Giving it again replaces it."""
    from agentlab.observability.feedback import phoenix_url_for

    common.check_score("--score", score)
    settings = common.settings(ctx)
    with common.runner(settings, by) as runner:
        given = runner.feedback(
            run_id,
            score,
            comment=comment,
            by=by,
            phoenix_url=phoenix_url_for(settings.otlp_endpoint),
        )
    said = f"{given.feedback.score}" + (f" ({given.feedback.comment})" if comment else "")
    print(visible(f"run {run_id}: feedback {said} from {given.feedback.by}, kept with the run"))
    if given.attached:
        where = f"({given.phoenix_url}, span {given.span_id})"
        print(visible(f"attached to its trace in Phoenix {where}"))
    elif given.outcome == "untraced":
        print(visible(f"not in Phoenix: {given.reason}"))
    else:
        said = f"warning: not attached to its trace in Phoenix: {given.reason}"
        print(visible(said), file=sys.stderr)
