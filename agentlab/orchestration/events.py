"""What a run reports while it goes: typed events made from LangGraph's stream of node updates."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from agentlab.orchestration.state import ModelCallRecord, PlanStep, StepResult, Transition


@dataclass(frozen=True)
class PlanMade:
    round: int
    steps: list[PlanStep]


@dataclass(frozen=True)
class ModelCalled:
    call: ModelCallRecord


@dataclass(frozen=True)
class ToolCalled:
    result: StepResult


@dataclass(frozen=True)
class StatusChanged:
    transition: Transition


@dataclass(frozen=True)
class ApprovalRequested:
    """The run paused; ``request`` says which call waits and why."""

    run_id: str
    request: dict[str, Any]


@dataclass(frozen=True)
class RunEnded:
    """The stream stopped: the run finished, or paused (status ``awaiting_human``)."""

    run_id: str
    status: str
    outcome: str


RunEvent = PlanMade | ModelCalled | ToolCalled | StatusChanged | ApprovalRequested | RunEnded


def events_from_update(run_id: str, chunk: Mapping[str, Any]) -> Iterator[RunEvent]:
    """Turn one ``stream_mode="updates"`` chunk into events, in the order things happened."""
    for node, update in chunk.items():
        if node == "__interrupt__":
            for intr in update:
                yield ApprovalRequested(run_id, dict(intr.value))
            continue
        if not isinstance(update, Mapping):
            continue
        for call in update.get("model_calls", []):
            yield ModelCalled(call)
        if node == "plan" and update.get("plan"):
            yield PlanMade(update["plan_round"], list(update["plan"]))
        for result in update.get("results", []):
            yield ToolCalled(result)
        for transition in update.get("transitions", []):
            yield StatusChanged(transition)
