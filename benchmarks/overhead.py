"""Per-step overhead of agentlab's ``Runner`` beside its peers, with a zero-latency model.

A step is one model call and one tool call (a cheap lookup, a plain function, which every
framework here runs in a worker thread). agentlab's planner plans N argument-less lookups, its
executor model fills each one in, its validator gives one verdict. The peers' model asks for one
lookup per turn, N turns, then answers. Scenarios, each at every N (by default 50, 500, 1000):

- agentlab through the ``Runner``, as ``agentlab run`` runs it: its SQLite runs database in a
  fresh data directory (checkpoints, tool-call journal, cost ledger, lease, kill checks), timed
  from ``start`` (which compiles the graph) to the run's last event;
- agentlab's bare graph: no checkpointer, no runs database, ``ainvoke`` (compiled before timing);
- LangGraph's prebuilt tool-calling agent over LangGraph's ``SqliteSaver`` (WAL), driven with
  ``invoke``: the same saver as agentlab's;
- the OpenAI Agents SDK (a ``Model`` subclass answering from memory, tracing off) and Pydantic AI
  (``FunctionModel``): neither keeps anything durable;
- a plain asyncio loop: the fake model, the tool in a worker thread, a transcript (the floor).

Every run is checked (ended completed, N ok lookups with the right values) or the benchmark stops.
Each scenario is warmed up on 5 steps; each row keeps the least wall and the least CPU time
(``process_time``: this process, all its threads) of ``--repeat`` runs. All runs share one event
loop. The runs database's size is taken after its Runner closed (the WAL folded back in).

SQLite commits are counted from outside agentlab (``sqlite_commits.py``), in one more run of each
durable scenario at each N, untimed (tracing statements slows them). ``sqlite3.connect`` is wrapped
in this process so that every connection opened during that run gets a trace callback
(``set_trace_callback``), which sees each statement as it starts, including those Python's
``sqlite3`` issues itself: on Python 3.11 an implicit transaction shows as ``BEGIN `` and
``conn.commit()`` as ``COMMIT`` (what LangGraph's ``SqliteSaver`` does). Between a ``BEGIN`` and
its ``COMMIT`` the callback compares the connection's ``total_changes``: a transaction that changed
rows is a write commit, one that changed none (a ``BEGIN``/``SELECT``/``COMMIT``) a read-only
commit; a write statement outside any transaction (autocommit) is a write commit. At start-up a
check on scratch files proves the callback sees each of these as described, or stops (``sqlite3``
swallows an error in a trace callback: a silent miscount). Reported per step: all commits (write +
read-only; the run's fixed ones included), and the read-only ones apart.

    python benchmarks/overhead.py                 # N = 50, 500, 1000 (about 6 min of CPU)
    python benchmarks/overhead.py --quick         # N = 10 and 100
    python benchmarks/overhead.py --steps 50 200 --repeat 3 --only runner graph

The peers come with the ``bench`` extra: ``pip install -e ".[bench]"``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, cast

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a plain checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlite_commits import CommitCounter, Commits, check_counter

from agentlab.config import Settings, load_settings
from agentlab.models.base import Role
from agentlab.models.router import scripted_router
from agentlab.models.script import Script, ScriptedToolUse, Turn
from agentlab.orchestration import (
    Agent,
    AgentState,
    Limits,
    RunContext,
    RunEnded,
    Runner,
    Status,
    ToolCalled,
    compile_agent,
    initial_state,
)
from agentlab.tools import FunctionToolset, Tool, tool

TASK = "Look up every key."
FINAL_ANSWER = "Every key was looked up."
WARM_UP_STEPS = 5

# The targets for the Runner.
MAX_MS_AT_50 = 2.0
MAX_GROWTH_50_TO_1000 = 1.2
MAX_COMMITS_PER_STEP = 6.0
MAX_DB_BYTES_AT_500 = 8 * 1024 * 1024


def _lookup(key: str) -> dict[str, str]:
    """Return the value stored under ``key``."""
    return {"key": key, "value": key.upper()}


async def _lookup_async(key: str) -> dict[str, str]:
    """Return the value stored under ``key``."""
    return {"key": key, "value": key.upper()}


LOOKUP = tool(_lookup, name="lookup")  # a plain function: each call runs in a worker thread
LOOKUP_ASYNC = tool(_lookup_async, name="lookup")  # awaited on the event loop (tracing.py's)


def _key(i: int) -> str:
    return f"k{i}"


def _require(ok: bool, what: str) -> None:
    """Stop the benchmark: timing a run that did not do its job would measure nothing."""
    if not ok:
        raise RuntimeError(f"benchmark run failed: {what}")


def _check_lookups(outputs: Sequence[Any], n: int, who: str) -> None:
    """``outputs`` must be the ``n`` lookups' results, in order."""
    _require(len(outputs) == n, f"{who} ran {len(outputs)} of {n} lookups")
    for i, output in enumerate(outputs):
        _require(output == _lookup(_key(i)), f"{who}'s lookup {i} gave {output!r}")


# --- agentlab: everything that depends on its API is in this section ----------------------------


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


def agentlab_agent(n: int, lookup: Tool = LOOKUP) -> Agent:
    """The agent of an ``n``-step run: scripted models, the lookup tool, room for ``n`` steps."""
    return Agent(
        name="overhead",
        purpose="Look up keys.",
        toolsets=[FunctionToolset([lookup])],
        models=scripted_router(_script(n)),
        limits=Limits(max_iterations=n + 5),
    )


def agentlab_settings(data_dir: Path) -> Settings:
    """The settings ``agentlab run`` would load, with runs kept in ``data_dir``."""
    return load_settings(data_dir=data_dir)


@asynccontextmanager
async def agentlab_runner(data_dir: Path) -> AsyncIterator[Runner]:
    """An open ``Runner`` over a runs database in ``data_dir``, with tracing off."""
    async with Runner(agentlab_settings(data_dir)) as runner:
        tracing = getattr(runner, "tracing", None)
        _require(
            not getattr(tracing, "enabled", False),
            "the Runner traces (an OTLP endpoint is configured, or OTEL_EXPORTER_OTLP_ENDPOINT is"
            " set): unset it, this benchmark times runs without tracing",
        )
        yield runner


async def run_through_runner(runner: Runner, agent: Agent, n: int, probe: Probe) -> None:
    """Start a run of ``agent`` and follow its events to the end, timed by ``probe``; then check
    it did its job, from its events and from its stored state."""
    outputs: list[Any] = []
    last: Any = None
    with probe.timing():
        run_id, events = await runner.start(agent, TASK)
        async for event in events:
            if isinstance(event, ToolCalled):
                outputs.append(event.result["outcome"])
            last = event
    _require(
        isinstance(last, RunEnded) and last.status == Status.COMPLETED,
        f"agentlab's run ended with {last!r}",
    )
    _require(all(o["ok"] for o in outputs), "an agentlab lookup failed")
    _check_lookups([o["output"] for o in outputs], n, "agentlab (Runner)")
    view = await runner.get(run_id)
    _require(view.status == Status.COMPLETED, f"agentlab's run is stored as {view.status!r}")
    _check_lookups([r["outcome"]["output"] for r in view.state["results"]], n, "stored state")


async def run_bare_graph(agent: Agent, n: int, settings: Settings, probe: Probe) -> None:
    """Run ``agent``'s graph with no checkpointer (the journal in memory), timed by ``probe``."""
    graph = compile_agent(agent, settings=settings)
    limits = agent.limits or Limits(max_iterations=n + 5)
    config: Any = {
        "configurable": {"thread_id": str(uuid.uuid4())},
        "recursion_limit": limits.recursion_limit,
    }
    with probe.timing():
        final = await graph.ainvoke(
            cast(AgentState, initial_state(TASK)), config, context=RunContext(limits=limits)
        )
    _require(
        final["status"] == Status.COMPLETED,
        f"agentlab's graph ended {final['status']!r}: {final['outcome']}",
    )
    _check_lookups([r["outcome"]["output"] for r in final["results"]], n, "agentlab (graph)")


# --- measuring -----------------------------------------------------------------------------------


@dataclass
class Probe:
    """Measures one run: wall and CPU time around the run itself and, when it has a counter, the
    SQLite commits made meanwhile."""

    counter: CommitCounter | None = None
    wall_s: float = 0.0
    cpu_s: float = 0.0
    commits: Commits | None = None
    db_bytes: int | None = None

    @contextmanager
    def timing(self) -> Iterator[None]:
        window = self.counter.window() if self.counter is not None else nullcontext()
        with window as commits:
            wall, cpu = time.perf_counter(), time.process_time()
            yield
            self.wall_s = time.perf_counter() - wall
            self.cpu_s = time.process_time() - cpu
        self.commits = commits


@dataclass(frozen=True)
class Scenario:
    """A way to run the N steps; ``durable`` ones keep a SQLite database (commits counted)."""

    key: str
    name: str
    run: Callable[[int, Path, Probe], Awaitable[None]]
    durable: bool = False


@dataclass(frozen=True)
class Measurement:
    """A scenario's row at N steps: least wall and CPU time of the timed runs, the database's
    size after a run, the commits of the counted run."""

    scenario: str
    steps: int
    wall_s: float
    cpu_s: float
    db_bytes: int | None = None
    commits: Commits | None = None

    @property
    def ms_per_step(self) -> float:
        return self.wall_s * 1000 / self.steps

    @property
    def cpu_ms_per_step(self) -> float:
        return self.cpu_s * 1000 / self.steps


Results = dict[tuple[str, int], Measurement]


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


async def runner_scenario(n: int, tmp: Path, probe: Probe) -> None:
    """agentlab through the ``Runner``, a fresh runs database each run (its size measured after
    the Runner closed)."""
    data_dir = tmp / f"runner-{n}-{uuid.uuid4().hex}"
    agent = agentlab_agent(n)
    async with agentlab_runner(data_dir) as runner:
        await run_through_runner(runner, agent, n, probe)
    probe.db_bytes = _dir_bytes(data_dir)
    shutil.rmtree(data_dir)


async def graph_scenario(n: int, tmp: Path, probe: Probe) -> None:
    await run_bare_graph(agentlab_agent(n), n, agentlab_settings(tmp / "graph"), probe)


# --- LangGraph's prebuilt agent ------------------------------------------------------------------


def _prebuilt_agent(n: int, saver: Any) -> Any:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.tools import StructuredTool
    from langgraph.prebuilt import create_react_agent
    from langgraph.warnings import LangGraphDeprecationWarning

    class FakeToolCallingModel(GenericFakeChatModel):
        """Replays its messages with no latency; the tools are already in the scripted calls."""

        def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> FakeToolCallingModel:
            return self

    def turns() -> Iterator[AIMessage]:
        for i in range(n):
            call = {"name": "lookup", "args": {"key": _key(i)}, "id": f"call_{i}"}
            yield AIMessage(content="", tool_calls=[{**call, "type": "tool_call"}])
        yield AIMessage(content=FINAL_ANSWER)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LangGraphDeprecationWarning)  # now langchain.agents
        return create_react_agent(
            FakeToolCallingModel(messages=turns()),
            [StructuredTool.from_function(_lookup, name="lookup")],
            checkpointer=saver,
        )


async def prebuilt_scenario(n: int, tmp: Path, probe: Probe) -> None:
    """LangGraph's prebuilt agent over ``SqliteSaver``, driven synchronously (``invoke``: it
    blocks the event loop, which has nothing else to do)."""
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    with _sqlite_saver(tmp / f"prebuilt-{n}-{uuid.uuid4().hex}.sqlite") as (saver, db_bytes):
        graph = _prebuilt_agent(n, saver)
        # Each step is two supersteps (model, tools), plus the final answer.
        config: Any = {
            "configurable": {"thread_id": str(uuid.uuid4())},
            "recursion_limit": 2 * n + 10,
        }
        with probe.timing():
            final = graph.invoke({"messages": [HumanMessage(TASK)]}, config)
        probe.db_bytes = db_bytes()
    messages = final["messages"]
    tool_messages = [m for m in messages if isinstance(m, ToolMessage)]
    _require(all(m.status == "success" for m in tool_messages), "a prebuilt lookup failed")
    # LangChain sends a tool's dict to the model as JSON.
    _check_lookups([json.loads(str(m.content)) for m in tool_messages], n, "prebuilt")
    last = messages[-1]
    _require(
        isinstance(last, AIMessage) and not last.tool_calls and last.content == FINAL_ANSWER,
        "prebuilt did not end with the final answer",
    )


@contextmanager
def _sqlite_saver(path: Path) -> Iterator[tuple[Any, Callable[[], int]]]:
    """A ``SqliteSaver`` on a fresh file, in WAL mode as agentlab's runs database is; yields it
    and a function giving the file's bytes once the WAL is folded back in. The file is deleted
    after: the prebuilt agent's reach hundreds of MB at 500 steps."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(path, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    files = [path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))]

    def db_bytes() -> int:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return sum(f.stat().st_size for f in files if f.exists())

    try:
        saver = SqliteSaver(conn)
        saver.setup()  # creating the tables is not a per-step cost
        yield saver, db_bytes
    finally:
        conn.close()
        for f in files:
            f.unlink(missing_ok=True)


# --- the OpenAI Agents SDK -----------------------------------------------------------------------


async def openai_agents_scenario(n: int, tmp: Path, probe: Probe) -> None:
    """The OpenAI Agents SDK's ``Runner.run`` with a ``Model`` answering from memory (tracing
    off; the SDK keeps nothing durable unless given a session)."""
    from agents import Agent as SdkAgent
    from agents import (
        Model,
        ModelResponse,
        RunConfig,
        Usage,
        function_tool,
        set_tracing_disabled,
    )
    from agents import Runner as SdkRunner
    from openai.types.responses import (
        ResponseFunctionToolCall,
        ResponseOutputMessage,
        ResponseOutputText,
    )

    set_tracing_disabled(True)

    class FakeModel(Model):
        """Asks for lookup ``i`` on its ``i``-th call, then answers."""

        def __init__(self) -> None:
            self.calls = 0

        async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
            i, self.calls = self.calls, self.calls + 1
            output: list[Any]
            if i < n:
                output = [
                    ResponseFunctionToolCall(
                        type="function_call",
                        id=f"fc_{i}",
                        call_id=f"call_{i}",
                        name="lookup",
                        arguments=f'{{"key": "{_key(i)}"}}',
                        status="completed",
                    )
                ]
            else:
                text = ResponseOutputText(type="output_text", text=FINAL_ANSWER, annotations=[])
                output = [
                    ResponseOutputMessage(
                        type="message",
                        id="msg_final",
                        role="assistant",
                        status="completed",
                        content=[text],
                    )
                ]
            return ModelResponse(output=output, usage=Usage(), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError("the benchmark does not stream")

    agent = SdkAgent(
        name="overhead",
        instructions="Look up keys.",
        model=FakeModel(),
        tools=[function_tool(_lookup, name_override="lookup")],
    )
    with probe.timing():
        result = await SdkRunner.run(
            agent, TASK, max_turns=n + 5, run_config=RunConfig(tracing_disabled=True)
        )
    outputs = [item.output for item in result.new_items if item.type == "tool_call_output_item"]
    _check_lookups(outputs, n, "OpenAI Agents SDK")
    _require(result.final_output == FINAL_ANSWER, "the OpenAI Agents SDK did not answer")


# --- Pydantic AI ---------------------------------------------------------------------------------


async def pydantic_ai_scenario(n: int, tmp: Path, probe: Probe) -> None:
    """Pydantic AI's ``Agent.run`` over a ``FunctionModel`` (nothing durable)."""
    from pydantic_ai import Agent as PaiAgent
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel
    from pydantic_ai.usage import UsageLimits

    calls = iter(range(n + 1))

    def model(messages: list[Any], info: AgentInfo) -> ModelResponse:
        """Asks for lookup ``i`` on its ``i``-th call, then answers."""
        i = next(calls)
        if i < n:
            return ModelResponse(parts=[ToolCallPart("lookup", {"key": _key(i)}, f"call_{i}")])
        return ModelResponse(parts=[TextPart(FINAL_ANSWER)])

    agent = PaiAgent(FunctionModel(model), instructions="Look up keys.")
    agent.tool_plain(name="lookup")(_lookup)
    with probe.timing():
        result = await agent.run(TASK, usage_limits=UsageLimits(request_limit=None))
    outputs = [
        part.content
        for message in result.all_messages()
        for part in message.parts
        if isinstance(part, ToolReturnPart)
    ]
    _check_lookups(outputs, n, "Pydantic AI")
    _require(result.output == FINAL_ANSWER, "Pydantic AI did not answer")


# --- the floor -----------------------------------------------------------------------------------


async def loop_scenario(n: int, tmp: Path, probe: Probe) -> None:
    """A plain asyncio loop: the fake model's call, the tool in a worker thread (as every
    framework here runs a plain function), both appended to a transcript."""
    calls = iter(range(n + 1))

    async def model(transcript: list[Any]) -> dict[str, Any]:
        i = next(calls)
        if i < n:
            return {"tool": "lookup", "arguments": {"key": _key(i)}}
        return {"text": FINAL_ANSWER}

    transcript: list[Any] = [TASK]
    with probe.timing():
        while "tool" in (reply := await model(transcript)):
            transcript.append(reply)
            transcript.append(await asyncio.to_thread(_lookup, **reply["arguments"]))
        transcript.append(reply)
    _check_lookups(transcript[2:-1:2], n, "the plain loop")


# --- the run -------------------------------------------------------------------------------------

RUNNER = "agentlab Runner (SQLite)"
GRAPH = "agentlab graph (no saver)"
PREBUILT = "LangGraph prebuilt + SqliteSaver"
OPENAI_AGENTS = "OpenAI Agents SDK"
PYDANTIC_AI = "Pydantic AI"
LOOP = "plain asyncio loop"
SCENARIOS = (
    Scenario("runner", RUNNER, runner_scenario, durable=True),
    Scenario("graph", GRAPH, graph_scenario),
    Scenario("prebuilt", PREBUILT, prebuilt_scenario, durable=True),
    Scenario("openai-agents", OPENAI_AGENTS, openai_agents_scenario),
    Scenario("pydantic-ai", PYDANTIC_AI, pydantic_ai_scenario),
    Scenario("loop", LOOP, loop_scenario),
)
PEERS = (PREBUILT, OPENAI_AGENTS, PYDANTIC_AI)
# What each scenario imports that only the `bench` extra installs.
NEEDS = {
    "prebuilt": ("langgraph.prebuilt", "langchain_core"),
    "openai-agents": ("agents",),
    "pydantic-ai": ("pydantic_ai",),
}


async def measure(
    scenarios: Sequence[Scenario], steps: Sequence[int], repeat: int, tmp: Path, console: Console
) -> Results:
    """Warm every scenario up, then for each N and scenario: ``repeat`` timed runs, and one
    counted run of the durable ones."""
    counter = CommitCounter()
    for s in scenarios:
        await s.run(WARM_UP_STEPS, tmp, Probe())
    results: Results = {}
    for n in steps:
        for s in scenarios:
            probes = []
            for _ in range(repeat):
                probes.append(Probe())
                await s.run(n, tmp, probes[-1])
            commits = None
            if s.durable:
                counted = Probe(counter)
                with counter.connections():
                    await s.run(n, tmp, counted)
                commits = counted.commits
            m = Measurement(
                s.name,
                n,
                min(p.wall_s for p in probes),
                min(p.cpu_s for p in probes),
                probes[0].db_bytes,
                commits,
            )
            results[s.name, n] = m
            console.print(
                f"  {s.name}, {n} steps: {m.ms_per_step:.3f} ms/step", style="dim", highlight=False
            )
    return results


def _mb(n: int | None) -> str:
    return "" if n is None else f"{n / 1024 / 1024:.2f} MB"


def _verdict(ok: bool) -> str:
    return "[green]met[/]" if ok else "[red]not met[/]"


def _table(results: Results, scenarios: Sequence[str], steps: Sequence[int]) -> Table:
    table = Table(title="Per-step overhead, zero-latency model, one cheap tool call a step")
    columns = (
        "scenario",
        "steps",
        "wall s",
        "ms/step",
        "CPU ms/step",
        f"vs {steps[0]} steps",
        "vs Runner",
        "commits/step",
        "of which read-only",
        "database",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for n in steps:
        for name in scenarios:
            m = results[name, n]
            first = results[name, steps[0]].ms_per_step
            runner = results.get((RUNNER, n))
            c = m.commits
            table.add_row(
                name,
                str(n),
                f"{m.wall_s:.3f}",
                f"{m.ms_per_step:.3f}",
                f"{m.cpu_ms_per_step:.3f}",
                f"{m.ms_per_step / first:.2f}x",
                "" if runner is None else f"{m.ms_per_step / runner.ms_per_step:.2f}x",
                "" if c is None else f"{c.total / n:.2f}",
                "" if c is None else f"{c.read_only / n:.2f}",
                _mb(m.db_bytes),
                end_section=name == scenarios[-1],
            )
    return table


def report(
    results: Results, scenarios: Sequence[str], steps: Sequence[int], console: Console
) -> None:
    """Print the table, the ratios measured in this run and the issue's targets."""
    console.print(_table(results, scenarios, steps))

    def ms(name: str, n: int) -> float:
        return results[name, n].ms_per_step

    def cpu(name: str, n: int) -> float:
        return results[name, n].cpu_ms_per_step

    lo, hi = steps[0], steps[-1]
    console.print(
        f"ms/step at {hi} vs {lo} steps, wall (CPU): "
        + " | ".join(
            f"{name} {ms(name, hi) / ms(name, lo):.2f}x ({cpu(name, hi) / cpu(name, lo):.2f}x)"
            for name in scenarios
        )
    )
    if RUNNER in scenarios:
        for n in steps:
            others = [name for name in scenarios if name != RUNNER]
            console.print(
                f"N={n}, agentlab Runner / "
                + " | / ".join(f"{name} {ms(RUNNER, n) / ms(name, n):.2f}x" for name in others)
            )
        for n in steps:
            c = results[RUNNER, n].commits
            assert c is not None
            console.print(
                f"N={n}, Runner's SQLite commits: {c.total} ({c.total / n:.2f}/step): "
                f"{c.write} write, {c.read_only} read-only, {c.rollbacks} rollbacks"
                + (
                    f" | prebuilt + SqliteSaver: {prebuilt.total / n:.2f}/step"
                    if PREBUILT in scenarios and (prebuilt := results[PREBUILT, n].commits)
                    else ""
                )
            )
        _targets(results, steps, console)


def _targets(results: Results, steps: Sequence[int], console: Console) -> None:
    """The issue's targets, on wall time; CPU time beside it (steadier on a shared machine)."""

    def get(n: int) -> Measurement | None:
        return results.get((RUNNER, n))

    at50, at500, at1000 = get(50), get(500), get(1000)
    if at50 is None:
        fast = "not run: n/a"
    else:
        fast = f"{at50.ms_per_step:.3f}, CPU time {at50.cpu_ms_per_step:.3f}: " + _verdict(
            at50.ms_per_step <= MAX_MS_AT_50
        )
    if at50 is None or at1000 is None:
        flat = "N=50 and 1000 not both run: n/a"
    else:
        wall, cpu = (
            at1000.ms_per_step / at50.ms_per_step,
            at1000.cpu_ms_per_step / at50.cpu_ms_per_step,
        )
        flat = (
            f"{wall:.2f}x: {_verdict(wall <= MAX_GROWTH_50_TO_1000)}; CPU time {cpu:.2f}x: "
            + _verdict(cpu <= MAX_GROWTH_50_TO_1000)
        )
    per_step = max(
        r.commits.total / r.steps for r in (results[RUNNER, n] for n in steps) if r.commits
    )
    if at500 is None or at500.db_bytes is None:
        small = "not run: n/a"
    else:
        small = f"{_mb(at500.db_bytes)}: {_verdict(at500.db_bytes < MAX_DB_BYTES_AT_500)}"
    console.print(
        f"Targets (agentlab Runner): <= {MAX_MS_AT_50} ms/step at 50 steps ({fast})"
        f" | 1000-step within {MAX_GROWTH_50_TO_1000}x of 50-step ({flat})"
        f" | <= {MAX_COMMITS_PER_STEP:g} commits/step (at most {per_step:.2f}: "
        f"{_verdict(per_step <= MAX_COMMITS_PER_STEP)})"
        f" | 500-step database < 8 MB ({small})"
    )


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _header(console: Console) -> None:
    packages = (
        "langgraph",
        "langgraph-checkpoint-sqlite",
        "langgraph-prebuilt",
        "openai-agents",
        "pydantic-ai-slim",
    )
    load = "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    console.print(
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z} | Python {platform.python_version()} | "
        f"SQLite {sqlite3.sqlite_version} | "
        + " | ".join(f"{p} {_version(p)}" for p in packages)
        + f" | {os.cpu_count()} cores, load {load} | {platform.system()} {platform.machine()}",
        highlight=False,
    )


def main(argv: Sequence[str] | None = None) -> None:
    keys = [s.key for s in SCENARIOS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps",
        type=int,
        nargs="+",
        default=[50, 500, 1000],
        help="run lengths to measure (default: 50 500 1000)",
    )
    parser.add_argument("--quick", action="store_true", help="measure 10 and 100 steps instead")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="timed runs per scenario and N; the least time is reported (default: 1)",
    )
    parser.add_argument(
        "--only", nargs="+", choices=keys, default=keys, help="the scenarios to run (default: all)"
    )
    args = parser.parse_args(argv)
    steps = sorted(set([10, 100] if args.quick else args.steps))
    if len(steps) < 2 or steps[0] < 1 or args.repeat < 1:
        parser.error("give at least two step counts >= 1, and --repeat >= 1")
    scenarios = [s for s in SCENARIOS if s.key in args.only]
    missing = sorted(
        {m for s in scenarios for m in NEEDS.get(s.key, ()) if importlib.util.find_spec(m) is None}
    )
    if missing:
        parser.error(
            f"{', '.join(missing)} not installed: the peers come with the bench extra, "
            "pip install -e '.[bench]' (or leave them out with --only)"
        )

    console = Console(soft_wrap=True)  # ratio lines stay whole when piped to a file
    console.width = max(console.width, 180)  # and the table's rows stay on one line
    _header(console)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="agentlab-overhead-") as tmp:
        check_counter(Path(tmp))
        results = asyncio.run(measure(scenarios, steps, args.repeat, Path(tmp), console))
    report(results, [s.name for s in scenarios], steps, console)
    console.print(f"The benchmark took {time.perf_counter() - started:.0f} s.", highlight=False)


if __name__ == "__main__":
    main()
