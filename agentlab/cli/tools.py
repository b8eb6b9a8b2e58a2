"""``agentlab tools list`` and ``agentlab tools lint``: an agent's tools as a model sees them."""

from __future__ import annotations

import asyncio
import json

from rich.table import Table
from rich.text import Text

from agentlab.orchestration import Agent
from agentlab.tools import Tool, ToolRegistry
from agentlab.tools.lint import Finding


def tools_of(agent: Agent) -> list[Tool]:
    return asyncio.run(ToolRegistry(agent.toolsets).tools())


def list_table(agent: Agent, tools: list[Tool]) -> Table:
    """Each tool: its schema, risk and flags, and where it comes from."""
    table = Table(title=f"Tools of {agent.name}", title_justify="left", show_lines=True)
    for col in ("tool", "risk", "source", "input schema"):
        table.add_column(col)
    for t in tools:
        flags = [t.risk.value]
        flags += [name for name in ("idempotent", "egress") if getattr(t, name)]
        if t.requires_confirmation:
            flags.append("needs confirmation")
        name = Text.assemble((t.name, "bold"), "\n", (t.description, "dim"))
        schema = json.dumps(t.input_schema, indent=1, ensure_ascii=False)
        table.add_row(name, ", ".join(flags), t.source or "?", schema)
    return table


def lint_lines(findings: list[Finding]) -> list[str]:
    return [str(f) for f in findings]
