"""Where the run goes after each node: small functions of the state, one per node.

They route on ``status``. Before a new planning round or a new step they ask the run's ``Limits``
(from the run context), so no path loops past them: it goes to ``halt`` instead. They are coroutine
functions only so that LangGraph runs them on the event loop rather than in a worker thread.
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END
from langgraph.runtime import Runtime

from agentlab.orchestration.context import RunContext, run_context
from agentlab.orchestration.state import AgentState, Status

End = Literal["__end__"]
_END: End = "__end__"
assert _END == END


def _may_iterate(state: AgentState, runtime: Runtime[RunContext]) -> bool:
    return run_context(runtime).limits.exceeded(iterations=state["iterations"]) is None


def _replan(state: AgentState, runtime: Runtime[RunContext]) -> Literal["plan", "halt"]:
    return "plan" if _may_iterate(state, runtime) else "halt"


def _next_step(state: AgentState, runtime: Runtime[RunContext]) -> Literal["prepare", "halt"]:
    return "prepare" if _may_iterate(state, runtime) else "halt"


async def after_plan(
    state: AgentState, runtime: Runtime[RunContext]
) -> Literal["prepare", "validate", "plan", "halt"] | End:
    match state["status"]:
        case Status.EXECUTING:
            return _next_step(state, runtime)
        case Status.VALIDATING:
            return "validate"
        case Status.PLANNING:
            return _replan(state, runtime)
    return _END


async def after_prepare(
    state: AgentState, runtime: Runtime[RunContext]
) -> Literal["approve", "execute", "plan", "halt"] | End:
    match state["status"]:
        case Status.AWAITING_HUMAN:
            return "approve"
        case Status.EXECUTING:
            return "execute"
        case Status.PLANNING:
            return _replan(state, runtime)
    return _END


async def after_approve(
    state: AgentState, runtime: Runtime[RunContext]
) -> Literal["execute", "plan", "halt"] | End:
    match state["status"]:
        case Status.EXECUTING:
            return "execute"
        case Status.PLANNING:
            return _replan(state, runtime)
    return _END


async def after_execute(
    state: AgentState, runtime: Runtime[RunContext]
) -> Literal["prepare", "validate", "plan", "halt"]:
    match state["status"]:
        case Status.EXECUTING:
            return _next_step(state, runtime)
        case Status.VALIDATING:
            return "validate"
    return _replan(state, runtime)


async def after_validate(
    state: AgentState, runtime: Runtime[RunContext]
) -> Literal["plan", "halt"] | End:
    if state["status"] == Status.PLANNING:
        return _replan(state, runtime)
    return _END
