"""The one tool executor: every tool call, whatever its source, passes through ``ToolExecutor``.

A call is decided once, at ``prepare``: the tool is found, the arguments validated into their
canonical form, the call hashed and the policy asked (one ``PreparedCall``). ``run`` then re-checks
the hash and asks the policy once more (the second lock: an answer that changed to "ask" pauses the
run for a person, ``NeedsApproval``; a call the policy asks about runs only with a human's approval
of that very call), bounds the call by the tool's timeout, turns every failure into an error result
the model can act on (the traceback goes to the log, not to the model), journals it for
exactly-once execution (``journal.py``: a call whose outcome is journaled is never run again), and
emits a ``ToolCalled`` event. ``wrap`` (e.g. tracing) goes around each run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from agentlab.events import Emit, ToolCalled
from agentlab.tools.bounds import OutputBounds
from agentlab.tools.calls import (
    CallRefused,
    CallRequest,
    CallScope,
    NeedsApproval,
    PreparedCall,
    ToolRun,
    UnknownTool,
    call_hash,
    canonical_arguments,
)
from agentlab.tools.egress import Address, addresses
from agentlab.tools.journal import (
    Journal,
    JournalEntry,
    MemoryJournal,
    Resolution,
    UnknownSideEffect,
)
from agentlab.tools.policy import Policy, PolicyDecision, ProposedCall, Verdict, tool_adjuster
from agentlab.tools.tool import InvalidArguments, Risk, Tool, ToolContext, ToolError, ToolOutcome
from agentlab.tools.toolset import ToolRegistry
from agentlab.tools.unknown import failure

log = logging.getLogger(__name__)

CallWrapper = Callable[[PreparedCall, Callable[[], Awaitable[ToolRun]]], Awaitable[ToolRun]]
"""Goes around each run of a call (``wrap(call, run)``: e.g. a span): awaits ``run()`` and
returns what it returned."""


_BOUNDED = ("ran", "rerun")
"""How calls whose outcome ``_invoke`` already bounded were made."""


def _error(message: str) -> ToolOutcome:
    return ToolOutcome(ok=False, output=None, error=message)


def _denied(tool: Tool, decision: PolicyDecision) -> ToolOutcome:
    return _error(f"{tool.name} is denied by policy: {', '.join(decision.reasons)}")


def _refused(request: CallRequest, message: str, emit: Emit) -> ToolOutcome:
    """The outcome of a call refused before it started, emitted as the executor emits calls."""
    outcome = _error(message)
    called = {"step_id": request.call_id, "tool": request.tool, "outcome": outcome}
    given = request.arguments  # as proposed: maybe not even a JSON object
    emit(ToolCalled({**called, "arguments": given, "duration_s": 0.0, "journal": "refused"}))
    return outcome


class ToolExecutor:
    """Prepares and runs calls of an agent's tools under one ``Policy``, journaled in
    ``journal``; ``wrap`` goes around each run (tracing); outputs are held to ``bounds``
    (``bounds.py``: default 64 levels, 1 MB) before the journal, the state or a span sees them."""

    def __init__(
        self,
        tools: ToolRegistry,
        policy: Policy,
        journal: Journal | None = None,
        *,
        wrap: CallWrapper | None = None,
        bounds: OutputBounds | None = None,
    ) -> None:
        adjust = tool_adjuster(policy)
        # Every tool handed out carries the policy's word on its risk, idempotency and egress:
        # the planner's catalog, the decisions and the journal's re-run read the same tool.
        self.tools = tools.adjusted(adjust) if adjust is not None else tools
        self.policy = policy
        self.journal: Journal = journal if journal is not None else MemoryJournal()
        self._wrap = wrap
        self.bounds = bounds if bounds is not None else OutputBounds()

    # -- deciding --------------------------------------------------------------------------------

    async def prepare(self, request: CallRequest, principal: str) -> PreparedCall:
        """Decide ``request`` once: its tool, canonical arguments, hash and the policy's decision.
        Raises ``CallRefused`` (the message a model is shown) for an unknown tool or invalid
        arguments."""
        tool = await self.tools.get(request.tool)
        if tool is None:
            raise UnknownTool(await self.unknown(request.tool))
        try:
            # As the tool would receive them: "5000" for a number is 5000, defaults filled.
            arguments = canonical_arguments(tool.validate(request.arguments))
        except InvalidArguments as exc:
            raise CallRefused(f"invalid arguments: {exc}") from None
        return PreparedCall(
            request,
            tool,
            arguments,
            call_hash(tool.name, arguments),
            self.decide(tool, request, arguments, principal),
        )

    async def unknown(self, name: str) -> str:
        """What a call of a tool the agent does not have is told."""
        names = ", ".join(t.name for t in await self.tools.tools())
        return f"unknown tool {name!r}; the tools are: {names}"

    def decide(
        self, tool: Tool, request: CallRequest, arguments: dict[str, Any], principal: str
    ) -> PolicyDecision:
        """What the policy says of calling ``tool`` with the canonical ``arguments``.

        Whatever the policy says, a write, destructive or egress call whose arguments a model
        produced after seeing tool output asks a human: that output may have carried
        instructions (a prompt injection) the model followed. A read call is egress when an
        argument is an address (a URL, an email address, a phone number: ``egress.py``).
        """
        decision = self.policy.decide(
            ProposedCall(
                tool=tool,
                arguments=arguments,
                principal=principal,
                planned_destructive=request.planned_destructive,
                estimated_cost_usd=request.estimated_cost_usd,
            )
        )
        if decision.verdict is not Verdict.ALLOW or not request.untrusted_sources:
            return decision
        reasons = [f"proposed after untrusted content from {', '.join(request.untrusted_sources)}"]
        if tool.risk is Risk.READ and not self.sends_data_out(tool):
            carried = self.addresses(tool, arguments)
            if not carried:
                return decision
            reasons.append(f"{', '.join(map(str, carried))}: the call may send data out")
        return PolicyDecision(Verdict.ASK, tuple(reasons), decision.rule)

    async def catalog(self, principal: str = "") -> list[tuple[Tool, PolicyDecision]]:
        """Every tool, with what the policy says of calling it (whatever the arguments) for
        ``principal``: what the planner, ``agentlab agents`` and the MCP server show."""
        return [
            (t, self.policy.decide(ProposedCall(t, principal=principal)))
            for t in await self.tools.tools()
        ]

    def sends_data_out(self, tool: Tool) -> bool:
        """The tool is declared ``egress``, or the policy flags it so."""
        flagged = getattr(self.policy, "sends_data_out", None)
        return tool.egress or (callable(flagged) and bool(flagged(tool.name)))

    def addresses(self, tool: Tool, arguments: Mapping[str, Any]) -> list[Address]:
        """The arguments of the call that are addresses: by the tool's schema, by their values,
        by the policy's ``egress_values``."""
        return addresses(tool, arguments, getattr(self.policy, "egress_values", ()))

    # -- running ---------------------------------------------------------------------------------

    async def call(
        self,
        request: CallRequest,
        scope: CallScope,
        emit: Emit,
        *,
        approved: bool = False,
        failed_before: bool = False,
        resolution: Resolution | None = None,
    ) -> ToolOutcome:
        """Prepare ``request`` and run it at once, with no person to pause for (a script's call,
        a test's): a call that cannot be prepared, or that the policy asks about and nobody
        approved, is refused (an error outcome, emitted as ``ToolCalled``). ``UnknownSideEffect``
        is raised for a call whose effect is unknown: only the caller can find out."""
        try:
            call = await self.prepare(request, scope.principal)
        except CallRefused as exc:
            return _refused(request, str(exc), emit)
        try:
            return await self.run(
                call,
                scope,
                emit,
                approved=approved,
                failed_before=failed_before,
                resolution=resolution,
            )
        except NeedsApproval as exc:
            unapproved = f"{call.tool.name} needs a human's approval ({exc}) and was not approved"
            return _refused(request, unapproved, emit)

    async def run(
        self,
        call: PreparedCall,
        scope: CallScope,
        emit: Emit,
        *,
        approved: bool = False,
        failed_before: bool = False,
        resolution: Resolution | None = None,
    ) -> ToolOutcome:
        """Make the prepared call, or refuse it; either way return its outcome and emit
        ``ToolCalled``. ``approved``: a human approved this very call; ``failed_before``: the
        same call already failed in this run (it is not run again unless approved);
        ``resolution``: a human's answer about an earlier attempt whose effect is unknown.

        Raises ``NeedsApproval`` when the policy, asked again, wants a human and none approved
        the call, and ``UnknownSideEffect`` for a call that started before (a crash) without a
        journaled outcome, when its tool is not idempotent and no ``resolution`` says what to do.
        """

        async def go() -> ToolRun:
            started = time.perf_counter()
            outcome, journal, decision = await self._run(
                call, scope, approved, failed_before, resolution
            )
            if journal not in _BOUNDED:
                # Replayed (from a journal maybe written before outputs were bounded) or given
                # by a person: held to the same bounds before the state or a span sees it.
                outcome = self.bounds.bound(call.tool, outcome)
            duration_s = round(time.perf_counter() - started, 6)
            return ToolRun(outcome, journal, decision, approved, duration_s)

        done = await (go() if self._wrap is None else self._wrap(call, go))
        emit(
            ToolCalled(
                {
                    "step_id": call.call_id,
                    "tool": call.tool.name,
                    "arguments": call.arguments,
                    "outcome": done.outcome,
                    "duration_s": done.duration_s,
                    "journal": done.journal,
                }
            )
        )
        return done.outcome

    async def _run(
        self,
        call: PreparedCall,
        scope: CallScope,
        approved: bool,
        failed_before: bool,
        resolution: Resolution | None,
    ) -> tuple[ToolOutcome, str, PolicyDecision | None]:
        """The second lock, then the call at most once."""
        tool = call.tool
        if call_hash(tool.name, call.arguments) != call.call_hash:
            changed = f"call {call.call_id} of {tool.name} changed since it was decided"
            return _error(f"{changed}; it was not run"), "refused", None
        if call.decision.verdict is Verdict.DENY:  # denied when decided: not asked again
            decision = call.decision
        else:
            decision = self.decide(tool, call.request, call.arguments, scope.principal)
        if decision.verdict is Verdict.DENY or (decision.verdict is Verdict.ASK and not approved):
            # The lock holds, unless the call already took effect (it ran before a crash, or a
            # person said it happened): then that is what is recorded, whatever the policy says
            # now.
            done = await self._already(call, scope, resolution)
            if done is not None:
                return *done, decision
            if decision.verdict is Verdict.DENY:
                return _denied(tool, decision), "refused", decision
            raise NeedsApproval(decision)
        # A human's approval of this very call overrides the guard: the earlier failure may have
        # been the policy's, before a person looked at the call.
        if failed_before and not approved:
            refused = _error("the same call already failed earlier in this run")
            return refused, "refused", decision
        return *(await self._once(call, scope, resolution)), decision

    async def _already(
        self, call: PreparedCall, scope: CallScope, resolution: Resolution | None
    ) -> tuple[ToolOutcome, str] | None:
        """The outcome of a call that already took effect (journaled, or said by a person to
        have happened), or ``None``."""
        entry = await self.journal.entry(scope.run_id, call.call_id)
        if entry is None or entry.call_hash != call.call_hash:
            return None
        if entry.outcome is not None:
            return entry.outcome, "replayed"
        return await self._happened(entry, scope, resolution)

    async def _happened(
        self, entry: JournalEntry, scope: CallScope, resolution: Resolution | None
    ) -> tuple[ToolOutcome, str] | None:
        """The outcome a person gave, journaled, when ``resolution`` says this very attempt of
        unknown effect happened; else ``None``."""
        if resolution is None or resolution["attempt"] != entry.attempt:
            return None
        if resolution["action"] != "happened":
            return None
        outcome = ToolOutcome(ok=True, output=resolution["result"], error=None)
        await self.journal.finish(
            scope.run_id, entry.call_id, entry.attempt, outcome, lease=scope.lease
        )
        return outcome, "recorded"

    async def _once(
        self, call: PreparedCall, scope: CallScope, resolution: Resolution | None
    ) -> tuple[ToolOutcome, str]:
        """Run the call at most once per run, whatever crashes and resumes come between."""
        tool = call.tool
        # The first attempt is journaled as started in the same statement that finds an earlier
        # one (after a crash): a new call costs one write before it runs.
        entry = await self.journal.begin(
            scope.run_id,
            call.call_id,
            tool=tool.name,
            call_hash=call.call_hash,
            arguments=call.arguments,
            lease=scope.lease,
        )
        attempt, how = 1, "ran"
        if entry is not None and entry.call_hash != call.call_hash:
            # Another call was journaled under this id: neither replay its outcome nor run this.
            return _error(
                f"call {call.call_id} of run {scope.run_id} was journaled for another call "
                f"({entry.tool}); it was not run"
            ), "refused"
        if entry is not None:
            if entry.outcome is not None:
                return entry.outcome, "replayed"
            recorded = await self._happened(entry, scope, resolution)
            if recorded is not None:
                return recorded
            answered = resolution is not None and resolution["attempt"] == entry.attempt
            if not (tool.idempotent or answered):
                raise UnknownSideEffect(entry)
            attempt, how = entry.attempt + 1, "rerun"
            await self.journal.start(
                scope.run_id,
                call.call_id,
                tool=tool.name,
                call_hash=call.call_hash,
                arguments=call.arguments,
                attempt=attempt,
                lease=scope.lease,
            )
        ctx = ToolContext(
            run_id=scope.run_id,
            call_id=call.call_id,
            idempotency_key=f"{scope.run_id}:{call.call_id}",
            fencing_token=scope.fence,
            principal=scope.principal,
            session=scope.session,
            deps=scope.deps,
            memory=scope.memory,
        )
        invoked = await self._invoke(tool, call.arguments, ctx)
        if isinstance(invoked, str):
            # The request may have reached the tool and no answer came: like a crash mid-call,
            # the attempt stays open in the journal and a person says what happened.
            entry = await self.journal.entry(scope.run_id, call.call_id)
            if entry is not None and entry.outcome is None:
                raise UnknownSideEffect(entry, why=invoked)
        outcome = _error(invoked) if isinstance(invoked, str) else invoked
        await self.journal.finish(scope.run_id, call.call_id, attempt, outcome, lease=scope.lease)
        return outcome, how

    async def _invoke(
        self, tool: Tool, arguments: dict[str, Any], ctx: ToolContext
    ) -> ToolOutcome | str:
        """Run the tool within its timeout; a failure becomes an error outcome, except one that
        leaves a non-idempotent call's effect unknown (``unknown.py``): that is returned as the
        reason why, for the run to ask a person."""
        deadline = asyncio.timeout(tool.timeout_s)
        try:
            async with deadline:
                output = await self.tools.call(tool.name, arguments, ctx)
        except Exception as exc:  # any failure of a tool is the model's to see, not a crash
            expired = isinstance(exc, TimeoutError) and deadline.expired()
            failed = failure(tool, exc, expired=expired)
            if not isinstance(failed, str) and not isinstance(exc, ToolError | TimeoutError):
                log.exception(
                    "tool %s failed in run %s (call %s)", tool.name, ctx.run_id, ctx.call_id
                )
            return failed
        return self.bounds.bound(tool, ToolOutcome(ok=True, output=output, error=None))
