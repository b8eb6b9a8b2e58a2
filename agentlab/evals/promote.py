"""From a run to a case: ``agentlab eval promote RUN --to SET``.

A run a user hit a failure in becomes a case of a task set: its message, principal and run
options, the principal's facts as they stood when it started, the answers given at its pauses, a
script of what its models answered (so the case replays offline), and the checks its outcome
implies (its status, its tool calls, its approvals). The rows its tools' database held are not
known after the fact: a person adds them as SQL fixtures.
Those checks describe what happened, not what should have: the case is written for a person to
edit, and says so.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from agentlab.config import Settings
from agentlab.errors import AgentlabError, RunStateError
from agentlab.evals.cases import EvalSetError, load_task_set
from agentlab.evals.trial import status_of
from agentlab.models.script import dump_script, load_script, parse_script
from agentlab.orchestration import RunView, SyncRunner

_NODE_ROLES = {"plan": "planner", "validate": "validator", "respond": "responder"}
"""Whose answers a node's assistant messages are; the other nodes' are the executor's (its
proposals, entered where the call ran or was rejected)."""


def promote_run(
    runner: SyncRunner,
    run_id: str,
    to: Path,
    *,
    case_id: str | None = None,
    settings: Settings | None = None,
) -> str:
    """Add run ``run_id`` to the set in ``to`` (created if missing) as a case; return its id.
    With ``settings`` (long-term memory on), the principal's facts as they stood when the run
    started become the case's fixtures."""
    if to.suffix not in (".yaml", ".yml"):
        raise EvalSetError(f"{to}: promote adds cases to a YAML set (.yaml or .yml)")
    view = runner.get(run_id)
    status = status_of(view)
    if status not in ("completed", "failed", "stopped", "waiting"):
        raise RunStateError(
            f"run {run_id} has not ended (status {view.status}): promote it once it has ended "
            "or waits for a person"
        )
    existing = load_task_set(to) if to.exists() else None
    taken = {c.id for c in existing.cases} if existing else set()
    case_id = case_id or _slug(view.record.task, run_id)
    if case_id in taken:
        raise EvalSetError(f"{to} already has a case {case_id!r}: give another one with --id")
    scripts = to.parent / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    script_path = scripts / f"{case_id}.yaml"
    script_path.write_text(_script_of(view), encoding="utf-8")
    case = _case(view, status, case_id, f"scripts/{script_path.name}")
    facts = asyncio.run(_facts_then(settings, view)) if settings is not None else []
    if facts:
        case.setdefault("fixtures", {})["facts"] = facts
    _append(to, case, existing is None)
    load_task_set(to)  # what was written reads back as a set
    return case_id


async def _facts_then(settings: Settings, view: RunView) -> list[dict[str, str]]:
    """The principal's own facts (for the run's agent) as they stood when the run started:
    the versions valid then, read from the facts store's history."""
    from agentlab.memory.facts import SELF, open_facts
    from agentlab.memory.keyvalue import memory_path

    if not settings.memory.enabled:
        return []
    if settings.database_url is None and not memory_path(settings).is_file():
        return []  # no fact was ever stored here
    started = datetime.fromisoformat(view.record.created_at)
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    async with open_facts(settings) as store:
        versions = await store.history(view.record.agent_name, view.record.principal)
    return [
        {"key": f.key, "value": f.value}
        for f in versions
        if f.subject == SELF
        and f.valid_from.replace(microsecond=0) <= started  # the run's start is to the second
        and (f.valid_to is None or started < f.valid_to.replace(microsecond=0))
    ]


def _slug(task: str, run_id: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", task.lower()).strip("-")[:40].strip("-")
    return f"{words or 'run'}-{run_id.removeprefix('run-')[:6]}"


def _case(view: RunView, status: str, case_id: str, script: str) -> dict[str, Any]:
    state = view.state
    record = view.record
    results = state.get("results", [])
    decisions: list[Any] = []
    for approval in state.get("approvals", []):
        if approval.get("approved"):
            edited = approval.get("arguments")
            decisions.append({"answer": "approve", "arguments": edited} if edited else "approve")
        else:
            decisions.append("reject")
    if status == "stopped" and decisions:
        decisions[-1] = "stop"
    checks: dict[str, Any] = {
        "status": status,
        "tools": {
            "mode": "strict",
            "calls": [{"tool": r["tool"], "arguments": dict(r["arguments"])} for r in results],
        },
        "approvals": len(state.get("approvals", [])) + len(view.requests),
    }
    if state.get("reply"):
        checks["reply"] = {"contains": []}
    case: dict[str, Any] = {
        "id": case_id,
        "description": (
            f"promoted from run {record.run_id} on {time.strftime('%Y-%m-%d')}: its checks say "
            "what happened; edit them to what should happen"
        ),
        "principal": record.principal,
        "message": record.task,
        "script": script,
    }
    if decisions:
        case["decisions"] = decisions
    if record.options:
        case["fixtures"] = {"options": dict(record.options)}
    case["checks"] = checks
    case["tags"] = ["promoted"]
    return case


def _script_of(view: RunView) -> str:
    """The run's script: the one it replayed, or what its models answered, role by role."""
    models = view.record.models or {}
    if models.get("kind") == "scripted" and models.get("script"):
        path = Path(models["script"])
        if path.is_file():
            return dump_script(load_script(path))
    roles: dict[str, list[dict[str, Any]]] = {}
    for entry in view.state.get("transcript", []):
        role = _NODE_ROLES.get(entry.get("node", ""), "executor")
        message = entry.get("message") or {}
        if message.get("role") != "assistant" or role == "responder":
            continue
        turn: dict[str, Any] = {}
        texts = [b["text"] for b in message.get("content", []) if b.get("type") == "text"]
        uses = [
            {"name": b["name"], "input": b["input"]}
            for b in message.get("content", [])
            if b.get("type") == "tool_use"
        ]
        if texts:
            turn["text"] = "\n".join(texts)
        if uses:
            turn["tool_uses"] = uses
        if turn:
            roles.setdefault(role, []).append(turn)
    calls = view.state.get("model_calls", [])
    if view.state.get("reply") and any(c.get("role") == "responder" for c in calls):
        roles["responder"] = [{"text": view.state["reply"]}]
    for role in ("planner", "executor", "validator"):
        roles.setdefault(role, [])
    text = yaml.safe_dump(
        {
            "version": 1,
            "description": f"what the models of run {view.record.run_id} answered",
            "roles": roles,
        },
        sort_keys=False,
        allow_unicode=True,
    )
    parse_script(text, source=f"the script of run {view.record.run_id}")
    return text


def _append(to: Path, case: dict[str, Any], new: bool) -> None:
    dumped = yaml.safe_dump([case], sort_keys=False, allow_unicode=True, width=100)
    if new:
        to.parent.mkdir(parents=True, exist_ok=True)
        head = yaml.safe_dump({"version": 1, "name": to.stem}, sort_keys=False)
        to.write_text(f"{head}cases:\n{_indent(dumped)}", encoding="utf-8")
        return
    original = to.read_text(encoding="utf-8")
    to.write_text(original.rstrip("\n") + "\n" + _indent(dumped), encoding="utf-8")
    try:
        load_task_set(to)
    except AgentlabError:  # its cases are not the file's last block: the file is left as it was
        to.write_text(original, encoding="utf-8")
        aside = to.with_name(f"{to.stem}.{case['id']}.yaml")
        aside.write_text(_indent(dumped), encoding="utf-8")
        raise EvalSetError(
            f"{to} does not end with its list of cases, so the case could not be added at its "
            f"end: it is in {aside}, to paste under 'cases:' by hand"
        ) from None


def _indent(text: str) -> str:
    return "".join(f"  {line}" if line.strip() else line for line in text.splitlines(True))


__all__ = ["promote_run"]
