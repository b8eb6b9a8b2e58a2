"""Eval throughput: how long ``run_eval`` takes over a task set when the model is slow, at
several concurrencies, and what the harness itself costs per case.

The set is built in a temporary directory: N cases (default 100) against the order desk of
``benchmarks/eval_agent.py`` (two read-only lookups, no database, memory off), each one message
with a generated script whose every call takes ``--latency`` seconds (default 0.2), shaped as a
real turn: the planner's plan of 1 or 2 lookups (a third of the cases leave the second lookup's
argument to the executor model), the validator's verdict, the responder's reply: 3 or 4 model
calls a case. Each case checks the run's status, its tool calls (strict, with arguments) and its
reply. Every eval must pass every case with the expected model calls, or the script stops.

``run_eval`` runs at each concurrency into a fresh directory, after a warm-up (imports, graph
compilation), and once more with the same cases at latency 0, concurrency 1: that run's wall time
over N is the harness's own overhead per case (the agent loop, the runs database, the trial's
directory and record, scoring, the results files), with no model to wait for.

    python benchmarks/eval_throughput.py                        # 100 cases, 0.2 s, 1,4,16 (~2 min)
    python benchmarks/eval_throughput.py --cases 40 --concurrency 1,16
    python benchmarks/eval_throughput.py --latency 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a plain checkout

from eval_agent import ORDERS  # this directory: the agent the set runs (loaded by file, too)

from agentlab.config import Settings, load_settings
from agentlab.evals import EvalOptions, load_task_set, run_eval
from agentlab.evals.cases import TaskSet

HERE = Path(__file__).resolve().parent
AGENT = f"{HERE / 'eval_agent.py'}:agent"
TARGET_SPEEDUP = 10.0
"""Concurrency 16 at least this many times faster than concurrency 1 (the issue's target)."""


def _require(ok: bool, what: str) -> None:
    """Stop the benchmark: timing an eval that did not do its job would measure nothing."""
    if not ok:
        raise RuntimeError(f"benchmark eval failed: {what}")


# --- the task set --------------------------------------------------------------------------------


def _case(n: int, latency_s: float, scripts: Path) -> tuple[dict[str, Any], int]:
    """Case ``n`` and the model calls its run makes; its script is written into ``scripts``."""
    order_id = f"A{(n - 1) % len(ORDERS) + 1:04d}"
    order = ORDERS[order_id]
    kind = n % 3  # 0: one lookup; 1: two, both planned; 2: two, the executor fills the second
    status = {
        "description": f"look up the status of order {order_id}",
        "tool": "order_status",
        "arguments": {"order_id": order_id},
        "depends_on": [],
    }
    steps: list[dict[str, Any]] = [status]
    expected = [{"tool": "order_status", "arguments": {"order_id": order_id}}]
    roles: dict[str, list[dict[str, Any]]] = {}
    message = f"What is the status of order {order_id}?"
    reply = f"Order {order_id} is {order['status']}; its total is {order['total']} USD."
    if kind:
        message = f"What is the status of order {order_id}, and what is in it?"
        reply += f" It holds {', '.join(order['items'])}."
        steps.append(
            {
                "description": f"list the items of order {order_id}",
                "tool": "order_items",
                "arguments": {"order_id": order_id} if kind == 1 else {},
                "depends_on": [] if kind == 1 else [1],
            }
        )
        expected.append({"tool": "order_items", "arguments": {"order_id": order_id}})
        if kind == 2:
            roles["executor"] = [
                {
                    "tool_use": {"name": "order_items", "input": {"order_id": order_id}},
                    "usage": {"input_tokens": 640, "output_tokens": 38},
                }
            ]
    roles["planner"] = [
        {
            "tool_use": {"name": "submit_plan", "input": {"steps": steps}},
            "usage": {"input_tokens": 1210, "output_tokens": 60 + 55 * len(steps)},
        }
    ]
    roles["validator"] = [
        {
            "tool_use": {
                "name": "submit_verdict",
                "input": {"complete": True, "reason": f"order {order_id} was looked up"},
            },
            "usage": {"input_tokens": 820, "output_tokens": 40},
        }
    ]
    roles["responder"] = [{"text": reply, "usage": {"input_tokens": 480, "output_tokens": 35}}]
    script = {
        "version": 1,
        "description": f"order desk, case {n}",
        "latency_s": latency_s,
        "roles": roles,
    }
    case_id = f"order-{n:04d}"
    (scripts / f"{case_id}.json").write_text(json.dumps(script, indent=1), encoding="utf-8")
    case = {
        "id": case_id,
        "message": message,
        "script": f"scripts/{case_id}.json",
        "checks": {
            "status": "completed",
            "tools": {"mode": "strict", "calls": expected},
            "reply": {"contains": [order_id, str(order["status"])]},
        },
    }
    return case, len(roles)


@dataclass(frozen=True)
class Built:
    """A task set written to disk, and the model calls each of its cases makes."""

    task_set: TaskSet
    calls: list[int]


def build_set(directory: Path, cases: int, latency_s: float) -> Built:
    """Write ``cases`` cases and their scripts under ``directory`` (a JSONL set) and load it."""
    scripts = directory / "scripts"
    scripts.mkdir(parents=True)
    built = [_case(n, latency_s, scripts) for n in range(1, cases + 1)]
    head = {"set": {"name": "eval-throughput", "agent": AGENT, "principal": "bench"}}
    lines = [json.dumps(head), *(json.dumps(case) for case, _ in built)]
    path = directory / "orders.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Built(load_task_set(path), [calls for _, calls in built])


# --- measuring -----------------------------------------------------------------------------------


@dataclass
class Measured:
    """One eval: its concurrency and latency, wall and CPU seconds, what its trials did."""

    concurrency: int
    latency_s: float
    cases: int
    wall_s: float
    cpu_s: float
    model_calls: int
    trial_p50_s: float
    floor_s: float

    @property
    def model_s(self) -> float:
        return self.model_calls * self.latency_s


def floor_of(calls: Sequence[int], latency_s: float, concurrency: int) -> float:
    """The wall time of the model waits alone: each case's calls one after another, cases
    started in the set's order as a slot frees (as the harness's semaphore admits them)."""
    slots = [0.0] * concurrency
    for n in calls:
        heapq.heappush(slots, heapq.heappop(slots) + n * latency_s)
    return max(slots)


async def measure_one(
    built: Built, latency_s: float, concurrency: int, settings: Settings, out: Path
) -> Measured:
    """``run_eval`` of the whole set into ``out``, timed and checked."""
    options = EvalOptions(agent=AGENT, concurrency=concurrency, retries=0)
    cpu = time.process_time()
    start = time.perf_counter()
    results = await run_eval(built.task_set, options, settings, out)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    frame = results.frame
    cases = len(built.calls)
    _require(len(frame) == cases, f"{len(frame)} rows for {cases} cases")
    errors = frame[frame["error"].notna()]
    _require(errors.empty, f"infrastructure errors: {list(errors['error'])[:3]}")
    failed = frame[~frame["passed"].astype(bool)]
    _require(failed.empty, f"{len(failed)} cases failed: {list(failed['reasons'])[:3]}")
    calls = int(frame["model_calls"].sum())
    _require(calls == sum(built.calls), f"{calls} model calls, expected {sum(built.calls)}")
    return Measured(
        concurrency=concurrency,
        latency_s=latency_s,
        cases=cases,
        wall_s=wall,
        cpu_s=cpu,
        model_calls=calls,
        trial_p50_s=float(frame["latency_s"].median()),
        floor_s=floor_of(built.calls, latency_s, concurrency),
    )


async def measure(
    tmp: Path, cases: int, latency_s: float, concurrencies: Sequence[int], console: Console
) -> tuple[Measured, list[Measured]]:
    """Warm up, the latency-0 run (the overhead), then one eval per concurrency."""
    settings = load_settings(data_dir=tmp / "data")
    slow = build_set(tmp / "set", cases, latency_s)
    instant = build_set(tmp / "set-0", cases, 0.0)
    warm = build_set(tmp / "set-warm", 3, 0.0)
    await measure_one(warm, 0.0, 1, settings, tmp / "out-warm")
    overhead = await measure_one(instant, 0.0, 1, settings, tmp / "out-0")
    console.print(f"latency 0, concurrency 1: {overhead.wall_s:.1f} s", style="dim")
    rows = []
    for concurrency in concurrencies:
        row = await measure_one(slow, latency_s, concurrency, settings, tmp / f"out-{concurrency}")
        console.print(f"concurrency {concurrency}: {row.wall_s:.1f} s", style="dim")
        rows.append(row)
    return overhead, rows


# --- report --------------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "[green]PASS[/]" if ok else "[red]MISS[/]"


def report(overhead: Measured, rows: list[Measured], console: Console) -> None:
    first = rows[0]
    latency = first.latency_s
    table = Table(
        title=f"run_eval of {first.cases} cases, every model call {latency * 1000:.0f} ms "
        f"({first.model_calls} calls, {first.model_s:.1f} s of model time)"
    )
    columns = (
        "concurrency", "latency", "wall s", "trials/s", f"vs {first.concurrency}",
        "model calls", "model s", "floor s", "/ floor", "CPU s", "CPU ms/case",
        "trial p50 s", "wall x c - model, ms/case",
    )  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    for m in [overhead, *rows]:
        speedup = "" if m is overhead else f"{first.wall_s / m.wall_s:.2f}x"
        if m is not overhead and m.concurrency == 16 and first.concurrency == 1:
            speedup += f" {_verdict(first.wall_s / m.wall_s >= TARGET_SPEEDUP)}"
        table.add_row(
            str(m.concurrency),
            f"{m.latency_s * 1000:.0f} ms",
            f"{m.wall_s:.2f}",
            f"{m.cases / m.wall_s:.2f}",
            speedup,
            str(m.model_calls),
            f"{m.model_s:.1f}",
            f"{m.floor_s:.2f}",
            f"{m.wall_s / m.floor_s:.2f}x" if m.floor_s else "",
            f"{m.cpu_s:.2f}",
            f"{m.cpu_s / m.cases * 1000:.1f}",
            f"{m.trial_p50_s:.3f}",
            f"{(m.wall_s * m.concurrency - m.model_s) / m.cases * 1000:.0f}",
        )
    console.print(table)
    per_case = overhead.wall_s / overhead.cases
    console.print(
        f"Harness overhead per case (latency 0, concurrency 1: wall / cases): "
        f"{per_case * 1000:.1f} ms (CPU {overhead.cpu_s / overhead.cases * 1000:.1f} ms) | "
        f"floor: the model waits alone, cases admitted in order as a slot frees | "
        f"'wall x c - model': the slots' time not spent waiting for the model, per case"
    )
    by = {m.concurrency: m for m in rows}
    if 1 in by and 16 in by:
        speedup = by[1].wall_s / by[16].wall_s
        bound = by[1].floor_s / by[16].floor_s
        console.print(
            f"Target: concurrency 16 at least {TARGET_SPEEDUP:g}x faster than 1: {speedup:.2f}x "
            f"{_verdict(speedup >= TARGET_SPEEDUP)} (the model waits alone would allow "
            f"{bound:.1f}x)"
        )


def _header(console: Console, cases: int, latency_s: float) -> None:
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    console.print(
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z} | Python {platform.python_version()} | "
        f"{os.cpu_count()} cores, load {load} | {platform.system()} {platform.machine()} | "
        f"{cases} cases, model calls of {latency_s * 1000:.0f} ms"
    )


def _concurrencies(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("concurrencies are integers of 1 or more: 1,4,16")
    return values


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100, help="cases in the set (default 100)")
    parser.add_argument(
        "--latency", type=float, default=0.2, help="seconds each model call takes (default 0.2)"
    )
    parser.add_argument(
        "--concurrency",
        type=_concurrencies,
        default=[1, 4, 16],
        help="the concurrencies to run, comma-separated (default 1,4,16); speed-ups are "
        "against the first",
    )
    args = parser.parse_args(argv)
    if args.cases < 1:
        parser.error("--cases must be >= 1")
    if args.latency < 0:
        parser.error("--latency must be >= 0")

    console = Console(soft_wrap=True)
    console.width = max(console.width, 170)  # the table stays whole when piped
    _header(console, args.cases, args.latency)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="agentlab-eval-throughput-") as tmp:
        overhead, rows = asyncio.run(
            measure(Path(tmp), args.cases, args.latency, args.concurrency, console)
        )
    report(overhead, rows, console)
    console.print(f"took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
