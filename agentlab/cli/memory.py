"""``agentlab memory``: what agents remember about the people they act for."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from agentlab.cli import common

if TYPE_CHECKING:
    from rich.table import Table

    from agentlab.config import Settings
    from agentlab.memory.facts import Fact

_UTC = "%Y-%m-%d %H:%M:%S"

memory_app = typer.Typer(
    help="What agents remember: facts, past interactions, forgetting.",
    no_args_is_help=True,
)

Principal = Annotated[
    str, typer.Option(metavar="NAME", help="Whose memory: the principal runs acted for.")
]
"""``--principal``, which every ``memory`` command takes."""


@memory_app.command()
def facts(
    ctx: typer.Context,
    principal: Principal,
    agent: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Only this agent's facts (default: every agent's)."),
    ] = None,
    history: Annotated[
        bool,
        typer.Option("--history", help="Every version, superseded ones too, oldest first."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The facts agents remember about NAME and the customers NAME serves: key, subject,
    value, since when (and until when, with --history), the run that stated it."""
    from agentlab.memory.keyvalue import memory_path
    from agentlab.safe_text import visible

    settings = common.settings(ctx)
    stored = settings.database_url is not None or memory_path(settings).exists()
    found = asyncio.run(_facts(settings, principal, agent, history)) if stored else []
    if as_json:
        print(json.dumps([f.as_json() for f in found], indent=2))
        return
    if not found:
        whose = principal if agent is None else f"{principal} for agent {agent}"
        print(visible(f"no facts remembered about {whose}", lines=False))
        return
    common.console().print(facts_table(found, principal, history=history, agents=agent is None))


async def _facts(
    settings: Settings, principal: str, agent: str | None, history: bool
) -> list[Fact]:
    from agentlab.memory.facts import open_facts

    async with open_facts(settings) as store:
        found: list[Fact] = []
        for name in [agent] if agent is not None else await store.agents(principal):
            read = store.history if history else store.current
            found += await read(name, principal)
        return found


def facts_table(found: Sequence[Fact], principal: str, *, history: bool, agents: bool) -> Table:
    """The facts as a table; ``agents``: with a column naming each fact's agent."""
    from rich.table import Table
    from rich.text import Text

    from agentlab.safe_text import markup, rich_text

    title = "Fact history" if history else "Facts"
    table = Table(title=f"{title} of {markup(principal, lines=False)}", title_justify="left")
    columns = ["agent"] * agents + ["key", "subject", "value", "source", "valid from (UTC)"]
    columns += ["valid to (UTC)"] * history + ["run"]
    for col in columns:
        table.add_column(col, overflow="fold", no_wrap=col in ("key", "run"))
    for f in found:
        row = [rich_text(f.agent)] * agents + [
            rich_text(f.key),
            rich_text(f.subject),
            rich_text(f.value),
            Text(f.source, style="yellow" if f.source == "tool" else ""),
            Text(f.valid_from.strftime(_UTC)),
        ]
        if history:
            ended = f.valid_to
            row.append(Text("current", "green") if ended is None else Text(ended.strftime(_UTC)))
        table.add_row(*row, rich_text(f.run_id, lines=False))
    return table
