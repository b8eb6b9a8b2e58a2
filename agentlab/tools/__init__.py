"""Tools: typed functions with derived JSON schemas, validation, and authorization."""

from agentlab.tools.base import (
    Permission,
    Tool,
    ToolContext,
    ToolError,
    ToolOutcome,
    format_validation_error,
    tool,
)
from agentlab.tools.toolset import Toolset, authorization_error

__all__ = [
    "Permission",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolOutcome",
    "Toolset",
    "authorization_error",
    "format_validation_error",
    "tool",
]
