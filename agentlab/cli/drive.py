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


def ask(console: Console, request: dict[str, Any]) -> Decision | None:
    """Ask at the terminal about ``request`` (the one just shown); the answer is bound to it."""
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
    choice = Prompt.ask(question, choices=choices, console=console, show_choices=False)
    if choice == "l":
        return None
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
    from agentlab.orchestration import decision_for

    while True:
        ended, announced = render.render_stream(console, events)
        if ended.status != "awaiting_human":
            break
        # Ask the run itself: the pause may have been announced to a process that died.
        waiting = runner.get(run_id).waiting_for
        if waiting is None:
            break
        if announced is None:
            console.print(render.approval_panel(waiting))
        decision: Decision | None = None
        if decide == "ask":
            decision = ask(console, waiting)
        elif decide in ("approve", "reject") and waiting.get("kind") != UNKNOWN:
            # Standing orders answer approvals only: whether a call took effect is a fact for
            # a person to check, never something to assume.
            decision = decision_for(
                waiting, approve=decide == "approve", note=note or f"--{decide}"
            )
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
