"""Run limits: one typed object, stored with the run and checked in one place.

Iterations (planning rounds plus executed steps) and how many tool calls run at once; token and
dollar budgets join it later.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# A planning round or a step takes at most five supersteps (prepare, approve, prepare again,
# execute, validate).
_SUPERSTEPS_PER_ITERATION = 5


class Limits(BaseModel):
    """Ceilings a run may not pass."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_iterations: Annotated[
        int, Field(ge=1, le=100_000, description="Planning rounds plus executed steps per run.")
    ] = 10
    max_parallel_calls: Annotated[
        int,
        Field(
            ge=1,
            le=256,
            description="Tool calls (and executor-model calls binding them) run at once, "
            "for steps of a plan whose dependencies are done.",
        ),
    ] = 4

    def exceeded(self, *, iterations: int) -> str | None:
        """Why the run may not start another iteration, or ``None`` while it may."""
        if iterations >= self.max_iterations:
            return (
                f"iteration cap reached: {iterations} of {self.max_iterations} iterations used "
                "before the task was done"
            )
        return None

    @property
    def recursion_limit(self) -> int:
        """A LangGraph recursion limit that the iteration cap always reaches first."""
        return _SUPERSTEPS_PER_ITERATION * (self.max_iterations + 1) + 10
