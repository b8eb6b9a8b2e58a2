"""Sessions: each message a turn that ends with a reply, the turns kept in the runs database,
the planner answering directly when no tool is needed, replies written honestly when a turn
fails or is stopped, and the summary of older turns written once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agentlab import Agent, Risk, tool
from agentlab.config import Settings
from agentlab.models.router import ModelSpec
from agentlab.orchestration import RunContext, Runner, compile_agent
from agentlab.orchestration.graph import resolve_models
from tests.cli import agentlab
from tests.scripts import plan, step, verdict

FIND = plan(step("search_customers", email="ada.lovelace@example.com", limit=1))
DIRECT = {"tool_use": {"name": "submit_plan", "input": {"reply": "Her customer id is 1."}}}


def write(path: Path, **roles: list[dict[str, Any]]) -> Path:
    path.write_text(
        json.dumps({"roles": {"planner": [], "executor": [], "validator": [], **roles}})
    )
    return path


def thread_graph(agent: Agent, script: Path, settings: Settings) -> Any:
    """``agent``'s graph replaying ``script``, with no Runner: its threads keep conversations."""
    spec = ModelSpec(kind="scripted", script=str(script))
    models = resolve_models(agent, settings, spec)
    return compile_agent(agent, models=models, settings=settings, checkpointer=InMemorySaver())


@pytest.fixture
def two_turns(tmp_path: Path) -> Path:
    return write(
        tmp_path / "chat.json",
        planner=[FIND, DIRECT],
        validator=[verdict(True, "Ada was found")],
        responder=[{"text": "I found Ada Lovelace: customer 1."}],
    )


def test_a_session_goes_on_across_processes_and_reads_back_in_words(env, two_turns):
    first = agentlab(env, "run", "--script", two_turns, "--session", "s1", "Find Ada Lovelace")
    assert first.returncode == 0, first.stderr
    assert "reply: I found Ada Lovelace: customer 1." in first.stdout
    second = agentlab(env, "run", "--script", two_turns, "--session", "s1", "And her id?")
    assert second.returncode == 0, second.stderr
    assert "reply: Her customer id is 1." in second.stdout

    listed = agentlab(env, "sessions")
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if "│ s1" in line]
    assert "support" in row and "│     2 │" in row
    shown = agentlab(env, "sessions", "show", "s1")
    assert shown.returncode == 0, shown.stderr
    lines = [line.strip() for line in shown.stdout.splitlines() if line.strip()]
    assert lines[1] == "you (turn 1): Find Ada Lovelace"
    assert lines[2].startswith('search_customers({"email": "ada.lovelace@example.com"')
    assert lines[3].startswith("support (completed, run run-")
    assert lines[3].endswith(": I found Ada Lovelace: customer 1.")
    assert lines[4] == "you (turn 2): And her id?"
    assert lines[5].endswith(": Her customer id is 1.")


async def test_a_turn_sees_the_earlier_turns_and_a_greeting_needs_no_tool(settings, two_turns):
    async with Runner(settings) as runner:
        spec = ModelSpec(kind="scripted", script=str(two_turns))
        for message in ("Find Ada Lovelace", "And her id?"):
            run_id, events = await runner.start(None, message, models=spec, session="s")
            [_ async for _ in events]
        view = await runner.get(run_id)
        first = (await runner.turns("s"))[0]
    assert view.state["reply"] == "Her customer id is 1."
    [call] = view.state["model_calls"]  # the planner answered: no validator, no responder
    assert call["role"] == "planner" and call["index"] == 1  # the session's second plan
    assert call["context"]["turns_kept"] == 1
    assert call["context"]["parts"]["history"] == first["tokens"]


async def test_a_session_is_one_principals_and_one_agents(env, two_turns):
    assert (
        agentlab(
            env, "run", "--script", two_turns, "--session", "s", "--as", "ada", "hi"
        ).returncode
        == 0
    )
    refused = agentlab(env, "run", "--script", two_turns, "--session", "s", "--as", "bob", "hi")
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: session s belongs to principal ada")
    assert "--as ada" in refused.stderr and "Traceback" not in refused.stderr


def test_a_new_message_waits_until_the_turn_before_it_has_ended(env, tmp_path):
    notify = plan(step("send_notification", user_id=1, channel="email", message="Hi Ada"))
    text = write(tmp_path / "s.json", planner=[notify, DIRECT], validator=[verdict(True)])
    paused = agentlab(env, "run", "--script", text, "--session", "s", "Email Ada")
    assert paused.returncode == 0 and "is waiting for a decision" in paused.stdout
    refused = agentlab(env, "run", "--script", text, "--session", "s", "And her id?")
    assert refused.returncode == 2
    assert "has not ended (it waits for a decision): finish it first" in refused.stderr
    assert "--approve or --reject" in refused.stderr


async def test_a_killed_turn_is_answered_from_its_record_without_a_model(settings, tmp_path):
    notify = plan(step("send_notification", user_id=1, channel="email", message="Hi Ada"))
    text = write(
        tmp_path / "s.json",
        planner=[notify],
        validator=[verdict(True)],
        responder=[{"text": "never said"}],
    )
    async with Runner(settings) as runner:
        spec = ModelSpec(kind="scripted", script=str(text))
        run_id, events = await runner.start(None, "Email Ada", models=spec, session="s")
        [_ async for _ in events]
        await runner.kill(run_id)
        view = await runner.get(run_id)
        [turn] = await runner.turns("s")
    assert view.status == "failed"
    assert view.state["reply"].startswith("I could not finish this: killed")
    assert "No tool call succeeded." in view.state["reply"]
    assert "responder" not in {c["role"] for c in view.state["model_calls"]}
    assert turn["reply"] == view.state["reply"] and turn["status"] == "failed"


async def test_a_failed_turn_without_a_responder_says_why_from_its_record(settings, tmp_path):
    gave_up = plan(give_up="no tool can reach the moon")
    text = write(tmp_path / "s.json", planner=[gave_up])
    async with Runner(settings) as runner:
        spec = ModelSpec(kind="scripted", script=str(text))
        run_id, events = await runner.start(None, "Fly me to the moon", models=spec)
        [_ async for _ in events]
        view = await runner.get(run_id)
    assert view.status == "failed"
    assert view.state["reply"] == (
        "I could not finish this: planner gave up: no tool can reach the moon. "
        "No tool call succeeded. "
        "(Written from the run's record: no responder model is configured.)"
    )


async def test_older_turns_are_summarized_once_and_the_summary_is_reused(tmp_path, monkeypatch):
    from tests.conversations.script import message, session_script

    monkeypatch.setenv("AGENTLAB_CONTEXT__RECENT_TOKENS", "600")
    from agentlab.config import load_settings

    settings = load_settings(data_dir=tmp_path / "data")
    script = tmp_path / "session.json"
    script.write_text(session_script(16, slow_turn=0))
    agent = str(Path(__file__).parent / "conversations" / "agent.py") + ":agent"
    async with Runner(settings) as runner:
        spec = ModelSpec(kind="scripted", script=str(script))
        for n in range(1, 17):
            _, events = await runner.start(agent, message(n), models=spec, session="long")
            [_ async for _ in events]
        turns = await runner.turns("long")
        summary = await runner.store.latest_summary("long")
        calls = [c for t in turns for c in (await runner.get(t["run_id"])).state["model_calls"]]
    summaries = [c for c in calls if c["role"] == "summarizer"]
    assert summary is not None and summary["written_by"] == "scripted-summarizer"
    assert 1 <= len(summaries) < len(turns) // 2  # folded now and then, not on every turn
    assert summary["text"].startswith(f"Summary {len(summaries)}: the user asked about topics")
    last_planner = [c for c in calls if c["role"] == "planner"][-1]
    assert last_planner["context"]["turns_summarized"] == summary["through"]
    assert sum(t["tokens"] for t in turns if t["number"] > summary["through"]) <= 600


async def test_a_thread_is_a_conversation_when_no_runner_keeps_its_session(
    settings: Settings, tmp_path
):
    @tool(risk=Risk.READ)
    def lookup(topic: str) -> dict[str, Any]:
        """Look a topic up."""
        return {"topic": topic}

    text = write(
        tmp_path / "s.json",
        planner=[plan(step("lookup", topic="tea")), DIRECT],
        validator=[verdict(True)],
        responder=[{"text": "Tea is a drink."}],
    )
    graph = thread_graph(Agent("notes", "answers from notes", tools=[lookup]), text, settings)
    config = {"configurable": {"thread_id": "t-1"}}
    first = await graph.ainvoke({"message": "What is tea?"}, config, context=RunContext())
    second = await graph.ainvoke({"message": "And its id?"}, config, context=RunContext())
    state = (await graph.aget_state(config)).values
    assert (first["reply"], second["reply"]) == ("Tea is a drink.", "Her customer id is 1.")
    assert [t["number"] for t in state["history"]] == [1, 2]
    assert [t["message"] for t in state["history"]] == ["What is tea?", "And its id?"]
    assert state["model_calls"][-1]["context"]["turns_kept"] == 1


async def test_with_a_key_the_provider_counts_prefixes_and_stored_turns(
    anthropic_server, tmp_path, monkeypatch
):
    from agentlab.config import load_settings
    from agentlab.models.script import ScriptedToolUse, Turn
    from agentlab.testing.messages import count_tokens

    direct = Turn(tool_use=ScriptedToolUse(name="submit_plan", input={"reply": "Hello again."}))
    server = anthropic_server.reset([direct, direct])
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-local")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    async with Runner(load_settings(data_dir=tmp_path / "data")) as runner:
        for message in ("Hello", "Hello?"):
            run_id, events = await runner.start(
                None, message, models=ModelSpec(kind="anthropic"), session="s"
            )
            [_ async for _ in events]
        turns = await runner.turns("s")
        call = (await runner.get(run_id)).state["model_calls"][0]

    counted = {json.dumps(c["messages"]): c["input_tokens"] for c in server.counted}
    for turn in turns:  # each stored turn was counted by the provider, once
        assert turn["tokens"] == counted[json.dumps(turn["messages"])]
    planner = server.requests[-1]
    alone = count_tokens(
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "."}]}]}
    )
    prefix = count_tokens(
        {
            "system": planner["system"][0]["text"],
            "tools": [
                {k: t[k] for k in ("name", "description", "input_schema")} for t in planner["tools"]
            ],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "."}]}],
        }
    )
    assert call["context"]["parts"]["prefix"] == prefix - alone
    assert len([c for c in server.counted if c.get("system")]) == 1  # the prefix, counted once


async def test_a_threads_second_turn_stores_only_its_own_tool_calls(settings: Settings, tmp_path):
    @tool(risk=Risk.READ)
    def lookup(topic: str) -> dict[str, Any]:
        """Look a topic up."""
        return {"topic": topic}

    text = write(
        tmp_path / "s.json",
        planner=[plan(step("lookup", topic="tea")), plan(step("lookup", topic="coffee"))],
        validator=[verdict(True), verdict(True)],
    )
    graph = thread_graph(Agent("notes", "answers from notes", tools=[lookup]), text, settings)
    config = {"configurable": {"thread_id": "t-2"}}
    await graph.ainvoke({"message": "Tea?"}, config, context=RunContext())
    second = await graph.ainvoke({"message": "Coffee?"}, config, context=RunContext())
    state = (await graph.aget_state(config)).values
    [uses] = [m for m in state["history"][1]["messages"] if m["role"] == "assistant"][:1]
    assert [b["input"]["topic"] for b in uses["content"]] == ["coffee"]
    assert second["reply"].startswith("Done") and "Succeeded: lookup." in second["reply"]
