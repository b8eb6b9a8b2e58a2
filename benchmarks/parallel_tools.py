"""Parallel steps: a plan of 8 independent 100 ms tool calls run at once and one after the other,
and what the tool executor itself costs per call.

One run measures: agentlab's graph driven by the ``Runner`` (SQLite checkpoints and tool journal
in a temporary data directory, a zero-latency scripted model) on a plan of 8 steps, each calling
an ``async`` tool that sleeps 100 ms: every step ``depends_on: []`` with ``max_parallel_calls=8``
(parallel), no ``depends_on`` (serial: each step after the one before), and, for information, the
parallel plan with the tool as a plain function (``time.sleep`` in a worker thread). Then
``ToolExecutor.run`` called many times in a row for a trivial function tool (with the in-memory
and with the SQLite journal) and for mcp-server-time's ``get_current_time`` over stdio, against
the bare tool call and the raw MCP round trip on the same session, the paths taking turns call by
call; the executor's own time is also timed on the same calls (their time minus the time spent
inside the toolset), since the MCP round trip varies more than the executor costs. Every run and
every call is checked (status, results, calls in flight, journal) before a figure is printed.

    python benchmarks/parallel_tools.py              # medians of 5 (about 35 s)
    python benchmarks/parallel_tools.py --quick      # one run of each, fewer executor calls
    python benchmarks/parallel_tools.py --repeat 9   # steadier medians
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a plain checkout

from agentlab.config import load_settings
from agentlab.events import RunEvent
from agentlab.models.base import Role
from agentlab.models.router import scripted_router
from agentlab.models.script import Script, ScriptedToolUse, Turn
from agentlab.orchestration import Agent, Limits, RunEnded, Runner, Status, ToolCalled
from agentlab.store import SqlRunStore, open_sqlite_store
from agentlab.tools import (
    CallRequest,
    CallScope,
    DefaultPolicy,
    FunctionToolset,
    MCPServer,
    MCPServerError,
    MCPToolset,
    Tool,
    ToolContext,
    ToolExecutor,
    ToolRegistry,
    Toolset,
    tool,
)
from agentlab.tools.journal import Journal, MemoryJournal

STEPS = 8
TOOL_S = 0.100
PARALLEL_TARGET_S = 0.200  # the 8 calls' span when they run at once
SERIAL_SLACK = 1.10  # one after the other: at least 8 x 100 ms, at most 10% more
TASK = "Fetch every record."
TIMEZONE = "UTC"
LEASE_TTL_S = 600.0

PARALLEL = "parallel: depends_on [], 8 at once"
SERIAL = "serial: no depends_on"
PARALLEL_SYNC = "parallel, sync tool (threads)"

BARE = "function tool: its handler alone"
FN_MEMORY = "function tool: executor, in-memory journal"
FN_SQLITE = "function tool: executor, SQLite journal"
MCP_RAW = "MCP get_current_time: raw session round trip"
MCP_TOOLSET = "MCP: MCPToolset.call_tool, no executor"
MCP_EXECUTOR = "MCP: executor, SQLite journal"


def _require(ok: bool, what: str) -> None:
    """Stop the benchmark: timing a run that did not do its job would measure nothing."""
    if not ok:
        raise RuntimeError(f"benchmark run failed: {what}")


# --- the plan of 8 steps through the Runner ----------------------------------------------------


class Probe:
    """What the tool saw: how many of its calls were in flight at once (threads included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.ended = 0

    def reset(self) -> None:
        with self._lock:
            self.in_flight = self.most = self.ended = 0

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1
            self.ended += 1


def _fetch_tool(probe: Probe, *, sync: bool) -> Tool:
    """The step's tool: reads a record, taking 100 ms (``async``, or a plain function run in a
    worker thread)."""

    async def fetch(key: str) -> dict[str, str]:
        """Fetch the record of ``key`` (reads only; takes 100 ms)."""
        probe.enter()
        try:
            await asyncio.sleep(TOOL_S)
            return {"key": key}
        finally:
            probe.leave()

    def fetch_sync(key: str) -> dict[str, str]:
        """Fetch the record of ``key`` (reads only; takes 100 ms)."""
        probe.enter()
        try:
            time.sleep(TOOL_S)
            return {"key": key}
        finally:
            probe.leave()

    made: Tool = tool(fetch_sync if sync else fetch, name="fetch")
    return made


def _plan_script(parallel: bool) -> Script:
    """The planner's 8 steps (arguments complete: no executor call), then a verdict."""
    after: dict[str, Any] = {"depends_on": []} if parallel else {}
    steps = [
        {"description": f"fetch record {i}", "tool": "fetch", "arguments": {"key": f"k{i}"}} | after
        for i in range(STEPS)
    ]
    plan = Turn(tool_use=ScriptedToolUse(name="submit_plan", input={"steps": steps}))
    verdict = Turn(
        tool_use=ScriptedToolUse(
            name="submit_verdict", input={"complete": True, "reason": "every record was fetched"}
        )
    )
    return Script(version=1, roles={Role.PLANNER: [plan], Role.VALIDATOR: [verdict]})


@dataclass(frozen=True)
class PlanRun:
    """One run of the plan: its wall time, the 8 calls' span (first start to last end), the time
    within it when no call ran (the graph handing on from one step to the next), the most calls
    in flight."""

    wall_s: float
    span_s: float
    idle_s: float
    in_flight: int


def _idle(calls: Sequence[tuple[float, float]]) -> float:
    """The time between the first start and the last end of ``calls`` when none ran."""
    idle, reached = 0.0, None
    for start, end in sorted(calls):
        if reached is not None and start > reached:
            idle += start - reached
        reached = end if reached is None else max(reached, end)
    return idle


@dataclass
class Scenario:
    name: str
    agent: Agent
    probe: Probe
    expect_in_flight: int | None  # None: whatever it is (the thread pool decides)
    runs: list[PlanRun] = field(default_factory=list)

    def median(self, what: Callable[[PlanRun], float]) -> float:
        return statistics.median(what(r) for r in self.runs)


def _scenario(name: str, *, parallel: bool, sync: bool) -> Scenario:
    probe = Probe()
    agent = Agent(
        name="parallel-tools",
        purpose="Fetch records.",
        toolsets=[FunctionToolset([_fetch_tool(probe, sync=sync)])],
        models=scripted_router(_plan_script(parallel)),  # one router serves every run
    )
    expected: int | None = STEPS
    if not parallel:
        expected = 1
    elif sync:
        expected = None  # as many as asyncio's thread pool runs at once
    return Scenario(name, agent, probe, expected)


async def _run_plan(runner: Runner, scenario: Scenario) -> PlanRun:
    """Start a run and drain its events; the calls' span is read from the ``ToolCalled`` events
    (each arrives as its call ends and carries the call's duration)."""
    scenario.probe.reset()
    limits = Limits(max_iterations=STEPS + 5, max_parallel_calls=STEPS)
    ended: list[float] = []
    started: list[float] = []
    results: list[dict[str, Any]] = []
    final: RunEnded | None = None
    start = time.perf_counter()
    run_id, events = await runner.start(scenario.agent, TASK, limits=limits)
    async for event in events:
        if isinstance(event, ToolCalled):
            now = time.perf_counter()
            ended.append(now)
            started.append(now - event.result["duration_s"])
            results.append(event.result)
        elif isinstance(event, RunEnded):
            final = event
    wall = time.perf_counter() - start

    _require(
        final is not None and final.status == Status.COMPLETED,
        f"{scenario.name}: the run ended {final.status if final else 'without RunEnded'}",
    )
    _require(
        len(results) == STEPS
        and all(r["outcome"]["ok"] and r["journal"] == "ran" for r in results),
        f"{scenario.name}: {len(results)} tool calls, not {STEPS} ok ones each run once",
    )
    view = await runner.get(run_id)
    _require(len(view.state["results"]) == STEPS, f"{scenario.name}: results missing from state")
    probe = scenario.probe
    _require(probe.ended == STEPS, f"{scenario.name}: the tool ran {probe.ended} times")
    _require(
        scenario.expect_in_flight is None or probe.most == scenario.expect_in_flight,
        f"{scenario.name}: {probe.most} calls in flight at most, not {scenario.expect_in_flight}",
    )
    span = max(ended) - min(started)
    return PlanRun(wall, span, _idle(list(zip(started, ended, strict=True))), probe.most)


async def measure_plans(data_dir: Path, repeat: int) -> list[Scenario]:
    """Each scenario's runs, interleaved (so a burst of load hits all alike), after a warm-up."""
    scenarios = [
        _scenario(PARALLEL, parallel=True, sync=False),
        _scenario(SERIAL, parallel=False, sync=False),
        _scenario(PARALLEL_SYNC, parallel=True, sync=True),
    ]
    async with Runner(load_settings(data_dir=data_dir)) as runner:
        for s in scenarios:
            await _run_plan(runner, s)  # warm-up: graph compiled, tables cached
        for _ in range(repeat):
            for s in scenarios:
                s.runs.append(await _run_plan(runner, s))
    return scenarios


# --- the executor's own cost per call ------------------------------------------------------------


async def _echo(n: int) -> int:
    """Return ``n`` (the cheapest call there is)."""
    return n


ECHO = tool(_echo, name="echo")


@dataclass
class CallPath:
    """One way of making a call, timed call by call in turn with the other paths it is compared
    with, so that a burst of load on the shared cores falls on all of them alike."""

    name: str
    call: Callable[[int], Awaitable[Any]]
    """Make call ``i``; return what shows whether it did its job."""
    ok: Callable[[int, Any], bool]
    begin: Callable[[], Awaitable[None]] | None = None
    """Before each batch (a fresh run, so that every call is new to the journal)."""
    inside: Callable[[], float] | None = None
    """Seconds spent so far inside the toolset (for calls through the executor)."""
    batches: list[float] = field(default_factory=list)
    """Seconds per call, one figure per batch."""
    own: list[float] = field(default_factory=list)
    """Seconds per call outside the toolset, one figure per batch: the executor's own time."""

    @property
    def us(self) -> float:
        return statistics.median(self.batches) * 1e6

    @property
    def own_us(self) -> float:
        return statistics.median(self.own) * 1e6


class _TimedToolset:
    """Passes calls through to ``inner``, adding up the time they spend there: the rest of a call
    through the executor is the executor's own, measured on the same call."""

    def __init__(self, inner: Toolset) -> None:
        self.inner = inner
        self.seconds = 0.0

    async def list_tools(self) -> Sequence[Tool]:
        return await self.inner.list_tools()

    async def call_tool(self, name: str, arguments: dict[str, Any], ctx: ToolContext) -> Any:
        start = time.perf_counter()
        try:
            return await self.inner.call_tool(name, arguments, ctx)
        finally:
            self.seconds += time.perf_counter() - start


class _Runs:
    """Fresh run ids (every call id new to the journal), leased as a Runner's runs are."""

    def __init__(self, store: SqlRunStore[Any] | None) -> None:
        self.store = store

    async def scope(self) -> CallScope:
        run_id = f"run-{uuid.uuid4().hex[:10]}"
        if self.store is None:
            return CallScope(run_id=run_id, principal="bench")
        await self.store.create_run(
            run_id,
            agent="benchmarks/parallel_tools.py",
            agent_name="bench",
            task=TASK,
            status=Status.EXECUTING.value,
            models=None,
            options={},
            limits={},
            principal="bench",
            session=None,
        )
        lease = await self.store.acquire_lease(run_id, LEASE_TTL_S)
        return CallScope(run_id=run_id, principal="bench", lease=lease.token)


class _ExecutorCalls:
    """Calls of one tool of ``toolset`` through ``ToolExecutor.run`` (journaled in ``journal``),
    each a new step of the batch's run."""

    def __init__(
        self,
        toolset: Toolset,
        journal: Journal,
        runs: _Runs,
        name: str,
        arguments: Callable[[int], dict[str, Any]],
    ) -> None:
        self.timed = _TimedToolset(toolset)
        self.executor = ToolExecutor(ToolRegistry([self.timed]), DefaultPolicy(), journal)
        self.runs = runs
        self.tool = name
        self.arguments = arguments
        self.scope = CallScope(run_id="(before the first batch)")
        self.events: list[RunEvent] = []

    async def begin(self) -> None:
        self.scope = await self.runs.scope()

    async def call(self, i: int) -> Any:
        self.events.clear()
        request = CallRequest(call_id=f"1.{i}", tool=self.tool, arguments=self.arguments(i))
        await self.executor.run(request, self.scope, self.events.append)
        return self.events[-1]

    def path(self, name: str, ok: Callable[[int, Any], bool]) -> CallPath:
        def ran(i: int, event: Any) -> bool:
            if not isinstance(event, ToolCalled):
                return False
            result = event.result
            return result["journal"] == "ran" and ok(i, result["outcome"]["output"])

        return CallPath(name, self.call, ran, self.begin, lambda: self.timed.seconds)


async def _time_paths(paths: Sequence[CallPath], calls: int, repeat: int) -> None:
    """A warm-up batch, then ``repeat`` batches of ``calls`` calls of every path, the paths taking
    turns call by call (in rotating order); every call's result is checked, outside the timing."""

    def inside() -> list[float]:
        return [p.inside() if p.inside else 0.0 for p in paths]

    for warm_up in (True, *([False] * repeat)):
        n = max(calls // 10, 1) if warm_up else calls
        for p in paths:
            if p.begin is not None:
                await p.begin()
        spent = [0.0] * len(paths)
        before = inside()
        for i in range(n):
            first = i % len(paths)
            for j in (*range(first, len(paths)), *range(first)):
                start = time.perf_counter()
                out = await paths[j].call(i)
                spent[j] += time.perf_counter() - start
                _require(paths[j].ok(i, out), f"{paths[j].name}: call {i} gave {out!r}")
        if not warm_up:
            after = inside()
            for j, p in enumerate(paths):
                p.batches.append(spent[j] / n)
                p.own.append((spent[j] - (after[j] - before[j])) / n)


async def measure_function_tool(data_dir: Path, calls: int, repeat: int) -> dict[str, CallPath]:
    """The ``echo`` tool's handler alone, and through the executor with either journal."""
    toolset = FunctionToolset([ECHO])
    store = open_sqlite_store(data_dir / "executor.sqlite")
    ctx = ToolContext("bench", "1", "bench:1")

    def same(i: int, out: Any) -> bool:
        return bool(out == i)

    def echo(journal: Journal, runs: _Runs) -> _ExecutorCalls:
        return _ExecutorCalls(toolset, journal, runs, "echo", lambda i: {"n": i})

    try:
        paths = [
            CallPath(BARE, lambda i: ECHO.handler(ctx, {"n": i}), same),
            echo(MemoryJournal(), _Runs(None)).path(FN_MEMORY, same),
            echo(store, _Runs(store)).path(FN_SQLITE, same),
        ]
        await _time_paths(paths, calls, repeat)
        return {p.name: p for p in paths}
    finally:
        await store.close()


def _mcp_missing() -> str | None:
    if importlib.util.find_spec("mcp_server_time") is None:
        return "mcp-server-time is not installed (a dev dependency: pip install -e '.[dev]')"
    return None


async def measure_mcp_tool(data_dir: Path, calls: int, repeat: int) -> dict[str, CallPath] | str:
    """mcp-server-time over stdio: the raw round trip on the toolset's own session, the toolset's
    call (agentlab's MCP adapter), and the call through the executor (SQLite journal); or why
    they could not be measured."""
    missing = _mcp_missing()
    if missing is not None:
        return missing
    toolset = MCPToolset(MCPServer.stdio(sys.executable, ["-m", "mcp_server_time"], timeout_s=15))
    store = open_sqlite_store(data_dir / "executor-mcp.sqlite")
    arguments = {"timezone": TIMEZONE}
    ctx = ToolContext("bench", "1", "bench:1")
    try:
        try:
            names = {t.name for t in await toolset.list_tools()}  # starts the server
        except MCPServerError as exc:
            return str(exc)
        _require("get_current_time" in names, f"mcp-server-time lists {sorted(names)}")
        # The session the toolset's calls use (private: a raw round trip has no public door).
        session = await toolset._session()

        def in_utc(i: int, out: Any) -> bool:
            return TIMEZONE in str(out)

        async def raw(i: int) -> Any:
            result = await session.call_tool("get_current_time", arguments)
            return None if result.is_error else result.structured_content

        through = _ExecutorCalls(
            toolset, store, _Runs(store), "get_current_time", lambda i: arguments
        )
        paths = [
            CallPath(MCP_RAW, raw, in_utc),
            CallPath(
                MCP_TOOLSET, lambda i: toolset.call_tool("get_current_time", arguments, ctx), in_utc
            ),
            through.path(MCP_EXECUTOR, in_utc),
        ]
        await _time_paths(paths, calls, repeat)
        return {p.name: p for p in paths}
    finally:
        await toolset.aclose()
        await store.close()


# --- report --------------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "[green]PASS[/]" if ok else "[red]MISS[/]"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _short(name: str) -> str:
    return name.split(":")[0].split(" (")[0]


def _targets(name: str, span_s: float) -> tuple[str, bool | None]:
    serial = STEPS * TOOL_S
    if name == PARALLEL:
        return f"< {_ms(PARALLEL_TARGET_S)}", span_s < PARALLEL_TARGET_S
    if name == SERIAL:
        return f"{_ms(serial)}-{_ms(serial * SERIAL_SLACK)}", (
            serial <= span_s <= serial * SERIAL_SLACK
        )
    return "(info)", None


def report_plans(scenarios: Sequence[Scenario], repeat: int, console: Console) -> None:
    table = Table(
        title=f"{STEPS} steps, each a {_ms(TOOL_S)} ms tool, through the Runner (zero-latency "
        f"scripted model, SQLite), median of {repeat}"
    )
    for column in ("scenario", "run wall ms", "calls' span ms", "span min-max", "in flight"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    table.add_column("target ms", justify="right")
    table.add_column("verdict")
    for s in scenarios:
        span = s.median(lambda r: r.span_s)
        target, ok = _targets(s.name, span)
        spans = [r.span_s for r in s.runs]
        table.add_row(
            s.name,
            _ms(s.median(lambda r: r.wall_s)),
            _ms(span),
            f"{_ms(min(spans))}-{_ms(max(spans))}",
            str(max(r.in_flight for r in s.runs)),
            target,
            "" if ok is None else _verdict(ok),
        )
    console.print(table)
    by = {s.name: s for s in scenarios}
    par, ser, thr = (by[n] for n in (PARALLEL, SERIAL, PARALLEL_SYNC))
    par_span, ser_span = par.median(lambda r: r.span_s), ser.median(lambda r: r.span_s)
    idle = ser.median(lambda r: r.idle_s)
    console.print(
        f"serial / parallel: span {ser_span / par_span:.1f}x, run wall "
        f"{ser.median(lambda r: r.wall_s) / par.median(lambda r: r.wall_s):.1f}x"
        f" | parallel span over one {_ms(TOOL_S)} ms call: +{_ms(par_span - TOOL_S)} ms"
        f" | serial span over {STEPS} x {_ms(TOOL_S)} ms: +{_ms(ser_span - STEPS * TOOL_S)} ms, "
        f"of which {_ms(idle)} ms between calls ({_ms(idle / (STEPS - 1))} ms per step handed "
        f"on: execute, prepare, 2 checkpoints) and {_ms(ser_span - idle - STEPS * TOOL_S)} ms in "
        "the calls (executor, journal, timer)"
    )
    console.print(
        "run wall - span (start, plan, validate, checkpoints, lease): "
        + " | ".join(
            f"{_short(s.name)} {_ms(s.median(lambda r: r.wall_s - r.span_s))} ms" for s in scenarios
        )
        + f" | sync tool: at most {max(r.in_flight for r in thr.runs)} threads at once "
        f"(asyncio's default pool: min(32, cores + 4) = {min(32, (os.cpu_count() or 1) + 4)})"
    )


def report_executor(
    function: dict[str, CallPath],
    mcp: dict[str, CallPath] | str,
    calls: int,
    mcp_calls: int,
    repeat: int,
    console: Console,
) -> None:
    table = Table(
        title=f"The tool executor's own cost per call (validation, policy, journal, event): "
        f"median of {repeat} batches of {calls} calls ({mcp_calls} for MCP), paths taking turns"
    )
    columns = ("call path", "µs/call", "without executor µs", "difference µs", "executor's own µs")
    for column in columns:
        table.add_column(column, justify="left" if column == "call path" else "right")
    bare = function[BARE].us
    table.add_row(BARE, f"{bare:.1f}", "", "", "")
    for path in (FN_MEMORY, FN_SQLITE):
        m = function[path]
        table.add_row(
            path, f"{m.us:.1f}", f"{bare:.1f} (handler)", f"{m.us - bare:.1f}", f"{m.own_us:.1f}"
        )
    if isinstance(mcp, str):
        for path in (MCP_RAW, MCP_TOOLSET, MCP_EXECUTOR):
            table.add_row(path, "skipped", mcp, "", "")
    else:
        raw, adapter, through = (mcp[p].us for p in (MCP_RAW, MCP_TOOLSET, MCP_EXECUTOR))
        own = mcp[MCP_EXECUTOR].own_us
        table.add_row(MCP_RAW, f"{raw:.1f}", "", "", "")
        table.add_row(MCP_TOOLSET, f"{adapter:.1f}", f"{raw:.1f} (raw)", f"{adapter - raw:.1f}", "")
        table.add_row(
            MCP_EXECUTOR, f"{through:.1f}", f"{raw:.1f} (raw)", f"{through - raw:.1f}", f"{own:.1f}"
        )
    console.print(table)
    memory, sqlite = function[FN_MEMORY].own_us, function[FN_SQLITE].own_us
    console.print(
        f"function tool: the executor's own {memory:.1f} µs per call with the in-memory journal, "
        f"{sqlite:.1f} µs with SQLite's (the journal's reads and writes: +{sqlite - memory:.1f} "
        f"µs), {sqlite / (TOOL_S * 1e6):.2%} of a {_ms(TOOL_S)} ms call"
    )
    if isinstance(mcp, str):
        console.print(f"MCP rows skipped: {mcp}")
        return
    spread = [f"{min(p.batches) * 1e6:.0f}-{max(p.batches) * 1e6:.0f}" for p in mcp.values()]
    console.print(
        f"MCP: the executor's own {own:.1f} µs per call ({own / raw:.0%} of the raw round trip); "
        f"by difference from the raw round trip {through - raw:.1f} µs (adapter "
        f"{adapter - raw:.1f}, executor {through - adapter:.1f}), within the noise of the round "
        f"trip itself: batches of {', '.join(spread)} µs (raw, adapter, executor)"
    )


def report_targets(scenarios: Sequence[Scenario], console: Console) -> None:
    verdicts = []
    for s in scenarios:
        target, ok = _targets(s.name, s.median(lambda r: r.span_s))
        if ok is not None:
            verdicts.append(f"{_short(s.name)}: calls' span {target} ms {_verdict(ok)}")
    console.print("Targets: " + " | ".join(verdicts))


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _header(console: Console) -> None:
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    console.print(
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z} | Python {platform.python_version()} | "
        f"langgraph {version('langgraph')} | langgraph-checkpoint-sqlite "
        f"{version('langgraph-checkpoint-sqlite')} | mcp {_package('mcp')} | mcp-server-time "
        f"{_package('mcp-server-time')} | {os.cpu_count()} cores, load {load} | "
        f"{platform.system()} {platform.machine()}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run of each, fewer calls")
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs of each plan and batches of each call path; medians are reported "
        "(default: 5, with --quick 1)",
    )
    parser.add_argument(
        "--calls",
        type=int,
        default=None,
        help="calls per batch of the function tool (default: 2000, with --quick 200); "
        "the MCP tool gets a quarter",
    )
    args = parser.parse_args(argv)
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 5)
    calls = args.calls if args.calls is not None else (200 if args.quick else 2000)
    if repeat < 1 or calls < 4:
        parser.error("--repeat must be >= 1 and --calls >= 4")
    mcp_calls = calls // 4

    console = Console(soft_wrap=True)  # ratio lines stay whole when piped to a file
    console.width = max(console.width, 130)  # and the table's rows stay on one line
    _header(console)

    async def measure(
        tmp: Path,
    ) -> tuple[list[Scenario], dict[str, CallPath], dict[str, CallPath] | str]:
        scenarios = await measure_plans(tmp / "data", repeat)
        function = await measure_function_tool(tmp, calls, repeat)
        mcp = await measure_mcp_tool(tmp, mcp_calls, repeat)
        return scenarios, function, mcp

    with tempfile.TemporaryDirectory(prefix="agentlab-parallel-") as tmp:
        scenarios, function, mcp = asyncio.run(measure(Path(tmp)))
    report_plans(scenarios, repeat, console)
    report_executor(function, mcp, calls, mcp_calls, repeat, console)
    report_targets(scenarios, console)


if __name__ == "__main__":
    main()
