"""A tool call is decided once: validated, hashed and judged by the policy at prepare; at execution
the hash is checked and the policy asked once more (the second lock), nothing else."""

from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from agentlab.models.router import scripted_router
from agentlab.models.script import parse_script
from agentlab.orchestration import Agent, Runner, decision_for
from agentlab.tools import FunctionToolset, PolicyDecision, ProposedCall, Risk, Tool, tool
from agentlab.tools import calls as tool_calls
from agentlab.tools.policy import DefaultPolicy
from tests.conftest import waiting
from tests.scripts import plan, script, step, verdict


class CountingPolicy:
    """The default policy, counting the decisions it makes about calls with arguments (the plan's
    catalog asks about each tool with none)."""

    def __init__(self) -> None:
        self.inner = DefaultPolicy()
        self.decisions: list[Mapping[str, Any]] = []

    def decide(self, call: ProposedCall) -> PolicyDecision:
        if call.arguments:
            self.decisions.append(dict(call.arguments))
        return self.inner.decide(call)


def counted_validation(t: Tool, seen: Counter[str]) -> Tool:
    """``t``, counting the validations of its arguments."""

    def validate(arguments: dict[str, Any]) -> dict[str, Any]:
        seen["validations"] += 1
        return t.validator(arguments)

    return dataclasses.replace(t, validator=validate)


@contextmanager
def counting_hashes(seen: Counter[str]) -> Iterator[None]:
    """Count every call of ``call_hash`` (whoever imported it), on this thread."""
    code = tool_calls.call_hash.__code__

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is code:
            seen["hashes"] += 1

    sys.setprofile(profile)
    try:
        yield
    finally:
        sys.setprofile(None)


async def test_an_approved_call_is_decided_once_at_prepare_and_locked_once_at_execution(
    settings, tmp_path
):
    ran: list[str] = []

    @tool(risk=Risk.DESTRUCTIVE)
    async def wipe(key: str, confirm: bool = True) -> dict:
        """Delete a key for good."""
        ran.append(key)
        return {"wiped": key}

    seen: Counter[str] = Counter()
    policy = CountingPolicy()
    counted = counted_validation(wipe, seen)
    models = scripted_router(
        parse_script(script(planner=[plan(step("wipe", key="a"))], validator=[verdict(True)]))
    )
    agent = Agent(
        "wiper", "wipes keys", toolsets=[FunctionToolset([counted])], policy=policy, models=models
    )

    async with Runner(settings) as runner:
        with counting_hashes(seen):  # plan, then prepare; paused for the approval
            run_id, events = await runner.start(agent, "wipe a")
            async for _ in events:
                pass
        view = await runner.get(run_id)
        assert view.status == "awaiting_human"
        at_prepare = (seen["validations"], seen["hashes"], len(policy.decisions))
        decision = decision_for(waiting(view) or {}, approve=True)
        with counting_hashes(seen):  # approved: execute, then validate
            async for _ in await runner.resume(run_id, decision):
                pass
        view = await runner.get(run_id)
    at_execution = (
        seen["validations"] - at_prepare[0],
        seen["hashes"] - at_prepare[1],
        len(policy.decisions) - at_prepare[2],
    )

    assert view.status == "completed" and ran == ["a"]
    # (validations, hashes, policy decisions)
    assert at_prepare == (1, 1, 1)
    assert at_execution == (0, 1, 1)
    # The policy judged the canonical arguments (the default filled in), both times.
    assert policy.decisions == [{"key": "a", "confirm": True}] * 2
