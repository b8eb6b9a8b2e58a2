"""Budgets: before every model call its worst case is reserved against the run's ceilings
(iterations, tokens and dollars per run, per session, per principal per day); a call that could
cross one is not made and the run ends failed with reason budget_exceeded naming the ceiling.
Ceilings on a principal's day hold across processes; crossing a fraction of one warns."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentlab.config import load_settings
from agentlab.models.base import CallInfo, ModelRequest, ModelResponse, Role
from agentlab.models.pricing import Pricing
from agentlab.models.router import ModelRouter, scripted_router
from agentlab.models.script import parse_script
from agentlab.models.scripted import ScriptedModel
from agentlab.models.wrappers import BudgetedModel
from agentlab.observability.budgets import RunAccount
from agentlab.orchestration import Agent, Limits, RunContext, Runner, compile_agent
from agentlab.store import Ceiling, LedgerEntry
from tests.cli import AGENTLAB, REPOSITORY, agentlab
from tests.conftest import Ledger, toy_tools
from tests.scripts import plan, script, step, verdict
from tests.test_ledger import priced, spec_of, used


async def drain(events: AsyncIterator[Any]) -> list[Any]:
    return [e async for e in events]


def toy(ledger: Ledger, **options: Any) -> Agent:
    return Agent("toy", "a test agent", toolsets=[toy_tools(ledger)], **options)


# A plan whose step runs, a validator that finds the task unfinished, and a second plan that is
# never asked for: with claude-3-haiku's prices ($0.25 / $1.25 per million), the first planner
# call costs $0.0075 and the validator's $0.0011; the second planner call could cost $0.0054.
NOT_YET = script(
    planner=[used(20_000, 2_000, **plan(step("lookup", key="a"))), plan(step("lookup", key="b"))],
    validator=[used(4_000, 100, **verdict(False, "not yet")), verdict(True)],
)


async def run_toy(settings, tmp_path, ledger, text: str, **start: Any) -> tuple[Any, list[Any]]:
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            toy(ledger), "t", models=spec_of(tmp_path, text), **start
        )
        ended = (await drain(events))[-1]
        return ended, await runner.ledger(run_id)


async def test_a_one_cent_ceiling_stops_the_run_before_the_call_that_would_cross_it(
    settings, tmp_path, ledger
):
    text = priced(NOT_YET, "claude-3-haiku")
    ended, entries = await run_toy(settings, tmp_path, ledger, text, limits=Limits(max_usd=0.01))
    assert ended.status == "failed"
    assert ended.outcome.startswith("budget_exceeded: per-run dollar ceiling of $0.01 (max_usd)")
    assert "the planner call (claude-3-haiku) could cost up to" in ended.outcome
    assert [e.phase for e in entries] == ["plan", "validate"]  # the re-plan was never asked for
    assert ledger.names() == ["lookup"]
    assert sum(e.cost_usd or 0 for e in entries) <= 0.01


async def test_a_token_ceiling_stops_the_run_before_the_call_that_would_cross_it(
    settings, tmp_path, ledger
):
    ended, entries = await run_toy(
        settings, tmp_path, ledger, NOT_YET, limits=Limits(max_tokens=30_000)
    )
    assert ended.status == "failed"
    assert ended.outcome.startswith("budget_exceeded: per-run token ceiling of 30000 tokens")
    assert [e.phase for e in entries] == ["plan", "validate"]
    assert sum(e.tokens for e in entries) == 26_100  # what the calls used, under the ceiling


async def test_the_iteration_ceiling_stops_the_run_before_the_next_step(settings, tmp_path, ledger):
    text = script(planner=[plan(step("lookup", key="a"), step("lookup", key="b"))])
    ended, entries = await run_toy(
        settings, tmp_path, ledger, text, limits=Limits(max_iterations=2)
    )
    assert ended.status == "failed"
    assert ended.outcome.startswith("budget_exceeded: iteration cap reached: 2 of 2")
    assert ledger.names() == ["lookup"] and [e.phase for e in entries] == ["plan"]


async def test_configured_budgets_hold_runs_that_set_none(tmp_path, ledger):
    settings = load_settings(data_dir=tmp_path / "data", budgets={"max_usd": 0.01})
    text = priced(NOT_YET, "claude-3-haiku")
    ended, _ = await run_toy(settings, tmp_path, ledger, text)
    assert ended.outcome.startswith("budget_exceeded: per-run dollar ceiling of $0.01")


async def test_a_session_ceiling_counts_the_sessions_earlier_runs(settings, tmp_path, ledger):
    text = priced(NOT_YET, "claude-3-haiku")
    limits = Limits(max_session_usd=0.012)
    first, _ = await run_toy(settings, tmp_path, ledger, text, session="s", limits=limits)
    assert "per-session" in first.outcome  # its re-plan would cross it
    second, entries = await run_toy(settings, tmp_path, ledger, text, session="s", limits=limits)
    assert second.outcome.startswith(
        "budget_exceeded: per-session dollar ceiling of $0.012 for session s"
    )
    assert entries == []  # not even its first call


class _Unpriced(ScriptedModel):
    """A model the pricing table does not know."""

    provider = "elsewhere"

    @property
    def name(self) -> str:
        return "mystery-model"

    def pricing(self) -> Pricing:
        return Pricing.listed("mystery-model")  # not in the table: its price is unknown

    async def request(self, request: ModelRequest) -> ModelResponse:
        response = await super().request(request)
        return ModelResponse("mystery-model", "elsewhere", response.content, response.usage)


async def test_a_model_without_a_price_is_not_called_under_a_dollar_ceiling(settings, ledger):
    turns = parse_script(NOT_YET).roles
    router = ModelRouter({r: _Unpriced(turns.get(r, [])) for r in Role}, source="unpriced")
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            toy(ledger, models=router), "t", limits=Limits(max_usd=5.0)
        )
        ended = (await drain(events))[-1]
        assert await runner.ledger(run_id) == []
    assert ended.outcome.startswith("budget_exceeded: per-run dollar ceiling of $5")
    assert "mystery-model has no price" in ended.outcome


async def test_a_served_graph_holds_its_per_run_ceilings_from_its_state(tmp_path, ledger):
    router = scripted_router(parse_script(priced(NOT_YET, "claude-3-haiku")))
    graph = compile_agent(toy(ledger, models=router), checkpointer=InMemorySaver())
    final = await graph.ainvoke(
        {"task": "t"},
        {"configurable": {"thread_id": "served-1"}},
        context=RunContext(limits=Limits(max_usd=0.01)),
    )
    assert final["status"] == "failed"
    assert final["outcome"].startswith("budget_exceeded: per-run dollar ceiling of $0.01")
    assert ledger.names() == ["lookup"]


def test_the_run_command_takes_budget_flags(env, tmp_path):
    demo = REPOSITORY / "agentlab/domains/support/demo_script.yaml"
    path = tmp_path / "demo_priced.yaml"
    path.write_text("priced_as: claude-haiku-4-5\n" + demo.read_text())
    ran = agentlab(
        env, "run", "Close Ada Lovelace's account", "--script", path, "--max-usd", "0.01"
    )
    assert ran.returncode == 1, ran.stderr
    assert "budget_exceeded: per-run dollar ceiling of $0.01 (max_usd)" in ran.stdout
    assert "Traceback" not in ran.stderr


# --- across processes ----------------------------------------------------------------------------

AGENT_MODULE = '''
from agentlab import Agent, FunctionToolset, tool


@tool
def lookup(key: str) -> dict:
    """Look up a value by key."""
    return {"key": key}


agent = Agent("daily", "a test agent", toolsets=[FunctionToolset([lookup])])
'''

# Each run's planner call reserves about 5,000 tokens (4,096 of output) and uses 4,600; the
# validator's reserves about 1,300. A daily ceiling of 8,000 lets one run of the principal through:
# the other's planner call is refused, whether it comes while the first is reserved or after.
ONE_PLAN = script(
    planner=[used(4_500, 100, **plan(step("lookup", key="a")))],
    validator=[used(100, 10, **verdict(True, "done"))],
)


def run_two_at_once(env: dict[str, str], tmp_path: Path) -> list[subprocess.CompletedProcess[str]]:
    module = tmp_path / "daily_agent.py"
    module.write_text(AGENT_MODULE)
    path = tmp_path / "one_plan.json"
    path.write_text(ONE_PLAN)
    command = [*AGENTLAB, "run", "t", "--agent", f"{module}:agent", "--script", path,
               "--as", "ada", "--max-daily-tokens", "8000"]  # fmt: skip
    barrier = threading.Barrier(2)

    def run(_: int) -> subprocess.CompletedProcess[str]:
        barrier.wait()
        return subprocess.run(
            list(map(str, command)), env=env, cwd=REPOSITORY, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(run, range(2)))


def assert_one_ran(results: list[subprocess.CompletedProcess[str]]) -> None:
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 1], [r.stdout + r.stderr for r in results]
    failed = next(r for r in results if r.returncode == 1)
    assert "budget_exceeded: daily token ceiling of 8000 tokens for principal ada" in failed.stdout


@pytest.mark.slow
@pytest.mark.integration
def test_a_principals_daily_ceiling_holds_across_two_processes_at_once(env, tmp_path):
    assert_one_ran(run_two_at_once(env, tmp_path))


@pytest.mark.slow
@pytest.mark.integration
def test_a_principals_daily_ceiling_holds_across_two_processes_on_postgres(
    env,
    tmp_path,
    database_url,
):
    assert_one_ran(run_two_at_once({**env, "AGENTLAB_DATABASE_URL": database_url}, tmp_path))


def test_concurrent_reservations_never_pass_a_ceiling_together(
    connect: Callable[[], Awaitable[Any]],
):
    ceiling = Ceiling("daily dollar ceiling", "principal_day", "ada", "usd", 3.0, "2026-11-25")
    ready = threading.Barrier(6)

    async def reserve_two(i: int) -> list[bool]:
        runs = await connect()  # a connection (and event loop) each, as separate processes
        try:
            await asyncio.to_thread(ready.wait)
            passed = []
            for n in (i, i + 6):
                entry = LedgerEntry(f"e{n}", f"run-{n}", "toy", "ada", None, "plan", "planner",
                                    "m", reserved_usd=1.0, created_at=9e9,
                                    day="2026-11-25")  # fmt: skip
                passed.append((await runs.reserve(entry, [ceiling])).crossed is None)
            return passed
        finally:
            await runs.close()

    with ThreadPoolExecutor(6) as pool:
        passed = list(pool.map(lambda i: asyncio.run(reserve_two(i)), range(6)))
    assert sum(sum(each) for each in passed) == 3


# --- warnings ------------------------------------------------------------------------------------


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Any:
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/budget", _Hook.received
    server.shutdown()
    server.server_close()


async def test_crossing_the_warning_fraction_posts_to_the_webhook_and_logs(
    tmp_path, ledger, webhook, caplog
):
    url, received = webhook
    settings = load_settings(data_dir=tmp_path / "data", budgets={"webhook_url": url})
    text = priced(NOT_YET, "claude-3-haiku")
    limits = Limits(max_usd=1.0, warn_at=0.005)
    with caplog.at_level("WARNING", logger="agentlab.observability.budgets"):
        ended, _ = await run_toy(settings, tmp_path, ledger, text, limits=limits, principal="ada")
    assert ended.status == "completed"
    [warning] = received  # once, when the first call's worst case crossed it
    assert warning["event"] == "budget_warning" and warning["principal"] == "ada"
    assert warning["ceiling"] == "per-run dollar ceiling of $1 (max_usd)"
    assert warning["spent"] >= 0.005
    assert any("budget warning: per-run dollar ceiling" in r.message for r in caplog.records)


async def test_a_failing_webhook_is_logged_and_the_run_goes_on(tmp_path, ledger, caplog):
    settings = load_settings(
        data_dir=tmp_path / "data", budgets={"webhook_url": "http://127.0.0.1:9/closed"}
    )
    text = priced(NOT_YET, "claude-3-haiku")
    with caplog.at_level("WARNING", logger="agentlab.observability.budgets"):
        ended, _ = await run_toy(
            settings, tmp_path, ledger, text, limits=Limits(max_usd=1.0, warn_at=0.005)
        )
    assert ended.status == "completed"
    assert any("the budget webhook" in r.message for r in caplog.records)


async def test_a_warning_is_an_event_on_the_current_span():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    router = scripted_router(parse_script(priced(NOT_YET, "claude-3-haiku")))
    ceiling = Ceiling("per-run dollar ceiling of $0.01 (max_usd)", "run", "r", "usd", 0.01)
    account = RunAccount([ceiling], warn_at=0.5)
    call = CallInfo(phase="validate", account=account)
    request = ModelRequest(Role.VALIDATOR, "system", (), max_tokens=4096, call=call)
    model = BudgetedModel(router.for_role(Role.VALIDATOR))
    with provider.get_tracer("test").start_as_current_span("node"):
        await model.request(request)
    [span] = exporter.get_finished_spans()
    [event] = span.events
    assert event.name == "agentlab.budget.warning"
    assert event.attributes["agentlab.budget.ceiling"] == ceiling.name
