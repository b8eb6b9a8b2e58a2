"""Tools: schemas from type hints, validation and failures as data, toolsets, authorization."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from pydantic import Field

from agentlab.tools import (
    Permission,
    Tool,
    ToolContext,
    ToolError,
    Toolset,
    authorization_error,
    tool,
)

CTX = ToolContext(run_id="run-1", step_id="step-2", idempotency_key="run-1:step-2")


@tool
def paint(
    ctx: ToolContext,
    wall: Annotated[str, Field(pattern=r"^[a-z]+$", description="Which wall to paint.")],
    color: Literal["red", "green", "blue"] = "red",
    coats: Annotated[int, Field(ge=1, le=3)] = 1,
) -> dict[str, Any]:
    """Paint a wall.

    Walls are named in lower case.
    """
    return {"wall": wall, "color": color, "coats": coats, "run": ctx.run_id}


@tool
def refuse(reason: str) -> dict[str, Any]:
    """Always refuse, for the given reason."""
    raise ToolError(f"refused: {reason}")


@tool
def whoami(ctx: ToolContext) -> dict[str, Any]:
    """Report the call's context."""
    return {"run_id": ctx.run_id, "step_id": ctx.step_id, "key": ctx.idempotency_key}


@tool(permission=Permission.DESTRUCTIVE)
def demolish(wall: str) -> dict[str, Any]:
    """Knock a wall down for good."""
    return {"demolished": wall}


@tool(permission=Permission.WRITE, requires_confirmation=True)
def announce(text: str) -> dict[str, Any]:
    """Announce something to everyone."""
    return {"announced": text}


@tool(permission=Permission.WRITE)
def note(text: str) -> dict[str, Any]:
    """Write a note nobody reads."""
    return {"noted": text}


def schema(t: Tool) -> dict[str, Any]:
    return t.spec.input_schema


# --- schema from type hints -----------------------------------------------------------------------


def test_literal_argument_becomes_an_enum_in_the_schema():
    assert schema(paint)["properties"]["color"]["enum"] == ["red", "green", "blue"]


def test_ge_le_constraints_become_a_range_in_the_schema():
    coats = schema(paint)["properties"]["coats"]
    assert (coats["minimum"], coats["maximum"]) == (1, 3)


def test_field_pattern_and_description_appear_in_the_schema():
    wall = schema(paint)["properties"]["wall"]
    assert wall["pattern"] == "^[a-z]+$"
    assert wall["description"] == "Which wall to paint."


def test_defaults_appear_in_the_schema():
    props = schema(paint)["properties"]
    assert (props["color"]["default"], props["coats"]["default"]) == ("red", 1)


def test_only_arguments_without_default_are_required():
    assert schema(paint)["required"] == ["wall"]


def test_schema_forbids_additional_properties():
    assert schema(paint)["additionalProperties"] is False


def test_tool_context_parameter_is_not_in_the_schema():
    assert set(schema(paint)["properties"]) == {"wall", "color", "coats"}
    assert schema(whoami)["properties"] == {}


def test_description_is_the_cleaned_docstring():
    assert paint.spec.description == "Paint a wall.\n\nWalls are named in lower case."


def test_name_defaults_to_the_function_name_and_can_be_given():
    @tool(name="custom_name")
    def something(x: int) -> int:
        """Return x."""
        return x

    assert (paint.spec.name, something.spec.name) == ("paint", "custom_name")


# --- refused at declaration -----------------------------------------------------------------------


def test_function_without_docstring_is_refused_at_declaration():
    def undocumented(x: int) -> int:
        return x

    with pytest.raises(ValueError, match="undocumented.*docstring"):
        tool(undocumented)


def test_unannotated_parameter_is_refused_at_declaration():
    def loose(x):  # type: ignore[no-untyped-def]
        """Take anything."""
        return x

    with pytest.raises(TypeError, match="'x' needs a type hint"):
        tool(loose)


def test_var_keyword_parameter_is_refused_at_declaration():
    def anything(**kwargs: Any) -> None:
        """Take any keywords."""

    with pytest.raises(TypeError, match="kwargs"):
        tool(anything)


# --- calls: validation and failures are data ------------------------------------------------------


def test_valid_call_returns_ok_with_the_function_output():
    outcome = paint.run(CTX, {"wall": "north", "color": "blue"})
    assert outcome == {
        "ok": True,
        "error": None,
        "output": {"wall": "north", "color": "blue", "coats": 1, "run": "run-1"},
    }


def test_enum_argument_outside_choices_is_an_error_result():
    outcome = paint.run(CTX, {"wall": "north", "color": "purple"})
    assert outcome["ok"] is False
    assert outcome["output"] is None
    assert outcome["error"].startswith("invalid arguments: color:")


def test_out_of_range_argument_is_an_error_result_naming_the_field():
    outcome = paint.run(CTX, {"wall": "north", "coats": 4})
    assert outcome["ok"] is False
    assert "coats" in outcome["error"]
    assert "less than or equal to 3" in outcome["error"]


def test_argument_not_matching_pattern_is_an_error_result():
    outcome = paint.run(CTX, {"wall": "North Wall"})
    assert outcome["ok"] is False
    assert "wall" in outcome["error"]


def test_missing_required_argument_is_an_error_result_naming_the_field():
    outcome = paint.run(CTX, {"color": "red"})
    assert outcome["ok"] is False
    assert "wall: Field required" in outcome["error"]


def test_unknown_argument_is_an_error_result_naming_it():
    outcome = paint.run(CTX, {"wall": "north", "brush": "wide"})
    assert outcome["ok"] is False
    assert "brush" in outcome["error"]


def test_every_invalid_field_is_reported_in_one_message():
    outcome = paint.run(CTX, {"wall": "north", "color": "purple", "coats": 0})
    assert "color" in outcome["error"]
    assert "coats" in outcome["error"]


def test_invalid_arguments_does_not_run_the_function():
    calls: list[int] = []

    @tool
    def count(n: Annotated[int, Field(ge=0)]) -> int:
        """Count to n."""
        calls.append(n)
        return n

    count.run(CTX, {"n": -1})
    assert calls == []


def test_invalid_arguments_explains_without_running():
    assert paint.invalid_arguments({"wall": "north"}) is None
    assert "coats" in (paint.invalid_arguments({"wall": "north", "coats": 9}) or "")


def test_tool_error_becomes_an_error_result_with_its_message():
    assert refuse.run(CTX, {"reason": "closed"}) == {
        "ok": False,
        "output": None,
        "error": "refused: closed",
    }


def test_other_exceptions_are_programming_errors_and_propagate():
    @tool
    def broken() -> None:
        """Fail with a bug."""
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        broken.run(CTX, {})


def test_tool_context_is_passed_to_a_first_parameter_typed_tool_context():
    assert whoami.run(CTX, {})["output"] == {
        "run_id": "run-1",
        "step_id": "step-2",
        "key": "run-1:step-2",
    }


def test_tool_without_context_parameter_is_called_without_it():
    assert demolish.run(CTX, {"wall": "east"}) == {
        "ok": True,
        "output": {"demolished": "east"},
        "error": None,
    }


# --- toolsets ------------------------------------------------------------------------------------


def test_toolset_rejects_two_tools_with_the_same_name():
    @tool(name="paint")
    def other_paint(wall: str) -> None:
        """Another painter."""

    with pytest.raises(ValueError, match="'paint'"):
        Toolset([paint, other_paint])


def test_toolset_looks_tools_up_by_name():
    tools = Toolset([paint, refuse])
    assert tools.get("refuse") is refuse
    assert tools.get("missing") is None
    assert "paint" in tools
    assert "missing" not in tools


def test_toolset_keeps_declaration_order_in_names_and_iteration():
    tools = Toolset([refuse, paint, whoami])
    assert tools.names == ["refuse", "paint", "whoami"]
    assert [t.name for t in tools] == ["refuse", "paint", "whoami"]
    assert len(tools) == 3


def test_toolset_specs_describe_every_tool():
    specs = Toolset([paint, refuse]).specs()
    assert [(s.name, s.description) for s in specs] == [
        ("paint", paint.description),
        ("refuse", "Always refuse, for the given reason."),
    ]
    assert specs[1].input_schema["required"] == ["reason"]


# --- approval and authorization ------------------------------------------------------------------


def test_destructive_tool_needs_approval():
    assert demolish.needs_approval is True


def test_tool_requiring_confirmation_needs_approval():
    assert announce.needs_approval is True


def test_read_and_plain_write_tools_need_no_approval():
    assert (paint.needs_approval, note.needs_approval) == (False, False)


def test_unapproved_destructive_call_is_refused():
    error = authorization_error(demolish, approved=False)
    assert error is not None
    assert "demolish" in error
    assert "destructive" in error


def test_unapproved_call_of_tool_requiring_confirmation_is_refused():
    error = authorization_error(announce, approved=False)
    assert error is not None
    assert "announce" in error
    assert "not approved" in error


def test_refusal_of_tool_requiring_confirmation_reads_as_a_sentence():
    error = authorization_error(announce, approved=False)
    assert error is not None
    assert "is needs" not in error


def test_approved_destructive_call_is_allowed():
    assert authorization_error(demolish, approved=True) is None


def test_read_and_plain_write_tools_are_allowed_without_approval():
    assert authorization_error(paint, approved=False) is None
    assert authorization_error(note, approved=False) is None
