"""``agentlab chat``: a conversation with an agent at a terminal.

Each message is a turn of a session (a run that ends with a reply, streamed as it arrives);
approvals are asked inline, as ``run`` asks them. ``/sessions``, ``/new``, ``/cost``, ``/help``
and ``/quit`` (or Ctrl-D) are commands. Ctrl-C during a turn stops it: the turn ends with a reply
saying what was done, and the session goes on. A turn left unfinished (the terminal closed, the
process killed, an approval left for later) is finished first when the session is opened again.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from agentlab.cli import common
from agentlab.safe_text import markup, visible

if TYPE_CHECKING:
    from rich.console import Console

    from agentlab.config import Settings
    from agentlab.models.router import ModelSpec
    from agentlab.orchestration import SyncRunner

COMMANDS = {
    "/sessions": "list the sessions",
    "/new": "start a new session with the same agent",
    "/cost": "what this session has used so far",
    "/help": "these commands",
    "/quit": "leave (or Ctrl-D)",
}


def chat(
    ctx: typer.Context,
    agent: Annotated[
        str | None,
        typer.Option(
            metavar="REF",
            help="The agent: 'package.module:attr' or 'path/to/file.py:attr' (default: the "
            "session's agent, else the configured default_agent).",
        ),
    ] = None,
    session: Annotated[
        str | None,
        typer.Option(metavar="ID", help="Go on with this session (default: a new one)."),
    ] = None,
    principal: Annotated[str | None, typer.Option("--as", help=common.PRINCIPAL_HELP)] = None,
    script: Annotated[
        Path | None,
        typer.Option(help="Replay this scripted-model file (all the session's turns, in order)."),
    ] = None,
    prompts: Annotated[Path | None, typer.Option(metavar="DIR", help=common.PROMPTS_HELP)] = None,
) -> None:
    """Talk with an agent: each message a turn that ends with a reply; approvals asked inline."""
    from agentlab.lab.session import new_session_id
    from agentlab.models.router import ModelSpec

    settings = common.settings(ctx, prompts_dir=prompts)
    common.check_prompts(settings)
    console = common.console()
    spec = ModelSpec(kind="scripted", script=str(script.resolve())) if script else None
    session_id = session or new_session_id()
    with common.runner(settings, principal) as runner:
        if session is not None:
            _reopen(console, runner, session)
        if spec is not None:
            said = markup(script)
            console.print(f"[yellow]scripted model[/]: replaying {said} (no LLM is called)")
        console.print(
            f"Session [bold]{markup(session_id)}[/] · type a message; /help for commands, "
            "Ctrl-D to leave"
        )
        prompt = _prompt(settings.data_dir)
        while True:
            try:
                text = prompt()
            except EOFError:  # Ctrl-D
                break
            except KeyboardInterrupt:  # Ctrl-C at the prompt: a new line, not an exit
                continue
            text = text.strip()
            if not text:
                continue
            if text.startswith("/"):
                command = text.split()[0]
                if command == "/quit":
                    break
                if command == "/new":  # with the same agent
                    agent = agent or _agent_of(runner, session_id, settings)
                    session_id = new_session_id()
                    console.print(f"Session [bold]{markup(session_id)}[/]")
                    continue
                _command(console, runner, command, session_id)
                continue
            _turn(console, runner, session_id, agent, text, spec, principal)
    said = markup(f"'agentlab chat --session {session_id}'")
    console.print(f"Bye. {said} goes on with this conversation.")


def _turn(
    console: Console,
    runner: SyncRunner,
    session_id: str,
    agent: str | None,
    text: str,
    spec: ModelSpec | None,
    principal: str | None,
) -> None:
    """One turn: the message sent, its events shown, approvals asked."""
    from agentlab.cli import drive
    from agentlab.errors import AgentlabError

    try:
        run_id, events = runner.start(
            agent, text, models=spec, principal=principal, session=session_id
        )
    except AgentlabError as exc:
        from agentlab.cli.words import CLI_WORDS

        console.print(f"[red]error:[/] {markup(exc.worded(CLI_WORDS))}", markup=True)
        return
    try:
        drive.follow(console, runner, run_id, events, decide="ask")
    except KeyboardInterrupt:
        _stop(console, runner, run_id)


def _agent_of(runner: SyncRunner, session_id: str, settings: Settings) -> str | None:
    """The session's agent (``None`` before its first turn: the default agent). Read back from
    the runs database, it is loaded only from a trusted place."""
    from agentlab.errors import SessionNotFoundError
    from agentlab.orchestration import trusted_reference

    try:
        stored = runner.session(session_id).agent
    except SessionNotFoundError:
        return None
    return trusted_reference(stored, settings, whose=f"session {session_id}")


def _stop(console: Console, runner: SyncRunner, run_id: str) -> None:
    """End a turn stopped with Ctrl-C: its run is killed and answers with what was done."""
    from agentlab.cli import render

    console.print("\n[yellow]stopping the turn…[/]")
    try:
        runner.kill(run_id)
        if runner.get(run_id).status not in ("completed", "failed"):
            render.render_stream(console, runner.resume(run_id), brief=True)
    except KeyboardInterrupt:
        said = f"run {run_id} is saved; 'agentlab resume {run_id}' ends it"
        print(visible(said), file=sys.stderr)
        raise


def _reopen(console: Console, runner: SyncRunner, session_id: str) -> None:
    """Show where the session stands, and finish a turn it left open."""
    from agentlab.cli import drive
    from agentlab.errors import SessionNotFoundError

    try:
        record = runner.session(session_id)
    except SessionNotFoundError:
        console.print(f"[dim]a new session, {markup(session_id)}[/]")
        return
    turns = runner.turns(session_id)
    said = markup(f"{record.principal} with {record.agent_name}")
    console.print(f"[dim]{said}, {len(turns)} turn(s) so far[/]")
    for turn in turns[-3:]:
        you, agent = markup(turn["message"]), markup(f"{record.agent_name}: {turn['reply']}")
        console.print(f"[dim]you: {you}\n{agent}[/]")
    for open_turn in runner.open_turns(session_id):
        console.print(f"Finishing the turn left open: {markup(open_turn.task)}")
        drive.follow(console, runner, open_turn.run_id, runner.resume(open_turn.run_id), "ask")


def _command(console: Console, runner: SyncRunner, command: str, session_id: str) -> None:
    from agentlab.cli.conversations import sessions_table
    from agentlab.errors import SessionNotFoundError

    if command == "/sessions":
        console.print(sessions_table(runner.sessions(20)))
    elif command == "/cost":
        try:
            s = runner.session(session_id)
        except SessionNotFoundError:
            console.print("nothing yet: this session has no turn")
            return
        cost = "unknown (a model has no price)" if s.cost_usd is None else f"${s.cost_usd:.4f}"
        console.print(f"{s.turns} turn(s), {s.tokens} tokens, {cost}")
    else:
        if command != "/help":
            console.print(f"unknown command {markup(command)}")
        for name, what in COMMANDS.items():
            console.print(f"  {name:<10} {what}")


def _prompt(data_dir: Path):  # type: ignore[no-untyped-def]
    """What reads a message: prompt_toolkit at a terminal (history, pasted lines kept whole),
    else plain lines from stdin."""
    if not sys.stdin.isatty():
        return lambda: _read_line()
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    from agentlab.store.private import private_dir, private_file

    private_dir(data_dir)
    private_file(data_dir / "chat_history")  # what was typed is as private as the runs
    session: PromptSession[str] = PromptSession(history=FileHistory(str(data_dir / "chat_history")))
    return lambda: session.prompt("you> ")


def _read_line() -> str:
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line
