"""The nodes of the agent graph: a module per node, each an async function of a ``Visit``.

Each node sets ``status`` and, when it changes the course of the run, records a ``Transition``
with its reason (``Visit.move``); the edges in ``edges.py`` route on ``status``. Every node runs in
the one wrapper (``visit.visiting``) that ends a killed run and charges model calls to the run's
account; the parts nodes share (the agent, its model stacks, the tool executor, its deps) are
``Parts``.
"""

from agentlab.orchestration.nodes.approve import approve
from agentlab.orchestration.nodes.begin import begin
from agentlab.orchestration.nodes.common import Parts
from agentlab.orchestration.nodes.execute import execute
from agentlab.orchestration.nodes.halt import halt
from agentlab.orchestration.nodes.plan import plan
from agentlab.orchestration.nodes.prepare import prepare
from agentlab.orchestration.nodes.recall import recall
from agentlab.orchestration.nodes.respond import respond
from agentlab.orchestration.nodes.validate import validate

__all__ = [
    "Parts",
    "approve",
    "begin",
    "execute",
    "halt",
    "plan",
    "prepare",
    "recall",
    "respond",
    "validate",
]
