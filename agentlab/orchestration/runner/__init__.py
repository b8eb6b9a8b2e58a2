"""Durable runs: ``Runner`` (async) and ``SyncRunner``, split by job.

``runs.py`` is the Runner (start, resume, decide, kill, read); ``graphs.py`` the agents and their
compiled graphs; ``leases.py`` one writer per run; ``advance.py`` one invocation streamed;
``resume.py`` what a resume means, from the checkpoint; ``reconcile.py`` the runs table's status
set from a dead writer's checkpoint; ``reading.py`` reading checkpoints; ``view.py`` a run read
back; ``sync.py`` the facade for code that does not await.
"""

from agentlab.orchestration.runner.runs import Runner
from agentlab.orchestration.runner.sync import SyncRunner
from agentlab.orchestration.runner.view import RunView

__all__ = ["RunView", "Runner", "SyncRunner"]
