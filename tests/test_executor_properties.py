"""Property tests: arbitrary tool-call payloads thrown at the one executor (unknown names, wrong
types, huge strings, deep nesting, unicode, malformed JSON as text) never crash a run, every bad
call gets an error result, and no tool body runs with arguments that break its schema; for MCP
tools (real servers over stdio, behind a tee that logs every call reaching them), no call with
such arguments reaches the server at all."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import jsonschema
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field

from agentlab.tools import (
    CallRequest,
    CallScope,
    DefaultPolicy,
    FunctionToolset,
    MCPServer,
    MCPToolset,
    Tool,
    ToolExecutor,
    ToolOutcome,
    ToolRegistry,
    tool,
)

BODIES: list[tuple[str, dict[str, Any]]] = []  # every tool body that ran, with its arguments

SCHEMA = {
    "type": "object",
    "properties": {
        "key": {"type": "string", "minLength": 1, "maxLength": 40, "pattern": "^[a-z]+$"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
    },
    "required": ["key", "tags"],
    "additionalProperties": False,
}


@tool
def paint(
    wall: Annotated[str, Field(pattern=r"^[a-z]+$", max_length=20)],
    color: Literal["red", "green", "blue"] = "red",
    coats: Annotated[int, Field(ge=1, le=3)] = 1,
) -> dict[str, Any]:
    """Paint a wall. Use it when a wall needs paint."""
    BODIES.append(("paint", {"wall": wall, "color": color, "coats": coats}))
    return {"painted": wall}


def _tag(arguments: dict[str, Any]) -> dict[str, Any]:
    BODIES.append(("tag", arguments))
    return {"tagged": arguments["key"]}


tag = Tool.from_schema("tag", "Tag a key. Use it to label things.", SCHEMA, _tag)
EXECUTOR = ToolExecutor(ToolRegistry([FunctionToolset([paint, tag])]), DefaultPolicy())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
deep = st.integers(1, 200).map(lambda n: json.loads("[" * n + "]" * n))
huge = st.integers(10_000, 200_000).map(lambda n: "x" * n)
names = st.sampled_from(["paint", "tag"]) | st.text(max_size=30)
arguments = st.one_of(
    st.dictionaries(
        st.sampled_from(["wall", "color", "coats", "key", "tags"]) | st.text(max_size=10),
        json_values | deep | huge,
        max_size=5,
    ),
    st.fixed_dictionaries({"wall": st.text(), "color": st.text(), "coats": json_values}),
    st.fixed_dictionaries({"key": st.text(), "tags": json_values}),
)


def finite(args: Any) -> bool:
    """Whether ``args`` holds no NaN or infinite number (JSON has none; tools refuse them)."""
    try:
        json.dumps(args, allow_nan=False)
    except ValueError:
        return False
    return True


def _valid(name: str, args: dict[str, Any]) -> bool:
    if name == "tag":
        return jsonschema.Draft202012Validator(SCHEMA).is_valid(args) and finite(args)
    if name == "paint":
        return paint.invalid_arguments(args) is None
    return False


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, args=arguments)
async def test_any_payload_gets_an_outcome_and_no_body_runs_with_invalid_arguments(name, args):
    BODIES.clear()
    request = CallRequest(call_id="1.1", tool=name, arguments=args)
    executor = ToolExecutor(ToolRegistry([FunctionToolset([paint, tag])]), DefaultPolicy())

    outcome = await executor.call(
        request, CallScope(run_id="run-1"), lambda event: None, approved=True
    )

    assert set(outcome) == {"ok", "output", "error"}
    if _valid(name, args):
        assert outcome["ok"], outcome
    else:
        assert outcome["ok"] is False and outcome["error"]
        assert BODIES == []
    for ran, given_args in BODIES:  # whatever ran, ran with arguments its schema accepts
        if ran == "tag":
            jsonschema.validate(given_args, SCHEMA)
        else:
            assert paint.invalid_arguments(given_args) is None


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=200))
async def test_malformed_json_arguments_are_an_error_result(text):
    """A model's arguments arrive as text when they are not valid JSON: never a crash."""
    for name in ("tag", "paint"):
        BODIES.clear()
        request = CallRequest(call_id="1.1", tool=name, arguments=text)  # type: ignore[arg-type]
        outcome = await EXECUTOR.call(request, CallScope(run_id="run-1"), lambda event: None)
        assert outcome["ok"] is False
        assert outcome["error"] == (
            "invalid arguments: arguments must be a JSON object of named values, got str"
        )
        assert BODIES == []


# MCP tools: real servers over stdio, each started once for the module, behind tests/mcp_tee.py.
TESTS = Path(__file__).resolve().parent
shared_loop = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Observed:
    """An MCP server's tools, and the log of the ``tools/call`` requests that reached it."""

    toolset: MCPToolset
    log: Path

    def received(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    async def call(self, name: str, args: Any) -> tuple[ToolOutcome, list[dict[str, Any]]]:
        """The outcome of one approved call through a fresh executor, and what reached the
        server meanwhile."""
        before = len(self.received())
        executor = ToolExecutor(ToolRegistry([self.toolset]), DefaultPolicy())
        request = CallRequest(call_id="1.1", tool=name, arguments=args)
        scope = CallScope(run_id="run-1")
        outcome = await executor.call(request, scope, lambda event: None, approved=True)
        return outcome, self.received()[before:]


async def observed(log: Path, *command: str) -> AsyncIterator[Observed]:
    tee = [str(TESTS / "mcp_tee.py"), str(log), *command]
    toolset = MCPToolset(MCPServer.stdio(sys.executable, tee, timeout_s=15))
    yield Observed(toolset, log)
    await toolset.aclose()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def time_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Observed]:
    pytest.importorskip("mcp_server_time")
    log = tmp_path_factory.mktemp("mcp-time") / "calls.jsonl"
    async for server in observed(log, sys.executable, "-m", "mcp_server_time"):
        yield server


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def paint_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Observed]:
    log = tmp_path_factory.mktemp("mcp-paint") / "calls.jsonl"
    async for server in observed(log, sys.executable, str(TESTS / "mcp_paint_server.py")):
        yield server


async def assert_refused_before_the_server_or_sent_once(
    server: Observed, name: str, args: Any
) -> None:
    schemas = {t.name: t.input_schema for t in await server.toolset.list_tools()}

    outcome, reached = await server.call(name, args)

    assert set(outcome) == {"ok", "output", "error"}
    valid = (
        name in schemas
        and isinstance(args, dict)
        and jsonschema.Draft202012Validator(schemas[name]).is_valid(args)
        and finite(args)
    )
    if valid:
        assert [call["name"] for call in reached] == [name]
        # The server may refuse what the schema allows (an unknown timezone): as an error result.
        assert outcome["ok"] or not (outcome["error"] or "").startswith("invalid"), outcome
    else:
        assert outcome["ok"] is False and outcome["error"]
        assert reached == []
    for call in reached:  # whatever reached the server fits the schema it listed
        jsonschema.validate(call["arguments"], schemas[call["name"]])


zones = st.sampled_from(["UTC", "Europe/Paris", "Mars/Olympus", ""]) | st.text(max_size=20)
not_an_object = st.text(max_size=50)  # arguments that were not a JSON object
time_calls = st.one_of(  # (tool, arguments): calls shaped for each tool, then anything
    st.tuples(st.just("get_current_time"), st.fixed_dictionaries({"timezone": zones})),
    st.tuples(
        st.just("convert_time"),
        st.fixed_dictionaries(
            {
                "source_timezone": zones,
                "time": st.sampled_from(["14:30", "25:99"]) | st.text(max_size=8),
                "target_timezone": zones,
            }
        ),
    ),
    st.tuples(
        st.sampled_from(["get_current_time", "convert_time"]) | st.text(max_size=30),
        st.dictionaries(
            st.sampled_from(["timezone", "source_timezone", "time", "target_timezone"])
            | st.text(max_size=10),
            json_values | deep | huge,
            max_size=4,
        )
        | not_an_object,
    ),
)


@pytest.mark.slow
@pytest.mark.integration
@shared_loop
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(call=time_calls)
async def test_no_call_the_time_servers_schema_forbids_reaches_it(time_server, call):
    await assert_refused_before_the_server_or_sent_once(time_server, *call)


walls = st.from_regex(r"[a-z]{1,22}", fullmatch=True) | st.text(max_size=25)
paint_calls = st.one_of(
    st.tuples(
        st.just("paint"),
        st.fixed_dictionaries(
            {"wall": walls},
            optional={
                "color": st.sampled_from(["red", "green", "blue", "pink"]) | json_values,
                "coats": st.integers(-1, 5) | json_values,
            },
        ),
    ),
    st.tuples(
        st.just("tag"),
        st.fixed_dictionaries(
            {"key": st.text(max_size=45), "tags": st.lists(st.text(max_size=5), max_size=7)}
        ),
    ),
    st.tuples(names, arguments | not_an_object),
)


@pytest.mark.slow
@pytest.mark.integration
@shared_loop
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(call=paint_calls)
async def test_no_call_a_constrained_mcp_tools_schema_forbids_reaches_its_server(
    paint_server, call
):
    await assert_refused_before_the_server_or_sent_once(paint_server, *call)


@pytest.mark.slow
@pytest.mark.integration
@shared_loop
async def test_a_trailing_newline_never_passes_a_dollar_anchored_pattern(paint_server):
    outcome, reached = await paint_server.call("paint", {"wall": "abc\n"})

    assert reached == []
    assert outcome["error"].startswith("invalid arguments")
