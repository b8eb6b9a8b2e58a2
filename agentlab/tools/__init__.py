"""Tools: declaration (typed functions, JSON schemas), toolsets, the policy and the one executor."""

from agentlab.tools.bounds import OutputBounds
from agentlab.tools.calls import (
    CallRefused,
    CallRequest,
    CallScope,
    NeedsApproval,
    PreparedCall,
    ToolRun,
    UnknownTool,
)
from agentlab.tools.executor import CallWrapper, ToolExecutor
from agentlab.tools.mcp import MCPServer, MCPServerError, MCPToolset
from agentlab.tools.policy import DefaultPolicy, Policy, PolicyDecision, ProposedCall, Verdict
from agentlab.tools.rules import PolicyFileError, RulesPolicy, load_policy
from agentlab.tools.tool import (
    EffectUnknown,
    InvalidArguments,
    Risk,
    Tool,
    ToolContext,
    ToolError,
    ToolOutcome,
    format_validation_error,
    tool,
)
from agentlab.tools.toolset import FunctionToolset, ToolRegistry, Toolset, WrapperToolset

__all__ = [
    "CallRefused",
    "CallRequest",
    "CallScope",
    "CallWrapper",
    "NeedsApproval",
    "OutputBounds",
    "PreparedCall",
    "ToolRun",
    "UnknownTool",
    "PolicyDecision",
    "DefaultPolicy",
    "EffectUnknown",
    "FunctionToolset",
    "InvalidArguments",
    "MCPServer",
    "MCPServerError",
    "MCPToolset",
    "Policy",
    "PolicyFileError",
    "ProposedCall",
    "Risk",
    "RulesPolicy",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolExecutor",
    "ToolOutcome",
    "ToolRegistry",
    "Toolset",
    "Verdict",
    "WrapperToolset",
    "format_validation_error",
    "load_policy",
    "tool",
]
