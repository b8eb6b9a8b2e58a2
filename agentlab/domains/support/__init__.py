"""The customer-support agent: a customer database and tools to search, notify and delete.

``help_centre/`` holds the help-centre articles of the product it serves (Brightlane), the
documents of its knowledge base; every file in that folder is an article to ingest. ``evals/``
holds its task set, ``prompts/`` its prompt versions.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from agentlab.domains.support.agent import agent, open_database
from agentlab.domains.support.db import SEED_CUSTOMERS, SupportDatabase, generate_customers
from agentlab.domains.support.tools import (
    delete_customer,
    search_customers,
    send_notification,
    support_tools,
)

REFERENCE = "agentlab.domains.support:agent"
DEMO_TASK = (
    "Ada Lovelace (ada.lovelace@example.com) asked us to close her account. Email her a "
    "confirmation, then delete her customer record."
)


def demo_script_path() -> Path:
    """The script the offline demo replays."""
    return Path(str(files("agentlab.domains.support") / "demo_script.yaml"))


def eval_set_path() -> Path:
    """The agent's task set (``agentlab eval``), its scripts beside it in ``scripts/``."""
    return Path(str(files("agentlab.domains.support") / "evals" / "support.yaml"))


def prompts_path(version: str = "v1") -> Path:
    """The directory of one of the agent's prompt versions: ``v1``, or ``v2-terse`` (worse on
    purpose, to show the regression gate at work)."""
    return Path(str(files("agentlab.domains.support") / "prompts" / version))


__all__ = [
    "DEMO_TASK",
    "REFERENCE",
    "SEED_CUSTOMERS",
    "SupportDatabase",
    "agent",
    "delete_customer",
    "demo_script_path",
    "eval_set_path",
    "generate_customers",
    "open_database",
    "prompts_path",
    "search_customers",
    "send_notification",
    "support_tools",
]
