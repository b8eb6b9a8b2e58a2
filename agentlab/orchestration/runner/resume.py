"""What resuming a run means, decided from its checkpoint (never from the runs table, a copy).

A run paused for a person takes a decision bound to the request it shows (or ends, if it was
killed meanwhile); a run killed before its first checkpoint starts again from its task; one killed
mid-step goes on from its last checkpoint (its journal replays what ran: no tool call runs twice).
"""

from __future__ import annotations

import logging
from typing import Any

from langgraph.types import Command

from agentlab.errors import Fix, RunStateError
from agentlab.orchestration.approvals import as_decisions
from agentlab.orchestration.context import RunContext
from agentlab.orchestration.requests import (
    Decision,
    DecisionRefused,
    approver_problem,
    describe_request,
)
from agentlab.orchestration.runner.reading import Graph, replied, snapshot
from agentlab.orchestration.state import initial_state
from agentlab.store import RunRecord, RunStore

log = logging.getLogger(__name__)


async def resume_payload(
    store: RunStore,
    record: RunRecord,
    graph: Graph,
    ctx: RunContext,
    decision: Decision | list[Decision] | None,
    prompts: str | None = None,
) -> Any:
    """What the graph is resumed with: the decision (as a ``Command``), the task again, or
    nothing (go on from the checkpoint). Raises ``RunStateError`` when the run cannot be resumed
    so, ``DecisionRefused`` for a decision that does not answer what it waits for. A run that
    started with another version of the prompts than ``prompts`` (the graph's) is logged."""
    run_id = record.run_id
    state = await snapshot(graph, ctx)
    started = state.values.get("prompt_version")
    if prompts is not None and started is not None and started != prompts:
        log.warning(
            "run %s started with the prompt version %r and goes on with %r, this process's",
            run_id,
            started,
            prompts,
        )
    status = state.values.get("status", record.status)
    if state.interrupts:
        waiting = state.interrupts[0].value
        killed = await store.killed(run_id) if decision is None else None
        if killed is not None:
            # Killed while it waited: the approve node ends it before asking anyone.
            return Command(resume={"killed": True})
        if decision is None:
            raise RunStateError(
                f"run {run_id} is waiting for a decision on {describe_request(waiting)}",
                fix=Fix.DECIDE,
                run_id=run_id,
            )
        try:
            # What the approve node will accept, from whom.
            for request, decided in as_decisions(waiting, decision):
                problem = approver_problem(request, decided, record.principal)
                if problem is not None:
                    raise DecisionRefused(problem)
        except DecisionRefused as exc:
            raise DecisionRefused(f"run {run_id}: {exc}") from None
        return Command(resume=decision)
    if replied(state):
        raise RunStateError(f"run {run_id} has ended ({status}): there is nothing to resume")
    if decision is not None:
        raise RunStateError(
            f"run {run_id} is not waiting for a decision (status {status})",
            fix=Fix.CONTINUE,
            run_id=run_id,
        )
    if not state.values:  # killed before its first checkpoint: start again from the task
        return initial_state(record.task)
    # A run killed after a node's writes were saved but before the next checkpoint shows no
    # next node; given no input, LangGraph applies those writes and goes on.
    return None
