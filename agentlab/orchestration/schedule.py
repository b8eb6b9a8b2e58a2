"""Which steps of a plan may run now: the plan as a graph of dependencies.

A step runs once every step it depends on has run and succeeded. The planner names a step's
dependencies (``depends_on``); a step that names none runs after the step before it, so a plan
without them runs in order. Steps whose dependencies are met run together (``execute`` runs them
concurrently); a step that depends on one that failed, was rejected or was skipped is skipped.

``settled`` maps the step ids of the current plan that are done to how they ended; ``calls`` are
the steps bound to a concrete call and not yet settled (running soon, or waiting for a human).
Everything here is a pure function of the state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from agentlab.orchestration.state import PendingCall, PlanStep


class Settled(StrEnum):
    """How a step of the current plan ended."""

    OK = "ok"
    FAILED = "failed"
    REJECTED = "rejected"
    SKIPPED = "skipped"
    """Never ran: a step it depends on did not succeed."""


def dependencies(plan: Sequence[PlanStep], index: int) -> list[str]:
    """The ids of the steps ``plan[index]`` waits for: those it names, else the step before it."""
    named = plan[index].get("depends_on")
    if named is not None:
        return list(named)
    return [plan[index - 1]["id"]] if index > 0 else []


def runnable(calls: Sequence[PendingCall]) -> list[PendingCall]:
    """Bound calls that may run now: the policy let them through, or a human answered."""
    return [c for c in calls if not waiting(c)]


def awaiting(calls: Sequence[PendingCall]) -> list[PendingCall]:
    """Bound calls that wait for a human's decision."""
    return [c for c in calls if waiting(c)]


def waiting(call: PendingCall) -> bool:
    """Whether ``call`` waits for a human: it needs approval and has none yet, or its effect is
    unknown and nobody has said what happened."""
    if call.get("unknown_attempt") is not None:
        return True
    if call.get("resolution") is not None:  # a human said what became of it
        return False
    return bool(call["approval_reasons"]) and not call.get("approved", False)


@dataclass(frozen=True, slots=True)
class Progress:
    """Where the current plan stands."""

    ready: list[PlanStep]
    """Steps whose dependencies all succeeded, not yet bound to a call, in plan order."""
    skipped: dict[str, str]
    """Steps newly found unable to run (a dependency did not succeed), to add to ``settled``."""
    done: bool
    """Every step succeeded."""


def progress(
    plan: Sequence[PlanStep], settled: Mapping[str, str], calls: Sequence[PendingCall]
) -> Progress:
    """What can happen next in ``plan``, given the steps ``settled`` and the ``calls`` bound."""
    ended = dict(settled)
    bound = {c["step_id"] for c in calls}
    ready: list[PlanStep] = []
    skipped: dict[str, str] = {}
    for i, step in enumerate(plan):  # dependencies come earlier: one pass settles them
        if step["id"] in ended or step["id"] in bound:
            continue
        needs = [ended.get(d) for d in dependencies(plan, i)]
        if any(n is not None and n != Settled.OK for n in needs):
            ended[step["id"]] = skipped[step["id"]] = Settled.SKIPPED.value
        elif all(n == Settled.OK for n in needs):
            ready.append(step)
    done = all(ended.get(s["id"]) == Settled.OK for s in plan)
    return Progress(ready=ready, skipped=skipped, done=done)


def order(plan: Sequence[PlanStep], calls: Sequence[PendingCall]) -> list[PendingCall]:
    """``calls`` in plan order."""
    place = {s["id"]: i for i, s in enumerate(plan)}
    return sorted(calls, key=lambda c: place.get(c["step_id"], len(place)))


def dependency_problem(depends_on: Sequence[int], number: int) -> str | None:
    """Why step ``number`` (1-based) may not depend on ``depends_on``, or ``None``."""
    wrong = sorted({d for d in depends_on if not 1 <= d < number})
    if wrong:
        listed = ", ".join(map(str, wrong))
        return (
            f"step {number} depends on step(s) {listed}: a step may depend only on earlier "
            "steps of the plan, by their number (1 is the first)"
        )
    return None
