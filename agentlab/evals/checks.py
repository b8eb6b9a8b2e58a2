"""Scoring a trial: each check of its case against the trial's record and data directory.

Deterministic checks read the record (status, reply, the tool calls each run made, budgets) and
query the trial's own database files; judged checks ask the judge (its verdicts cached, so a
rescore of the same output gives the same verdict without a model call). Every check gives a
verdict and a reason.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentlab.evals.cases import Case, Checks, QueryCheck, ReplyCheck
from agentlab.evals.trajectory import Call, match_trajectory, none_called, parse_expected
from agentlab.evals.trial import TrialRecord

if TYPE_CHECKING:
    from agentlab.evals.judge import Judge


@dataclass(frozen=True)
class CheckResult:
    """One check of one trial: its name, its kind, whether it passed, and why."""

    name: str
    kind: str  # outcome, trajectory, budget, judge
    passed: bool
    reason: str


async def score(
    case: Case, record: TrialRecord, judge: Judge | None = None, *, judge_index: int = 0
) -> list[CheckResult]:
    """Every check of ``case`` on ``record`` (none if the trial did not run to its end).
    ``judge_index`` is the eval's number for the case's first judged check of this trial (a
    scripted judge's turn: the eval numbers every judged check in the set's order)."""
    checks = case.checks
    results: list[CheckResult] = []
    last = record.last
    if record.error is not None or last is None:
        return results
    if checks.status is not None:
        results.append(
            _verdict(
                "status",
                "outcome",
                last.status == checks.status,
                f"status {last.status}, expected {checks.status}"
                + (f" ({_cut(last.outcome)})" if last.outcome else ""),
            )
        )
    if checks.reason is not None:
        found = checks.reason.lower() in last.outcome.lower()
        results.append(
            _verdict(
                "reason",
                "outcome",
                found,
                f"outcome {_cut(last.outcome)!r}"
                + ("" if found else f" does not say {checks.reason!r}"),
            )
        )
    if checks.reply is not None:
        results.append(_reply(checks.reply, last.reply))
    for query in checks.database:
        results.append(await asyncio.to_thread(_query, query, Path(record.data_dir)))
    results += _trajectory(checks, record)
    results += _budgets(checks, record)
    for i, judged in enumerate(checks.judged):
        results.append(
            await _judged(judged.name, judged.rubric, case, record, judge, judge_index + i)
        )
    return results


def _verdict(name: str, kind: str, passed: bool, reason: str) -> CheckResult:
    return CheckResult(name, kind, passed, reason if not passed else "ok: " + reason)


def _cut(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reply(check: ReplyCheck, reply: str) -> CheckResult:
    fold = (lambda s: s) if check.case_sensitive else str.casefold
    problems = [f"does not contain {w!r}" for w in check.contains if fold(w) not in fold(reply)]
    problems += [f"contains {w!r}" for w in check.not_contains if fold(w) in fold(reply)]
    if check.matches is not None:
        flags = 0 if check.case_sensitive else re.IGNORECASE
        if re.search(check.matches, reply, flags) is None:
            problems.append(f"does not match /{check.matches}/")
    if check.equals is not None and fold(reply.strip()) != fold(check.equals.strip()):
        problems.append(f"is not {check.equals!r}")
    if problems:
        return CheckResult(
            "reply", "outcome", False, f"the reply {'; '.join(problems)}: {_cut(reply)!r}"
        )
    return CheckResult("reply", "outcome", True, f"ok: {_cut(reply)!r}")


def _query(check: QueryCheck, data_dir: Path) -> CheckResult:
    name = "db:" + (check.name or _cut(check.query, 60))
    path = data_dir / check.file
    if not path.is_file():
        return CheckResult(name, "outcome", False, f"{check.file} does not exist in the trial")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = [list(row) for row in db.execute(check.query).fetchall()]
        finally:
            db.close()
    except sqlite3.Error as exc:
        return CheckResult(name, "outcome", False, f"the query failed: {exc}")
    if _same(rows, check.rows):
        return CheckResult(name, "outcome", True, f"ok: {_cut(repr(rows))}")
    return CheckResult(
        name, "outcome", False, f"rows {_cut(repr(rows))}, expected {_cut(repr(check.rows))}"
    )


def _same(found: Any, wanted: Any) -> bool:
    if isinstance(found, list | tuple) and isinstance(wanted, list | tuple):
        return len(found) == len(wanted) and all(map(_same, found, wanted))
    if isinstance(found, int | float) and isinstance(wanted, int | float):
        return float(found) == float(wanted)
    return bool(found == wanted)


def calls_of(record: TrialRecord) -> list[Call]:
    """Every tool call of the trial's runs, in order."""
    return [Call(c["tool"], c["arguments"]) for t in record.turns for c in t.calls]


def _trajectory(checks: Checks, record: TrialRecord) -> list[CheckResult]:
    results = []
    calls = calls_of(record)
    if checks.tools is not None:
        expected = [parse_expected(c) for c in checks.tools.calls]
        match = match_trajectory(calls, expected, checks.tools.mode)
        results.append(
            CheckResult(f"tools:{checks.tools.mode}", "trajectory", match.ok, match.reason)
        )
    if checks.not_called:
        match = none_called(calls, checks.not_called)
        results.append(CheckResult("not_called", "trajectory", match.ok, match.reason))
    if checks.approvals is not None:
        asked = sum(t.approvals for t in record.turns)
        results.append(
            _verdict(
                "approvals",
                "trajectory",
                asked == checks.approvals,
                f"{asked} approval(s) asked, expected {checks.approvals}",
            )
        )
    return results


def _budgets(checks: Checks, record: TrialRecord) -> list[CheckResult]:
    budgets = checks.budgets
    if budgets is None:
        return []
    totals = totals_of(record)
    limits = [
        ("cost_usd", budgets.max_cost_usd),
        ("tokens", budgets.max_tokens),
        ("iterations", budgets.max_iterations),
        ("latency_s", budgets.max_latency_s),
        ("approvals", budgets.max_approvals),
    ]
    return [
        _verdict(
            f"budget:{name}",
            "budget",
            totals[name] <= limit,
            f"{name} {totals[name]:g}, at most {limit:g}",
        )
        for name, limit in limits
        if limit is not None
    ]


def totals_of(record: TrialRecord) -> dict[str, float]:
    """The trial's cost, tokens, iterations, latency, approvals, model calls and escalations,
    summed over its runs."""
    keys = (
        "cost_usd",
        "tokens",
        "iterations",
        "latency_s",
        "approvals",
        "model_calls",
        "escalations",
    )
    return {k: float(sum(getattr(t, k) for t in record.turns)) for k in keys}


def conversation_of(case: Case) -> str:
    """What the judge is shown as the input: the case's messages, in order."""
    if len(case.turns) == 1:
        return case.turns[0].message
    return "\n".join(f"[message {i}] {t.message}" for i, t in enumerate(case.turns, 1))


async def _judged(
    name: str, rubric: str, case: Case, record: TrialRecord, judge: Judge | None, index: int
) -> CheckResult:
    from agentlab.errors import AgentlabError

    last = record.last
    output = last.reply if last is not None else ""
    if judge is None:
        return CheckResult(
            f"judge:{name}",
            "judge",
            False,
            "no judge: give the eval a judge script (offline) or a Claude key",
        )
    try:
        verdict = await judge.verdict(rubric, conversation_of(case), output, index=index)
    except AgentlabError as exc:
        return CheckResult(f"judge:{name}", "judge", False, f"the judge could not answer: {exc}")
    return CheckResult(
        f"judge:{name}", "judge", verdict.passed, f"{verdict.score:.2f}: {verdict.reason}"
    )


def passed(results: Sequence[CheckResult]) -> bool:
    """A trial passes when every check passes (and it has some)."""
    return bool(results) and all(r.passed for r in results)


__all__ = ["CheckResult", "calls_of", "conversation_of", "passed", "score", "totals_of"]
