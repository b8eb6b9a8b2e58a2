"""Who decided what in a run: the approvals table of ``agentlab show``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.table import Table

    from agentlab.orchestration import RunView

HOW = {
    "terminal": "at a terminal prompt",
    "flag": "by a command's flag",
    "notebook": "in a notebook",
    "server": "through a LangGraph server",
    "api": "by code calling the Runner",
}


def approvals_table(view: RunView) -> Table:
    """Each human decision of the run: the call, the verdict, who gave it and how."""
    from rich.table import Table
    from rich.text import Text

    from agentlab.safe_text import rich_text

    table = Table(title="Decisions", title_justify="left")
    for col in ("step", "tool", "decision", "by", "how", "note"):
        table.add_column(col)
    for a in view.state.get("approvals", []):
        verdict = Text("approved", style="green") if a["approved"] else Text("rejected", "red")
        via = a.get("via")
        table.add_row(
            rich_text(a["step_id"]),
            rich_text(a["tool"]),
            verdict,
            rich_text(a.get("by") or "(not recorded)"),
            rich_text(HOW.get(via or "", via or "(not recorded)")),
            rich_text(a.get("note") or ""),
        )
    return table


def started_by(view: RunView) -> str:
    """``alice`` or ``support-bot (started by alice)``: who a run is for, and who started it."""
    principal = view.record.principal
    by = view.state.get("started_by")
    return principal if not by or by == principal else f"{principal} (started by {by})"
