"""The customer-support agent: a customer database and tools to search, notify and delete."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from agentlab.domains.support.db import SEED_CUSTOMERS, SupportDatabase, generate_customers
from agentlab.domains.support.tools import support_tools
from agentlab.models.router import ModelRouter
from agentlab.orchestration.agent import Agent

NAME = "support"
PURPOSE = (
    "a customer-support agent for a software company. It looks customers up, sends them "
    "notifications, and deletes customer records when a customer asks to close their account."
)
DEMO_TASK = (
    "Ada Lovelace (ada.lovelace@example.com) asked us to close her account. Email her a "
    "confirmation, then delete her customer record."
)


def demo_script_path() -> Path:
    """The script the offline demo replays."""
    return Path(str(files("agentlab.domains.support") / "demo_script.yaml"))


def default_options(data_dir: Path) -> dict[str, Any]:
    return {"db_path": str(data_dir / "support.sqlite")}


def build(
    options: Mapping[str, Any], router: ModelRouter, *, approval_cost_threshold_usd: float = 1.0
) -> Agent:
    """The support agent over the database at ``options['db_path']`` (created on first use)."""
    db = SupportDatabase(Path(options["db_path"]))
    db.ensure()
    return Agent(NAME, PURPOSE, router, support_tools(db), approval_cost_threshold_usd)


__all__ = [
    "DEMO_TASK",
    "NAME",
    "SEED_CUSTOMERS",
    "SupportDatabase",
    "build",
    "default_options",
    "demo_script_path",
    "generate_customers",
    "support_tools",
]
