"""agentlab: a lab and runtime for production-grade LLM agents.

The public API, loaded on first use so that ``import agentlab`` (and the CLI) stays fast::

    from agentlab import Agent, Runner, SyncRunner, load_settings, tool, FunctionToolset
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AgentlabError": "agentlab.errors",
    "AgentNotFoundError": "agentlab.errors",
    "ConfigError": "agentlab.errors",
    "ModelOverloadedError": "agentlab.errors",
    "ModelUnavailableError": "agentlab.errors",
    "RunNotFoundError": "agentlab.errors",
    "RunStateError": "agentlab.errors",
    "RunBusyError": "agentlab.errors",
    "DamagedDataError": "agentlab.errors",
    "ScriptError": "agentlab.errors",
    "Settings": "agentlab.config",
    "load_settings": "agentlab.config",
    "ApprovalDecided": "agentlab.events",
    "ApprovalRequested": "agentlab.events",
    "ModelCalled": "agentlab.events",
    "PlanMade": "agentlab.events",
    "RunEnded": "agentlab.events",
    "RunEvent": "agentlab.events",
    "StatusChanged": "agentlab.events",
    "ToolCalled": "agentlab.events",
    "FallbackModel": "agentlab.models",
    "Model": "agentlab.models",
    "ModelRequest": "agentlab.models",
    "ModelResponse": "agentlab.models",
    "ModelRouter": "agentlab.models",
    "ModelSpec": "agentlab.models",
    "Role": "agentlab.models",
    "ScriptedModel": "agentlab.models",
    "Usage": "agentlab.models",
    "DefaultPolicy": "agentlab.tools",
    "FunctionToolset": "agentlab.tools",
    "Policy": "agentlab.tools",
    "Risk": "agentlab.tools",
    "Tool": "agentlab.tools",
    "ToolContext": "agentlab.tools",
    "ToolError": "agentlab.tools",
    "Toolset": "agentlab.tools",
    "Verdict": "agentlab.tools",
    "WrapperToolset": "agentlab.tools",
    "tool": "agentlab.tools",
    "load_policy": "agentlab.tools",
    "Lab": "agentlab.lab",
    "Agent": "agentlab.orchestration",
    "Decision": "agentlab.orchestration",
    "Limits": "agentlab.orchestration",
    "RunContext": "agentlab.orchestration",
    "Runner": "agentlab.orchestration",
    "Status": "agentlab.orchestration",
    "SyncRunner": "agentlab.orchestration",
    "compile_agent": "agentlab.orchestration",
    "decision_for": "agentlab.orchestration",
    "load_agent": "agentlab.orchestration",
    "summarize": "agentlab.orchestration",
}

__all__ = [
    "Agent",
    "AgentNotFoundError",
    "AgentlabError",
    "ApprovalDecided",
    "ApprovalRequested",
    "ConfigError",
    "DamagedDataError",
    "Decision",
    "DefaultPolicy",
    "FallbackModel",
    "FunctionToolset",
    "Lab",
    "Limits",
    "Model",
    "ModelCalled",
    "ModelOverloadedError",
    "ModelRequest",
    "ModelResponse",
    "ModelRouter",
    "ModelSpec",
    "ModelUnavailableError",
    "PlanMade",
    "Policy",
    "Risk",
    "Role",
    "RunContext",
    "RunEnded",
    "RunEvent",
    "RunBusyError",
    "RunNotFoundError",
    "RunStateError",
    "Runner",
    "ScriptError",
    "ScriptedModel",
    "Settings",
    "Status",
    "StatusChanged",
    "SyncRunner",
    "Tool",
    "ToolCalled",
    "ToolContext",
    "ToolError",
    "Toolset",
    "Usage",
    "Verdict",
    "WrapperToolset",
    "compile_agent",
    "decision_for",
    "load_agent",
    "load_policy",
    "load_settings",
    "summarize",
    "tool",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'agentlab' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from agentlab.config import (
        Settings,
        load_settings,
    )
    from agentlab.errors import (
        AgentlabError,
        AgentNotFoundError,
        ConfigError,
        DamagedDataError,
        ModelOverloadedError,
        ModelUnavailableError,
        RunBusyError,
        RunNotFoundError,
        RunStateError,
        ScriptError,
    )
    from agentlab.events import (
        ApprovalDecided,
        ApprovalRequested,
        ModelCalled,
        PlanMade,
        RunEnded,
        RunEvent,
        StatusChanged,
        ToolCalled,
    )
    from agentlab.lab import (
        Lab,
    )
    from agentlab.models import (
        FallbackModel,
        Model,
        ModelRequest,
        ModelResponse,
        ModelRouter,
        ModelSpec,
        Role,
        ScriptedModel,
        Usage,
    )
    from agentlab.orchestration import (
        Agent,
        Decision,
        Limits,
        RunContext,
        Runner,
        Status,
        SyncRunner,
        compile_agent,
        decision_for,
        load_agent,
        summarize,
    )
    from agentlab.tools import (
        DefaultPolicy,
        FunctionToolset,
        Policy,
        Risk,
        Tool,
        ToolContext,
        ToolError,
        Toolset,
        Verdict,
        WrapperToolset,
        load_policy,
        tool,
    )
