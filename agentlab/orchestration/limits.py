"""Run limits: one typed object, stored with the run and checked in one place.

Iterations (planning rounds plus executed steps), how many tool calls run at once, and budgets:
ceilings on tokens and dollars per run, per session and per principal per (UTC) day. The
iteration cap is checked between steps (``edges.py``); budgets before every model call
(``observability.budgets``), against the worst case the call could use.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from agentlab.store.records import Ceiling

# A planning round or a step takes at most five supersteps (prepare, approve, prepare again,
# execute, validate).
_SUPERSTEPS_PER_ITERATION = 5

_Tokens = Annotated[int | None, Field(ge=1)]
_Dollars = Annotated[float | None, Field(gt=0)]


class Limits(BaseModel):
    """Ceilings a run may not pass. A budget left ``None`` is not held (unless configured: the
    ``[budgets]`` settings fill in what a run leaves unset)."""

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
    max_tokens: _Tokens = Field(
        default=None, description="Model tokens per run (in, out and cached)."
    )
    max_usd: _Dollars = Field(default=None, description="Model dollars per run.")
    max_session_tokens: _Tokens = Field(default=None, description="Model tokens per session.")
    max_session_usd: _Dollars = Field(default=None, description="Model dollars per session.")
    max_daily_tokens: _Tokens = Field(
        default=None, description="Model tokens per principal per UTC day, across all their runs."
    )
    max_daily_usd: _Dollars = Field(
        default=None, description="Model dollars per principal per UTC day, across all their runs."
    )
    warn_at: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Warn once spend reaches this fraction of a ceiling (default 0.8).",
    )

    @property
    def warning_fraction(self) -> float:
        return 0.8 if self.warn_at is None else self.warn_at

    def exceeded(self, *, iterations: int) -> str | None:
        """Why the run may not start another iteration, or ``None`` while it may."""
        if iterations >= self.max_iterations:
            return (
                f"budget_exceeded: iteration cap reached: {iterations} of {self.max_iterations} "
                "iterations used before the task was done (max_iterations)"
            )
        return None

    @property
    def recursion_limit(self) -> int:
        """A LangGraph recursion limit that the iteration cap always reaches first."""
        return _SUPERSTEPS_PER_ITERATION * (self.max_iterations + 1) + 10

    def run_ceilings(self, run_id: str) -> list[Ceiling]:
        """The per-run token and dollar ceilings."""
        found = []
        if self.max_usd is not None:
            name = f"per-run dollar ceiling of ${self.max_usd:g} (max_usd)"
            found.append(Ceiling(name, "run", run_id, "usd", self.max_usd))
        if self.max_tokens is not None:
            name = f"per-run token ceiling of {self.max_tokens} tokens (max_tokens)"
            found.append(Ceiling(name, "run", run_id, "tokens", self.max_tokens))
        return found

    def ceilings(
        self, *, run_id: str, principal: str, session: str | None, day: str
    ) -> list[Ceiling]:
        """Every token and dollar ceiling of a run of ``principal`` in ``session`` on ``day``."""
        found = self.run_ceilings(run_id)
        if session is not None:
            if self.max_session_usd is not None:
                name = (
                    f"per-session dollar ceiling of ${self.max_session_usd:g} for session "
                    f"{session} (max_session_usd)"
                )
                found.append(Ceiling(name, "session", session, "usd", self.max_session_usd))
            if self.max_session_tokens is not None:
                name = (
                    f"per-session token ceiling of {self.max_session_tokens} tokens for session "
                    f"{session} (max_session_tokens)"
                )
                found.append(Ceiling(name, "session", session, "tokens", self.max_session_tokens))
        if self.max_daily_usd is not None:
            name = (
                f"daily dollar ceiling of ${self.max_daily_usd:g} for principal {principal} on "
                f"{day} UTC (max_daily_usd)"
            )
            found.append(Ceiling(name, "principal_day", principal, "usd", self.max_daily_usd, day))
        if self.max_daily_tokens is not None:
            name = (
                f"daily token ceiling of {self.max_daily_tokens} tokens for principal "
                f"{principal} on {day} UTC (max_daily_tokens)"
            )
            found.append(
                Ceiling(name, "principal_day", principal, "tokens", self.max_daily_tokens, day)
            )
        return found

    def with_defaults(self, defaults: Limits) -> Limits:
        """These limits, with the budgets they leave unset taken from ``defaults``."""
        unset = {
            name: getattr(defaults, name)
            for name in _BUDGETS
            if getattr(self, name) is None and getattr(defaults, name) is not None
        }
        return self.model_copy(update=unset) if unset else self


_BUDGETS = (
    "max_tokens",
    "max_usd",
    "max_session_tokens",
    "max_session_usd",
    "max_daily_tokens",
    "max_daily_usd",
    "warn_at",
)
