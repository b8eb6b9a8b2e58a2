"""The policy judges what will run: the arguments it sees are those the tool runs with (schema
defaults filled in, for every source of tools), numbers are finite, and a string condition is not
dodged by case, spacing, invisible characters, look-alike letters, a host's trailing dot or a
channel's sigil, unless the rule asks for an exact match."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from typing import Any, Literal

import pytest
import pytest_asyncio

from agentlab.tools import (
    CallRequest,
    CallScope,
    FunctionToolset,
    ProposedCall,
    Risk,
    Tool,
    ToolExecutor,
    ToolRegistry,
    Verdict,
    tool,
)
from agentlab.tools.calls import call_hash
from agentlab.tools.rules import PolicyFileError, parse_policy
from tests.test_executor_properties import TESTS, Observed, observed

NO_SMS = parse_policy(
    "rules:\n  - {tool: '*', when: {channel: sms}, verdict: deny, reason: no texts}\n"
)
NO_RED = parse_policy(
    "rules:\n  - {tool: paint, when: {color: red}, verdict: deny, reason: not red}\n"
)
sent: list[dict[str, Any]] = []


@tool(risk=Risk.WRITE)
def notify(to: str, channel: Literal["sms", "email"] = "sms") -> dict[str, Any]:
    """Notify someone. Use it to tell a customer something."""
    sent.append({"to": to, "channel": channel})
    return {"sent": to}


def _notify(arguments: dict[str, Any]) -> dict[str, Any]:
    sent.append(arguments)
    return {"sent": arguments["to"]}


NOTIFY_SCHEMA = {
    "type": "object",
    "properties": {
        "to": {"type": "string"},
        "channel": {"type": "string", "enum": ["sms", "email"], "default": "sms"},
        "options": {
            "type": "object",
            "properties": {"retries": {"type": "integer", "default": 3}},
        },
    },
    "required": ["to"],
}
notify_by_schema = Tool.from_schema(
    "notify", "Notify someone. Use it to tell a customer something.", NOTIFY_SCHEMA, _notify
)


@pytest.mark.parametrize("declared", [notify, notify_by_schema], ids=["function", "schema"])
async def test_a_rule_on_a_defaulted_argument_fires_when_the_model_leaves_it_out(declared):
    sent.clear()
    executor = ToolExecutor(ToolRegistry([FunctionToolset([declared])]), NO_SMS)

    outcome = await executor.call(
        CallRequest("1.1", "notify", {"to": "ada"}), CallScope("run-1"), lambda e: None
    )

    assert outcome["error"] == "notify is denied by policy: no texts"
    assert sent == []


async def test_a_schema_tool_runs_with_the_defaults_the_policy_judged_and_the_journal_holds():
    sent.clear()
    executor = ToolExecutor(ToolRegistry([FunctionToolset([notify_by_schema])]), parse_policy(""))
    request = CallRequest("1.1", "notify", {"to": "ada", "options": {}})

    prepared = await executor.prepare(request, "alice")
    outcome = await executor.run(prepared, CallScope("run-1"), lambda e: None)
    journaled = await executor.journal.entry("run-1", "1.1")

    ran_with = {"to": "ada", "channel": "sms", "options": {"retries": 3}}
    assert outcome["ok"]
    assert sent == [ran_with]
    assert prepared.arguments == ran_with
    assert prepared.call_hash == call_hash("notify", ran_with)
    assert journaled is not None and journaled.call_hash == prepared.call_hash


def test_a_default_the_schema_refuses_is_left_to_the_server():
    schema = {"type": "object", "properties": {"tag": {"type": "string", "default": None}}}
    sloppy = Tool.from_schema("tag", "Tag a thing. Use it to label.", schema, lambda a: a)

    assert sloppy.validate({}) == {}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def paint_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Observed]:
    log = tmp_path_factory.mktemp("mcp-paint") / "calls.jsonl"
    async for server in observed(log, sys.executable, str(TESTS / "mcp_paint_server.py")):
        yield server


shared_loop = pytest.mark.asyncio(loop_scope="module")


@shared_loop
async def test_an_mcp_tools_defaulted_argument_is_judged_and_never_reaches_the_server(
    paint_server,
):
    before = len(paint_server.received())
    executor = ToolExecutor(ToolRegistry([paint_server.toolset]), NO_RED)

    outcome = await executor.call(  # color left out: the server's schema defaults it to red
        CallRequest("1.1", "paint", {"wall": "hall"}), CallScope("run-1"), lambda e: None
    )

    assert outcome["error"] == "paint is denied by policy: not red"
    assert paint_server.received()[before:] == []


@shared_loop
async def test_an_mcp_server_receives_the_defaults_the_policy_judged(paint_server):
    outcome, reached = await paint_server.call("paint", {"wall": "hall"})

    assert outcome["ok"], outcome
    assert [c["arguments"] for c in reached] == [{"wall": "hall", "color": "red", "coats": 1}]


# --- numbers --------------------------------------------------------------------------------------


@tool(risk=Risk.WRITE)
def refund(amount: float, note: Any = None) -> str:
    """Refund a customer. Use it when a charge was wrong."""
    return "refunded"


amounts = Tool.from_schema(
    "refund",
    "Refund a customer. Use it when a charge was wrong.",
    {"type": "object", "properties": {"amount": {"type": "number"}, "note": {}}},
    lambda a: "refunded",
)


@pytest.mark.parametrize("declared", [refund, amounts], ids=["function", "schema"])
@pytest.mark.parametrize(
    "arguments",
    [
        {"amount": float("nan")},
        {"amount": float("inf")},
        {"amount": float("-inf")},
        {"amount": "NaN"},
        {"amount": "Infinity"},
        {"amount": 5, "note": [1.0, float("nan")]},
    ],
    ids=["nan", "inf", "-inf", "'NaN'", "'Infinity'", "nested nan"],
)
async def test_a_number_that_is_nan_or_infinite_is_an_invalid_argument(declared, arguments):
    policy = parse_policy(
        "rules:\n"
        "  - {tool: refund, when: {amount: {greater_than: 100}}, verdict: deny, reason: big}"
    )
    executor = ToolExecutor(ToolRegistry([FunctionToolset([declared])]), policy)

    outcome = await executor.call(
        CallRequest("1.1", "refund", arguments), CallScope("run-1"), lambda e: None
    )

    assert outcome["ok"] is False
    assert outcome["error"].startswith("invalid arguments: ")
    assert declared.invalid_arguments(arguments) is not None


@pytest.mark.parametrize("threshold", [".nan", ".inf", "-.inf"])
def test_a_policy_file_cannot_compare_against_nan_or_infinity(threshold):
    with pytest.raises(PolicyFileError, match="line 2"):
        parse_policy(
            "rules:\n  - {tool: refund, when: {amount: {greater_than: "
            + threshold
            + "}}, verdict: deny, reason: big}"
        )


def test_a_nan_that_reaches_the_policy_anyway_is_denied():
    policy = parse_policy("default: allow\n")

    decision = policy.decide(ProposedCall(refund, {"amount": float("nan")}))

    assert decision.verdict is Verdict.DENY


# --- strings --------------------------------------------------------------------------------------

EVIL = r"""
default: allow
rules:
  - {tool: "*", when: {to: {matches: '@evil\.com$'}}, verdict: deny, reason: evil}
  - {tool: "*", when: {channel: {in: [general]}}, verdict: ask, reason: everyone reads it}
  - {tool: "*", when: {channel: SMS}, verdict: ask, reason: costs money}
"""


def verdict_of(text: str, **arguments: Any) -> Verdict:
    return parse_policy(text).decide(ProposedCall(notify_by_schema, arguments, "alice")).verdict


@pytest.mark.parametrize(
    "to",
    [
        "a@evil.com",
        "a@EVIL.com",
        "a@evil.com.",
        "a@evil.com ",
        "a@\u0435vil.com",  # a Cyrillic е
        "a@ev\u200bil.com",
        "ａ@ｅｖｉｌ.ｃｏｍ",  # fullwidth
        "a@evil.com\u2060",  # a word joiner: invisible
    ],
)
def test_matches_catches_the_disguises_of_a_value(to):
    assert verdict_of(EVIL, to=to) is Verdict.DENY


@pytest.mark.parametrize(
    "channel", ["general", "General", "#general", "gen\u200beral", " general ", "@GENERAL"]
)
def test_in_catches_the_disguises_of_a_name(channel):
    assert verdict_of(EVIL, channel=channel) is Verdict.ASK


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"to": "a@evil.community"}, Verdict.ALLOW),
        ({"to": "a@good.com"}, Verdict.ALLOW),
        ({"channel": "generals"}, Verdict.ALLOW),
        ({"channel": "sms"}, Verdict.ASK),  # a value: equality, normalised too
        ({"channel": "s m s"}, Verdict.ALLOW),
    ],
)
def test_normalised_values_still_tell_different_values_apart(arguments, expected):
    assert verdict_of(EVIL, **arguments) is expected


EXACT = r"""
default: allow
rules:
  - {tool: "*", when: {to: {matches: '@evil\.com$', exact: true}}, verdict: deny, reason: e}
  - {tool: "*", when: {channel: {in: [general], exact: true}}, verdict: ask, reason: g}
"""


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"to": "a@evil.com"}, Verdict.DENY),
        ({"to": "a@EVIL.com"}, Verdict.ALLOW),
        ({"channel": "general"}, Verdict.ASK),
        ({"channel": "#general"}, Verdict.ALLOW),
    ],
)
def test_an_exact_condition_compares_the_value_as_given(arguments, expected):
    assert verdict_of(EXACT, **arguments) is expected


ALLOW_LIST = """
default: deny
rules:
  - {tool: "*", when: {channel: {in: [general]}}, verdict: allow, reason: the team's channel}
"""


@pytest.mark.parametrize(
    ("channel", "expected"),
    [("general", Verdict.ALLOW), ("gen\u0435ral", Verdict.DENY), ("General", Verdict.DENY)],
)
def test_a_look_alike_never_earns_an_allow(channel, expected):
    # The tool would act on "genеral" (Cyrillic е), another channel than the one allowed.
    assert verdict_of(ALLOW_LIST, channel=channel) is expected


def test_a_rule_describes_an_exact_condition():
    rule = parse_policy(EXACT).document.rules[0]
    assert rule.describe() == r"deny * when to matching /@evil\.com$/ (exactly)"
