"""A tiny MCP server (stdio) with a tool that has an effect: ``append_note`` appends a line to the
file named by ``NOTES_FILE``. A note that starts with ``die`` is written and then the server
process dies before it answers, as a server crashing mid-call would."""

from __future__ import annotations

import os

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("notes")


@server.tool(annotations=ToolAnnotations(read_only_hint=False, idempotent_hint=False))
def append_note(text: str) -> dict[str, str]:
    """Append a note to the notebook. Use it to remember something."""
    with open(os.environ["NOTES_FILE"], "a", encoding="utf-8") as notes:
        notes.write(text + "\n")
    if text.startswith("die"):
        os._exit(1)  # the effect is done; the answer never leaves
    return {"appended": text}


if __name__ == "__main__":
    server.run()
