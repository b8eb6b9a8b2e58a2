"""MCP, consumed: a real MCP server this project did not write (``mcp-server-time`` from PyPI,
over stdio) joins an agent as a toolset, behind the same executor, policy and journal as local
tools; a server that dies is restarted on the next call, and no call hangs."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agentlab.events import RunEvent, ToolCalled
from agentlab.models.router import scripted_router
from agentlab.models.script import parse_script
from agentlab.orchestration import Agent, Runner
from agentlab.tools import (
    CallRequest,
    CallScope,
    DefaultPolicy,
    Risk,
    ToolExecutor,
    ToolOutcome,
    ToolRegistry,
)
from agentlab.tools.mcp import MCPServer, MCPServerError, MCPToolset, tool_options
from tests.scripts import plan, script, step, verdict
from tests.test_resume import drain

pytest.importorskip("mcp_server_time")

TIME_SERVER = MCPServer.stdio(sys.executable, ["-m", "mcp_server_time"], timeout_s=15)
SCOPE = CallScope(run_id="run-1", principal="alice")
NO_HANG_S = 30  # far above a healthy call (about a second to start the server), far below forever

# One event loop and one time server for these tests: starting the server takes about a second.
shared_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def time_tools() -> AsyncIterator[MCPToolset]:
    toolset = MCPToolset(TIME_SERVER)
    yield toolset
    await toolset.aclose()


def time_servers() -> list[int]:
    """The pids of the time servers this process started (read from /proc: Linux only)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and b"mcp_server_time" in command:
            pids.append(int(entry.name))
    return pids


async def run(
    executor: ToolExecutor,
    name: str,
    arguments: Any,
    call_id: str = "1.1",
    events: list[RunEvent] | None = None,
) -> ToolOutcome:
    request = CallRequest(call_id=call_id, tool=name, arguments=arguments)
    sink: list[RunEvent] = [] if events is None else events
    async with asyncio.timeout(NO_HANG_S):
        return await executor.call(request, SCOPE, sink.append)


def executor_for(toolset: MCPToolset) -> ToolExecutor:
    return ToolExecutor(ToolRegistry([toolset]), DefaultPolicy())


def test_defining_a_toolset_starts_no_server():
    before = time_servers()

    MCPToolset(TIME_SERVER)

    assert time_servers() == before


@pytest.mark.integration
@shared_loop
async def test_the_servers_tools_are_listed_with_risk_from_their_annotations(time_tools):
    tools = {t.name: t for t in await time_tools.list_tools()}

    assert set(tools) == {"get_current_time", "convert_time"}
    now = tools["get_current_time"]
    # mcp-server-time declares both tools readOnlyHint, idempotentHint, not openWorldHint.
    assert (now.risk, now.idempotent, now.egress) == (Risk.READ, True, False)
    assert (tools["convert_time"].risk, tools["convert_time"].idempotent) == (Risk.READ, True)
    assert now.input_schema["required"] == ["timezone"]
    assert "timezone" in now.description.lower()
    assert now.source == f"mcp:{TIME_SERVER.label}"


def test_a_servers_tools_say_what_serves_them_by_its_name_and_its_command_or_url():
    named = MCPToolset(MCPServer.stdio("python", ["servers/notes.py"], name="notes"))
    assert named.source == "mcp:notes (python servers/notes.py)"
    assert MCPToolset(MCPServer.http("http://127.0.0.1:9/mcp")).source == (
        "mcp:http://127.0.0.1:9/mcp"
    )


def test_annotations_map_to_risk_idempotency_and_egress():
    from mcp.types import ToolAnnotations as Hints

    assert tool_options(Hints(read_only_hint=True)) == {
        "risk": Risk.READ,
        "idempotent": True,
        "egress": False,
    }
    assert tool_options(Hints(destructive_hint=True))["risk"] is Risk.DESTRUCTIVE
    assert tool_options(None) == {"risk": Risk.WRITE, "idempotent": False, "egress": False}
    assert tool_options(Hints(idempotent_hint=True, open_world_hint=True)) == {
        "risk": Risk.WRITE,
        "idempotent": True,
        "egress": True,
    }


@pytest.mark.slow
@pytest.mark.integration
@shared_loop
async def test_a_named_server_prefixes_its_tools():
    toolset = MCPToolset(MCPServer.stdio(sys.executable, ["-m", "mcp_server_time"], name="clock"))
    try:
        names = {t.name for t in await toolset.list_tools()}
        outcome = await run(executor_for(toolset), "clock_get_current_time", {"timezone": "UTC"})
    finally:
        await toolset.aclose()

    assert names == {"clock_get_current_time", "clock_convert_time"}
    assert outcome["ok"], outcome


@pytest.mark.integration
@shared_loop
async def test_a_call_through_the_executor_returns_the_servers_structured_result(time_tools):
    events: list[RunEvent] = []
    outcome = await run(
        executor_for(time_tools), "get_current_time", {"timezone": "UTC"}, events=events
    )

    assert outcome["ok"], outcome
    assert outcome["output"]["timezone"] == "UTC"
    assert outcome["output"]["datetime"].endswith("+00:00")
    [called] = events
    assert isinstance(called, ToolCalled)
    assert called.result["journal"] == "ran"


@pytest.mark.integration
@shared_loop
async def test_arguments_the_schema_forbids_are_refused_before_the_server(time_tools):
    executor = executor_for(time_tools)
    events: list[RunEvent] = []
    missing = await run(executor, "get_current_time", {}, "1.1", events)
    not_a_string = await run(executor, "get_current_time", {"timezone": 3}, "1.2", events)

    assert missing["error"] == "invalid arguments: arguments: 'timezone' is a required property"
    assert not_a_string["error"] == "invalid arguments: timezone: 3 is not of type 'string'"
    # The executor refused both: neither call was journaled or sent.
    assert [e.result["journal"] for e in events if isinstance(e, ToolCalled)] == ["refused"] * 2


@pytest.mark.integration
@shared_loop
async def test_an_unknown_timezone_is_the_servers_error_as_an_error_result(time_tools):
    outcome = await run(executor_for(time_tools), "get_current_time", {"timezone": "Mars/Olympus"})

    assert not outcome["ok"]
    assert "Invalid timezone" in outcome["error"]
    assert "Mars/Olympus" in outcome["error"]


@pytest.mark.slow
@pytest.mark.integration
@shared_loop
async def test_a_server_killed_mid_session_is_restarted_and_no_call_hangs(time_tools):
    executor = executor_for(time_tools)
    assert (await run(executor, "get_current_time", {"timezone": "UTC"}, "1.1"))["ok"]
    [first] = time_servers()

    os.kill(first, signal.SIGKILL)  # the shared server: the next tests see it restarted
    await asyncio.sleep(0.2)
    after_kill = await run(executor, "get_current_time", {"timezone": "UTC"}, "1.2")
    later = await run(executor, "get_current_time", {"timezone": "Europe/Paris"}, "1.3")

    if not after_kill["ok"]:  # the dead session answered first; the next call reconnected
        assert "is not answering" in after_kill["error"]
        assert "restarted on the next call" in after_kill["error"]
    assert later["ok"], later
    assert later["output"]["timezone"] == "Europe/Paris"
    assert first not in time_servers()


@pytest.mark.integration
@shared_loop
async def test_a_server_that_cannot_start_is_an_error_that_names_it():
    toolset = MCPToolset(MCPServer.stdio(sys.executable, ["-c", "pass"], timeout_s=5))
    async with asyncio.timeout(NO_HANG_S):
        with pytest.raises(MCPServerError, match="did not list its tools"):
            await toolset.list_tools()
    await toolset.aclose()


@pytest.mark.slow
@pytest.mark.integration
def test_a_toolset_used_from_a_new_event_loop_reconnects():
    before = set(time_servers())
    toolset = MCPToolset(TIME_SERVER)
    executor = executor_for(toolset)

    async def now(call_id: str) -> ToolOutcome:
        return await run(executor, "get_current_time", {"timezone": "UTC"}, call_id)

    first = asyncio.run(now("1.1"))  # as a SyncRunner's loop, then a notebook's
    second = asyncio.run(now("1.2"))
    asyncio.run(toolset.aclose())

    assert first["ok"] and second["ok"], (first, second)
    assert set(time_servers()) <= before  # the first loop's server did not outlive its loop


@pytest.mark.integration
@shared_loop
async def test_an_agent_with_an_mcp_toolset_runs_to_completed(settings, time_tools):
    text = script(
        planner=[plan(step("get_current_time", timezone="UTC"))],
        validator=[verdict(True, "the time is known")],
    )
    agent = Agent(
        "clock",
        "tells the time",
        toolsets=[time_tools],
        models=scripted_router(parse_script(text), source="test script"),
    )
    async with asyncio.timeout(NO_HANG_S), Runner(settings) as runner:
        run_id, events = await runner.start(agent, "what time is it in UTC?")
        ended = (await drain(events))[-1]
        view = await runner.get(run_id)

    assert ended.status == "completed"
    [result] = view.state["results"]
    assert result["tool"] == "get_current_time"
    assert result["outcome"]["ok"]
    assert result["outcome"]["output"]["timezone"] == "UTC"


@pytest.mark.slow
@pytest.mark.integration
async def test_closing_the_runner_stops_the_servers_its_agents_started(settings):
    toolset = MCPToolset(TIME_SERVER)
    text = script(
        planner=[plan(step("get_current_time", timezone="UTC"))],
        validator=[verdict(True, "the time is known")],
    )
    agent = Agent(
        "clock",
        "tells the time",
        toolsets=[toolset],
        models=scripted_router(parse_script(text), source="test script"),
    )
    before = set(time_servers())
    async with asyncio.timeout(NO_HANG_S):
        async with Runner(settings) as runner:
            _, events = await runner.start(agent, "what time is it in UTC?")
            assert (await drain(events))[-1].status == "completed"
            started = set(time_servers()) - before
            assert started  # the run started a server
        for _ in range(50):  # the process exits once its session is closed
            if not set(time_servers()) & started:
                break
            await asyncio.sleep(0.1)
    assert not set(time_servers()) & started
