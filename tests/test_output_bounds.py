"""Bounded tool outputs: too deep, cyclic or unstorable outputs are error results, too large ones
are truncated with a note, before the state, the journal or a span sees them; the run goes on."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from agentlab.config import Settings, load_settings
from agentlab.models.router import ModelSpec
from agentlab.orchestration import Agent, Runner, ToolCalled, resolve_output_bounds
from agentlab.tools import (
    CallRequest,
    CallScope,
    DefaultPolicy,
    FunctionToolset,
    OutputBounds,
    ToolExecutor,
    ToolRegistry,
    tool,
)
from agentlab.tools.journal import MemoryJournal, call_hash
from tests.cli import agentlab_process
from tests.scripts import plan, script, step, verdict

DEPTH_ERROR = "nests more than 64 levels, the limit for tool outputs"


def nested(levels: int) -> Any:
    """``levels`` dicts, each inside the one before."""
    value: Any = "bottom"
    for _ in range(levels):
        value = {"inner": value}
    return value


def returning(output: Any) -> FunctionToolset:
    @tool
    def fetch() -> Any:
        """Fetch the thing."""
        return output

    return FunctionToolset([fetch])


async def outcome_of(output: Any, bounds: OutputBounds | None = None) -> dict[str, Any]:
    executor = ToolExecutor(ToolRegistry([returning(output)]), DefaultPolicy(), bounds=bounds)
    scope = CallScope(run_id="run-1")
    return dict(await executor.call(CallRequest("1.1", "fetch", {}), scope, lambda e: None))


# --- the executor ---------------------------------------------------------------------------


async def test_an_ordinary_output_passes_unchanged():
    output = {"id": 7, "name": "Ada", "tags": ["a", "b"], "score": 1.5, "ok": None}
    assert await outcome_of(output) == {"ok": True, "output": output, "error": None}


@pytest.mark.parametrize("levels", [65, 300, 5000, 100_000])
async def test_an_output_nested_too_deep_is_an_error_naming_the_limit(levels):
    outcome = await outcome_of(nested(levels))
    assert not outcome["ok"] and outcome["output"] is None
    assert outcome["error"] == f"the output of fetch {DEPTH_ERROR}; it was dropped: ask for a " + (
        "smaller or flatter result"
    )


async def test_an_output_at_the_depth_limit_is_kept():
    assert (await outcome_of(nested(64)))["ok"]


async def test_a_cyclic_output_is_an_error_not_a_hang():
    loop: dict[str, Any] = {"name": "loop"}
    loop["self"] = [loop]
    outcome = await outcome_of(loop)
    assert not outcome["ok"]
    assert outcome["error"] == (
        "the output of fetch refers to itself (a cycle), so it cannot be stored; it was dropped"
    )


@pytest.mark.parametrize(
    ("output", "named"),
    [
        ({"handle": object()}, "builtins.object"),
        ({(1, 2): "tuple key"}, "builtins.tuple"),
        ([1 << 70], "integer beyond 64 bits"),
    ],
)
async def test_an_output_a_run_cannot_store_is_an_error_naming_what(output, named):
    outcome = await outcome_of(output)
    assert not outcome["ok"] and named in outcome["error"]


async def test_a_5_mb_string_is_truncated_with_a_note():
    outcome = await outcome_of("x" * 5_000_000)
    assert outcome["ok"]
    text = outcome["output"]
    assert text == "x" * 1_000_000 + "… [truncated: 5 MB output, limit 1 MB]"


async def test_a_large_structure_becomes_the_start_of_its_json_with_a_note():
    rows = [{"id": i, "text": "y" * 100} for i in range(30_000)]
    text = (await outcome_of(rows, OutputBounds(max_bytes=100_000)))["output"]
    head, note = text.split("… ")
    assert len(head.encode()) == 100_000 and json.dumps(rows).startswith(head)
    assert re.fullmatch(r"\[truncated: 3\.\d+ MB output, limit 100 kB\]", note), note


async def test_non_json_values_a_checkpoint_stores_are_kept():
    from datetime import datetime

    output = {"when": datetime(2025, 1, 2), "seen": {1, 2}}
    assert (await outcome_of(output))["output"] == output


async def test_a_tool_sets_its_own_bounds():
    @tool(max_output_depth=2, max_output_bytes=1_000)
    def shallow() -> Any:
        """A tool held tighter than the default."""
        return nested(3)

    executor = ToolExecutor(ToolRegistry([FunctionToolset([shallow])]), DefaultPolicy())
    request, scope = CallRequest("1.1", "shallow", {}), CallScope(run_id="run-1")
    outcome = await executor.call(request, scope, lambda e: None)
    assert "nests more than 2 levels" in (outcome["error"] or "")


def test_bounds_past_what_a_checkpoint_holds_are_refused():
    with pytest.raises(ValueError, match="between 1 and 200"):
        OutputBounds(max_depth=300)
    with pytest.raises(ValueError, match="max_output_depth must be between 1 and 200"):

        @tool(max_output_depth=0)
        def flat() -> str:
            """Nothing nested."""
            return ""


async def test_a_deep_outcome_journaled_before_bounds_is_bounded_when_replayed():
    """A run resumed whose journal holds a deep output (written before outputs were bounded):
    the replayed outcome is bounded too, so the state never holds it."""
    journal = MemoryJournal()
    await journal.begin(
        "run-1", "1.1", tool="fetch", call_hash=call_hash("fetch", {}), arguments={}, lease=None
    )
    await journal.finish("run-1", "1.1", 1, {"ok": True, "output": nested(300), "error": None})
    executor = ToolExecutor(ToolRegistry([returning("fresh")]), DefaultPolicy(), journal)
    events: list[Any] = []
    outcome = await executor.call(
        CallRequest("1.1", "fetch", {}), CallScope("run-1"), events.append
    )
    assert DEPTH_ERROR in (outcome["error"] or "")
    assert events[0].result["journal"] == "replayed" and not events[0].result["outcome"]["ok"]


# --- configuration --------------------------------------------------------------------------


def test_the_bounds_are_settings(monkeypatch):
    monkeypatch.setenv("AGENTLAB_TOOL_OUTPUT_MAX_DEPTH", "8")
    settings = load_settings(tool_output_max_bytes=50_000)
    assert resolve_output_bounds(settings) == OutputBounds(max_depth=8, max_bytes=50_000)
    monkeypatch.delenv("AGENTLAB_TOOL_OUTPUT_MAX_DEPTH")
    assert resolve_output_bounds(Settings()) == OutputBounds(max_depth=64, max_bytes=1_000_000)


# --- runs through the Runner and its SQLite checkpoints ---------------------------------------

# The step fails (or is truncated), the planner sees it and finds nothing left to do.
RETRY_SCRIPT = script(planner=[plan(step("fetch")), plan()], validator=[verdict(True, "done")])


async def run_fetching(settings: Settings, tmp_path: Path, output: Any) -> dict[str, Any]:
    """Run an agent whose one tool returns ``output``; the run's state, read back from its
    checkpoints, with its events."""
    path = tmp_path / "script.json"
    path.write_text(RETRY_SCRIPT)
    agent = Agent("fetcher", "fetches", toolsets=[returning(output)])
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            agent, "fetch it", models=ModelSpec(kind="scripted", script=str(path))
        )
        seen = [e async for e in events]
        state = (await runner.get(run_id)).state
        record = await runner.store.get_run(run_id)
        [entry] = await runner.store.journal(run_id)
    called = [e.result["outcome"] for e in seen if isinstance(e, ToolCalled)]
    return {"state": state, "status": record.status, "called": called, "journal": entry}


@pytest.mark.parametrize("levels", [300, 5000])
async def test_a_deeply_nested_output_fails_its_step_and_the_run_completes(
    settings, tmp_path, levels
):
    run = await run_fetching(settings, tmp_path, nested(levels))
    assert run["status"] == "completed"
    [result] = run["state"]["results"]
    assert not result["outcome"]["ok"] and DEPTH_ERROR in result["outcome"]["error"]
    assert run["called"] == [result["outcome"]]
    assert run["journal"].outcome == result["outcome"]  # the journal holds what the state holds


async def test_a_5_mb_output_is_truncated_and_the_run_completes(settings, tmp_path):
    run = await run_fetching(settings, tmp_path, "z" * 5_000_000)
    assert run["status"] == "completed"
    [result] = run["state"]["results"]
    assert result["outcome"]["output"].endswith("z… [truncated: 5 MB output, limit 1 MB]")


async def test_a_cyclic_output_fails_its_step_and_the_run_completes(settings, tmp_path):
    loop: list[Any] = []
    loop.append(loop)
    run = await run_fetching(settings, tmp_path, loop)
    assert run["status"] == "completed"
    assert "a cycle" in run["state"]["results"][0]["outcome"]["error"]


async def test_a_lower_configured_limit_holds_the_run(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data", tool_output_max_depth=3)
    run = await run_fetching(settings, tmp_path, nested(4))
    assert "nests more than 3 levels" in run["state"]["results"][0]["outcome"]["error"]


DEEP_AGENT = """
from agentlab import Agent, FunctionToolset, tool


@tool
def fetch() -> dict:
    \"\"\"Fetch the thing.\"\"\"
    value = "bottom"
    for _ in range(5000):
        value = {"inner": value}
    return value


agent = Agent("fetcher", "fetches", toolsets=[FunctionToolset([fetch])])
"""


@pytest.mark.slow
@pytest.mark.integration
def test_agentlab_run_of_a_deep_output_exits_normally(env, tmp_path):
    (tmp_path / "deep_agent.py").write_text(DEEP_AGENT)
    (tmp_path / "script.json").write_text(RETRY_SCRIPT)
    done = agentlab_process(
        env,
        "run",
        "fetch it",
        "--agent",
        "deep_agent.py:agent",
        "--script",
        "script.json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "completed" in done.stdout
