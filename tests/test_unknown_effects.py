"""Unknown means unknown: a call whose request may have reached its tool and whose answer never
came (the tool's timeout passed, the connection broke mid-call, an MCP server died while
answering) is not a failure to re-plan around. For a tool that is not idempotent the run asks a
person, as after a crash, and running it again keeps its idempotency key; an idempotent tool's
call is an error result the model may retry. A request that never left is a plain failure."""

from __future__ import annotations

import asyncio
import http.client
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from agentlab.models.router import scripted_router
from agentlab.models.script import parse_script
from agentlab.orchestration import Agent, Answer, Runner, decision_for
from agentlab.tools import (
    CallRequest,
    CallScope,
    DefaultPolicy,
    EffectUnknown,
    FunctionToolset,
    MCPServer,
    MCPToolset,
    Risk,
    ToolContext,
    ToolError,
    ToolExecutor,
    ToolRegistry,
    tool,
)
from agentlab.tools.journal import UnknownSideEffect
from agentlab.tools.unknown import effect_unknown
from tests.conftest import Ledger, waiting
from tests.scripts import plan, script, step, verdict


class HttpxLikeReadError(Exception):
    """Named as httpx names a connection lost while reading the answer."""


HttpxLikeReadError.__name__ = "ReadError"


class HttpxLikeConnectError(Exception):
    """Named as httpx names a connection that could not be opened."""


HttpxLikeConnectError.__name__ = "ConnectError"


def chained(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize(
    ("exc", "unknown"),
    [
        (ConnectionResetError(104, "Connection reset by peer"), True),
        (BrokenPipeError(32, "Broken pipe"), True),
        (TimeoutError("read timed out"), True),
        (http.client.RemoteDisconnected("closed"), True),
        (HttpxLikeReadError("peer closed"), True),
        (EffectUnknown("sent, no answer"), True),
        (chained(RuntimeError("upload failed"), ConnectionResetError()), True),
        (BaseExceptionGroup("tasks", [ValueError("x"), ConnectionAbortedError()]), True),
        (ConnectionRefusedError(111, "Connection refused"), False),
        (HttpxLikeConnectError("refused"), False),
        (chained(ConnectionResetError(), ConnectionRefusedError()), False),
        (ToolError("no such order"), False),
        (ValueError("bad input"), False),
        (KeyError("x"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_which_failures_leave_the_effect_unknown(exc: BaseException, unknown: bool):
    assert effect_unknown(exc) is unknown


def charging_agent(ledger: Ledger, body: Any, *, idempotent: bool = False, text: str) -> Agent:
    """An agent whose ``charge`` tool records its effect in ``ledger``, then does ``body``."""

    @tool(risk=Risk.WRITE, timeout_s=0.3, idempotent=idempotent)
    def charge(ctx: ToolContext, amount: int) -> dict[str, Any]:
        """Charge the customer. Use it to take a payment."""
        ledger.calls.append(("charge", {"amount": amount, "key": ctx.idempotency_key}))
        return body(amount)

    return Agent(
        "shop",
        "a test agent that takes payments",
        toolsets=[FunctionToolset([charge])],
        policy=DefaultPolicy(),
        models=scripted_router(parse_script(text), source="test script"),
    )


CHARGE = script(planner=[plan(step("charge", amount=5))], validator=[verdict(True, "charged")])


def slow(seconds: float) -> Any:
    def body(amount: int) -> dict[str, Any]:
        import time

        time.sleep(seconds)
        return {"charged": amount}

    return body


def reset_after_effect(times: list[bool]) -> Any:
    def body(amount: int) -> dict[str, Any]:
        if times and times.pop(0):
            raise ConnectionResetError(104, "Connection reset by peer")
        return {"charged": amount}

    return body


async def run_to_pause(runner: Runner, agent: Agent) -> str:
    run_id, events = await runner.start(agent, "charge 5")
    [*_, ended] = [e async for e in events]
    assert ended.status == "awaiting_human", ended
    return run_id


async def test_a_write_tool_past_its_timeout_asks_a_person_instead_of_failing(settings):
    ledger = Ledger()
    agent = charging_agent(ledger, slow(1.0), text=CHARGE)
    async with Runner(settings) as runner:
        run_id = await run_to_pause(runner, agent)
        view = await runner.get(run_id)
        [request] = view.requests

    assert request.unknown_effect and request.tool == "charge" and request.attempt == 1
    reason = request.reasons[0]
    assert "got no answer: charge did not answer within its timeout_s = 0.3 s" in reason
    assert "may still be running" in reason
    assert ledger.names() == ["charge"]  # not re-planned and run again


async def test_running_it_again_keeps_its_idempotency_key_and_happened_records_it(settings):
    ledger = Ledger()
    agent = charging_agent(ledger, reset_after_effect([True]), text=CHARGE)
    async with Runner(settings) as runner:
        run_id = await run_to_pause(runner, agent)
        request = waiting(await runner.get(run_id))
        assert request is not None
        assert "ConnectionResetError" in request["reasons"][0]
        events = await runner.resume(run_id, decision_for(request, approve=True))
        [*_, ended] = [e async for e in events]

    assert ended.status == "completed"
    [(_, first), (_, again)] = ledger.calls
    assert first["key"] == again["key"]  # an API that deduplicates by key is safe


async def test_an_idempotent_tool_past_its_timeout_is_an_error_the_model_sees(settings):
    ledger = Ledger()
    text = script(
        planner=[plan(step("charge", amount=5)), plan(give_up="the payment system is slow")],
        validator=[verdict(False, "not charged")],
    )
    agent = charging_agent(ledger, slow(1.0), idempotent=True, text=text)
    async with Runner(settings) as runner:
        run_id, events = await runner.start(agent, "charge 5")
        [*_, ended] = [e async for e in events]
        view = await runner.get(run_id)

    assert ended.status != "awaiting_human"
    [result] = view.state["results"]
    assert result["outcome"]["error"] == "charge timed out after 0.3 s"


async def test_a_request_that_never_left_is_a_plain_failure(settings):
    ledger = Ledger()

    def refused(amount: int) -> dict[str, Any]:
        raise ConnectionRefusedError(111, "Connection refused")

    text = script(
        planner=[plan(step("charge", amount=5)), plan(give_up="the payment system is down")],
        validator=[verdict(False, "not charged")],
    )
    agent = charging_agent(ledger, refused, text=text)
    async with Runner(settings) as runner:
        run_id, events = await runner.start(agent, "charge 5")
        [*_, ended] = [e async for e in events]
        view = await runner.get(run_id)

    assert ended.status != "awaiting_human"
    assert "ConnectionRefusedError" in view.state["results"][0]["outcome"]["error"]


async def test_a_standing_approval_never_answers_whether_a_call_took_effect(settings):
    ledger = Ledger()
    agent = charging_agent(ledger, slow(1.0), text=CHARGE)
    async with Runner(settings) as runner:
        run_id = await run_to_pause(runner, agent)
        view = await runner.get(run_id)
        orders = [r for r in view.requests if not r.unknown_effect]  # what --approve answers
        with pytest.raises(Exception, match="waiting for no decision"):
            await runner.decide(run_id, Answer.APPROVE, shown=orders)
        assert (await runner.get(run_id)).status == "awaiting_human"


async def test_with_nobody_to_ask_the_caller_is_told_the_effect_is_unknown_every_time():
    @tool(risk=Risk.WRITE, timeout_s=0.1)
    async def send(text: str) -> str:
        """Send a message."""
        await asyncio.sleep(5)
        return text

    executor = ToolExecutor(ToolRegistry([FunctionToolset([send])]), DefaultPolicy())
    request = CallRequest(call_id="1", tool="send", arguments={"text": "hi"})
    scope = CallScope(run_id="run-1")

    with pytest.raises(UnknownSideEffect) as first:
        await executor.call(request, scope, lambda event: None)
    with pytest.raises(UnknownSideEffect) as again:  # not run again: still unknown
        await executor.call(request, scope, lambda event: None)

    assert "did not answer within its timeout_s = 0.1 s" in (first.value.why or "")
    assert again.value.why is None and again.value.entry.attempt == 1


NOTES_SERVER = [sys.executable, str(Path(__file__).with_name("mcp_notes_server.py"))]


@pytest.mark.integration
async def test_an_mcp_server_dying_mid_call_asks_a_person_and_the_effect_happens_once(
    settings, tmp_path
):
    notes = tmp_path / "notes.txt"
    server = MCPServer.stdio(
        NOTES_SERVER[0],
        NOTES_SERVER[1:],
        name="notes",
        env={**os.environ, "NOTES_FILE": str(notes)},
    )
    toolset = MCPToolset(server)
    text = script(
        planner=[plan(step("notes_append_note", text="die: remember the milk"))],
        validator=[verdict(True, "noted")],
    )
    agent = Agent(
        "notes",
        "a test agent that keeps notes",
        toolsets=[toolset],
        policy=DefaultPolicy(),
        models=scripted_router(parse_script(text), source="test script"),
    )
    try:
        async with Runner(settings) as runner:
            run_id = await run_to_pause(runner, agent)
            request = waiting(await runner.get(run_id))
            assert request is not None
            assert request["kind"] == "unknown_side_effect"
            assert "is not answering" in request["reasons"][0]
            assert "after the call was sent" in request["reasons"][0]
            decision = decision_for(request, happened=True, result={"appended": "checked"})
            events = await runner.resume(run_id, decision)
            [*_, ended] = [e async for e in events]
    finally:
        await toolset.aclose()

    assert ended.status == "completed"
    assert notes.read_text().splitlines() == ["die: remember the milk"]  # once


def test_every_answers_several_calls_of_unknown_effect_only_when_said():
    from agentlab.errors import Fix, RunStateError
    from agentlab.orchestration.requests import Request, RequestKind, decisions_for

    shown = [
        Request(RequestKind.UNKNOWN_SIDE_EFFECT, f"1.{i}/unknown_side_effect/1", f"h{i}",
                f"1.{i}", "charge", {"amount": i}, attempt=1)
        for i in (1, 2)
    ]  # fmt: skip
    with pytest.raises(RunStateError) as refused:
        decisions_for("run-1", Answer.APPROVE, shown)
    assert refused.value.fix is Fix.EACH

    decided = decisions_for("run-1", Answer.APPROVE, shown, every=True)

    assert [(d["request_id"], d["approve"]) for d in decided] == [
        ("1.1/unknown_side_effect/1", True),
        ("1.2/unknown_side_effect/1", True),
    ]
