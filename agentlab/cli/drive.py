"""Driving a run at the terminal: print its events, answer its approval pauses, exit codes."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from agentlab.orchestration import Decision, RunEvent, RunView, SyncRunner


def ask(console: Console) -> Decision | None:
    """Ask at the terminal: approve, reject (re-plan without the step) or stop the run."""
    from rich.prompt import Prompt

    choice = Prompt.ask(
        "Approve this call? [bold]y[/]es / [bold]n[/]o, re-plan without it / [bold]s[/]top the run"
        " / [bold]l[/]ater",
        choices=["y", "n", "s", "l"],
        console=console,
        show_choices=False,
    )
    if choice == "l":
        return None
    note = "" if choice == "y" else Prompt.ask("Reason (optional)", default="", console=console)
    return {"approve": choice == "y", "note": note, "stop": choice == "s"}


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
        decision: Decision | None
        if decide == "approve":
            decision = {"approve": True, "note": note or "--approve"}
        elif decide == "reject":
            decision = {"approve": False, "note": note or "--reject"}
        elif decide == "ask":
            decision = ask(console)
        else:
            decision = None
        if decision is None:
            console.print(
                f"Run [bold]{run_id}[/] is waiting for approval. It is saved: decide later with\n"
                f"  agentlab resume {run_id} --approve   (or --reject)"
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
