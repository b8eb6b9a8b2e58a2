"""A long conversation: what each model call reads while the stored history grows, and what a
turn costs the orchestration at turn 10 and at turn 300.

A scripted session of ``--turns`` turns (default 300) through the ``Runner``, over SQLite, under the
configured ``[context]`` budgets (printed), repeated ``--repeat`` times (default 3) in a fresh data
directory each. Odd turns look a topic up (plan, ``lookup``, verdict, reply); even turns are
answered by the planner directly from the conversation; the summarizer has an answer for every fold.
The model is scripted and free, so a turn's time is the orchestration's own. Every turn is checked
(completed, stored once, its reply the script's, every call's context within its role's budget and
equal to the sum of its parts), and the sessions' contexts must be identical, before a figure is
printed.

- Context per call, at turns 10, 100 and 300: the planner's context tokens (its call record's
  ``context``), beside the history stored so far (the turns' token counts, turns 1..n) and what
  the same call would read sending the full history instead (its prefix, every earlier turn's
  messages as ``turn_messages`` renders them, its own message; all one estimate,
  ``EstimatedTokens``).
- Over the whole session: the context tokens of every call, against the calls that read the
  conversation (planner, validator, responder) each sending the full history; and the
  summarizer's share. Scripted answers report no usage: these are estimates of what the calls
  were sent (the input side), not billed tokens.
- Orchestration overhead: a turn's wall time from ``start`` to its last event (and this
  process's CPU time meanwhile). Three sessions in one runs database, each driven untimed to its
  window, take their timed turns in rounds (one turn of each a round, the order rotating), so
  that the machine's slow phases fall on all of them: turns 2-19 of one (turn 1 compiled the
  graph), 92-109 of another, 282-299 of the ``--turns`` one. Each turn keeps its least time over
  the repeats; each window's 9 lookups and 9 direct answers give a median each. Target: at the
  last window within 1.3x of the first.

    python benchmarks/conversation.py                       # 300 turns, 3 repeats (about 30 s)
    python benchmarks/conversation.py --turns 100 --repeat 1
    AGENTLAB_CONTEXT__RECENT_TOKENS=1500 python benchmarks/conversation.py   # other budgets
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a plain checkout

from agentlab import Agent, Risk, tool
from agentlab.config import ContextBudgets, Settings, load_settings
from agentlab.memory import ConversationTurn, EstimatedTokens, turn_messages
from agentlab.memory.fitting import HISTORY_ROLES
from agentlab.models.router import ModelSpec
from agentlab.orchestration import Replied, RunEnded, Runner, Status

SESSION = "long"
POINTS = (10, 100, 300)
WINDOW = 18  # turns: 9 lookups and 9 direct answers
MAX_GROWTH = 1.3


def _require(ok: bool, what: str) -> None:
    """Stop the benchmark: figures of a session that did not do its job would measure nothing."""
    if not ok:
        raise RuntimeError(f"benchmark session failed: {what}")


# --- the agent and its session --------------------------------------------------------------------


@tool(risk=Risk.READ, idempotent=True)
def lookup(topic: Annotated[str, Field(min_length=1, max_length=40)]) -> dict[str, Any]:
    """Look a topic up in the notes. Use it for any question about a topic."""
    return {"topic": topic, "notes": f"Everything known about {topic}. " * 12}


AGENT = Agent(
    "notes",
    "answers questions from the notes, and remembers the conversation",
    tools=[lookup],
)


def is_lookup(n: int) -> bool:
    """Odd turns look a topic up; even ones are answered from the conversation."""
    return n % 2 == 1


def message(n: int) -> str:
    """What the user says at turn ``n``."""
    return f"What do the notes say about topic {n}?" if is_lookup(n) else "And is that all?"


def session_script(turns: int) -> str:
    """The scripted answers of ``turns`` turns, per role, in session order (JSON)."""
    planner: list[dict[str, Any]] = []
    validator: list[dict[str, Any]] = []
    responder: list[dict[str, Any]] = []
    for n in range(1, turns + 1):
        if is_lookup(n):
            step = {
                "description": f"look up topic-{n}",
                "tool": "lookup",
                "arguments": {"topic": f"topic-{n}"},
            }
            planner.append({"tool_use": {"name": "submit_plan", "input": {"steps": [step]}}})
            verdict = {"complete": True, "reason": f"topic-{n} was looked up"}
            validator.append({"tool_use": {"name": "submit_verdict", "input": verdict}})
            responder.append({"text": f"Turn {n}: here is what the notes say about topic-{n}."})
        else:
            reply = f"Turn {n}: as I said in turn {n - 1}, that is all the notes hold."
            planner.append({"tool_use": {"name": "submit_plan", "input": {"reply": reply}}})
    summarizer = [
        {"text": f"Summary {i}: the user asked about topics, one per turn; each was looked up."}
        for i in range(1, turns + 1)
    ]
    roles = {
        "planner": planner,
        "executor": [],
        "validator": validator,
        "responder": responder,
        "summarizer": summarizer,
    }
    return json.dumps({"version": 1, "description": f"{turns} turns", "roles": roles})


@dataclass
class Session:
    """A session: its turns as stored, each turn's model calls, and each turn's times."""

    id: str
    turns: list[ConversationTurn] = field(default_factory=list)
    calls: list[list[dict[str, Any]]] = field(default_factory=list)  # per turn, in call order
    walls: dict[int, float] = field(default_factory=dict)  # per turn number
    cpus: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Timed:
    """The turns of the sessions that are timed against each other (``WINDOW`` of each)."""

    starts: dict[str, int]  # session id -> its first timed turn

    @classmethod
    def of(cls, turns: int) -> Timed:
        """Windows that start on an even turn (so the sessions' turns of a round are of one
        kind): turns 2-19 of "start", 92-109 of "middle" when the session goes past it, and
        the last even-started 18 of "end"."""
        starts = {"start": 2}
        end = turns - WINDOW + 1
        end -= end % 2
        if end > 92 + WINDOW:
            starts["middle"] = 92
        starts["end"] = end
        return cls(starts)

    def numbers(self, session: str) -> range:
        return range(self.starts[session], self.starts[session] + WINDOW)


async def take_turn(runner: Runner, spec: ModelSpec, session: Session, n: int) -> None:
    """Turn ``n`` of ``session``, timed from ``start`` to its last event, and checked."""
    wall, cpu = time.perf_counter(), time.process_time()
    _, events = await runner.start(AGENT, message(n), models=spec, session=session.id)
    replied: Replied | None = None
    ended: RunEnded | None = None
    async for event in events:
        if isinstance(event, Replied):
            replied = event
        elif isinstance(event, RunEnded):
            ended = event
    session.walls[n] = time.perf_counter() - wall
    session.cpus[n] = time.process_time() - cpu
    _require(
        ended is not None and ended.status == Status.COMPLETED,
        f"{session.id}'s turn {n} ended {ended.status if ended else 'without RunEnded'}",
    )
    _require(
        replied is not None and replied.turn == n and replied.reply.startswith(f"Turn {n}:"),
        f"{session.id}'s turn {n} replied {replied}",
    )


async def run_sessions(
    settings: Settings, script: Path, turns: int, timed: Timed
) -> dict[str, Session]:
    """Drive each session to just before its timed window (the longest first: its turn 1
    compiles the graph), then take the timed turns in rounds, one of each session a round, in
    an order that rotates; then finish the longest session and read back what they all kept."""
    spec = ModelSpec(kind="scripted", script=str(script))
    sessions = {name: Session(name) for name in reversed(timed.starts)}
    async with Runner(settings) as runner:
        for name, session in sessions.items():
            for n in range(1, timed.starts[name]):
                await take_turn(runner, spec, session, n)
        order = list(sessions)
        for k in range(WINDOW):
            shift = k % len(order)
            for name in order[shift:] + order[:shift]:
                await take_turn(runner, spec, sessions[name], timed.starts[name] + k)
        for n in range(timed.starts["end"] + WINDOW, turns + 1):
            await take_turn(runner, spec, sessions["end"], n)
        for session in sessions.values():
            await read_back(runner, settings, session)
    return sessions


async def read_back(runner: Runner, settings: Settings, session: Session) -> None:
    """Read the session's stored turns and each turn's model calls; check them."""
    session.turns = await runner.turns(session.id)
    numbers = [t["number"] for t in session.turns]
    _require(numbers == sorted(session.walls), f"{session.id} stored turns {numbers[:20]}...")
    for turn in session.turns:
        n = turn["number"]
        calls = (await runner.get(turn["run_id"])).state["model_calls"]
        for call in calls:
            report = call.get("context")
            _require(report is not None, f"turn {n}: {call['role']} has no context")
            assert report is not None
            budget = settings.context.for_role(call["role"])
            _require(
                report["tokens"] <= budget == report["budget"],
                f"turn {n}: {call['role']} read {report['tokens']} of {budget}",
            )
            _require(
                report["tokens"] == sum(report["parts"].values()),
                f"turn {n}: {call['role']}'s parts do not add up: {report}",
            )
        roles = [c["role"] for c in calls if c["role"] != "summarizer"]
        expected = ["planner", "validator", "responder"] if is_lookup(n) else ["planner"]
        _require(roles == expected, f"turn {n}'s calls: {roles}")
        session.calls.append(calls)
    summary = await runner.store.latest_summary(session.id)
    folds = sum(1 for calls in session.calls for c in calls if c["role"] == "summarizer")
    _require(
        (summary is None) == (folds == 0)
        and (summary is None or summary["written_by"] == "scripted-summarizer"),
        f"{session.id}: {folds} summarizer calls, latest summary {summary}",
    )


# --- figures --------------------------------------------------------------------------------------


def _planner(calls: list[dict[str, Any]]) -> dict[str, Any]:
    return next(c["context"] for c in calls if c["role"] == "planner")


def full_history(session: Session, counter: EstimatedTokens) -> list[int]:
    """Per turn n, the tokens of its earlier turns' messages as a context renders them (whole,
    with their tool blocks): what a call sending the full history adds to prefix and message."""
    before, total = [], 0
    for turn in session.turns:
        before.append(total)
        total += counter.messages(turn_messages(turn))
    return before


@dataclass(frozen=True)
class Window:
    """The timed turns of one kind of one session: their median wall and CPU time (each turn's
    least over the repeats), and how many turns the planner's context kept whole on average."""

    turns: list[int]
    wall: float
    cpu: float
    kept: float


KINDS = {"lookup (3 model calls, 1 tool call)": True, "direct answer (1 model call)": False}


def windows(repeats: Sequence[dict[str, Session]], timed: Timed) -> dict[str, list[Window]]:
    """Per kind of turn, each session's window, in the order of ``timed``."""
    out: dict[str, list[Window]] = {}
    for kind, lookups in KINDS.items():
        for name in timed.starts:
            numbers = [n for n in timed.numbers(name) if is_lookup(n) == lookups]
            walls = [min(r[name].walls[n] for r in repeats) for n in numbers]
            cpus = [min(r[name].cpus[n] for r in repeats) for n in numbers]
            kept = [_planner(repeats[0][name].calls[n - 1])["turns_kept"] for n in numbers]
            window = Window(
                numbers, statistics.median(walls), statistics.median(cpus), statistics.mean(kept)
            )
            out.setdefault(kind, []).append(window)
    return out


def _k(tokens: float) -> str:
    return f"{tokens:,.0f}"


def _verdict(ok: bool) -> str:
    return "[green]PASS[/]" if ok else "[red]MISS[/]"


def report(
    repeats: Sequence[dict[str, Session]],
    timed: Timed,
    budgets: ContextBudgets,
    turns: int,
    console: Console,
) -> None:
    first = repeats[0]["end"]  # the whole session
    counter = EstimatedTokens()
    earlier = full_history(first, counter)
    stored = [0]
    for turn in first.turns:
        stored.append(stored[-1] + turn["tokens"])

    points = [p for p in POINTS if p < turns] + [turns]
    table = Table(title=f"Context per model call vs history kept, a {turns}-turn session")
    columns = (
        "turn",
        "history stored",
        "planner's context",
        "summary + turns",
        "turns kept / summarized",
        "sending the full history",
        "full / context",
        "largest call so far",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "turn" else "right")
    for n in points:
        planner = _planner(first.calls[n - 1])
        parts = planner["parts"]
        full = parts["prefix"] + earlier[n - 1] + parts["current"]
        largest = max(c["context"]["tokens"] for calls in first.calls[:n] for c in calls)
        table.add_row(
            str(n),
            _k(stored[n]),
            _k(planner["tokens"]),
            f"{_k(parts['summary'])} + {_k(parts['history'])}",
            f"{planner['turns_kept']} / {planner['turns_summarized']}",
            _k(full),
            f"{full / planner['tokens']:.1f}x",
            _k(largest),
        )
    console.print(table)

    # The whole session: what every call read, against the history-reading calls sending it all.
    read = summarized = would = 0
    folds: list[int] = []
    for n, calls in enumerate(first.calls, start=1):
        for c in calls:
            ctx = c["context"]
            read += ctx["tokens"]
            if c["role"] == "summarizer":
                summarized += ctx["tokens"]
                folds.append(n)
            elif c["role"] in {role.value for role in HISTORY_ROLES}:
                parts = ctx["parts"]
                would += parts["prefix"] + parts["memory"] + earlier[n - 1] + parts["current"]
            else:
                would += ctx["tokens"]
    calls_made = sum(len(calls) for calls in first.calls)
    console.print(
        f"The session's {calls_made} model calls read {_k(read)} tokens of context; sending the "
        f"full history (planner, validator, responder; no summarizer) they would read "
        f"{_k(would)} ({would / read:.1f}x)",
        highlight=False,
    )
    share = summarized / read if read else 0.0
    console.print(
        f"Summarizer: {len(folds)} calls (folding at turns {_turn_list(folds)}), {_k(summarized)} "
        f"tokens of context: {share:.1%} of all calls' context tokens (the estimate of what they "
        "were sent; scripted answers report no usage)",
        highlight=False,
    )
    planners = [_planner(calls)["tokens"] for calls in first.calls]
    console.print(
        f"Planner's context over the session: least {_k(min(planners))}, largest "
        f"{_k(max(planners))}, at turn {turns} {_k(planners[-1])} | history stored at turn "
        f"{turns}: {_k(stored[-1])} ({stored[-1] / planners[-1]:.1f}x the planner's context)",
        highlight=False,
    )

    by_kind = windows(repeats, timed)
    table = Table(
        title="A turn's time, start to last event (zero-latency scripted model, SQLite): "
        f"{len(timed.starts)} sessions' turns taken in turn; each turn's least of {len(repeats)} "
        "repeats, the median of 9 turns"
    )
    columns = ("kind of turn", "turns", "planner's turns kept", "wall ms", "CPU ms", "vs start")
    for column in columns:
        table.add_column(column, justify="left" if column == "kind of turn" else "right")
    verdicts = []
    for kind, rows in by_kind.items():
        start, end = rows[0], rows[-1]
        for row in rows:
            growth = row.wall / start.wall
            shown = f"{growth:.2f}x"
            if row is end:
                shown += f" {_verdict(growth <= MAX_GROWTH)}"
                verdicts.append(f"{kind.split(' (')[0]} {shown}")
            table.add_row(
                kind if row is start else "",
                f"{row.turns[0]}-{row.turns[-1]}",
                f"{row.kept:.0f}",
                f"{row.wall * 1000:.2f}",
                f"{row.cpu * 1000:.2f}",
                shown,
                end_section=row is end,
            )
    console.print(table)
    first_turn = min(r["end"].walls[1] for r in repeats)
    console.print(
        f"turn 1 (compiles the graph): {first_turn * 1000:.1f} ms | budgets: "
        + ", ".join(f"{k} {v}" for k, v in budgets.model_dump().items()),
        highlight=False,
    )
    console.print(
        f"Target: a turn's wall time at turn {turns} within {MAX_GROWTH}x of turn 10's: "
        + " | ".join(verdicts)
    )


def _turn_list(numbers: list[int]) -> str:
    if len(numbers) <= 8:
        return ", ".join(map(str, numbers)) or "none"
    return f"{', '.join(map(str, numbers[:4]))}, ..., {', '.join(map(str, numbers[-2:]))}"


def _header(console: Console, turns: int, repeat: int) -> None:
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    console.print(
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z} | Python {platform.python_version()} | "
        f"SQLite {sqlite3.sqlite_version} | langgraph {version('langgraph')} | "
        f"langgraph-checkpoint-sqlite {version('langgraph-checkpoint-sqlite')} | "
        f"{os.cpu_count()} cores, load {load} | {platform.system()} {platform.machine()} | "
        f"{turns} turns, {repeat} repeats",
        highlight=False,
    )


async def measure(
    tmp: Path, turns: int, repeat: int, timed: Timed
) -> tuple[list[dict[str, Session]], ContextBudgets]:
    """``repeat`` times, the sessions in a fresh data directory; their contexts must not vary."""
    script = tmp / "session.json"
    script.write_text(session_script(turns))
    repeats: list[dict[str, Session]] = []
    budgets = ContextBudgets()
    for i in range(repeat):
        settings = load_settings(data_dir=tmp / f"data-{i}")
        budgets = settings.context
        repeats.append(await run_sessions(settings, script, turns, timed))
    contexts = {
        json.dumps([[c["context"] for c in calls] for calls in r["end"].calls]) for r in repeats
    }
    _require(len(contexts) == 1, "the repeats' contexts differ: the session is not deterministic")
    return repeats, budgets


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300, help="the session's turns (default 300)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="times the sessions are run; each turn's least time is kept (default 3)",
    )
    args = parser.parse_args(argv)
    if args.turns < 40 or args.repeat < 1:
        parser.error("--turns must be at least 40, --repeat at least 1")
    timed = Timed.of(args.turns)

    console = Console(soft_wrap=True)  # the figure lines stay whole when piped to a file
    console.width = max(console.width, 140)  # and the tables' rows on one line
    _header(console, args.turns, args.repeat)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="agentlab-conversation-") as tmp:
        repeats, budgets = asyncio.run(measure(Path(tmp), args.turns, args.repeat, timed))
    report(repeats, timed, budgets, args.turns, console)
    console.print(f"took {time.perf_counter() - started:.0f} s", highlight=False)


if __name__ == "__main__":
    main()
