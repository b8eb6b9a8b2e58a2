"""Serving agents to other programs: ``AgentServer`` offers an agent over MCP.

Import it where it is used: it loads the ``mcp`` SDK and the orchestration layer.
"""

from agentlab.serving.mcp import (
    RUN_TOOLS,
    AgentServer,
    DecideHint,
    ServeError,
    listen,
    tool_annotations,
)

__all__ = ["RUN_TOOLS", "AgentServer", "DecideHint", "ServeError", "listen", "tool_annotations"]
