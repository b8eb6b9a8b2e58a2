"""The ``validate`` node: is the task done?

The validator is the agent's deterministic ``check`` when it has one, else the validator model;
falling short sends the run back to planning with the reason (to the planner's stronger model,
if it has one: ``escalate.py``). A validator model that answers without its forced tool is asked
once more; the second such answer in a row ends the run.
"""

from __future__ import annotations

import asyncio
import inspect
import logging

from pydantic import ValidationError

from agentlab.errors import AgentlabError
from agentlab.models.base import Role
from agentlab.orchestration import prompts, transcript
from agentlab.orchestration.agent import Evidence
from agentlab.orchestration.nodes.common import (
    MAX_FORCED_MISSES,
    Parts,
    forced_misses,
    ignored_tool_choice,
    unavailable,
)
from agentlab.orchestration.nodes.escalate import escalate_planner
from agentlab.orchestration.state import Status
from agentlab.orchestration.visit import Update, Visit
from agentlab.tools.tool import format_validation_error

log = logging.getLogger(__name__)


async def validate(parts: Parts, visit: Visit) -> Update:
    """Ask the validator (the agent's check, else its model) whether the task is done."""
    if parts.agent.check is not None:
        return await _check(parts, visit)
    state = visit.state
    request = prompts.validator_request(
        state["task"],
        plan=state["plan"],
        results=state.get("results", []),
        call=visit.call_info("validator"),
        prompts=parts.prompts,
    )
    try:
        response, logs = await parts.ask_logged(visit, request)
    except AgentlabError as exc:
        return unavailable(visit, request, exc)
    call = response.tool_call(prompts.SUBMIT_VERDICT.name)
    misses, noted = forced_misses(visit, Role.VALIDATOR.value, [call is not None])
    logs.update(noted)
    if misses >= MAX_FORCED_MISSES:
        reason = ignored_tool_choice(Role.VALIDATOR.value, prompts.SUBMIT_VERDICT.name, response)
        logs["transcript"] += transcript.answer(visit.node, response, reason, is_error=True)
        return visit.move(Status.FAILED, reason, outcome=reason, **logs)
    if call is None:  # no verdict yet: asked once more (a second miss in a row ends the run)
        reason = f"the validator did not call {prompts.SUBMIT_VERDICT.name}: asked again"
        logs["transcript"] += transcript.answer(visit.node, response, reason, is_error=True)
        return visit.move(Status.VALIDATING, reason, **logs)
    try:
        verdict = prompts.Verdict.model_validate(call.arguments)
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
        **escalate_planner(parts, visit, verdict.reason),
        **logs,
    )


async def _check(parts: Parts, visit: Visit) -> Update:
    """Validate with the agent's deterministic check instead of a model."""
    check = parts.agent.check
    assert check is not None
    try:
        evidence = Evidence(
            task=visit.state["task"],
            plan=list(visit.state["plan"]),
            results=list(visit.state.get("results", [])),
            deps=await parts.deps_for(visit.ctx),
        )
        if inspect.iscoroutinefunction(check):
            verdict = await check(evidence)
        else:  # a sync check may query a database: off the event loop
            verdict = await asyncio.to_thread(check, evidence)
        if inspect.isawaitable(verdict):  # an async callable object or partial
            verdict = await verdict
        complete, reason = verdict
    except Exception as exc:  # a check that cannot decide: the run cannot be called done
        log.exception("the check of agent %s failed", parts.agent.name)
        reason = f"the check could not decide: {type(exc).__name__}: {exc}"
        return visit.move(Status.FAILED, reason, outcome=reason)
    if complete:
        return visit.move(Status.COMPLETED, str(reason), outcome=str(reason))
    return visit.move(
        Status.PLANNING,
        f"falls short: {reason}",
        feedback=f"the check found the task unfinished: {reason}",
        **escalate_planner(parts, visit, str(reason)),
    )
