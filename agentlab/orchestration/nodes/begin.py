"""The ``begin`` node: the run's state, from what the caller gave."""

from agentlab.orchestration.state import AgentState, begin_state
from agentlab.orchestration.visit import Update


async def begin(state: AgentState) -> Update:
    """Start the run from what the caller gave: the task (and maybe principal, session)."""
    return begin_state(state)
