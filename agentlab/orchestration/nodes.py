"""The nodes of the agent graph: async functions of the state that return partial updates.

Each node sets ``status`` and, when it changes the course of the run, records a ``Transition`` with
its reason and emits it; the edges in ``edges.py`` route on ``status``. Nodes never raise for a
model's mistake or an unavailable model: the first re-plans, the second ends the run ``failed``
with the reason. Run-level facts (run id, principal, limits) come from the run context; models and
tools from the agent the graph was built for.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Sequence
from typing import Any

from langgraph.runtime import Runtime
from pydantic import ValidationError

from agentlab.errors import AgentlabError
from agentlab.events import (
    ApprovalRequested,
    ModelCalled,
    PlanMade,
    writer_emit,
)
from agentlab.models.base import ModelRequest, ModelResponse
from agentlab.models.router import ModelRouter
from agentlab.orchestration import approvals, prompts, transcript
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
    begin_state,
)
from agentlab.orchestration.visit import Update, Visit
from agentlab.tools.executor import CallRequest, CallScope, ToolExecutor
from agentlab.tools.journal import Resolution, UnknownSideEffect
from agentlab.tools.policy import ProposedCall, Verdict
from agentlab.tools.tool import Risk, format_validation_error

log = logging.getLogger(__name__)


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

    async def _ask(self, visit: Visit, request: ModelRequest) -> tuple[ModelResponse, Update]:
        """Call the role's model; return its response and the updates recording the call."""
        response, record = await self.models.call(request)
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
        """End the run: a model that cannot answer is a failure to report, not to hide."""
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

        steps = [
            PlanStep(
                id=f"{plan_round}.{i}",
                description=s.description,
                tool=s.tool,
                arguments=s.arguments,
                destructive=s.destructive or by_name[s.tool].risk is Risk.DESTRUCTIVE,
                estimated_cost_usd=max(s.estimated_cost_usd, by_name[s.tool].cost_usd),
            )
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
            cursor=0,
            pending=None,
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
        """Bind the current step to a concrete call (asking the executor model only for missing
        arguments), then ask the policy whether it needs a human."""
        visit = self._visit("prepare", state, runtime)
        step = state["plan"][state["cursor"]]
        tool = await self.executor.tools.get(step["tool"])
        assert tool is not None, "plan() admits only known tools"
        arguments = dict(step["arguments"])
        sources = list(state.get("plan_sources", []))  # tool output the planner had seen
        tool_use_id: str | None = None
        logs: Update = {}
        problem = tool.invalid_arguments(arguments)
        if problem:
            request = prompts.executor_request(
                state["task"],
                step,
                tool,
                results=state.get("results", []),
                problem=problem,
                call=visit.call_info("executor"),
            )
            try:
                response, logs = await self._ask(visit, request)
            except AgentlabError as exc:
                return self._unavailable(visit, request, exc)
            call = response.tool_call(tool.name)
            if call is None:
                reason = f"step {step['id']}: the executor did not call {tool.name}"
                logs["transcript"] += transcript.answer(visit.node, response, reason, is_error=True)
                return visit.move(Status.PLANNING, reason, feedback=reason, **logs)
            arguments = {**arguments, **call.arguments}
            tool_use_id = call.id
            sources = _sources(state.get("results", []), sources)  # the executor saw these too

        decision = self.executor.decide(
            tool,
            _call_request(step, arguments, approved=False, untrusted_sources=sources),
            visit.ctx.principal,
        )
        reasons = list(decision.reasons) if decision.verdict is Verdict.ASK else []
        call_hash = self.executor.call_hash(tool, arguments)
        logs["policy_decisions"] = [
            PolicyRecord(
                step_id=step["id"],
                tool=tool.name,
                call_hash=call_hash,
                principal=visit.ctx.principal,
                verdict=decision.verdict.value,
                reasons=list(decision.reasons),
                rule=decision.rule,
            )
        ]
        pending = PendingCall(
            step_id=step["id"],
            tool=tool.name,
            arguments=arguments,
            approval_reasons=reasons,
            tool_use_id=tool_use_id,
            call_hash=call_hash,
            untrusted_sources=sources,
        )
        if reasons:
            update = visit.move(
                Status.AWAITING_HUMAN,
                f"step {step['id']} {tool.name} needs approval: {', '.join(reasons)}",
                pending=pending,
                **logs,
            )
            visit.emit(
                ApprovalRequested(visit.ctx.run_id or "", approvals.request_for(step, pending))
            )
            return update
        return {"status": Status.EXECUTING.value, "pending": pending, **logs}

    async def approve(self, state: AgentState, runtime: Runtime[RunContext]) -> Update:
        """Pause for a human decision on the pending call (see ``approvals.py``)."""
        pending = state["pending"]
        assert pending is not None
        step = state["plan"][state["cursor"]]
        tool = await self.executor.tools.get(pending["tool"])

        def hash_call(arguments: dict[str, Any]) -> str:  # as execute will, for edited calls
            return self.executor.call_hash(tool, arguments) if tool else pending["tool"]

        return approvals.ask(self._visit("approve", state, runtime), step, pending, hash_call)

    async def execute(self, state: AgentState, runtime: Runtime[RunContext]) -> Update:
        """Run the pending call through the tool executor (which asks the policy again)."""
        visit = self._visit("execute", state, runtime)
        pending = state["pending"]
        assert pending is not None
        iterations = state["iterations"] + 1
        step = state["plan"][state["cursor"]]
        tool = await self.executor.tools.get(pending["tool"])
        fingerprint = (
            self.executor.call_hash(tool, pending["arguments"])
            if tool is not None
            else pending.get("call_hash", pending["tool"])
        )
        # An approval counts for the very call approved: same step, same tool and arguments.
        approved = any(
            a["approved"]
            and a["step_id"] == pending["step_id"]
            and a.get("call_hash", fingerprint) == fingerprint
            for a in state.get("approvals", [])
        )
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
        request = _call_request(
            step,
            pending["arguments"],
            approved=approved,
            failed_before=fingerprint in state["failed_calls"],
            resolution=pending.get("resolution"),
            untrusted_sources=pending.get("untrusted_sources", []),
        )
        try:
            outcome = await self.executor.run(request, scope, visit.emit)
        except UnknownSideEffect as exc:
            return self._ask_about(visit, step, pending, exc)

        result = StepResult(
            step_id=pending["step_id"],
            tool=pending["tool"],
            arguments=pending["arguments"],
            outcome=outcome,
        )
        shown = outcome["output"] if outcome["ok"] else {"error": outcome["error"]}
        logs: Update = {
            "results": [result],
            "transcript": transcript.call_result(
                visit.node, pending, shown, is_error=not outcome["ok"]
            ),
            "iterations": iterations,
            "pending": None,
        }
        if not outcome["ok"]:
            reason = f"step {pending['step_id']} {pending['tool']} failed: {outcome['error']}"
            return visit.move(
                Status.PLANNING,
                f"{reason}; re-planning",
                feedback=reason,
                failed_calls=[*state["failed_calls"], fingerprint],
                **logs,
            )
        if state["cursor"] + 1 < len(state["plan"]):
            return {"status": Status.EXECUTING.value, "cursor": state["cursor"] + 1, **logs}
        return visit.move(
            Status.VALIDATING,
            f"all {len(state['plan'])} step(s) of plan {state['plan_round']} ran",
            **logs,
        )

    @staticmethod
    def _ask_about(
        visit: Visit, step: PlanStep, pending: PendingCall, unknown: UnknownSideEffect
    ) -> Update:
        """Pause the run for a human: a call started before a crash and its effect is unknown."""
        entry = unknown.entry
        reason = (
            f"unknown_side_effect: {entry.tool} (step {entry.call_id}, attempt {entry.attempt}) "
            "started before the run was interrupted and its outcome was not recorded; it is not "
            "idempotent, so running it again might do it twice"
        )
        asking = PendingCall(
            **{**pending, "unknown_attempt": entry.attempt, "approval_reasons": [reason]}
        )
        update = visit.move(Status.AWAITING_HUMAN, reason, pending=asking)
        visit.emit(ApprovalRequested(visit.ctx.run_id or "", approvals.request_for(step, asking)))
        return update

    async def validate(self, state: AgentState, runtime: Runtime[RunContext]) -> Update:
        """Ask the validator (the agent's check, else its model) whether the task is done."""
        visit = self._visit("validate", state, runtime)
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
