"""Where the run goes after each node: small functions of the state, one per node.

They route on ``status``. Before a new planning round or a new step they check the iteration cap,
so no path loops past ``max_iterations``: it goes to ``halt`` instead.
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END

from agentlab.orchestration.state import AgentState, Status

End = Literal["__end__"]
_END: End = "__end__"
assert _END == END


def _may_iterate(state: AgentState) -> bool:
    return state["iterations"] < state["max_iterations"]


def _replan(state: AgentState) -> Literal["plan", "halt"]:
    return "plan" if _may_iterate(state) else "halt"


def _next_step(state: AgentState) -> Literal["prepare", "halt"]:
    return "prepare" if _may_iterate(state) else "halt"


def after_plan(state: AgentState) -> Literal["prepare", "validate", "plan", "halt"] | End:
    match state["status"]:
        case Status.EXECUTING:
            return _next_step(state)
        case Status.VALIDATING:
            return "validate"
        case Status.PLANNING:
            return _replan(state)
    return _END


def after_prepare(state: AgentState) -> Literal["approve", "execute", "plan", "halt"] | End:
    match state["status"]:
        case Status.AWAITING_HUMAN:
            return "approve"
        case Status.EXECUTING:
            return "execute"
        case Status.PLANNING:
            return _replan(state)
    return _END


def after_approve(state: AgentState) -> Literal["execute", "plan", "halt"] | End:
    match state["status"]:
        case Status.EXECUTING:
            return "execute"
        case Status.PLANNING:
            return _replan(state)
    return _END


def after_execute(state: AgentState) -> Literal["prepare", "validate", "plan", "halt"]:
    match state["status"]:
        case Status.EXECUTING:
            return _next_step(state)
        case Status.VALIDATING:
            return "validate"
    return _replan(state)


def after_validate(state: AgentState) -> Literal["plan", "halt"] | End:
    if state["status"] == Status.PLANNING:
        return _replan(state)
    return _END
