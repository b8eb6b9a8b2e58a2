"""The whole support run on the Claude path: real ``anthropic`` SDK, local Messages API server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentlab.config import Settings, load_settings
from agentlab.domains import support
from agentlab.errors import ConfigError
from agentlab.models.anthropic import ClaudeModel, claude_client
from agentlab.models.base import ModelRequest, Role
from agentlab.models.messages import Message
from agentlab.models.router import ModelSpec
from agentlab.models.script import ScriptedError, Turn, load_script
from agentlab.orchestration import Runner, SyncRunner, decision_for, summarize
from agentlab.orchestration.state import transcript_messages
from agentlab.testing import AnthropicTestServer
from tests.conftest import decide, decide_sync, waiting


def demo_turns_in_call_order() -> list[Turn]:
    roles = load_script(support.demo_script_path()).roles
    planner, executor, validator, responder = (
        roles[r] for r in ("planner", "executor", "validator", "responder")
    )
    return [planner[0], executor[0], executor[1], validator[0], responder[0]]


def options(tmp_path: Path) -> dict[str, Any]:
    return {"db_path": str(tmp_path / "support.sqlite")}


@pytest.fixture
def server(
    monkeypatch: pytest.MonkeyPatch, anthropic_server: AnthropicTestServer
) -> AnthropicTestServer:
    overloaded = Turn(error=ScriptedError(status=529, type="overloaded_error", message="busy"))
    turns = demo_turns_in_call_order()
    turns.insert(1, overloaded)  # the executor's first call is retried by the SDK
    srv = anthropic_server.reset(turns, retry_after_s=0.01)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-local")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
    return srv


def claude_settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path, anthropic_max_retries=2)


async def run_demo_on_claude(settings: Settings, tmp_path: Path) -> tuple[str, Runner]:
    """Start the demo task on Claude and approve both calls that need a human."""
    runner = await Runner(settings).open()
    run_id, events = await runner.start(
        support.REFERENCE,
        support.DEMO_TASK,
        models=ModelSpec(kind="anthropic"),
        options=options(tmp_path),
    )
    [_ async for _ in events]
    for _ in range(2):
        approval = await decide(runner, run_id, approve=True)
        [_ async for _ in await runner.resume(run_id, approval)]
    return run_id, runner


def test_support_run_completes_through_the_anthropic_sdk(server, tmp_path):
    settings = claude_settings(tmp_path)
    spec = ModelSpec.choose(settings, script=None)
    assert spec.kind == "anthropic"
    with SyncRunner(settings) as runner:
        run_id, events = runner.start(
            support.REFERENCE, support.DEMO_TASK, models=spec, options=options(tmp_path)
        )
        list(events)
        list(runner.resume(run_id, decide_sync(runner, run_id, approve=True)))
        ended = list(runner.resume(run_id, decide_sync(runner, run_id, approve=True)))[-1]
        view = runner.get(run_id)
    assert ended.status == "completed"
    assert view.model_source.startswith(f"Claude via {server.base_url}")
    assert (
        support.SupportDatabase(tmp_path / "support.sqlite").query(
            "SELECT id FROM customers WHERE id = 1"
        )
        == []
    )

    sent = server.requests
    assert [r["model"] for r in sent] == [
        "claude-sonnet-4-6",
        "claude-haiku-4-5",
        "claude-haiku-4-5",
        "claude-haiku-4-5",
        "claude-haiku-4-5",
        "claude-haiku-4-5",  # the responder, writing the reply
    ]
    assert view.state["reply"].startswith("Ada Lovelace's account is closed")
    assert "tool_choice" not in sent[-1] and "tools" not in sent[-1]
    assert sent[0]["tool_choice"] == {"type": "tool", "name": "submit_plan"}
    assert sent[2]["tool_choice"] == {"type": "tool", "name": "send_notification"}
    offered = {t["name"]: t for t in sent[2]["tools"]}
    assert offered["send_notification"]["input_schema"]["properties"]["channel"]["enum"] == [
        "email",
        "sms",
        "push",
    ]
    assert sent[0]["system"][0]["cache_control"] == {"type": "ephemeral"}


async def test_usage_and_cost_are_kept_per_call(server, tmp_path):
    run_id, runner = await run_demo_on_claude(claude_settings(tmp_path), tmp_path)
    try:
        state = (await runner.get(run_id)).state
    finally:
        await runner.close()
    planner = state["model_calls"][0]
    assert (
        planner["model"],
        planner["input_tokens"],
        planner["output_tokens"],
        planner["cache_write_tokens"],
    ) == ("claude-sonnet-4-6", 1412, 236, 1180)
    # $3/M input, $15/M output, cache writes at 1.25x input.
    assert planner["cost_usd"] == pytest.approx((1412 * 3 + 236 * 15 + 1180 * 3.75) / 1e6)
    assert planner["provider"] == "anthropic"
    summary = summarize(state)
    assert summary.model_calls == 5 and not summary.scripted
    assert summary.cost_usd == pytest.approx(sum(c["cost_usd"] for c in state["model_calls"]))


async def test_unreachable_model_fails_the_run_with_a_reason(monkeypatch, tmp_path):
    refusal = ScriptedError(status=401, type="authentication_error", message="invalid x-api-key")
    with AnthropicTestServer([Turn(error=refusal)]) as srv:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-wrong")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        settings = load_settings(data_dir=tmp_path, anthropic_max_retries=0)
        async with Runner(settings) as runner:
            _, events = await runner.start(
                support.REFERENCE,
                "anything",
                models=ModelSpec(kind="anthropic"),
                options=options(tmp_path),
            )
            ended = [e async for e in events][-1]
    assert ended.status == "failed"
    assert "planner unavailable" in ended.outcome and "check ANTHROPIC_API_KEY" in ended.outcome


def assert_well_formed(messages: list[Message]) -> None:
    """What the Messages API requires of a conversation with tools: it opens with the user, and
    every tool-use block is answered by a tool result in the next (user) message, and only there."""
    assert messages and messages[0]["role"] == "user"
    asked: set[str] = set()
    for message in messages:
        uses = {b["id"] for b in message["content"] if b["type"] == "tool_use"}
        answers = {b["tool_use_id"] for b in message["content"] if b["type"] == "tool_result"}
        assert answers <= asked, f"tool results {answers - asked} answer no preceding tool use"
        assert asked <= answers, f"tool uses {asked - answers} are not answered next"
        assert not uses or message["role"] == "assistant"
        asked = uses


async def test_transcript_of_a_run_is_accepted_unchanged_by_the_anthropic_client(server, tmp_path):
    run_id, runner = await run_demo_on_claude(claude_settings(tmp_path), tmp_path)
    try:
        state = (await runner.get(run_id)).state
    finally:
        await runner.close()
    assert state["status"] == "completed"
    transcript = transcript_messages(state)
    assert_well_formed(transcript)
    kinds = {b["type"] for m in transcript for b in m["content"]}
    assert kinds == {"text", "tool_use", "tool_result"}

    with AnthropicTestServer([Turn(text="Ada's account is closed.")]) as follow_up:
        settings = load_settings(data_dir=tmp_path, anthropic_base_url=follow_up.base_url)
        model = ClaudeModel("claude-haiku-4-5", claude_client(settings))
        request = ModelRequest(
            role=Role.VALIDATOR, system="Summarize the run.", messages=tuple(transcript)
        )
        response = await model.request(request)
    assert response.text == "Ada's account is closed."
    [sent] = follow_up.requests
    assert sent["messages"] == transcript


async def test_a_claude_run_can_be_read_without_a_key_but_not_resumed(
    server, tmp_path, monkeypatch
):
    settings = claude_settings(tmp_path)
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            support.REFERENCE,
            support.DEMO_TASK,
            models=ModelSpec(kind="anthropic"),
            options=options(tmp_path),
        )
        [_ async for _ in events]  # paused at the first approval
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    async with Runner(load_settings(data_dir=tmp_path)) as reader:
        view = await reader.get(run_id)
        assert waiting(view) is not None and waiting(view)["tool"] == "send_notification"
        with pytest.raises(ConfigError, match="no ANTHROPIC_API_KEY is set"):
            await reader.resume(run_id, decision_for(waiting(view), approve=True))
