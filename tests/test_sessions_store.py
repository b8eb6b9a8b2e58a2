"""Conversation sessions in the runs database: a session belongs to one principal and agent, its
turns are stored once each (a retry keeps the first), read back in order, summarized (the latest
summary wins), listed with what they used from the cost ledger, kept across processes, and a
damaged turn is an error naming the session. Each test runs on SQLite and on PostgreSQL (the
``store`` fixture), unless it is about the SQLite file itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentlab.errors import DamagedDataError, SessionError, SessionNotFoundError
from agentlab.memory.conversation import ConversationTurn as MemoryTurn
from agentlab.store import ConversationTurn, LedgerEntry, Summary, open_sqlite_store


async def opened(store: Any, session_id: str = "s-1", principal: str = "ada") -> Any:
    return await store.open_session(
        session_id, principal=principal, agent="tests:agent", agent_name="toy"
    )


def turn(number: int, session: str = "s-1", run_id: str | None = None, **changes: Any) -> Any:
    made = ConversationTurn(
        session=session,
        number=number,
        run_id=run_id or f"{session}-run-{number}",
        message=f"question {number}",
        reply=f"answer {number}",
        status="completed",
        messages=[
            {"role": "user", "content": [{"type": "text", "text": f"question {number}"}]},
            {"role": "assistant", "content": [{"type": "text", "text": f"answer {number}"}]},
        ],
        tokens=10 * number,
        calls={"responder": number},
        created_at=f"2026-11-25T10:00:0{number}+00:00",
    )
    return {**made, **changes}


def summary(through: int, text: str) -> Summary:
    return Summary(through=through, text=text, tokens=len(text), written_by="record")


def call(entry_id: str, session: str | None, tokens: int, usd: float | None) -> LedgerEntry:
    return LedgerEntry(entry_id, f"run-{entry_id}", "toy", "ada", session, "reply", "responder",
                       "m", "anthropic", tokens, 1, 2, 3, cost_usd=usd, settled=True,
                       created_at=1.0, day="2026-11-25")  # fmt: skip


async def test_a_session_is_created_once_and_reopened_as_it_was(store):
    first = await opened(store)
    again = await opened(store)

    assert again == first
    assert (first.session_id, first.principal, first.agent, first.agent_name) == (
        "s-1",
        "ada",
        "tests:agent",
        "toy",
    )
    assert (first.turns, first.tokens, first.cost_usd) == (0, 0, 0.0)
    assert await store.get_session("s-1") == first


async def test_another_principal_or_agent_cannot_continue_a_session(store):
    await opened(store)

    with pytest.raises(SessionError, match=r"session s-1 belongs to principal ada and agent toy"):
        await opened(store, principal="bob")
    with pytest.raises(SessionError, match=r"start a new session") as raised:
        await store.open_session("s-1", principal="ada", agent="tests:other", agent_name="other")
    assert "continue this one as principal ada with agent toy" in str(raised.value)


async def test_an_unknown_session_is_an_error_naming_the_command_that_lists_them(store):
    with pytest.raises(SessionNotFoundError, match=r"no session 'nope'.*'agentlab sessions'"):
        await store.get_session("nope")
    with pytest.raises(SessionNotFoundError):
        await store.append_turn(turn(1, session="nope"))


async def test_a_turn_stored_twice_keeps_its_first_row(store):
    await opened(store)

    assert await store.append_turn(turn(1)) is True
    assert await store.append_turn(turn(1, reply="a second answer")) is False
    assert await store.append_turn(turn(2, run_id="s-1-run-1")) is False  # the same run again

    assert await store.session_turns("s-1") == [turn(1)]
    assert await store.turn_of_run("s-1-run-1") == turn(1)
    assert await store.turn_of_run("never") is None
    assert await store.turn_count("s-1") == 1


async def test_appending_a_turn_marks_the_session_active(store):
    await opened(store)
    await store.engine.execute("UPDATE agentlab_sessions SET updated_at = '2000-01-01'")

    await store.append_turn(turn(1))

    assert (await store.get_session("s-1")).updated_at > "2000-01-01"


async def test_turns_read_back_in_order_after_a_number_and_up_to_a_limit(store):
    await opened(store)
    await opened(store, "s-2")
    for number in (1, 2, 3, 4):
        await store.append_turn(turn(number))
    await store.append_turn(turn(1, session="s-2"))

    def numbers(turns: list[MemoryTurn]) -> list[int]:
        return [t["number"] for t in turns]

    assert numbers(await store.session_turns("s-1")) == [1, 2, 3, 4]
    assert numbers(await store.session_turns("s-1", after=2)) == [3, 4]
    assert numbers(await store.session_turns("s-1", limit=2)) == [1, 2]
    assert numbers(await store.session_turns("s-1", newest_first=True, limit=3)) == [4, 3, 2]
    assert numbers(await store.session_turns("s-1", after=1, newest_first=True)) == [4, 3, 2]
    assert await store.turn_count("s-1") == 4
    assert await store.turn_count("s-2") == 1
    assert await store.turn_count("none") == 0


async def test_the_latest_summary_is_the_current_one_and_none_is_kept_twice(store):
    await opened(store)
    assert await store.latest_summary("s-1") is None

    await store.save_summary("s-1", summary(2, "turns one and two"))
    await store.save_summary("s-1", summary(4, "turns one to four"))
    await store.save_summary("s-1", summary(4, "written again by a retry"))
    await store.save_summary("s-1", summary(3, "an older one, written late"))

    assert await store.latest_summary("s-1") == summary(4, "turns one to four")


async def test_sessions_list_latest_first_with_their_turns_and_their_runs_spending(store):
    await opened(store, "s-1")
    await opened(store, "s-2")
    await store.append_turn(turn(1, session="s-2"))
    for number in (1, 2):
        await store.append_turn(turn(number, session="s-1"))  # s-1 is now the latest active
    await store.record(call("a", "s-1", 100, 0.25))
    await store.record(call("b", "s-1", 10, 0.5))
    await store.record(call("c", "s-2", 7, None))  # a model without a price
    await store.record(call("d", None, 1000, 9.0))  # no session's
    unsettled = LedgerEntry("e", "run-e", "toy", "ada", "s-1", "reply", "responder", "m",
                            reserved_usd=5.0, reserved_tokens=500, created_at=1.0)  # fmt: skip
    await store.reserve(unsettled, [])

    latest, older = await store.list_sessions()

    assert (latest.session_id, latest.turns, latest.tokens) == ("s-1", 2, 106 + 16)
    assert latest.cost_usd == pytest.approx(0.75)
    assert (older.session_id, older.turns, older.tokens, older.cost_usd) == ("s-2", 1, 13, None)
    assert [s.session_id for s in await store.list_sessions(limit=1)] == ["s-1"]
    assert await store.get_session("s-1") == latest


async def test_a_turn_whose_json_is_damaged_is_an_error_naming_the_session(store):
    await opened(store)
    await store.append_turn(turn(1))
    await store.append_turn(turn(2))
    await store.engine.execute(
        "UPDATE agentlab_session_turns SET messages = '[not json' WHERE number = 2"
    )

    with pytest.raises(DamagedDataError, match=r"session s-1: turn 2 \(run s-1-run-2\)"):
        await store.session_turns("s-1")
    with pytest.raises(DamagedDataError, match=r"start a new session"):
        await store.turn_of_run("s-1-run-2")
    assert await store.session_turns("s-1", limit=1) == [turn(1)]  # the turns before it read


async def test_calls_that_are_not_a_json_object_are_damage_too(store):
    await opened(store)
    await store.append_turn(turn(1))
    await store.engine.execute("UPDATE agentlab_session_turns SET calls = '[1, 2]'")

    with pytest.raises(DamagedDataError, match=r"session s-1: turn 1"):
        await store.session_turns("s-1")


async def test_a_session_outlives_the_process_that_stored_it(tmp_path: Path):
    path = tmp_path / "runs.sqlite"
    first = open_sqlite_store(path)
    await opened(first)
    await first.append_turn(turn(1))
    await first.save_summary("s-1", summary(1, "turn one"))
    await first.close()

    second = open_sqlite_store(path)
    try:
        assert await second.session_turns("s-1") == [turn(1)]
        assert await second.latest_summary("s-1") == summary(1, "turn one")
        assert (await second.get_session("s-1")).turns == 1
        assert await second.append_turn(turn(1)) is False
    finally:
        await second.close()
