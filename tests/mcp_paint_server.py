"""A tiny MCP server (the official SDK's ``MCPServer``, over stdio) whose tools constrain their
arguments every way a schema can: an enum, a range, a pattern, a bounded list, required keys.
The executor's property tests throw arbitrary calls at it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

server = MCPServer("paint")


@server.tool(annotations=ToolAnnotations(read_only_hint=False, idempotent_hint=True))
def paint(
    wall: Annotated[str, Field(pattern=r"^[a-z]+$", max_length=20)],
    color: Literal["red", "green", "blue"] = "red",
    coats: Annotated[int, Field(ge=1, le=3)] = 1,
) -> dict[str, Any]:
    """Paint a wall. Use it when a wall needs paint."""
    return {"painted": wall, "color": color, "coats": coats}


@server.tool(annotations=ToolAnnotations(read_only_hint=False))
def tag(
    key: Annotated[str, Field(min_length=1, max_length=40)],
    tags: Annotated[list[str], Field(max_length=5)],
) -> dict[str, Any]:
    """Tag a key. Use it to label things."""
    return {"tagged": key, "tags": tags}


if __name__ == "__main__":
    server.run()
