"""``agentlab tools list`` and ``agentlab tools lint``: an agent's tools as a model sees them."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from rich.table import Table
from rich.text import Text

from agentlab.orchestration import Agent
from agentlab.safe_text import rich_text, visible
from agentlab.tools import Tool, ToolRegistry
from agentlab.tools.lint import Finding
from agentlab.tools.mcp import from_hints
from agentlab.tools.policy import tool_adjuster


def tools_of(agent: Agent) -> list[Tool]:
    """The agent's tools as declared (or hinted by their MCP servers)."""
    return asyncio.run(ToolRegistry(agent.all_toolsets).tools())


def effects(tool: Tool) -> str:
    """``write, idempotent, egress``: the risk and the flags that go with it."""
    return ", ".join([tool.risk.value, *(n for n in ("idempotent", "egress") if getattr(tool, n))])


def effects_cell(declared: Tool, effective: Tool) -> str:
    """The effects a run sees; where a policy changed them, what the tool itself said."""
    text = effects(effective)
    if effects(declared) != text:
        whose = "the server hinted" if from_hints(declared) else "declared"
        text += f"\n(the policy's; {whose} {effects(declared)})"
    return text


def list_table(agent: Agent, tools: list[Tool]) -> Table:
    """Each tool: its schema, risk and flags (as the agent's policy gives them), and where it
    comes from."""
    adjust = tool_adjuster(agent.policy) if agent.policy is not None else None
    table = Table(title=rich_text(f"Tools of {agent.name}"), title_justify="left", show_lines=True)
    for col in ("tool", "risk", "source", "input schema"):
        table.add_column(col)
    for t in tools:
        risk = effects_cell(t, adjust(t) if adjust is not None else t)
        if t.requires_confirmation:
            risk += "\nneeds confirmation"
        name = Text.assemble((visible(t.name), "bold"), "\n", (visible(t.description), "dim"))
        schema = json.dumps(t.input_schema, indent=1, ensure_ascii=False)
        table.add_row(name, rich_text(risk), rich_text(shown_source(t.source)), rich_text(schema))
    return table


def shown_source(source: str) -> str:
    """A tool's ``source`` with paths under the working directory made relative to it."""
    return source.replace(f"{Path.cwd()}{os.sep}", "") or "?"


def lint_lines(findings: list[Finding]) -> list[str]:
    return [visible(f) for f in findings]
