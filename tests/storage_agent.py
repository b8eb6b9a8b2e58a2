"""The storage tests' agent: ``send_notice``, a non-idempotent effect outside every database (a
line appended to the file ``$STORAGE_EFFECTS_FILE``), and ``fill_disk``, which plays another
program filling the disk the runs database is on, at a chosen step of the run.

It is loaded by file reference (``tests/storage_agent.py:agent``), so the ``agentlab resume`` of
another process finds it.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from agentlab import Agent, Limits, Risk, ToolContext, tool

EFFECTS_ENV = "STORAGE_EFFECTS_FILE"
BALLAST_ENV = "STORAGE_BALLAST_FILE"
LEAVE_ENV = "STORAGE_LEAVE_BYTES"


@tool(risk=Risk.WRITE)
def send_notice(
    ctx: ToolContext, text: Annotated[str, Field(min_length=1, max_length=200)]
) -> dict[str, Any]:
    """Send a notice (a line appended to the outbox file). Not idempotent: twice sends twice."""
    with Path(os.environ[EFFECTS_ENV]).open("a", encoding="utf-8") as f:
        f.write(f"{ctx.idempotency_key}\t{text}\n")
    return {"sent": text}


@tool(risk=Risk.READ, idempotent=True)
def fill_disk() -> dict[str, Any]:
    """Fill the disk of the ballast file ``$STORAGE_BALLAST_FILE`` until only
    ``$STORAGE_LEAVE_BYTES`` are free: once in a test (the mark beside the outbox file says it
    was), however often the run calls it."""
    ballast = Path(os.environ[BALLAST_ENV])
    mark = Path(os.environ[EFFECTS_ENV] + ".filled")
    if mark.exists():
        return {"filled": False}
    mark.touch()
    leave = int(os.environ.get(LEAVE_ENV, "0"))
    chunk = b"\0" * 4096
    with ballast.open("wb", buffering=0) as f:
        try:
            while _free(ballast) > leave:
                f.write(chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return {"filled": True}


def _free(path: Path) -> int:
    found = os.statvfs(path)
    return found.f_bfree * found.f_frsize


agent = Agent(
    name="notices",
    purpose="an agent that sends customers notices, one line each in the outbox file",
    tools=[send_notice, fill_disk],
    limits=Limits(max_iterations=30),
)
