"""``agentlab sessions``: the conversations in the runs database, and one of them in full."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from agentlab.cli import common

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from agentlab.memory.conversation import ConversationTurn
    from agentlab.store import SessionRecord

sessions_app = typer.Typer(
    help="Conversations: each user message a turn, each turn a run that ends with a reply.",
    invoke_without_command=True,
)


@sessions_app.callback()
def sessions(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many sessions to list.")] = 20,
) -> None:
    """List sessions, the latest active first: principal, agent, turns, last activity, cost."""
    if ctx.invoked_subcommand is not None:
        return
    settings = common.settings(ctx)
    console = common.console()
    with common.runner(settings) as runner:
        listed = runner.sessions(limit)
    if not listed:
        console.print(
            f"No sessions yet in {settings.runs_database}. Start one with: "
            "agentlab run --session NAME 'MESSAGE' (or agentlab chat)"
        )
        return
    console.print(sessions_table(listed))


@sessions_app.command("show")
def show(
    ctx: typer.Context,
    session_id: Annotated[
        str, typer.Argument(metavar="SESSION", help="A session id from 'agentlab sessions'.")
    ],
) -> None:
    """Print a session's conversation: each message, the tools its turn called, the reply."""
    console = common.console()
    with common.runner(common.settings(ctx)) as runner:
        record = runner.session(session_id)
        turns = runner.turns(session_id)
    print_conversation(console, record, turns)


def sessions_table(records: Sequence[SessionRecord]) -> Table:
    from rich.table import Table
    from rich.text import Text

    from agentlab.safe_text import rich_text

    table = Table(title="Sessions", title_justify="left")
    for col in ("session", "principal", "agent", "turns", "last activity (UTC)", "tokens", "cost"):
        table.add_column(col, justify="right" if col in ("turns", "tokens") else "left")
    for r in records:
        cost = "unknown" if r.cost_usd is None else f"${r.cost_usd:.4f}"
        table.add_row(
            rich_text(r.session_id),
            rich_text(r.principal),
            rich_text(r.agent_name),
            str(r.turns),
            Text(_utc(r.updated_at)),
            str(r.tokens),
            cost,
        )
    return table


def print_conversation(
    console: Console, record: SessionRecord, turns: Sequence[ConversationTurn]
) -> None:
    """The conversation as a person reads it: who said what, and what each turn did."""
    from agentlab.safe_text import markup

    console.print(
        f"Session [bold]{markup(record.session_id)}[/] · {markup(record.principal)} with "
        f"{markup(record.agent_name)} ({markup(record.agent)}) · {len(turns)} turn(s)"
    )
    if not turns:
        console.print("[dim](no turn has ended yet)[/]")
    for turn in turns:
        console.print(
            f"\n[bold cyan]you[/] [dim](turn {turn['number']})[/]: {markup(turn['message'])}"
        )
        for line in tool_lines(turn):  # one line each, cut to the terminal's width
            said = markup(line, lines=False)
            console.print(f"  [dim]{said}[/]", no_wrap=True, overflow="ellipsis")
        style = "green" if turn["status"] == "completed" else "red"
        console.print(
            f"[bold {style}]{markup(record.agent_name)}[/] [dim]({markup(turn['status'])}, "
            f"run {markup(turn['run_id'])})[/]: {markup(turn['reply'])}"
        )


def tool_lines(turn: ConversationTurn, limit: int = 100) -> list[str]:
    """A line per tool call of the turn: the call and what it returned."""
    import json

    calls: dict[str, str] = {}
    lines: list[str] = []
    for message in turn["messages"]:
        for block in message["content"]:
            if block["type"] == "tool_use":
                args = json.dumps(block["input"], default=str)
                args = args if len(args) <= limit else args[: limit - 1] + "…"
                calls[block["id"]] = f"{block['name']}({args})"
            elif block["type"] == "tool_result":
                said = block["content"]
                said = said if len(said) <= limit else said[: limit - 1] + "…"
                verb = "failed" if block.get("is_error") else "->"
                lines.append(f"{calls.get(block['tool_use_id'], '?')} {verb} {said}")
    return lines


def _utc(stamp: str) -> str:
    return stamp.replace("T", " ").removesuffix("+00:00").split(".")[0]
