"""A run as stored, read back: its record, its latest state, and what it asks a person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentlab.orchestration.limits import Limits
from agentlab.orchestration.requests import Request
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
        return str(self.state.get("status", self.record.status))

    @property
    def limits(self) -> Limits:
        return Limits.model_validate(self.record.limits)
