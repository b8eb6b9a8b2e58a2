"""The reliability suites' agent: the support tools plus ``append_effect``, a non-idempotent write
whose effect lies outside every database (a line appended to a file).

It is loaded by file reference (``tests/reliability/crash_agent.py:agent``), so the ``agentlab
resume`` of another process finds it. The file is the run option ``effects_path``, else
``$RELIABILITY_EFFECTS_FILE``, else ``effects.log`` in the data directory; the customer database
is the support agent's (the run option ``db_path``, else ``support.sqlite`` in the data directory).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from agentlab import Agent, FunctionToolset, Limits, Risk, ToolContext, ToolError, tool
from agentlab.domains.support import SupportDatabase, open_database, support_tools
from agentlab.tools.mcp import MCPServer, MCPToolset

EFFECTS_ENV = "RELIABILITY_EFFECTS_FILE"
EFFECTS_FILE = "effects.log"


class CrashDeps(SupportDatabase):
    """The support database (what the support tools expect as ``ctx.deps``) and the file
    ``append_effect`` appends to."""

    def __init__(self, path: Path, effects: Path) -> None:
        super().__init__(path)
        self.effects = effects


def open_deps(data_dir: Path, options: Mapping[str, Any]) -> CrashDeps:
    db = open_database(data_dir, options)
    effects = options.get("effects_path") or os.environ.get(EFFECTS_ENV) or data_dir / EFFECTS_FILE
    return CrashDeps(db.path, Path(effects))


def append_line(path: Path, line: str) -> None:
    """The external effect. A module-level function so the crash harness can wrap it."""
    with path.open("a", encoding="utf-8") as f:
        f.write(line + "\n")


@tool(risk=Risk.WRITE)
def append_effect(
    ctx: ToolContext, text: Annotated[str, Field(min_length=1, max_length=200)]
) -> dict[str, Any]:
    """Append a line of text to the outbox file. It is not idempotent: calling it twice writes
    the line twice."""
    if not isinstance(ctx.deps, CrashDeps):
        raise ToolError("append_effect needs the crash agent's deps")
    append_line(ctx.deps.effects, f"{ctx.idempotency_key}\t{text}")
    return {"appended": text, "key": ctx.idempotency_key}


agent = Agent(
    name="crash",
    purpose=(
        "a customer-support agent that also writes to an outbox file: it looks customers up, "
        "notifies them, appends outbox lines and deletes customer records"
    ),
    toolsets=[support_tools, FunctionToolset([append_effect])],
    deps=open_deps,
    limits=Limits(max_iterations=30),
)


# The fault scenario's agent (``tests/reliability/faults.py``): the same tools, plus a call that
# outlives its timeout (its effect done) and an MCP server that dies mid-call (its effect done).
NOTES_FILE = "notes.txt"
SLOW_FILE = "slow.log"
NOTES_SERVER = Path(__file__).resolve().parents[1] / "mcp_notes_server.py"


@tool(risk=Risk.WRITE, timeout_s=0.5)
def record_slowly(
    ctx: ToolContext, text: Annotated[str, Field(min_length=1, max_length=200)]
) -> dict[str, Any]:
    """Record a line in the slow ledger. It answers after its timeout, its line written: whether
    it took effect is then unknown to the caller."""
    if not isinstance(ctx.deps, CrashDeps):
        raise ToolError("record_slowly needs the crash agent's deps")
    append_line(ctx.deps.effects.with_name(SLOW_FILE), f"{ctx.idempotency_key}\t{text}")
    time.sleep(2)
    return {"recorded": text}


def _notes() -> MCPToolset:
    data_dir = Path(os.environ.get("AGENTLAB_DATA_DIR", "."))
    env = {**os.environ, "NOTES_FILE": str(data_dir / NOTES_FILE)}
    return MCPToolset(MCPServer.stdio(sys.executable, [str(NOTES_SERVER)], name="notes", env=env))


fault_agent = Agent(
    name="faults",
    purpose=(
        "a customer-support agent whose tools fail the ways real ones do: a ledger that answers "
        "too late and a notes server that dies mid-call"
    ),
    toolsets=[support_tools, FunctionToolset([append_effect, record_slowly]), _notes()],
    deps=open_deps,
    limits=Limits(max_iterations=30),
)
