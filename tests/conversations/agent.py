"""The conversation tests' agent. ``lookup`` is a read tool whose answer is long enough that
a session's turns soon pass the recent-turns allowance; looking up ``slow`` first leaves a mark
(``$CONVERSATION_MARK``) and takes a while, so a test can stop a turn in the middle of a call.
``note_down`` writes, once a person approves.

It is loaded by file reference (``tests/conversations/agent.py:agent``), so another process
continues its sessions.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from agentlab import Agent, Risk, tool

MARK_ENV = "CONVERSATION_MARK"


@tool(risk=Risk.READ, idempotent=True)
def lookup(topic: Annotated[str, Field(min_length=1, max_length=40)]) -> dict[str, Any]:
    """Look a topic up in the notes. Use it for any question about a topic."""
    if topic == "slow":
        mark = os.environ.get(MARK_ENV)
        if mark:
            Path(mark).touch()
        time.sleep(2.0)
    return {"topic": topic, "notes": f"Everything known about {topic}. " * 12}


@tool(risk=Risk.WRITE, requires_confirmation=True)
def note_down(text: Annotated[str, Field(min_length=1, max_length=200)]) -> dict[str, Any]:
    """Write a line into the notes. A person approves each line first."""
    return {"noted": text}


agent = Agent(
    "notes",
    "answers questions from the notes, and remembers the conversation",
    tools=[lookup, note_down],
)
