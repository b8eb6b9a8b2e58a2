"""A run as stored, read back: its record, its latest state, and what it asks a person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentlab.orchestration.limits import Limits
from agentlab.orchestration.requests import Request
from agentlab.orchestration.state import TERMINAL
from agentlab.store import RunRecord


@dataclass(frozen=True)
class RunView:
    """A run as stored: its record, its latest state, the requests it waits on (none unless it
    is paused for a person), and where its models' answers come from."""

    record: RunRecord
    state: dict[str, Any]
    requests: tuple[Request, ...]
    model_source: str

    @property
    def status(self) -> str:
        """The run's status: its state's, unless the state is decided but the run has not
        replied yet (killed between the two): then it has not ended, and reads as the runs
        table has it, until it is resumed."""
        status = str(self.state.get("status", self.record.status))
        if status in TERMINAL and self.state.get("replied") is False:
            return self.record.status
        return status

    @property
    def escalations(self) -> list[dict[str, Any]]:
        """The run's escalations to a role's stronger model, in order (role, from_model,
        to_model, reason; step_id for the executor's): ``len(view.escalations)`` counts them."""
        return [dict(e) for e in self.state.get("escalations") or []]

    @property
    def limits(self) -> Limits:
        return Limits.model_validate(self.record.limits)
