"""``langgraph.json``: every graph it names imports and compiles to the agent's graph, and emits
the same events driven by LangGraph directly as through the ``Runner``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from agentlab.config import Settings
from agentlab.domains import support
from agentlab.events import RunEnded, RunEvent, event_from_dict, event_to_dict
from agentlab.models.router import ModelSpec
from agentlab.orchestration import RunContext, Runner, decision_for, initial_state
from tests.conftest import decide

ROOT = Path(__file__).resolve().parent.parent


def load_graph(reference: str) -> CompiledStateGraph:
    path, _, attribute = reference.partition(":")
    spec = importlib.util.spec_from_file_location(f"graphs_{attribute}", ROOT / path)
    assert spec and spec.loader, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    target = getattr(module, attribute)
    return target if isinstance(target, CompiledStateGraph) else target()


def test_every_graph_in_langgraph_json_compiles():
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["graphs"], "langgraph.json names no graph"
    for name, reference in config["graphs"].items():
        graph = load_graph(reference)
        assert isinstance(graph, CompiledStateGraph), name
        nodes = set(graph.get_graph().nodes)
        assert {"plan", "prepare", "approve", "execute", "validate", "halt"} <= nodes, name


def test_drawn_graph_shows_the_approval_gate_between_prepare_and_execute():
    graph = load_graph(json.loads((ROOT / "langgraph.json").read_text())["graphs"]["support"])
    drawing = graph.get_graph().draw_mermaid()
    for edge in (
        "prepare -.-> approve",
        "approve -.-> execute",
        "prepare -.-> execute",
        "execute -.-> validate",
        "validate -.-> plan",
    ):
        assert edge in drawing


def comparable(event: RunEvent) -> dict[str, Any]:
    """The event as data, without what differs between two runs of the same script: the run id
    and the measured durations."""
    data = event_to_dict(event)
    data.pop("run_id", None)
    if "result" in data:
        data["result"] = {k: v for k, v in data["result"].items() if k != "duration_s"}
    if "call" in data:
        data["call"] = {k: v for k, v in data["call"].items() if k != "latency_s"}
    return data


async def drive_directly(graph: CompiledStateGraph, db_path: Path) -> list[RunEvent]:
    """Run the demo task as a LangGraph server would: astream custom events, approve each pause."""
    config = {"configurable": {"thread_id": "served-1"}}
    context = RunContext(options={"db_path": str(db_path)})
    events: list[RunEvent] = []
    payload: Any = initial_state(support.DEMO_TASK)
    while True:
        async for chunk in graph.astream(payload, config, stream_mode="custom", context=context):
            event = event_from_dict(chunk)
            assert event is not None, f"the graph streamed {chunk!r}, not an agentlab event"
            events.append(event)
        snapshot = await graph.aget_state(config)
        if not snapshot.interrupts:
            assert snapshot.values["status"] == "completed", snapshot.values["transitions"]
            return events
        payload = Command(resume=decision_for(snapshot.interrupts[0].value, approve=True))


async def drive_with_runner(settings: Settings, db_path: Path) -> list[RunEvent]:
    spec = ModelSpec(kind="scripted", script=str(support.demo_script_path()))
    async with Runner(settings) as runner:
        run_id, stream = await runner.start(
            support.REFERENCE, support.DEMO_TASK, models=spec, options={"db_path": str(db_path)}
        )
        events = [e async for e in stream]
        while events[-1].status == "awaiting_human":
            approval = await decide(runner, run_id, approve=True)
            events += [e async for e in await runner.resume(run_id, approval)]
    assert events[-1].status == "completed"
    return events


async def test_served_graph_emits_the_same_events_as_a_runner(settings: Settings, tmp_path):
    served = load_graph(json.loads((ROOT / "langgraph.json").read_text())["graphs"]["support"])
    # A LangGraph server attaches its own checkpointer; here it is an in-memory one.
    graph = served.copy(update={"checkpointer": InMemorySaver()})
    direct = await drive_directly(graph, tmp_path / "served.sqlite")
    through_runner = await drive_with_runner(settings, tmp_path / "runner.sqlite")

    # RunEnded marks where a driver's stream stopped: the Runner's own, not the graph's.
    assert [type(e).__name__ for e in direct] == [
        type(e).__name__ for e in through_runner if not isinstance(e, RunEnded)
    ]
    assert [comparable(e) for e in direct] == [
        comparable(e) for e in through_runner if not isinstance(e, RunEnded)
    ]
    kinds = {type(e).__name__ for e in direct}
    assert kinds == {
        "StatusChanged",
        "PlanMade",
        "ModelCalled",
        "ToolCalled",
        "ApprovalRequested",
        "ApprovalDecided",
        "ReplyDelta",
        "Replied",
    }
