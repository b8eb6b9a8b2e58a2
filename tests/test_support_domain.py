"""The support domain: a seeded customer database, and tools whose side effects happen once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentlab.domains import support
from agentlab.domains.support import SEED_CUSTOMERS, SupportDatabase, support_tools
from agentlab.models.router import scripted_router
from agentlab.models.script import parse_script
from agentlab.tools import Permission, ToolContext, ToolOutcome, Toolset

FIXED = [
    {"id": 1, "name": "Ada Lovelace", "email": "ada.lovelace@example.com", "plan": "pro"},
    {"id": 2, "name": "Alan Turing", "email": "alan.turing@example.com", "plan": "enterprise"},
    {"id": 3, "name": "Grace Hopper", "email": "grace.hopper@example.com", "plan": "free"},
]


@pytest.fixture
def db(tmp_path: Path) -> SupportDatabase:
    database = SupportDatabase(tmp_path / "support.sqlite")
    database.ensure()
    return database


@pytest.fixture
def tools(db: SupportDatabase) -> Toolset:
    return support_tools(db)


def ctx(key: str = "run-1:step-1") -> ToolContext:
    return ToolContext(run_id="run-1", step_id="step-1", idempotency_key=key)


def call(tools: Toolset, name: str, key: str = "run-1:step-1", **arguments: Any) -> ToolOutcome:
    t = tools.get(name)
    assert t is not None
    return t.run(ctx(key), arguments)


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


def test_reset_restores_a_deleted_customer_and_forgets_effects(db, tools):
    call(tools, "delete_customer", customer_id=1)

    db.reset()

    assert db.query("SELECT name FROM customers WHERE id = 1") == [{"name": "Ada Lovelace"}]
    assert count(db, "customers") == SEED_CUSTOMERS
    assert count(db, "effects") == 0


# --- search_customers --------------------------------------------------------------------------


def test_search_by_exact_email_finds_that_customer(db, tools):
    outcome = call(tools, "search_customers", email="alan.turing@example.com")
    assert outcome["output"] == {
        "count": 1,
        "customers": db.query("SELECT id, name, email, phone, plan FROM customers WHERE id = 2"),
    }
    assert outcome["output"]["customers"][0]["name"] == "Alan Turing"


def test_search_by_partial_email_ignores_case(tools):
    assert customer_ids(call(tools, "search_customers", email="GRACE.Hop")) == [3]


def test_search_by_partial_email_returns_every_match_in_id_order(db, tools):
    expected = [
        r["id"]
        for r in db.query(
            "SELECT id FROM customers WHERE email LIKE '%maria.%' ORDER BY id LIMIT 50"
        )
    ]
    assert len(expected) > 1
    assert customer_ids(call(tools, "search_customers", email="maria.", limit=50)) == expected


def test_search_by_id_finds_that_customer(tools):
    assert customer_ids(call(tools, "search_customers", customer_id=3)) == [3]


def test_search_for_unknown_id_finds_nobody_without_error(tools):
    assert call(tools, "search_customers", customer_id=9999)["output"] == {
        "count": 0,
        "customers": [],
    }


def test_search_returns_at_most_limit_customers(tools):
    outcome = call(tools, "search_customers", email="@example.com", limit=7)
    assert customer_ids(outcome) == [1, 2, 3, 4, 5, 6, 7]
    assert outcome["output"]["count"] == 7


def test_search_without_email_or_id_is_an_error_result(tools):
    outcome = call(tools, "search_customers")
    assert outcome["ok"] is False
    assert outcome["error"] == "give an email or a customer_id to search by"


def test_underscore_in_searched_email_is_matched_literally(tools):
    assert customer_ids(call(tools, "search_customers", email="ada_lovelace")) == []


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
def test_search_arguments_outside_the_schema_are_error_results(tools, arguments, field):
    outcome = call(tools, "search_customers", **arguments)
    assert outcome["ok"] is False
    assert outcome["error"].startswith(f"invalid arguments: {field}:")


# --- send_notification -------------------------------------------------------------------------


def test_send_notification_records_one_notification(db, tools):
    call(tools, "send_notification", user_id=2, message="Your invoice is ready.", channel="sms")

    assert db.query("SELECT customer_id, channel, message FROM notifications") == [
        {"customer_id": 2, "channel": "sms", "message": "Your invoice is ready."}
    ]


def test_email_notification_goes_to_the_customers_email(tools):
    outcome = call(tools, "send_notification", user_id=1, message="hello")
    assert outcome["ok"] is True
    assert outcome["output"]["channel"] == "email"
    assert outcome["output"]["to"] == "ada.lovelace@example.com"


def test_sms_notification_goes_to_the_customers_phone(db, tools):
    phone = db.query("SELECT phone FROM customers WHERE id = 1")[0]["phone"]
    outcome = call(tools, "send_notification", user_id=1, message="hello", channel="sms")
    assert outcome["output"]["to"] == phone


def test_repeated_notification_with_same_key_is_sent_once(db, tools):
    first = call(tools, "send_notification", key="k", user_id=1, message="hello")
    second = call(tools, "send_notification", key="k", user_id=1, message="hello")

    assert count(db, "notifications") == 1
    assert "repeated" not in first["output"]
    assert second["output"] == {**first["output"], "repeated": True}


def test_notifications_with_different_keys_are_both_sent(db, tools):
    call(tools, "send_notification", key="k1", user_id=1, message="hello")
    call(tools, "send_notification", key="k2", user_id=1, message="hello")

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
def test_notification_arguments_outside_the_schema_send_nothing(db, tools, arguments, field):
    outcome = call(tools, "send_notification", **arguments)

    assert outcome["ok"] is False
    assert outcome["error"].startswith(f"invalid arguments: {field}:")
    assert count(db, "notifications") == 0


def test_message_of_exactly_500_characters_is_sent(db, tools):
    assert call(tools, "send_notification", user_id=1, message="x" * 500)["ok"] is True


def test_notification_to_unknown_customer_is_an_error_and_sends_nothing(db, tools):
    outcome = call(tools, "send_notification", user_id=9999, message="hello")

    assert outcome == {"ok": False, "output": None, "error": "no customer with id 9999"}
    assert count(db, "notifications") == 0
    assert count(db, "effects") == 0


# --- delete_customer ---------------------------------------------------------------------------


def test_delete_customer_removes_the_row(db, tools):
    outcome = call(tools, "delete_customer", customer_id=3)

    assert outcome["output"] == {"deleted_customer_id": 3, "name": "Grace Hopper"}
    assert db.query("SELECT id FROM customers WHERE id = 3") == []
    assert count(db, "customers") == SEED_CUSTOMERS - 1


def test_repeated_delete_with_same_key_succeeds_and_reports_repeated(db, tools):
    call(tools, "delete_customer", key="k", customer_id=3)
    again = call(tools, "delete_customer", key="k", customer_id=3)

    assert again == {
        "ok": True,
        "error": None,
        "output": {"deleted_customer_id": 3, "name": "Grace Hopper", "repeated": True},
    }
    assert count(db, "customers") == SEED_CUSTOMERS - 1


def test_delete_of_already_deleted_customer_with_new_key_is_an_error(tools):
    call(tools, "delete_customer", key="k1", customer_id=3)
    outcome = call(tools, "delete_customer", key="k2", customer_id=3)
    assert outcome == {"ok": False, "output": None, "error": "no customer with id 3"}


def test_delete_of_unknown_customer_is_an_error_and_records_no_effect(db, tools):
    outcome = call(tools, "delete_customer", customer_id=9999)

    assert outcome == {"ok": False, "output": None, "error": "no customer with id 9999"}
    assert count(db, "effects") == 0
    assert count(db, "customers") == SEED_CUSTOMERS


def test_failed_delete_leaves_its_key_free_for_a_retry(db, tools):
    call(tools, "delete_customer", key="k", customer_id=9999)
    with db.connect() as conn, conn:
        conn.execute(
            "INSERT INTO customers (id, name, email, phone, plan, created_at) VALUES "
            "(9999, 'Late Comer', 'late@example.com', '+1-555-0000', 'free', "
            "'2026-01-01')"
        )

    retry = call(tools, "delete_customer", key="k", customer_id=9999)

    assert retry["output"] == {"deleted_customer_id": 9999, "name": "Late Comer"}
    assert db.query("SELECT id FROM customers WHERE id = 9999") == []


# --- the support agent --------------------------------------------------------------------------


@pytest.fixture
def agent(tmp_path: Path):
    router = scripted_router(parse_script("roles: {}"), source="empty script")
    return support.build({"db_path": str(tmp_path / "db" / "support.sqlite")}, router)


def test_support_agent_has_exactly_the_three_support_tools(agent):
    assert sorted(agent.tools.names) == ["delete_customer", "search_customers", "send_notification"]


def test_support_agent_marks_delete_as_destructive(agent):
    delete = agent.tools.get("delete_customer")
    assert delete.permission is Permission.DESTRUCTIVE
    assert delete.needs_approval is True


def test_support_agent_marks_send_as_needing_confirmation(agent):
    send = agent.tools.get("send_notification")
    assert send.requires_confirmation is True
    assert send.needs_approval is True


def test_support_agent_can_search_without_approval(agent):
    assert agent.tools.get("search_customers").needs_approval is False


def test_building_the_support_agent_creates_a_seeded_database(agent, tmp_path):
    db = SupportDatabase(tmp_path / "db" / "support.sqlite")
    assert count(db, "customers") == SEED_CUSTOMERS
