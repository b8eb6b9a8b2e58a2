"""The customer-support agent, defined as any user defines an agent.

Its reference is ``agentlab.domains.support:agent``. The customer database is its ``deps``: the
file ``support.sqlite`` in the data directory (or the run option ``db_path``), created and seeded
on the first tool call of a run. Its policy is the file ``policy.yaml`` beside this module. It
ships its help centre (``KNOWLEDGE``) as the documents of its knowledge base, which its
``search_knowledge_base`` tool ingests on a process's first search (unchanged articles skipped).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentlab.domains.support.db import SupportDatabase
from agentlab.domains.support.knowledge import help_centre_path
from agentlab.domains.support.tools import support_tools
from agentlab.memory.knowledge_tool import KnowledgeToolset
from agentlab.orchestration.agent import Agent
from agentlab.tools.rules import load_policy

POLICY_FILE = Path(__file__).with_name("policy.yaml")
KNOWLEDGE = (help_centre_path(),)
"""The documents the agent ships: its knowledge base's content (``agentlab kb ingest``)."""


def open_database(data_dir: Path, options: Mapping[str, Any]) -> SupportDatabase:
    """The support database of a run: ``options['db_path']``, else ``data_dir/support.sqlite``."""
    db = SupportDatabase(Path(options.get("db_path") or data_dir / "support.sqlite"))
    db.ensure()
    return db


agent = Agent(
    name="support",
    purpose=(
        "a customer-support agent for a software company. It looks customers up, sends them "
        "notifications, deletes customer records when a customer asks to close their account, "
        "and answers questions about the product from its help centre."
    ),
    toolsets=[support_tools, KnowledgeToolset(KNOWLEDGE)],
    policy=load_policy(POLICY_FILE),
    deps=open_database,
)
