"""End-to-end latency of a task with simulated model and tool latency: agentlab's plan with
parallel steps against LangGraph's prebuilt ReAct agent.

The task: 8 independent price lookups, then 1 action that needs all their results (a quote of the
order's total). Models answer after a fixed delay per role, as role routing intends: a strong
planner (800 ms), a fast executor and validator (300 ms); every tool call takes 100 ms
(``async``). One run measures, each run checked (every call made and ok, the quote's total
right, the run completed, the expected model calls) before a figure is printed:

- agentlab through the ``Runner`` (SQLite checkpoints and journal): the planner plans the 8
  lookups with ``depends_on: []`` and the quote with ``depends_on: [1..8]`` and its total left
  out, the executor model fills it in from the lookups' results, the validator says complete;
- ``langgraph.prebuilt.create_react_agent`` on the planner's 800 ms model (a fake chat model over
  the same saver), with the 8 lookups as parallel tool calls of one turn, and with one tool call
  per turn;
- each one's critical-path floor: the waits that cannot overlap, from the configured latencies.

    python benchmarks/task_latency.py              # medians of 3 (about 45 s)
    python benchmarks/task_latency.py --quick      # one run of each, latencies x 0.25
    python benchmarks/task_latency.py --repeat 5
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import StructuredTool
from langgraph.warnings import LangGraphDeprecationWarning
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a plain checkout

from agentlab.config import load_settings
from agentlab.models.base import Model, ModelRequest, ModelResponse, Role
from agentlab.models.router import ModelRouter, scripted_router
from agentlab.models.script import Script, ScriptedToolUse, Turn
from agentlab.models.wrappers import WrapperModel
from agentlab.orchestration import (
    Agent,
    Limits,
    ModelCalled,
    RunEnded,
    Runner,
    Status,
    ToolCalled,
)
from agentlab.orchestration.checkpoints import LoopSqliteSaver
from agentlab.tools import FunctionToolset, tool

LOOKUPS = 8
MAX_PARALLEL_CALLS = LOOKUPS
SKUS = [f"sku-{i + 1}" for i in range(LOOKUPS)]
PRICES = {sku: float(i + 1) for i, sku in enumerate(SKUS)}
TOTAL = sum(PRICES.values())
TASK = f"Quote an order of {', '.join(SKUS)}."
MAX_VS_FLOOR = 1.2
MAX_VS_PREBUILT = 0.75

AGENTLAB = "agentlab (Runner, SQLite)"
PREBUILT_PARALLEL = "prebuilt, parallel calls"
PREBUILT_SEQUENTIAL = "prebuilt, 1 call per turn"
SCENARIOS = (AGENTLAB, PREBUILT_PARALLEL, PREBUILT_SEQUENTIAL)


def _require(ok: bool, what: str) -> None:
    """Stop the benchmark: timing a run that did not do its job would measure nothing."""
    if not ok:
        raise RuntimeError(f"benchmark run failed: {what}")


@dataclass(frozen=True)
class Latencies:
    """Simulated latencies, seconds: each role's model, and every tool call."""

    planner: float = 0.800
    executor: float = 0.300
    validator: float = 0.300
    tool: float = 0.100

    def scaled(self, k: float) -> Latencies:
        return Latencies(*(v * k for v in dataclasses.astuple(self)))

    def of(self, role: Role) -> float:
        return float(getattr(self, role.value))

    def agentlab_floor(self) -> float:
        """Plan, the lookups (as many waves as the parallel limit needs), the executor completing
        the quote, the quote, the verdict: none of these can overlap."""
        waves = math.ceil(LOOKUPS / MAX_PARALLEL_CALLS)
        return self.planner + waves * self.tool + self.executor + self.tool + self.validator

    def prebuilt_floor(self, *, parallel: bool) -> float:
        """Every turn of the (planner's) model and every tool wave, one after the other."""
        if parallel:  # lookups in one turn, the quote in the next, then the answer
            return 3 * self.planner + 2 * self.tool
        return (LOOKUPS + 2) * self.planner + (LOOKUPS + 1) * self.tool


class Probe:
    """What the tools saw: calls made, and how many lookups were in flight at once."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self.calls = 0

    def reset(self) -> None:
        self.in_flight = self.most = self.calls = 0


@dataclass(frozen=True)
class Tools:
    """The task's two tools as plain ``async`` functions, shared by both agents."""

    lookup_price: Callable[[str], Awaitable[dict[str, Any]]]
    quote_order: Callable[[float], Awaitable[dict[str, Any]]]


def _tools(probe: Probe, latency: Latencies) -> Tools:
    async def lookup_price(sku: str) -> dict[str, Any]:
        """Look up the unit price of ``sku`` (reads only)."""
        probe.calls += 1
        probe.in_flight += 1
        probe.most = max(probe.most, probe.in_flight)
        try:
            await asyncio.sleep(latency.tool)
            if sku not in PRICES:
                raise ValueError(f"no such sku {sku!r}")
            return {"sku": sku, "price": PRICES[sku]}
        finally:
            probe.in_flight -= 1

    async def quote_order(total: float) -> dict[str, Any]:
        """Compute a quote for an order whose prices add up to ``total``.

        Read-only: it computes and returns the quote and changes nothing (so a call proposed
        after seeing the lookups' output needs no human approval).
        """
        probe.calls += 1
        await asyncio.sleep(latency.tool)
        return {"total": total, "quote": f"{total:.2f} USD, valid 7 days"}

    return Tools(lookup_price, quote_order)


@dataclass
class Measured:
    """A scenario's runs: wall seconds each, and its (checked) model and tool calls."""

    name: str
    floor_s: float
    model_calls: int
    tool_calls: int = LOOKUPS + 1
    walls: list[float] = field(default_factory=list)
    extra: list[dict[str, float]] = field(default_factory=list)

    @property
    def wall_s(self) -> float:
        return statistics.median(self.walls)


# --- agentlab ------------------------------------------------------------------------------------


class DelayedModel(WrapperModel):
    """A ``Model`` that answers after ``delay_s``, as a remote model would: sleep, then ask
    ``inner``; the response carries the latency."""

    def __init__(self, inner: Model, delay_s: float) -> None:
        super().__init__(inner)
        self._delay_s = delay_s

    async def request(self, request: ModelRequest) -> ModelResponse:
        start = time.perf_counter()
        await asyncio.sleep(self._delay_s)
        response = await self.inner.request(request)
        return dataclasses.replace(response, latency_s=time.perf_counter() - start)


def _script() -> Script:
    lookups = [
        {
            "description": f"look up the price of {sku}",
            "tool": "lookup_price",
            "arguments": {"sku": sku},
            "depends_on": [],
        }
        for sku in SKUS
    ]
    quote = {
        "description": "quote the order's total (the sum of the prices looked up)",
        "tool": "quote_order",
        "arguments": {},  # the executor model fills it in from the lookups' results
        "depends_on": list(range(1, LOOKUPS + 1)),
    }
    return Script(
        version=1,
        roles={
            Role.PLANNER: [
                Turn(
                    tool_use=ScriptedToolUse(name="submit_plan", input={"steps": [*lookups, quote]})
                )
            ],
            Role.EXECUTOR: [
                Turn(tool_use=ScriptedToolUse(name="quote_order", input={"total": TOTAL}))
            ],
            Role.VALIDATOR: [
                Turn(
                    tool_use=ScriptedToolUse(
                        name="submit_verdict",
                        input={"complete": True, "reason": "the order was quoted"},
                    )
                )
            ],
        },
    )


def _agentlab_agent(probe: Probe, latency: Latencies) -> Agent:
    scripted = scripted_router(_script())
    router = ModelRouter(
        {role: DelayedModel(model, latency.of(role)) for role, model in scripted.models.items()},
        source="scripted turns behind simulated latency per role",
    )
    tools = _tools(probe, latency)
    return Agent(
        name="task-latency",
        purpose="Quote orders from looked-up prices.",
        toolsets=[FunctionToolset([tool(tools.lookup_price), tool(tools.quote_order)])],
        models=router,  # one router serves every run: turns are picked by the run's call index
    )


async def run_agentlab(runner: Runner, agent: Agent, probe: Probe, m: Measured) -> None:
    """One run through the Runner; also keeps where its time went (from its events)."""
    probe.reset()
    limits = Limits(max_iterations=LOOKUPS + 6, max_parallel_calls=MAX_PARALLEL_CALLS)
    models: list[dict[str, Any]] = []
    tools: list[dict[str, Any]] = []
    final: RunEnded | None = None
    start = time.perf_counter()
    run_id, events = await runner.start(agent, TASK, limits=limits)
    async for event in events:
        if isinstance(event, ModelCalled):
            models.append(event.call)
        elif isinstance(event, ToolCalled):
            tools.append(event.result)
        elif isinstance(event, RunEnded):
            final = event
    wall = time.perf_counter() - start

    _require(
        final is not None and final.status == Status.COMPLETED,
        f"agentlab ended {final.status if final else 'without RunEnded'}: "
        f"{final.outcome if final else ''}",
    )
    roles = sorted(c["role"] for c in models)
    _require(roles == ["executor", "planner", "validator"], f"agentlab's model calls: {roles}")
    _require(
        len(tools) == LOOKUPS + 1 and all(t["outcome"]["ok"] for t in tools),
        f"agentlab made {len(tools)} tool calls, not {LOOKUPS + 1} ok ones",
    )
    state = (await runner.get(run_id)).state
    quotes = [r for r in state["results"] if r["tool"] == "quote_order"]
    _require(
        len(state["results"]) == LOOKUPS + 1
        and len(quotes) == 1
        and quotes[0]["outcome"]["output"]["total"] == TOTAL,
        f"agentlab's results: {[r['tool'] for r in state['results']]}, quotes {quotes}",
    )
    _require(probe.most == LOOKUPS, f"agentlab ran {probe.most} lookups at once, not {LOOKUPS}")
    m.walls.append(wall)
    # The critical path as it ran: each wait's measured length (timer overshoot included).
    model_s = sum(c["latency_s"] for c in models)
    lookups_s = max(t["duration_s"] for t in tools if t["tool"] == "lookup_price")
    quote_s = next(t["duration_s"] for t in tools if t["tool"] == "quote_order")
    m.extra.append({"waits": model_s + lookups_s + quote_s, "wall": wall})


# --- LangGraph's prebuilt agent ------------------------------------------------------------------


class _DelayedFakeChatModel(GenericFakeChatModel):
    """Replays its messages, each after ``delay_s`` (async); counts its calls."""

    delay_s: float = 0.0
    calls: int = 0
    disable_streaming: bool = True  # one message per call, through _agenerate

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> _DelayedFakeChatModel:
        return self  # the tool calls are in the scripted messages

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        await asyncio.sleep(self.delay_s)
        self.calls += 1
        manager: CallbackManagerForLLMRun | None = None
        return self._generate(messages, stop=stop, run_manager=manager, **kwargs)


def _call(name: str, args: dict[str, Any], i: int) -> dict[str, Any]:
    return {"name": name, "args": args, "id": f"call_{i}", "type": "tool_call"}


def _prebuilt_turns(parallel: bool) -> Iterator[AIMessage]:
    lookups = [_call("lookup_price", {"sku": sku}, i) for i, sku in enumerate(SKUS)]
    if parallel:
        yield AIMessage(content="", tool_calls=lookups)
    else:
        for call in lookups:
            yield AIMessage(content="", tool_calls=[call])
    yield AIMessage(content="", tool_calls=[_call("quote_order", {"total": TOTAL}, LOOKUPS)])
    yield AIMessage(content=f"The order's quote: {TOTAL:.2f} USD, valid 7 days.")


async def run_prebuilt(
    saver: LoopSqliteSaver, probe: Probe, latency: Latencies, m: Measured, *, parallel: bool
) -> None:
    """One run of ``create_react_agent`` over ``saver``, driven with ``ainvoke``; the graph is
    built before the clock starts (its fake model's messages are used up by a run)."""
    from langgraph.prebuilt import create_react_agent

    probe.reset()
    model = _DelayedFakeChatModel(messages=_prebuilt_turns(parallel), delay_s=latency.planner)
    tools = _tools(probe, latency)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LangGraphDeprecationWarning)  # now langchain.agents
        graph = create_react_agent(
            model,
            [
                StructuredTool.from_function(coroutine=tools.lookup_price, name="lookup_price"),
                StructuredTool.from_function(coroutine=tools.quote_order, name="quote_order"),
            ],
            checkpointer=saver,
        )
    config = RunnableConfig(
        configurable={"thread_id": str(uuid.uuid4())}, recursion_limit=4 * LOOKUPS + 10
    )
    start = time.perf_counter()
    final = await graph.ainvoke({"messages": [HumanMessage(TASK)]}, config)
    wall = time.perf_counter() - start

    messages = final["messages"]
    results = [m for m in messages if isinstance(m, ToolMessage) and m.status == "success"]
    _require(len(results) == LOOKUPS + 1, f"{m.name} ran {len(results)} of {LOOKUPS + 1} calls")
    _require(f"{TOTAL}" in str(results[-1].content), f"{m.name} quoted {results[-1].content}")
    last = messages[-1]
    _require(isinstance(last, AIMessage) and not last.tool_calls, f"{m.name} gave no final answer")
    _require(model.calls == m.model_calls, f"{m.name} made {model.calls} model calls")
    _require(probe.calls == LOOKUPS + 1, f"{m.name}'s tools ran {probe.calls} times")
    at_once = LOOKUPS if parallel else 1
    _require(probe.most == at_once, f"{m.name} ran {probe.most} lookups at once, not {at_once}")
    m.walls.append(wall)


# --- measuring -----------------------------------------------------------------------------------


async def measure(tmp: Path, latency: Latencies, repeat: int) -> dict[str, Measured]:
    """Warm up, then ``repeat`` rounds of the three scenarios in turn (a burst of load on the
    shared cores falls on all of them alike); medians are reported."""
    results = {
        AGENTLAB: Measured(AGENTLAB, latency.agentlab_floor(), model_calls=3),
        PREBUILT_PARALLEL: Measured(
            PREBUILT_PARALLEL, latency.prebuilt_floor(parallel=True), model_calls=3
        ),
        PREBUILT_SEQUENTIAL: Measured(
            PREBUILT_SEQUENTIAL, latency.prebuilt_floor(parallel=False), model_calls=LOOKUPS + 2
        ),
    }
    probe = Probe()
    agent = _agentlab_agent(probe, latency)
    saver = LoopSqliteSaver.open(tmp / "prebuilt.sqlite")  # the saver the Runner uses, too
    try:
        async with Runner(load_settings(data_dir=tmp / "data")) as runner:
            # Warm-up (graphs compiled, imports done), not counted.
            await run_agentlab(runner, agent, probe, Measured("warm-up", 0, 3))
            quick = latency.scaled(0.1)
            await run_prebuilt(saver, probe, quick, Measured("warm-up", 0, 3), parallel=True)
            for _ in range(repeat):
                await run_agentlab(runner, agent, probe, results[AGENTLAB])
                await run_prebuilt(saver, probe, latency, results[PREBUILT_PARALLEL], parallel=True)
                await run_prebuilt(
                    saver, probe, latency, results[PREBUILT_SEQUENTIAL], parallel=False
                )
    finally:
        saver.close()
    return results


# --- report --------------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "[green]PASS[/]" if ok else "[red]MISS[/]"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def report(results: dict[str, Measured], latency: Latencies, repeat: int, console: Console) -> None:
    mine = results[AGENTLAB]
    base = results[PREBUILT_PARALLEL]
    vs_floor = mine.wall_s / mine.floor_s
    vs_prebuilt = mine.wall_s / base.wall_s
    table = Table(
        title=f"A task of {LOOKUPS} lookups + 1 dependent action: planner "
        f"{_ms(latency.planner)} ms, executor {_ms(latency.executor)} ms, validator "
        f"{_ms(latency.validator)} ms, tools {_ms(latency.tool)} ms; median of {repeat}"
    )
    columns = ("scenario", "model calls", "tool calls", "wall ms", "min-max ms", "floor ms")
    for column in (*columns, "/ floor", "/ prebuilt par."):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for name in SCENARIOS:
        m = results[name]
        over_floor, over_base = f"{m.wall_s / m.floor_s:.2f}x", f"{m.wall_s / base.wall_s:.2f}x"
        if m is mine:
            over_floor += f" {_verdict(vs_floor <= MAX_VS_FLOOR)}"
            over_base += f" {_verdict(vs_prebuilt <= MAX_VS_PREBUILT)}"
        table.add_row(
            name,
            str(m.model_calls),
            str(m.tool_calls),
            _ms(m.wall_s),
            f"{_ms(min(m.walls))}-{_ms(max(m.walls))}",
            _ms(m.floor_s),
            over_floor,
            over_base,
        )
    console.print(table)

    waits = statistics.median(e["waits"] for e in mine.extra)
    rest = statistics.median(e["wall"] - e["waits"] for e in mine.extra)
    console.print(
        f"agentlab's floor: {_ms(latency.planner)} plan + {_ms(latency.tool)} lookups (at once) + "
        f"{_ms(latency.executor)} executor + {_ms(latency.tool)} quote + "
        f"{_ms(latency.validator)} verdict = {_ms(mine.floor_s)} ms"
        f" | its waits as they ran: {_ms(waits)} ms (+{_ms(waits - mine.floor_s)} ms of timer "
        f"overshoot), the rest (supersteps, checkpoints, the Runner's bookkeeping) {_ms(rest)} ms"
    )
    seq = results[PREBUILT_SEQUENTIAL]
    console.print(
        f"agentlab / prebuilt with parallel tool calls {vs_prebuilt:.2f}x, / one call per turn "
        f"{mine.wall_s / seq.wall_s:.2f}x | agentlab ends {_ms(base.wall_s - mine.wall_s)} ms "
        f"before the prebuilt agent with parallel calls (from the latencies: "
        f"{_ms(base.floor_s - mine.floor_s)} ms; its {_ms(latency.planner)} ms model answers "
        f"once, not {base.model_calls} times, the other two answers come from "
        f"{_ms(latency.executor)} and {_ms(latency.validator)} ms models)"
    )
    console.print(
        f"Targets: agentlab within {MAX_VS_FLOOR}x of its floor: {vs_floor:.2f}x "
        f"{_verdict(vs_floor <= MAX_VS_FLOOR)} | agentlab at most {MAX_VS_PREBUILT}x the "
        f"prebuilt agent with parallel tool calls: {vs_prebuilt:.2f}x "
        f"{_verdict(vs_prebuilt <= MAX_VS_PREBUILT)}"
    )


def _header(console: Console, scale: float) -> None:
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    scaled = "" if scale == 1 else f" | latencies scaled x {scale:g}"
    console.print(
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z} | Python {platform.python_version()} | "
        f"langgraph {version('langgraph')} | langgraph-prebuilt {version('langgraph-prebuilt')} | "
        f"langchain-core {version('langchain-core')} | {os.cpu_count()} cores, load {load} | "
        f"{platform.system()} {platform.machine()}{scaled}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="one run of each, every latency x 0.25"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs of each scenario; medians are reported (default: 3, with --quick 1)",
    )
    args = parser.parse_args(argv)
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    if repeat < 1:
        parser.error("--repeat must be >= 1")
    scale = 0.25 if args.quick else 1.0
    latency = Latencies().scaled(scale)

    console = Console(soft_wrap=True)  # ratio lines stay whole when piped to a file
    console.width = max(console.width, 130)  # and the table's rows stay on one line
    _header(console, scale)
    with tempfile.TemporaryDirectory(prefix="agentlab-latency-") as tmp:
        results = asyncio.run(measure(Path(tmp), latency, repeat))
    report(results, latency, repeat, console)


if __name__ == "__main__":
    main()
