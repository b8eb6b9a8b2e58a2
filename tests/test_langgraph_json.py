"""``langgraph.json``: every graph it names imports and compiles to the agent's graph."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from langgraph.graph.state import CompiledStateGraph

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
