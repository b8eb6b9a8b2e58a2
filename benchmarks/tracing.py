"""Per-step cost of tracing: off, on with no collector listening, and on exporting to Phoenix.

A step is one model call and one tool call of the graph of ``overhead.py`` (a zero-latency
scripted model, an async lookup tool), run as ``agentlab run`` runs it: by agentlab's
``Runner``, over its SQLite runs database (checkpoints, the tool-call journal, run status),
three ways, with the ``Tracing`` a ``Runner`` gets: none (``NO_TRACING``), and ``tracing_for``'s:
spans recorded on the run's thread, sent in batches to the export process, which redacts them
and exports them over OTLP/HTTP with the SDK's batch processor, to a loopback port nobody
listens on, or to a real Phoenix (started here, or ``--phoenix URL``). A traced run makes a span
per invocation, per node, per model call and per tool call (4 a step). Each scenario keeps one
``Runner`` and one ``Tracing`` for all its runs, the export process started before the first, as
in a process that has traced before. Batches leave the run's process every second (or 512 spans)
while the run goes on; what is still queued when a run ends is flushed after its timer stops.

The worst case comes next, informative: the same steps on the bare compiled graph (no
checkpointer, no runs database, ``ainvoke``), where a step takes a third of the time, so the
same microseconds of tracing weigh three times as much. Then a pair of rows runs the steps with
the executor model answering after ``--model-latency-ms`` (300: the executor's in
``task_latency.py``), as a remote model would.

The scenarios take turns, round after round (a burst of load elsewhere hits all of them
alike). Each run waits until Phoenix and the export processes are idle (Phoenix stores what it
was sent after it answers: timed meanwhile, a run would share the two cores with it), then
follows an untimed warm-up of 20 steps (after the idle wait, the first milliseconds run on a
cold CPU). Each scenario keeps its least wall time and least CPU time of the rounds: this
process's (the run, and the thread that sends batches), and apart, the median CPU time of its
export process (from ``/proc``; not Phoenix's).

Target: exporting adds under 10% to a step, read two ways, both reported with PASS or MISS:
(a) exporting vs the same tracing with no collector (what sending to Phoenix adds), and (b)
exporting vs tracing off (what tracing adds in all).

    python benchmarks/tracing.py                    # N = 200, 10 rounds, starts Phoenix
    python benchmarks/tracing.py --steps 500
    python benchmarks/tracing.py --phoenix http://127.0.0.1:6006
    python benchmarks/tracing.py --no-phoenix       # off and no-collector only
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import cast

from langchain_core.runnables import RunnableConfig
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a plain checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from overhead import LOOKUP_ASYNC, TASK, _require, _script  # noqa: E402
from task_latency import DelayedModel  # noqa: E402

from agentlab.config import load_settings  # noqa: E402
from agentlab.models.base import Role  # noqa: E402
from agentlab.models.router import ModelRouter, scripted_router  # noqa: E402
from agentlab.observability.tracing import NO_TRACING, Tracing, tracing_for  # noqa: E402
from agentlab.orchestration import (  # noqa: E402
    Agent,
    AgentState,
    Limits,
    RunContext,
    Runner,
    Status,
    compile_agent,
    initial_state,
)
from agentlab.tools import FunctionToolset  # noqa: E402

TARGET = 0.10  # exporting may add at most this fraction to a step
WARM_UP_STEPS = 20
OFF = "tracing off"
NO_COLLECTOR = "on, no collector"
PHOENIX = "on, exporting to Phoenix"
BARE = ", bare graph"  # the worst case's rows: these names with this suffix


@dataclass(frozen=True)
class Timing:
    """A run's wall time, this process's CPU time and its export process's, in seconds."""

    wall_s: float
    cpu_s: float
    export_cpu_s: float = 0.0


@dataclass(frozen=True)
class Scenario:
    """A way to run the steps: its tracing, the executor model's latency, and whether the bare
    graph runs them (else agentlab's ``Runner``)."""

    name: str
    make: Callable[[], Tracing]
    steps: int
    latency_s: float = 0.0
    bare: bool = False

    @property
    def baseline(self) -> str:
        """The name of the scenario with tracing off that this one is compared with."""
        latency = f", model {self.latency_s * 1000:g} ms" if self.latency_s else ""
        return OFF + (BARE if self.bare else "") + latency


def _models(n: int, latency_s: float) -> ModelRouter:
    """The scripted models of ``n`` steps; the executor answers after ``latency_s``."""
    scripted = scripted_router(_script(n))
    if not latency_s:
        return scripted
    models = dict(scripted.models)
    models[Role.EXECUTOR] = DelayedModel(models[Role.EXECUTOR], latency_s)
    return ModelRouter(models, source=f"scripted, executor after {latency_s * 1000:g} ms")


async def run_steps(
    n: int, tracing: Tracing, latency_s: float = 0.0, runner: Runner | None = None
) -> Timing:
    """The wall and CPU time (this process's: the run and the export thread) ``n`` steps of the
    overhead graph take: run by ``runner`` (whose tracing is ``tracing``), else on the bare
    graph compiled with ``tracing``."""
    models = _models(n, latency_s)
    toolsets = [FunctionToolset([LOOKUP_ASYNC])]
    agent = Agent("tracing", "Look up keys.", toolsets=toolsets, models=models)
    limits = Limits(max_iterations=n + 5)
    if runner is not None:
        return await _run_steps(runner, agent, limits, n)
    graph = compile_agent(agent, models=models, tracing=tracing)
    config = RunnableConfig(
        configurable={"thread_id": str(uuid.uuid4())}, recursion_limit=limits.recursion_limit
    )
    start, cpu = time.perf_counter(), time.process_time()
    final = await graph.ainvoke(
        cast(AgentState, initial_state(TASK)), config, context=RunContext(limits=limits)
    )
    timing = Timing(time.perf_counter() - start, time.process_time() - cpu)
    _require(final["status"] == Status.COMPLETED, f"ended {final['status']!r}")
    _require(len(final["results"]) == n, f"ran {len(final['results'])} of {n} steps")
    return timing


async def _run_steps(runner: Runner, agent: Agent, limits: Limits, n: int) -> Timing:
    """``run_steps`` by ``runner``: from creating the run to its last event."""
    start, cpu = time.perf_counter(), time.process_time()
    run_id, events = await runner.start(agent, TASK, limits=limits)
    async for _ in events:
        pass
    timing = Timing(time.perf_counter() - start, time.process_time() - cpu)
    view = await runner.get(run_id)
    _require(view.status == Status.COMPLETED, f"ended {view.status!r}")
    _require(len(view.state["results"]) == n, f"ran {len(view.state['results'])} of {n} steps")
    return timing


def otlp(endpoint: str, project: str) -> Tracing:
    """The tracing a ``Runner`` builds for ``otlp_endpoint``: batched, redacted OTLP/HTTP."""
    return tracing_for(load_settings(otlp_endpoint=endpoint, trace_project=project))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # free again once closed: nobody listens there


def process_cpu_s(pid: int | None) -> float:
    """The CPU time process ``pid`` has used so far (Linux's ``/proc``; 0 without one)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def export_pid(tracing: Tracing) -> int | None:
    """The pid of ``tracing``'s export process, when it has one."""
    sink = getattr(tracing.pipeline, "sink", None)
    return getattr(sink, "pid", None)


def settle(pids: Sequence[int | None], timeout_s: float = 30.0) -> None:
    """Wait until the processes ``pids`` (Phoenix, the export processes) are idle: less than
    5 ms of CPU in 200 ms. Phoenix goes on storing what it was sent after it answered, and a run
    timed meanwhile would share the two cores with it."""
    deadline = time.monotonic() + timeout_s
    used = sum(process_cpu_s(p) for p in pids)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = sum(process_cpu_s(p) for p in pids)
        if now - used < 0.005:
            return
        used = now


async def timed(
    scenario: Scenario, tracing: Tracing, runner: Runner | None, others: Sequence[int | None]
) -> Timing:
    """One timed run of ``scenario`` on its long-lived ``tracing`` (and ``runner``, unless it
    runs the bare graph), once the processes ``others`` and its export process are idle, after
    an untimed warm-up run (the CPU busy again after the idle wait). What the run left queued
    is exported after the timer stops; the export process's CPU time from before the warm-up to
    the end of that export is shared out over the warm-up's steps and the run's."""
    pid = export_pid(tracing)
    settle([*others, pid])
    before = process_cpu_s(pid)
    warm_up = 0 if scenario.latency_s else WARM_UP_STEPS  # a model that sleeps needs no warm CPU
    if warm_up:
        await run_steps(warm_up, tracing, runner=runner)
    timing = await run_steps(scenario.steps, tracing, scenario.latency_s, runner)
    tracing.flush()  # outside the timed part
    export_cpu_s = (process_cpu_s(pid) - before) * scenario.steps / (scenario.steps + warm_up)
    return Timing(timing.wall_s, timing.cpu_s, export_cpu_s)


async def fastest(
    scenarios: Sequence[Scenario], repeat: int, data: Path, others: Sequence[int | None] = ()
) -> dict[str, Timing]:
    """Each scenario's least wall and least CPU time over ``repeat`` rounds, and the median
    CPU time of its export process, the scenarios taking turns in each round, each run timed
    once the processes ``others`` (Phoenix) are idle. Each keeps one ``Tracing`` for all its
    runs, its export process started before the first (as in a process that has traced
    before: starting it is not a step's cost), and one ``Runner`` (its runs database in a
    directory of its own under ``data``) unless it runs the bare graph."""
    tracings = {s.name: s.make() for s in scenarios}
    runners: dict[str, Runner] = {}
    try:
        for tracing in tracings.values():
            tracing.ready()
        for i, s in enumerate(scenarios):
            if not s.bare:
                settings = load_settings(data_dir=data / f"scenario-{i}")
                runners[s.name] = await Runner(settings, tracing=tracings[s.name]).open()
        runs: dict[str, list[Timing]] = {s.name: [] for s in scenarios}
        for _ in range(repeat):
            for s in scenarios:
                timing = await timed(s, tracings[s.name], runners.get(s.name), others)
                runs[s.name].append(timing)
    finally:
        for runner in runners.values():
            await runner.close()
        for tracing in tracings.values():
            tracing.shutdown()
    return {
        name: Timing(
            min(t.wall_s for t in timings),
            min(t.cpu_s for t in timings),
            statistics.median(t.export_cpu_s for t in timings),
        )
        for name, timings in runs.items()
    }


def _verdict(added: float) -> str:
    return "PASS" if added < TARGET else "MISS"


def report(
    console: Console, scenarios: Sequence[Scenario], timings: dict[str, Timing], repeat: int
) -> None:
    wall = {s.name: timings[s.name].wall_s * 1000 / s.steps for s in scenarios}
    cpu = {s.name: timings[s.name].cpu_s * 1000 / s.steps for s in scenarios}
    export = {s.name: timings[s.name].export_cpu_s * 1000 / s.steps for s in scenarios}
    table = Table(title=f"Per-step cost of tracing (least of {repeat} rounds)")
    columns = ("scenario", "model", "steps", "ms/step", "vs off", "vs no coll.")
    for column in (*columns, "CPU ms/step", "CPU vs off", "export proc. CPU ms/step"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for s in scenarios:
        off = s.baseline
        vs_none = wall[s.name] / wall[NO_COLLECTOR] if s.name == PHOENIX else None
        table.add_row(
            s.name + (" (info)" if s.latency_s or s.bare else ""),
            f"{s.latency_s * 1000:g} ms",
            str(s.steps),
            f"{wall[s.name]:.3f}",
            f"{wall[s.name] / wall[off]:.3f}x",
            "" if vs_none is None else f"{vs_none:.3f}x",
            f"{cpu[s.name]:.3f}",
            f"{cpu[s.name] / cpu[off]:.3f}x",
            f"{export[s.name]:.3f}" if export[s.name] else "",
        )
    console.print(table)

    def added(name: str, base: str) -> str:
        return (
            f"{wall[name] / wall[base] - 1:+.1%} a step ({(wall[name] - wall[base]) * 1000:+.0f} "
            f"µs; CPU {cpu[name] / cpu[base] - 1:+.1%})"
        )

    lines = [f"on, no collector vs off: {added(NO_COLLECTOR, OFF)}: making, redacting, encoding"]
    if PHOENIX in wall:
        a = wall[PHOENIX] / wall[NO_COLLECTOR] - 1
        b = wall[PHOENIX] / wall[OFF] - 1
        lines += [
            f"(a) exporting to Phoenix vs the same tracing with no collector: "
            f"{added(PHOENIX, NO_COLLECTOR)}; target < {TARGET:.0%}: {_verdict(a)}",
            f"(b) exporting to Phoenix vs tracing off: {added(PHOENIX, OFF)}; "
            f"target < {TARGET:.0%}: {_verdict(b)}",
        ]
    else:
        lines.append("(a) and (b) not measured: no Phoenix scenario (--no-phoenix)")
    for s in scenarios:
        if s.bare and s.name != s.baseline:
            lines.append(
                f"(worst case, info) {s.name} vs {s.baseline}: {added(s.name, s.baseline)}; "
                "no runs database"
            )
        elif s.latency_s and s.name != s.baseline:
            lines.append(f"(info) {s.name} vs {s.baseline}: {added(s.name, s.baseline)}")
    for line in lines:
        console.print(line)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=10, help="rounds; each scenario's fastest")
    parser.add_argument("--phoenix", help="the URL of a running Phoenix (else one is started)")
    parser.add_argument("--no-phoenix", action="store_true", help="skip the Phoenix scenario")
    parser.add_argument(
        "--model-latency-ms",
        type=float,
        default=300.0,
        help="the executor model's latency in the informative rows (0: leave them out)",
    )
    parser.add_argument("--latency-steps", type=int, default=10, help="steps of those rows")
    args = parser.parse_args(argv)
    # The exporter with no collector logs each failed batch: expected here, and not timed. It
    # retries each for 10 s by default; 2 s keep the rounds short (a loopback Phoenix answers in
    # milliseconds). The export processes read the variable from the environment they inherit.
    logging.getLogger("opentelemetry.exporter").setLevel(logging.CRITICAL)
    os.environ.setdefault("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2")
    console = Console(highlight=False, width=150)
    load = ", load {:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    console.print(
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z} | Python {platform.python_version()} | "
        f"opentelemetry-sdk {version('opentelemetry-sdk')} | {os.cpu_count()} cores{load} | "
        f"{platform.system()} {platform.machine()}"
    )
    n, repeat = args.steps, args.repeat
    project = f"benchmark-{uuid.uuid4().hex[:6]}"
    nowhere = f"http://127.0.0.1:{closed_port()}/v1/traces"
    scenarios = [
        Scenario(OFF, lambda: NO_TRACING, n),
        Scenario(NO_COLLECTOR, lambda: otlp(nowhere, project), n),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        server = None
        if not args.no_phoenix:
            url = args.phoenix
            if url is None:
                from agentlab.observability.phoenix import PhoenixServer

                sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
                from phoenix_server import free_ports

                port, grpc_port = free_ports(2)
                server = PhoenixServer(Path(tmp) / "phoenix", port=port, grpc_port=grpc_port)
                console.print("starting Phoenix (10-30 s)...")
                server.__enter__()
                url = server.url
            endpoint = f"{url}/v1/traces"
            scenarios.append(Scenario(PHOENIX, lambda: otlp(endpoint, project), n))
        traced = scenarios[-1]  # the most complete tracing measured
        scenarios += [
            Scenario(OFF + BARE, lambda: NO_TRACING, n, bare=True),
            Scenario(traced.name + BARE, traced.make, n, bare=True),
        ]
        if args.model_latency_ms > 0:
            delay_s, k = args.model_latency_ms / 1000, args.latency_steps
            latency = f"model {args.model_latency_ms:g} ms"
            scenarios += [
                Scenario(f"{OFF}, {latency}", lambda: NO_TRACING, k, delay_s),
                Scenario(f"{traced.name}, {latency}", traced.make, k, delay_s),
            ]
        try:
            others = [server.pid] if server is not None else []  # an outside Phoenix: unknown
            timings = asyncio.run(fastest(scenarios, repeat, Path(tmp) / "runs", others))
        finally:
            if server is not None:
                server.__exit__(None, None, None)
    report(console, scenarios, timings, repeat)


if __name__ == "__main__":
    main()
