"""Per-step cost of tracing: off, on with no collector listening, and on exporting to Phoenix.

The graph of ``overhead.py`` (a zero-latency scripted model, one model call and one tool call per
step, no checkpointer) runs N steps three ways, with the ``Tracing`` a ``Runner`` would get: none
(``NO_TRACING``), batched, redacted OTLP/HTTP export (``tracing_for``) to a loopback port nobody
listens on, and the same to a real Phoenix (started here, or ``--phoenix URL``). Each traced step
makes a span per node, an ``LLM`` span and a ``TOOL`` span (4 a step). The batch processor exports
every 512 spans on its thread while the run goes on; what is still queued when a run ends is
exported after its timer stops. The scenarios take turns, round after round (a burst of load
elsewhere hits all of them alike), after one warm-up run each; each keeps its least wall time and
its least CPU time (this process's: the run and the export thread; not Phoenix's) of the rounds.

Target: exporting adds under 10% to a step, read two ways, both reported with PASS or MISS:
(a) exporting vs the same tracing with no collector (what sending to Phoenix adds), and (b)
exporting vs tracing off (what tracing adds in all). A zero-latency step is the worst case: an
informative pair of rows runs the same steps with the executor model answering after
``--model-latency-ms`` (300: the executor's in ``task_latency.py``), as a remote model would.

    python benchmarks/tracing.py                    # N = 200, 5 rounds, starts Phoenix
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
    Status,
    compile_agent,
    initial_state,
)
from agentlab.tools import FunctionToolset  # noqa: E402

TARGET = 0.10  # exporting may add at most this fraction to a step
OFF = "tracing off"
NO_COLLECTOR = "on, no collector"
PHOENIX = "on, exporting to Phoenix"


@dataclass(frozen=True)
class Timing:
    """A run's wall time and this process's CPU time, in seconds."""

    wall_s: float
    cpu_s: float


@dataclass(frozen=True)
class Scenario:
    """A way to run the steps: its tracing, and the executor model's latency."""

    name: str
    make: Callable[[], Tracing]
    steps: int
    latency_s: float = 0.0


def _models(n: int, latency_s: float) -> ModelRouter:
    """The scripted models of ``n`` steps; the executor answers after ``latency_s``."""
    scripted = scripted_router(_script(n))
    if not latency_s:
        return scripted
    models = {role: scripted.for_role(role) for role in Role}
    models[Role.EXECUTOR] = DelayedModel(models[Role.EXECUTOR], latency_s)
    return ModelRouter(models, source=f"scripted, executor after {latency_s * 1000:g} ms")


async def run_steps(n: int, tracing: Tracing, latency_s: float = 0.0) -> Timing:
    """The wall and CPU time (this process's: the run and the export thread) ``n`` steps of the
    overhead graph take with ``tracing``."""
    models = _models(n, latency_s)
    toolsets = [FunctionToolset([LOOKUP_ASYNC])]
    agent = Agent("tracing", "Look up keys.", toolsets=toolsets, models=models)
    graph = compile_agent(agent, models=models, tracing=tracing)
    limits = Limits(max_iterations=n + 5)
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


def otlp(endpoint: str, project: str) -> Tracing:
    """The tracing a ``Runner`` builds for ``otlp_endpoint``: batched, redacted OTLP/HTTP."""
    return tracing_for(load_settings(otlp_endpoint=endpoint, trace_project=project))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # free again once closed: nobody listens there


async def timed(scenario: Scenario, steps: int | None = None) -> Timing:
    """One run of ``scenario`` with a fresh ``Tracing``; its export finishes outside the time."""
    tracing = scenario.make()
    try:
        return await run_steps(steps or scenario.steps, tracing, scenario.latency_s)
    finally:
        tracing.shutdown()  # exports the rest, outside the timed part


async def fastest(scenarios: Sequence[Scenario], repeat: int) -> dict[str, Timing]:
    """Each scenario's least wall and least CPU time over ``repeat`` rounds, the scenarios
    taking turns in each round, after a warm-up run of each (imports, first connections,
    Phoenix creating the project)."""
    for scenario in scenarios:
        await timed(scenario, steps=min(scenario.steps, 10))
    runs: dict[str, list[Timing]] = {s.name: [] for s in scenarios}
    for _ in range(repeat):
        for scenario in scenarios:
            runs[scenario.name].append(await timed(scenario))
    return {
        name: Timing(min(t.wall_s for t in timings), min(t.cpu_s for t in timings))
        for name, timings in runs.items()
    }


def _verdict(added: float) -> str:
    return "PASS" if added < TARGET else "MISS"


def report(
    console: Console, scenarios: Sequence[Scenario], timings: dict[str, Timing], repeat: int
) -> None:
    wall = {s.name: timings[s.name].wall_s * 1000 / s.steps for s in scenarios}
    cpu = {s.name: timings[s.name].cpu_s * 1000 / s.steps for s in scenarios}
    table = Table(title=f"Per-step cost of tracing (least of {repeat} rounds)")
    columns = ("scenario", "model", "steps", "ms/step", "vs off", "vs no coll.")
    for column in (*columns, "CPU ms/step", "CPU vs off"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    off_with = {s.latency_s: s.name for s in scenarios if s.name.startswith(OFF)}
    for s in scenarios:
        off = off_with[s.latency_s]
        vs_none = wall[s.name] / wall[NO_COLLECTOR] if s.name == PHOENIX else None
        table.add_row(
            s.name + (" (info)" if s.latency_s else ""),
            f"{s.latency_s * 1000:g} ms",
            str(s.steps),
            f"{wall[s.name]:.3f}",
            f"{wall[s.name] / wall[off]:.3f}x",
            "" if vs_none is None else f"{vs_none:.3f}x",
            f"{cpu[s.name]:.3f}",
            f"{cpu[s.name] / cpu[off]:.3f}x",
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
        if s.latency_s and not s.name.startswith(OFF):
            lines.append(f"(info) {s.name} vs off: {added(s.name, off_with[s.latency_s])}")
    for line in lines:
        console.print(line)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5, help="rounds; each scenario's fastest")
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
    # The exporter with no collector logs each failed batch: expected here, and not timed.
    logging.getLogger("opentelemetry.exporter").setLevel(logging.CRITICAL)
    console = Console(highlight=False, width=130)
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
        if args.model_latency_ms > 0:
            delay_s, k = args.model_latency_ms / 1000, args.latency_steps
            traced = scenarios[-1]  # the most complete tracing measured
            latency = f"model {args.model_latency_ms:g} ms"
            scenarios += [
                Scenario(f"{OFF}, {latency}", lambda: NO_TRACING, k, delay_s),
                Scenario(f"{traced.name}, {latency}", traced.make, k, delay_s),
            ]
        try:
            timings = asyncio.run(fastest(scenarios, repeat))
        finally:
            if server is not None:
                server.__exit__(None, None, None)
    report(console, scenarios, timings, repeat)


if __name__ == "__main__":
    main()
