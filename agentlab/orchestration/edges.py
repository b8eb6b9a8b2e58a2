"""Where the run goes after each node: small functions of the state, one per node.

They route on ``status``. Before a new planning round or a new step they ask the run's ``Limits``
(the run context's, else the graph's default), so no path loops past them: it goes to ``halt``
instead. They are coroutine functions only so that LangGraph runs them on the event loop rather
than in a worker thread.
"""

from typing import Literal

from langgraph.runtime import Runtime

from agentlab.orchestration import schedule
from agentlab.orchestration.context import RunContext, run_context
from agentlab.orchestration.limits import Limits
from agentlab.orchestration.state import AgentState, Status

End = Literal["respond"]
_END: End = "respond"
"""Where every run ends: ``respond`` writes its reply."""


class Routes:
    """The edge functions of a graph whose runs default to ``limits``."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def _may_iterate(self, state: AgentState, runtime: Runtime[RunContext]) -> bool:
        limits = run_context(runtime).limits or self.limits
        return limits.exceeded(iterations=state["iterations"]) is None

    def _replan(self, state: AgentState, runtime: Runtime[RunContext]) -> Literal["plan", "halt"]:
        return "plan" if self._may_iterate(state, runtime) else "halt"

    def _next_step(
        self, state: AgentState, runtime: Runtime[RunContext]
    ) -> Literal["execute", "prepare", "halt"]:
        """Run the calls bound and allowed, else bind the steps ready; unless out of iterations."""
        if not self._may_iterate(state, runtime):
            return "halt"
        return "execute" if schedule.runnable(state["calls"]) else "prepare"

    async def after_plan(
        self, state: AgentState, runtime: Runtime[RunContext]
    ) -> Literal["execute", "prepare", "validate", "plan", "halt"] | End:
        match state["status"]:
            case Status.EXECUTING:
                return self._next_step(state, runtime)
            case Status.VALIDATING:
                return "validate"
            case Status.PLANNING:
                return self._replan(state, runtime)
        return _END

    async def after_prepare(
        self, state: AgentState, runtime: Runtime[RunContext]
    ) -> Literal["approve", "execute", "validate", "plan", "halt"] | End:
        match state["status"]:
            case Status.AWAITING_HUMAN:
                return "approve"
            case Status.EXECUTING:  # calls to run (or steps a later execute binds)
                return "execute"
            case Status.VALIDATING:
                return "validate"
            case Status.PLANNING:
                return self._replan(state, runtime)
        return _END

    async def after_approve(
        self, state: AgentState, runtime: Runtime[RunContext]
    ) -> Literal["approve", "execute", "prepare", "validate", "plan", "halt"] | End:
        match state["status"]:
            case Status.AWAITING_HUMAN:  # the answer was refused, or others still wait: ask
                return "approve"
            case Status.EXECUTING:  # run what was approved, else bind the steps now ready
                if schedule.runnable(state["calls"]):
                    return "execute"
                return self._next_step(state, runtime)
            case Status.VALIDATING:
                return "validate"
            case Status.PLANNING:
                return self._replan(state, runtime)
        return _END

    async def after_execute(
        self, state: AgentState, runtime: Runtime[RunContext]
    ) -> Literal["execute", "prepare", "approve", "validate", "plan", "halt"] | End:
        match state["status"]:
            case Status.AWAITING_HUMAN:  # calls wait for a human (a call's effect is unknown)
                return "approve"
            case Status.EXECUTING:  # the calls it bound, or the steps still to bind
                return self._next_step(state, runtime)
            case Status.VALIDATING:
                return "validate"
            case Status.PLANNING:
                return self._replan(state, runtime)
        return _END

    async def after_validate(
        self, state: AgentState, runtime: Runtime[RunContext]
    ) -> Literal["validate", "plan", "halt"] | End:
        match state["status"]:
            case Status.PLANNING:
                return self._replan(state, runtime)
            case Status.VALIDATING:  # its model answered without a verdict: asked once more
                return "validate"
        return _END
