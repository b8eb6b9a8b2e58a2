"""``agentlab memory``: what agents remember about the people they act for."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentlab.cli import common

if TYPE_CHECKING:
    from rich.table import Table

    from agentlab.config import Settings
    from agentlab.memory.facts import Fact
    from agentlab.orchestration.forgetting import Forgotten

_UTC = "%Y-%m-%d %H:%M:%S"

memory_app = typer.Typer(
    help="What agents remember: facts, past interactions, forgetting.",
    no_args_is_help=True,
)

Principal = Annotated[
    str, typer.Option(metavar="NAME", help="Whose memory: the principal runs acted for.")
]
"""``--principal``, which the ``memory`` commands about one principal take."""
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


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
    as_json: AsJson = False,
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


@memory_app.command()
def show(ctx: typer.Context, principal: Principal, as_json: AsJson = False) -> None:
    """What is stored about NAME, per store: past interactions per agent, knowledge NAME
    ingested, facts, and the sessions and runs in the runs database."""
    from agentlab.orchestration.forgetting import memory_of

    found = asyncio.run(memory_of(common.settings(ctx), principal))
    if as_json:
        print(json.dumps(found, indent=2))
        return
    common.console().print(_stored_table(found))


@memory_app.command()
def forget(
    ctx: typer.Context,
    principal: Principal,
    keep_runs: Annotated[
        bool,
        typer.Option(
            "--keep-runs",
            help="Keep NAME's runs, their checkpoints, journal and ledger (for audit).",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Forget without asking.")] = False,
    as_json: AsJson = False,
) -> None:
    """Delete everything stored about NAME: past interactions with every agent, knowledge NAME
    ingested, facts and their history, sessions with their turns and summaries, and NAME's
    runs with their checkpoints, journal and ledger (unless --keep-runs). Forgetting another
    principal is for whoever may act as them and operators."""
    from agentlab.errors import AgentlabError
    from agentlab.orchestration.forgetting import check_forget, forget_principal
    from agentlab.safe_text import visible
    from agentlab.store.forgetting import RunInProgress

    settings = common.settings(ctx)
    actor = common.identity(settings, None).actor
    check_forget(settings, actor, principal)
    if not yes:
        if not sys.stdin.isatty():
            raise AgentlabError(
                f"forgetting {principal} cannot be undone, so it asks at a terminal first, and "
                "stdin is not one: pass --yes to forget without asking"
            )
        kept = ", keeping their runs" if keep_runs else ""
        if not typer.confirm(visible(f"Forget everything stored about {principal}{kept}?")):
            print("nothing was forgotten")
            raise typer.Exit(1)
    try:
        done = asyncio.run(forget_principal(settings, principal, keep_runs=keep_runs, actor=actor))
    except RunInProgress as exc:
        raise AgentlabError(
            f"{exc.refusal}: 'agentlab kill {exc.run_id}' first, or pass --keep-runs"
        ) from None
    for note in done.notes:
        print(visible(f"warning: {note}", lines=False), file=sys.stderr)
    if as_json:
        print(json.dumps({"principal": principal, "kept_runs": keep_runs, **done.counts()}))
        return
    common.console().print(_forgotten_table(done))


@memory_app.command()
def prune(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Delete the past interactions past their time to live, of every principal."""
    from agentlab.orchestration.forgetting import prune as prune_expired

    pruned = asyncio.run(prune_expired(common.settings(ctx)))
    if as_json:
        print(json.dumps(pruned))
        return
    print(f"pruned {pruned['episodes']} expired past interactions")


_STORED_ROWS = (
    ("sessions", "sessions"),
    ("turns", "session turns"),
    ("summaries", "session summaries"),
    ("runs", "runs"),
    ("journal", "tool journal entries"),
    ("ledger", "cost ledger entries"),
)
_RUN_ROWS = (
    ("runs", "runs"),
    ("checkpoints", "checkpoints (runs' threads)"),
    ("journal", "tool journal entries"),
    ("ledger", "cost ledger entries"),
    ("leases", "leases"),
    ("fences", "fencing tokens"),
    ("kills", "kill flags"),
    ("feedback", "feedback"),
)


def _stored_table(found: dict[str, Any]) -> Table:
    """What ``memory_of`` found, store by store (agent names as data, never markup)."""
    from agentlab.safe_text import markup, rich_text

    episodes, knowledge, facts = found["episodes"], found["knowledge"], found["facts"]
    recalled = ", ".join(f"{e['agent']}: {e['count']} (latest {e['latest']})" for e in episodes)
    ingested = ", ".join(f"{k['agent']}: {k['chunks']}" for k in knowledge)
    rows = [
        ("Chroma", "past interactions", sum(e["count"] for e in episodes), recalled),
        ("Chroma", "knowledge chunks ingested", sum(k["chunks"] for k in knowledge), ingested),
        ("facts", "current facts", facts["current"], f"versions in all: {facts['versions']}"),
        *(("runs database", what, found[key], "") for key, what in _STORED_ROWS),
    ]
    table = _table(f"Stored about {markup(found['principal'], lines=False)}", "stored")
    table.add_column("details", overflow="fold")
    for store, what, count, details in rows:
        table.add_row(store, what, str(count), rich_text(details))
    return table


def _forgotten_table(done: Forgotten) -> Table:
    """What ``forget_principal`` removed, store by store."""
    from agentlab.safe_text import markup

    table = _table(f"Forgotten about {markup(done.principal, lines=False)}", "removed")
    counts = done.counts()
    rows = [
        ("Chroma", "past interactions", done.episodes),
        ("Chroma", "knowledge chunks ingested", done.knowledge_chunks),
        ("facts", "facts and their past versions", done.facts),
        *(("runs database", what, counts[key]) for key, what in _STORED_ROWS[:3]),
    ]
    for store, what, count in rows:
        table.add_row(store, what, str(count))
    for key, what in _RUN_ROWS:
        table.add_row("runs database", what, "kept" if done.kept_runs else str(counts[key]))
    return table


def _table(title: str, count: str) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("store", no_wrap=True)
    table.add_column("what")
    table.add_column(count, justify="right")
    return table
