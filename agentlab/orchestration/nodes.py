"""The nodes of the agent graph: async functions of the state that return partial updates.

Each node sets ``status`` and, when it changes the course of the run, records a ``Transition`` with
its reason and emits it; the edges in ``edges.py`` route on ``status``. Nodes never raise for a
model's mistake or an unavailable model: the first re-plans, the second ends the run ``failed``
with the reason. Run-level facts (run id, principal, limits) come from the run context; models and
tools from the agent the graph was built for. Each node first ends a run killed from another
process (the run context's ledger holds the flag), and every model call goes through the run's
``Budget``: a call that could cross a ceiling is not made, and the run ends ``budget_exceeded``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from langgraph.runtime import Runtime
from pydantic import ValidationError

from agentlab.errors import AgentlabError
from agentlab.events import (
    ApprovalRequested,
    ModelCalled,
    PlanMade,
    writer_emit,
)
from agentlab.models.base import ModelRequest, ModelResponse, Role
from agentlab.models.calls import ModelCallRecord
from agentlab.models.messages import Message
from agentlab.models.router import ModelRouter
from agentlab.observability.budgets import Budget, BudgetExceeded
from agentlab.observability.ledger import utc_day
from agentlab.orchestration import approvals, prompts, schedule, transcript
from agentlab.orchestration.agent import Agent, Evidence
from agentlab.orchestration.context import RunContext, run_context
from agentlab.orchestration.deps import Deps
from agentlab.orchestration.limits import Limits
from agentlab.orchestration.state import (
    AgentState,
    PendingCall,
    PlanStep,
    PolicyRecord,
    Status,
    StepResult,
    TranscriptEntry,
    begin_state,
)
from agentlab.orchestration.visit import Update, Visit
from agentlab.tools.executor import CallRequest, CallScope, ToolExecutor
from agentlab.tools.journal import Resolution, UnknownSideEffect
from agentlab.tools.policy import ProposedCall, Verdict
from agentlab.tools.tool import Risk, Tool, ToolOutcome, format_validation_error

log = logging.getLogger(__name__)
T = TypeVar("T")


class AgentNodes:
    """The nodes of one agent's graph, holding what they share: its models, tools and deps."""

    def __init__(
        self,
        agent: Agent,
        models: ModelRouter,
        executor: ToolExecutor,
        *,
        limits: Limits,
        deps: Deps,
    ) -> None:
        self.agent = agent
        self.models = models
        self.executor = executor
        self.limits = limits
        self._deps = deps

    @staticmethod
    def _visit(node: str, state: AgentState, runtime: Runtime[RunContext]) -> Visit:
        return Visit(node, state, run_context(runtime, state), writer_emit(runtime.stream_writer))

    def _budget(self, visit: Visit) -> Budget:
        """What holds the model calls of ``visit`` to the run's ceilings: the run's ledger
        (every ceiling, reserved in the store) when the run context has one, else its state
        (the per-run ceilings)."""
        limits = visit.ctx.limits or self.limits
        ctx = visit.ctx
        run_id = ctx.run_id or ""
        if ctx.ledger is None:
            ceilings = limits.run_ceilings(run_id)
        else:
            day = utc_day()
            ceilings = limits.ceilings(
                run_id=run_id, principal=ctx.principal, session=ctx.session, day=day
            )
        return Budget(ceilings, ctx.ledger, _spent(visit.state), warn_at=limits.warning_fraction)

    async def _call(
        self, visit: Visit, request: ModelRequest, budget: Budget | None = None
    ) -> tuple[ModelResponse, ModelCallRecord]:
        """Ask the request's role's model, within the run's budgets (``BudgetExceeded`` if the
        call could cross one: then it is not made)."""
        budget = budget or self._budget(visit)
        model = self.models.for_role(request.role)
        return await budget.call(request, model, _phase(visit), lambda: self.models.call(request))

    async def _killed(self, visit: Visit) -> Update | None:
        """The run's end if it was killed (``agentlab kill``) since its last step."""
        if visit.ctx.ledger is None:
            return None
        reason = await visit.ctx.ledger.killed()
        if reason is None:
            return None
        return visit.move(Status.FAILED, reason, outcome=reason, calls=[])

    async def _ask(self, visit: Visit, request: ModelRequest) -> tuple[ModelResponse, Update]:
        """Call the role's model; return its response and the updates recording the call."""
        response, record = await self._call(visit, request)
        visit.emit(ModelCalled(dict(record)))
        role = request.role.value
        counts = {**visit.state["calls_per_role"], role: request.call.index + 1}
        return response, {
            "model_calls": [record],
            "transcript": [transcript.entry(visit.node, response.message())],
            "calls_per_role": counts,
        }

    @staticmethod
    def _unavailable(
        visit: Visit, request: ModelRequest, exc: AgentlabError, **changes: Any
    ) -> Update:
        """End the run: a model that cannot answer (or may not: a budget) is a failure to
        report, not to hide."""
        if isinstance(exc, BudgetExceeded):
            reason = exc.reason
        else:
            reason = f"{request.role.value} unavailable: {exc}"
        return visit.move(Status.FAILED, reason, outcome=reason, **changes)

    async def deps(self, ctx: RunContext) -> Any:
        """What the agent's ``deps`` factory builds for the run's options, or ``None``."""
        if self.agent.deps is None:
            return None
        return await self._deps.get(self.agent.deps, ctx.options)

    # --- nodes ------------------------------------------------------------------------------

    async def begin(self, state: AgentState) -> Update:
        """Start the run from what the caller gave: the task (and maybe principal, session)."""
        return begin_state(state)

    async def plan(self, state: AgentState, runtime: Runtime[RunContext]) -> Update:
        """Ask the planner for the steps that (still) accomplish the task."""
        visit = self._visit("plan", state, runtime)
        if (killed := await self._killed(visit)) is not None:
            return killed
        iterations = state["iterations"] + 1
        plan_round = state["plan_round"] + 1
        try:
            tools = await self.executor.tools.tools()
        except Exception as exc:  # a toolset that cannot list its tools: the run cannot go on
            log.exception("the toolsets of agent %s could not list their tools", self.agent.name)
            reason = f"could not list {self.agent.name}'s tools: {type(exc).__name__}: {exc}"
            return visit.move(Status.FAILED, reason, iterations=iterations, outcome=reason)
        catalog = [
            (t, self.executor.policy.decide(ProposedCall(t, principal=visit.ctx.principal)))
            for t in tools
        ]
        request = prompts.planner_request(
            (self.agent.name, self.agent.purpose),
            catalog,
            state["task"],
            results=state.get("results", []),
            approvals=state.get("approvals", []),
            feedback=state["feedback"],
            call=visit.call_info("planner"),
        )
        try:
            response, logs = await self._ask(visit, request)
        except AgentlabError as exc:
            return self._unavailable(visit, request, exc, iterations=iterations)

        def replan(problem: str) -> Update:
            logs["transcript"] += transcript.answer(visit.node, response, problem, is_error=True)
            return visit.move(
                Status.PLANNING,
                f"unusable plan: {problem}",
                iterations=iterations,
                plan_round=plan_round,
                feedback=problem,
                **logs,
            )

        call = response.tool_call(prompts.SUBMIT_PLAN.name)
        if call is None:
            return replan("the planner did not call submit_plan")
        try:
            submission = prompts.PlanSubmission.model_validate(call.arguments)
        except ValidationError as exc:
            return replan(f"submit_plan arguments are invalid: {format_validation_error(exc)}")
        if submission.give_up:
            reason = f"planner gave up: {submission.give_up}"
            logs["transcript"] += transcript.answer(
                visit.node, response, "noted: the task is given up"
            )
            return visit.move(
                Status.FAILED,
                reason,
                iterations=iterations,
                plan_round=plan_round,
                outcome=reason,
                **logs,
            )
        by_name = {t.name: t for t in tools}
        unknown = sorted({s.tool for s in submission.steps if s.tool not in by_name})
        if unknown:
            return replan(f"unknown tool(s) {', '.join(unknown)}; use only {', '.join(by_name)}")

        for number, s in enumerate(submission.steps, start=1):
            problem = schedule.dependency_problem(s.depends_on or [], number)
            if problem:
                return replan(problem)
        steps = [
            _plan_step(plan_round, i, s, by_name[s.tool])
            for i, s in enumerate(submission.steps, start=1)
        ]
        logs["transcript"] += transcript.answer(
            visit.node, response, f"plan {plan_round} accepted: {len(steps)} step(s)"
        )
        visit.emit(PlanMade(plan_round, [dict(s) for s in steps]))
        common = dict(
            iterations=iterations,
            plan=steps,
            plan_round=plan_round,
            settled={},
            calls=[],
            feedback="",
            plan_sources=_sources(state.get("results", [])),  # what the planner saw
            **logs,
        )
        if not steps:
            return visit.move(Status.VALIDATING, "the planner found nothing left to do", **common)
        names = ", ".join(s["tool"] for s in steps)
        return visit.move(
            Status.EXECUTING, f"plan {plan_round}: {len(steps)} step(s): {names}", **common
        )

    async def prepare(self, state: AgentState, runtime: Runtime[RunContext]) -> Update:
        """Bind each step whose dependencies are done to a concrete call (asking the executor
        model, concurrently, only for missing arguments), then ask the policy about each."""
        visit = self._visit("prepare", state, runtime)
        if (killed := await self._killed(visit)) is not None:
            return killed
        plan = state["plan"]
        limits = visit.ctx.limits or self.limits
        calls = list(state["calls"])
        # Never bind more steps than the iterations left can run.
        room = limits.max_iterations - state["iterations"] - len(schedule.runnable(calls))
        ready = schedule.progress(plan, state["settled"], calls).ready[: max(room, 0)]
        tools: dict[str, Tool] = {}
        for step in ready:
            tool = await self.executor.tools.get(step["tool"])
            assert tool is not None, "plan() admits only known tools"
            tools[step["tool"]] = tool
        # Steps missing arguments ask the executor model, each its own call (in plan order).
        first = state["calls_per_role"].get(Role.EXECUTOR.value, 0)
        asks: dict[str, tuple[str, int]] = {}
        for step in ready:
            problem = tools[step["tool"]].invalid_arguments(dict(step["arguments"]))
            if problem:
                asks[step["id"]] = (problem, first + len(asks))
        limit = asyncio.Semaphore(limits.max_parallel_calls)
        budget = self._budget(visit)  # one for the concurrent calls: each sees the others

        async def bind(step: PlanStep) -> _Binding:
            async with limit:
                return await self._bind(
                    visit, step, tools[step["tool"]], asks.get(step["id"]), budget
                )

        bindings = await _together([bind(step) for step in ready])
        logs: Update = {
            "model_calls": [r for b in bindings for r in b.records],
            "transcript": [e for b in bindings for e in b.transcript],
            "policy_decisions": [b.policy for b in bindings if b.policy is not None],
        }
        if asks:
            logs["calls_per_role"] = {
                **state["calls_per_role"],
                Role.EXECUTOR.value: first + len(asks),
            }
        for b in bindings:
            if b.unavailable is not None:
                return visit.move(Status.FAILED, b.unavailable, outcome=b.unavailable, **logs)
        settled = dict(state["settled"])
        feedback = state["feedback"]
        for b in bindings:
            if b.problem is not None:
                settled[b.step["id"]] = schedule.Settled.FAILED.value
                feedback = _also(feedback, b.problem)
        bound = [b.call for b in bindings if b.call is not None]
        for b in bindings:
            if b.call is not None and schedule.waiting(b.call):
                request = approvals.request_for(b.step, b.call)
                visit.emit(ApprovalRequested(visit.ctx.run_id or "", request))
        calls = schedule.order(plan, [*calls, *bound])
        return _onward(visit, settled, calls, feedback, logs)

    async def _bind(
        self,
        visit: Visit,
        step: PlanStep,
        tool: Tool,
        ask: tuple[str, int] | None,
        budget: Budget | None = None,
    ) -> _Binding:
        """``step`` as a concrete call, with what the policy says of it; ``ask`` (the problem
        with the planned arguments, and the call's index) asks the executor model to complete
        them."""
        arguments = dict(step["arguments"])
        sources = list(visit.state.get("plan_sources", []))  # tool output the planner had seen
        tool_use_id: str | None = None
        proposal: Message | None = None
        out = _Binding(step)
        if ask is not None:
            problem, index = ask
            shown = _results_for(visit.state, step)
            request = prompts.executor_request(
                visit.state["task"],
                step,
                await self.executor.tools.tools(),  # all of them: the same prefix every call
                results=shown,
                problem=problem,
                call=visit.call_info(Role.EXECUTOR.value, index),
            )
            try:
                response, record = await self._call(visit, request, budget)
            except BudgetExceeded as exc:
                out.unavailable = exc.reason
                return out
            except AgentlabError as exc:
                out.unavailable = f"{request.role.value} unavailable: {exc}"
                return out
            visit.emit(ModelCalled(dict(record)))
            out.records.append(record)
            call = response.tool_call(tool.name)
            if call is None:
                out.problem = f"step {step['id']}: the executor did not call {tool.name}"
                out.transcript += [
                    transcript.entry(visit.node, response.message()),
                    *transcript.answer(visit.node, response, out.problem, is_error=True),
                ]
                return out
            arguments = {**arguments, **call.arguments}
            tool_use_id = call.id
            proposal = response.message()
            sources = _sources(shown, sources)  # the executor saw these too

        decision = self.executor.decide(
            tool,
            _call_request(step, arguments, approved=False, untrusted_sources=sources),
            visit.ctx.principal,
        )
        call_hash = self.executor.call_hash(tool, arguments)
        out.policy = PolicyRecord(
            step_id=step["id"],
            tool=tool.name,
            call_hash=call_hash,
            principal=visit.ctx.principal,
            verdict=decision.verdict.value,
            reasons=list(decision.reasons),
            rule=decision.rule,
        )
        out.call = PendingCall(
            step_id=step["id"],
            tool=tool.name,
            arguments=arguments,
            approval_reasons=list(decision.reasons) if decision.verdict is Verdict.ASK else [],
            tool_use_id=tool_use_id,
            call_hash=call_hash,
            untrusted_sources=sources,
        )
        if proposal is not None:
            out.call["proposal"] = proposal
        return out

    async def approve(self, state: AgentState, runtime: Runtime[RunContext]) -> Update:
        """Pause for a human's decisions on the calls that wait for one (``approvals.py``)."""
        visit = self._visit("approve", state, runtime)
        if (killed := await self._killed(visit)) is not None:  # before asking: a killed run ends
            return killed
        plan = state["plan"]
        calls = state["calls"]
        tools = {c["tool"]: await self.executor.tools.get(c["tool"]) for c in calls}

        def hash_call(call: PendingCall, arguments: dict[str, Any]) -> str:
            tool = tools.get(call["tool"])  # as execute will, for edited calls
            return self.executor.call_hash(tool, arguments) if tool else call["tool"]

        steps = {s["id"]: s for s in plan}
        answers = approvals.ask(visit, steps, schedule.awaiting(calls), hash_call)
        if answers.refused is not None:
            return visit.move(Status.AWAITING_HUMAN, f"decision refused: {answers.refused}")
        calls = schedule.order(plan, [*schedule.runnable(calls), *answers.calls])
        logs: Update = {"approvals": answers.approvals, "transcript": answers.transcript}
        said = "; ".join(answers.said)
        if answers.stop is not None:
            return visit.move(Status.FAILED, answers.stop, calls=[], outcome=answers.stop, **logs)
        settled = {
            **state["settled"],
            **{step_id: schedule.Settled.REJECTED.value for step_id in answers.rejected},
        }
        feedback = state["feedback"]
        for problem in answers.feedback:
            feedback = _also(feedback, problem)
        return _onward(visit, settled, calls, feedback, logs, said=said)

    async def execute(self, state: AgentState, runtime: Runtime[RunContext]) -> Update:
        """Run the calls that may run, concurrently (at most ``max_parallel_calls`` at once),
        through the tool executor (which asks the policy again); record them in plan order."""
        visit = self._visit("execute", state, runtime)
        if (killed := await self._killed(visit)) is not None:
            return killed
        limits = visit.ctx.limits or self.limits
        steps = {s["id"]: s for s in state["plan"]}
        calls = list(state["calls"])
        running = schedule.runnable(calls)
        try:
            deps = await self.deps(visit.ctx)
        except Exception as exc:  # the run cannot do its job: say so, never crash the process
            log.exception("the deps of agent %s could not be opened", self.agent.name)
            reason = (
                f"could not open what {self.agent.name}'s tools need: {type(exc).__name__}: {exc}"
            )
            return visit.move(Status.FAILED, reason, outcome=reason)
        scope = CallScope(
            run_id=visit.ctx.run_id or "",
            principal=visit.ctx.principal,
            session=visit.ctx.session,
            deps=deps,
            lease=visit.ctx.lease,
        )
        limit = asyncio.Semaphore(limits.max_parallel_calls)

        async def run(call: PendingCall) -> tuple[str, ToolOutcome | UnknownSideEffect]:
            fingerprint = await self._fingerprint(call)
            request = _call_request(
                steps[call["step_id"]],
                call["arguments"],
                approved=_approved(state, call, fingerprint),
                failed_before=fingerprint in state["failed_calls"],
                resolution=call.get("resolution"),
                untrusted_sources=call.get("untrusted_sources", []),
            )
            async with limit:
                try:
                    return fingerprint, await self.executor.run(request, scope, visit.emit)
                except UnknownSideEffect as exc:
                    return fingerprint, exc

        outcomes = await _together([run(call) for call in running])
        settled = dict(state["settled"])
        feedback = state["feedback"]
        results: list[StepResult] = []
        entries: list[TranscriptEntry] = []
        failed: list[str] = []
        for call, (fingerprint, outcome) in zip(running, outcomes, strict=True):
            calls.remove(call)
            if isinstance(outcome, UnknownSideEffect):
                calls.append(self._ask_about(visit, steps[call["step_id"]], call, outcome))
                continue
            results.append(
                StepResult(
                    step_id=call["step_id"],
                    tool=call["tool"],
                    arguments=call["arguments"],
                    outcome=outcome,
                )
            )
            proposal = call.get("proposal")
            if proposal is not None:
                entries.append(transcript.entry(visit.node, proposal))
            shown = outcome["output"] if outcome["ok"] else {"error": outcome["error"]}
            entries += transcript.call_result(visit.node, call, shown, is_error=not outcome["ok"])
            if outcome["ok"]:
                settled[call["step_id"]] = schedule.Settled.OK.value
            else:
                settled[call["step_id"]] = schedule.Settled.FAILED.value
                failed.append(fingerprint)
                feedback = _also(
                    feedback, f"step {call['step_id']} {call['tool']} failed: {outcome['error']}"
                )
        logs: Update = {
            "results": results,
            "transcript": entries,
            "iterations": state["iterations"] + len(results),
        }
        if failed:
            logs["failed_calls"] = [*state["failed_calls"], *failed]
        return _onward(visit, settled, schedule.order(state["plan"], calls), feedback, logs)

    async def _fingerprint(self, call: PendingCall) -> str:
        """The call's hash, as the executor computes it (``failed_calls`` and approvals use it)."""
        tool = await self.executor.tools.get(call["tool"])
        if tool is None:
            return call.get("call_hash", call["tool"])
        return self.executor.call_hash(tool, call["arguments"])

    @staticmethod
    def _ask_about(
        visit: Visit, step: PlanStep, pending: PendingCall, unknown: UnknownSideEffect
    ) -> PendingCall:
        """The call, waiting for a human: it started before a crash and its effect is unknown."""
        entry = unknown.entry
        reason = (
            f"unknown_side_effect: {entry.tool} (step {entry.call_id}, attempt {entry.attempt}) "
            "started before the run was interrupted and its outcome was not recorded; it is not "
            "idempotent, so running it again might do it twice"
        )
        asking = PendingCall(
            **{**pending, "unknown_attempt": entry.attempt, "approval_reasons": [reason]}
        )
        visit.emit(ApprovalRequested(visit.ctx.run_id or "", approvals.request_for(step, asking)))
        return asking

    async def validate(self, state: AgentState, runtime: Runtime[RunContext]) -> Update:
        """Ask the validator (the agent's check, else its model) whether the task is done."""
        visit = self._visit("validate", state, runtime)
        if (killed := await self._killed(visit)) is not None:
            return killed
        if self.agent.check is not None:
            return await self._check(visit)
        request = prompts.validator_request(
            state["task"],
            plan=state["plan"],
            results=state.get("results", []),
            call=visit.call_info("validator"),
        )
        try:
            response, logs = await self._ask(visit, request)
        except AgentlabError as exc:
            return self._unavailable(visit, request, exc)
        call = response.tool_call(prompts.SUBMIT_VERDICT.name)
        try:
            verdict = prompts.Verdict.model_validate(call.arguments if call else {})
        except ValidationError as exc:
            reason = f"the validator gave no usable verdict ({format_validation_error(exc)})"
            logs["transcript"] += transcript.answer(visit.node, response, reason, is_error=True)
            return visit.move(Status.FAILED, reason, outcome=reason, **logs)
        logs["transcript"] += transcript.answer(visit.node, response, "verdict recorded")
        if verdict.complete:
            return visit.move(Status.COMPLETED, verdict.reason, outcome=verdict.reason, **logs)
        return visit.move(
            Status.PLANNING,
            f"falls short: {verdict.reason}",
            feedback=f"the validator found the task unfinished: {verdict.reason}",
            **logs,
        )

    async def _check(self, visit: Visit) -> Update:
        """Validate with the agent's deterministic check instead of a model."""
        check = self.agent.check
        assert check is not None
        try:
            evidence = Evidence(
                task=visit.state["task"],
                plan=list(visit.state["plan"]),
                results=list(visit.state.get("results", [])),
                deps=await self.deps(visit.ctx),
            )
            if inspect.iscoroutinefunction(check):
                verdict = await check(evidence)
            else:  # a sync check may query a database: off the event loop
                verdict = await asyncio.to_thread(check, evidence)
            if inspect.isawaitable(verdict):  # an async callable object or partial
                verdict = await verdict
            complete, reason = verdict
        except Exception as exc:  # a check that cannot decide: the run cannot be called done
            log.exception("the check of agent %s failed", self.agent.name)
            reason = f"the check could not decide: {type(exc).__name__}: {exc}"
            return visit.move(Status.FAILED, reason, outcome=reason)
        if complete:
            return visit.move(Status.COMPLETED, str(reason), outcome=str(reason))
        return visit.move(
            Status.PLANNING,
            f"falls short: {reason}",
            feedback=f"the check found the task unfinished: {reason}",
        )

    async def halt(self, state: AgentState, runtime: Runtime[RunContext]) -> Update:
        """End a run that used up its iterations."""
        visit = self._visit("halt", state, runtime)
        limits = visit.ctx.limits or self.limits
        reason = limits.exceeded(iterations=state["iterations"]) or "limit reached"
        return visit.move(Status.FAILED, reason, outcome=reason)


def _phase(visit: Visit) -> str:
    """The ledger's phase of a model call made by ``visit``: ``replan`` for planning rounds
    after the run's first (its iterations start at 0; its rounds may not, on a reused thread),
    else the node's name."""
    if visit.node == "plan" and visit.state["iterations"] > 0:
        return "replan"
    return visit.node


def _spent(state: AgentState) -> dict[str, float]:
    """The dollars (priced calls) and tokens the model calls in ``state`` used."""
    calls = state.get("model_calls", [])
    return {
        "usd": sum(c["cost_usd"] or 0.0 for c in calls),
        "tokens": float(
            sum(
                c["input_tokens"]
                + c["output_tokens"]
                + c["cache_read_tokens"]
                + c["cache_write_tokens"]
                for c in calls
            )
        ),
    }


def _call_request(
    step: PlanStep,
    arguments: dict[str, Any],
    *,
    approved: bool,
    failed_before: bool = False,
    resolution: Resolution | None = None,
    untrusted_sources: Sequence[str] = (),
) -> CallRequest:
    return CallRequest(
        call_id=step["id"],
        tool=step["tool"],
        arguments=arguments,
        planned_destructive=step["destructive"],
        estimated_cost_usd=step["estimated_cost_usd"],
        approved=approved,
        failed_before=failed_before,
        resolution=resolution,
        untrusted_sources=tuple(untrusted_sources),
    )


def _sources(results: Sequence[StepResult], known: Sequence[str] = ()) -> list[str]:
    """The tools whose output is among ``results`` (untrusted content a model is shown)."""
    return list(dict.fromkeys([*known, *(r["tool"] for r in results)]))


@dataclass
class _Binding:
    """A step of the plan bound to a call (or why it could not be), and what that took."""

    step: PlanStep
    call: PendingCall | None = None
    policy: PolicyRecord | None = None
    problem: str | None = None
    """Why the step could not be bound (the executor model did not make the call)."""
    unavailable: str | None = None
    """Why the run must end: the executor model could not answer."""
    records: list[ModelCallRecord] = field(default_factory=list)
    transcript: list[TranscriptEntry] = field(default_factory=list)


def _plan_step(plan_round: int, number: int, planned: prompts.PlannedStep, tool: Tool) -> PlanStep:
    step = PlanStep(
        id=f"{plan_round}.{number}",
        description=planned.description,
        tool=planned.tool,
        arguments=planned.arguments,
        destructive=planned.destructive or tool.risk is Risk.DESTRUCTIVE,
        estimated_cost_usd=max(planned.estimated_cost_usd, tool.cost_usd),
    )
    if planned.depends_on is not None:
        step["depends_on"] = [f"{plan_round}.{d}" for d in sorted(set(planned.depends_on))]
    return step


def _onward(
    visit: Visit,
    settled: dict[str, str],
    calls: list[PendingCall],
    feedback: str,
    logs: Update,
    *,
    said: str = "",
) -> Update:
    """Where the plan goes from here: on executing (calls to run, or steps to bind), to a human
    (calls wait for one), to validation (every step succeeded) or back to planning."""
    plan = visit.state["plan"]
    now = schedule.progress(plan, settled, calls)
    changes: Update = {
        "settled": {**settled, **now.skipped},
        "calls": calls,
        "feedback": feedback,
        **logs,
    }
    if schedule.runnable(calls) or now.ready:
        if said:
            return visit.move(Status.EXECUTING, said, **changes)
        return {"status": Status.EXECUTING.value, **changes}
    waiting = schedule.awaiting(calls)
    if waiting:
        asks = "; ".join(_why_waiting(c) for c in waiting)
        return visit.move(Status.AWAITING_HUMAN, f"{said}; {asks}" if said else asks, **changes)
    if now.done:
        ran = f"all {len(plan)} step(s) of plan {visit.state['plan_round']} ran"
        return visit.move(Status.VALIDATING, f"{said}; {ran}" if said else ran, **changes)
    if said:
        return visit.move(Status.PLANNING, f"{said}; re-planning without it", **changes)
    return visit.move(Status.PLANNING, f"{feedback}; re-planning", **changes)


def _why_waiting(call: PendingCall) -> str:
    if call.get("unknown_attempt") is not None:
        return "; ".join(call["approval_reasons"])
    return f"step {call['step_id']} {call['tool']} needs approval: " + ", ".join(
        call["approval_reasons"]
    )


def _also(feedback: str, problem: str) -> str:
    """``feedback`` with one more problem of the current plan."""
    return f"{feedback}; {problem}" if feedback else problem


def _approved(state: AgentState, call: PendingCall, fingerprint: str) -> bool:
    """Whether a human approved this very call: same step, same tool and arguments."""
    if not call.get("approved"):
        return False
    return any(
        a["approved"] and a["step_id"] == call["step_id"] and a.get("call_hash") == fingerprint
        for a in reversed(state.get("approvals", []))
    )


def _results_for(state: AgentState, step: PlanStep) -> list[StepResult]:
    """What the executor model is shown to complete ``step``: the results of the steps it
    depends on, if it names them, else the latest results."""
    results = state.get("results", [])
    named = step.get("depends_on")
    if named is None:
        return list(results)
    wanted = set(named)
    return [r for r in results if r["step_id"] in wanted]


async def _together(coroutines: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """Await ``coroutines`` concurrently, results in their order; if one raises (the run's
    lease was lost, say), the others are cancelled and its exception propagates as itself."""
    if len(coroutines) == 1:
        return [await coroutines[0]]
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coroutines]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [t.result() for t in tasks]
