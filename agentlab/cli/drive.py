"""Driving a run at the terminal: print its events, answer its approval pauses, exit codes."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import typer

from agentlab.safe_text import markup, visible

if TYPE_CHECKING:
    from rich.console import Console

    from agentlab.orchestration import Decision, Request, RunEvent, RunView, SyncRunner


def ask(console: Console, run_id: str, requests: Sequence[Request]) -> list[Decision] | None:
    """Ask at the terminal about each of ``requests`` (just shown); each answer is bound to its
    request. ``None`` if the person answers later."""
    from agentlab.orchestration import Answer
    from agentlab.orchestration.requests import decisions_for

    decisions: list[Decision] = []
    for i, request in enumerate(requests):
        if len(requests) > 1:
            said = markup(f"(step {request.step_id}):", lines=False)
            console.print(f"[bold]{markup(request.tool, lines=False)}[/] {said}")
        answered = _ask_one(console, request, more=len(requests) - i - 1)
        if answered is None:
            break
        answer, note = answered
        if answer == "all":  # approve this one and the rest
            decisions += decisions_for(run_id, Answer.APPROVE, requests[i:])
            break
        decisions += decisions_for(run_id, Answer(answer), (request,), note=note)
    for decision in decisions:  # answered at a prompt
        decision["via"] = "terminal"
    return decisions or None


def _ask_one(console: Console, request: Request, *, more: int) -> tuple[str, str] | None:
    """The person's answer about ``request`` (an ``Answer`` value, or ``all``) and their note."""
    from rich.prompt import Prompt

    if request.unknown_effect:
        question = (
            "Did this call take effect? [bold]h[/]appened / [bold]r[/]un it again / "
            "[bold]n[/]o, re-plan without it / [bold]s[/]top the run / [bold]l[/]ater"
        )
        choices = {"h": "happened", "r": "approve", "n": "reject", "s": "stop", "l": None}
    else:
        question = (
            "Approve this call? [bold]y[/]es / [bold]n[/]o, re-plan without it / "
            "[bold]s[/]top the run / [bold]l[/]ater"
        )
        choices = {"y": "approve", "n": "reject", "s": "stop", "l": None}
        if more:
            question += f" / [bold]a[/]pprove it and the {more} other(s)"
            choices["a"] = "all"
    choice = Prompt.ask(question, choices=list(choices), console=console, show_choices=False)
    answer = choices[choice]
    if answer is None:
        return None
    asks_note = answer not in ("approve", "all")
    note = Prompt.ask("Note (optional)", default="", console=console) if asks_note else ""
    return answer, note


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
        said = f"interrupted: run {run_id} is saved; 'agentlab resume {run_id}' continues it"
        print(f"\n{visible(said)}", file=sys.stderr)
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
    last = transitions[-1] if transitions else {}
    stopped = str(last.get("reason", "")).startswith("stopped by a human")
    if last.get("node") == "approve" and view.status == "failed" and stopped:
        return EXIT_STOPPED  # not a kill, which also ends a run at its approve node
    return EXIT_FAILED


def follow(
    console: Console,
    runner: SyncRunner,
    run_id: str,
    events: Iterable[RunEvent],
    decide: str,
    note: str = "",
) -> None:
    """Print a run's events briefly and answer its pauses per ``decide`` (as ``drive``),
    without its summary or exit code: a chat's turn. Ctrl-C reaches the caller."""
    _drive(console, runner, run_id, events, decide=decide, note=note, brief=True)


def _drive(
    console: Console,
    runner: SyncRunner,
    run_id: str,
    events: Iterable[RunEvent],
    *,
    decide: str,
    note: str,
    brief: bool = False,
) -> None:
    from agentlab.cli import render
    from agentlab.orchestration import Answer

    while True:
        ended, announced = render.render_stream(console, events, brief=brief)
        if ended.status != "awaiting_human":
            break
        # Ask the run itself: the pause may have been announced to a process that died.
        requests = runner.get(run_id).requests
        if not requests:
            break
        if announced is None:
            for request in requests:
                console.print(render.approval_panel(request))
        if decide == "ask":
            decisions = ask(console, run_id, requests)
            if decisions is not None:
                events = runner.resume(run_id, decisions)
                continue
        elif decide in ("approve", "reject"):
            # Standing orders answer approvals only: whether a call took effect is a fact for
            # a person to check, never something to assume.
            orders = [r for r in requests if not r.unknown_effect]
            if orders:
                answer = Answer.APPROVE if decide == "approve" else Answer.REJECT
                note = note or f"--{decide}"
                events = runner.decide(run_id, answer, shown=orders, note=note, via="flag")
                continue
        console.print(
            f"Run [bold]{markup(run_id)}[/] is waiting for a decision. It is saved: decide "
            f"later with\n  {markup(render.decide_hint(run_id, requests))}"
        )
        break


def decide_mode(approve: bool, reject: bool) -> str:
    if approve and reject:
        raise typer.BadParameter("choose one of --approve and --reject")
    if approve:
        return "approve"
    if reject:
        return "reject"
    return "ask" if sys.stdin.isatty() else "leave"
