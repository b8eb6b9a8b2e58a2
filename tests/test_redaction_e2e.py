"""End to end: a secret and an email address in a tool's result never leave the process in an
exported span. The run exports over OTLP/HTTP, as in production (``otlp_endpoint``), to a receiver
on 127.0.0.1 that keeps the raw request bodies; the canary is the configured Anthropic key, and a
configured ``redaction_patterns`` entry masks a ticket number."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from agentlab.config import load_settings
from agentlab.models.router import ModelSpec
from agentlab.orchestration import Agent, Runner
from agentlab.tools import FunctionToolset, tool
from tests.otlp_receiver import Receiver, receiving
from tests.scripts import plan, script, step, verdict

CANARY = "sk-ant-api03-canary-Zq8Jm2Xv5Rk7Tn4W"
EMAIL = "ada.lovelace@example.com"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as server:
        yield server


@tool
def read_config(section: str) -> dict:
    """Read a section of the service's configuration (reads only)."""
    return {
        "section": section,
        "api_key": CANARY,
        "owner": EMAIL,
        "note": f"key={CANARY}",
        "ticket": "ticket-4411",  # matches the configured pattern
    }


async def drain(events: AsyncIterator[Any]) -> list[Any]:
    return [e async for e in events]


async def test_a_secret_and_an_email_in_a_tool_result_never_reach_an_exported_span(
    receiver: Receiver, tmp_path: Path
) -> None:
    endpoint = receiver.endpoint
    settings = load_settings(data_dir=tmp_path / "data").model_copy(
        update={
            "otlp_endpoint": endpoint,
            "anthropic_api_key": SecretStr(CANARY),
            "redaction_patterns": [r"ticket-\d+"],
        }
    )
    path = tmp_path / "script.json"
    path.write_text(
        script(planner=[plan(step("read_config", section="billing"))], validator=[verdict(True)])
    )
    agent = Agent("config", "reads configuration", toolsets=[FunctionToolset([read_config])])
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            agent,
            f"Check the billing config for {EMAIL}",
            models=ModelSpec(kind="scripted", script=str(path)),
        )
        assert (await drain(events))[-1].status == "completed"
        shown = (await runner.get(run_id)).state["results"][0]["outcome"]["output"]
    assert shown["api_key"] == CANARY  # the run itself (and the model) saw the real values
    exported = b"".join(receiver.bodies)
    assert b"read_config" in exported  # the tool's span was exported...
    assert b"[secret]" in exported and b"[email]" in exported  # ...masked
    assert CANARY.encode() not in exported
    assert EMAIL.encode() not in exported
    assert b"ticket-4411" not in exported and b"[redacted]" in exported
