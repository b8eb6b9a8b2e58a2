"""Scripts of whole sessions: per role, the answers of every turn, in order."""

from __future__ import annotations

import json
from typing import Any

from tests.scripts import plan, step, verdict

SLOW_TURN = 150
"""The turn whose lookup takes a while (a test kills the session's process during it)."""


def session_script(turns: int, *, slow_turn: int = SLOW_TURN) -> str:
    """``turns`` turns: odd ones look a topic up (plan, verdict, reply), even ones are answered
    by the planner directly from the conversation; the summarizer has an answer for every fold."""
    planner: list[dict[str, Any]] = []
    validator: list[dict[str, Any]] = []
    responder: list[dict[str, Any]] = []
    for n in range(1, turns + 1):
        if n % 2 or n == slow_turn:
            topic = "slow" if n == slow_turn else f"topic-{n}"
            planner.append(plan(step("lookup", topic=topic)))
            validator.append(verdict(True, f"{topic} was looked up"))
            responder.append({"text": f"Turn {n}: here is what the notes say about {topic}."})
        else:
            reply = f"Turn {n}: as I said in turn {n - 1}, that is all the notes hold."
            planner.append({"tool_use": {"name": "submit_plan", "input": {"reply": reply}}})
    summarizer = [
        {"text": f"Summary {i}: the user asked about topics, one per turn; each was looked up."}
        for i in range(1, turns + 1)
    ]
    roles = {
        "planner": planner,
        "executor": [],
        "validator": validator,
        "responder": responder,
        "summarizer": summarizer,
    }
    return json.dumps({"description": f"a session of {turns} turns", "roles": roles})


def message(n: int) -> str:
    """What the user says at turn ``n``."""
    if n % 2 or n == SLOW_TURN:
        return f"What do the notes say about topic {n}?"
    return "And is that all?"
