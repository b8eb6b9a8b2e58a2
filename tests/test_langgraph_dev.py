"""The graphs of ``langgraph.json`` served by ``langgraph dev``, driven through ``langgraph-sdk``.

The test starts the real development server (in-memory runtime, no ``--allow-blocking``) on a free
loopback port and stops it; the support graph runs offline on the demo script.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.errors import PermissionDeniedError

from agentlab.domains.support import DEMO_TASK
from agentlab.models.script import ScriptedToolUse, Turn
from agentlab.store.tokens import TokenStore
from agentlab.testing import AnthropicTestServer
from tests.cli import MEMORY_OFF
from tests.conftest import decision_on

ROOT = Path(__file__).resolve().parents[1]
LANGGRAPH = Path(sys.executable).with_name("langgraph")

pytestmark = [pytest.mark.slow, pytest.mark.integration]  # a `langgraph dev` server per test


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``langgraph dev`` on 127.0.0.1 with agentlab's data in ``tmp_path``: (url, data dir)."""
    with langgraph_dev(tmp_path) as served:
        yield served


@contextmanager
def langgraph_dev(tmp_path: Path, **settings: str) -> Iterator[tuple[str, Path]]:
    """``langgraph dev`` on 127.0.0.1 with agentlab's data in ``tmp_path`` and ``settings``
    (more ``AGENTLAB_*`` variables): (url, data dir); stopped on exit.

    It runs in the repository, as a user runs it (graph paths are relative to the working
    directory); its own state goes to ``.langgraph_api/``, which git ignores."""
    port = free_port()
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "AGENTLAB_"))}
    env.update(
        AGENTLAB_DATA_DIR=str(data_dir),
        LANGGRAPH_CLI_NO_ANALYTICS="1",
        LANGSMITH_TRACING="false",
        **MEMORY_OFF,
        **settings,
    )
    log = (tmp_path / "langgraph-dev.log").open("w")
    proc = subprocess.Popen(
        [
            str(LANGGRAPH),
            "dev",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--no-browser",
            "--no-reload",
            "--config",
            str(ROOT / "langgraph.json"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "langgraph-dev.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{url}/ok", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "langgraph dev did not answer within 60 s"
                time.sleep(0.3)
        yield url, data_dir
    finally:
        stop(proc)
        log.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server and everything it started (its process group)."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 20)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def client_as(url: str, data_dir: Path, principal: str) -> Any:
    """A client of the server authenticated as ``principal`` (a token made for it, as
    ``agentlab tokens create --principal`` makes one)."""
    _, token = TokenStore(data_dir).create(principal, "test")
    return get_sync_client(url=url, headers={"Authorization": f"Bearer {token}"})


def waiting_for(state: dict[str, Any]) -> dict[str, Any] | None:
    """The request a thread's run waits for (its one interrupt's value), if any."""
    values = [i["value"] for task in state["tasks"] for i in task.get("interrupts", [])]
    assert len(values) <= 1, values
    return values[0] if values else None


def test_support_graph_runs_to_completed_through_its_approvals_in_langgraph_dev(server):
    url, data_dir = server
    client = client_as(url, data_dir, "alice")
    [assistant] = client.assistants.search(graph_id="support")
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    assert set(schemas["input_schema"]["properties"]) == {
        "message",
        "task",
        "session",
    }
    assert {"status", "outcome"} <= set(schemas["output_schema"]["properties"])
    drawn = client.assistants.get_graph(assistant["assistant_id"])
    assert {"begin", "plan", "approve", "execute", "validate"} <= {n["id"] for n in drawn["nodes"]}

    thread = client.threads.create()
    first = client.runs.wait(
        thread["thread_id"], assistant["assistant_id"], input={"task": DEMO_TASK}
    )
    assert first["status"] == "awaiting_human"
    paused_at = []
    for _ in range(2):
        request = waiting_for(client.threads.get_state(thread["thread_id"]))
        paused_at.append(request["tool"] if request else None)
        approval = decision_on(request, approve=True)  # bound to the request just read
        client.runs.wait(
            thread["thread_id"], assistant["assistant_id"], command={"resume": approval}
        )
    final = client.threads.get_state(thread["thread_id"])
    assert paused_at == ["send_notification", "delete_customer"]
    assert final["values"]["status"] == "completed" and not final["next"]
    db = sqlite3.connect(data_dir / "support.sqlite")
    assert db.execute("SELECT COUNT(*) FROM customers WHERE id = 1").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM notifications").fetchone()[0] == 1
    # Each call the server ran is journaled, with its outcome, under the thread's id.
    served = sqlite3.connect(data_dir / "served.sqlite")
    journaled = served.execute(
        "SELECT tool, outcome IS NOT NULL FROM agentlab_tool_journal WHERE run_id = ? "
        "ORDER BY call_id",
        (thread["thread_id"],),
    ).fetchall()
    assert journaled == [
        ("search_customers", 1),
        ("send_notification", 1),
        ("delete_customer", 1),
    ]


def test_a_thread_is_a_conversation_whose_replies_stream_in_langgraph_dev(
    tmp_path: Path, anthropic_server: AnthropicTestServer
) -> None:
    """Two messages on one thread: the reply to the first streams to the client before the
    server has sent all of it; the second is answered knowing the first (its planner's request
    carries the first turn)."""
    find = {"description": "Find Ada", "tool": "search_customers"}
    find["arguments"] = {"email": "ada.lovelace@example.com", "limit": 1}
    first_reply = "I found Ada Lovelace: she is customer 1, on the pro plan, since 2019."
    turns = [
        Turn(tool_use=ScriptedToolUse(name="submit_plan", input={"steps": [find]})),
        Turn(
            tool_use=ScriptedToolUse(
                name="submit_verdict", input={"complete": True, "reason": "found"}
            )
        ),
        Turn(text=first_reply),
        Turn(tool_use=ScriptedToolUse(name="submit_plan", input={"reply": "Her id is 1."})),
    ]
    server = anthropic_server.reset(turns, stream_delay_s=0.1)
    keys = {"ANTHROPIC_API_KEY": "sk-test-local", "ANTHROPIC_BASE_URL": server.base_url}
    with langgraph_dev(tmp_path, **keys) as (url, data_dir):
        client = client_as(url, data_dir, "alice")
        [assistant] = client.assistants.search(graph_id="support")
        thread = client.threads.create()
        pieces: list[tuple[str, float]] = []
        for chunk in client.runs.stream(
            thread["thread_id"],
            assistant["assistant_id"],
            input={"message": "Find Ada Lovelace"},
            stream_mode="custom",
        ):
            if isinstance(chunk.data, dict) and chunk.data.get("event") == "reply_delta":
                pieces.append((chunk.data["text"], time.monotonic()))
        [streamed] = [r for r in server.requests if "events_sent_s" in r]
        assert "".join(p for p, _ in pieces) == first_reply
        assert pieces[0][1] < streamed["events_sent_s"][-1]

        second = client.runs.wait(
            thread["thread_id"], assistant["assistant_id"], input={"message": "And her id?"}
        )
    assert second["reply"] == "Her id is 1." and second["status"] == "completed"
    planner = server.requests[-1]
    said = json.dumps(planner["messages"])
    assert "Find Ada Lovelace" in said and first_reply in said and "And her id?" in said


def test_the_server_authenticates_callers_acts_for_them_and_grants_no_foreign_origin(server):
    """No token: 401. A run acts for its token's principal, whatever its input says: the
    support policy denies support-bot's delete, so the customer stays. Another principal's
    thread is out of sight. A foreign web origin gets no CORS grant; a configured one does."""
    url, data_dir = server
    for headers in (
        {},
        {"Authorization": "Bearer agentlab_000000000000_" + "x" * 43},
        {"x-auth-scheme": "langsmith"},  # `langgraph dev` lets Studio in so, unless disabled
    ):
        answer = http(url, "/assistants/search", method="POST", body=b"{}", headers=headers)
        assert answer.status == 401, answer.status

    bot = client_as(url, data_dir, "support-bot")
    [assistant] = bot.assistants.search(graph_id="support")
    thread = bot.threads.create()["thread_id"]
    given = {"task": DEMO_TASK, "principal": "alice"}  # an input cannot choose who it acts as
    bot.runs.wait(thread, assistant["assistant_id"], input=given)
    while (request := waiting_for(bot.threads.get_state(thread))) is not None:
        bot.runs.wait(
            thread,
            assistant["assistant_id"],
            command={"resume": decision_on(request, approve=True)},
        )
    values = bot.threads.get_state(thread)["values"]
    decided = {(d["tool"], d["principal"], d["verdict"]) for d in values["policy_decisions"]}
    assert ("delete_customer", "support-bot", "deny") in decided, decided
    assert {d["principal"] for d in values["policy_decisions"]} == {"support-bot"}
    assert values["principal"] == "support-bot"
    assert [a["by"] for a in values["approvals"]] == ["support-bot"]
    assert {a["via"] for a in values["approvals"]} == {"server"}
    db = sqlite3.connect(data_dir / "support.sqlite")
    assert db.execute("SELECT COUNT(*) FROM customers WHERE id = 1").fetchone()[0] == 1

    # Who a run acts for is the graph's to write: no caller writes the state directly.
    with pytest.raises(PermissionDeniedError, match="written by its runs only"):
        bot.threads.update_state(thread, {"principal": "alice"})
    with pytest.raises(httpx.HTTPStatusError, match="written by its runs only"):
        bot.runs.wait(thread, assistant["assistant_id"], command={"update": {"principal": "alice"}})

    mallory = client_as(url, data_dir, "mallory")
    assert mallory.threads.search() == []
    with pytest.raises(Exception, match="not found"):
        mallory.threads.get_state(thread)

    evil = http(url, "/ok", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in evil.headers
    preflight = {
        "Origin": "http://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    refused = http(url, "/runs/wait", method="OPTIONS", headers=preflight)
    assert "access-control-allow-origin" not in refused.headers
    allowed = http(url, "/ok", headers={"Origin": "http://localhost:3000"})
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"


class Answered:
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status, self.headers = status, headers


def http(
    url: str, path: str, *, method: str = "GET", body: bytes | None = None, headers: dict[str, str]
) -> Answered:
    """One plain HTTP request: its status and headers (lower-cased), whatever the status."""
    request = urllib.request.Request(
        url + path,
        data=body,
        method=method,
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return Answered(answer.status, {k.lower(): v for k, v in answer.headers.items()})
    except urllib.error.HTTPError as exc:
        return Answered(exc.code, {k.lower(): v for k, v in exc.headers.items()})
