"""Authorization policy as data: allow / ask / deny per tool glob, argument condition and
principal; floors no file can lower; clear errors for a broken file; every decision recorded with
the run and shown; ``agentlab policy check`` explains a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest

from agentlab.domains.support import support_tools
from agentlab.domains.support.agent import POLICY_FILE
from agentlab.tools import ProposedCall, Risk, Tool, ToolRegistry, Verdict
from agentlab.tools.rules import PolicyFileError, load_policy, parse_policy
from tests.test_cli import agentlab, run_id_in

RULES = """
default: allow
rules:
  - tool: send_notification
    when: {channel: sms}
    verdict: ask
    reason: an SMS reaches a phone
  - tool: "*"
    when: {user_id: {longer_than: 10}}
    verdict: ask
    reason: bulk messages need a human
  - tool: "delete_*"
    principal: support-bot
    verdict: deny
    reason: bots never delete
  - tool: [archive, "export_*"]
    principal: [intern, "contractor-*"]
    verdict: deny
    reason: not for temporary staff
  - tool: refund
    when: {amount: {greater_than: 100}, currency: {in: [EUR, USD]}}
    verdict: ask
    reason: large refunds need a second person
"""


def make(name: str, risk: Risk = Risk.WRITE, **options: Any) -> Tool:
    def run(arguments: dict[str, Any]) -> dict[str, Any]:
        return arguments

    return Tool.from_schema(
        name, f"The {name} tool.", {"type": "object"}, run, risk=risk, **options
    )


def verdict(text: str, name: str, principal: str = "alice", **arguments: Any) -> Verdict:
    policy = parse_policy(text)
    return policy.decide(ProposedCall(make(name), arguments, principal)).verdict


@pytest.mark.parametrize(
    ("name", "principal", "arguments", "expected"),
    [
        ("send_notification", "alice", {"channel": "email"}, Verdict.ALLOW),
        ("send_notification", "alice", {"channel": "sms"}, Verdict.ASK),
        ("send_notification", "alice", {"user_id": list(range(11))}, Verdict.ASK),
        ("send_notification", "alice", {"user_id": list(range(10))}, Verdict.ALLOW),
        ("broadcast", "alice", {"user_id": list(range(50))}, Verdict.ASK),  # any tool
        ("delete_everything", "support-bot", {}, Verdict.DENY),
        ("delete_everything", "alice", {}, Verdict.ALLOW),  # a WRITE tool here: no floor
        ("export_csv", "contractor-7", {}, Verdict.DENY),
        ("archive", "intern", {}, Verdict.DENY),
        ("archive", "alice", {}, Verdict.ALLOW),
        ("refund", "alice", {"amount": 150, "currency": "EUR"}, Verdict.ASK),
        ("refund", "alice", {"amount": 150, "currency": "JPY"}, Verdict.ALLOW),
        ("refund", "alice", {"amount": 50, "currency": "EUR"}, Verdict.ALLOW),
        ("refund", "alice", {"currency": "EUR"}, Verdict.ALLOW),  # condition on a missing arg
    ],
)
def test_verdict_per_tool_argument_condition_and_principal(name, principal, arguments, expected):
    assert verdict(RULES, name, principal, **arguments) is expected


def test_the_strictest_matching_rule_wins_whatever_the_order():
    ask_then_deny = """
rules:
  - {tool: "*", verdict: ask, reason: everything asks}
  - {tool: wipe, principal: bot, verdict: deny, reason: bots never wipe}
"""
    deny_then_ask = "\n".join(
        [ask_then_deny.splitlines()[0], "rules:", *reversed(ask_then_deny.splitlines()[2:])]
    )
    for text in (ask_then_deny, deny_then_ask):
        decision = parse_policy(text).decide(ProposedCall(make("wipe"), {}, "bot"))
        assert decision.verdict is Verdict.DENY
        assert decision.reasons == ("bots never wipe",)
        assert decision.rule is not None and "deny wipe for bot" in decision.rule


def test_destructive_and_confirmed_tools_ask_at_least_whatever_the_file_says():
    allow_all = "default: allow\nrules:\n  - {tool: '*', verdict: allow, reason: trusted}\n"
    policy = parse_policy(allow_all)
    destructive = policy.decide(ProposedCall(make("wipe", Risk.DESTRUCTIVE)))
    confirmed = policy.decide(ProposedCall(make("mail", requires_confirmation=True)))
    planned = policy.decide(ProposedCall(make("store"), planned_destructive=True))
    plain = policy.decide(ProposedCall(make("store")))
    assert (destructive.verdict, destructive.reasons) == (Verdict.ASK, ("destructive",))
    assert (confirmed.verdict, confirmed.reasons) == (Verdict.ASK, ("needs confirmation",))
    assert planned.verdict is Verdict.ASK
    assert plain.verdict is Verdict.ALLOW


def test_a_default_of_deny_denies_what_no_rule_allows():
    text = "default: deny\nrules:\n  - {tool: lookup, verdict: allow, reason: reading is fine}\n"
    assert verdict(text, "lookup") is Verdict.ALLOW
    assert verdict(text, "store") is Verdict.DENY


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("rules:\n  - tool: x\n    verdict: maybe\n    reason: r\n", 3, "rules.0.verdict: Input"),
        ("rules:\n  - tool: x\n    verdict: ask\n", 2, "rules.0.reason: Field required"),
        ("rules:\n  - tool: x\n   verdict: ask\n", 3, "not valid YAML"),
        ("default: allow\nrulez: []\n", 2, "rulez: Extra inputs are not permitted"),
        (
            "rules:\n  - tool: x\n    verdict: ask\n    reason: r\n    when: {a: {matches: '('}}\n",
            5,
            "not a regular expression",
        ),
        ("- just a list\n", 1, "expected a mapping"),
    ],
)
def test_a_broken_policy_file_names_the_file_the_line_and_the_problem(
    tmp_path, text, line, problem
):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyFileError) as error:
        load_policy(path)
    message = str(error.value)
    assert message.startswith(f"policy file {path}, line {line}: ")
    assert problem in message


def test_a_missing_policy_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(PolicyFileError, match=r"cannot read the policy file .*nope\.yaml"):
        load_policy(tmp_path / "nope.yaml")


async def test_the_support_policy_keeps_the_demo_asking_and_denies_deletes_to_bots():
    policy = load_policy(POLICY_FILE)
    tools = {t.name: t for t in await ToolRegistry([support_tools]).tools()}

    def decide(name: str, principal: str, **arguments: Any) -> Verdict:
        return policy.decide(ProposedCall(tools[name], arguments, principal)).verdict

    assert decide("search_customers", "alice", customer_id=1) is Verdict.ALLOW
    assert decide("send_notification", "alice", user_id=1, message="hi") is Verdict.ASK
    assert decide("delete_customer", "alice", customer_id=1) is Verdict.ASK
    assert decide("delete_customer", "support-bot", customer_id=1) is Verdict.DENY


def test_policy_check_explains_each_tool_for_each_principal(env):
    result = agentlab(
        env, "policy", "check", POLICY_FILE, "--agent", "agentlab.domains.support:agent"
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "│" in line]
    cells = [[c.strip() for c in row.split("│")[1:-1]] for row in rows]
    decided = {(c[0], c[1]): c[2] for c in cells if c[0]}
    assert decided[("delete_customer", "support-bot")] == "deny"
    assert decided[("delete_customer", "(anyone else)")] == "ask"
    assert decided[("search_customers", "support-bot")] == "allow"
    assert "ask when channel equals 'sms'" in result.stdout


def test_policy_check_of_a_broken_file_is_one_error_line(env, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("rules:\n  - {tool: x, verdict: nope, reason: r}\n")
    result = agentlab(env, "policy", "check", path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: policy file {path}, line 2: rules.0.verdict: Input should be 'allow', 'ask' "
        "or 'deny'"
    ]


def test_every_decision_is_recorded_with_the_run_and_shown(env):
    started = agentlab(
        env,
        "run",
        "Close Ada Lovelace's account",
        "--script",
        Path("agentlab/domains/support/demo_script.yaml").resolve(),
        "--as",
        "support-bot",
        "--approve",
    )
    run_id = run_id_in(started.stdout)
    shown = agentlab(env, "show", run_id)
    assert "Policy decisions" in shown.stdout
    lines = [
        line for line in shown.stdout.splitlines() if "support-bot" in line and line.count("│") > 5
    ]
    verdicts = {line.split("│")[2].strip(): line.split("│")[4].strip() for line in lines}
    assert verdicts["delete_customer"] == "deny"
    assert verdicts["send_notification"] == "ask"
    assert "rules[2]: deny delete_* for support-bot" in shown.stdout
    assert "delete_customer is denied by policy" in shown.stdout


async def test_the_policy_judges_the_arguments_the_tool_would_receive():
    from agentlab.tools import tool

    @tool(risk=Risk.WRITE)
    def transfer(amount: float, to: Literal["internal", "external"] = "external") -> str:
        """Transfer money. Use it when a refund is due."""
        return "sent"

    from agentlab.tools import CallRequest, FunctionToolset, ToolExecutor

    policy = parse_policy(
        "rules:\n"
        "  - {tool: transfer, when: {amount: {greater_than: 100}}, verdict: deny, reason: big}\n"
        "  - {tool: transfer, when: {to: external}, verdict: ask, reason: leaves the company}\n"
    )
    executor = ToolExecutor(ToolRegistry([FunctionToolset([transfer])]), policy)
    as_text = executor.decide(transfer, CallRequest("1.1", "transfer", {"amount": "5000"}), "a")
    defaulted = executor.decide(transfer, CallRequest("1.1", "transfer", {"amount": 5}), "a")
    assert as_text.verdict is Verdict.DENY  # "5000" is the number 5000 to the tool
    assert defaulted.verdict is Verdict.ASK  # `to` defaults to "external"
