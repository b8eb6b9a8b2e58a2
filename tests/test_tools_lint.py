"""Tools that explain themselves: ``agentlab tools lint`` flags what a tool's declaration leaves a
model to guess; ``agentlab tools list`` shows each tool's schema, risk and source."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from agentlab.tools import Risk, Tool, tool
from agentlab.tools.lint import lint
from tests.test_cli import agentlab

VAGUE = '''
from typing import Annotated
from pydantic import Field
from agentlab import Agent, FunctionToolset, tool

@tool
def notify(user_id: int, channel: str, text: Annotated[str, Field(description="What to say.")]):
    """Notify a user."""
    return {}

agent = Agent("vague", "a vaguely described agent", toolsets=[FunctionToolset([notify])])
'''


@tool
def clear(
    customer_id: Annotated[int, Field(ge=1, description="The customer's id.")],
    channel: Annotated[str, Field(pattern="^(email|sms)$", description="How to reach them.")],
) -> dict[str, Any]:
    """Send a customer a reminder. Use it only when the customer asked to be reminded."""
    return {}


@tool
def vague(user_id: int, status: str) -> dict[str, Any]:
    """Update a user."""
    return {}


def test_lint_flags_what_a_declaration_leaves_a_model_to_guess():
    assert [str(f) for f in lint([vague])] == [
        "vague: the description does not say when to use the tool (e.g. 'Use it to ...', "
        "'Only when ...')",
        "vague.user_id: has no description",
        "vague.user_id: an id without a range (minimum)",
        "vague.status: has no description",
        "vague.status: a free string named like a set of values: give it an enum",
    ]


def test_a_well_declared_tool_has_no_findings():
    assert lint([clear]) == []


def test_lint_reads_json_schema_tools_and_referenced_definitions():
    schema = {
        "type": "object",
        "$defs": {"Mode": {"type": "string", "enum": ["fast", "safe"]}},
        "properties": {
            "mode": {"$ref": "#/$defs/Mode", "description": "How careful to be."},
            "order_id": {"type": "integer", "description": "The order.", "minimum": 1},
            "format": {"type": "string", "description": "The output format."},
        },
    }
    described = Tool.from_schema(
        "export",
        "Export an order. Use it when asked for a file.",
        schema,
        lambda a: a,
        risk=Risk.READ,
    )
    assert [str(f) for f in lint([described])] == [
        "export.format: a free string named like a set of values: give it an enum"
    ]


def test_tools_lint_exits_1_with_one_line_per_finding(env, tmp_path):
    path = tmp_path / "vague.py"
    path.write_text(VAGUE)
    result = agentlab(env, "tools", "lint", "--agent", f"{path}:agent")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "notify.user_id: an id without a range (minimum)" in lines
    assert "notify.channel: a free string named like a set of values: give it an enum" in lines
    assert lines[-1] == "vague: 1 tool(s), 5 finding(s)"


def test_the_support_tools_pass_the_lint(env):
    result = agentlab(env, "tools", "lint", "--agent", "agentlab.domains.support:agent")
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == "support: 4 tool(s), 0 finding(s)"


def test_tools_list_shows_schema_risk_and_source(env):
    result = agentlab(env, "tools", "list", "--agent", "agentlab.domains.support:agent")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("agentlab/domains/support/tools.py:") == 3  # each tool's file and line
    assert "destructive" in out and "needs confirmation" in out
    assert '"maxLength": 500' in out


@tool
def fetch_page(url: Annotated[str, Field(description="The page to fetch.")]) -> dict[str, Any]:
    """Fetch a web page. Use it to read what a link says."""
    return {}


@tool(egress=True)
def fetch_declared(url: Annotated[str, Field(description="The page to fetch.")]) -> dict[str, Any]:
    """Fetch a web page. Use it to read what a link says."""
    return {}


@tool(risk=Risk.WRITE)
def post_to(url: Annotated[str, Field(description="Where to post.")]) -> dict[str, Any]:
    """Post a form. Use it to submit a form."""
    return {}


CONTACT = Tool.from_schema(
    "find_contact",
    "Find a contact. Use it to learn who someone is.",
    {
        "type": "object",
        "properties": {"who": {"type": "string", "format": "email", "description": "Whom."}},
    },
    lambda a: a,
)
DECLARE = (
    "if the tool sends data there (fetches, posts, mails), declare it egress "
    "(@tool(egress=True), or the policy file's egress:), so that after untrusted content every "
    "call asks, whatever the value looks like"
)


def test_lint_flags_a_read_tool_taking_an_address_and_says_to_declare_egress():
    assert [str(f) for f in lint([fetch_page, CONTACT])] == [
        f"fetch_page.url: a read tool taking a destination (by its name): {DECLARE}",
        f"find_contact.who: a read tool taking an address (format email): {DECLARE}",
    ]


def test_lint_leaves_tools_declared_egress_and_write_tools_alone():
    assert lint([fetch_declared, post_to]) == []


FETCHER = '''
from typing import Annotated
from pydantic import Field
from agentlab import Agent, FunctionToolset, tool
from agentlab.tools.rules import parse_policy

@tool
def fetch_page(url: Annotated[str, Field(description="The page to fetch.")]) -> dict:
    """Fetch a web page. Use it to read what a link says."""
    return {}

agent = Agent(
    "fetcher", "fetches pages", toolsets=[FunctionToolset([fetch_page])], policy=POLICY
)
'''


def test_tools_lint_heeds_the_policy_files_egress(env, tmp_path):
    flagged, declared = tmp_path / "flagged.py", tmp_path / "declared.py"
    flagged.write_text(FETCHER.replace("POLICY", "None"))
    declared.write_text(FETCHER.replace("POLICY", "parse_policy('egress: [fetch_*]')"))

    before = agentlab(env, "tools", "lint", "--agent", f"{flagged}:agent")
    after = agentlab(env, "tools", "lint", "--agent", f"{declared}:agent")

    assert before.returncode == 1 and "fetch_page.url: a read tool taking" in before.stdout
    assert after.returncode == 0, after.stdout
