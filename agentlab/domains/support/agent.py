"""The customer-support agent, defined as any user defines an agent.

Its reference is ``agentlab.domains.support:agent``. The customer database is its ``deps``: the
file ``support.sqlite`` in the data directory (or the run option ``db_path``), created and seeded
on the first tool call of a run. Its policy is the file ``policy.yaml`` beside this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentlab.domains.support.db import SupportDatabase
from agentlab.domains.support.tools import support_tools
from agentlab.orchestration.agent import Agent
from agentlab.tools.rules import load_policy

POLICY_FILE = Path(__file__).with_name("policy.yaml")


def open_database(data_dir: Path, options: Mapping[str, Any]) -> SupportDatabase:
    """The support database of a run: ``options['db_path']``, else ``data_dir/support.sqlite``."""
    db = SupportDatabase(Path(options.get("db_path") or data_dir / "support.sqlite"))
    db.ensure()
    return db


agent = Agent(
    name="support",
    purpose=(
        "a customer-support agent for a software company. It looks customers up, sends them "
        "notifications, and deletes customer records when a customer asks to close their account."
    ),
    toolsets=[support_tools],
    policy=load_policy(POLICY_FILE),
    deps=open_database,
)
