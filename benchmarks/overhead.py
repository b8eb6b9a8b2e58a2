"""Per-step orchestration overhead of agentlab's graph, with a zero-latency scripted model.

One run measures, for each N: agentlab's async graph without a checkpointer, with the lookup tool
as a plain function (run in a worker thread) and as an ``async def`` (the difference is the cost of
the thread hop); the same graph over ``SqliteSaver`` awaited on the loop (``LoopSqliteSaver``, what
the ``Runner`` uses) and over LangGraph's ``AsyncSqliteSaver``; LangGraph's prebuilt tool-calling
agent with a fake chat model, driven synchronously over ``SqliteSaver`` and asynchronously over
``AsyncSqliteSaver`` (the baselines, each with the same saver); and a bare async loop over the same
model and tool (the floor). Every scenario makes one model call and one tool call per
step, and every run must end completed with N ok results, or the benchmark stops.

    python benchmarks/overhead.py              # N = 50 and 500
    python benchmarks/overhead.py --quick      # N = 10 and 100
    python benchmarks/overhead.py --steps 20 200 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

import aiosqlite
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import StructuredTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.warnings import LangGraphDeprecationWarning
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a plain checkout

from agentlab.models.base import CallInfo, ModelRequest, Role
from agentlab.models.messages import Message, tool_result_block, user
from agentlab.models.router import scripted_router
from agentlab.models.script import Script, ScriptedToolUse, Turn
from agentlab.models.scripted import ScriptedModel
from agentlab.orchestration import (
    Agent,
    AgentState,
    Limits,
    RunContext,
    Status,
    compile_agent,
    initial_state,
)
from agentlab.orchestration.checkpoints import LoopSqliteSaver
from agentlab.store import open_sqlite_store
from agentlab.tools import FunctionToolset, Tool, ToolContext, tool
from agentlab.tools.journal import Journal

TASK = "Look up every key."
AGENTLAB = "agentlab"
AGENTLAB_ASYNC_TOOL = "agentlab, async tool"
AGENTLAB_SQLITE = "agentlab + SqliteSaver"  # on the loop (LoopSqliteSaver), as the Runner runs
AGENTLAB_AIOSQLITE = "agentlab + AsyncSqliteSaver"
PREBUILT_SQLITE = "prebuilt + SqliteSaver"
PREBUILT_ASYNC_SQLITE = "prebuilt + AsyncSqliteSaver"
BARE_LOOP = "bare loop"
SCENARIOS = (
    AGENTLAB,
    AGENTLAB_ASYNC_TOOL,
    AGENTLAB_SQLITE,
    AGENTLAB_AIOSQLITE,
    PREBUILT_SQLITE,
    PREBUILT_ASYNC_SQLITE,
    BARE_LOOP,
)
MAX_DB_BYTES_AT_500 = 10 * 1024 * 1024
MAX_GROWTH = 1.5
# The sync core (before the async rewrite), `--repeat 3` on the same machine: ms/step by N.
SYNC_CORE_MS = {
    AGENTLAB_SQLITE: {50: 1.302, 500: 1.508},
    AGENTLAB: {50: 0.638, 500: 0.648},
}
MAX_VS_SYNC_CORE = 1.5


@dataclass(frozen=True)
class Measurement:
    """One timed run: how long N steps took and, with a saver, what the checkpoints weigh."""

    scenario: str
    steps: int
    seconds: float
    db_bytes: int | None = None

    @property
    def ms_per_step(self) -> float:
        return self.seconds * 1000 / self.steps


Results = dict[tuple[str, int], Measurement]
DbBytes = Callable[[], Awaitable[int]]


def _lookup(key: str) -> dict[str, str]:
    """Return the value stored under ``key``."""
    return {"key": key, "value": key.upper()}


async def _lookup_async(key: str) -> dict[str, str]:
    """Return the value stored under ``key``."""
    return {"key": key, "value": key.upper()}


LOOKUP = tool(_lookup, name="lookup")  # sync: each call runs in a worker thread
LOOKUP_ASYNC = tool(_lookup_async, name="lookup")  # awaited on the event loop


def _key(i: int) -> str:
    return f"k{i}"


def _require(ok: bool, what: str) -> None:
    """Stop the benchmark: timing a run that did not do its job would measure nothing."""
    if not ok:
        raise RuntimeError(f"benchmark run failed: {what}")


# --- agentlab ------------------------------------------------------------------------------------


def _script(n: int) -> Script:
    """A plan of ``n`` argument-less lookups, ``n`` executor turns filling them in, one verdict."""
    step = {"description": "look up a key", "tool": "lookup", "arguments": {}}
    plan = Turn(tool_use=ScriptedToolUse(name="submit_plan", input={"steps": [step] * n}))
    calls = [
        Turn(tool_use=ScriptedToolUse(name="lookup", input={"key": _key(i)})) for i in range(n)
    ]
    verdict = Turn(
        tool_use=ScriptedToolUse(
            name="submit_verdict", input={"complete": True, "reason": "every key was looked up"}
        )
    )
    return Script(
        version=1,
        roles={Role.PLANNER: [plan], Role.EXECUTOR: calls, Role.VALIDATOR: [verdict]},
    )


async def _run_agentlab(
    n: int, lookup: Tool, saver: BaseCheckpointSaver | None, journal: Journal | None = None
) -> float:
    """Run agentlab's graph for ``n`` steps (its tool calls journaled in ``journal``, in memory
    when not given); return the seconds ``ainvoke`` took."""
    script = _script(n)
    agent = Agent(
        name="overhead",
        purpose="Look up keys.",
        toolsets=[FunctionToolset([lookup])],
        models=scripted_router(script),
    )
    graph = compile_agent(
        agent, models=scripted_router(script), checkpointer=saver, journal=journal
    )
    limits = Limits(max_iterations=n + 5)
    config = RunnableConfig(
        configurable={"thread_id": str(uuid.uuid4())}, recursion_limit=limits.recursion_limit
    )
    context = RunContext(limits=limits)
    start = time.perf_counter()
    final = await graph.ainvoke(cast(AgentState, initial_state(TASK)), config, context=context)
    seconds = time.perf_counter() - start
    _require(
        final["status"] == Status.COMPLETED,
        f"agentlab ended {final['status']!r}: {final['outcome']}",
    )
    results = final["results"]
    _require(
        len(results) == n and all(r["outcome"]["ok"] for r in results),
        f"agentlab ran {len(results)} of {n} steps",
    )
    return seconds


def _agentlab_plain(name: str, lookup: Tool) -> Runner:
    async def run(n: int, tmp: Path) -> Measurement:
        return Measurement(name, n, await _run_agentlab(n, lookup, None))

    return run


async def agentlab_sqlite(n: int, tmp: Path) -> Measurement:
    """agentlab's graph as the ``Runner`` runs it: ``SqliteSaver`` awaited on the loop, and every
    tool call journaled (exactly once) in the same file."""
    path = tmp / f"agentlab-{n}-{uuid.uuid4().hex}.sqlite"
    with _sqlite_saver(path, LoopSqliteSaver) as (saver, db_bytes):
        store = open_sqlite_store(path)
        try:
            seconds = await _run_agentlab(n, LOOKUP, saver, store)
        finally:
            await store.close()
        return Measurement(AGENTLAB_SQLITE, n, seconds, db_bytes())


async def agentlab_aiosqlite(n: int, tmp: Path) -> Measurement:
    """agentlab's graph over LangGraph's ``AsyncSqliteSaver`` (aiosqlite's thread per statement)."""
    path = tmp / f"agentlab-aio-{n}-{uuid.uuid4().hex}.sqlite"
    async with _async_sqlite_saver(path) as (saver, db_bytes):
        seconds = await _run_agentlab(n, LOOKUP, saver)
        return Measurement(AGENTLAB_AIOSQLITE, n, seconds, await db_bytes())


# --- LangGraph's prebuilt agent ------------------------------------------------------------------


class _FakeToolCallingModel(GenericFakeChatModel):
    """Replays its messages with no latency; tools are already in the scripted calls."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> _FakeToolCallingModel:
        return self


def _fake_turns(n: int) -> Iterator[AIMessage]:
    for i in range(n):
        call = {"name": "lookup", "args": {"key": _key(i)}, "id": f"call_{i}", "type": "tool_call"}
        yield AIMessage(content="", tool_calls=[call])
    yield AIMessage(content="Every key was looked up.")


def _prebuilt_agent(n: int, saver: BaseCheckpointSaver) -> CompiledStateGraph:
    from langgraph.prebuilt import create_react_agent

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LangGraphDeprecationWarning)  # now langchain.agents
        return create_react_agent(
            _FakeToolCallingModel(messages=_fake_turns(n)),
            [StructuredTool.from_function(_lookup, name="lookup")],
            checkpointer=saver,
        )


def _prebuilt_config(n: int) -> RunnableConfig:
    # Each step is two supersteps (model, tools), plus the final answer.
    return RunnableConfig(configurable={"thread_id": str(uuid.uuid4())}, recursion_limit=2 * n + 10)


def _check_prebuilt(final: dict[str, Any], n: int) -> None:
    messages = final["messages"]
    tool_results = [m for m in messages if isinstance(m, ToolMessage) and m.status == "success"]
    _require(len(tool_results) == n, f"prebuilt ran {len(tool_results)} of {n} steps")
    last = messages[-1]
    _require(
        isinstance(last, AIMessage) and not last.tool_calls,
        "prebuilt did not end with a final answer",
    )


async def prebuilt_sqlite(n: int, tmp: Path) -> Measurement:
    """LangGraph's prebuilt agent, driven synchronously (``invoke``) over ``SqliteSaver``.

    It blocks the event loop, which has nothing else to do: this is the sync baseline.
    """
    with _sqlite_saver(tmp / f"prebuilt-{n}-{uuid.uuid4().hex}.sqlite") as (saver, db_bytes):
        graph = _prebuilt_agent(n, saver)
        config = _prebuilt_config(n)
        start = time.perf_counter()
        final = graph.invoke({"messages": [HumanMessage(TASK)]}, config)
        seconds = time.perf_counter() - start
        _check_prebuilt(final, n)
        return Measurement(PREBUILT_SQLITE, n, seconds, db_bytes())


async def prebuilt_async_sqlite(n: int, tmp: Path) -> Measurement:
    """The same prebuilt agent, driven with ``ainvoke`` over ``AsyncSqliteSaver``."""
    path = tmp / f"prebuilt-async-{n}-{uuid.uuid4().hex}.sqlite"
    async with _async_sqlite_saver(path) as (saver, db_bytes):
        graph = _prebuilt_agent(n, saver)
        config = _prebuilt_config(n)
        start = time.perf_counter()
        final = await graph.ainvoke({"messages": [HumanMessage(TASK)]}, config)
        seconds = time.perf_counter() - start
        _check_prebuilt(final, n)
        return Measurement(PREBUILT_ASYNC_SQLITE, n, seconds, await db_bytes())


# --- the floor -----------------------------------------------------------------------------------


async def bare_loop(n: int, tmp: Path) -> Measurement:
    """A plain async loop: ask the scripted model for the call, validate and run the (sync) tool
    through its handler, append both to a transcript."""
    model = ScriptedModel(_script(n).roles[Role.EXECUTOR])
    transcript: list[Message] = [user(TASK)]
    start = time.perf_counter()
    for i in range(n):
        response = await model.request(
            ModelRequest(role=Role.EXECUTOR, system="", messages=(), call=CallInfo(index=i))
        )
        transcript.append(response.message())
        call = response.tool_calls[0]
        ctx = ToolContext("bare", str(i), f"bare:{i}")
        output = await LOOKUP.handler(ctx, LOOKUP.validate(call.arguments))
        _require(output["key"] == _key(i), f"bare loop step {i}: got {output!r}")
        transcript.append(user(tool_result_block(call.id, str(output))))
    seconds = time.perf_counter() - start
    _require(len(transcript) == 2 * n + 1, "bare loop lost messages")
    return Measurement(BARE_LOOP, n, seconds)


# --- the SQLite savers ---------------------------------------------------------------------------


def _files(path: Path) -> list[Path]:
    return [path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))]


def _files_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in _files(path) if f.exists())


def _remove(path: Path) -> None:
    """Delete a measured database: the prebuilt agent's reach hundreds of MB at 500 steps."""
    for f in _files(path):
        f.unlink(missing_ok=True)


@contextmanager
def _sqlite_saver(
    path: Path, cls: type[SqliteSaver] = SqliteSaver
) -> Iterator[tuple[SqliteSaver, Callable[[], int]]]:
    """A ``SqliteSaver`` on a fresh file, in WAL mode as agentlab's runs database is.

    Yields the saver and a function giving the file's bytes, once the WAL is folded back in.
    """
    conn = sqlite3.connect(path, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")

    def db_bytes() -> int:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return _files_bytes(path)

    try:
        saver = cls(conn)
        saver.setup()  # creating the tables is not a per-step cost
        yield saver, db_bytes
    finally:
        conn.close()
        _remove(path)


@asynccontextmanager
async def _async_sqlite_saver(path: Path) -> AsyncIterator[tuple[AsyncSqliteSaver, DbBytes]]:
    """An ``AsyncSqliteSaver`` over ``aiosqlite`` on a fresh file, in WAL mode like the sync one.

    Yields the saver and an async function giving the file's bytes, once the WAL is folded back in.
    """
    conn = await aiosqlite.connect(path)
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=NORMAL")

    async def db_bytes() -> int:
        await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return _files_bytes(path)

    try:
        saver = AsyncSqliteSaver(conn)
        await saver.setup()  # creating the tables is not a per-step cost
        yield saver, db_bytes
    finally:
        await conn.close()
        _remove(path)


# --- report --------------------------------------------------------------------------------------

Runner = Callable[[int, Path], Awaitable[Measurement]]

RUNNERS: dict[str, Runner] = {
    AGENTLAB: _agentlab_plain(AGENTLAB, LOOKUP),
    AGENTLAB_ASYNC_TOOL: _agentlab_plain(AGENTLAB_ASYNC_TOOL, LOOKUP_ASYNC),
    AGENTLAB_SQLITE: agentlab_sqlite,
    AGENTLAB_AIOSQLITE: agentlab_aiosqlite,
    PREBUILT_SQLITE: prebuilt_sqlite,
    PREBUILT_ASYNC_SQLITE: prebuilt_async_sqlite,
    BARE_LOOP: bare_loop,
}


async def measure(steps: Sequence[int], repeat: int, tmp: Path) -> Results:
    """Warm every scenario up on 5 steps, then keep the fastest of ``repeat`` runs of each.

    All runs share one event loop (and its worker threads), as a long-lived process would.
    """
    for run in RUNNERS.values():
        await run(5, tmp)
    best: Results = {}
    for n in steps:
        for name, run in RUNNERS.items():
            runs = [await run(n, tmp) for _ in range(repeat)]
            best[name, n] = min(runs, key=lambda m: m.seconds)
    return best


def _mb(n: int | None) -> str:
    return "" if n is None else f"{n / 1024 / 1024:.2f} MB"


def _verdict(ok: bool) -> str:
    return "[green]met[/]" if ok else "[red]MISSED[/]"


def _table(results: Results, steps: Sequence[int]) -> Table:
    table = Table(title="Per-step orchestration overhead (zero-latency model, one cheap tool)")
    for column in ("scenario", "steps", "total s", "ms/step", "checkpoint DB"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for n in steps:
        for name in SCENARIOS:
            m = results[name, n]
            table.add_row(
                name,
                str(n),
                f"{m.seconds:.3f}",
                f"{m.ms_per_step:.3f}",
                _mb(m.db_bytes),
                end_section=name == SCENARIOS[-1],
            )
    return table


def report(results: Results, steps: Sequence[int], console: Console) -> None:
    """Print the table, the ratios between scenarios and whether the targets are met."""
    console.print(_table(results, steps))

    def ms(name: str, n: int) -> float:
        return results[name, n].ms_per_step

    def db(name: str, n: int) -> int:
        size = results[name, n].db_bytes
        assert size is not None, f"{name} has no checkpoint database"
        return size

    for n in steps:
        mine = ms(AGENTLAB_SQLITE, n)
        hop = ms(AGENTLAB, n) - ms(AGENTLAB_ASYNC_TOOL, n)
        console.print(
            f"N={n}: agentlab+sqlite / prebuilt+sqlite {mine / ms(PREBUILT_SQLITE, n):.2f}x"
            f" | agentlab+aiosqlite / prebuilt+aiosqlite "
            f"{ms(AGENTLAB_AIOSQLITE, n) / ms(PREBUILT_ASYNC_SQLITE, n):.2f}x"
            f" | agentlab+sqlite / agentlab {mine / ms(AGENTLAB, n):.2f}x"
            f" | agentlab / bare loop {ms(AGENTLAB, n) / ms(BARE_LOOP, n):.0f}x"
            f" | thread hop of a sync tool {hop:+.3f} ms/step"
        )
    lo, hi = steps[0], steps[-1]
    growth = ms(AGENTLAB_SQLITE, hi) / ms(AGENTLAB_SQLITE, lo)
    base_growth = ms(PREBUILT_SQLITE, hi) / ms(PREBUILT_SQLITE, lo)
    db_growth = db(AGENTLAB_SQLITE, hi) / db(AGENTLAB_SQLITE, lo)
    base_db_growth = db(PREBUILT_SQLITE, hi) / db(PREBUILT_SQLITE, lo)
    console.print(
        f"N={hi} vs N={lo}: ms/step agentlab+sqlite {growth:.2f}x, prebuilt+sqlite "
        f"{base_growth:.2f}x | DB bytes ({hi / lo:.0f}x the steps) agentlab {db_growth:.1f}x, "
        f"prebuilt {base_db_growth:.1f}x"
    )

    compared = [
        (name, n, ms(name, n) / old)
        for name, by_n in SYNC_CORE_MS.items()
        for n, old in by_n.items()
        if (name, n) in results
    ]
    if compared:
        console.print(
            "vs the sync core (new/old ms/step): "
            + " | ".join(
                f"{name} N={n} {ms(name, n):.3f}/{SYNC_CORE_MS[name][n]:.3f} = {ratio:.2f}x"
                for name, n, ratio in compared
            )
        )
        # The target is on the checkpointed graph (what a run costs); the plain graph is shown too.
        vs_sync = _verdict(
            all(r <= MAX_VS_SYNC_CORE for name, _, r in compared if name == AGENTLAB_SQLITE)
        )
    else:
        vs_sync = "n/a (neither 50 nor 500 run)"

    not_slower = all(ms(AGENTLAB_SQLITE, n) <= ms(PREBUILT_SQLITE, n) for n in steps)
    small = (
        "n/a (500 not run)"
        if (AGENTLAB_SQLITE, 500) not in results
        else _verdict(db(AGENTLAB_SQLITE, 500) < MAX_DB_BYTES_AT_500)
    )
    console.print(
        f"Targets: ms/step with SQLite <= prebuilt + same saver: {_verdict(not_slower)}"
        f" | {hi}-step within {MAX_GROWTH}x of {lo}-step: {_verdict(growth <= MAX_GROWTH)}"
        f" | 500 steps of checkpoints < 10 MB: {small}"
        f" | with SQLite within {MAX_VS_SYNC_CORE}x of the sync core: {vs_sync}"
    )


def _header(console: Console) -> None:
    console.print(
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z} | Python {platform.python_version()} | "
        f"langgraph {version('langgraph')} | langgraph-checkpoint-sqlite "
        f"{version('langgraph-checkpoint-sqlite')} | aiosqlite {version('aiosqlite')} | "
        f"{os.cpu_count()} cores | {platform.system()} {platform.machine()}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps",
        type=int,
        nargs="+",
        default=[50, 500],
        help="plan lengths to measure, at most 1000 (default: 50 500)",
    )
    parser.add_argument("--quick", action="store_true", help="measure 10 and 100 steps instead")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per scenario and N; the fastest is reported (default: 1)",
    )
    args = parser.parse_args(argv)
    steps = sorted(set([10, 100] if args.quick else args.steps))
    if len(steps) < 2 or steps[0] < 1 or args.repeat < 1:
        parser.error("give at least two step counts >= 1, and --repeat >= 1")

    console = Console(soft_wrap=True)  # ratio lines stay whole when piped to a file
    console.width = max(console.width, 100)  # and the table's rows stay on one line
    _header(console)
    with tempfile.TemporaryDirectory(prefix="agentlab-overhead-") as tmp:
        results = asyncio.run(measure(steps, args.repeat, Path(tmp)))
    report(results, steps, console)


if __name__ == "__main__":
    main()
