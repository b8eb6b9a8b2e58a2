"""MCP, exposed: ``agentlab mcp serve`` as a real process, driven by the official MCP Python
client over stdio and streamable HTTP (127.0.0.1 only) and by the MCP Inspector CLI. Served calls
pass the agent's policy (asked-about calls are refused and never run, denied ones too), and
``run_task`` runs the agent until it pauses for a human, who continues it with the command the
answer names."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client
from mcp.types import CallToolResult

from agentlab.domains import support
from agentlab.store.tokens import TokenStore
from agentlab.tools import ToolRegistry
from agentlab.tools.mcp import tool_options
from tests.cli import AGENTLAB, agentlab, agentlab_process, interrupt
from tests.test_cli import support_db

pytestmark = pytest.mark.timeout(180)

REPO = Path(__file__).resolve().parent.parent
NO_HANG_S = 60  # far above a healthy exchange (a run of the demo script takes about a second)
SERVE = ["mcp", "serve", "--agent", support.REFERENCE]
DEMO = ["--script", str(support.demo_script_path())]
RUN_TOOLS = ["run_task", "get_run"]
SUPPORT_TOOLS = [
    "search_customers",
    "send_notification",
    "delete_customer",
    "search_knowledge_base",
]


def token_for(env: dict[str, str], principal: str) -> str:
    """A bearer token of the data directory acting as ``principal`` (as 'agentlab tokens
    create' makes one)."""
    return TokenStore(Path(env["AGENTLAB_DATA_DIR"])).create(principal, "test")[1]


def http_client(url: str, token: str) -> Client:
    """The official client over streamable HTTP, authenticated with ``token``."""
    headers = {"Authorization": f"Bearer {token}"}
    return Client(streamable_http_client(url, http_client=create_mcp_http_client(headers=headers)))


def serve_command(*extra: str) -> list[str]:
    return [*AGENTLAB, *SERVE, *extra]


@asynccontextmanager
async def stdio_session(
    env: dict[str, str], *extra: str, errlog: Path | None = None
) -> AsyncIterator[ClientSession]:
    """The official client's session with a server it starts as a subprocess (and stops)."""
    command, *args = serve_command(*extra)
    params = StdioServerParameters(command=command, args=args, env=env, cwd=REPO)
    with open(errlog or os.devnull, "w") as err:
        async with (
            stdio_client(params, errlog=err) as (read, write),
            ClientSession(read, write) as session,
        ):
            async with asyncio.timeout(NO_HANG_S):
                await session.initialize()
            yield session


async def call(session: ClientSession | Client, tool: str, **arguments: Any) -> CallToolResult:
    async with asyncio.timeout(NO_HANG_S):
        return await session.call_tool(tool, arguments)


def text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def customer_exists(env: dict[str, str], customer_id: int) -> bool:
    with support_db(env) as db:
        row = db.execute("SELECT 1 FROM customers WHERE id = ?", (customer_id,)).fetchone()
    return row is not None


def notifications_sent(env: dict[str, str]) -> int:
    with support_db(env) as db:
        return int(db.execute("SELECT count(*) FROM notifications").fetchone()[0])


def journaled(env: dict[str, str]) -> list[str]:
    """The tools of the served calls the executor journaled (it journals the calls it runs)."""
    with sqlite3.connect(Path(env["AGENTLAB_DATA_DIR"]) / "served.sqlite") as db:
        return [tool for (tool,) in db.execute("SELECT tool FROM agentlab_tool_journal")]


def decide(env: dict[str, str], report: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """Run the command a paused run's report names (its first choice: approve), in an
    environment that does not name the data directory: the command must say it."""
    command = shlex.split(report["decide"].split("(or")[0])
    assert command[0] == "agentlab" and command[-1] == "--approve", report["decide"]
    bare = {k: v for k, v in env.items() if k != "AGENTLAB_DATA_DIR"}
    return agentlab_process(bare, *command[1:])  # another process, while the server runs


# -- stdio ----------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.integration
async def test_the_agents_tools_are_listed_with_their_schemas_and_risk_as_hints(env):
    agent_tools = {t.name: t for t in await ToolRegistry(support.agent.toolsets).tools()}

    async with stdio_session(env) as session:
        async with asyncio.timeout(NO_HANG_S):
            listed = {t.name: t for t in (await session.list_tools()).tools}

    assert list(listed) == [*agent_tools, "run_task", "get_run"]
    for name, declared in agent_tools.items():
        served = listed[name]
        assert served.input_schema == declared.input_schema
        assert served.description == declared.description
        # What agentlab's own MCP client reads back is the tool's risk as declared.
        assert tool_options(served.annotations) == {
            "risk": declared.risk,
            "idempotent": declared.idempotent,
            "egress": declared.egress,
        }
    hints = listed["delete_customer"].annotations
    assert hints is not None and hints.destructive_hint and not hints.read_only_hint
    run_task = listed["run_task"]
    assert run_task.input_schema["required"] == ["task"]
    assert support.agent.purpose in (run_task.description or "")
    # A run may do what the agent's tools do: delete a customer, after a human's approval.
    assert run_task.annotations is not None and run_task.annotations.destructive_hint
    get_run = listed["get_run"]
    assert get_run.annotations is not None and get_run.annotations.read_only_hint


@pytest.mark.slow
@pytest.mark.integration
async def test_a_read_tool_answers_with_its_result(env):
    async with stdio_session(env) as session:
        result = await call(session, "search_customers", email="ada.lovelace@example.com")

    assert not result.is_error, text(result)
    assert result.structured_content is not None
    [ada] = result.structured_content["customers"]
    assert (ada["id"], ada["name"]) == (1, "Ada Lovelace")
    assert json.loads(text(result)) == result.structured_content
    assert journaled(env) == ["search_customers"]


@pytest.mark.slow
@pytest.mark.integration
async def test_a_call_the_policy_asks_about_is_refused_and_never_runs(env):
    async with stdio_session(env) as session:
        await call(session, "search_customers", customer_id=1)  # the database exists
        deleted = await call(session, "delete_customer", customer_id=1)
        sent = await call(session, "send_notification", user_id=1, message="Hello")

    assert deleted.is_error and sent.is_error
    assert "delete_customer needs a human's approval (destructive)" in text(deleted)
    assert "send_notification needs a human's approval (needs confirmation)" in text(sent)
    assert "run_task" in text(deleted)  # what to do instead
    assert customer_exists(env, 1)
    assert notifications_sent(env) == 0
    assert journaled(env) == ["search_customers"]  # the refused calls never started


@pytest.mark.slow
@pytest.mark.integration
async def test_a_denied_call_is_refused_and_never_runs(env):
    # The support policy: an automated principal never deletes customers.
    async with stdio_session(env, "--as", "support-bot") as session:
        await call(session, "search_customers", customer_id=2)
        result = await call(session, "delete_customer", customer_id=2)

    assert result.is_error
    assert "delete_customer is denied by policy" in text(result)
    assert "an automated principal never deletes customers" in text(result)
    assert customer_exists(env, 2)


@pytest.mark.slow
@pytest.mark.integration
async def test_a_tool_that_fails_is_an_error_result_and_the_server_goes_on(env):
    async with stdio_session(env) as session:
        failed = await call(session, "search_customers")  # neither an email nor an id
        invalid = await call(session, "search_customers", customer_id=0)
        unknown = await call(session, "drop_database")
        after = await call(session, "search_customers", customer_id=3)

    assert failed.is_error and "give an email or a customer_id" in text(failed)
    assert invalid.is_error and "invalid arguments: customer_id" in text(invalid)
    assert unknown.is_error and "unknown tool 'drop_database'" in text(unknown)
    assert not after.is_error and after.structured_content is not None
    assert after.structured_content["customers"][0]["name"] == "Grace Hopper"


@pytest.mark.slow
@pytest.mark.integration
async def test_run_task_pauses_for_approval_and_the_command_it_names_continues_the_run(env):
    async with stdio_session(env, *DEMO) as session:
        started = await call(session, "run_task", task=support.DEMO_TASK)
        assert not started.is_error, text(started)
        report = started.structured_content
        assert report is not None
        run_id = report["run_id"]
        assert report["status"] == "awaiting_human"
        assert report["waiting_for"][0]["tool"] == "send_notification"
        assert run_id in report["message"] and "approv" in report["message"]
        assert notifications_sent(env) == 0  # nothing was sent before a human approved

        approved = decide(env, report)  # another process, as a person would
        assert approved.returncode == 0, approved.stderr
        assert "tool send_notification(" in approved.stdout
        assert notifications_sent(env) == 1

        later = (await call(session, "get_run", run_id=run_id)).structured_content
        assert later is not None
        assert later["status"] == "awaiting_human"  # the run went on, to its next approval
        assert later["waiting_for"][0]["tool"] == "delete_customer"
        assert customer_exists(env, 1)

        assert decide(env, later).returncode == 0
        ended = (await call(session, "get_run", run_id=run_id)).structured_content

    assert ended is not None
    assert ended["status"] == "completed", ended
    assert ended["reply"].startswith("Ada Lovelace's account is closed")  # the responder's
    assert ended["message"] == ended["reply"]
    assert [r["tool"] for r in ended["results"]] == [
        "search_customers",
        "send_notification",
        "delete_customer",
    ]
    assert not customer_exists(env, 1)


@pytest.mark.slow
@pytest.mark.integration
async def test_get_run_shows_only_runs_this_server_started_for_its_principal(env):
    async with stdio_session(env, *DEMO, "--as", "alice") as session:
        report = (await call(session, "run_task", task=support.DEMO_TASK)).structured_content
    assert report is not None

    async with stdio_session(env, "--as", "bob") as session:
        result = await call(session, "get_run", run_id=report["run_id"])

    assert result.is_error and "not a run of agent support as bob" in text(result)


@pytest.mark.slow
@pytest.mark.integration
async def test_without_a_model_run_task_says_so_and_the_tools_still_serve(env, tmp_path):
    errlog = tmp_path / "stderr.log"
    async with stdio_session(env, errlog=errlog) as session:
        result = await call(session, "run_task", task="Close Ada's account")
        found = await call(session, "search_customers", customer_id=1)

    assert result.is_error and "ANTHROPIC_API_KEY" in text(result)
    assert not found.is_error
    assert "warning: run_task cannot start runs" in errlog.read_text()


# -- mistakes -------------------------------------------------------------------------------------


def test_acting_as_another_principal_needs_the_configurations_grant(env):
    alone = {k: v for k, v in env.items() if k != "AGENTLAB_ACCESS__ACT_AS"}  # no grant
    refused = agentlab(alone, *SERVE, "--as", "support-bot")
    assert refused.returncode == 2 and "may not act as support-bot" in refused.stderr
    assert "[access] act_as" in refused.stderr
    over_http = agentlab(env, *SERVE, "--http", "--as", "support-bot")
    assert over_http.returncode == 2 and "token's principal" in over_http.stderr


def test_an_unknown_agent_is_one_error_line(env):
    result = agentlab(env, "mcp", "serve", "--agent", "no_such_module:agent")

    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot import 'no_such_module'")
    assert len(result.stderr.splitlines()) == 1


def test_a_port_in_use_is_one_error_line(env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = agentlab(env, *SERVE, "--http", "--port", str(port))

    assert result.returncode == 2
    assert result.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}")
    assert len(result.stderr.splitlines()) == 1


def test_a_script_that_cannot_be_read_is_one_error_line(env, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("roles: [")

    result = agentlab(env, *SERVE, "--script", broken)

    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {broken} is not valid YAML/JSON")
    assert len(result.stderr.splitlines()) == 1


# -- streamable HTTP ------------------------------------------------------------------------------


@contextmanager
def http_server(env: dict[str, str], port: int = 0) -> Iterator[tuple[str, int]]:
    """``agentlab mcp serve --http`` on 127.0.0.1; its URL (from its first line) and pid."""
    proc = subprocess.Popen(
        serve_command(*DEMO, "--http", "--port", str(port)),
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/mcp", line)
        assert match, line + proc.stderr.read()
        yield match.group(0), proc.pid
    finally:
        interrupt(proc, 15)
        if proc.stderr is not None:
            proc.stderr.close()


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on ``port`` (from /proc: Linux only)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]) if len(raw) == 4 else "::")
    return found


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("mode", ["auto", "legacy"])  # 2026 per-request protocol; handshake era
async def test_http_serves_on_loopback_and_a_restarted_server_answers_the_next_call(env, mode):
    with http_server(env) as (url, pid):
        port = port_of(url)
        assert listening_addresses(port) == {"127.0.0.1"}
        headers = {"Authorization": f"Bearer {token_for(env, 'alice')}"}
        transport = streamable_http_client(url, http_client=create_mcp_http_client(headers))
        async with Client(transport, mode=mode) as client:
            async with asyncio.timeout(NO_HANG_S):
                names = [t.name for t in (await client.list_tools()).tools]
            found = await call(client, "search_customers", customer_id=1)
            started = (await call(client, "run_task", task=support.DEMO_TASK)).structured_content

            os.kill(pid, signal.SIGKILL)  # mid-session, nothing saved on the way out
            with http_server(env, port) as (again, _):
                assert again == url
                later = await call(client, "get_run", run_id=started["run_id"])
                found_again = await call(client, "search_customers", customer_id=2)

    assert names == [*SUPPORT_TOOLS, *RUN_TOOLS]
    assert not found.is_error and not found_again.is_error
    assert started is not None and started["status"] == "awaiting_human"
    assert not later.is_error, text(later)
    assert later.structured_content is not None
    assert later.structured_content["waiting_for"][0]["tool"] == "send_notification"


@pytest.mark.slow
@pytest.mark.integration
async def test_http_callers_authenticate_and_act_as_their_tokens_principal(env):
    """No token, a malformed one or a revoked one: 401 before anything runs. A token acts for
    its principal: support-bot's delete is denied by the support policy, alice's asks; neither
    can choose another principal, and get_run shows only the caller's own runs."""
    tokens = TokenStore(Path(env["AGENTLAB_DATA_DIR"]))
    revoked, revoked_token = tokens.create("alice", "gone")
    tokens.revoke(revoked.token_id)
    with http_server(env) as (url, _):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
        for token in (None, "nonsense", revoked_token):
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=NO_HANG_S)
            assert refused.value.code == 401
            assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")

        async with http_client(url, token_for(env, "support-bot")) as bot:
            denied = await call(bot, "delete_customer", customer_id=2)
            started = (await call(bot, "run_task", task=support.DEMO_TASK)).structured_content
        async with http_client(url, token_for(env, "alice")) as alice:
            asked = await call(alice, "delete_customer", customer_id=2)
            theirs = await call(alice, "get_run", run_id=started["run_id"])

    assert denied.is_error and "denied by policy" in text(denied)
    assert asked.is_error and "needs a human's approval" in text(asked)
    assert customer_exists(env, 2)
    assert started is not None
    with sqlite3.connect(Path(env["AGENTLAB_DATA_DIR"]) / "runs.sqlite") as db:
        (principal,) = db.execute(
            "SELECT principal FROM agentlab_run_records WHERE run_id = ?", (started["run_id"],)
        ).fetchone()
    assert principal == "support-bot"
    assert theirs.is_error and "not a run of agent support as alice" in text(theirs)


# -- the MCP Inspector ----------------------------------------------------------------------------

INSPECTOR = ["npx", "-y", "@modelcontextprotocol/inspector", "--cli"]


def inspector(env: dict[str, str], *method: str) -> Any:
    """The MCP Inspector's CLI against the stdio server; its JSON answer."""
    if shutil.which("npx") is None:
        pytest.skip("node/npx is not installed: the MCP Inspector CLI runs on Node")
    server = ["-e", f"AGENTLAB_DATA_DIR={env['AGENTLAB_DATA_DIR']}", *serve_command()]
    result = subprocess.run(
        [*INSPECTOR, *server, "--method", *method],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=150,  # the first run downloads the Inspector (.ci/run fetches it beforehand)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
@pytest.mark.integration
def test_the_inspector_lists_the_tools(env):
    listed = inspector(env, "tools/list")

    names = [t["name"] for t in listed["tools"]]
    assert names == [*SUPPORT_TOOLS, *RUN_TOOLS]
    hints = {t["name"]: t["annotations"] for t in listed["tools"]}
    assert hints["search_customers"]["readOnlyHint"] is True
    assert hints["delete_customer"]["destructiveHint"] is True


@pytest.mark.slow
@pytest.mark.integration
def test_the_inspector_calls_a_tool_and_is_refused_one_the_policy_asks_about(env):
    found = inspector(
        env, "tools/call", "--tool-name", "search_customers", "--tool-arg", "email=ada"
    )
    refused = inspector(
        env, "tools/call", "--tool-name", "delete_customer", "--tool-arg", "customer_id=1"
    )

    assert found["isError"] is False
    assert found["structuredContent"]["customers"][0]["name"] == "Ada Lovelace"
    assert refused["isError"] is True
    assert "needs a human's approval" in refused["content"][0]["text"]
    assert customer_exists(env, 1)
