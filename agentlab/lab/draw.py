"""An agent's graph as a picture, drawn offline by Graphviz's ``dot`` (no web service).

``draw(agent)`` returns an object Jupyter displays as SVG; ``dot`` comes from the ``graphviz``
system package (``apt-get install graphviz``, ``brew install graphviz``).
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from agentlab.errors import ConfigError
from agentlab.models.router import ModelRouter, unavailable_router
from agentlab.orchestration import Agent, compile_agent

_DOT_TIMEOUT_S = 30


class GraphPicture:
    """A drawn graph: Jupyter shows ``_repr_svg_``; ``dot`` has the Graphviz source."""

    def __init__(self, dot: str, svg: str) -> None:
        self.dot = dot
        self.svg = svg

    def _repr_svg_(self) -> str:
        return self.svg


def draw(target: Agent | Any) -> GraphPicture:
    """Draw an ``Agent``'s graph, or any compiled LangGraph graph."""
    graph: Any = target
    if isinstance(target, Agent):  # drawing needs the graph's shape, not working models
        models = target.models if isinstance(target.models, ModelRouter) else None
        graph = compile_agent(target, models=models or unavailable_router("only drawn"))
    source = to_dot(graph.get_graph())
    return GraphPicture(source, _render(source))


def to_dot(drawable: Any) -> str:
    """Graphviz source for a LangGraph drawable graph (``graph.get_graph()``)."""
    lines = [
        "digraph agent {",
        '  graph [rankdir=TB, fontname="Helvetica"];',
        '  node [shape=box, style="rounded,filled", fillcolor="#f2f0ff", fontname="Helvetica"];',
        '  edge [fontname="Helvetica"];',
    ]
    for node_id in drawable.nodes:
        label = {"__start__": "start", "__end__": "end"}.get(node_id, node_id)
        shape = ', shape=oval, fillcolor="#bfb6fc"' if node_id in ("__start__", "__end__") else ""
        lines.append(f'  "{node_id}" [label="{label}"{shape}];')
    for edge in drawable.edges:
        style = " [style=dashed]" if edge.conditional else ""
        lines.append(f'  "{edge.source}" -> "{edge.target}"{style};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _render(source: str) -> str:
    dot = shutil.which("dot")
    if dot is None:
        raise ConfigError(
            "drawing a graph needs Graphviz's `dot`: install the graphviz package "
            "(apt-get install graphviz, brew install graphviz)"
        )
    done = subprocess.run(
        [dot, "-Tsvg"], input=source, capture_output=True, text=True, timeout=_DOT_TIMEOUT_S
    )
    if done.returncode != 0:
        raise ConfigError(f"dot could not draw the graph: {done.stderr.strip()}")
    return done.stdout
