"""One trial of one case: the full agent loop, in a data directory of its own.

The case's starting state is laid down first (``fixtures.py``), then each message of its
conversation is a run of the agent, durable and traced like any other; at each pause the case's
next decision is given, as a person would. What the runs did is read back from their own record
(state, ledger) into a ``TrialRecord``, saved beside the data directory: scoring reads only that
record and that directory, so an eval can be re-scored later without a model (``rescore``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from agentlab.config import Settings
from agentlab.errors import AgentlabError, ScriptError
from agentlab.evals.cases import Case, DecisionSpec
from agentlab.evals.fixtures import lay_down, lay_down_conversation
from agentlab.evals.scripts import override_of, resolve_script, write_script
from agentlab.events import RunEvent
from agentlab.models.router import ModelSpec
from agentlab.observability.traces import trace_id_of
from agentlab.orchestration import Limits, Runner, RunView, load_agent
from agentlab.orchestration.graph import resolve_limits
from agentlab.store.sqlite import sqlite_connection

RECORD = "record.json"
INFRA = re.compile(
    r"^\w+ unavailable: (no model could answer \(tried |.* gave up after \d+ attempt)"
)
"""A run that failed because its provider stayed overloaded or down past its retries and
fallbacks (the messages of ``retry.py`` and ``FallbackModel``): an infrastructure error, not the
agent's failure. A refusal (a bad key, an unknown model, a request too large) is the agent's, as
is a script that ran out of turns."""


class InfraError(AgentlabError):
    """What kept a trial from running that is not the agent's doing (the harness retries it)."""


@dataclass
class TurnRecord:
    """What one run (one message of the case) did."""

    message: str
    run_id: str
    status: str
    """completed, failed, stopped (by a person at a pause) or waiting (for a decision the case
    did not give)."""
    outcome: str
    reply: str
    calls: list[dict[str, Any]]
    """Each tool call in order: tool, arguments, ok, and the error or output."""
    approvals: int
    decisions: list[str]
    iterations: int
    escalations: int
    cost_usd: float
    tokens: int
    model_calls: int
    latency_s: float
    trace_id: str | None
    model_source: str
    prompt_version: str = ""


@dataclass
class TrialRecord:
    """A trial as run: the case, the trial number, each turn, and where its data is."""

    case: str
    trial: int
    seed: int
    data_dir: str
    turns: list[TurnRecord] = field(default_factory=list)
    error: str | None = None
    """An infrastructure error that kept the trial from running to its end."""
    attempts: int = 1

    @property
    def last(self) -> TurnRecord | None:
        return self.turns[-1] if self.turns else None

    def save(self, directory: Path) -> None:
        path = directory / RECORD
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1, default=str), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, directory: Path) -> TrialRecord:
        data = json.loads((directory / RECORD).read_text(encoding="utf-8"))
        turns = [TurnRecord(**t) for t in data.pop("turns")]
        return cls(**data, turns=turns)


@dataclass(frozen=True)
class TrialPlan:
    """What to run: a case's trial, its seed, its directory, with which agent and prompts."""

    case: Case
    trial: int
    seed: int
    directory: Path
    agent: str
    base: Path
    prompts_dir: Path | None = None
    set_limits: dict[str, Any] = field(default_factory=dict)
    principal: str = "eval"
    escalation: bool = True


async def run_trial(plan: TrialPlan, settings: Settings) -> TrialRecord:
    """Run the trial in ``plan.directory`` (made afresh), following each turn to its end or its
    first pause the case does not answer. Raises ``AgentlabError`` for an infrastructure error
    (the caller retries); a run that fails is a result, not an error."""
    plan.directory.mkdir(parents=True, exist_ok=True)
    data_dir = plan.directory / "data"
    # Its own data directory holds everything: SQLite and embedded Chroma, whatever the
    # configuration says of shared servers (trials must not see each other, nor the user's data).
    changes: dict[str, Any] = {"data_dir": data_dir, "database_url": None}
    if plan.prompts_dir is not None:
        changes["prompts_dir"] = plan.prompts_dir
    if not plan.escalation:
        changes["models"] = settings.models.model_copy(update={"escalation": {}})
    memory: dict[str, Any] = {"chroma_url": None}
    if plan.case.memory is not None:
        memory["enabled"] = plan.case.memory
    changes["memory"] = settings.memory.model_copy(update=memory)
    settings = settings.model_copy(update=changes)
    case = plan.case
    definition = load_agent(plan.agent)
    record = TrialRecord(case.id, plan.trial, plan.seed, str(data_dir))
    specs = [_model_spec(plan, settings, turn) for turn in range(len(case.turns))]
    limits = resolve_limits(definition, settings)
    if plan.set_limits or case.limits:
        limits = Limits.model_validate({**limits.model_dump(), **plan.set_limits, **case.limits})
    principal = case.principal or plan.principal
    await lay_down(case.fixtures, definition, settings, principal)
    conversation = len(case.turns) > 1 or bool(case.fixtures.conversation)
    session = f"eval-{case.id}-{plan.trial}" if conversation else None
    async with _trial_database(settings), Runner(settings) as runner:
        if session is not None and case.fixtures.conversation:
            await lay_down_conversation(
                runner.store, session, principal, plan.agent, definition.name, case.fixtures
            )
        for turn, spec in zip(case.turns, specs, strict=True):
            started = time.perf_counter()
            run_id, events = await runner.start(
                plan.agent,
                turn.message,
                models=spec,
                options=case.fixtures.options,
                principal=principal,
                session=session,
                limits=limits,
            )
            await _drain(events)
            view = await runner.get(run_id)
            decisions = list(turn.decisions)
            given: list[str] = []
            asked = 0
            while view.requests:
                asked += len(view.requests)
                if not decisions:
                    break
                decision = decisions.pop(0)
                given.append(decision.answer)
                await _drain(await _decide(runner, run_id, view, decision))
                view = await runner.get(run_id)
            record.turns.append(
                await _turn_record(runner, view, turn.message, asked, given, started)
            )
            if INFRA.match(record.turns[-1].outcome):
                raise InfraError(record.turns[-1].outcome)
            if record.turns[-1].status == "waiting":
                break  # a conversation cannot go on past a turn left waiting
    return record


@contextlib.asynccontextmanager
async def _trial_database(settings: Settings) -> AsyncIterator[None]:
    """Make the trial's runs database (SQLite), unsynced, in a worker thread, and hold a
    connection to it until the trial's Runner has closed, so that the Runner finds the file
    made and is not the last to close it. SQLite would otherwise sync a new file to disk 8
    times, as it is made and as its last connection checkpoints the WAL, on the Runner's
    connections, on the event loop: every other trial would stop meanwhile. A trial's
    directory is the eval's scratch, its record and results are not synced either: a process
    that crashes loses nothing written, a machine that does may lose the eval (run it again)."""
    if settings.database_url is not None:
        yield
        return
    held = await asyncio.to_thread(sqlite_connection, settings.checkpoint_path, synced=False)
    try:
        yield
    finally:
        await asyncio.to_thread(held.close)


def _model_spec(plan: TrialPlan, settings: Settings, turn: int) -> ModelSpec:
    case = plan.case
    ref = override_of(plan.prompts_dir, case, turn) or case.turns[turn].script
    if ref is None:
        if settings.has_anthropic_key:
            return ModelSpec(kind="anthropic")
        raise ScriptError(
            f"case {case.id} has no script for turn {turn + 1} and no ANTHROPIC_API_KEY is set: "
            "give the turn a script (offline), or set the key to run it on Claude"
        )
    script = resolve_script(
        ref, plan.base, seed=plan.seed, case=case.id, trial=plan.trial, turn=turn
    )
    if not plan.escalation:
        script = script.model_copy(update={"escalation": {}})
    path = write_script(script, plan.directory / f"turn-{turn + 1}.script.json")
    return ModelSpec(kind="scripted", script=str(path.resolve()))


async def _decide(
    runner: Runner, run_id: str, view: RunView, decision: DecisionSpec
) -> AsyncIterator[RunEvent]:
    shown = view.requests
    step = shown[0].step_id if decision.arguments is not None else None
    return await runner.decide(
        run_id,
        decision.answer,
        shown=[r for r in shown if step is None or r.step_id == step],
        step=step,
        note=decision.note or f"eval: {decision.answer}",
        arguments=decision.arguments,
        result=decision.result,
        every=decision.answer in ("approve", "happened") and len(shown) > 1,
        via="eval",
    )


async def _drain(events: AsyncIterator[RunEvent]) -> None:
    stream = cast(AsyncGenerator[RunEvent, None], events)
    async with contextlib.aclosing(stream):
        async for _ in stream:
            pass


def status_of(view: RunView) -> str:
    """completed / failed / stopped (a person stopped it at a pause) / waiting."""
    if view.requests:
        return "waiting"
    status = view.status
    transitions = view.state.get("transitions") or []
    last = transitions[-1] if transitions else {}
    stopped = str(last.get("reason", "")).startswith("stopped by a human")
    if status == "failed" and last.get("node") == "approve" and stopped:
        return "stopped"
    return status


async def _turn_record(
    runner: Runner, view: RunView, message: str, asked: int, given: list[str], started: float
) -> TurnRecord:
    latency = time.perf_counter() - started
    state = view.state
    ledger = await runner.ledger(view.record.run_id)
    calls = [
        {
            "tool": r["tool"],
            "arguments": r["arguments"],
            "ok": bool(r["outcome"]["ok"]),
            "output": r["outcome"].get("output"),
            "error": r["outcome"].get("error"),
        }
        for r in state.get("results", [])
    ]
    escalations = state.get("escalations") or 0
    return TurnRecord(
        message=message,
        run_id=view.record.run_id,
        status=status_of(view),
        outcome=str(state.get("outcome") or ""),
        reply=str(state.get("reply") or ""),
        calls=calls,
        approvals=asked,
        decisions=given,
        iterations=int(state.get("iterations") or 0),
        escalations=escalations if isinstance(escalations, int) else len(escalations),
        cost_usd=sum(e.cost_usd or 0.0 for e in ledger),
        tokens=sum(
            e.input_tokens + e.output_tokens + e.cache_read_tokens + e.cache_write_tokens
            for e in ledger
        ),
        model_calls=len(ledger),
        latency_s=round(latency, 4),
        trace_id=trace_id_of(state),
        model_source=view.model_source,
        prompt_version=str(state.get("prompt_version") or ""),
    )


__all__ = [
    "INFRA",
    "RECORD",
    "InfraError",
    "TrialPlan",
    "TrialRecord",
    "TurnRecord",
    "run_trial",
    "status_of",
]
