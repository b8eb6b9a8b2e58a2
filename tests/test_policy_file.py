"""Authorization policy as data: allow / ask / deny per tool glob, argument condition and
principal; floors no file can lower; a tool's risk, idempotency and egress as the file says (over
MCP hints, never below a local declaration), wherever they are read; clear errors for a broken
file; every decision recorded with the run and shown; ``agentlab policy check`` explains a file."""

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
        ("tools:\n  git_*:\n    risk: harmless\n", 3, "tools.git_*.risk: Input should be 'read'"),
        ("tools:\n  git_status: reed\n", 2, "tools.git_status.risk: Input should be 'read'"),
        ("tools:\n  git_*: {idempotent: maybe}\n", 2, "tools.git_*.idempotent: Input should"),
        ("tools:\n  git_*: {}\n", 2, "tools.git_*: Value error, give a risk"),
        ("tools:\n  git_*: {risky: true}\n", 2, "tools.git_*.risky: Extra inputs"),
        ("tools: [git_status]\n", 1, "tools: Input should be a valid dictionary"),
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
    as_text = await executor.prepare(CallRequest("1.1", "transfer", {"amount": "5000"}), "a")
    defaulted = await executor.prepare(CallRequest("1.1", "transfer", {"amount": 5}), "a")
    assert as_text.decision.verdict is Verdict.DENY  # "5000" is the number 5000 to the tool
    assert defaulted.decision.verdict is Verdict.ASK  # `to` defaults to "external"


OVERRIDES = """
tools:
  "git_*": {risk: write, idempotent: false}
  git_status: read
  git_reset: destructive
  "fs_*": {egress: true}
  "*_cache": {idempotent: true, egress: false}
"""


def effects(tool: Tool) -> tuple[Risk, bool, bool]:
    return tool.risk, tool.idempotent, tool.egress


def hinted(name: str, risk: Risk = Risk.WRITE, **options: Any) -> Tool:
    """A tool as an MCP toolset lists it: its risk and flags are its server's hints."""
    return make(name, risk, source="mcp:test-server", **options)


@pytest.mark.parametrize(
    ("name", "hints", "expected"),
    [
        ("git_status", (Risk.WRITE, False, False), (Risk.READ, False, False)),  # lowered
        ("git_log", (Risk.READ, True, False), (Risk.WRITE, False, False)),
        ("git_reset", (Risk.WRITE, True, False), (Risk.DESTRUCTIVE, False, False)),
        ("fs_read", (Risk.READ, True, False), (Risk.READ, True, True)),
        ("warm_cache", (Risk.WRITE, False, True), (Risk.WRITE, True, False)),  # lowered
        ("other", (Risk.WRITE, False, True), (Risk.WRITE, False, True)),  # unsaid: kept
    ],
)
def test_the_file_replaces_an_mcp_servers_hints_both_ways(name, hints, expected):
    risk, idempotent, egress = hints
    tool = hinted(name, risk, idempotent=idempotent, egress=egress)

    assert effects(parse_policy(OVERRIDES).adjust(tool)) == expected


@pytest.mark.parametrize(
    ("name", "declared", "expected"),
    [
        ("git_status", (Risk.WRITE, False, False), (Risk.WRITE, False, False)),  # not lowered
        ("git_log", (Risk.READ, True, False), (Risk.WRITE, False, False)),  # raised
        ("git_reset", (Risk.DESTRUCTIVE, False, False), (Risk.DESTRUCTIVE, False, False)),
        ("fs_read", (Risk.READ, True, False), (Risk.READ, True, True)),  # flagged egress
        ("warm_cache", (Risk.WRITE, False, True), (Risk.WRITE, False, True)),  # not lowered
    ],
)
def test_the_file_raises_a_local_tools_declaration_and_never_lowers_it(name, declared, expected):
    risk, idempotent, egress = declared
    tool = make(name, risk, idempotent=idempotent, egress=egress)

    assert effects(parse_policy(OVERRIDES).adjust(tool)) == expected


def test_overlapping_globs_give_the_strictest_value_whatever_the_order():
    entries = ['"*": {risk: read, idempotent: true}', '"w*": {risk: destructive, egress: true}']
    for ordered in (entries, entries[::-1]):
        policy = parse_policy("tools:\n" + "".join(f"  {e}\n" for e in ordered))
        assert effects(policy.adjust(hinted("wipe"))) == (Risk.DESTRUCTIVE, True, True)
        assert effects(policy.adjust(hinted("look"))) == (Risk.READ, True, False)


def test_a_tools_own_entry_wins_over_globs_for_what_it_says():
    policy = parse_policy(
        "egress: [send_*]\n"
        "tools:\n"
        "  send_*: {risk: destructive, idempotent: false}\n"
        "  send_fax: {risk: write, egress: false}\n"
    )

    assert effects(policy.adjust(hinted("send_fax", idempotent=True))) == (
        Risk.WRITE,
        False,  # from the glob: the entry does not say
        False,
    )
    assert effects(policy.adjust(hinted("send_sms"))) == (Risk.DESTRUCTIVE, False, True)
    assert not policy.sends_data_out("send_fax") and policy.sends_data_out("send_sms")


def test_a_tool_the_file_makes_destructive_asks_whatever_the_rules_say():
    policy = parse_policy(
        "tools: {git_reset: destructive}\n"
        "rules:\n  - {tool: '*', verdict: allow, reason: trusted}\n"
    )
    hinted_write = hinted("git_reset", Risk.WRITE)

    decision = policy.decide(ProposedCall(hinted_write))  # even given the tool as hinted

    assert (decision.verdict, decision.reasons) == (Verdict.ASK, ("destructive",))


def request(name: str, **options: Any) -> Any:
    from agentlab.tools import CallRequest

    return CallRequest("1.1", name, {}, **options)


async def test_the_executor_hands_out_tools_as_the_file_describes_them():
    from agentlab.tools import FunctionToolset, ToolExecutor

    registry = ToolRegistry([FunctionToolset([hinted("git_status"), hinted("git_reset")])])
    executor = ToolExecutor(registry, parse_policy(OVERRIDES))

    # What the planner reads (its catalog and each step's risk) is the file's word.
    listed = {t.name: t.risk for t in await executor.tools.tools()}
    got = await executor.tools.get("git_reset")
    assert listed == {"git_status": Risk.READ, "git_reset": Risk.DESTRUCTIVE}
    assert got is not None and got.risk is Risk.DESTRUCTIVE


async def test_the_destructive_floor_holds_for_a_tool_the_file_makes_destructive():
    from agentlab.tools import CallScope, FunctionToolset, ToolExecutor

    ran: list[str] = []
    reset = Tool.from_schema(
        "git_reset",
        "Reset the index.",
        {"type": "object"},
        lambda arguments: ran.append("reset"),
        risk=Risk.READ,
        source="mcp:git",
    )
    executor = ToolExecutor(
        ToolRegistry([FunctionToolset([reset])]), parse_policy(OVERRIDES + "default: allow\n")
    )

    outcome = await executor.call(request("git_reset"), CallScope("run-1"), lambda event: None)

    assert outcome["error"] == (
        "git_reset needs a human's approval (destructive) and was not approved"
    )
    assert ran == []


async def test_after_untrusted_content_a_tool_the_file_makes_write_asks():
    from agentlab.tools import FunctionToolset, ToolExecutor

    status = hinted("git_log", Risk.READ)  # hinted read: the untrusted-content rule spares it
    executor = ToolExecutor(ToolRegistry([FunctionToolset([status])]), parse_policy(OVERRIDES))
    prepared = await executor.prepare(request("git_log", untrusted_sources=("fetch",)), "alice")
    decision = prepared.decision

    assert decision.verdict is Verdict.ASK
    assert decision.reasons == ("proposed after untrusted content from fetch",)


class Crash(BaseException):
    """The process dying mid-call."""


async def test_the_journal_never_reruns_a_tool_the_file_says_is_not_idempotent():
    from agentlab.tools import CallScope, FunctionToolset, ToolExecutor
    from agentlab.tools.journal import MemoryJournal, UnknownSideEffect

    def crash(arguments: dict[str, Any]) -> None:
        raise Crash

    push = Tool.from_schema(  # its server claims it idempotent
        "git_push", "Push.", {"type": "object"}, crash, idempotent=True, source="mcp:git"
    )
    journal = MemoryJournal()
    executor = ToolExecutor(
        ToolRegistry([FunctionToolset([push])]), parse_policy(OVERRIDES), journal
    )
    with pytest.raises(Crash):
        await executor.call(request("git_push"), CallScope("run-1"), lambda event: None)

    with pytest.raises(UnknownSideEffect):  # asked about, not run again
        await executor.call(request("git_push"), CallScope("run-1"), lambda event: None)


async def test_a_plan_step_of_a_tool_the_file_makes_destructive_waits_for_a_human(settings):
    from agentlab.models.router import scripted_router
    from agentlab.models.script import parse_script
    from agentlab.orchestration import Agent, Runner
    from agentlab.tools import FunctionToolset
    from tests.conftest import waiting
    from tests.scripts import plan, script, step
    from tests.test_resume import drain

    ran: list[str] = []
    reset = Tool.from_schema(
        "git_reset",
        "Reset the index. Use it to unstage everything.",
        {"type": "object"},
        lambda arguments: ran.append("reset") or "reset",
        risk=Risk.READ,
        idempotent=True,
        source="mcp:git",
    )
    agent = Agent(
        "gitter",
        "tends a repository",
        toolsets=[FunctionToolset([reset])],
        policy=parse_policy(OVERRIDES),
        models=scripted_router(
            parse_script(script(planner=[plan(step("git_reset"))])), source="test script"
        ),
    )
    async with Runner(settings) as runner:
        run_id, events = await runner.start(agent, "unstage everything")
        ended = (await drain(events))[-1]
        request = waiting(await runner.get(run_id))

    assert ended.status == "awaiting_human"
    assert request["tool"] == "git_reset"
    assert "destructive" in request["reasons"]
    assert ran == []


GIT_AGENT = """
from pathlib import Path

from agentlab.orchestration import Agent
from agentlab.tools import FunctionToolset, Risk, Tool
from agentlab.tools.rules import load_policy

def _tool(name, risk, source):
    return Tool.from_schema(
        name, f"The {name} tool. Use it to test.", {"type": "object"}, lambda a: a,
        risk=risk, source=source,
    )

agent = Agent(
    "gitter",
    "tends a repository",
    toolsets=[FunctionToolset([
        _tool("git_status", Risk.WRITE, "mcp:git"),
        _tool("git_reset", Risk.WRITE, "mcp:git"),
        _tool("wipe_disk", Risk.DESTRUCTIVE, "local:wipe"),
    ])],
    policy=load_policy(Path(__file__).with_name("policy.yaml")),
)
"""
GIT_POLICY = "tools:\n  git_status: read\n  git_reset: destructive\n  wipe_*: read\n"


def test_policy_check_and_tools_list_show_the_risk_the_file_gives(env, tmp_path):
    (tmp_path / "policy.yaml").write_text(GIT_POLICY)
    (tmp_path / "gitter.py").write_text(GIT_AGENT)
    ref = f"{tmp_path / 'gitter.py'}:agent"

    checked = agentlab(env, "policy", "check", tmp_path / "policy.yaml", "--agent", ref)
    listed = agentlab(env, "tools", "list", "--agent", ref)

    assert checked.returncode == 0, checked.stderr
    assert listed.returncode == 0, listed.stderr
    for out in (checked.stdout, listed.stdout):
        assert "read, idempotent" not in out  # the file lowered git_status's risk, only that
        assert "(the policy's; the server hinted write)" in out
        rows = {line.split("│")[1].strip(): line for line in out.splitlines() if "│" in line}
        assert " read " in rows["git_status"] and " destructive " in rows["git_reset"]
    assert "the file's read does not lower a local tool's declaration" in checked.stdout
    decided = {
        line.split("│")[1].strip(): line.split("│")[3].strip()
        for line in checked.stdout.splitlines()
        if "(anyone else)" in line
    }
    assert decided == {"git_status": "allow", "git_reset": "ask", "wipe_disk": "ask"}
