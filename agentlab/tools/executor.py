"""The one tool executor: every tool call, whatever its source, passes through ``ToolExecutor``.

It finds the tool, validates the arguments, asks the policy (the second lock: a call the policy
asks about runs only with a human's approval of that call), bounds the call by the tool's timeout,
turns every failure into an error result the model can act on (the traceback goes to the log, not
to the model), and emits a ``ToolCalled`` event. It is also the one place where calls will be
journaled for exactly-once execution.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from agentlab.events import Emit, ToolCalled
from agentlab.tools.policy import Policy, PolicyDecision, ProposedCall, Verdict
from agentlab.tools.tool import InvalidArguments, Tool, ToolContext, ToolError, ToolOutcome
from agentlab.tools.toolset import ToolRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallRequest:
    """A call the graph wants made: ``call_id`` is unique and stable within the run (the step id).

    ``approved`` says a human approved exactly this call; ``failed_before`` that the same call
    (tool and arguments) already failed in this run, so it is not run again unless approved.
    """

    call_id: str
    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    planned_destructive: bool = False
    estimated_cost_usd: float = 0.0
    approved: bool = False
    failed_before: bool = False


@dataclass(frozen=True, slots=True)
class CallScope:
    """Who a call is made for: the run, its principal and session, and the agent's deps."""

    run_id: str
    principal: str = ""
    session: str | None = None
    deps: Any = None


def _error(message: str) -> ToolOutcome:
    return ToolOutcome(ok=False, output=None, error=message)


class ToolExecutor:
    """Runs calls of an agent's tools under one ``Policy``."""

    def __init__(self, tools: ToolRegistry, policy: Policy) -> None:
        self.tools = tools
        self.policy = policy

    def decide(self, tool: Tool, request: CallRequest, principal: str) -> PolicyDecision:
        """What the policy says of ``request`` (the approval gate asks this before pausing)."""
        return self.policy.decide(
            ProposedCall(
                tool=tool,
                arguments=request.arguments,
                principal=principal,
                planned_destructive=request.planned_destructive,
                estimated_cost_usd=request.estimated_cost_usd,
            )
        )

    async def run(self, request: CallRequest, scope: CallScope, emit: Emit) -> ToolOutcome:
        """Make the call, or refuse it; either way return its outcome and emit ``ToolCalled``."""
        started = time.perf_counter()
        outcome = await self._run(request, scope)
        emit(
            ToolCalled(
                {
                    "step_id": request.call_id,
                    "tool": request.tool,
                    "arguments": request.arguments,
                    "outcome": outcome,
                    "duration_s": round(time.perf_counter() - started, 6),
                }
            )
        )
        return outcome

    async def _run(self, request: CallRequest, scope: CallScope) -> ToolOutcome:
        tool = await self.tools.get(request.tool)
        if tool is None:
            names = ", ".join(t.name for t in await self.tools.tools())
            return _error(f"unknown tool {request.tool!r}; the tools are: {names}")
        try:
            arguments = tool.validate(request.arguments)
        except InvalidArguments as exc:
            return _error(f"invalid arguments: {exc}")
        decision = self.decide(tool, request, scope.principal)
        if decision.verdict is Verdict.DENY:
            return _error(f"{tool.name} is denied by policy: {', '.join(decision.reasons)}")
        if decision.verdict is Verdict.ASK and not request.approved:
            return _error(
                f"{tool.name} needs a human's approval ({', '.join(decision.reasons)}) "
                "and was not approved"
            )
        # A human's approval of this very call overrides the guard: the earlier failure may have
        # been this executor refusing it for want of that approval.
        if request.failed_before and not request.approved:
            return _error("the same call already failed earlier in this run")
        ctx = ToolContext(
            run_id=scope.run_id,
            call_id=request.call_id,
            idempotency_key=f"{scope.run_id}:{request.call_id}",
            principal=scope.principal,
            session=scope.session,
            deps=scope.deps,
        )
        return await self._invoke(tool, arguments, ctx)

    async def _invoke(self, tool: Tool, arguments: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        """Run the tool within its timeout. (The exactly-once journal will wrap this call.)"""
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
