"""agentlab: a lab and runtime for production-grade LLM agents.

The public API, loaded on first use so that ``import agentlab`` (and the CLI) stays fast::

    from agentlab import Runner, load_settings, tool, Toolset, Agent, compile_agent
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AgentlabError": "agentlab.errors",
    "ConfigError": "agentlab.errors",
    "ModelUnavailableError": "agentlab.errors",
    "RunNotFoundError": "agentlab.errors",
    "RunStateError": "agentlab.errors",
    "ScriptError": "agentlab.errors",
    "Settings": "agentlab.config",
    "load_settings": "agentlab.config",
    "Model": "agentlab.models",
    "ModelRequest": "agentlab.models",
    "ModelResponse": "agentlab.models",
    "ModelRouter": "agentlab.models",
    "ModelSpec": "agentlab.models",
    "Role": "agentlab.models",
    "ScriptedModel": "agentlab.models",
    "Usage": "agentlab.models",
    "Permission": "agentlab.tools",
    "Tool": "agentlab.tools",
    "ToolContext": "agentlab.tools",
    "ToolError": "agentlab.tools",
    "Toolset": "agentlab.tools",
    "tool": "agentlab.tools",
    "Agent": "agentlab.orchestration",
    "Decision": "agentlab.orchestration",
    "Runner": "agentlab.orchestration",
    "Status": "agentlab.orchestration",
    "compile_agent": "agentlab.orchestration",
    "summarize": "agentlab.orchestration",
}

__all__ = [
    "Agent",
    "AgentlabError",
    "ConfigError",
    "Decision",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "ModelRouter",
    "ModelSpec",
    "ModelUnavailableError",
    "Permission",
    "Role",
    "RunNotFoundError",
    "RunStateError",
    "Runner",
    "ScriptError",
    "ScriptedModel",
    "Settings",
    "Status",
    "Tool",
    "ToolContext",
    "ToolError",
    "Toolset",
    "Usage",
    "compile_agent",
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
    from agentlab.config import Settings, load_settings
    from agentlab.errors import (
        AgentlabError,
        ConfigError,
        ModelUnavailableError,
        RunNotFoundError,
        RunStateError,
        ScriptError,
    )
    from agentlab.models import (
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
        Runner,
        Status,
        compile_agent,
        summarize,
    )
    from agentlab.tools import Permission, Tool, ToolContext, ToolError, Toolset, tool
