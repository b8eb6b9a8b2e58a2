"""The ``begin`` node: the run's state, from what the caller gave."""

from typing import Any

from langgraph.runtime import Runtime

from agentlab.orchestration.context import run_context, served_caller
from agentlab.orchestration.state import AgentState, begin_state
from agentlab.orchestration.visit import Update


async def begin(state: AgentState, runtime: Runtime[Any]) -> Update:
    """Start the run from what the caller gave (the task, maybe a session), for the principal
    of its context (a served run's authenticated caller: never one named in the input)."""
    ctx, caller = run_context(runtime, state), served_caller()
    # A served thread's runs: each its own caller's.
    return {
        **begin_state(state),
        "principal": caller or ctx.principal,
        "started_by": caller or ctx.started_by,
    }
