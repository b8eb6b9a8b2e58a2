"""The customer-support agent: a customer database and tools to search, notify and delete.

``help_centre/`` holds the help-centre articles of the product it serves (Brightlane), the
documents of its knowledge base; every file in that folder is an article to ingest.
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


__all__ = [
    "DEMO_TASK",
    "REFERENCE",
    "SEED_CUSTOMERS",
    "SupportDatabase",
    "agent",
    "delete_customer",
    "demo_script_path",
    "generate_customers",
    "open_database",
    "search_customers",
    "send_notification",
    "support_tools",
]
