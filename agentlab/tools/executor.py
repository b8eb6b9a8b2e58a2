"""The one tool executor: every tool call, whatever its source, passes through ``ToolExecutor``.

It finds the tool, validates the arguments, asks the policy (the second lock: a call the policy
asks about runs only with a human's approval of that call), bounds the call by the tool's timeout,
turns every failure into an error result the model can act on (the traceback goes to the log, not
to the model), and emits a ``ToolCalled`` event. It is also where calls are journaled for
exactly-once execution (``journal.py``): a call whose outcome is journaled is never run again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Span

from agentlab.events import Emit, ToolCalled
from agentlab.observability import spans
from agentlab.observability.tracing import NO_TRACING, Tracing
from agentlab.tools.journal import (
    Journal,
    MemoryJournal,
    Resolution,
    UnknownSideEffect,
    call_hash,
    canonical_arguments,
)
from agentlab.tools.policy import Policy, PolicyDecision, ProposedCall, Verdict, tool_adjuster
from agentlab.tools.tool import (
    InvalidArguments,
    Risk,
    Tool,
    ToolContext,
    ToolError,
    ToolOutcome,
)
from agentlab.tools.toolset import ToolRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallRequest:
    """A call the graph wants made: ``call_id`` is unique and stable within the run (the step id).

    ``approved`` says a human approved exactly this call; ``failed_before`` that the same call
    (tool and arguments) already failed in this run, so it is not run again unless approved;
    ``resolution`` is a human's answer about an earlier attempt whose effect is unknown;
    ``untrusted_sources`` names the tools whose output a model had seen when it produced the
    arguments (tool output is untrusted: it may carry instructions).
    """

    call_id: str
    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    planned_destructive: bool = False
    estimated_cost_usd: float = 0.0
    approved: bool = False
    failed_before: bool = False
    resolution: Resolution | None = None
    untrusted_sources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CallScope:
    """Who a call is made for: the run, its principal and session, the agent's deps, and the
    lease token of the process advancing the run (``None`` where runs are not leased)."""

    run_id: str
    principal: str = ""
    session: str | None = None
    deps: Any = None
    lease: str | None = None


def _error(message: str) -> ToolOutcome:
    return ToolOutcome(ok=False, output=None, error=message)


class ToolExecutor:
    """Runs calls of an agent's tools under one ``Policy``, journaled in ``journal``; each call
    is a ``TOOL`` span of ``tracing`` when it is on."""

    def __init__(
        self,
        tools: ToolRegistry,
        policy: Policy,
        journal: Journal | None = None,
        tracing: Tracing = NO_TRACING,
    ) -> None:
        adjust = tool_adjuster(policy)
        # Every tool handed out carries the policy's word on its risk, idempotency and egress:
        # the planner's catalog, the decisions and the journal's re-run read the same tool.
        self.tools = tools.adjusted(adjust) if adjust is not None else tools
        self.policy = policy
        self.journal: Journal = journal if journal is not None else MemoryJournal()
        self.tracing = tracing

    @staticmethod
    def canonical(tool: Tool, arguments: dict[str, Any]) -> Any:
        """The call's arguments as the tool would receive them, as JSON data (the raw ones when
        they are invalid): ``"9999"`` and ``9999.0`` for an integer are both ``9999``."""
        try:
            validated = tool.validate(arguments)
        except InvalidArguments:
            validated = arguments
        return canonical_arguments(validated)

    def call_hash(self, tool: Tool, arguments: dict[str, Any]) -> str:
        """The hash that names this call (tool and canonical arguments)."""
        return call_hash(tool.name, self.canonical(tool, arguments))

    def decide(self, tool: Tool, request: CallRequest, principal: str) -> PolicyDecision:
        """What the policy says of ``request`` (the approval gate asks this before pausing).

        Whatever the policy says, a write, destructive or egress call whose arguments a model
        produced after seeing tool output asks a human: that output may have carried
        instructions (a prompt injection) the model followed.
        """
        decision = self.policy.decide(
            ProposedCall(
                tool=tool,
                # As the tool would receive them: "5000" for a number is 5000, defaults filled.
                arguments=self.canonical(tool, request.arguments),
                principal=principal,
                planned_destructive=request.planned_destructive,
                estimated_cost_usd=request.estimated_cost_usd,
            )
        )
        if decision.verdict is not Verdict.ALLOW or not request.untrusted_sources:
            return decision
        if tool.risk is Risk.READ and not self.sends_data_out(tool):
            return decision
        sources = ", ".join(request.untrusted_sources)
        return PolicyDecision(
            Verdict.ASK, (f"proposed after untrusted content from {sources}",), decision.rule
        )

    def sends_data_out(self, tool: Tool) -> bool:
        """The tool is declared ``egress``, or the policy flags it so."""
        flagged = getattr(self.policy, "sends_data_out", None)
        return tool.egress or (callable(flagged) and bool(flagged(tool.name)))

    async def run(self, request: CallRequest, scope: CallScope, emit: Emit) -> ToolOutcome:
        """Make the call, or refuse it; either way return its outcome and emit ``ToolCalled``.

        Raises ``UnknownSideEffect`` for a call that started before (a crash) without a journaled
        outcome, when its tool is not idempotent and no ``request.resolution`` says what to do.
        """
        if not self.tracing.enabled:
            return await self._reported(request, scope, emit)
        attributes = spans.tool_attributes(request)
        with self.tracing.span(f"tool {request.tool}", attributes) as span:
            spans.tool_arguments(span, request.arguments)
            try:
                return await self._reported(request, scope, emit, span)
            except UnknownSideEffect:
                span.set_attribute("agentlab.journal", "unknown_side_effect")
                raise

    async def _reported(
        self, request: CallRequest, scope: CallScope, emit: Emit, span: Span | None = None
    ) -> ToolOutcome:
        """The call's outcome, emitted as ``ToolCalled`` and, with a ``span``, recorded on it."""
        started = time.perf_counter()
        outcome, journal, decision = await self._run(request, scope)
        duration_s = round(time.perf_counter() - started, 6)
        emit(
            ToolCalled(
                {
                    "step_id": request.call_id,
                    "tool": request.tool,
                    "arguments": request.arguments,
                    "outcome": outcome,
                    "duration_s": duration_s,
                    "journal": journal,
                }
            )
        )
        if span is not None:
            spans.tool_ended(
                span,
                outcome,
                journal=journal,
                verdict=decision.verdict.value if decision else None,
                reasons=decision.reasons if decision else (),
                rule=decision.rule if decision else None,
                duration_s=duration_s,
            )
        return outcome

    async def _run(
        self, request: CallRequest, scope: CallScope
    ) -> tuple[ToolOutcome, str, PolicyDecision | None]:
        """The outcome, what the journal did: ``refused`` (never started), ``ran``,
        ``replayed`` (journaled before), ``rerun`` (an unknown attempt run again) or
        ``recorded`` (a human said the unknown attempt happened), and what the policy said
        (``None``: refused before it was asked)."""
        tool = await self.tools.get(request.tool)
        if tool is None:
            names = ", ".join(t.name for t in await self.tools.tools())
            error = _error(f"unknown tool {request.tool!r}; the tools are: {names}")
            return error, "refused", None
        try:
            arguments = tool.validate(request.arguments)
        except InvalidArguments as exc:
            return _error(f"invalid arguments: {exc}"), "refused", None
        decision = self.decide(tool, request, scope.principal)
        if decision.verdict is Verdict.DENY:
            reasons = ", ".join(decision.reasons)
            return _error(f"{tool.name} is denied by policy: {reasons}"), "refused", decision
        if decision.verdict is Verdict.ASK and not request.approved:
            return (
                _error(
                    f"{tool.name} needs a human's approval ({', '.join(decision.reasons)}) "
                    "and was not approved"
                ),
                "refused",
                decision,
            )
        # A human's approval of this very call overrides the guard: the earlier failure may have
        # been this executor refusing it for want of that approval.
        if request.failed_before and not request.approved:
            refused = _error("the same call already failed earlier in this run")
            return refused, "refused", decision
        return *(await self._once(tool, arguments, request, scope)), decision

    async def _once(
        self, tool: Tool, arguments: dict[str, Any], request: CallRequest, scope: CallScope
    ) -> tuple[ToolOutcome, str]:
        """Run the call at most once per run, whatever crashes and resumes come between."""
        entry = await self.journal.entry(scope.run_id, request.call_id)
        attempt, how = 1, "ran"
        hashed = call_hash(tool.name, canonical_arguments(arguments))
        if entry is not None and entry.call_hash != hashed:
            # Another call was journaled under this id: neither replay its outcome nor run this.
            return _error(
                f"call {request.call_id} of run {scope.run_id} was journaled for another call "
                f"({entry.tool}); it was not run"
            ), "refused"
        if entry is not None:
            if entry.outcome is not None:
                return entry.outcome, "replayed"
            resolution = request.resolution
            answered = resolution is not None and resolution["attempt"] == entry.attempt
            if answered and resolution is not None and resolution["action"] == "happened":
                outcome = ToolOutcome(ok=True, output=resolution["result"], error=None)
                await self.journal.finish(scope.run_id, request.call_id, entry.attempt, outcome)
                return outcome, "recorded"
            if not (tool.idempotent or answered):
                raise UnknownSideEffect(entry)
            attempt, how = entry.attempt + 1, "rerun"
        await self.journal.start(
            scope.run_id,
            request.call_id,
            tool=tool.name,
            call_hash=hashed,
            arguments=arguments,
            attempt=attempt,
            lease=scope.lease,
        )
        ctx = ToolContext(
            run_id=scope.run_id,
            call_id=request.call_id,
            idempotency_key=f"{scope.run_id}:{request.call_id}",
            principal=scope.principal,
            session=scope.session,
            deps=scope.deps,
        )
        outcome = await self._invoke(tool, arguments, ctx)
        await self.journal.finish(scope.run_id, request.call_id, attempt, outcome)
        return outcome, how

    async def _invoke(self, tool: Tool, arguments: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        """Run the tool within its timeout; every failure becomes an error outcome."""
        deadline = asyncio.timeout(tool.timeout_s)
        try:
            async with deadline:
                output = await self.tools.call(tool.name, arguments, ctx)
        except ToolError as exc:
            return _error(str(exc))
        except TimeoutError as exc:
            if not deadline.expired():  # the tool's own timeout (a socket, an API): its error
                return _error(f"{type(exc).__name__}: {exc}")
            # A sync tool's thread cannot be stopped: a call with side effects may still finish.
            unknown = "" if tool.idempotent else "; it may still complete, so its effect is unknown"
            return _error(f"{tool.name} timed out after {tool.timeout_s:g} s{unknown}")
        except Exception as exc:  # any failure of a tool is the model's to see, not a crash
            log.exception("tool %s failed in run %s (call %s)", tool.name, ctx.run_id, ctx.call_id)
            return _error(f"{type(exc).__name__}: {exc}")
        return ToolOutcome(ok=True, output=output, error=None)
