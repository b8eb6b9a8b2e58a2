"""Shared fixtures: isolated settings, agents built from a toy toolset and an inline script,
decisions bound to the request a paused run shows, and the session's Phoenix."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import Field

from agentlab.config import Settings, load_settings
from agentlab.models.router import scripted_router
from agentlab.models.script import parse_script
from agentlab.observability.phoenix import PhoenixServer
from agentlab.observability.phoenix_install import PhoenixInstall
from agentlab.orchestration import (
    Agent,
    Decision,
    Request,
    Runner,
    RunView,
    SyncRunner,
    decision_for,
)
from agentlab.tools import DefaultPolicy, FunctionToolset, Risk, ToolContext, ToolError, tool
from tests.phoenix_server import install_phoenix, session_phoenix


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's key, config or data directory."""
    for var in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "AGENTLAB_CONFIG",
        "AGENTLAB_ANTHROPIC_API_KEY",
        "AGENTLAB_ANTHROPIC_BASE_URL",
        "AGENTLAB_DATABASE_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AGENTLAB_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of an ``agentlab`` subprocess: this test's data dir, no keys, wide plain
    output."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "AGENTLAB_"))}
    return {**keep, "AGENTLAB_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200", "NO_COLOR": "1"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def phoenix_install(pytestconfig: pytest.Config) -> PhoenixInstall:
    """The Phoenix the tests run: the one agentlab installs (installed before the tests)."""
    return install_phoenix(pytestconfig)


@pytest.fixture(scope="session")
def phoenix(pytestconfig: pytest.Config, phoenix_install: PhoenixInstall) -> PhoenixServer:
    """One Phoenix for the whole session (``tests/phoenix_server.py``): give each test's spans a
    trace project of their own."""
    return session_phoenix(pytestconfig, phoenix_install)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Install Phoenix now, outside the tests' timeouts, if a selected test needs it."""
    if session.config.option.collectonly:
        return
    if any("phoenix_install" in getattr(item, "fixturenames", ()) for item in session.items):
        install_phoenix(session.config)


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


# --- decisions -----------------------------------------------------------------------------------
# A decision names the request it answers, so each helper reads what the run waits for first, as
# a person looks at the request before deciding. ``choice`` is ``decision_for``'s keywords.


def decision_on(
    request: Request | Mapping[str, Any] | None, *, approve: bool, **choice: Any
) -> Decision:
    """A decision on ``request`` (a paused run's request); fails if there is none."""
    assert request is not None, "the run is not waiting for a decision"
    return decision_for(request, approve=approve, **choice)


def waiting(view: RunView) -> dict[str, Any] | None:
    """The first request a paused run waits on, as plain data (``None`` if it waits on none)."""
    return view.requests[0].data() if view.requests else None


async def decide(runner: Runner, run_id: str, *, approve: bool, **choice: Any) -> Decision:
    """A decision on what the paused run ``run_id`` waits for now."""
    return decision_on(waiting(await runner.get(run_id)), approve=approve, **choice)


def decide_sync(runner: SyncRunner, run_id: str, *, approve: bool, **choice: Any) -> Decision:
    """``decide`` for a ``SyncRunner``."""
    return decision_on(waiting(runner.get(run_id)), approve=approve, **choice)


async def decide_graph(graph: Any, config: Any, *, approve: bool, **choice: Any) -> Decision:
    """A decision on what a graph driven directly (``Command(resume=...)``) waits for now."""
    interrupts = (await graph.aget_state(config)).interrupts
    return decision_on(dict(interrupts[0].value) if interrupts else None, approve=approve, **choice)
