"""The whole support run on the Claude path: real ``anthropic`` SDK, local Messages API server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentlab import domains
from agentlab.config import load_settings
from agentlab.domains import support
from agentlab.models.router import ModelSpec
from agentlab.models.script import ScriptedError, Turn, load_script
from agentlab.orchestration import Runner, summarize
from agentlab.testing import AnthropicTestServer


def demo_turns_in_call_order() -> list[Turn]:
    roles = load_script(support.demo_script_path()).roles
    planner, executor, validator = (roles[r] for r in ("planner", "executor", "validator"))
    return [planner[0], executor[0], executor[1], validator[0]]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnthropicTestServer]:
    overloaded = Turn(error=ScriptedError(status=529, type="overloaded_error", message="busy"))
    turns = demo_turns_in_call_order()
    turns.insert(1, overloaded)  # the executor's first call is retried by the SDK
    with AnthropicTestServer(turns, retry_after_s=0.01) as srv:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-local")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        yield srv


def test_support_run_completes_through_the_anthropic_sdk(server, tmp_path):
    settings = load_settings(data_dir=tmp_path, anthropic_max_retries=2)
    spec = ModelSpec.choose(settings, script=None)
    assert spec.kind == "anthropic"
    with Runner(settings, domains.resolver(settings)) as runner:
        run_id, events = runner.start(
            support.NAME, support.DEMO_TASK, models=spec, options=support.default_options(tmp_path)
        )
        list(events)
        list(runner.resume(run_id, {"approve": True}))
        ended = list(runner.resume(run_id, {"approve": True}))[-1]
        view = runner.get(run_id)
    assert ended.status == "completed"
    assert view.model_source.startswith(f"Claude via {server.base_url}")

    sent = server.requests
    assert [r["model"] for r in sent] == [
        "claude-sonnet-4-6",
        "claude-haiku-4-5",
        "claude-haiku-4-5",
        "claude-haiku-4-5",
        "claude-haiku-4-5",
    ]
    assert sent[0]["tool_choice"] == {"type": "tool", "name": "submit_plan"}
    assert sent[2]["tools"][0]["name"] == "send_notification"
    assert sent[2]["tools"][0]["input_schema"]["properties"]["channel"]["enum"] == [
        "email",
        "sms",
        "push",
    ]
    assert sent[0]["system"][0]["cache_control"] == {"type": "ephemeral"}


def test_usage_and_cost_are_kept_per_call(server, tmp_path):
    settings = load_settings(data_dir=tmp_path, anthropic_max_retries=2)
    with Runner(settings, domains.resolver(settings)) as runner:
        run_id, events = runner.start(
            support.NAME,
            support.DEMO_TASK,
            models=ModelSpec(kind="anthropic"),
            options=support.default_options(tmp_path),
        )
        list(events)
        for _ in range(2):
            list(runner.resume(run_id, {"approve": True}))
        state = runner.get(run_id).state
    planner = state["model_calls"][0]
    assert (
        planner["model"],
        planner["input_tokens"],
        planner["output_tokens"],
        planner["cache_write_tokens"],
    ) == ("claude-sonnet-4-6", 1412, 236, 1180)
    # $3/M input, $15/M output, cache writes at 1.25x input.
    assert planner["cost_usd"] == pytest.approx((1412 * 3 + 236 * 15 + 1180 * 3.75) / 1e6)
    assert not planner["scripted"]
    summary = summarize(state)
    assert summary.model_calls == 4 and not summary.scripted
    assert summary.cost_usd == pytest.approx(sum(c["cost_usd"] for c in state["model_calls"]))


def test_unreachable_model_fails_the_run_with_a_reason(monkeypatch, tmp_path):
    with AnthropicTestServer(
        [
            Turn(
                error=ScriptedError(
                    status=401, type="authentication_error", message="invalid x-api-key"
                )
            )
        ]
    ) as srv:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-wrong")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        settings = load_settings(data_dir=tmp_path, anthropic_max_retries=0)
        with Runner(settings, domains.resolver(settings)) as runner:
            _, events = runner.start(
                support.NAME,
                "anything",
                models=ModelSpec(kind="anthropic"),
                options=support.default_options(tmp_path),
            )
            ended = list(events)[-1]
    assert ended.status == "failed"
    assert "planner unavailable" in ended.outcome and "check ANTHROPIC_API_KEY" in ended.outcome
