"""What a run reports while it goes: typed events, emitted by the code that acts.

Nodes and the tool executor emit events through LangGraph's stream writer as plain dicts (so a
LangGraph server can stream them as JSON); ``event_from_dict`` turns them back into these classes.
Every driver (the ``Runner``, a notebook, ``langgraph dev``, a tracer) sees the same stream.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StatusChanged:
    """``transition``: source, target, node, reason, iteration."""

    transition: dict[str, Any]


@dataclass(frozen=True)
class PlanMade:
    round: int
    steps: list[dict[str, Any]]


@dataclass(frozen=True)
class ModelCalled:
    """``call``: the model call's record (role, model, provider, tokens, cost, latency...)."""

    call: dict[str, Any]


@dataclass(frozen=True)
class Escalated:
    """A role of the run escalated to its stronger model (``from_model`` to ``to_model``), and
    why: the planner once validation found the task unfinished (for the rest of the run), the
    executor for another try at arguments that did not fit its tool."""

    run_id: str
    role: str
    from_model: str
    to_model: str
    reason: str


@dataclass(frozen=True)
class ToolCalled:
    """``result``: step_id, tool, arguments, outcome (ok, output, error), duration_s, and what the
    journal did: ``ran``, ``replayed``, ``rerun``, ``recorded`` or ``refused`` (never started)."""

    result: dict[str, Any]


@dataclass(frozen=True)
class ApprovalRequested:
    """The run waits for a human; ``request`` says which call and why."""

    run_id: str
    request: dict[str, Any]


@dataclass(frozen=True)
class ApprovalDecided:
    """A human decided on the call the run waited for; ``stop`` ends the run."""

    run_id: str
    step_id: str
    tool: str
    approved: bool
    note: str
    stop: bool


@dataclass(frozen=True)
class ReplyDelta:
    """A piece of the reply, as the responder model streams it."""

    text: str


@dataclass(frozen=True)
class Replied:
    """The run's reply to the user, whole; ``turn`` is its place in its conversation;
    ``streamed``: it was shown as it arrived (``ReplyDelta``s)."""

    reply: str
    turn: int
    streamed: bool = False


@dataclass(frozen=True)
class RunEnded:
    """A driver's stream stopped: the run finished, or paused (status ``awaiting_human``)."""

    run_id: str
    status: str
    outcome: str


RunEvent = (
    StatusChanged
    | PlanMade
    | ModelCalled
    | Escalated
    | ToolCalled
    | ApprovalRequested
    | ApprovalDecided
    | ReplyDelta
    | Replied
    | RunEnded
)

Emit = Callable[[RunEvent], None]
"""Where code that acts reports what it did."""

_KINDS: dict[str, type[Any]] = {
    "status_changed": StatusChanged,
    "plan_made": PlanMade,
    "model_called": ModelCalled,
    "escalated": Escalated,
    "tool_called": ToolCalled,
    "approval_requested": ApprovalRequested,
    "approval_decided": ApprovalDecided,
    "reply_delta": ReplyDelta,
    "replied": Replied,
    "run_ended": RunEnded,
}
_NAMES = {cls: name for name, cls in _KINDS.items()}
_FIELDS = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in _KINDS.values()}


def event_to_dict(event: RunEvent) -> dict[str, Any]:
    """The event as JSON-ready data: ``{"event": kind, **fields}``."""
    # Shallow on purpose: payloads are already plain data, and a deep copy per event would cost
    # more than the rest of a step's bookkeeping.
    return {"event": _NAMES[type(event)], **{f: getattr(event, f) for f in _FIELDS[type(event)]}}


def event_from_dict(data: Mapping[str, Any]) -> RunEvent | None:
    """The event a dict describes, or ``None`` if it is not one of ours."""
    cls = _KINDS.get(str(data.get("event")))
    if cls is None:
        return None
    event: RunEvent = cls(**{k: data[k] for k in _FIELDS[cls] if k in data})
    return event


def writer_emit(write: Callable[[Any], None]) -> Emit:
    """An ``Emit`` writing events as dicts to a LangGraph stream writer."""

    def emit(event: RunEvent) -> None:
        write(event_to_dict(event))

    return emit
