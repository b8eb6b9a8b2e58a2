"""A tool call as it travels: proposed, then prepared (decided once), then run.

``CallRequest`` is what the graph (or an MCP client) proposes. ``ToolExecutor.prepare`` turns it
into a ``PreparedCall``: the tool, its validated canonical arguments (defaults applied, as JSON
data), the call's hash and the policy's decision, made once. That object is what a person approves
(bound by its hash), what is stored with a waiting call, and what execution checks against: it
re-checks the hash and asks the policy once more, nothing else. ``ToolRun`` is what happened.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import to_jsonable_python

from agentlab.tools.policy import PolicyDecision, Verdict
from agentlab.tools.tool import Tool, ToolOutcome


def canonical_arguments(arguments: Any) -> Any:
    """``arguments`` as plain JSON data (validated values such as enums become their JSON)."""
    return to_jsonable_python(arguments, fallback=str)


def call_hash(tool: str, arguments: Any) -> str:
    """A short stable hash of a call: its tool and canonical arguments (key order ignored)."""
    text = json.dumps(
        {"tool": tool, "arguments": canonical_arguments(arguments)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class CallRequest:
    """A call proposed for ``call_id`` (unique and stable within the run: the step id).

    ``planned_destructive`` and ``estimated_cost_usd`` are what the planner said of the step;
    ``untrusted_sources`` names the tools whose output a model had seen when it produced the
    arguments (tool output is untrusted: it may carry instructions).
    """

    call_id: str
    tool: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    planned_destructive: bool = False
    estimated_cost_usd: float = 0.0
    untrusted_sources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PreparedCall:
    """A call decided once: ``tool`` (as the policy describes it), ``arguments`` validated and
    canonical (what the tool receives, what the policy judged, what is journaled), ``call_hash``
    naming them, and the policy's ``decision`` with its reasons."""

    request: CallRequest
    tool: Tool
    arguments: dict[str, Any]
    call_hash: str
    decision: PolicyDecision

    @property
    def call_id(self) -> str:
        return self.request.call_id

    @property
    def asks(self) -> bool:
        """A human must approve it before it runs."""
        return self.decision.verdict is Verdict.ASK


@dataclass(frozen=True, slots=True)
class CallScope:
    """Who a call is made for: the run, its principal and session, the agent's deps, and the
    lease token of the process advancing the run (``None`` where runs are not leased) with the
    run's fencing token (0 where runs are not leased), and the agent's long-term memory
    (``agentlab.memory.LongTermMemory``, or ``None``)."""

    run_id: str
    principal: str = ""
    session: str | None = None
    deps: Any = None
    lease: str | None = None
    fence: int = 0
    memory: Any = None


@dataclass(frozen=True, slots=True)
class ToolRun:
    """What became of a call: its ``outcome``; what the journal did (``refused``: never started,
    ``ran``, ``replayed``: journaled before, ``rerun``: an attempt of unknown effect run again,
    ``recorded``: a human said it happened); the decision of the second lock (``None``: refused
    before the policy was asked); whether a human had approved the call; how long it took."""

    outcome: ToolOutcome
    journal: str
    decision: PolicyDecision | None
    approved: bool = False
    duration_s: float = 0.0


class CallRefused(Exception):  # noqa: N818 - a refusal is data, not a failure of agentlab
    """A call that cannot be prepared: its tool is unknown or its arguments are invalid. The
    message is what the model that proposed it is shown."""


class UnknownTool(CallRefused):
    """The call names a tool the agent does not have (any more: a toolset's tools can change
    between the plan and the call)."""


class NeedsApproval(Exception):  # noqa: N818 - a condition the run handles, not a failure
    """The policy, asked again right before a call ran, wants a human to approve it (its answer
    changed since the call was prepared): the call was not run; the run pauses for a person."""

    def __init__(self, decision: PolicyDecision) -> None:
        super().__init__(", ".join(decision.reasons) or "the policy asks a human")
        self.decision = decision
