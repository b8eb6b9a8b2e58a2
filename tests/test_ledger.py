"""The cost ledger: prices as data, one stored row per model call (phase, principal, session,
tokens, dollars), read back by 'agentlab show' and 'agentlab costs', on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agentlab.config import Settings
from agentlab.errors import ScriptError
from agentlab.models.base import Usage
from agentlab.models.pricing import cost_usd, price_of, prices
from agentlab.models.router import ModelSpec
from agentlab.models.script import parse_script
from agentlab.observability.ledger import phase_costs
from agentlab.orchestration import Agent, Runner
from agentlab.store import Ceiling, LedgerEntry, open_sqlite_store
from tests.conftest import Ledger, toy_tools
from tests.scripts import call, plan, script, step, verdict
from tests.test_cli import agentlab, run_id_in

DEMO_SCRIPT = Path(__file__).resolve().parents[1] / "agentlab/domains/support/demo_script.yaml"


def priced(text: str, model: str = "claude-haiku-4-5") -> str:
    """``text`` (a script as JSON) priced as ``model``."""
    return json.dumps({**json.loads(text), "priced_as": model})


def spec_of(tmp_path: Path, text: str) -> ModelSpec:
    path = tmp_path / "script.json"
    path.write_text(text)
    return ModelSpec(kind="scripted", script=str(path))


async def drain(events: AsyncIterator[Any]) -> list[Any]:
    return [e async for e in events]


def used(input_tokens: int, output_tokens: int, **turn: Any) -> dict[str, Any]:
    return {**turn, "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}}


# --- prices --------------------------------------------------------------------------------------


def test_prices_are_data_shipped_with_the_package_with_the_newest_families():
    table = prices()
    assert {"claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-5"} <= set(
        table
    )
    haiku = table["claude-haiku-4-5"]
    assert (haiku.input, haiku.output, haiku.cache_write, haiku.cache_read) == (1.0, 5.0, 1.25, 0.1)


def test_a_dated_snapshot_is_priced_as_its_model_and_an_unlisted_model_is_unknown():
    assert price_of("claude-sonnet-4-5-20250929") == price_of("claude-sonnet-4-5")
    assert cost_usd("gpt-nothing", Usage(100, 100)) is None
    assert cost_usd("claude-haiku-4-5", Usage(1_000_000, 0, 1_000_000, 1_000_000)) == 2.35


def test_a_script_priced_as_an_unlisted_model_is_refused():
    with pytest.raises(ScriptError, match="priced_as.*no price"):
        parse_script(priced(script(planner=[plan()]), "claude-imaginary-9"))


# --- the ledger ----------------------------------------------------------------------------------


REPLANNED = script(
    planner=[
        used(2000, 300, **plan(step("lookup", key="a"), step("lookup"))),
        used(1000, 100, **plan()),
    ],
    executor=[used(500, 50, **call("lookup", key="b"))],
    validator=[used(800, 20, **verdict(False, "not yet")), used(700, 10, **verdict(True))],
)


async def test_every_model_call_is_a_ledger_row_with_its_phase_principal_and_cost(
    settings: Settings, tmp_path, ledger: Ledger
):
    agent = Agent("toy", "a test agent", toolsets=[toy_tools(ledger)])
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            agent, "t", models=spec_of(tmp_path, priced(REPLANNED)), principal="ada", session="s1"
        )
        assert (await drain(events))[-1].status == "completed"
        entries = await runner.ledger(run_id)
        state = (await runner.get(run_id)).state
    assert [(e.phase, e.role) for e in entries] == [
        ("plan", "planner"),
        ("prepare", "executor"),
        ("validate", "validator"),
        ("replan", "planner"),
        ("validate", "validator"),
    ]
    assert {(e.run_id, e.agent, e.principal, e.session) for e in entries} == {
        (run_id, "toy", "ada", "s1")
    }
    assert all(e.settled and e.provider == "simulated" for e in entries)
    assert [e.cost_usd for e in entries] == [c["cost_usd"] for c in state["model_calls"]]
    assert entries[0].cost_usd == pytest.approx((2000 * 1.0 + 300 * 5.0) / 1e6)


async def test_scripted_calls_not_priced_as_a_model_cost_nothing(settings, tmp_path, ledger):
    agent = Agent("toy", "a test agent", toolsets=[toy_tools(ledger)])
    async with Runner(settings) as runner:
        run_id, events = await runner.start(agent, "t", models=spec_of(tmp_path, REPLANNED))
        await drain(events)
        entries = await runner.ledger(run_id)
    assert {(e.provider, e.cost_usd) for e in entries} == {("scripted", 0.0)}


def test_phase_costs_sum_each_phase_and_the_cache_hit_rate():
    def entry(phase: str, cost: float | None, **tokens: int) -> LedgerEntry:
        return LedgerEntry("x", "r", "a", "p", None, phase, "planner", "m", "anthropic",
                           cost_usd=cost, settled=True, **tokens)  # fmt: skip

    rows = phase_costs(
        [
            entry("plan", 0.5, input_tokens=100, cache_write_tokens=300),
            entry("replan", 0.25, input_tokens=100, cache_read_tokens=300),
            entry("validate", None, input_tokens=10),
        ]
    )
    assert [r.phase for r in rows] == ["plan", "replan", "validate", "total"]
    assert rows[1].cache_hit_rate == 0.75
    assert rows[-1].cost_usd is None  # one call had no price: the total is unknown, not $0.75
    assert rows[-1].cache_hit_rate == pytest.approx(300 / 810)


# --- show and costs ------------------------------------------------------------------------------


@pytest.fixture
def priced_demo(tmp_path: Path) -> Path:
    path = tmp_path / "demo_priced.yaml"
    path.write_text("priced_as: claude-haiku-4-5\n" + DEMO_SCRIPT.read_text())
    return path


def test_show_prints_costs_per_phase_and_the_cache_hit_rate(env, priced_demo):
    ran = agentlab(env, "run", "Close Ada Lovelace's account", "--script", priced_demo,
                   "--approve", "--as", "ada", "--session", "s1")  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    shown = agentlab(env, "show", run_id_in(ran.stdout))
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "Costs (ledger)" in out and "simulated" in out
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 8}
    assert {"plan", "prepare", "validate", "respond", "total"} <= set(lines)
    # 1412+1430+903+512 in, 419+48 out, 1180 written
    assert "$0.0081 (simulated)" in lines["total"]
    assert "0%" in lines["total"]  # the demo script reads nothing from the cache


def test_costs_groups_the_ledger_and_prints_json(env, priced_demo):
    for who in ("ada", "grace"):
        ran = agentlab(env, "run", "Close Ada Lovelace's account", "--script", priced_demo,
                       "--approve", "--as", who)  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        agentlab(env, "demo", "--reset")
    result = agentlab(env, "costs", "--by", "principal", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["principal"] for r in rows] == ["ada", "grace"]
    assert rows[0]["calls"] == 5 and rows[0]["runs"] == 1  # the responder's reply is one
    assert rows[0]["cost_usd"] == pytest.approx(0.008067)
    assert rows[0]["simulated_calls"] == 5
    table = agentlab(env, "costs", "--by", "agent")
    assert "support" in table.stdout and "$0.0161 (simulated)" in table.stdout
    assert agentlab(env, "costs", "--by", "weather").returncode == 2
    assert json.loads(agentlab(env, "costs", "--since", "2999-01-01", "--json").stdout) == []
    assert agentlab(env, "costs", "--since", "yesterday").returncode == 2


async def test_a_model_without_a_price_shows_cost_unknown_never_zero(env):
    sqlite = open_sqlite_store(Path(env["AGENTLAB_DATA_DIR"]) / "runs.sqlite")
    try:
        entry = LedgerEntry("e1", "run-x", "toy", "ada", None, "plan", "planner", "mystery-1",
                            created_at=1.0, day="2026-11-25")  # fmt: skip
        assert (await sqlite.reserve(entry, [])).crossed is None
        settled = LedgerEntry("e1", "run-x", "toy", "ada", None, "plan", "planner", "mystery-1",
                              "anthropic", 10, 10, cost_usd=None)  # fmt: skip
        await sqlite.settle(settled)
    finally:
        await sqlite.close()
    rows = json.loads(agentlab(env, "costs", "--json").stdout)
    assert rows[0]["cost_usd"] is None and rows[0]["unpriced_calls"] == 1
    assert "unknown" in agentlab(env, "costs").stdout


# --- the store, on both engines ------------------------------------------------------------------


async def test_reservations_settle_and_release_on_each_engine(store):
    ceiling = Ceiling("per-run dollar ceiling", "run", "run-1", "usd", 1.0)

    async def reserve(entry_id: str, usd: float) -> Any:
        entry = LedgerEntry(entry_id, "run-1", "toy", "ada", "s", "plan", "planner", "m",
                            reserved_usd=usd, created_at=9e9, day="2026-11-25")  # fmt: skip
        return await store.reserve(entry, [ceiling])

    assert (await reserve("a", 0.6)).crossed is None
    refused = await reserve("b", 0.6)
    assert refused.crossed is not None and refused.crossed.before == pytest.approx(0.6)
    await store.settle(LedgerEntry("a", "run-1", "toy", "ada", "s", "plan", "planner", "m",
                                   "anthropic", 10, 5, cost_usd=0.1))  # fmt: skip
    assert (await reserve("c", 0.6)).crossed is None  # the settled cost counts, not the worst case
    await store.release("c")
    [only] = await store.ledger("run-1")
    assert (only.entry_id, only.settled, only.cost_usd) == ("a", True, 0.1)
    [total] = await store.cost_totals("session")
    assert (total.key, total.calls, total.input_tokens, total.cost_usd) == ("s", 1, 10, 0.1)
