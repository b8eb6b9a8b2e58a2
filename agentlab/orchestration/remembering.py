"""What a turn leaves in episodic memory: its interaction, read from the run's record.

No model is asked: the actions are the run's tool calls (name, arguments, how each went, a
short piece of its output), the outcome its final status, and the importance is read from
what happened (a person asked to decide, a failure, a call that changed something weigh more
than a lookup). The interaction holds tool output when a call returned some (or the turn
recalled an interaction that did): then it is stored as untrusted, like the output itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from agentlab.memory.episodes import Episode
from agentlab.memory.long_term import LongTermMemory
from agentlab.orchestration.nodes.common import recalled_sources
from agentlab.orchestration.replying import this_run
from agentlab.orchestration.state import Status

OUTPUT_CHARS = 160
"""How much of a tool's output an action line keeps."""


def episode_of(
    memory: LongTermMemory,
    *,
    principal: str,
    session: str,
    run_id: str,
    turn: int,
    state: Mapping[str, Any],
    reply: str,
    now: float | None = None,
) -> Episode:
    """The interaction of turn ``turn`` of run ``run_id`` (whose final state is ``state``)."""
    results = this_run(state, "results")
    approvals = this_run(state, "approvals")
    actions = tuple(_action(r) for r in results)
    outcome = str(state.get("status") or "")
    read = [r["tool"] for r in results if r["outcome"].get("ok") and r["outcome"].get("output")]
    sources = tuple(dict.fromkeys([*read, *recalled_sources(state)]))
    importance = 0.2
    if any(r["outcome"].get("ok") for r in results):
        importance += 0.2
    if approvals:
        importance += 0.3
    if outcome == Status.FAILED.value or any(not r["outcome"].get("ok") for r in results):
        importance += 0.2
    at = time.time() if now is None else now
    importance = min(importance, 1.0)
    return Episode(
        agent=memory.agent,
        principal=principal,
        session=session,
        run_id=run_id,
        turn=turn,
        message=str(state.get("task") or ""),
        reply=reply,
        outcome=outcome,
        actions=actions,
        importance=importance,
        at=at,
        expires=memory.episodes.expiry(at, importance),
        trust="tool" if sources else "principal",
        sources=sources,
    )


def _action(result: Mapping[str, Any]) -> str:
    outcome = result["outcome"]
    arguments = json.dumps(result["arguments"], default=str, sort_keys=True)
    if outcome.get("ok"):
        body = json.dumps(outcome.get("output"), default=str)
        if len(body) > OUTPUT_CHARS:
            body = body[:OUTPUT_CHARS] + "…"
        return f"{result['tool']}({arguments}) -> {body}"
    return f"{result['tool']}({arguments}) failed: {outcome.get('error')}"
