"""Prompts as versioned files: each role's system prompt is a template in a prompt directory (a
version), the built-in prompts are the version ``builtin``, and a run records the version it ran
with, so an eval can compare version A with version B."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agentlab.config import Settings, load_settings
from agentlab.domains.support import DEMO_TASK, REFERENCE, demo_script_path
from agentlab.errors import ConfigError
from agentlab.models import Model, ModelRequest, ModelResponse, ModelRouter, ModelSpec, Role
from agentlab.models.pricing import Pricing
from agentlab.models.script import Turn, parse_script
from agentlab.models.scripted import ScriptedModel
from agentlab.orchestration import (
    Agent,
    PromptBook,
    RunContext,
    Runner,
    RunView,
    compile_agent,
    load_prompts,
)
from agentlab.orchestration.prompt_book import BUILTIN_DIR, PLACEHOLDERS
from agentlab.tools import FunctionToolset, tool
from tests.cli import agentlab
from tests.conftest import decide
from tests.scripts import call, plan, step, verdict

# What each role's system prompt was before prompts became files, for the agent ``notes`` below
# (captured from the code of the commit before, by the run ``converse`` makes).
TODAY = {
    Role.PLANNER: (
        "You are the planner of notes: keeps notes by key\n"
        "Break the task into the fewest tool calls that accomplish it, in order. Use only "
        "these tools:\n"
        "- lookup (read): Look up a value by key.\n"
        '  arguments: {"additionalProperties":false,"properties":{"key":{"title":"Key",'
        '"type":"string"}},"required":["key"],"type":"object"}\n'
        "Leave out argument values that depend on results of earlier steps: they are filled in "
        "when the step runs. Give each step depends_on, the earlier steps whose results it "
        "needs ([] for none): independent steps then run at the same time. Never repeat a call "
        "that already failed unchanged, and never plan a step a human rejected. If earlier "
        "steps already did part of the task, plan only the rest. If the message needs no tool "
        "(a greeting, a question the conversation already answers), give your answer as reply, "
        "with no steps. Answer by calling submit_plan."
    ),
    Role.EXECUTOR: (
        "You are the executor. Make the tool call for the current step of the plan, taking the "
        "missing argument values from the results of earlier steps. Call the step's tool "
        "exactly once, with complete arguments."
    ),
    Role.VALIDATOR: (
        "You are the validator. Decide from the results whether the task is fully "
        "accomplished. Be strict: a step that ran is not the same as the goal reached. Answer "
        "by calling submit_verdict."
    ),
    Role.RESPONDER: (
        "You are notes: keeps notes by key\n"
        "Write the reply to the user's latest message, in plain words addressed to them. Say "
        "what was done, from the results below, and what was not and why (a person's refusal, "
        "a policy that forbids it, a failure). Never claim an action that did not succeed. Be "
        "brief; no preamble."
    ),
    Role.SUMMARIZER: (
        "You keep the running summary of a conversation between a user and notes. Rewrite the "
        "summary so it also covers the turns given: keep names, ids, facts, decisions, what "
        "was done and what is still open; drop pleasantries. Answer with the summary only, at "
        "most 600 words."
    ),
}


@tool
def lookup(key: str) -> dict[str, Any]:
    """Look up a value by key."""
    return {"key": key, "value": len(key)}


# A turn that plans two steps (the second's argument left to the executor), is validated and
# answered; then a turn answered directly, which folds the first into the running summary.
SCRIPT = {
    "roles": {
        "planner": [
            plan(step("lookup", key="a"), step("lookup", after=[1])),
            {"tool_use": {"name": "submit_plan", "input": {"reply": "Hello."}}},
        ],
        "executor": [call("lookup", key="b")],
        "validator": [verdict(True, "looked up")],
        "responder": [{"text": "Looked a and b up."}, {"text": "Hello."}],
        "summarizer": [{"text": "The user asked to look a up."}],
    }
}
TASKS = ("Look a up", "Hi")


class Recorder:
    """A model that records the system prompt of each request and answers from a script."""

    def __init__(self, role: Role, turns: list[Turn], seen: dict[Role, list[str]]) -> None:
        self._role, self._seen = role, seen
        self._script = ScriptedModel(turns, name=f"recorded-{role.value}")

    @property
    def name(self) -> str:
        return self._script.name

    def pricing(self) -> Pricing:
        return self._script.pricing()

    async def request(self, request: ModelRequest) -> ModelResponse:
        self._seen.setdefault(self._role, []).append(request.system)
        return await self._script.request(request)


def notes_agent(seen: dict[Role, list[str]], script: dict[str, Any] = SCRIPT) -> Agent:
    turns = parse_script(json.dumps(script)).roles
    models = {role: Recorder(role, turns.get(role, []), seen) for role in Role}
    assert all(isinstance(m, Model) for m in models.values())
    router = ModelRouter(models, source="a recorded script")
    return Agent("notes", "keeps notes by key", toolsets=[FunctionToolset([lookup])], models=router)


def settings_for(tmp_path: Path, **given: Any) -> Settings:
    # Every earlier turn is folded into the summary: the summarizer is asked on the second turn.
    return load_settings(data_dir=tmp_path / "data", context={"recent_tokens": 0}, **given)


async def converse(
    settings: Settings, prompts: PromptBook | None = None
) -> tuple[dict[Role, list[str]], list[RunView]]:
    """The system prompts each role's model was sent over the two turns of a session, and the
    runs as stored."""
    seen: dict[Role, list[str]] = {}
    agent = notes_agent(seen)
    views = []
    async with Runner(settings) as runner:
        for task in TASKS:
            run_id, events = await runner.start(agent, task, session="s", prompts=prompts)
            async for _ in events:
                pass
            views.append(await runner.get(run_id))
    assert [v.status for v in views] == ["completed", "completed"]
    return seen, views


def version(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    """A prompt directory named ``name`` holding ``files``."""
    directory = tmp_path / name
    directory.mkdir(parents=True)
    for file, text in files.items():
        (directory / file).write_text(text, encoding="utf-8")
    return directory


PLANNER_V2 = "You plan for {name} ({purpose}), in {{JSON}} if you must.\nTools:\n{tools}\n"


async def test_the_builtin_prompts_are_the_prompts_of_before_byte_for_byte(tmp_path):
    seen, views = await converse(settings_for(tmp_path))
    assert {role: said[0] for role, said in seen.items()} == TODAY
    assert all(v.state["prompt_version"] == "builtin" for v in views)


def test_the_builtin_version_is_the_shipped_files():
    book = PromptBook.builtin()
    assert book.version == "builtin"
    assert load_prompts(BUILTIN_DIR).templates == book.templates
    assert sorted(p.name for p in BUILTIN_DIR.iterdir()) == sorted(
        f"{r.value}.md" for r in Role if r is not Role.JUDGE
    )
    assert book.system(Role.SUMMARIZER, name="notes", words=600) == TODAY[Role.SUMMARIZER]


async def test_a_version_changes_the_planners_prompt_and_other_roles_keep_the_builtin(tmp_path):
    v2 = version(tmp_path, "v2", {"planner.md": PLANNER_V2})
    seen, views = await converse(settings_for(tmp_path, prompts_dir=v2))
    catalog = TODAY[Role.PLANNER].split("these tools:\n")[1].split("\nLeave out")[0]
    assert (
        seen[Role.PLANNER]
        == [f"You plan for notes (keeps notes by key), in {{JSON}} if you must.\nTools:\n{catalog}"]
        * 2
    )
    for role in (Role.EXECUTOR, Role.VALIDATOR, Role.RESPONDER, Role.SUMMARIZER):
        assert seen[role][0] == TODAY[role]
    assert [v.state["prompt_version"] for v in views] == ["v2", "v2"]  # the directory's name


async def test_the_version_file_names_the_version(tmp_path):
    named = version(tmp_path, "draft", {"VERSION": "planner-terse-3\n", "planner.md": PLANNER_V2})
    _, views = await converse(settings_for(tmp_path), load_prompts(named))
    assert views[0].state["prompt_version"] == "planner-terse-3"


async def test_two_versions_in_one_runner_get_graphs_of_their_own(tmp_path):
    a = load_prompts(version(tmp_path, "a", {"executor.md": "Executor A."}))
    b = load_prompts(version(tmp_path, "b", {"executor.md": "Executor B."}))
    seen: dict[Role, list[str]] = {}
    script = {
        "roles": {
            "planner": [plan(step("lookup", key="a"), step("lookup", after=[1]))] * 2,
            "executor": [call("lookup", key="b")] * 2,
            "validator": [verdict(True)] * 2,
        }
    }
    agent = notes_agent(seen, script)  # one agent object: one reference
    versions = []
    async with Runner(settings_for(tmp_path)) as runner:
        for book in (a, b):
            run_id, events = await runner.start(agent, "Look a up", prompts=book)
            async for _ in events:
                pass
            versions.append((await runner.get(run_id)).state["prompt_version"])
    assert seen[Role.EXECUTOR] == ["Executor A.", "Executor B."]
    assert versions == ["a", "b"]


async def test_a_served_graph_uses_the_configured_prompts(tmp_path):
    v2 = version(tmp_path, "v2", {"planner.md": PLANNER_V2})
    seen: dict[Role, list[str]] = {}
    settings = settings_for(tmp_path, prompts_dir=v2)
    graph = compile_agent(notes_agent(seen), settings=settings, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    await graph.ainvoke({"task": "Look a up"}, config, context=RunContext())
    assert seen[Role.PLANNER][0].startswith("You plan for notes (keeps notes by key)")
    assert (await graph.aget_state(config)).values["prompt_version"] == "v2"


async def test_a_run_resumed_elsewhere_goes_on_with_that_processs_prompts_and_says_so(
    tmp_path, caplog
):
    v2 = version(tmp_path, "v2", {"responder.md": "You are {name}. Reply in one line."})
    spec = ModelSpec(kind="scripted", script=str(demo_script_path()))
    async with Runner(settings_for(tmp_path, prompts_dir=v2)) as first:
        run_id, events = await first.start(REFERENCE, DEMO_TASK, models=spec)
        async for _ in events:
            pass
        assert (await first.get(run_id)).status == "awaiting_human"
    async with Runner(settings_for(tmp_path)) as other:  # another process: the built-in prompts
        decision = await decide(other, run_id, approve=True)
        with caplog.at_level(logging.WARNING, logger="agentlab.orchestration.runner.resume"):
            async for _ in await other.resume(run_id, decision):
                pass
        assert (await other.get(run_id)).state["prompt_version"] == "v2"  # what it started with
    said = f"run {run_id} started with the prompt version 'v2' and goes on with 'builtin'"
    assert any(r.getMessage().startswith(said) for r in caplog.records)


async def test_a_run_given_its_own_prompts_goes_on_with_them_in_its_runner(tmp_path, caplog):
    v2 = load_prompts(version(tmp_path, "v2", {"responder.md": "You are {name}. Be brief."}))
    spec = ModelSpec(kind="scripted", script=str(demo_script_path()))
    async with Runner(settings_for(tmp_path)) as runner:
        run_id, events = await runner.start(REFERENCE, DEMO_TASK, models=spec, prompts=v2)
        async for _ in events:
            pass
        decision = await decide(runner, run_id, approve=True)
        with caplog.at_level(logging.WARNING, logger="agentlab.orchestration.runner.resume"):
            async for _ in await runner.resume(run_id, decision):
                pass
        assert (await runner.get(run_id)).state["prompt_version"] == "v2"
    assert not [r for r in caplog.records if "prompt version" in r.getMessage()]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"planer.md": "Plan."}, "rename it (did you mean planner.md?), or move it out"),
        ({"notes.md": "Plan."}, "unknown prompt file {dir}/notes.md: a prompt file is named"),
        ({"planner.md": "\n\n"}, "prompt file {dir}/planner.md is empty"),
        (
            {"planner.md": "For {nme}."},
            "unknown placeholder {{nme}} in prompt file {dir}/planner.md",
        ),
        ({"executor.md": "For {name}."}, "the executor's prompt may name none"),
        ({"planner.md": "For {name!r}."}, "unknown placeholder {{name!r}}"),
        ({"planner.md": "A {brace."}, "prompt file {dir}/planner.md is not a valid template"),
        ({"planner.md": b"\xff\xfe"}, "prompt file {dir}/planner.md is not UTF-8 text"),
        ({"planner.md/": ""}, "cannot read prompt file {dir}/planner.md"),
        ({"VERSION": "", "planner.md": "Plan."}, "the VERSION file {dir}/VERSION must hold one"),
        ({"notes.txt": "?"}, "the prompt directory {dir} holds no prompt file"),
    ],
)
def test_a_bad_prompt_file_is_a_config_error_naming_it(tmp_path, files, message):
    directory = tmp_path / "v2"
    directory.mkdir()
    for name, content in files.items():
        if name.endswith("/"):
            (directory / name).mkdir()  # a file that cannot be read as one
        elif isinstance(content, bytes):
            (directory / name).write_bytes(content)
        else:
            (directory / name).write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_prompts(directory)
    assert message.format(dir=directory) in str(raised.value)


def test_a_directory_that_is_no_version_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist: give a directory holding a file per"):
        load_prompts(tmp_path / "nowhere")
    changed = version(tmp_path, "builtin", {"planner.md": PLANNER_V2})
    with pytest.raises(ConfigError, match="named 'builtin' but its prompts differ"):
        load_prompts(changed)


def test_every_placeholder_of_the_builtin_prompts_is_declared():
    for role, template in PromptBook.builtin().templates.items():
        named = set(re.findall(r"(?<!\{)\{(\w+)\}", template))
        assert named == set(PLACEHOLDERS[role]), role


def test_the_prompt_directory_is_a_setting(tmp_path, monkeypatch):
    config = tmp_path / "agentlab.toml"
    config.write_text(f'prompts_dir = "{tmp_path / "a"}"\n', encoding="utf-8")
    assert load_settings(config).prompts_dir == tmp_path / "a"
    monkeypatch.setenv("AGENTLAB_PROMPTS_DIR", str(tmp_path / "b"))
    assert load_settings(config).prompts_dir == tmp_path / "b"


def test_run_with_a_bad_prompt_directory_prints_one_error_line(env, tmp_path):
    missing = tmp_path / "nowhere"
    result = agentlab(env, "run", DEMO_TASK, "--script", demo_script_path(), "--prompts", missing)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: the prompt directory {missing} does not exist: give a directory holding a file "
        "per role it changes (planner.md, executor.md, validator.md, responder.md, "
        f"summarizer.md); copy {BUILTIN_DIR} to start one"
    ]


def test_show_names_the_prompt_version_a_run_used_unless_builtin(env, tmp_path):
    v2 = version(tmp_path, "v2", {"responder.md": "You are {name}. Reply in one line."})
    ids = []
    for given in (["--prompts", str(v2)], []):
        started = agentlab(env, "run", DEMO_TASK, "--script", demo_script_path(), *given)
        assert started.returncode == 0, started.stderr
        ids.append(re.search(r"run-[0-9a-f]{10}", started.stdout).group(0))
    with_v2, builtin = (agentlab(env, "show", run_id).stdout for run_id in ids)
    assert re.search(r"prompts\s+v2", with_v2)
    assert not re.search(r"prompts\s+", builtin)
