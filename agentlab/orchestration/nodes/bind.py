"""Binding: each ready step of the plan becomes a prepared call, decided once.

A step whose planned arguments are complete is prepared as it is; for one whose arguments are
missing or invalid (an id an earlier step found), the executor model is asked to complete them,
concurrently for the steps that run together. ``ToolExecutor.prepare`` then validates the
arguments into their canonical form, hashes the call and asks the policy, once: the result is
stored with the pending call (``PendingCall``) and recorded (``policy_decisions``). Arguments
the executor model gave that do not fit the tool are asked once more of its stronger model, if it
has one (``escalate.py``); else, or if those do not fit either, the call is refused and its step
fails. ``prepare`` binds the steps a plan makes ready; ``execute`` binds those its calls make
ready, in the same step.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from agentlab.errors import AgentlabError
from agentlab.events import ApprovalRequested, ToolCalled
from agentlab.models.base import ModelResponse, Role
from agentlab.models.calls import ModelCallRecord
from agentlab.models.messages import Message
from agentlab.orchestration import approvals, prompts, schedule, transcript
from agentlab.orchestration.nodes.common import (
    MAX_FORCED_MISSES,
    Parts,
    forced_misses,
    ignored_tool_choice,
    sources,
    together,
    why_unavailable,
)
from agentlab.orchestration.nodes.escalate import record_escalation
from agentlab.orchestration.state import (
    Escalation,
    PendingCall,
    PlanStep,
    PolicyRecord,
    StepResult,
    TranscriptEntry,
    counted_as,
)
from agentlab.orchestration.visit import Update, Visit
from agentlab.tools.calls import CallRefused, CallRequest, PreparedCall, UnknownTool, call_hash
from agentlab.tools.policy import PolicyDecision, Verdict


@dataclass
class Bound:
    """What binding some ready steps gave: their calls, and what it took."""

    calls: list[PendingCall] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    """Steps that could not be bound (the executor model made no call), with why."""
    unavailable: str | None = None
    """Why the run must end: the executor model could not answer (or a budget stopped it, or it
    ignored ``tool_choice`` twice in a row)."""
    logs: Update = field(default_factory=dict)


async def bind_ready(
    parts: Parts,
    visit: Visit,
    ready: Sequence[str],
    *,
    room: int,
    asked: int,
    recent: Sequence[StepResult] = (),
) -> tuple[Bound, list[str]]:
    """Bind at most ``room`` of the ``ready`` steps (in plan order); return what that gave and
    the steps left ready. ``asked`` is how many executor calls the run has made before;
    ``recent`` are results this node recorded that the state does not hold yet."""
    plan = visit.state["plan"]
    taking = [schedule.step_of(plan, s) for s in ready[: max(room, 0)]]
    left = list(ready[len(taking) :])
    if not taking:
        return Bound(), left
    calls: list[_Binding] = []
    asks = 0
    for step in taking:
        binding = _Binding(step)
        try:
            binding.prepared = await parts.executor.prepare(
                _request(step, step["arguments"], visit), visit.ctx.principal
            )
        except UnknownTool as exc:  # gone since the plan (a toolset changed): the step fails
            binding.refused = str(exc)
            binding.arguments = dict(step["arguments"])
        except CallRefused as exc:  # missing or invalid arguments: the executor model fills in
            binding.ask = (str(exc), asked + asks)
            asks += 1
        calls.append(binding)
    limit = asyncio.Semaphore(visit.limits.max_parallel_calls)

    async def complete(binding: _Binding) -> _Binding:
        async with limit:
            return await _complete(parts, visit, binding, recent)

    asking = [b for b in calls if b.ask is not None]
    if asking:
        await together([complete(b) for b in asking])
    called = [b.answers[0] for b in asking if b.answers]
    # Arguments the executor gave that do not fit the tool: its stronger model tries once more.
    escalating = _escalating(parts, visit, asking, called)

    async def escalate(binding: _Binding) -> _Binding:
        async with limit:
            return await _escalate(parts, visit, binding, recent)

    if escalating:
        await together([escalate(b) for b in escalating])
        called += [answer for b in escalating for answer in b.answers[1:]]
    out = Bound()
    logs = {
        "model_calls": [r for b in calls for r in b.records],
        "transcript": [e for b in calls for e in b.transcript],
        "policy_decisions": [decided(visit, b.prepared) for b in calls if b.prepared],
    }
    out.logs = {key: entries for key, entries in logs.items() if entries}
    counts = dict(visit.state["calls_per_role"])
    if asks:
        counts[Role.EXECUTOR.value] = asked + asks
    if escalating:
        key = counted_as(Role.EXECUTOR.value, escalated=True)
        counts[key] = counts.get(key, 0) + len(escalating)
        out.logs["escalations"] = [
            *(visit.state.get("escalations") or []),
            *(b.escalation for b in escalating if b.escalation is not None),
        ]
    if counts != visit.state["calls_per_role"]:
        out.logs["calls_per_role"] = counts
    answered = [b for b in asking if b.response is not None]
    misses, noted = forced_misses(visit, Role.EXECUTOR.value, called)
    out.logs.update(noted)
    if misses >= MAX_FORCED_MISSES:
        last = next(b for b in reversed(answered) if b.tool_use_id is None)
        assert last.response is not None
        out.unavailable = ignored_tool_choice(Role.EXECUTOR.value, last.step["tool"], last.response)
        return out, left
    for b in calls:
        if b.unavailable is not None:
            out.unavailable = b.unavailable
            return out, left
        if b.problem is not None:
            out.failed[b.step["id"]] = b.problem
            continue
        pending = _pending(b, visit)
        out.calls.append(pending)
        if schedule.waiting(pending):
            request = approvals.request_for(b.step, pending)
            visit.emit(ApprovalRequested(visit.ctx.run_id or "", request))
    return out, left


def refused_result(visit: Visit, call: PendingCall) -> StepResult:
    """The result of a call that could not be prepared (the executor model's arguments do not
    fit the tool): refused, never started; emitted as the executor would."""
    error = call.get("refused") or "the call was refused"
    result = StepResult(
        step_id=call["step_id"],
        tool=call["tool"],
        arguments=call["arguments"],
        outcome={"ok": False, "output": None, "error": error},
    )
    visit.emit(ToolCalled({**result, "duration_s": 0.0, "journal": "refused"}))
    return result


@dataclass
class _Binding:
    step: PlanStep
    prepared: PreparedCall | None = None
    ask: tuple[str, int] | None = None
    """Why the planned arguments do not do, and the index of the executor call to ask."""
    refused: str | None = None
    """Why the arguments the executor model gave do not fit the tool."""
    invalid: bool = False
    """The executor model's arguments were refused as invalid (its tool exists)."""
    answers: list[bool] = field(default_factory=list)
    """Of each answer of the executor model (then its stronger one), whether it called the tool."""
    escalation: Escalation | None = None
    arguments: dict[str, object] = field(default_factory=dict)
    tool_use_id: str | None = None
    response: ModelResponse | None = None
    """The executor model's answer, when it was asked and answered."""
    proposal: Message | None = None
    sources: list[str] = field(default_factory=list)
    problem: str | None = None
    unavailable: str | None = None
    records: list[ModelCallRecord] = field(default_factory=list)
    transcript: list[TranscriptEntry] = field(default_factory=list)


def _request(
    step: PlanStep, arguments: dict[str, object], visit: Visit, *extra: str
) -> CallRequest:
    return CallRequest(
        call_id=step["id"],
        tool=step["tool"],
        arguments=arguments,
        planned_destructive=step["destructive"],
        estimated_cost_usd=step["estimated_cost_usd"],
        untrusted_sources=tuple(sources([], [*visit.state.get("plan_sources", []), *extra])),
    )


def _escalating(
    parts: Parts, visit: Visit, asking: Sequence[_Binding], called: Sequence[bool]
) -> list[_Binding]:
    """The bindings whose executor arguments did not fit their tool, to ask again of the
    executor's stronger model (none without one, or when the run ends anyway), each given its
    escalated call's index (in plan order) and its escalation, emitted."""
    misses, _ = forced_misses(visit, Role.EXECUTOR.value, called)
    if any(b.unavailable for b in asking) or misses >= MAX_FORCED_MISSES:
        return []
    escalating = [b for b in asking if b.invalid]
    if not escalating or parts.models.escalated(Role.EXECUTOR) is None:
        return []
    key = counted_as(Role.EXECUTOR.value, escalated=True)
    before = visit.state["calls_per_role"].get(key, 0)
    for number, b in enumerate(escalating):
        step = b.step
        why = f"step {step['id']}: the arguments given for {step['tool']} do not fit: {b.refused}"
        b.escalation = record_escalation(parts, visit, Role.EXECUTOR, why, step_id=step["id"])
        given = json.dumps(b.arguments, default=str)
        b.ask = (f"{b.refused} (in the arguments {given}, given before)", before + number)
    return escalating


async def _escalate(
    parts: Parts, visit: Visit, binding: _Binding, recent: Sequence[StepResult]
) -> _Binding:
    """Ask the executor's stronger model for arguments the executor's own did not fit."""
    first, escalated = binding.response, binding.escalation
    assert first is not None and escalated is not None
    said = f"refused: {binding.refused}; asked again of a stronger model"
    binding.transcript += [
        transcript.entry(visit.node, first.message()),
        *transcript.answer(visit.node, first, said, is_error=True),
    ]
    binding.refused, binding.invalid = None, False
    binding.tool_use_id, binding.proposal = None, None
    return await _complete(parts, visit, binding, recent, escalation=escalated["reason"])


async def _complete(
    parts: Parts,
    visit: Visit,
    binding: _Binding,
    recent: Sequence[StepResult],
    *,
    escalation: str = "",
) -> _Binding:
    """Ask the executor model (its stronger one, given why) for the step's missing arguments,
    then prepare the call."""
    assert binding.ask is not None
    problem, index = binding.ask
    step = binding.step
    shown = _results_for(visit, step, recent)
    request = prompts.executor_request(
        visit.state["task"],
        step,
        await parts.executor.tools.tools(),  # all of them: the same prefix every call
        results=shown,
        problem=problem,
        call=visit.call_info(Role.EXECUTOR.value, index, phase="prepare", escalation=escalation),
        prompts=parts.prompts,
    )
    try:
        response, record = await parts.ask(visit, request)
    except AgentlabError as exc:
        binding.unavailable = why_unavailable(request, exc)
        return binding
    binding.records.append(record)
    binding.response = response
    call = response.tool_call(step["tool"])
    binding.answers.append(call is not None)
    if call is None:
        binding.problem = f"step {step['id']}: the executor did not call {step['tool']}"
        binding.transcript += [
            transcript.entry(visit.node, response.message()),
            *transcript.answer(visit.node, response, binding.problem, is_error=True),
        ]
        return binding
    seen = [r["tool"] for r in shown]  # the executor saw these too
    binding.arguments = {**step["arguments"], **call.arguments}
    binding.tool_use_id = call.id
    binding.proposal = response.message()
    binding.sources = seen
    try:
        binding.prepared = await parts.executor.prepare(
            _request(step, binding.arguments, visit, *seen), visit.ctx.principal
        )
    except UnknownTool as exc:
        binding.refused = str(exc)
    except CallRefused as exc:
        binding.refused, binding.invalid = str(exc), True
    return binding


def _pending(b: _Binding, visit: Visit) -> PendingCall:
    """The bound call as the state keeps it: the prepared call and its decision, or the
    refusal of arguments that do not fit the tool."""
    step = b.step
    if b.prepared is None:
        pending = PendingCall(
            step_id=step["id"],
            tool=step["tool"],
            arguments=dict(b.arguments),
            approval_reasons=[],
            tool_use_id=b.tool_use_id,
            call_hash=call_hash(step["tool"], b.arguments),
            refused=b.refused or "the call was refused",
        )
    else:
        pending = pending_of(b.prepared, tool_use_id=b.tool_use_id)
        pending["untrusted_sources"] = list(b.prepared.request.untrusted_sources)
    if b.proposal is not None:
        pending["proposal"] = b.proposal
    return pending


def pending_of(prepared: PreparedCall, *, tool_use_id: str | None) -> PendingCall:
    """A prepared call as the state keeps it, with its decision."""
    decision = prepared.decision
    pending = PendingCall(
        step_id=prepared.call_id,
        tool=prepared.tool.name,
        arguments=prepared.arguments,
        approval_reasons=list(decision.reasons) if decision.verdict is Verdict.ASK else [],
        tool_use_id=tool_use_id,
        call_hash=prepared.call_hash,
        verdict=decision.verdict.value,
        reasons=list(decision.reasons),
        rule=decision.rule,
    )
    return with_approval_rights(pending, decision)


def with_approval_rights(pending: PendingCall, decision: PolicyDecision) -> PendingCall:
    """``pending`` with who may approve it, as the policy's ``decision`` says."""
    pending["approvers"] = None if decision.approvers is None else list(decision.approvers)
    pending["self_approval"] = decision.self_approval
    return pending


def decided(visit: Visit, prepared: PreparedCall) -> PolicyRecord:
    """What the policy decided of ``prepared``, as the run records it."""
    d = prepared.decision
    return PolicyRecord(
        step_id=prepared.call_id,
        tool=prepared.tool.name,
        call_hash=prepared.call_hash,
        principal=visit.ctx.principal,
        verdict=d.verdict.value,
        reasons=list(d.reasons),
        rule=d.rule,
    )


def _results_for(visit: Visit, step: PlanStep, recent: Sequence[StepResult]) -> list[StepResult]:
    """What the executor model is shown to complete ``step``: the results of the steps it
    depends on, if it names them, else the latest results (as many as a prompt shows)."""
    results = visit.state.get("results", [])
    named = step.get("depends_on")
    if named is None:
        return [*results[-prompts.RECENT_RESULTS :], *recent][-prompts.RECENT_RESULTS :]
    wanted, found = set(named), []
    # Dependencies ran recently: look from the newest, and stop once all are found.
    for r in itertools.chain(reversed(recent), reversed(results)):
        if r["step_id"] in wanted:
            found.append(r)
            wanted.discard(r["step_id"])
            if not wanted:
                break
    return found[::-1]
