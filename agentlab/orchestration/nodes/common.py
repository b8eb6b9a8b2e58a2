"""What the nodes of an agent's graph share: its parts, and how a node calls a model.

Nodes never raise for a model's mistake or an unavailable model: the first re-plans, the second
ends the run ``failed`` with the reason (``unavailable``). An answer without the tool its request
forced is such a mistake once; the second in a row from the same role is an endpoint that
ignores ``tool_choice``, and ends the run (``forced_misses``). Every model call goes through the
role's model stack (budgets, tracing, fallback, retries: ``models.wrappers``), charged to the
visit's account: a call that could cross a ceiling is not made, and the run ends
``budget_exceeded``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from agentlab.errors import AgentlabError
from agentlab.events import ModelCalled
from agentlab.memory import ContextOverflow
from agentlab.memory.fitting import WorkingMemory
from agentlab.memory.long_term import LongTermMemory
from agentlab.models.base import ModelRequest, ModelResponse
from agentlab.models.calls import ModelCallRecord, call_record
from agentlab.models.router import ModelRouter
from agentlab.observability.budgets import BudgetExceeded
from agentlab.orchestration import transcript
from agentlab.orchestration.agent import Agent
from agentlab.orchestration.context import RunContext
from agentlab.orchestration.deps import Deps
from agentlab.orchestration.prompt_book import PromptBook
from agentlab.orchestration.state import Status, StepResult, counted_as
from agentlab.orchestration.visit import Update, Visit
from agentlab.tools.executor import ToolExecutor

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Parts:
    """One agent's graph's parts: the definition, its models per role (each a stack of
    wrappers), the one tool executor, where its deps are opened, the working memory that
    fits every model call's context to its role's budget, the agent's long-term memory
    (``None``: it remembers nothing past its sessions), and the version of the roles' system
    prompts."""

    agent: Agent
    models: ModelRouter
    executor: ToolExecutor
    deps: Deps
    memory: WorkingMemory = field(default_factory=WorkingMemory)
    long_term: LongTermMemory | None = None
    prompts: PromptBook = field(default_factory=PromptBook.builtin)

    async def deps_for(self, ctx: RunContext) -> Any:
        """What the agent's ``deps`` factory builds for the run's options, or ``None``."""
        if self.agent.deps is None:
            return None
        return await self.deps.get(self.agent.deps, ctx.options)

    async def ask(
        self, visit: Visit, request: ModelRequest
    ) -> tuple[ModelResponse, ModelCallRecord]:
        """Ask the request's role's model, its context fitted to the role's budget (the
        conversation the run recalled, for the roles that read it); emit and return the record
        of the call. Raises what the model stack raises (``BudgetExceeded``,
        ``ModelUnavailableError``, ``ScriptError``), or ``ContextOverflow``."""
        request = await self.memory.fit(request, visit.state.get("recalled"))
        response = await self.models.request(request)
        record = call_record(request, response)
        visit.emit(ModelCalled(dict(record)))
        return response, record

    async def ask_logged(self, visit: Visit, request: ModelRequest) -> tuple[ModelResponse, Update]:
        """``ask``, with the updates recording the call (its record, the transcript, the role's
        count of calls, or of escalated calls)."""
        response, record = await self.ask(visit, request)
        key = counted_as(request.role.value, escalated=bool(request.call.escalation))
        counts = {**visit.state["calls_per_role"], key: request.call.index + 1}
        return response, {
            "model_calls": [record],
            "transcript": [transcript.entry(visit.node, response.message())],
            "calls_per_role": counts,
        }


def unavailable(visit: Visit, request: ModelRequest, exc: AgentlabError, **changes: Any) -> Update:
    """End the run: a model that cannot answer (or may not: a budget) is a failure to report,
    not to hide. Its reply is then written from the record: the responder would be asked in
    vain (a context too large for one role does not stop the responder)."""
    reason = why_unavailable(request, exc)
    if not isinstance(exc, ContextOverflow):
        changes.setdefault("no_model_reply", reason)
    return visit.move(Status.FAILED, reason, outcome=reason, **changes)


def why_unavailable(request: ModelRequest, exc: AgentlabError) -> str:
    if isinstance(exc, BudgetExceeded):
        return exc.reason
    if isinstance(exc, ContextOverflow):
        return str(exc)
    return f"{request.role.value} unavailable: {exc}"


MAX_FORCED_MISSES = 2
"""A role's answers in a row without their forced tool that end the run: twice."""


def forced_misses(visit: Visit, role: str, called: Sequence[bool]) -> tuple[int, Update]:
    """The longest run of ``role``'s answers in a row without their forced tool that ends in
    this visit (0 when each of its answers called the tool), counting on from the state's;
    ``called`` says of each answer of this visit, in order, whether it called the tool. Also the
    update that records the run still open (nothing when it is unchanged)."""
    misses = visit.state.get("forced_misses") or {}
    before = misses.get(role, 0)
    count, worst = before, 0
    for ok in called:
        count = 0 if ok else count + 1
        worst = max(worst, count)
    return worst, ({} if count == before else {"forced_misses": {**misses, role: count}})


def ignored_tool_choice(role: str, tool: str, response: ModelResponse) -> str:
    """Why the run ends: ``role``'s model answered twice in a row without calling the tool
    ``tool`` its requests forced."""
    return (
        f"the {role} model answered without calling the forced tool `{tool}` twice in a row "
        f"(its last answer stopped on {response.stop_reason or 'no stop_reason'}): check that "
        "the model's endpoint honours tool_choice"
    )


def also(feedback: str, problem: str) -> str:
    """``feedback`` with one more problem of the current plan."""
    return f"{feedback}; {problem}" if feedback else problem


def recalled_sources(state: Mapping[str, Any]) -> list[str]:
    """The untrusted sources among what the turn recalled (past interactions that read tool
    output): the planner reads them as it reads tool results."""
    return list((state.get("recalled") or {}).get("memory_sources") or [])


def sources(results: Sequence[StepResult], known: Sequence[str] = ()) -> list[str]:
    """The tools whose output is among ``results`` (untrusted content a model is shown)."""
    return list(dict.fromkeys([*known, *(r["tool"] for r in results)]))


async def together(coroutines: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
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
