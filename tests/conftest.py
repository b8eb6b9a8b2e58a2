"""Shared fixtures: isolated settings, and agents built from a toy toolset and an inline script."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import Field

from agentlab.config import Settings, load_settings
from agentlab.models.router import scripted_router
from agentlab.models.script import parse_script
from agentlab.orchestration import Agent
from agentlab.tools import DefaultPolicy, FunctionToolset, Risk, ToolContext, ToolError, tool


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's key, config or data directory."""
    for var in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "AGENTLAB_CONFIG",
        "AGENTLAB_ANTHROPIC_API_KEY",
        "AGENTLAB_ANTHROPIC_BASE_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AGENTLAB_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


class Ledger:
    """What the toy tools did, so tests can assert on side effects."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def toy_tools(ledger: Ledger) -> FunctionToolset:
    """A read tool, a write tool that can fail, a destructive tool and a costly one."""

    @tool
    def lookup(key: Annotated[str, Field(min_length=1, description="What to look up.")]) -> dict:
        """Look up a value by key."""
        ledger.calls.append(("lookup", {"key": key}))
        return {"key": key, "value": len(key)}

    @tool(risk=Risk.WRITE)
    def store(ctx: ToolContext, key: str, value: Annotated[int, Field(ge=0, le=100)]) -> dict:
        """Store a value under a key. Fails for the key 'broken'."""
        if key == "broken":
            raise ToolError("the key 'broken' cannot be stored")
        ledger.calls.append(("store", {"key": key, "value": value, "idem": ctx.idempotency_key}))
        return {"stored": key}

    @tool(risk=Risk.DESTRUCTIVE)
    def wipe(key: str) -> dict:
        """Delete a key for good."""
        ledger.calls.append(("wipe", {"key": key}))
        return {"wiped": key}

    @tool(risk=Risk.WRITE, cost_usd=5.0)
    def order(item: str) -> dict:
        """Order an item (costs money)."""
        ledger.calls.append(("order", {"item": item}))
        return {"ordered": item}

    return FunctionToolset([lookup, store, wipe, order])


AgentFactory = Callable[[str], Agent]


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


@pytest.fixture
def make_agent(ledger: Ledger) -> Callable[..., Agent]:
    """Build a toy agent replaying ``script`` (YAML text)."""

    def make(script: str, *, threshold: float = 1.0) -> Agent:
        router = scripted_router(parse_script(script), source="test script")
        return Agent(
            "toy",
            "a test agent",
            toolsets=[toy_tools(ledger)],
            policy=DefaultPolicy(threshold),
            models=router,
        )

    return make
