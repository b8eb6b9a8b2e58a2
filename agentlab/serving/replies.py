"""What the MCP server answers a call: a tool's output, or an error a client can act on."""

from __future__ import annotations

import json
from typing import Any

import mcp.types as mcp_types
from pydantic_core import to_jsonable_python


def nobody_to_approve(tool: str, reasons: str) -> str:
    """Why a call the policy asks a human about is refused here, and what to do instead."""
    return (
        f"{tool} needs a human's approval ({reasons}) and was not approved. Nobody can approve a "
        "call in the middle of an MCP call, so it is not run here: give the agent the task with "
        "run_task instead; its run pauses at this call until a human approves or rejects it"
    )


def result(output: Any) -> mcp_types.CallToolResult:
    """A tool's output as text (JSON unless a string) and, for an object, structured content."""
    data = to_jsonable_python(output, fallback=str)
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return mcp_types.CallToolResult(
        content=[mcp_types.TextContent(type="text", text=text)],
        structured_content=data if isinstance(data, dict) else None,
    )


def error(message: str) -> mcp_types.CallToolResult:
    return mcp_types.CallToolResult(
        content=[mcp_types.TextContent(type="text", text=message)], is_error=True
    )
