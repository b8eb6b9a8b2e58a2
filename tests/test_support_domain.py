"""The support domain: a seeded customer database, and tools whose side effects happen once
(through the executor's journal in the runs database)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from agentlab.domains import support
from agentlab.domains.support import SEED_CUSTOMERS, SupportDatabase, open_database, support_tools
from agentlab.models.router import scripted_router
from agentlab.models.script import parse_script
from agentlab.orchestration import Limits, RunContext, Status, compile_agent, initial_state
from agentlab.store import SqlRunStore, open_sqlite_store
from agentlab.tools import (
    CallRequest,
    CallScope,
    DefaultPolicy,
    ProposedCall,
    Risk,
    Tool,
    ToolExecutor,
    ToolOutcome,
    ToolRegistry,
    Verdict,
)
from tests.scripts import plan, script, step, verdict

FIXED = [
    {"id": 1, "name": "Ada Lovelace", "email": "ada.lovelace@example.com", "plan": "pro"},
    {"id": 2, "name": "Alan Turing", "email": "alan.turing@example.com", "plan": "enterprise"},
    {"id": 3, "name": "Grace Hopper", "email": "grace.hopper@example.com", "plan": "free"},
]

Call = Callable[..., Awaitable[ToolOutcome]]


@pytest.fixture
def db(tmp_path: Path) -> SupportDatabase:
    database = SupportDatabase(tmp_path / "support.sqlite")
    database.ensure()
    return database


def executor(journal: SqlRunStore | None = None) -> ToolExecutor:
    return ToolExecutor(ToolRegistry([support_tools]), DefaultPolicy(), journal)


@pytest.fixture
def call(db: SupportDatabase, tmp_path: Path) -> Call:
    """Call a support tool (approved, as a human would) in run ``run-1`` with ``db`` as deps,
    journaled in a runs database as the ``Runner`` does.

    ``key`` is the call's id: the same key is the same call of the run.
    """
    tools = executor(open_sqlite_store(tmp_path / "runs.sqlite"))

    async def make(name: str, key: str = "step-1", **arguments: Any) -> ToolOutcome:
        request = CallRequest(call_id=key, tool=name, arguments=arguments)
        scope = CallScope(run_id="run-1", deps=db)
        return await tools.call(request, scope, lambda event: None, approved=True)

    return make


def count(db: SupportDatabase, table: str) -> int:
    return db.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]


def customer_ids(outcome: ToolOutcome) -> list[int]:
    assert outcome["ok"], outcome["error"]
    return [c["id"] for c in outcome["output"]["customers"]]


# --- the database -------------------------------------------------------------------------------


def test_new_database_is_seeded_with_exactly_seed_customers(db):
    assert count(db, "customers") == SEED_CUSTOMERS


def test_seeding_is_deterministic_across_fresh_databases(tmp_path):
    first, second = SupportDatabase(tmp_path / "a.sqlite"), SupportDatabase(tmp_path / "b.sqlite")
    first.ensure()
    second.ensure()
    everyone = "SELECT * FROM customers ORDER BY id"
    assert first.query(everyone) == second.query(everyone)


def test_seeded_emails_are_unique(db):
    assert db.query("SELECT COUNT(DISTINCT email) AS n FROM customers")[0]["n"] == SEED_CUSTOMERS


def test_first_three_customers_are_the_fixed_ones(db):
    rows = db.query("SELECT id, name, email, plan FROM customers WHERE id <= 3 ORDER BY id")
    assert rows == FIXED


def test_ensure_on_an_existing_database_does_not_reseed(db):
    with db.connect() as conn, conn:
        conn.execute("DELETE FROM customers WHERE id = 1")

    db.ensure()

    assert count(db, "customers") == SEED_CUSTOMERS - 1
    assert db.query("SELECT id FROM customers WHERE id = 1") == []


async def test_reset_restores_a_deleted_customer(db, call):
    await call("delete_customer", customer_id=1)

    db.reset()

    assert db.query("SELECT name FROM customers WHERE id = 1") == [{"name": "Ada Lovelace"}]
    assert count(db, "customers") == SEED_CUSTOMERS


# --- search_customers --------------------------------------------------------------------------


async def test_search_by_exact_email_finds_that_customer(db, call):
    outcome = await call("search_customers", email="alan.turing@example.com")
    assert outcome["output"] == {
        "count": 1,
        "customers": db.query("SELECT id, name, email, phone, plan FROM customers WHERE id = 2"),
    }
    assert outcome["output"]["customers"][0]["name"] == "Alan Turing"


async def test_search_by_partial_email_ignores_case(call):
    assert customer_ids(await call("search_customers", email="GRACE.Hop")) == [3]


async def test_search_by_partial_email_returns_every_match_in_id_order(db, call):
    expected = [
        r["id"]
        for r in db.query(
            "SELECT id FROM customers WHERE email LIKE '%maria.%' ORDER BY id LIMIT 50"
        )
    ]
    assert len(expected) > 1
    assert customer_ids(await call("search_customers", email="maria.", limit=50)) == expected


async def test_search_by_id_finds_that_customer(call):
    assert customer_ids(await call("search_customers", customer_id=3)) == [3]


async def test_search_for_unknown_id_finds_nobody_without_error(call):
    assert (await call("search_customers", customer_id=9999))["output"] == {
        "count": 0,
        "customers": [],
    }


async def test_search_returns_at_most_limit_customers(call):
    outcome = await call("search_customers", email="@example.com", limit=7)
    assert customer_ids(outcome) == [1, 2, 3, 4, 5, 6, 7]
    assert outcome["output"]["count"] == 7


async def test_search_without_email_or_id_is_an_error_result(call):
    outcome = await call("search_customers")
    assert outcome["ok"] is False
    assert outcome["error"] == "give an email or a customer_id to search by"


async def test_underscore_in_searched_email_is_matched_literally(call):
    assert customer_ids(await call("search_customers", email="ada_lovelace")) == []


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"email": "ada", "limit": 0}, "limit"),
        ({"email": "ada", "limit": 51}, "limit"),
        ({"customer_id": 0}, "customer_id"),
        ({"email": "ad"}, "email"),
        ({"email": "ada lovelace"}, "email"),
    ],
)
async def test_search_arguments_outside_the_schema_are_error_results(call, arguments, field):
    outcome = await call("search_customers", **arguments)
    assert outcome["ok"] is False
    assert outcome["error"].startswith(f"invalid arguments: {field}:")


# --- send_notification -------------------------------------------------------------------------


async def test_send_notification_records_one_notification(db, call):
    await call("send_notification", user_id=2, message="Your invoice is ready.", channel="sms")

    assert db.query("SELECT customer_id, channel, message FROM notifications") == [
        {"customer_id": 2, "channel": "sms", "message": "Your invoice is ready."}
    ]


async def test_email_notification_goes_to_the_customers_email(call):
    outcome = await call("send_notification", user_id=1, message="hello")
    assert outcome["ok"] is True
    assert outcome["output"]["channel"] == "email"
    assert outcome["output"]["to"] == "ada.lovelace@example.com"


async def test_sms_notification_goes_to_the_customers_phone(db, call):
    phone = db.query("SELECT phone FROM customers WHERE id = 1")[0]["phone"]
    outcome = await call("send_notification", user_id=1, message="hello", channel="sms")
    assert outcome["output"]["to"] == phone


async def test_the_same_call_made_again_is_sent_once_and_answers_its_first_outcome(db, call):
    first = await call("send_notification", key="k", user_id=1, message="hello")
    second = await call("send_notification", key="k", user_id=1, message="hello")

    assert count(db, "notifications") == 1
    assert first["ok"] is True
    assert second == first


async def test_notifications_with_different_keys_are_both_sent(db, call):
    await call("send_notification", key="k1", user_id=1, message="hello")
    await call("send_notification", key="k2", user_id=1, message="hello")

    assert count(db, "notifications") == 2


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"user_id": 1, "message": "hi", "channel": "fax"}, "channel"),
        ({"user_id": 1, "message": "x" * 501}, "message"),
        ({"user_id": 1, "message": ""}, "message"),
        ({"user_id": 0, "message": "hi"}, "user_id"),
    ],
)
async def test_notification_arguments_outside_the_schema_send_nothing(db, call, arguments, field):
    outcome = await call("send_notification", **arguments)

    assert outcome["ok"] is False
    assert outcome["error"].startswith(f"invalid arguments: {field}:")
    assert count(db, "notifications") == 0


async def test_message_of_exactly_500_characters_is_sent(db, call):
    outcome = await call("send_notification", user_id=1, message="x" * 500)
    assert outcome["ok"] is True


async def test_notification_to_unknown_customer_is_an_error_and_sends_nothing(db, call):
    outcome = await call("send_notification", user_id=9999, message="hello")

    assert outcome == {"ok": False, "output": None, "error": "no customer with id 9999"}
    assert count(db, "notifications") == 0


# --- delete_customer ---------------------------------------------------------------------------


async def test_delete_customer_removes_the_row(db, call):
    outcome = await call("delete_customer", customer_id=3)

    assert outcome["output"] == {"deleted_customer_id": 3, "name": "Grace Hopper"}
    assert db.query("SELECT id FROM customers WHERE id = 3") == []
    assert count(db, "customers") == SEED_CUSTOMERS - 1


async def test_the_same_delete_made_again_deletes_once_and_answers_its_first_outcome(db, call):
    await call("delete_customer", key="k", customer_id=3)
    again = await call("delete_customer", key="k", customer_id=3)

    assert again == {
        "ok": True,
        "error": None,
        "output": {"deleted_customer_id": 3, "name": "Grace Hopper"},
    }
    assert count(db, "customers") == SEED_CUSTOMERS - 1


async def test_delete_of_already_deleted_customer_with_new_key_is_an_error(call):
    await call("delete_customer", key="k1", customer_id=3)
    outcome = await call("delete_customer", key="k2", customer_id=3)
    assert outcome == {"ok": False, "output": None, "error": "no customer with id 3"}


async def test_delete_of_unknown_customer_is_an_error_and_records_no_effect(db, call):
    outcome = await call("delete_customer", customer_id=9999)

    assert outcome == {"ok": False, "output": None, "error": "no customer with id 9999"}
    assert count(db, "customers") == SEED_CUSTOMERS


async def test_a_failed_call_is_journaled_and_a_retry_is_a_new_call(db, call):
    failed = await call("delete_customer", key="k", customer_id=9999)
    with db.connect() as conn, conn:
        conn.execute(
            "INSERT INTO customers (id, name, email, phone, plan, created_at) VALUES "
            "(9999, 'Late Comer', 'late@example.com', '+1-555-0000', 'free', "
            "'2026-01-01')"
        )

    # The same call (same key) answers its journaled failure; the graph retries under a new
    # step id, which is a new call.
    assert await call("delete_customer", key="k", customer_id=9999) == failed
    assert db.query("SELECT id FROM customers WHERE id = 9999") != []
    retry = await call("delete_customer", key="k2", customer_id=9999)

    assert retry["output"] == {"deleted_customer_id": 9999, "name": "Late Comer"}
    assert db.query("SELECT id FROM customers WHERE id = 9999") == []


# --- the tools' dependencies ---------------------------------------------------------------------


async def test_support_tool_without_the_database_as_deps_is_an_error_result():
    request = CallRequest(call_id="s1", tool="search_customers", arguments={"customer_id": 1})

    outcome = await executor().call(request, CallScope(run_id="run-1"), lambda event: None)

    assert outcome == {
        "ok": False,
        "output": None,
        "error": "the support tools need the support database as their deps",
    }


def test_open_database_uses_the_db_path_option_and_seeds_it(tmp_path):
    path = tmp_path / "elsewhere" / "customers.sqlite"

    db = open_database(tmp_path / "data", {"db_path": str(path)})

    assert path.exists()
    assert count(db, "customers") == SEED_CUSTOMERS
    assert not (tmp_path / "data" / "support.sqlite").exists()


def test_open_database_defaults_to_support_sqlite_in_the_data_dir(tmp_path):
    db = open_database(tmp_path / "data", {})

    assert (tmp_path / "data" / "support.sqlite").exists()
    assert count(db, "customers") == SEED_CUSTOMERS


def test_open_database_keeps_an_existing_databases_changes(tmp_path):
    first = open_database(tmp_path, {})
    with first.connect() as conn, conn:
        conn.execute("DELETE FROM customers WHERE id = 1")

    again = open_database(tmp_path, {})

    assert count(again, "customers") == SEED_CUSTOMERS - 1


# --- the support agent --------------------------------------------------------------------------


async def agent_tool(name: str) -> Tool:
    found = await ToolRegistry(support.agent.toolsets).get(name)
    assert found is not None
    return found


async def test_support_agent_has_the_three_support_tools_and_its_knowledge_base():
    tools = await ToolRegistry(support.agent.toolsets).tools()
    assert sorted(t.name for t in tools) == [
        "delete_customer",
        "search_customers",
        "search_knowledge_base",
        "send_notification",
    ]


def test_support_agent_is_found_by_its_reference():
    from agentlab.orchestration import load_agent

    assert load_agent(support.REFERENCE) is support.agent


async def test_support_agent_marks_delete_as_destructive():
    assert (await agent_tool("delete_customer")).risk is Risk.DESTRUCTIVE


async def test_support_agent_marks_send_as_needing_confirmation():
    send = await agent_tool("send_notification")
    assert send.requires_confirmation is True
    assert send.risk is Risk.WRITE


@pytest.mark.parametrize(
    ("name", "verdict"),
    [
        ("delete_customer", Verdict.ASK),
        ("send_notification", Verdict.ASK),
        ("search_customers", Verdict.ALLOW),
    ],
)
async def test_default_policy_asks_before_delete_and_send_and_allows_search(name, verdict):
    decision = DefaultPolicy().decide(ProposedCall(await agent_tool(name)))
    assert decision.verdict is verdict


async def test_unapproved_delete_through_the_executor_deletes_nobody(db):
    request = CallRequest(call_id="s1", tool="delete_customer", arguments={"customer_id": 1})

    outcome = await executor().call(request, CallScope(run_id="run-1", deps=db), lambda e: None)

    assert outcome["ok"] is False
    assert "needs a human's approval (destructive)" in outcome["error"]
    assert count(db, "customers") == SEED_CUSTOMERS


async def test_a_runs_first_tool_call_creates_the_seeded_database(tmp_path, settings):
    db_path = tmp_path / "db" / "support.sqlite"
    models = scripted_router(
        parse_script(
            script(
                planner=[plan(step("search_customers", "find Ada", customer_id=1))],
                validator=[verdict(True, "found Ada")],
            )
        ),
        source="test script",
    )
    graph = compile_agent(support.agent, models=models, settings=settings)
    limits = Limits(max_iterations=5)
    assert not db_path.exists()

    final = await graph.ainvoke(
        initial_state("Find customer 1."),
        {"configurable": {"thread_id": "t1"}, "recursion_limit": limits.recursion_limit},
        context=RunContext(options={"db_path": str(db_path)}, limits=limits),
    )

    assert final["status"] == Status.COMPLETED.value
    [result] = final["results"]
    assert customer_ids(result["outcome"]) == [1]
    assert count(SupportDatabase(db_path), "customers") == SEED_CUSTOMERS


def test_defining_and_compiling_the_support_agent_opens_no_database(settings):
    models = scripted_router(parse_script("roles: {}"), source="empty script")

    compile_agent(support.agent, models=models, settings=settings)

    assert not (settings.data_dir / "support.sqlite").exists()
