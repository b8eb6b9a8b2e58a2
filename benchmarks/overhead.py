"""Per-step orchestration overhead of agentlab's graph, with a zero-latency scripted model.

One run measures, for each N: agentlab's graph without a checkpointer, the same graph with
LangGraph's ``SqliteSaver``, LangGraph's prebuilt tool-calling agent with the same saver and a fake
chat model (the baseline), and a bare Python loop over the same model and tool (the floor). Every
scenario makes one model call and one tool call per step, and every run must end completed with N
results, or the benchmark stops.

    python benchmarks/overhead.py              # N = 50 and 500
    python benchmarks/overhead.py --quick      # N = 10 and 100
    python benchmarks/overhead.py --steps 20 200 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import StructuredTool
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.warnings import LangGraphDeprecationWarning
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a plain checkout

from agentlab.models.base import ModelRequest, Role
from agentlab.models.router import scripted_router
from agentlab.models.script import Script, ScriptedToolUse, Turn
from agentlab.models.scripted import ScriptedModel
from agentlab.orchestration import Agent, Status, compile_agent, initial_state, recursion_limit
from agentlab.orchestration.state import ChatEntry
from agentlab.tools import Tool, ToolContext, Toolset

TASK = "Look up every key."
AGENTLAB = "agentlab"
AGENTLAB_SQLITE = "agentlab + SqliteSaver"
PREBUILT_SQLITE = "prebuilt + SqliteSaver"
BARE_LOOP = "bare loop"
SCENARIOS = (AGENTLAB, AGENTLAB_SQLITE, PREBUILT_SQLITE, BARE_LOOP)
MAX_DB_BYTES_AT_500 = 10 * 1024 * 1024
MAX_GROWTH = 1.5


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


def _lookup(key: str) -> dict[str, str]:
    """Return the value stored under ``key``."""
    return {"key": key, "value": key.upper()}


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
    return Script(roles={Role.PLANNER: [plan], Role.EXECUTOR: calls, Role.VALIDATOR: [verdict]})


def _agent(n: int) -> Agent:
    return Agent(
        name="overhead",
        purpose="Look up keys.",
        models=scripted_router(_script(n)),
        tools=Toolset([Tool(_lookup, name="lookup")]),
    )


def _run_agentlab(n: int, saver: SqliteSaver | None) -> float:
    """Invoke agentlab's graph for ``n`` steps; return the seconds the invocation took."""
    graph = compile_agent(_agent(n), checkpointer=saver)
    config = {
        "configurable": {"thread_id": str(uuid.uuid4())},
        "recursion_limit": recursion_limit(n + 5),
    }
    start = time.perf_counter()
    final = graph.invoke(initial_state(TASK, max_iterations=n + 5), config)
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


def agentlab_plain(n: int, tmp: Path) -> Measurement:
    """a) agentlab's graph, no checkpointer."""
    return Measurement(AGENTLAB, n, _run_agentlab(n, None))


def agentlab_sqlite(n: int, tmp: Path) -> Measurement:
    """b) agentlab's graph checkpointed to a fresh SQLite file."""
    with _sqlite_saver(tmp / f"agentlab-{n}-{uuid.uuid4().hex}.sqlite") as (saver, db_bytes):
        seconds = _run_agentlab(n, saver)
        return Measurement(AGENTLAB_SQLITE, n, seconds, db_bytes())


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


def _prebuilt_agent(n: int, saver: SqliteSaver) -> CompiledStateGraph:
    from langgraph.prebuilt import create_react_agent

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LangGraphDeprecationWarning)  # now langchain.agents
        return create_react_agent(
            _FakeToolCallingModel(messages=_fake_turns(n)),
            [StructuredTool.from_function(_lookup, name="lookup")],
            checkpointer=saver,
        )


def prebuilt_sqlite(n: int, tmp: Path) -> Measurement:
    """c) LangGraph's prebuilt tool-calling agent, checkpointed to a fresh SQLite file."""
    with _sqlite_saver(tmp / f"prebuilt-{n}-{uuid.uuid4().hex}.sqlite") as (saver, db_bytes):
        graph = _prebuilt_agent(n, saver)
        # Each step is two supersteps (model, tools), plus the final answer.
        config = {"configurable": {"thread_id": str(uuid.uuid4())}, "recursion_limit": 2 * n + 10}
        start = time.perf_counter()
        final = graph.invoke({"messages": [HumanMessage(TASK)]}, config)
        seconds = time.perf_counter() - start
        messages = final["messages"]
        tool_results = [m for m in messages if isinstance(m, ToolMessage) and m.status == "success"]
        _require(len(tool_results) == n, f"prebuilt ran {len(tool_results)} of {n} steps")
        last = messages[-1]
        _require(
            isinstance(last, AIMessage) and not last.tool_calls,
            "prebuilt did not end with a final answer",
        )
        return Measurement(PREBUILT_SQLITE, n, seconds, db_bytes())


# --- the floor -----------------------------------------------------------------------------------


def bare_loop(n: int, tmp: Path) -> Measurement:
    """d) A plain loop: ask the scripted model for the call, run the tool, log both."""
    model = ScriptedModel(_script(n).roles[Role.EXECUTOR])
    lookup = Tool(_lookup, name="lookup")
    messages = [ChatEntry(speaker="user", name="task", content=TASK)]
    start = time.perf_counter()
    for i in range(n):
        response = model.request(
            ModelRequest(role=Role.EXECUTOR, system="", messages=(), sequence=i)
        )
        call = response.tool_calls[0]
        messages.append(
            ChatEntry(
                speaker="assistant",
                name="executor",
                content=f"{call.name}({json.dumps(call.arguments)})",
            )
        )
        outcome = lookup.run(ToolContext("bare", str(i), f"bare:{i}"), call.arguments)
        _require(outcome["ok"], f"bare loop step {i}: {outcome['error']}")
        messages.append(
            ChatEntry(speaker="tool", name=call.name, content=json.dumps(outcome["output"]))
        )
    seconds = time.perf_counter() - start
    _require(len(messages) == 2 * n + 1, "bare loop lost messages")
    return Measurement(BARE_LOOP, n, seconds)


# --- the SQLite saver ----------------------------------------------------------------------------


@contextmanager
def _sqlite_saver(path: Path) -> Iterator[tuple[SqliteSaver, Callable[[], int]]]:
    """A ``SqliteSaver`` on a fresh file, in WAL mode as agentlab's runs database is.

    Yields the saver and a function giving the file's bytes, once the WAL is folded back in.
    """
    conn = sqlite3.connect(path, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")

    def db_bytes() -> int:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        files = [path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))]
        return sum(f.stat().st_size for f in files if f.exists())

    try:
        saver = SqliteSaver(conn)
        saver.setup()  # creating the tables is not a per-step cost
        yield saver, db_bytes
    finally:
        conn.close()


# --- report --------------------------------------------------------------------------------------

RUNNERS: dict[str, Callable[[int, Path], Measurement]] = {
    AGENTLAB: agentlab_plain,
    AGENTLAB_SQLITE: agentlab_sqlite,
    PREBUILT_SQLITE: prebuilt_sqlite,
    BARE_LOOP: bare_loop,
}


def measure(steps: Sequence[int], repeat: int, tmp: Path) -> Results:
    """Warm every scenario up on 5 steps, then keep the fastest of ``repeat`` runs of each."""
    for run in RUNNERS.values():
        run(5, tmp)
    best: Results = {}
    for n in steps:
        for name, run in RUNNERS.items():
            runs = [run(n, tmp) for _ in range(repeat)]
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
        console.print(
            f"N={n}: agentlab+sqlite / prebuilt+sqlite {mine / ms(PREBUILT_SQLITE, n):.2f}x"
            f" | agentlab+sqlite / agentlab {mine / ms(AGENTLAB, n):.2f}x"
            f" | agentlab / bare loop {ms(AGENTLAB, n) / ms(BARE_LOOP, n):.0f}x"
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
    )


def _header(console: Console) -> None:
    console.print(
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z} | Python {platform.python_version()} | "
        f"langgraph {version('langgraph')} | langgraph-checkpoint-sqlite "
        f"{version('langgraph-checkpoint-sqlite')} | {os.cpu_count()} cores | "
        f"{platform.system()} {platform.machine()}"
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
    _header(console)
    with tempfile.TemporaryDirectory(prefix="agentlab-overhead-") as tmp:
        results = measure(steps, args.repeat, Path(tmp))
    report(results, steps, console)


if __name__ == "__main__":
    main()
