"""Tools: schemas from type hints or JSON schemas, toolsets, the policy, and the one executor."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import pytest
from pydantic import Field

from agentlab.errors import ConfigError
from agentlab.events import RunEvent, ToolCalled
from agentlab.tools import (
    CallRequest,
    CallScope,
    DefaultPolicy,
    FunctionToolset,
    Policy,
    PolicyDecision,
    ProposedCall,
    Risk,
    Tool,
    ToolContext,
    ToolError,
    ToolExecutor,
    ToolOutcome,
    ToolRegistry,
    Toolset,
    Verdict,
    WrapperToolset,
    tool,
)
from agentlab.tools.journal import UnknownSideEffect

CTX = ToolContext(run_id="run-1", call_id="step-2", idempotency_key="run-1:step-2")
SCOPE = CallScope(run_id="run-1", principal="alice", session="session-9", deps={"db": "handle"})


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
    return {
        "run_id": ctx.run_id,
        "call_id": ctx.call_id,
        "key": ctx.idempotency_key,
        "principal": ctx.principal,
        "session": ctx.session,
        "deps": ctx.deps,
    }


@tool(risk=Risk.DESTRUCTIVE)
def demolish(wall: str) -> dict[str, Any]:
    """Knock a wall down for good."""
    return {"demolished": wall}


@tool(risk=Risk.WRITE, requires_confirmation=True)
def announce(text: str) -> dict[str, Any]:
    """Announce something to everyone."""
    return {"announced": text}


@tool(risk=Risk.WRITE)
def note(text: str) -> dict[str, Any]:
    """Write a note nobody reads."""
    return {"noted": text}


@tool(risk=Risk.WRITE, cost_usd=5.0)
def order(item: str) -> dict[str, Any]:
    """Order an item (costs money)."""
    return {"ordered": item}


def schema(t: Tool) -> dict[str, Any]:
    return t.spec.input_schema


def executor(*tools: Tool, policy: Policy | None = None) -> ToolExecutor:
    return ToolExecutor(ToolRegistry([FunctionToolset(tools)]), policy or DefaultPolicy())


async def run(
    ex: ToolExecutor,
    name: str,
    arguments: dict[str, Any] | None = None,
    *,
    approved: bool = False,
    planned_destructive: bool = False,
    estimated_cost_usd: float = 0.0,
    events: list[RunEvent] | None = None,
) -> ToolOutcome:
    """Make one call through ``ex`` as step ``step-2`` of run ``run-1``."""
    request = CallRequest(
        call_id="step-2",
        tool=name,
        arguments=dict(arguments or {}),
        planned_destructive=planned_destructive,
        estimated_cost_usd=estimated_cost_usd,
    )
    sink: list[RunEvent] = [] if events is None else events
    return await ex.call(request, SCOPE, sink.append, approved=approved)


async def call(t: Tool, arguments: dict[str, Any] | None = None, **options: Any) -> ToolOutcome:
    """Call ``t`` alone through an executor under the default policy."""
    return await run(executor(t), t.name, arguments, **options)


def decide(t: Tool, **call: Any) -> PolicyDecision:
    return DefaultPolicy().decide(ProposedCall(t, **call))


def counter() -> tuple[list[dict[str, Any]], Tool]:
    """A schema tool that records every run, with an enum, a range and a pattern."""
    runs: list[dict[str, Any]] = []

    def mix(arguments: dict[str, Any]) -> dict[str, Any]:
        runs.append(arguments)
        return {"mixed": arguments["paint"]}

    return runs, Tool.from_schema("mix", "Mix paint.", MIX_SCHEMA, mix)


MIX_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "paint": {"type": "string", "enum": ["red", "green", "blue"]},
        "litres": {"type": "number", "minimum": 0.5, "maximum": 20},
        "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2}$"},
    },
    "required": ["paint"],
    "additionalProperties": False,
}


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


def test_read_tools_are_idempotent_by_default_and_others_are_not():
    assert (paint.risk, paint.idempotent) == (Risk.READ, True)
    assert (note.idempotent, demolish.idempotent) == (False, False)


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


def test_non_positive_timeout_is_refused_at_declaration():
    def slow(x: int) -> int:
        """Return x, slowly."""
        return x

    with pytest.raises(ValueError, match="timeout_s must be positive"):
        tool(slow, timeout_s=0)


# --- calls: validation and failures are data ------------------------------------------------------


async def test_valid_call_returns_ok_with_the_function_output():
    outcome = await call(paint, {"wall": "north", "color": "blue"})
    assert outcome == {
        "ok": True,
        "error": None,
        "output": {"wall": "north", "color": "blue", "coats": 1, "run": "run-1"},
    }


async def test_enum_argument_outside_choices_is_an_error_result():
    outcome = await call(paint, {"wall": "north", "color": "purple"})
    assert outcome["ok"] is False
    assert outcome["output"] is None
    assert outcome["error"].startswith("invalid arguments: color:")


async def test_out_of_range_argument_is_an_error_result_naming_the_field():
    outcome = await call(paint, {"wall": "north", "coats": 4})
    assert outcome["ok"] is False
    assert "coats" in outcome["error"]
    assert "less than or equal to 3" in outcome["error"]


async def test_argument_not_matching_pattern_is_an_error_result():
    outcome = await call(paint, {"wall": "North Wall"})
    assert outcome["ok"] is False
    assert "wall" in outcome["error"]


async def test_missing_required_argument_is_an_error_result_naming_the_field():
    outcome = await call(paint, {"color": "red"})
    assert outcome["ok"] is False
    assert "wall: Field required" in outcome["error"]


async def test_unknown_argument_is_an_error_result_naming_it():
    outcome = await call(paint, {"wall": "north", "brush": "wide"})
    assert outcome["ok"] is False
    assert "brush" in outcome["error"]


async def test_every_invalid_field_is_reported_in_one_message():
    outcome = await call(paint, {"wall": "north", "color": "purple", "coats": 0})
    assert "color" in outcome["error"]
    assert "coats" in outcome["error"]


async def test_invalid_arguments_does_not_run_the_function():
    calls: list[int] = []

    @tool
    def count(n: Annotated[int, Field(ge=0)]) -> int:
        """Count to n."""
        calls.append(n)
        return n

    await call(count, {"n": -1})
    assert calls == []


def test_invalid_arguments_explains_without_running():
    assert paint.invalid_arguments({"wall": "north"}) is None
    assert "coats" in (paint.invalid_arguments({"wall": "north", "coats": 9}) or "")


async def test_tool_error_becomes_an_error_result_with_its_message():
    assert await call(refuse, {"reason": "closed"}) == {
        "ok": False,
        "output": None,
        "error": "refused: closed",
    }


async def test_any_other_exception_becomes_an_error_result_naming_its_type():
    @tool
    def broken() -> None:
        """Fail with a bug."""
        raise RuntimeError("bug")

    assert await call(broken) == {"ok": False, "output": None, "error": "RuntimeError: bug"}


async def test_a_failing_tools_traceback_goes_to_the_log(caplog: pytest.LogCaptureFixture):
    @tool
    def broken() -> None:
        """Fail with a bug."""
        raise RuntimeError("bug")

    with caplog.at_level(logging.ERROR, logger="agentlab.tools.executor"):
        await call(broken)

    [record] = [r for r in caplog.records if r.name == "agentlab.tools.executor"]
    assert "broken" in record.getMessage()
    assert "run-1" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


async def test_base_exception_from_a_tool_is_not_swallowed():
    class Crash(BaseException):
        """Stands for the process dying mid-call."""

    @tool
    def dies() -> None:
        """Take the process down."""
        raise Crash

    with pytest.raises(Crash):
        await call(dies)


async def test_tool_context_is_passed_to_a_first_parameter_typed_tool_context():
    assert (await call(whoami))["output"] == {
        "run_id": "run-1",
        "call_id": "step-2",
        "key": "run-1:step-2",
        "principal": "alice",
        "session": "session-9",
        "deps": {"db": "handle"},
    }


async def test_tool_without_context_parameter_is_called_without_it():
    output = await FunctionToolset([demolish]).call_tool("demolish", {"wall": "east"}, CTX)
    assert output == {"demolished": "east"}


async def test_async_function_tool_is_awaited():
    @tool
    async def later(x: int) -> int:
        """Return x after yielding to the loop."""
        await asyncio.sleep(0)
        return x * 2

    assert await call(later, {"x": 21}) == {"ok": True, "output": 42, "error": None}


async def test_sync_function_tool_runs_off_the_event_loop_thread():
    loop_thread = threading.get_ident()

    @tool
    def where() -> int:
        """Report the thread the tool runs in."""
        return threading.get_ident()

    assert (await call(where))["output"] != loop_thread


# --- tools from a JSON schema ---------------------------------------------------------------------


def test_schema_tool_shows_the_model_its_schema_and_description():
    _, mix = counter()
    assert (mix.spec.name, mix.spec.description) == ("mix", "Mix paint.")
    assert mix.spec.input_schema == MIX_SCHEMA


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"paint": "purple"}, "paint"),
        ({"paint": "red", "litres": 0.1}, "litres"),
        ({"paint": "red", "litres": 21}, "litres"),
        ({"paint": "red", "code": "abc-12"}, "code"),
        ({"litres": 1}, "paint"),
    ],
    ids=["enum", "below-range", "above-range", "pattern", "missing"],
)
async def test_schema_tool_with_invalid_arguments_is_an_error_result_and_does_not_run(
    arguments: dict[str, Any], field: str
):
    runs, mix = counter()

    outcome = await call(mix, arguments)

    assert outcome["ok"] is False
    assert outcome["error"].startswith("invalid arguments: ")
    assert field in outcome["error"]
    assert runs == []


async def test_schema_tool_with_valid_arguments_runs_a_sync_function():
    runs, mix = counter()
    arguments = {"paint": "blue", "litres": 2.5, "code": "ABC-12"}

    assert await call(mix, arguments) == {"ok": True, "output": {"mixed": "blue"}, "error": None}
    assert runs == [arguments]


async def test_schema_tool_runs_an_async_function():
    async def mix(arguments: dict[str, Any]) -> str:
        await asyncio.sleep(0)
        return f"mixed {arguments['paint']}"

    t = Tool.from_schema("mix", "Mix paint.", MIX_SCHEMA, mix)

    assert (await call(t, {"paint": "green"}))["output"] == "mixed green"


async def test_schema_tool_function_taking_two_parameters_receives_the_context():
    seen: list[ToolContext] = []

    def mix(ctx: ToolContext, arguments: dict[str, Any]) -> str:
        seen.append(ctx)
        return arguments["paint"]

    t = Tool.from_schema("mix", "Mix paint.", MIX_SCHEMA, mix)

    assert (await call(t, {"paint": "red"}))["output"] == "red"
    [ctx] = seen
    assert (ctx.run_id, ctx.call_id, ctx.idempotency_key) == ("run-1", "step-2", "run-1:step-2")
    assert (ctx.principal, ctx.deps) == ("alice", {"db": "handle"})


def test_schema_tool_with_an_invalid_schema_is_refused_at_declaration():
    with pytest.raises(ValueError, match="tool 'mix': its input schema is invalid"):
        Tool.from_schema("mix", "Mix paint.", {"type": "objekt"}, lambda arguments: None)


def test_schema_tool_without_description_is_refused_at_declaration():
    with pytest.raises(ValueError, match="'mix' needs a description"):
        Tool.from_schema("mix", "  ", MIX_SCHEMA, lambda arguments: None)


def wreck_tool(runs: list[dict[str, Any]]) -> Tool:
    return Tool.from_schema(
        "wreck",
        "Wreck a wall.",
        {"type": "object", "properties": {"wall": {"type": "string"}}, "required": ["wall"]},
        runs.append,
        risk=Risk.DESTRUCTIVE,
    )


async def test_destructive_schema_tool_is_refused_without_approval():
    runs: list[dict[str, Any]] = []

    outcome = await call(wreck_tool(runs), {"wall": "east"})

    assert outcome["ok"] is False
    assert "wreck needs a human's approval (destructive)" in outcome["error"]
    assert runs == []


async def test_destructive_schema_tool_runs_when_approved():
    runs: list[dict[str, Any]] = []

    outcome = await call(wreck_tool(runs), {"wall": "east"}, approved=True)

    assert outcome["ok"] is True
    assert runs == [{"wall": "east"}]


# --- toolsets -------------------------------------------------------------------------------------


def test_function_toolset_rejects_two_tools_with_the_same_name():
    @tool(name="paint")
    def other_paint(wall: str) -> None:
        """Another painter."""

    with pytest.raises(ValueError, match="'paint'"):
        FunctionToolset([paint, other_paint])


def test_function_and_wrapper_toolsets_are_toolsets():
    inner = FunctionToolset([paint])
    assert isinstance(inner, Toolset)
    assert isinstance(WrapperToolset(inner, prefix="x_"), Toolset)


async def test_function_toolset_add_works_as_a_decorator():
    toolset = FunctionToolset()

    @toolset.add
    @tool
    def echo(text: str) -> str:
        """Echo the text."""
        return text

    assert [t.name for t in await toolset.list_tools()] == ["echo"]
    assert await toolset.call_tool("echo", {"text": "hi"}, CTX) == "hi"


async def test_registry_looks_tools_up_by_name():
    registry = ToolRegistry([FunctionToolset([paint, refuse])])
    assert await registry.get("refuse") is refuse
    assert await registry.get("missing") is None


async def test_registry_keeps_declaration_order_across_toolsets():
    registry = ToolRegistry([FunctionToolset([refuse, paint]), FunctionToolset([whoami])])
    assert [t.name for t in await registry.tools()] == ["refuse", "paint", "whoami"]


async def test_registry_specs_describe_every_tool():
    specs = [t.spec for t in await ToolRegistry([FunctionToolset([paint, refuse])]).tools()]
    assert [(s.name, s.description) for s in specs] == [
        ("paint", paint.description),
        ("refuse", "Always refuse, for the given reason."),
    ]
    assert specs[1].input_schema["required"] == ["reason"]


async def test_registry_refuses_two_toolsets_offering_the_same_name():
    @tool(name="paint")
    def other_paint(wall: str) -> None:
        """Another painter."""

    registry = ToolRegistry([FunctionToolset([paint]), FunctionToolset([other_paint])])

    with pytest.raises(ConfigError, match="two tools are named 'paint'"):
        await registry.tools()


async def test_a_prefix_resolves_a_name_clash_between_toolsets():
    @tool(name="paint")
    def other_paint(wall: str) -> str:
        """Another painter."""
        return f"other painted {wall}"

    registry = ToolRegistry(
        [FunctionToolset([paint]), WrapperToolset(FunctionToolset([other_paint]), prefix="alt_")]
    )

    assert [t.name for t in await registry.tools()] == ["paint", "alt_paint"]
    assert await registry.call("alt_paint", {"wall": "north"}, CTX) == "other painted north"


class Recording(FunctionToolset):
    """A function toolset that records the names it is asked to call."""

    def __init__(self, tools: Sequence[Tool]) -> None:
        super().__init__(tools)
        self.called: list[str] = []

    async def call_tool(self, name: str, arguments: dict[str, Any], ctx: ToolContext) -> Any:
        self.called.append(name)
        return await super().call_tool(name, arguments, ctx)


async def names(toolset: Toolset) -> list[str]:
    return [t.name for t in await toolset.list_tools()]


async def test_wrapper_include_lists_only_the_included_tools():
    wrapper = WrapperToolset(FunctionToolset([paint, note, demolish]), include=["note", "paint"])
    assert await names(wrapper) == ["paint", "note"]


async def test_wrapper_exclude_hides_the_excluded_tools():
    wrapper = WrapperToolset(FunctionToolset([paint, note, demolish]), exclude=["demolish"])
    assert await names(wrapper) == ["paint", "note"]


async def test_wrapper_where_keeps_the_tools_it_accepts():
    wrapper = WrapperToolset(
        FunctionToolset([paint, note, demolish]), where=lambda t: t.risk is Risk.READ
    )
    assert await names(wrapper) == ["paint"]


async def test_filtered_out_tool_cannot_be_called_through_the_wrapper():
    inner = Recording([note, demolish])
    ex = ToolExecutor(ToolRegistry([WrapperToolset(inner, exclude=["demolish"])]), DefaultPolicy())

    outcome = await run(ex, "demolish", {"wall": "east"}, approved=True)

    assert outcome["ok"] is False
    assert outcome["error"].startswith("unknown tool 'demolish'")
    assert inner.called == []


async def test_wrapper_rename_lists_the_new_name_and_calls_the_inner_tool_by_its_own():
    inner = Recording([note, announce])
    wrapper = WrapperToolset(inner, rename={"note": "jot"})
    ex = ToolExecutor(ToolRegistry([wrapper]), DefaultPolicy())

    outcome = await run(ex, "jot", {"text": "hello"})

    assert await names(wrapper) == ["jot", "announce"]
    assert outcome == {"ok": True, "output": {"noted": "hello"}, "error": None}
    assert inner.called == ["note"]


async def test_wrapper_prefix_goes_before_every_renamed_name():
    inner = Recording([note, announce])
    wrapper = WrapperToolset(inner, rename={"note": "jot"}, prefix="desk_")
    ex = ToolExecutor(ToolRegistry([wrapper]), DefaultPolicy())

    outcome = await run(ex, "desk_announce", {"text": "hi"}, approved=True)

    assert await names(wrapper) == ["desk_jot", "desk_announce"]
    assert outcome["output"] == {"announced": "hi"}
    assert inner.called == ["announce"]


async def test_renamed_tool_keeps_its_description_schema_and_risk():
    [renamed] = await WrapperToolset(FunctionToolset([demolish]), prefix="x_").list_tools()
    assert renamed.name == "x_demolish"
    assert (renamed.description, renamed.input_schema) == (
        demolish.description,
        demolish.input_schema,
    )
    assert renamed.risk is Risk.DESTRUCTIVE


async def test_renamed_destructive_tool_still_needs_approval():
    ex = ToolExecutor(
        ToolRegistry([WrapperToolset(FunctionToolset([demolish]), prefix="x_")]), DefaultPolicy()
    )

    outcome = await run(ex, "x_demolish", {"wall": "east"})

    assert outcome["ok"] is False
    assert "needs a human's approval" in outcome["error"]


# --- the default policy ---------------------------------------------------------------------------


def test_destructive_tool_needs_approval():
    assert decide(demolish) == PolicyDecision(Verdict.ASK, ("destructive",))


def test_tool_requiring_confirmation_needs_approval():
    assert decide(announce) == PolicyDecision(Verdict.ASK, ("needs confirmation",))


def test_read_and_plain_write_tools_need_no_approval():
    assert decide(paint).verdict is Verdict.ALLOW
    assert decide(note).verdict is Verdict.ALLOW
    assert decide(note).allowed is True


def test_step_planned_as_destructive_needs_approval_even_for_a_read_tool():
    assert decide(paint, planned_destructive=True).reasons == ("destructive",)


def test_tool_costing_more_than_the_threshold_needs_approval():
    decision = decide(order)
    assert decision.verdict is Verdict.ASK
    assert decision.reasons == ("estimated cost $5.00 > $1.00",)


def test_step_estimated_above_the_threshold_needs_approval():
    assert decide(note, estimated_cost_usd=2.5).verdict is Verdict.ASK
    assert decide(note, estimated_cost_usd=0.5).verdict is Verdict.ALLOW


def test_cost_threshold_is_configurable():
    assert DefaultPolicy(cost_threshold_usd=10.0).decide(ProposedCall(order)).allowed is True


def test_every_reason_is_given():
    @tool(risk=Risk.DESTRUCTIVE, requires_confirmation=True, cost_usd=3.0)
    def nuke(target: str) -> None:
        """Destroy a target, expensively."""

    assert decide(nuke).reasons == (
        "destructive",
        "needs confirmation",
        "estimated cost $3.00 > $1.00",
    )


# --- authorization by the executor ----------------------------------------------------------------


async def test_unapproved_destructive_call_is_refused_and_does_not_run():
    ran: list[str] = []

    @tool(risk=Risk.DESTRUCTIVE)
    def demolish(wall: str) -> None:
        """Knock a wall down for good."""
        ran.append(wall)

    outcome = await call(demolish, {"wall": "east"})

    assert outcome["ok"] is False
    assert "demolish" in outcome["error"]
    assert "destructive" in outcome["error"]
    assert ran == []


async def test_unapproved_call_of_tool_requiring_confirmation_is_refused():
    outcome = await call(announce, {"text": "hi"})
    assert outcome["ok"] is False
    assert "announce" in outcome["error"]
    assert "not approved" in outcome["error"]


async def test_refusal_of_tool_requiring_confirmation_reads_as_a_sentence():
    outcome = await call(announce, {"text": "hi"})
    assert outcome["error"] == (
        "announce needs a human's approval (needs confirmation) and was not approved"
    )


async def test_unapproved_costly_step_is_refused():
    outcome = await call(note, {"text": "hi"}, estimated_cost_usd=2.0)
    assert outcome["ok"] is False
    assert "estimated cost $2.00" in outcome["error"]


async def test_approved_destructive_call_runs():
    outcome = await call(demolish, {"wall": "east"}, approved=True)
    assert outcome == {"ok": True, "output": {"demolished": "east"}, "error": None}


async def test_read_and_plain_write_tools_run_without_approval():
    assert (await call(paint, {"wall": "north"}))["ok"] is True
    assert (await call(note, {"text": "hi"}))["ok"] is True


class DenyAll:
    """A policy that denies every call."""

    def __init__(self) -> None:
        self.seen: list[ProposedCall] = []

    def decide(self, call: ProposedCall) -> PolicyDecision:
        self.seen.append(call)
        return PolicyDecision(Verdict.DENY, ("reason",))


async def test_denied_call_is_an_error_result_and_does_not_run_even_if_approved():
    ran: list[str] = []

    @tool
    def lookup(key: str) -> str:
        """Look a key up."""
        ran.append(key)
        return key

    outcome = await run(executor(lookup, policy=DenyAll()), "lookup", {"key": "k"}, approved=True)

    assert outcome == {"ok": False, "output": None, "error": "lookup is denied by policy: reason"}
    assert ran == []


async def test_policy_is_asked_with_the_calls_principal_arguments_and_plan():
    policy = DenyAll()

    await run(
        executor(note, policy=policy),
        "note",
        {"text": "hi"},
        planned_destructive=True,
        estimated_cost_usd=0.25,
    )

    [proposed] = policy.seen
    assert proposed.tool is note
    assert dict(proposed.arguments) == {"text": "hi"}
    assert proposed.principal == "alice"
    assert (proposed.planned_destructive, proposed.estimated_cost_usd) == (True, 0.25)


async def test_invalid_arguments_are_reported_before_the_policy_is_asked():
    policy = DenyAll()

    outcome = await run(executor(note, policy=policy), "note", {})

    assert outcome["error"].startswith("invalid arguments: text:")
    assert policy.seen == []


# --- the executor ---------------------------------------------------------------------------------


async def test_unknown_tool_is_an_error_result_listing_the_tools():
    outcome = await run(executor(paint, note), "paint_it_black", {})
    assert outcome == {
        "ok": False,
        "output": None,
        "error": "unknown tool 'paint_it_black'; the tools are: paint, note",
    }


async def test_tool_exceeding_its_timeout_is_an_error_result():
    @tool(timeout_s=0.05)
    async def hang() -> None:
        """Never finish."""
        await asyncio.sleep(30)

    outcome = await asyncio.wait_for(call(hang), timeout=5)

    assert outcome == {"ok": False, "output": None, "error": "hang timed out after 0.05 s"}


@pytest.mark.parametrize(
    ("name", "arguments", "ok"),
    [
        ("note", {"text": "hi"}, True),
        ("note", {"text": 3}, False),
        ("demolish", {"wall": "east"}, False),
        ("refuse", {"reason": "closed"}, False),
        ("missing", {"x": 1}, False),
    ],
    ids=["ok", "invalid", "refused", "tool-error", "unknown"],
)
async def test_every_call_emits_one_tool_called_event(
    name: str, arguments: dict[str, Any], ok: bool
):
    events: list[RunEvent] = []

    outcome = await run(executor(note, demolish, refuse), name, arguments, events=events)

    [event] = events
    assert isinstance(event, ToolCalled)
    result = event.result
    assert (result["step_id"], result["tool"], result["arguments"]) == ("step-2", name, arguments)
    assert result["outcome"] == outcome
    assert outcome["ok"] is ok
    assert isinstance(result["duration_s"], float)
    assert result["duration_s"] >= 0


async def test_tool_called_event_measures_the_calls_duration():
    @tool
    async def nap() -> None:
        """Sleep a little."""
        await asyncio.sleep(0.05)

    events: list[RunEvent] = []
    await run(executor(nap), "nap", events=events)

    [event] = events
    assert isinstance(event, ToolCalled)
    assert 0.05 <= event.result["duration_s"] < 5


async def test_a_call_that_failed_before_is_refused_unless_approved_and_still_reported():
    runs, mix = counter()
    ex = executor(mix)
    events: list[RunEvent] = []
    request = CallRequest(call_id="1.2", tool="mix", arguments={"paint": "red"})

    refused = await ex.call(request, SCOPE, events.append, failed_before=True)
    approved = await ex.call(request, SCOPE, events.append, failed_before=True, approved=True)

    assert refused["error"] == "the same call already failed earlier in this run"
    assert approved["ok"] and runs == [{"paint": "red"}]
    assert [type(e) for e in events] == [ToolCalled, ToolCalled]


async def test_a_tools_own_timeout_error_is_reported_as_its_error_not_as_our_deadline():
    @tool(timeout_s=5)
    async def fetch(url: str) -> str:
        """Fetch a page."""
        raise TimeoutError("the server did not answer")

    outcome = await call(fetch, {"url": "http://127.0.0.1:9"})

    assert outcome["error"] == "TimeoutError: the server did not answer"


async def test_a_timed_out_write_tool_says_its_effect_is_unknown():
    @tool(risk=Risk.WRITE, timeout_s=0.05)
    async def slow_write(key: str) -> str:
        """Write slowly."""
        await asyncio.sleep(1)
        return key

    with pytest.raises(UnknownSideEffect) as unknown:
        await call(slow_write, {"key": "a"})

    assert unknown.value.why == (
        "slow_write did not answer within its timeout_s = 0.05 s and may still be running"
    )
    assert unknown.value.entry.attempt == 1 and unknown.value.entry.outcome is None


async def test_a_schema_function_with_optional_parameters_gets_its_arguments_not_the_context():
    seen: list[Any] = []

    def handle(arguments: dict[str, Any], retries: int = 3) -> str:
        seen.append(arguments)
        return "ok"

    echo = Tool.from_schema("echo", "Echo.", {"type": "object"}, handle)

    assert (await call(echo, {"x": 1}))["ok"]
    assert seen == [{"x": 1}]


@pytest.mark.parametrize(
    ("pattern", "value", "ok"),
    [
        ("^[a-z]+$", "abc", True),
        ("^[a-z]+$", "abc\n", False),  # ECMA-262's $ is the very end; Python's is not
        (r"^cost \$\d+$", "cost $5", True),
        ("^[$]+$", "$$", True),
        ("^[$]+$", "$$\n", False),
    ],
)
def test_schema_patterns_are_anchored_as_json_schema_says(pattern, value, ok):
    wall = Tool.from_schema(
        "paint",
        "Paint a wall.",
        {"type": "object", "properties": {"wall": {"type": "string", "pattern": pattern}}},
        lambda arguments: arguments,
    )
    assert (wall.invalid_arguments({"wall": value}) is None) is ok
