"""Shared fixtures: isolated settings, agents built from a toy toolset and an inline script,
decisions bound to the request a paused run shows, and the servers a session starts once
(PostgreSQL, the Anthropic test server, Phoenix), each test getting a database, a script or a
trace project of its own."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
from agentlab.testing import AnthropicTestServer
from agentlab.tools import DefaultPolicy, FunctionToolset, Risk, ToolContext, ToolError, tool
from tests.cli import MEMORY_OFF, trusted_agents
from tests.phoenix_server import install_phoenix, session_phoenix

if TYPE_CHECKING:
    from tests.postgres_server import PostgresServer

# Modules whose every test starts Arize Phoenix (10-30 s) or drives it.
_PHOENIX_MODULES = {"test_phoenix.py", "test_phoenix_ui.py"}


# Notebooks whose kernel traces into the session's Phoenix (notebooks/conftest.py).
_PHOENIX_NOTEBOOKS = {"03_observability.ipynb"}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Notebooks (nbval runs each in a Jupyter kernel), tests of a real Phoenix and tests on the
    PostgreSQL server are ``slow`` and ``integration``; the rest mark themselves.

    The tests run on two workers (pytest-xdist, ``--dist loadgroup``): a file's tests stay
    together on one worker (its module fixtures, a notebook's cells in order), and everything
    that uses Phoenix shares one worker, so the session starts one Phoenix. Slow tests come
    first, the campaigns that say they run longest (their ``timeout`` mark) first of all, so the
    long groups start at once and the short ones fill the gaps (``--no-loadscope-reorder``)."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        params = getattr(getattr(item, "callspec", None), "params", {})
        phoenix = (
            item.path.name in _PHOENIX_MODULES | _PHOENIX_NOTEBOOKS
            or "phoenix" in fixtures
            or "phoenix_install" in fixtures
        )
        postgres = "postgres" in fixtures or params.get("connect") == "postgres"
        if item.path.suffix == ".ipynb" or phoenix or postgres:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.integration)
        item.add_marker(pytest.mark.xdist_group("phoenix" if phoenix else str(item.path)))
    items.sort(key=_longest_first)  # stable: a file's tests keep their order


def _longest_first(item: pytest.Item) -> tuple[bool, float]:
    timeout = item.get_closest_marker("timeout")
    return (item.get_closest_marker("slow") is None, -(timeout.args[0] if timeout else 0))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's key, config or data directory; its own agents are trusted."""
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
    for name, value in {**trusted_agents(tmp_path), **MEMORY_OFF}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of an ``agentlab`` subprocess: this test's data dir, no keys, wide plain
    output, the test's agents trusted, and a configuration granting the OS user the right to
    act as any principal (tests of that right drop ``AGENTLAB_ACCESS__ACT_AS``)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "AGENTLAB_"))}
    data = str(tmp_path / "data")
    return {
        **keep,
        "AGENTLAB_DATA_DIR": data,
        "AGENTLAB_ACCESS__ACT_AS": json.dumps({getpass.getuser(): ["*"]}),
        **trusted_agents(tmp_path),
        **MEMORY_OFF,
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server, started once for the session (when a test first asks)."""
    from tests.postgres_server import PostgresServer, find_binaries

    binaries = find_binaries()
    if binaries is None:
        pytest.skip(
            "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql: "
            "install Debian's 'postgresql' package (.ci/run does)"
        )
    server = PostgresServer(binaries)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def database_url(postgres: PostgresServer) -> Iterator[str]:
    """A new, empty database on the session's server: nothing of another test is in it (its
    tables, rows and advisory locks are its own); dropped after the test."""
    url = postgres.new_database()
    yield url
    postgres.drop_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def connect(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Awaitable[Any]]:
    """Opens a store on one database, as each process does: SQLite, then PostgreSQL."""
    from agentlab.store import open_sqlite_store

    if request.param == "sqlite":
        path = tmp_path / "runs.sqlite"

        async def on_sqlite() -> Any:
            return open_sqlite_store(path)

        return on_sqlite
    from agentlab.store.postgres import open_postgres_store

    url = request.getfixturevalue("database_url")
    return lambda: open_postgres_store(url)


@pytest.fixture
async def store(connect: Callable[[], Awaitable[Any]]) -> AsyncIterator[Any]:
    """A run store, once on SQLite and once on PostgreSQL."""
    opened = await connect()
    yield opened
    await opened.close()


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


@pytest.fixture(scope="session")
def _anthropic_session_server() -> Iterator[AnthropicTestServer]:
    with AnthropicTestServer([]) as server:
        yield server


@pytest.fixture
def anthropic_server(
    _anthropic_session_server: AnthropicTestServer,
) -> Iterator[AnthropicTestServer]:
    """The session's Anthropic test server, with nothing scripted: a test ``reset``s it with its
    turns. Each reset is a new script under a new ``base_url``, so no request of another test can
    reach this one's; the reset after the test ends whatever it left hanging."""
    yield _anthropic_session_server.reset()
    _anthropic_session_server.reset()


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
