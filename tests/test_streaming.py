"""Replies streamed as they arrive: with the Anthropic test server sending a reply slowly, the
first piece reaches the terminal, and the notebook API, before the server sends the last."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentlab.lab import Lab
from agentlab.models.script import ScriptedToolUse, Turn
from agentlab.testing import AnthropicTestServer

ROOT = Path(__file__).resolve().parents[1]
AGENT = f"{ROOT / 'tests' / 'conversations' / 'agent.py'}:agent"
REPLY = "The notes on tea say everything known about tea, in twelve careful sentences."
DELAY_S = 0.15  # between the stream's events: about 3 s for the whole answer


def turns() -> list[Turn]:
    plan = {
        "steps": [{"description": "look tea up", "tool": "lookup", "arguments": {"topic": "tea"}}]
    }
    return [
        Turn(tool_use=ScriptedToolUse(name="submit_plan", input=plan)),
        Turn(
            tool_use=ScriptedToolUse(
                name="submit_verdict", input={"complete": True, "reason": "ok"}
            )
        ),
        Turn(text=REPLY),
    ]


def last_event_sent(server: AnthropicTestServer) -> float:
    [streamed] = [r for r in server.requests if "events_sent_s" in r]
    return float(streamed["events_sent_s"][-1])


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_terminal_shows_the_reply_before_it_is_all_sent(anthropic_server, tmp_path):
    server = anthropic_server.reset(turns(), stream_delay_s=DELAY_S)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AGENTLAB_", "ANTHROPIC_"))},
        "AGENTLAB_DATA_DIR": str(tmp_path / "data"),
        "ANTHROPIC_API_KEY": "sk-test-local",
        "ANTHROPIC_BASE_URL": server.base_url,
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "200",
    }
    command = [sys.executable, "-m", "agentlab", "run", "--agent", AGENT, "--session", "s"]
    process = subprocess.Popen(
        [*command, "What about tea?"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    seen, first_piece_at = b"", None
    while chunk := os.read(process.stdout.fileno(), 4096):
        seen += chunk
        if first_piece_at is None and b"reply:" in seen and seen.split(b"reply:")[-1].strip():
            first_piece_at = time.monotonic()
    assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    assert REPLY in seen.decode().replace("\n", "")
    assert first_piece_at is not None and first_piece_at < last_event_sent(server)


@pytest.mark.timeout(120)
async def test_the_notebook_api_yields_the_reply_before_it_is_all_sent(
    anthropic_server, tmp_path, monkeypatch
):
    server = anthropic_server.reset(turns(), stream_delay_s=DELAY_S / 3)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-local")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    arrived: list[tuple[str, float]] = []
    async with Lab(data_dir=tmp_path / "data") as lab:
        session = lab.session(AGENT, on_event=None)
        async for piece in session.stream("What about tea?"):
            arrived.append((piece, time.monotonic()))
        run = session.runs[-1]
    assert "".join(p for p, _ in arrived) == REPLY == run.reply
    assert len(arrived) > 1 and arrived[0][1] < last_event_sent(server)
