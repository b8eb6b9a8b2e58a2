"""Orchestration: agent definitions, the state graph, its nodes and edges, and durable runs."""

from agentlab.events import (
    ApprovalDecided,
    ApprovalRequested,
    Escalated,
    ModelCalled,
    PlanMade,
    Replied,
    ReplyDelta,
    RunEnded,
    RunEvent,
    StatusChanged,
    ToolCalled,
)
from agentlab.orchestration.agent import Agent, Evidence
from agentlab.orchestration.context import RunContext
from agentlab.orchestration.graph import (
    build_graph,
    compile_agent,
    resolve_limits,
    resolve_models,
    resolve_output_bounds,
    resolve_policy,
    resolve_prompts,
    served_journal,
)
from agentlab.orchestration.limits import Limits
from agentlab.orchestration.prompt_book import PromptBook, load_prompts
from agentlab.orchestration.references import load_agent, normalize_reference
from agentlab.orchestration.requests import (
    Answer,
    Decision,
    Request,
    RequestKind,
    decision_for,
    describe_request,
    requests_of,
    waiting_requests,
)
from agentlab.orchestration.result import RunResult, SyncRunResult
from agentlab.orchestration.runner import Runner, RunView, SyncRunner
from agentlab.orchestration.state import AgentState, Status, initial_state
from agentlab.orchestration.summary import RunSummary, summarize
from agentlab.orchestration.trust import trusted_reference
from agentlab.store import RunRecord

__all__ = [
    "Agent",
    "AgentState",
    "Answer",
    "ApprovalDecided",
    "ApprovalRequested",
    "Decision",
    "Evidence",
    "Limits",
    "Escalated",
    "ModelCalled",
    "PlanMade",
    "PromptBook",
    "RunContext",
    "Replied",
    "ReplyDelta",
    "RunEnded",
    "RunEvent",
    "Request",
    "RequestKind",
    "RunRecord",
    "RunResult",
    "RunSummary",
    "RunView",
    "Runner",
    "Status",
    "StatusChanged",
    "SyncRunResult",
    "SyncRunner",
    "ToolCalled",
    "build_graph",
    "compile_agent",
    "decision_for",
    "describe_request",
    "initial_state",
    "load_agent",
    "load_prompts",
    "normalize_reference",
    "requests_of",
    "resolve_limits",
    "resolve_output_bounds",
    "resolve_models",
    "resolve_policy",
    "resolve_prompts",
    "served_journal",
    "summarize",
    "trusted_reference",
    "waiting_requests",
]
