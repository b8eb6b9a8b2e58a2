"""Which steps of a plan may run now: the plan as a graph of dependencies, kept incrementally.

A step runs once every step it depends on has run and succeeded. The planner names a step's
dependencies (``depends_on``); a step that names none runs after the step before it, so a plan
without them runs in order. Steps whose dependencies are met run together (``execute`` runs them
concurrently); a step that depends on one that failed, was rejected or was skipped is skipped.

The run's state keeps what changes step by step: ``settled`` (step id -> how it ended), ``ready``
(steps whose dependencies succeeded, not yet bound), and ``calls`` (steps bound to a concrete call,
not yet settled); ``unblocks`` (step id -> the later steps that depend on it) is computed once per
plan. So a step's bookkeeping looks only at the steps it unblocks, never at the whole plan: the
cost of a step does not grow with the plan. Everything here is a pure function of the state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum

from agentlab.orchestration.state import PendingCall, PlanStep


class Settled(StrEnum):
    """How a step of the current plan ended."""

    OK = "ok"
    FAILED = "failed"
    REJECTED = "rejected"
    SKIPPED = "skipped"
    """Never ran: a step it depends on did not succeed."""


def index_of(step_id: str) -> int:
    """The place of step ``round.number`` in its plan (0-based)."""
    return int(step_id.rpartition(".")[2]) - 1


def step_of(plan: Sequence[PlanStep], step_id: str) -> PlanStep:
    """The step of ``plan`` with id ``step_id``, found by its number."""
    step = plan[index_of(step_id)]
    assert step["id"] == step_id, f"step {step_id} is not in the current plan"
    return step


def dependencies(plan: Sequence[PlanStep], index: int) -> list[str]:
    """The ids of the steps ``plan[index]`` waits for: those it names, else the step before it."""
    named = plan[index].get("depends_on")
    if named is not None:
        return list(named)
    return [plan[index - 1]["id"]] if index > 0 else []


def unblocks(plan: Sequence[PlanStep]) -> dict[str, list[str]]:
    """For each step, the later steps that depend on it (once per plan)."""
    out: dict[str, list[str]] = {s["id"]: [] for s in plan}
    for i, step in enumerate(plan):
        for d in dependencies(plan, i):
            out[d].append(step["id"])
    return out


def roots(plan: Sequence[PlanStep]) -> list[str]:
    """The steps that depend on none: ready as soon as the plan is made."""
    return [s["id"] for i, s in enumerate(plan) if not dependencies(plan, i)]


def recovered(
    plan: Sequence[PlanStep], settled: Mapping[str, str], calls: Sequence[PendingCall]
) -> tuple[dict[str, list[str]], list[str]]:
    """``unblocks`` and ``ready`` for a run checkpointed before the state kept them (a run paused
    across an upgrade): worked out from the plan once, then kept."""
    bound = {c["step_id"] for c in calls}
    ready = [
        s["id"]
        for i, s in enumerate(plan)
        if s["id"] not in settled
        and s["id"] not in bound
        and all(settled.get(d) == Settled.OK for d in dependencies(plan, i))
    ]
    return unblocks(plan), ready


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
    return bool(call["approval_reasons"]) and not call.get("approved", False)


def after_settling(
    plan: Sequence[PlanStep],
    unblocked: Mapping[str, Sequence[str]],
    settled: Mapping[str, str],
    newly: Mapping[str, str],
    ready: Sequence[str],
) -> tuple[list[str], dict[str, str]]:
    """What the steps ``newly`` settled (id -> how) change: the steps now ready (``ready`` with
    those they unblocked, in plan order) and the steps to skip (their dependency did not
    succeed, directly or through another skipped step). ``settled`` holds the earlier ones."""
    ended = _Overlay(dict(newly), settled)  # no copy of ``settled``: it holds the whole run
    now_ready = list(ready)
    skipped: dict[str, str] = {}
    failed = [s for s, how in newly.items() if how != Settled.OK]
    while failed:
        for d in unblocked.get(failed.pop(), ()):
            if d not in ended:
                ended[d] = skipped[d] = Settled.SKIPPED.value
                failed.append(d)
    for s, how in newly.items():
        if how != Settled.OK:
            continue
        for d in unblocked.get(s, ()):
            if d in ended or d in now_ready:
                continue
            needs = dependencies(plan, index_of(d))
            if all(ended.get(n) == Settled.OK for n in needs):
                now_ready.append(d)
    return sorted(now_ready, key=index_of), skipped


class _Overlay:
    """``settled`` with newer entries over it, read and written without copying it."""

    def __init__(self, newer: dict[str, str], settled: Mapping[str, str]) -> None:
        self._newer, self._settled = newer, settled

    def get(self, step_id: str) -> str | None:
        return self._newer.get(step_id) or self._settled.get(step_id)

    def __contains__(self, step_id: str) -> bool:
        return step_id in self._newer or step_id in self._settled

    def __setitem__(self, step_id: str, how: str) -> None:
        self._newer[step_id] = how


def succeeded(plan: Sequence[PlanStep], settled: Mapping[str, str]) -> bool:
    """Every step of ``plan`` succeeded (asked once, when nothing of it is left to do)."""
    return all(settled.get(s["id"]) == Settled.OK for s in plan)


def order(calls: Sequence[PendingCall]) -> list[PendingCall]:
    """``calls`` in plan order."""
    return sorted(calls, key=lambda c: index_of(c["step_id"]))


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
