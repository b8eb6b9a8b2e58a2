"""Driving a run at the terminal: print its events, answer its approval pauses, exit codes."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from agentlab.orchestration import Decision, RunEvent, RunView, SyncRunner


UNKNOWN = "unknown_side_effect"


def ask(console: Console, waiting: dict[str, Any]) -> Decision | list[Decision] | None:
    """Ask at the terminal about each call of ``waiting`` (just shown); each answer is bound to
    its request. ``None`` if the person answers later."""
    from agentlab.orchestration import waiting_requests

    requests = waiting_requests(waiting)
    decisions: list[Decision] = []
    for i, request in enumerate(requests):
        if len(requests) > 1:
            console.print(f"[bold]{request['tool']}[/] (step {request['step_id']}):")
        decision = _ask_one(console, request, more=len(requests) - i - 1)
        if decision is None:
            break
        if isinstance(decision, str):  # "all": approve this one and the rest
            decisions += [_approval(r) for r in requests[i:]]
            break
        decisions.append(decision)
    if not decisions:
        return None
    return decisions[0] if len(decisions) == 1 else decisions


def _approval(request: dict[str, Any]) -> Decision:
    from agentlab.orchestration import decision_for

    return decision_for(request, approve=True)


def _ask_one(console: Console, request: dict[str, Any], *, more: int) -> Decision | str | None:
    from rich.prompt import Prompt

    from agentlab.orchestration import decision_for

    if request.get("kind") == UNKNOWN:
        question = (
            "Did this call take effect? [bold]h[/]appened / [bold]r[/]un it again / "
            "[bold]n[/]o, re-plan without it / [bold]s[/]top the run / [bold]l[/]ater"
        )
        choices = ["h", "r", "n", "s", "l"]
    else:
        question = (
            "Approve this call? [bold]y[/]es / [bold]n[/]o, re-plan without it / "
            "[bold]s[/]top the run / [bold]l[/]ater"
        )
        choices = ["y", "n", "s", "l"]
        if more:
            question += f" / [bold]a[/]pprove it and the {more} other(s)"
            choices.append("a")
    choice = Prompt.ask(question, choices=choices, console=console, show_choices=False)
    if choice == "l":
        return None
    if choice == "a":
        return "all"
    note = Prompt.ask("Note (optional)", default="", console=console) if choice != "y" else ""
    return decision_for(
        request,
        approve=choice in ("y", "r"),
        happened=choice == "h",
        stop=choice == "s",
        note=note,
    )


def drive(
    console: Console,
    runner: SyncRunner,
    run_id: str,
    events: Iterable[RunEvent],
    *,
    decide: str,
    note: str = "",
) -> int:
    """Print a run's events, answering approval pauses per ``decide``; return the exit code.

    ``decide`` is ``approve``, ``reject``, ``ask`` (prompt at the terminal) or ``leave`` (stop at
    the first pause and say how to resume); ``note`` is recorded with automatic decisions. Ctrl-C
    says which run is saved and how to continue it, and exits 130.
    """
    try:
        _drive(console, runner, run_id, events, decide=decide, note=note)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: run {run_id} is saved; 'agentlab resume {run_id}' continues it",
            file=sys.stderr,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    view = runner.get(run_id)
    from agentlab.cli import render

    console.print(render.summary_panel(view))
    return exit_code(view)


EXIT_OK = 0  # completed, or saved while waiting for a human
EXIT_FAILED = 1
EXIT_STOPPED = 3  # a human stopped the run at an approval
EXIT_INTERRUPTED = 130  # Ctrl-C; the run is saved


def exit_code(view: RunView) -> int:
    """0 completed or waiting, 3 stopped by a human, 1 failed otherwise."""
    if view.status in ("completed", "awaiting_human"):
        return EXIT_OK
    transitions = view.state.get("transitions", [])
    if transitions and transitions[-1]["node"] == "approve" and view.status == "failed":
        return EXIT_STOPPED
    return EXIT_FAILED


def _drive(
    console: Console,
    runner: SyncRunner,
    run_id: str,
    events: Iterable[RunEvent],
    *,
    decide: str,
    note: str,
) -> None:
    from agentlab.cli import render
    from agentlab.orchestration import decision_for, waiting_requests

    while True:
        ended, announced = render.render_stream(console, events)
        if ended.status != "awaiting_human":
            break
        # Ask the run itself: the pause may have been announced to a process that died.
        waiting = runner.get(run_id).waiting_for
        if waiting is None:
            break
        if announced is None:
            for panel in render.approval_panels(waiting):
                console.print(panel)
        decision: Decision | list[Decision] | None = None
        if decide == "ask":
            decision = ask(console, waiting)
        elif decide in ("approve", "reject"):
            # Standing orders answer approvals only: whether a call took effect is a fact for
            # a person to check, never something to assume.
            orders = [
                decision_for(r, approve=decide == "approve", note=note or f"--{decide}")
                for r in waiting_requests(waiting)
                if r.get("kind") != UNKNOWN
            ]
            decision = (orders[0] if len(orders) == 1 else orders) or None
        if decision is None:
            console.print(
                f"Run [bold]{run_id}[/] is waiting for a decision. It is saved: decide later with\n"
                f"  {render.decide_hint(run_id, waiting)}"
            )
            break
        events = runner.resume(run_id, decision)


def decide_mode(approve: bool, reject: bool) -> str:
    if approve and reject:
        raise typer.BadParameter("choose one of --approve and --reject")
    if approve:
        return "approve"
    if reject:
        return "reject"
    return "ask" if sys.stdin.isatty() else "leave"
