"""The agents a ``langgraph.json`` lists, loaded to show their tools."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from agentlab.config import Settings
from agentlab.errors import AgentlabError
from agentlab.lab.project import read_langgraph_json
from agentlab.orchestration import Agent, load_agent, normalize_reference, resolve_policy
from agentlab.tools import Tool, ToolExecutor, ToolRegistry


@dataclass(frozen=True)
class ToolLine:
    tool: Tool
    verdict: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class AgentEntry:
    """One graph of ``langgraph.json``: its name, reference, and the agent behind it if any."""

    graph: str
    reference: str
    agent_reference: str | None = None
    agent: Agent | None = None
    tools: list[ToolLine] = field(default_factory=list)
    problem: str = ""
    default: bool = False


def agents_of(config_file: Path, settings: Settings) -> list[AgentEntry]:
    """Load each graph's agent definition (the attribute itself, or the module's ``agent``)."""
    graphs = read_langgraph_json(config_file)["graphs"]
    base = config_file.resolve().parent
    entries = [_entry(name, str(ref), base, settings) for name, ref in graphs.items()]
    try:
        default = load_agent(normalize_reference(settings.default_agent))
    except AgentlabError:
        return entries
    return [dataclasses.replace(e, default=e.agent is default) for e in entries]


def _entry(name: str, reference: str, base: Path, settings: Settings) -> AgentEntry:
    try:
        absolute = normalize_reference(reference, base=base)
        target, _, attr = absolute.rpartition(":")
        candidates = [absolute] if attr == "agent" else [f"{target}:agent", absolute]
        for candidate in candidates:
            try:
                agent = load_agent(candidate)
            except AgentlabError:
                continue
            return AgentEntry(name, reference, candidate, agent, _tools(agent, settings))
    except AgentlabError as exc:
        return AgentEntry(name, reference, problem=str(exc))
    return AgentEntry(name, reference, problem="not an agentlab agent (no Agent definition)")


def _tools(agent: Agent, settings: Settings) -> list[ToolLine]:
    # As a run's executor hands them out and decides (the risk the policy file gives them).
    executor = ToolExecutor(ToolRegistry(agent.all_toolsets), resolve_policy(agent, settings))
    catalog = asyncio.run(executor.catalog())
    return [ToolLine(t, d.verdict.value, d.reasons) for t, d in catalog]
