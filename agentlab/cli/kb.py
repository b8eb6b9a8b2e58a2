"""``agentlab kb``: an agent's knowledge base: ingest documents, search them, list them."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentlab.cli import common
from agentlab.safe_text import visible

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.table import Table
    from rich.text import Text

    from agentlab.memory.knowledge import IngestProgress, IngestReport, KnowledgeBase, Passage

kb_app = typer.Typer(
    help="An agent's knowledge base: documents (Markdown, text, HTML, PDF) cut into passages, "
    "searched by meaning with its search_knowledge_base tool.",
    no_args_is_help=True,
)

AgentOption = Annotated[
    str | None,
    typer.Option(
        metavar="REF",
        help="The agent whose knowledge base it is: 'package.module:attr' or "
        "'path/to/file.py:attr' (default: the configured default_agent).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
PASSAGE_CUT = 160
"""Characters of a passage a table shows."""


@kb_app.command("ingest")
def ingest(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[PATH]...",
            help="Files or directories to ingest (default: the documents the agent ships).",
            show_default=False,
        ),
    ] = None,
    agent: AgentOption = None,
    principal: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Who ingests them (default: your OS user; another only where the "
            "configuration's [access] act_as grants it). Forgetting them removes what they put in.",
        ),
    ] = None,
) -> None:
    """Cut documents into passages and store them in the agent's knowledge base. A file
    ingested before and unchanged is skipped; a changed one has its passages replaced. Exits 1
    when a file failed."""
    from agentlab.memory.knowledge_tool import shipped_documents

    settings = common.settings(ctx)
    definition = common.agent(ctx, agent)
    who = common.identity(settings, principal).principal
    items: Sequence[Path] = paths or shipped_documents(definition.all_toolsets)
    if not items:
        raise typer.BadParameter(
            f"agent {definition.name} ships no documents: name the files or directories to "
            "ingest (agentlab kb ingest PATH...)"
        )
    kb = _knowledge(ctx, definition.name)
    if not settings.memory.enabled:
        print(
            "note: long-term memory is off ([memory] enabled = false): runs will not search "
            "this knowledge base until it is on",
            file=sys.stderr,
        )
    with _progress() as tell:
        report = kb.ingest(items, principal=who, on_progress=tell)
    common.console().print(_report_table(report))
    print(_totals(report))
    if not report.ok:
        raise typer.Exit(1)


@kb_app.command("search")
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(metavar="QUERY", help="What to look up.")],
    agent: AgentOption = None,
    k: Annotated[int, typer.Option("-k", min=1, max=50, help="How many passages.")] = 5,
    as_json: JsonOption = False,
) -> None:
    """The passages of the agent's knowledge base nearest in meaning to QUERY, best first."""
    definition = common.agent(ctx, agent)
    kb = _knowledge(ctx, definition.name)
    passages = kb.search(query, k=k)
    if as_json:
        print(json.dumps([_passage_json(p) for p in passages], indent=2))
        return
    if not passages:
        print(visible(_nothing(kb, definition.name, agent)), file=sys.stderr)
        return
    common.console().print(_passages_table(query, passages))


@kb_app.command("list")
def list_sources(
    ctx: typer.Context, agent: AgentOption = None, as_json: JsonOption = False
) -> None:
    """The documents in the agent's knowledge base: passages, who ingested them and when."""
    from agentlab.safe_text import rich_text

    definition = common.agent(ctx, agent)
    found = _knowledge(ctx, definition.name).sources()
    if as_json:
        rows = [
            {
                "source": s.source,
                "chunks": s.chunks,
                "ingested_by": s.ingested_by,
                "at": _when(s.at),
                "hash": s.hash,
            }
            for s in found
        ]
        print(json.dumps(rows, indent=2))
        return
    if not found:
        print(visible(f"the knowledge base of {definition.name} is empty: {_ingest_hint(agent)}"))
        return
    table = _table(f"Knowledge base of {definition.name}", "source", "passages", "ingested by")
    table.add_column("at (UTC)")
    table.add_column("sha256", no_wrap=True)
    for s in found:
        table.add_row(
            rich_text(_shown(s.source)),
            str(s.chunks),
            rich_text(s.ingested_by),
            _when(s.at),
            rich_text(s.hash[:12]),
        )
    common.console().print(table)


def _knowledge(ctx: typer.Context, agent: str) -> KnowledgeBase:
    from agentlab.memory.knowledge import KnowledgeBase
    from agentlab.memory.long_term import chroma_store

    settings = common.settings(ctx)
    return KnowledgeBase(chroma_store(settings.data_dir, settings.memory), agent)


@contextmanager
def _progress() -> Iterator[Callable[[IngestProgress], None]]:
    """A progress bar on stderr, of files and of passages embedded (at a terminal only)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from agentlab.safe_text import markup

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        files = bar.add_task("files", total=None)
        chunks = bar.add_task("passages embedded", total=None)

        def tell(at: IngestProgress) -> None:
            name = markup(Path(at.source).name, lines=False)
            bar.update(files, total=at.files_total, completed=at.files_done)
            bar.update(files, description=f"files ({name})")
            bar.update(chunks, total=at.chunks_total or None, completed=at.chunks_done)

        yield tell


def _report_table(report: IngestReport) -> Table:
    from agentlab.safe_text import rich_text

    styles = {"added": "green", "replaced": "yellow", "unchanged": "dim", "failed": "red"}
    why = [] if report.ok else ["why"]  # the reasons of the files that failed
    table = _table("Ingested", "file", "status", "passages", *why)
    for f in report.files:
        chunks = str(f.chunks) if f.status != "failed" else ""
        cells: list[Text | str] = [
            rich_text(_shown(f.source)),
            rich_text(f.status, styles[f.status]),
            chunks,
        ]
        table.add_row(*cells, *([rich_text(f.reason)] if why else []))
    return table


def _totals(report: IngestReport) -> str:
    counts = ", ".join(
        f"{report.count(s)} {s}" for s in ("added", "replaced", "unchanged", "failed")
    )
    return (
        f"{len(report.files)} file(s): {counts}; {report.written} passage(s) embedded in "
        f"{report.seconds:.1f} s"
    )


def _passages_table(query: str, passages: Sequence[Passage]) -> Table:
    from agentlab.safe_text import rich_text

    table = _table(f"Passages for {query!r}", "score", "source", "location")
    table.add_column("passage")
    for p in passages:
        text = " ".join(p.text.split())
        cut = text if len(text) <= PASSAGE_CUT else text[: PASSAGE_CUT - 1] + "…"
        table.add_row(
            f"{p.similarity:.3f}", rich_text(p.name), rich_text(p.location), rich_text(cut)
        )
    return table


def _table(title: str, *columns: str) -> Table:
    from rich.table import Table

    from agentlab.safe_text import rich_text

    table = Table(title=rich_text(title, lines=False), title_justify="left")
    for column in columns:  # a path or a location folds, never cut
        table.add_column(column, no_wrap=column == "score", overflow="fold")
    return table


def _passage_json(p: Passage) -> dict[str, Any]:
    return {
        "source": p.source,
        "location": p.location,
        "similarity": round(p.similarity, 4),
        "text": p.text,
    }


def _nothing(kb: KnowledgeBase, name: str, agent: str | None) -> str:
    if kb.count() == 0:
        return f"the knowledge base of {name} is empty: {_ingest_hint(agent)}"
    return "no passage is close enough to the query: try other words"


def _ingest_hint(agent: str | None) -> str:
    flag = f" --agent {agent}" if agent else ""
    return f"fill it with 'agentlab kb ingest{flag} [PATH]...'"


def _shown(source: str) -> str:
    """A source path relative to the working directory when it lies under it."""
    path = Path(source)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return source


def _when(at: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")
