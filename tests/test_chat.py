"""``agentlab chat`` at a real pseudo-terminal: three turns (one approved inline), Ctrl-C in the
middle of a fourth, then the session opened again with ``--session`` goes on."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from tests.cli import trusted_agents
from tests.scripts import plan, step, verdict

ROOT = Path(__file__).resolve().parents[1]
AGENT = f"{ROOT / 'tests' / 'conversations' / 'agent.py'}:agent"
pexpect = pytest.importorskip("pexpect")


def chat_script() -> str:
    planner = [
        plan(step("lookup", topic="tea")),
        plan(step("note_down", text="tea: notes read")),
        {"tool_use": {"name": "submit_plan", "input": {"reply": "You're welcome."}}},
        plan(step("lookup", topic="slow")),
        plan(step("lookup", topic="coffee")),
    ]
    validator = [verdict(True, "looked up"), verdict(True, "noted"), verdict(True, "looked up")]
    responder = [
        {"text": "The notes on tea: everything known about tea."},
        {"text": "Noted down, as you approved."},
        {"text": "Coffee: everything known about coffee."},
    ]
    return json.dumps(
        {"roles": {"planner": planner, "validator": validator, "responder": responder}}
    )


def spawn(tmp_path: Path, *args: str) -> pexpect.spawn:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AGENTLAB_", "ANTHROPIC_"))},
        "AGENTLAB_DATA_DIR": str(tmp_path / "data"),
        **trusted_agents(tmp_path),
        "PYTHONPATH": str(ROOT),
        "CONVERSATION_MARK": str(tmp_path / "slow-started"),
        "COLUMNS": "120",
        "TERM": "xterm",
    }
    command = [
        "-m",
        "agentlab",
        "chat",
        "--agent",
        AGENT,
        "--script",
        str(tmp_path / "chat.json"),
        *args,
    ]
    child = pexpect.spawn(
        sys.executable, command, env=env, cwd=str(ROOT), encoding="utf-8", timeout=60
    )
    child.setwinsize(40, 120)
    return child


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(300)
def test_a_chat_at_a_terminal_asks_inline_stops_on_ctrl_c_and_goes_on_later(tmp_path):
    (tmp_path / "chat.json").write_text(chat_script())
    child = spawn(tmp_path)
    child.expect(r"Session \S*?(ses-[0-9a-f]+)")
    session = child.match.group(1)

    child.expect("you>")
    child.sendline("What do the notes say about tea?")
    child.expect("The notes on tea: everything known about tea.")

    child.expect("you>")
    child.sendline("Note that down, please")
    child.expect("Approve this call?")
    child.sendline("y")
    child.expect("Noted down, as you approved.")

    child.expect("you>")
    child.sendline("thanks")
    child.expect("You're welcome.")

    child.expect("you>")
    child.sendline("And what is slow?")
    for _ in range(600):  # the slow lookup has begun
        if (tmp_path / "slow-started").exists():
            break
        child.expect([pexpect.TIMEOUT], timeout=0.05)
    child.sendintr()  # Ctrl-C in the middle of the turn
    child.expect("stopping the turn")
    child.expect("I could not finish this")
    child.expect("you>")
    child.sendeof()  # Ctrl-D
    child.expect(f"agentlab chat --session {session}")
    child.expect(pexpect.EOF)

    again = spawn(tmp_path, "--session", session)
    again.expect("4 turn\\(s\\) so far")
    again.expect("you>")
    again.sendline("And coffee?")
    again.expect("Coffee: everything known about coffee.")
    again.expect("you>")
    again.sendline("/quit")
    again.expect(pexpect.EOF)

    from agentlab.cli.conversations import tool_lines  # noqa: F401 (import check only)
    from tests.cli import agentlab

    env = {"AGENTLAB_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200", "NO_COLOR": "1"}
    shown = agentlab({**os.environ, **env}, "sessions", "show", session)
    assert shown.returncode == 0, shown.stderr
    said = re.findall(r"\(turn (\d+)\)", shown.stdout)
    assert said == ["1", "2", "3", "4", "5"]
    assert "note_down" in shown.stdout and "(failed, run" in shown.stdout  # the stopped turn
