"""What a graph is assembled from: the models, the tools, and the rules of one agent."""

from __future__ import annotations

from dataclasses import dataclass

from agentlab.models.router import ModelRouter
from agentlab.tools.toolset import Toolset


@dataclass(frozen=True)
class Agent:
    """The parts of an agent that nodes use; the graph binds it to every node.

    ``purpose`` tells the planner what the agent is for (one or two sentences).
    ``approval_cost_threshold_usd``: a step estimated to cost more waits for a human.
    """

    name: str
    purpose: str
    models: ModelRouter
    tools: Toolset
    approval_cost_threshold_usd: float = 1.0
