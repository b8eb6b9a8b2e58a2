"""Prompt caching: each role sends its stable prefix (tools, then system) byte for byte the same on
every call of a run, and the test server's simulated Anthropic cache shows what that saves.

The Claude path is real (the ``anthropic`` SDK against ``AnthropicTestServer`` on 127.0.0.1); the
hit rate is cache-read tokens over all input tokens (read + written + plain), per role and overall.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import pytest

from agentlab.config import load_settings
from agentlab.domains import support
from agentlab.models.anthropic import ClaudeModel, claude_client
from agentlab.models.base import ModelRequest, Role, ToolSpec, Usage
from agentlab.models.calls import ModelCallRecord
from agentlab.models.messages import user
from agentlab.models.pricing import cost_usd
from agentlab.models.router import ModelSpec
from agentlab.models.script import ScriptedToolUse, Turn, load_script
from agentlab.orchestration import Runner, decision_for
from agentlab.testing import AnthropicTestServer, PromptCache, cache_prefixes
from agentlab.tools import ToolRegistry
from tests.conftest import waiting

ROLES = ("planner", "executor", "validator", "responder")


def demo_turns() -> list[Turn]:
    """The support demo's turns, in the order the run asks for them."""
    roles = load_script(support.demo_script_path()).roles
    planner, executor, validator, responder = (roles[Role(r)] for r in ROLES)
    return [planner[0], executor[0], executor[1], validator[0], responder[0]]


def replanning_turns() -> list[Turn]:
    """The demo, then a validator that wants proof, so every role is asked at least twice: the
    second plan searches with an invalid id, which the executor corrects."""

    def use(name: str, **arguments: Any) -> Turn:
        return Turn(tool_use=ScriptedToolUse(name=name, input=arguments))

    planner, executor, executor_again, _, responder = demo_turns()
    search = {"description": "Check that Ada is gone", "tool": "search_customers"}
    return [
        planner,
        executor,
        executor_again,
        use("submit_verdict", complete=False, reason="nothing shows the record is gone"),
        use("submit_plan", steps=[{**search, "arguments": {"customer_id": 0}}]),
        use("search_customers", customer_id=1),
        use("submit_verdict", complete=True, reason="customer 1 is gone"),
        responder,
    ]


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch, anthropic_server: AnthropicTestServer) -> Any:
    """The session's test server, serving ``turns``; the Claude path of runs points at it."""

    def start(turns: list[Turn], cache: PromptCache | None = None) -> AnthropicTestServer:
        server = anthropic_server.reset(turns, prompt_cache=cache)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-local")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        return server

    return start


async def run_support_task(data_dir: Path, db: Path) -> dict[str, Any]:
    """Run the demo task on Claude to its end, approving whatever waits for a human."""
    async with Runner(load_settings(data_dir=data_dir)) as runner:
        run_id, events = await runner.start(
            support.REFERENCE,
            support.DEMO_TASK,
            models=ModelSpec(kind="anthropic"),
            options={"db_path": str(db)},
        )
        [_ async for _ in events]
        while waiting(view := await runner.get(run_id)) is not None:
            approval = decision_for(waiting(view), approve=True)
            [_ async for _ in await runner.resume(run_id, approval)]
        return view.state


def role_of(body: dict[str, Any]) -> str:
    if "tool_choice" not in body:  # only the responder is free to answer in words
        return "responder"
    return {"submit_plan": "planner", "submit_verdict": "validator"}.get(
        body["tool_choice"]["name"], "executor"
    )


def sent_by_role(server: AnthropicTestServer) -> dict[str, list[dict[str, Any]]]:
    """The bodies the server received, parsed from their raw bytes, grouped by role."""
    sent: dict[str, list[dict[str, Any]]] = {role: [] for role in ROLES}
    for request in server.requests:
        body = json.loads(request["raw"])
        sent[role_of(body)].append(body)
    return sent


def hit_rates(calls: list[ModelCallRecord]) -> dict[str, float]:
    """Cache-read tokens over all input tokens, per role and ``overall``."""
    rates = {}
    for role in (*ROLES, "overall"):
        mine = [c for c in calls if role in (c["role"], "overall")]
        read = sum(c["cache_read_tokens"] for c in mine)
        total = read + sum(c["cache_write_tokens"] + c["input_tokens"] for c in mine)
        rates[role] = read / total if total else 0.0
    return rates


def uncached_cost(call: ModelCallRecord) -> float:
    """What ``call`` would have cost with every input token plain."""
    tokens = call["input_tokens"] + call["cache_write_tokens"] + call["cache_read_tokens"]
    return cost_usd(call["model"], Usage(tokens, call["output_tokens"])) or 0.0


def print_hit_rates(title: str, calls: list[ModelCallRecord]) -> None:
    rates = hit_rates(calls)
    head = ("role", "calls", "input", "write", "read", "hit rate", "cost $", "uncached $")
    print(f"\n{title}\n{head[0]:<10}" + "".join(f"{h:>11}" for h in head[1:]))
    for role in (*ROLES, "overall"):
        mine = [c for c in calls if role in (c["role"], "overall")]
        plain = sum(c["input_tokens"] for c in mine)
        written = sum(c["cache_write_tokens"] for c in mine)
        read = sum(c["cache_read_tokens"] for c in mine)
        cost = sum(c["cost_usd"] or 0.0 for c in mine)
        uncached = sum(map(uncached_cost, mine))
        print(
            f"{role:<10}{len(mine):>11}{plain:>11}{written:>11}{read:>11}{rates[role]:>11.1%}"
            f"{cost:>11.5f}{uncached:>11.5f}"
        )


# --- where the breakpoint goes ------------------------------------------------------------------


TOOL = ToolSpec("search", "Search the catalogue.", {"type": "object", "properties": {}})


async def test_one_breakpoint_closes_the_system_prompt_after_the_tools(serve):
    server = serve([Turn(text="ok")])
    model = ClaudeModel("claude-sonnet-4-6", claude_client(load_settings()))
    await model.request(ModelRequest(Role.PLANNER, "You plan.", (user("Hi"),), tools=(TOOL,)))
    [sent] = server.requests
    assert sent["system"] == [
        {"type": "text", "text": "You plan.", "cache_control": {"type": "ephemeral"}}
    ]
    assert all("cache_control" not in tool for tool in sent["tools"])


async def test_without_a_system_prompt_the_last_tool_carries_the_breakpoint(serve):
    server = serve([Turn(text="ok")])
    model = ClaudeModel("claude-sonnet-4-6", claude_client(load_settings()))
    await model.request(ModelRequest(Role.PLANNER, "", (user("Hi"),), tools=(TOOL, TOOL)))
    [sent] = server.requests
    assert "system" not in sent
    assert [t.get("cache_control") for t in sent["tools"]] == [None, {"type": "ephemeral"}]


def test_the_server_refuses_more_than_four_breakpoints(serve):
    server = serve([Turn(text="ok")])
    marked = {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}
    client = anthropic.Anthropic(api_key="k", base_url=server.base_url, max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="maximum of 4 blocks"):
        client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=10,
            system=[marked] * 5,  # type: ignore[list-item]
            messages=[{"role": "user", "content": "Hi"}],
        )


# --- the same prefix on every call of a role ---------------------------------------------------


async def test_the_second_call_of_each_role_sends_the_first_calls_prefix_byte_for_byte(
    serve, tmp_path
):
    server = serve(replanning_turns())
    state = await run_support_task(tmp_path, tmp_path / "support.sqlite")
    assert state["status"] == "completed"

    sent = sent_by_role(server)
    assert len(sent["responder"]) == 1  # one reply per run
    for role in ("planner", "executor", "validator"):
        bodies = sent[role]
        assert len(bodies) >= 2, role
        first, *later = bodies
        prefix = cache_prefixes(first)[-1]
        stable = {"tools": first["tools"], "system": first["system"]}
        assert prefix == json.dumps(stable, separators=(",", ":"), ensure_ascii=False), role
        assert support.DEMO_TASK not in prefix  # what varies comes after the breakpoint
        for body in later:
            assert cache_prefixes(body)[-1] == prefix, role
            assert body["messages"] != first["messages"], role


async def test_the_executor_sees_every_tool_and_is_forced_to_the_steps_tool(serve, tmp_path):
    server = serve(replanning_turns())
    await run_support_task(tmp_path, tmp_path / "support.sqlite")

    executor = sent_by_role(server)["executor"]
    everything = sorted(t.name for t in await ToolRegistry(support.agent.toolsets).tools())
    assert all([t["name"] for t in body["tools"]] == everything for body in executor)
    assert [body["tool_choice"] for body in executor] == [
        {"type": "tool", "name": name}
        for name in ("send_notification", "delete_customer", "search_customers")
    ]


# --- what the cache saves ----------------------------------------------------------------------


def marked_request(model: str, system: str, question: str) -> dict[str, Any]:
    block = {"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}
    return {"model": model, "system": [block], "messages": [{"role": "user", "content": question}]}


def test_simulated_cache_writes_a_new_prefix_and_reads_it_the_next_time():
    cache = PromptCache()
    system = "Answer briefly. " * 300  # ~1200 tokens: above Sonnet's minimum
    prefix = cache.tokens(cache_prefixes(marked_request("claude-sonnet-4-6", system, "?"))[0])

    first = cache.usage(marked_request("claude-sonnet-4-6", system, "Why?"))
    second = cache.usage(marked_request("claude-sonnet-4-6", system, "Why not?"))
    other_model = cache.usage(marked_request("claude-opus-4-1", system, "Why?"))

    assert (first["cache_creation_input_tokens"], first["cache_read_input_tokens"]) == (prefix, 0)
    assert (second["cache_creation_input_tokens"], second["cache_read_input_tokens"]) == (0, prefix)
    assert 0 < second["input_tokens"] < prefix
    assert other_model["cache_creation_input_tokens"] == prefix  # each model has its own cache


def test_simulated_cache_keeps_nothing_below_the_models_minimum():
    cache = PromptCache()
    system = "Answer briefly. " * 300  # ~1200 tokens: below Haiku 4.5's 4096
    for question in ("Why?", "Why not?"):
        usage = cache.usage(marked_request("claude-haiku-4-5", system, question))
        assert usage["cache_creation_input_tokens"] == usage["cache_read_input_tokens"] == 0
        assert usage["input_tokens"] > 1200


@pytest.mark.parametrize("minimums", [True, False], ids=["anthropic-minimums", "no-minimum"])
async def test_support_demo_hit_rate(serve, tmp_path, minimums):
    """The support demo, run twice on one server (one cache): cold, then warm. Prints the tables
    the README quotes; the run records carry the cache tokens the server reported. Without
    minimums, every repeated prefix is cached: what a larger prompt would get."""
    cache = PromptCache() if minimums else PromptCache(minimums={}, default_minimum=0)
    server = serve(demo_turns() * 2, cache)
    cold = await run_support_task(tmp_path / "cold", tmp_path / "cold.sqlite")
    warm = await run_support_task(tmp_path / "warm", tmp_path / "warm.sqlite")
    assert cold["status"] == warm["status"] == "completed"
    print_hit_rates(f"support demo, cold cache ({cache.default_minimum=})", cold["model_calls"])
    print_hit_rates(f"support demo, warm cache ({cache.default_minimum=})", warm["model_calls"])

    planner_prefix = cache.tokens(cache_prefixes(sent_by_role(server)["planner"][0])[-1])
    cold_planner, warm_planner = cold["model_calls"][0], warm["model_calls"][0]
    assert cold_planner["role"] == warm_planner["role"] == "planner"
    assert (cold_planner["cache_write_tokens"], cold_planner["cache_read_tokens"]) == (
        planner_prefix,
        0,
    )
    assert (warm_planner["cache_write_tokens"], warm_planner["cache_read_tokens"]) == (
        0,
        planner_prefix,
    )
    if cache.default_minimum == 0:  # every repeated prefix is read, the executor's too
        second_executor = [c for c in cold["model_calls"] if c["role"] == "executor"][1]
        assert second_executor["cache_read_tokens"] > 0
    assert hit_rates(warm["model_calls"])["overall"] > hit_rates(cold["model_calls"])["overall"]
