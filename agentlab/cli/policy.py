"""``agentlab policy check``: what a policy file gives each principal, tool by tool."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text

from agentlab.cli.tools import effects_cell
from agentlab.orchestration import Agent
from agentlab.safe_text import rich_text
from agentlab.tools import ProposedCall, Tool, ToolRegistry
from agentlab.tools.mcp import from_hints
from agentlab.tools.rules import RulesPolicy, ToolEffects

ANYONE_ELSE = "(anyone else)"
_STYLE = {"allow": "green", "ask": "yellow", "deny": "red"}


@dataclass(frozen=True)
class Verdicts:
    """What ``principal`` gets for ``tool``: with no argument conditions, and the conditions
    that would change it."""

    tool: str
    principal: str
    verdict: str
    why: str
    conditional: list[str]
    risk: str = ""
    """The tool's risk and flags under the file (and what they were, where the file changed them
    or would have lowered a local tool's declaration)."""


def explain(policy: RulesPolicy, agent: Agent) -> list[Verdicts]:
    """For each of ``agent``'s tools and each principal the file names (and anyone else)."""
    declared = asyncio.run(ToolRegistry(agent.all_toolsets).tools())
    principals = [*policy.principals(), ANYONE_ELSE]
    out = []
    for declaration in declared:
        tool = policy.adjust(declaration)
        risk = effects_cell(declaration, tool)
        unheeded = _unheeded(policy.said_of(tool.name), tool)
        if unheeded:
            risk += f"\n(the file's {unheeded} does not lower a local tool's declaration)"
        for principal in principals:
            decision = policy.decide(ProposedCall(tool, principal=principal))
            why = "; ".join(filter(None, [", ".join(decision.reasons), decision.rule or ""]))
            parameters = set(tool.input_schema.get("properties", {}))
            conditional = [
                f"{rule.describe(subject=False)}: {rule.reason}"
                for rule in policy.rules_for(tool.name, principal)
                if rule.when and set(rule.when) <= parameters
            ]
            out.append(
                Verdicts(tool.name, principal, decision.verdict.value, why, conditional, risk)
            )
    return out


def _unheeded(said: ToolEffects, tool: Tool) -> str:
    """What the file says of a local ``tool`` that its declaration kept from lowering."""
    if from_hints(tool):
        return ""
    kept = ToolEffects.model_construct(
        risk=said.risk if said.risk not in (None, tool.risk) else None,
        idempotent=said.idempotent if said.idempotent not in (None, tool.idempotent) else None,
        egress=said.egress if said.egress not in (None, tool.egress) else None,
    )
    return kept.describe()


def table(policy: RulesPolicy, verdicts: list[Verdicts]) -> Table:
    t = Table(title=rich_text(f"Policy {policy.source}"), title_justify="left", show_lines=True)
    for col in ("tool", "principal", "verdict", "why", "depending on the arguments", "risk"):
        t.add_column(col)
    for v in verdicts:
        t.add_row(
            rich_text(v.tool),
            rich_text(v.principal),
            Text(v.verdict, style=_STYLE[v.verdict]),
            rich_text(v.why or ("no rule: the file's default" if v.verdict == "allow" else "")),
            rich_text("\n".join(v.conditional)),
            rich_text(v.risk),
        )
    return t
