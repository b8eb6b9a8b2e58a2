"""The tables of the list commands: ``runs`` and ``agents``."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from agentlab.cli.catalog import AgentEntry
from agentlab.cli.render import feedback_text, short, status_text, utc
from agentlab.orchestration import RunRecord
from agentlab.safe_text import rich_text


def runs_table(records: Sequence[RunRecord]) -> Table:
    """The runs, with a feedback column when any was given a verdict. A run id is never cut,
    however narrow the terminal: the other columns fold first."""
    table = Table(title="Runs", title_justify="left")
    judged = any(r.feedback is not None for r in records)
    longest = max((len(r.run_id) for r in records), default=1)
    table.add_column("run", no_wrap=True, min_width=longest)
    for col in ("status", "agent", "task", "updated (UTC)"):
        table.add_column(col, overflow="fold")
    if judged:
        table.add_column("feedback", overflow="fold")
    for r in records:
        row: list[Text] = [
            rich_text(r.run_id, lines=False),
            Text.assemble(status_text(r.status), (" (interrupted)", "red"))
            if r.interrupted
            else status_text(r.status),
            rich_text(r.agent_name),
            Text(short(r.task, 60)),
            Text(utc(r.updated_at)),
        ]
        if judged:
            row.append(feedback_text(r.feedback, comment_limit=40))
        table.add_row(*row)
    return table


def agents_table(entries: Sequence[AgentEntry]) -> Table:
    """The agents of ``langgraph.json``, each tool with its risk and the policy's verdict."""
    table = Table(title="Agents (langgraph.json)", title_justify="left", show_lines=True)
    for col in ("graph", "agent", "tools"):
        table.add_column(col)
    for e in entries:
        if e.agent is None:
            table.add_row(rich_text(e.graph), rich_text(e.reference), rich_text(e.problem, "red"))
            continue
        lines = Text()
        for i, line in enumerate(e.tools):
            if i:
                lines.append("\n")
            lines.append(rich_text(line.tool.name, "bold", lines=False))
            flags = [line.tool.risk.value] + (["idempotent"] if line.tool.idempotent else [])
            lines.append(f" ({', '.join(flags)}) ")
            style = {"allow": "green", "ask": "yellow", "deny": "red"}[line.verdict]
            why = f": {', '.join(line.reasons)}" if line.reasons else ""
            lines.append(rich_text(f"{line.verdict}{why}", style))
        name = f"{e.agent.name}\n{e.agent_reference}"
        if e.default:
            name += "\n(the default agent)"
        table.add_row(rich_text(e.graph), rich_text(name), lines or Text("(no tools)", style="dim"))
    return table
