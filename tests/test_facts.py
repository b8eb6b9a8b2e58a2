"""User facts: a fact that contradicts the current one supersedes it and history keeps both
(valid from, valid to, the run that stated each); the same value twice is one version; no
principal ever reads another's facts, whatever their names; ``forget`` removes all of one
principal's and nothing of anyone else's; the ``remember_fact`` tool writes through the executor
as the run's principal; ``agentlab memory facts`` shows them."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentlab.config import Settings, load_settings
from agentlab.memory import FactError, FactStore, fact_tools, facts_text, open_facts
from agentlab.memory.facts import decode_label, encode_label
from agentlab.tools import CallRequest, CallScope, DefaultPolicy, ToolExecutor, ToolRegistry
from tests.cli import REPOSITORY, agentlab

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ADA = "ada.lovelace@example.com"


@pytest.fixture
async def facts(settings: Settings) -> AsyncIterator[FactStore]:
    async with open_facts(settings) as store:
        yield store


# --- versions -----------------------------------------------------------------------------------


async def supersession_keeps_history(facts: FactStore) -> None:
    """What the SQLite and the PostgreSQL tests below both check."""
    first = await facts.remember(
        "support", ADA, "preferred_channel", "email", run_id="run-1", now=T0
    )
    later = T0 + timedelta(days=3)
    second = await facts.remember(
        "support", ADA, "preferred_channel", "sms", run_id="run-2", now=later
    )

    assert first.kind == "new" and first.previous is None
    assert second.kind == "superseded"
    assert second.previous is not None and second.previous.value == "email"
    assert second.previous.valid_to == later
    [current] = await facts.current("support", ADA)
    assert (current.value, current.valid_from, current.valid_to, current.run_id) == (
        "sms",
        later,
        None,
        "run-2",
    )
    versions = await facts.history("support", ADA, "preferred_channel")
    assert [(f.value, f.valid_from, f.valid_to, f.run_id, f.version) for f in versions] == [
        ("email", T0, later, "run-1", 1),
        ("sms", later, None, "run-2", 2),
    ]


async def test_a_contradicting_fact_supersedes_the_old_one_and_history_keeps_both(facts):
    await supersession_keeps_history(facts)


async def test_on_postgresql_a_contradicting_fact_supersedes_and_history_keeps_both(
    tmp_path, database_url
):
    on_postgres = load_settings(data_dir=tmp_path / "data", database_url=database_url)
    async with open_facts(on_postgres) as facts:
        await supersession_keeps_history(facts)
    assert not (tmp_path / "data" / "memory.sqlite").exists()


async def test_the_same_value_twice_is_one_version_and_keeps_its_first_run(facts):
    await facts.remember("support", ADA, "timezone", "Europe/London", run_id="run-1", now=T0)
    again = await facts.remember(
        "support", ADA, "timezone", " Europe/London ", run_id="run-2", now=T0 + timedelta(1)
    )

    assert again.kind == "unchanged"
    [only] = await facts.history("support", ADA)
    assert (only.run_id, only.valid_from, only.version) == ("run-1", T0, 1)


async def test_every_version_is_kept_oldest_first(facts):
    for day, value in enumerate(["en", "fr", "de", "fr"]):
        await facts.remember(
            "support", ADA, "language", value, run_id=f"run-{day}", now=T0 + timedelta(day)
        )

    versions = await facts.history("support", ADA, "language")
    assert [f.value for f in versions] == ["en", "fr", "de", "fr"]
    assert [f.version for f in versions] == [1, 2, 3, 4]
    for older, newer in zip(versions, versions[1:], strict=False):
        assert older.valid_to == newer.valid_from  # no gap, no overlap


async def test_writes_at_once_in_one_process_each_become_a_version(facts):
    values = [f"value {n}" for n in range(12)]
    await asyncio.gather(
        *(facts.remember("support", ADA, "nickname", v, run_id="run-1") for v in values)
    )

    versions = await facts.history("support", ADA, "nickname")
    assert sorted(f.value for f in versions) == sorted(values)
    assert [f.version for f in versions] == list(range(1, 13))
    assert [f.value for f in versions if f.valid_to is None] == [versions[-1].value]


async def test_facts_about_customers_are_kept_apart_from_the_principals_own(facts):
    await facts.remember("support", ADA, "preferred_channel", "email", run_id="run-1")
    await facts.remember(
        "support", ADA, "preferred_channel", "sms", subject="customer-42", run_id="run-1"
    )

    assert [(f.subject, f.value) for f in await facts.current("support", ADA)] == [
        ("self", "email"),
        ("customer-42", "sms"),
    ]
    [about] = await facts.current("support", ADA, subject="customer-42")
    assert about.value == "sms"


@pytest.mark.parametrize(
    ("key", "value", "subject", "message"),
    [
        ("Preferred Channel", "sms", "self", "a fact's key is lowercase"),
        ("channel", "sms", "customer 42", "a fact's subject is 'self' or a customer's id"),
        ("channel", "   ", "self", "a fact's value is text of 1 to 500"),
        ("channel", "x" * 501, "self", "a fact's value is text of 1 to 500"),
    ],
)
async def test_a_malformed_fact_is_refused_saying_what_is_wrong(
    facts, key, value, subject, message
):
    with pytest.raises(FactError, match=message):
        await facts.remember("support", ADA, key, value, subject=subject, run_id="run-1")
    assert await facts.count() == 0


def test_the_context_shows_current_facts_one_line_each_and_marks_tool_output():
    async def render() -> str:
        with tempfile.TemporaryDirectory() as tmp:
            async with open_facts(load_settings(data_dir=Path(tmp))) as facts:
                await facts.remember("a", ADA, "tz", "UTC", run_id="r", now=T0)
                await facts.remember("a", ADA, "tz", "Europe/Paris", run_id="r", now=T0)
                await facts.remember(
                    "a", ADA, "note", "likes\ntea", subject="c-7", run_id="r", now=T0, source="tool"
                )
                return facts_text(await facts.history("a", ADA))

    assert asyncio.run(render()) == (
        "self.tz: Europe/Paris (since 2026-03-01)\n"
        "c-7.note: likes tea (since 2026-03-01, from tool output)"
    )


async def test_the_memory_database_is_private(facts, settings):
    await facts.remember("support", ADA, "timezone", "UTC", run_id="run-1")
    mode = stat.S_IMODE(os.stat(settings.data_dir / "memory.sqlite").st_mode)
    assert mode == 0o600


# --- isolation ----------------------------------------------------------------------------------

NAMES = st.one_of(
    st.sampled_from([ADA, "ada", "ada.lovelace", "*", "a~40b", "a@b", "facts", "bob bob", "é"]),
    st.text(min_size=1, max_size=12),
)


@given(
    writes=st.lists(
        st.tuples(
            st.sampled_from(["support", "billing", "support.v2"]),
            NAMES,
            st.sampled_from(["self", "customer-1"]),
            st.sampled_from(["preferred_channel", "timezone"]),
            st.text(min_size=1, max_size=30).filter(str.strip),
        ),
        min_size=1,
        max_size=12,
    )
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_no_principal_reads_another_principals_facts(writes):
    """Every (agent, principal) reads exactly what was written for it: nothing of another
    principal or agent, even with names that look alike, escape alike or hold wildcards."""

    async def check(facts: FactStore) -> None:
        written: dict[tuple[str, str], set[str]] = {}
        for n, (agent, principal, subject, key, value) in enumerate(writes):
            await facts.remember(agent, principal, key, value, subject=subject, run_id=f"r{n}")
            written.setdefault((agent, principal), set()).add(value.strip())
        agents = {w[0] for w in writes}
        for agent in agents:
            for principal in {w[1] for w in writes} | {"nobody", "ada~"}:
                found = await facts.history(agent, principal)
                assert {(f.agent, f.principal) for f in found} <= {(agent, principal)}
                assert {f.value for f in found} == written.get((agent, principal), set())
        assert await facts.principals() == sorted({w[1] for w in writes})
        gone = writes[0][1]
        await facts.forget(gone)
        for (agent, principal), values in written.items():
            left = {f.value for f in await facts.history(agent, principal)}
            assert left == (set() if principal == gone else values)

    asyncio.run(_on_a_new_store(check))


@given(st.text(min_size=1))
def test_a_namespace_label_holds_no_dot_and_decodes_to_the_name(name):
    label = encode_label(name)
    assert "." not in label and "*" not in label and label
    assert decode_label(label) == name


async def _on_a_new_store(check: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with open_facts(load_settings(data_dir=Path(tmp))) as facts:
            await check(facts)


# --- forgetting ---------------------------------------------------------------------------------


async def test_forget_removes_every_fact_and_version_of_the_principal_and_nothing_else(facts):
    for agent in ("support", "billing"):
        await facts.remember(agent, ADA, "timezone", "UTC", run_id="run-1")
        await facts.remember(agent, ADA, "timezone", "Europe/Paris", run_id="run-2")
        await facts.remember(agent, "grace", "timezone", "UTC", run_id="run-3")

    assert await facts.forget(ADA) == 4  # two agents, a current version and a past one each

    assert await facts.principals() == ["grace"]
    for agent in ("support", "billing"):
        assert await facts.history(agent, ADA) == []
        assert [f.value for f in await facts.history(agent, "grace")] == ["UTC"]


async def test_forget_for_one_agent_leaves_the_principals_facts_for_others(facts):
    await facts.remember("support", ADA, "timezone", "UTC", run_id="run-1")
    await facts.remember("billing", ADA, "timezone", "UTC", run_id="run-1")

    assert await facts.forget(ADA, agent="support") == 1
    assert await facts.agents(ADA) == ["billing"]


async def test_after_forget_the_database_file_holds_no_trace_of_the_principal(settings):
    secret = "a secret only Ada told"
    async with open_facts(settings) as facts:
        await facts.remember("support", ADA, "note", secret, run_id="run-1")
        await facts.remember("support", ADA, "note", secret + " twice", run_id="run-2")
        await facts.forget(ADA)
        files = sorted(settings.data_dir.glob("memory.sqlite*"))
        stored = b"".join(f.read_bytes() for f in files)  # the database and its write-ahead log
    assert secret.encode() not in stored
    assert encode_label(ADA).encode() not in stored


# --- the tool -----------------------------------------------------------------------------------


async def call_tool(scope: CallScope, call_id: str = "step-1", **arguments: Any) -> dict[str, Any]:
    executor = ToolExecutor(ToolRegistry([fact_tools]), DefaultPolicy())
    request = CallRequest(call_id=call_id, tool="remember_fact", arguments=arguments)
    return dict(await executor.call(request, scope, lambda event: None))


async def test_the_tool_remembers_for_the_runs_principal_and_says_what_it_replaced(facts):
    memory = SimpleNamespace(facts=facts, agent="support")
    scope = CallScope(run_id="run-7", principal=ADA, memory=memory)

    first = await call_tool(scope, "step-1", key="language", value="en")
    second = await call_tool(scope, "step-2", key="language", value="fr")

    assert first["ok"] and first["output"]["change"] == "new", first
    assert second["ok"], second
    assert (second["output"]["change"], second["output"]["previous_value"]) == ("superseded", "en")
    [current] = await facts.current("support", ADA)
    assert (current.value, current.run_id, current.source) == ("fr", "run-7", "principal")
    assert await facts.current("support", "someone else") == []


async def test_the_tool_is_an_idempotent_write_allowed_without_asking():
    [remember] = fact_tools.tools
    assert remember.risk == "write" and remember.idempotent
    executor = ToolExecutor(ToolRegistry([fact_tools]), DefaultPolicy())
    [(_, decision)] = await executor.catalog("ada")
    assert decision.verdict.value == "allow"


async def test_the_tool_without_long_term_memory_is_an_error_the_model_reads():
    outcome = await call_tool(CallScope(run_id="run-1", principal=ADA), key="language", value="en")

    assert not outcome["ok"]
    assert "needs the agent's long-term memory" in outcome["error"]


async def test_the_tool_refuses_a_malformed_key_before_it_runs(facts):
    scope = CallScope(run_id="run-1", principal=ADA, memory=SimpleNamespace(facts=facts, agent="a"))
    outcome = await call_tool(scope, key="Preferred Channel", value="sms")

    assert not outcome["ok"] and "invalid arguments" in outcome["error"]
    assert await facts.count() == 0


# --- the command line ---------------------------------------------------------------------------


def remember_in(env: dict[str, str], *facts: tuple[str, str, str, str]) -> None:
    """Store ``(agent, key, value, run_id)`` facts of Ada in ``env``'s data directory."""

    async def store() -> None:
        async with open_facts(load_settings(data_dir=Path(env["AGENTLAB_DATA_DIR"]))) as opened:
            for n, (agent, key, value, run_id) in enumerate(facts):
                await opened.remember(agent, ADA, key, value, run_id=run_id, now=T0 + timedelta(n))

    asyncio.run(store())


def test_memory_facts_shows_current_facts_and_with_history_every_version(env):
    remember_in(
        env,
        ("support", "timezone", "Europe/London", "run-1"),
        ("support", "timezone", "Europe/Paris", "run-2"),
    )

    now = agentlab(env, "memory", "facts", "--principal", ADA)
    every = agentlab(env, "memory", "facts", "--principal", ADA, "--history", "--agent", "support")

    assert now.returncode == 0, now.stderr
    assert "Europe/Paris" in now.stdout and "run-2" in now.stdout
    assert "Europe/London" not in now.stdout and "run-1" not in now.stdout
    assert every.returncode == 0, every.stderr
    assert "Europe/London" in every.stdout and "run-1" in every.stdout
    assert "2026-03-02 09:00:00" in every.stdout  # when London gave way to Paris
    assert "current" in every.stdout


def test_memory_facts_as_json_lists_every_version(env):
    remember_in(env, ("support", "timezone", "UTC", "run-1"), ("billing", "plan", "pro", "run-2"))

    done = agentlab(env, "memory", "facts", "--principal", ADA, "--json")

    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert {(f["agent"], f["key"], f["value"]) for f in listed} == {
        ("support", "timezone", "UTC"),
        ("billing", "plan", "pro"),
    }


def test_memory_facts_shows_what_a_fact_holds_without_obeying_it(env):
    remember_in(env, ("support", "note", "[bold]x[/] \x1b[2J", "run-1"))

    done = agentlab(env, "memory", "facts", "--principal", ADA)

    assert done.returncode == 0, done.stderr
    assert "[bold]x[/]" in done.stdout and "\\x1b[2J" in done.stdout
    assert "\x1b" not in done.stdout


def test_memory_facts_of_nobody_says_so_and_creates_nothing(env):
    done = agentlab(env, "memory", "facts", "--principal", "nobody")

    assert done.returncode == 0 and "no facts remembered about nobody" in done.stdout
    assert not (Path(env["AGENTLAB_DATA_DIR"]) / "memory.sqlite").exists()


def test_memory_facts_needs_a_principal(env):
    done = agentlab(env, "memory", "facts")

    assert done.returncode == 2
    assert "Missing option '--principal'" in done.stderr and "Traceback" not in done.stderr


def test_memory_help_imports_no_store():
    probe = (
        "import sys\n"
        "from agentlab.cli.app import execute\n"
        "execute(['memory', 'facts', '--help'])\n"
        "heavy = {'langgraph', 'aiosqlite', 'psycopg', 'pydantic_settings'}\n"
        "print(sorted(heavy.intersection(m.split('.')[0] for m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, cwd=REPOSITORY)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


WRITER = """
import asyncio, sys
from pathlib import Path
from agentlab.config import load_settings
from agentlab.memory import open_facts

async def write(data_dir, n):
    async with open_facts(load_settings(data_dir=Path(data_dir))) as facts:
        for i in range(60):
            await facts.remember("support", f"p{n}", f"k{i % 6}", f"v{i}", run_id=f"run-{i}")
            await facts.current("support", f"p{(n + 1) % 4}")

asyncio.run(write(sys.argv[1], int(sys.argv[2])))
"""


@pytest.mark.slow
@pytest.mark.integration
async def test_four_processes_writing_facts_on_a_new_data_directory_lose_nothing(settings):
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    writers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, str(settings.data_dir), str(n), env=env,
            stderr=asyncio.subprocess.PIPE,
        )
        for n in range(4)
    ]  # fmt: skip
    for writer in writers:
        _, err = await writer.communicate()
        assert writer.returncode == 0, err.decode()

    async with open_facts(settings) as facts:
        for n in range(4):
            assert len(await facts.history("support", f"p{n}")) == 60
            assert len(await facts.current("support", f"p{n}")) == 6
