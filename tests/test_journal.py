"""The exactly-once journal: the executor journals every call in the runs database, replays what
finished, and never runs again a call of unknown effect unless its tool is idempotent or a human
says so; a process that lost the run's lease starts no call."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agentlab.errors import Fix, RunBusyError
from agentlab.store import SqlRunStore, open_sqlite_store
from agentlab.store.records import LEASE_GRACE_S
from agentlab.tools import (
    CallRequest,
    CallScope,
    DefaultPolicy,
    FunctionToolset,
    Risk,
    ToolContext,
    ToolExecutor,
    ToolRegistry,
    tool,
)
from agentlab.tools.journal import (
    LeaseLostError,
    Resolution,
    UnknownSideEffect,
    call_hash,
)


class Crash(BaseException):
    """The process dying mid-call: nothing after it runs, nothing catches it."""


class Effects:
    """An external effect (a file of lines) that a tool appends to, and may crash after."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.crash_after_effect = False

    def lines(self) -> list[str]:
        return self.path.read_text().splitlines() if self.path.exists() else []


def effect_tools(effects: Effects) -> FunctionToolset:
    @tool(risk=Risk.WRITE)
    def append(ctx: ToolContext, text: str) -> dict[str, Any]:
        """Append a line to the effects file. Use it to record that something happened."""
        with effects.path.open("a") as f:
            f.write(f"{ctx.idempotency_key} {text}\n")
        if effects.crash_after_effect:
            raise Crash
        return {"appended": text}

    @tool(risk=Risk.WRITE, idempotent=True)
    def put(ctx: ToolContext, key: str) -> dict[str, Any]:
        """Set a marker (setting it twice is harmless). Use it to mark a key as seen."""
        with effects.path.open("a") as f:
            f.write(f"put {key}\n")
        if effects.crash_after_effect:
            raise Crash
        return {"put": key}

    @tool(risk=Risk.WRITE)
    def explode(customer_id: int) -> dict[str, Any]:
        """Fail with an unexpected error. Use it never."""
        raise KeyError(f"customer {customer_id}")

    return FunctionToolset([append, put, explode])


@pytest.fixture
def effects(tmp_path: Path) -> Effects:
    return Effects(tmp_path / "effects.txt")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlRunStore]:
    opened = open_sqlite_store(tmp_path / "runs.sqlite")
    yield opened
    await opened.close()


def make_executor(effects: Effects, journal: Any) -> ToolExecutor:
    return ToolExecutor(ToolRegistry([effect_tools(effects)]), DefaultPolicy(), journal)


async def run_call(
    executor: ToolExecutor,
    tool_name: str,
    arguments: dict[str, Any],
    *,
    call_id: str = "1.1",
    lease: str | None = None,
    resolution: Resolution | None = None,
    events: list[Any] | None = None,
) -> Any:
    request = CallRequest(call_id=call_id, tool=tool_name, arguments=arguments)
    scope = CallScope(run_id="run-1", lease=lease)
    sink = events if events is not None else []
    return await executor.call(request, scope, sink.append, approved=True, resolution=resolution)


async def test_a_finished_call_is_replayed_from_the_journal_and_not_run_again(effects, store):
    events: list[Any] = []
    first = await run_call(make_executor(effects, store), "append", {"text": "a"}, events=events)
    # Another process (a resume) with a fresh executor over the same database:
    again = await run_call(make_executor(effects, store), "append", {"text": "a"}, events=events)

    assert first == again == {"ok": True, "output": {"appended": "a"}, "error": None}
    assert effects.lines() == ["run-1:1.1 a"]
    assert [e.result["journal"] for e in events] == ["ran", "replayed"]
    [entry] = await store.journal("run-1")
    assert (entry.tool, entry.attempt, entry.outcome) == ("append", 1, first)


async def test_a_tool_failing_with_any_exception_is_journaled_as_failed_and_not_rerun(
    effects, store
):
    first = await run_call(make_executor(effects, store), "explode", {"customer_id": 7})
    again = await run_call(make_executor(effects, store), "explode", {"customer_id": 7})

    assert first == {"ok": False, "output": None, "error": "KeyError: 'customer 7'"}
    assert again == first
    assert (await store.journal("run-1"))[0].outcome == first


async def test_a_call_killed_after_its_effect_is_not_run_again_without_a_human(effects, store):
    effects.crash_after_effect = True
    with pytest.raises(Crash):
        await run_call(make_executor(effects, store), "append", {"text": "a"})
    effects.crash_after_effect = False

    with pytest.raises(UnknownSideEffect) as unknown:
        await run_call(make_executor(effects, store), "append", {"text": "a"})

    assert unknown.value.entry.attempt == 1
    assert unknown.value.entry.outcome is None
    assert effects.lines() == ["run-1:1.1 a"]  # asked, not repeated


async def test_a_human_saying_it_happened_records_the_outcome_without_running_it(effects, store):
    effects.crash_after_effect = True
    with pytest.raises(Crash):
        await run_call(make_executor(effects, store), "append", {"text": "a"})
    effects.crash_after_effect = False
    happened = Resolution(attempt=1, action="happened", result={"appended": "a", "by": "human"})

    outcome = await run_call(
        make_executor(effects, store), "append", {"text": "a"}, resolution=happened
    )

    assert outcome == {"ok": True, "output": {"appended": "a", "by": "human"}, "error": None}
    assert effects.lines() == ["run-1:1.1 a"]
    assert (await store.journal("run-1"))[0].outcome == outcome


async def test_a_human_saying_run_it_again_runs_it_once_more_with_the_same_key(effects, store):
    effects.crash_after_effect = True
    with pytest.raises(Crash):
        await run_call(make_executor(effects, store), "append", {"text": "a"})
    effects.crash_after_effect = False
    again = Resolution(attempt=1, action="run_again", result=None)
    executor = make_executor(effects, store)

    outcome = await run_call(executor, "append", {"text": "a"}, resolution=again)
    replayed = await run_call(executor, "append", {"text": "a"}, resolution=again)

    assert outcome["ok"] and replayed == outcome
    assert effects.lines() == ["run-1:1.1 a", "run-1:1.1 a"]  # the key lets an API dedupe
    assert (await store.journal("run-1"))[0].attempt == 2


async def test_a_run_again_answer_covers_only_the_attempt_it_was_given_for(effects, store):
    effects.crash_after_effect = True
    with pytest.raises(Crash):
        await run_call(make_executor(effects, store), "append", {"text": "a"})
    again = Resolution(attempt=1, action="run_again", result=None)
    with pytest.raises(Crash):  # the second attempt dies too
        await run_call(make_executor(effects, store), "append", {"text": "a"}, resolution=again)
    effects.crash_after_effect = False

    with pytest.raises(UnknownSideEffect) as unknown:
        await run_call(make_executor(effects, store), "append", {"text": "a"}, resolution=again)
    assert unknown.value.entry.attempt == 2


async def test_an_idempotent_call_of_unknown_effect_is_simply_run_again(effects, store):
    effects.crash_after_effect = True
    with pytest.raises(Crash):
        await run_call(make_executor(effects, store), "put", {"key": "k"})
    effects.crash_after_effect = False
    events: list[Any] = []

    outcome = await run_call(make_executor(effects, store), "put", {"key": "k"}, events=events)

    assert outcome == {"ok": True, "output": {"put": "k"}, "error": None}
    assert events[0].result["journal"] == "rerun"


async def test_refused_calls_are_not_journaled(effects, store):
    outcome = await run_call(make_executor(effects, store), "append", {"text": 5})
    assert outcome["ok"] is False
    assert await store.journal("run-1") == []


async def test_a_process_without_the_runs_lease_starts_no_call(effects, store):
    lease = await store.acquire_lease("run-1", ttl_s=30)

    with pytest.raises(LeaseLostError, match="no longer holds run run-1's lease"):
        await run_call(make_executor(effects, store), "append", {"text": "a"}, lease="stale")
    assert effects.lines() == []

    outcome = await run_call(
        make_executor(effects, store), "append", {"text": "a"}, lease=lease.token
    )
    assert outcome["ok"]


async def test_an_expired_lease_starts_no_call(effects, store):
    lease = await store.acquire_lease("run-1", ttl_s=30)
    # The holder was paused past its lease:
    await store.engine.execute("UPDATE agentlab_run_leases SET expires_at = ?", (time.time() - 1,))

    with pytest.raises(LeaseLostError):
        await run_call(make_executor(effects, store), "append", {"text": "a"}, lease=lease.token)
    assert effects.lines() == []


async def test_a_live_lease_refuses_a_second_holder_and_names_the_first(store):
    first = await store.acquire_lease("run-1", ttl_s=30)

    with pytest.raises(RunBusyError, match=rf"being advanced by process {first.holder}"):
        await store.acquire_lease("run-1", ttl_s=30)

    await store.release_lease(first)
    assert (await store.acquire_lease("run-1", ttl_s=30)).token != first.token


async def test_a_lease_of_a_dead_process_or_past_its_expiry_is_taken_over(store):
    import subprocess
    import sys

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    pid = int(dead.stdout)
    first = await store.acquire_lease("run-1", ttl_s=30)
    await store.engine.execute("UPDATE agentlab_run_leases SET pid = ?", (pid,))
    taken = await store.acquire_lease("run-1", ttl_s=30)
    assert taken.token != first.token

    # On another host only the expiry tells, and a grace period after it:
    lapsed = time.time() - LEASE_GRACE_S - 1
    await store.engine.execute(
        "UPDATE agentlab_run_leases SET host = 'elsewhere', expires_at = ?", (time.time() - 1,)
    )
    with pytest.raises(RunBusyError, match="on another host, expired at"):
        await store.acquire_lease("run-1", ttl_s=30)
    await store.engine.execute("UPDATE agentlab_run_leases SET expires_at = ?", (lapsed,))
    again = await store.acquire_lease("run-1", ttl_s=30)
    assert again.holder.endswith(f":{taken.pid}")
    assert not await store.renew_lease(taken, ttl_s=30)
    assert first.fence < taken.fence < again.fence  # every claim's fencing token is greater


async def test_a_lease_past_its_expiry_whose_process_still_exists_is_taken_only_by_force(store):
    import subprocess

    first = await store.acquire_lease("run-1", ttl_s=30)
    stopped = subprocess.Popen(["sleep", "60"])  # its process, stopped past the lease
    try:
        await store.engine.execute(
            "UPDATE agentlab_run_leases SET pid = ?, expires_at = ?", (stopped.pid, time.time() - 1)
        )
        with pytest.raises(RunBusyError, match="still exists .stopped, or hung.") as busy:
            await store.acquire_lease("run-1", ttl_s=30)
        assert busy.value.fix is Fix.FORCE
        taken = await store.acquire_lease("run-1", ttl_s=30, force=True)
    finally:
        stopped.kill()
        stopped.wait()

    assert taken.token != first.token and taken.fence == first.fence + 1
    assert not await store.renew_lease(first, ttl_s=30)  # the stopped process has lost it
    await store.create_run(
        "run-1", agent="a", agent_name="a", task="t", status="executing", models=None,
        options={}, limits={}, principal="p", session=None,
    )  # fmt: skip
    with pytest.raises(LeaseLostError):
        await store.set_status("run-1", "completed", lease=first.token)
    await store.set_status("run-1", "validating", lease=taken.token)  # the new holder may
    assert (await store.get_run("run-1")).status == "validating"


async def test_an_expired_lease_of_this_very_process_is_taken_back_without_force(store):
    first = await store.acquire_lease("run-1", ttl_s=30)
    # A claim this running process let go of without releasing it (a stream never finished):
    await store.engine.execute("UPDATE agentlab_run_leases SET expires_at = ?", (time.time() - 1,))

    again = await store.acquire_lease("run-1", ttl_s=30)

    assert again.token != first.token and again.fence == first.fence + 1


async def test_force_never_takes_a_lease_that_has_not_expired(store):
    first = await store.acquire_lease("run-1", ttl_s=30)

    with pytest.raises(RunBusyError, match=rf"being advanced by process {first.holder}"):
        await store.acquire_lease("run-1", ttl_s=30, force=True)


async def test_call_hash_uses_the_canonical_arguments():
    @tool
    def lookup(customer_id: int) -> int:
        """Look a customer up by id. Use it before acting on a customer."""
        return customer_id

    executor = ToolExecutor(ToolRegistry([FunctionToolset([lookup])]), DefaultPolicy())

    async def hashed(arguments: dict[str, Any]) -> str:
        return (await executor.prepare(CallRequest("1.1", "lookup", arguments), "p")).call_hash

    as_text = await hashed({"customer_id": "9999"})
    as_float = await hashed({"customer_id": 9999.0})

    assert as_text == as_float == call_hash("lookup", {"customer_id": 9999})
    assert await hashed({"customer_id": 9998}) != as_text
    assert call_hash("t", {"a": 1, "b": 2}) == call_hash("t", {"b": 2, "a": 1})


async def test_a_damaged_journal_row_is_an_error_naming_the_run_and_doctor_finds_it(store):
    from agentlab.errors import DamagedDataError

    await store.start(
        "run-1", "1.1", tool="append", call_hash="h", arguments={}, attempt=1, lease=None
    )
    await store.engine.execute("UPDATE agentlab_tool_journal SET arguments = '{not json'")

    with pytest.raises(DamagedDataError, match=r"run run-1: the journal entry of call 1.1"):
        await store.entry("run-1", "1.1")
    problems = await store.check()
    assert any("the journal entry of call 1.1 (append) is unreadable" in p for p in problems)


async def test_another_call_journaled_under_the_same_id_is_neither_replayed_nor_run(effects, store):
    await run_call(make_executor(effects, store), "append", {"text": "first"})

    outcome = await run_call(make_executor(effects, store), "append", {"text": "second"})

    assert outcome["ok"] is False
    assert "was journaled for another call (append); it was not run" in outcome["error"]
    assert effects.lines() == ["run-1:1.1 first"]
