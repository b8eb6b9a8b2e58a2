"""Orchestration: the agent's state graph, its nodes and edges, and durable runs."""

from agentlab.orchestration.agent import Agent
from agentlab.orchestration.events import (
    ApprovalRequested,
    ModelCalled,
    PlanMade,
    RunEnded,
    RunEvent,
    StatusChanged,
    ToolCalled,
)
from agentlab.orchestration.graph import build_graph, compile_agent, recursion_limit
from agentlab.orchestration.runner import AgentResolver, Runner, RunView
from agentlab.orchestration.runs import RunRecord
from agentlab.orchestration.state import AgentState, Decision, Status, initial_state
from agentlab.orchestration.summary import RunSummary, summarize

__all__ = [
    "Agent",
    "AgentResolver",
    "AgentState",
    "ApprovalRequested",
    "Decision",
    "ModelCalled",
    "PlanMade",
    "RunEnded",
    "RunEvent",
    "RunRecord",
    "RunSummary",
    "RunView",
    "Runner",
    "Status",
    "StatusChanged",
    "ToolCalled",
    "build_graph",
    "compile_agent",
    "initial_state",
    "recursion_limit",
    "summarize",
]
