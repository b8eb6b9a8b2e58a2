"""Property tests: arbitrary tool-call payloads thrown at the one executor (unknown names, wrong
types, huge strings, deep nesting, unicode, malformed JSON as text) never crash a run, every bad
call gets an error result, and no tool body runs with arguments that break its schema."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field

from agentlab.tools import (
    CallRequest,
    CallScope,
    DefaultPolicy,
    FunctionToolset,
    Tool,
    ToolExecutor,
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


def _valid(name: str, args: dict[str, Any]) -> bool:
    if name == "tag":
        return jsonschema.Draft202012Validator(SCHEMA).is_valid(args)
    if name == "paint":
        return paint.invalid_arguments(args) is None
    return False


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, args=arguments)
async def test_any_payload_gets_an_outcome_and_no_body_runs_with_invalid_arguments(name, args):
    BODIES.clear()
    request = CallRequest(call_id="1.1", tool=name, arguments=args, approved=True)
    executor = ToolExecutor(ToolRegistry([FunctionToolset([paint, tag])]), DefaultPolicy())

    outcome = await executor.run(request, CallScope(run_id="run-1"), lambda event: None)

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
        outcome = await EXECUTOR.run(request, CallScope(run_id="run-1"), lambda event: None)
        assert outcome["ok"] is False
        assert outcome["error"] == (
            "invalid arguments: arguments must be a JSON object of named values, got str"
        )
        assert BODIES == []
