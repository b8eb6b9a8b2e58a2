"""The run state: what a checkpoint holds.

Growing logs (the transcript, results, transitions, model calls, approvals) and the plan are
``DeltaChannel``s: a checkpoint stores only the new entries, not a fresh copy of the history, so
storage grows linearly with the run and the per-step cost does not grow with its length. Everything
is plain data (TypedDicts of JSON types) so checkpoints stay readable by any process.
"""

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any, NotRequired

from langgraph.channels import DeltaChannel
from typing_extensions import TypedDict

from agentlab.errors import AgentlabError
from agentlab.memory.conversation import ConversationTurn, Summary
from agentlab.models.calls import ModelCallRecord
from agentlab.models.messages import Message, user
from agentlab.tools.journal import Resolution
from agentlab.tools.tool import ToolOutcome


class Status(StrEnum):
    """Where a run is. The state stores the plain string value, so any process can read it."""

    PLANNING = "planning"
    EXECUTING = "executing"
    VALIDATING = "validating"
    AWAITING_HUMAN = "awaiting_human"
    COMPLETED = "completed"
    FAILED = "failed"


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED})


class PlanStep(TypedDict):
    """One step of a plan: the tool it calls and what the planner knows of its cost and risk."""

    id: str
    description: str
    tool: str
    arguments: dict[str, Any]
    destructive: bool
    estimated_cost_usd: float
    depends_on: NotRequired[list[str] | None]
    """The ids of the steps whose results it needs; ``None``: the step before it (``schedule``)."""


class PendingCall(TypedDict):
    """The concrete call of a step of the plan, prepared (decided once) but not yet run.

    ``arguments`` are canonical (validated, defaults applied: what the tool receives and the
    policy judged); ``call_hash`` names the call (tool and canonical arguments): approvals are
    bound to it; ``verdict``, ``reasons`` and ``rule`` are the policy's decision at prepare;
    ``approval_reasons`` say why the call waits for a human (empty when it may run without one).
    ``tool_use_id`` is the executor model's tool-use block the call came from, if a model made it
    (its result answers that block). ``unknown_attempt`` is set while a human is asked about an
    attempt whose effect is unknown (it started before a crash and left no outcome);
    ``resolution`` is their answer.
    """

    step_id: str
    tool: str
    arguments: dict[str, Any]
    approval_reasons: list[str]
    tool_use_id: str | None
    call_hash: str
    verdict: NotRequired[str]
    reasons: NotRequired[list[str]]
    rule: NotRequired[str | None]
    refused: NotRequired[str]
    """Why the call cannot run: the arguments the executor model gave do not fit the tool
    (it is settled as failed when the step runs, never started)."""
    unknown_attempt: NotRequired[int | None]
    resolution: NotRequired[Resolution | None]
    untrusted_sources: NotRequired[list[str]]
    """The tools whose output a model had seen when it produced these arguments."""
    approved: NotRequired[bool]
    """A human approved this very call (``approvals`` holds the record)."""
    approvers: NotRequired[list[str] | None]
    """Who may approve the call, where the policy names them."""
    self_approval: NotRequired[bool]
    """Whether the run's principal may approve it (the policy may forbid it if destructive)."""
    proposal: NotRequired[Message | None]
    """The executor model's message that made the call: it joins the transcript with the
    call's result, so the transcript stays a valid conversation while calls run concurrently."""


class StepResult(TypedDict):
    step_id: str
    tool: str
    arguments: dict[str, Any]
    outcome: ToolOutcome


class Transition(TypedDict):
    """A change of status and why it happened."""

    source: str
    target: str
    node: str
    reason: str
    iteration: int


class Approval(TypedDict):
    """A human's decision, on the call ``call_hash`` names."""

    step_id: str
    tool: str
    approved: bool
    note: str
    call_hash: NotRequired[str]
    arguments: NotRequired[dict[str, Any]]
    """The arguments as the approver edited them, if they did."""
    by: NotRequired[str]
    """Who decided: an OS user, or an authenticated caller's principal."""
    via: NotRequired[str]
    """How: ``terminal`` (asked at a prompt), ``flag`` (a command's option), ``notebook``,
    ``server`` (a LangGraph server's caller), ``api`` (code calling the Runner)."""


class PolicyRecord(TypedDict):
    """What the policy decided of a call, for whom, and by which rule(s)."""

    step_id: str
    tool: str
    call_hash: str
    principal: str
    verdict: str
    reasons: list[str]
    rule: str | None


class Escalation(TypedDict):
    """A role escalated to its stronger model: from which model to which, and why; ``step_id``
    is the step whose arguments the executor's escalation was for."""

    role: str
    from_model: str
    to_model: str
    reason: str
    step_id: NotRequired[str]


def counted_as(role: str, *, escalated: bool = False) -> str:
    """The key of ``calls_per_role`` counting ``role``'s calls: its escalated calls are counted
    apart (their own sequence of indices), under ``role:escalated``."""
    return f"{role}:escalated" if escalated else role


class TranscriptEntry(TypedDict):
    """A message of the run's transcript and the node that added it.

    The message is wrapped: LangGraph turns bare message-like dicts in a ``DeltaChannel`` into
    LangChain messages, and the transcript must stay plain Messages API data.
    """

    node: str
    message: Message


def transcript_messages(state: Mapping[str, Any]) -> list[Message]:
    """The run's transcript as Messages API messages, ready to send to a model."""
    return [entry["message"] for entry in state.get("transcript", [])]


# A full copy of a log is written every this many updates, bounding how many writes a resume
# replays; LangGraph's default (100) makes the copies dominate storage on long runs.
_SNAPSHOT_EVERY = 1000


def _append(current: list[Any], writes: Sequence[list[Any]]) -> list[Any]:
    """Concatenate batches of new entries (batching-invariant, as DeltaChannel requires)."""
    out = list(current)
    for batch in writes:
        out.extend(batch)
    return out


def _latest(current: list[Any], writes: Sequence[list[Any]]) -> list[Any]:
    """The last value written wins (used for the plan, replaced on every planning round)."""
    return list(writes[-1]) if writes else current


def _latest_value(current: Any, writes: Sequence[Any]) -> Any:
    """The last value written wins (written once per turn)."""
    return writes[-1] if writes else current


def _latest_map(current: dict[str, Any], writes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The last mapping written wins (written once per planning round)."""
    return dict(writes[-1]) if writes else current


def _merge(current: dict[str, Any], writes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Later entries win, key by key (batching-invariant, as DeltaChannel requires). A list (a
    run checkpointed when ``failed_calls`` was one) becomes its entries, from no round."""
    out = dict(current) if isinstance(current, Mapping) else dict.fromkeys(current or (), 0)
    for batch in writes:
        out.update(batch)
    return out


class Recalled(TypedDict):
    """What of its conversation a turn works with: the running summary, and the recent turns
    since it (oldest first), which each model call takes as many of as fit its budget; what it
    recalls of long-term memory (``memory``: texts for the memory slot, best first;
    ``memory_sources``: those holding tool output, as untrusted sources; ``recollections``:
    their ids and scores)."""

    summary: Summary | None
    turns: list[ConversationTurn]
    memory: NotRequired[list[str]]
    memory_sources: NotRequired[list[str]]
    recollections: NotRequired[list[dict[str, Any]]]


class AgentState(TypedDict):
    task: str
    """What the user asked: the run's task, or its turn's message."""
    message: NotRequired[str]
    """The message a caller gave instead of a task (a LangGraph server's client), taken as the
    task by ``begin`` and cleared, so the next run on the thread takes its own."""
    principal: NotRequired[str]
    started_by: NotRequired[str]
    """Who started the run: its principal, or who acted as it (``--as``)."""
    session: NotRequired[str]
    status: str  # a Status value
    iterations: int
    plan: Annotated[list[PlanStep], DeltaChannel(_latest)]
    plan_round: int
    unblocks: NotRequired[Annotated[dict[str, list[str]], DeltaChannel(_latest_map)]]
    """For each step of the current plan, the later steps that depend on it (``schedule``):
    what to look at when it settles, instead of the whole plan."""
    settled: Annotated[dict[str, str], DeltaChannel(_merge, snapshot_frequency=_SNAPSHOT_EVERY)]
    """How each finished step ended (``schedule.Settled`` values), by step id (ids are never
    reused in a run, so the entries of earlier plans stay apart)."""
    ready: NotRequired[list[str]]
    """Steps of the current plan whose dependencies all succeeded, not yet bound to a call."""
    calls: list[PendingCall]
    """Steps of the current plan bound to a call and not settled, in plan order: to run now,
    or waiting for a human."""
    feedback: str
    outcome: str
    calls_per_role: dict[str, int]
    """Per role, how many calls its model has made (the next call's index); escalated calls
    apart (``counted_as``). A session's runs keep counting on."""
    escalations: NotRequired[list[Escalation]]
    """The run's escalations to a role's stronger model, in order: a planner escalation holds
    for the rest of the run; each executor escalation is for one step."""
    first_round: NotRequired[int]
    """The planning round before this run's first (rounds keep counting across the runs of a
    thread): what ``failed_calls`` of this run are told apart by."""
    failed_calls: NotRequired[Annotated[dict[str, int], DeltaChannel(_merge)]]
    """Hashes of tool calls that failed, with the planning round they failed in, so the same call
    is not run twice in a run."""
    forced_misses: NotRequired[dict[str, int]]
    """Per role, how many of its model's answers in a row came without the tool the request
    forced (``tool_choice``): the second in a row ends the run (``nodes.common``)."""
    plan_sources: NotRequired[list[str]]
    """The tools whose output the planner had seen when it made the current plan."""
    results: Annotated[list[StepResult], DeltaChannel(_append, snapshot_frequency=_SNAPSHOT_EVERY)]
    transitions: Annotated[
        list[Transition], DeltaChannel(_append, snapshot_frequency=_SNAPSHOT_EVERY)
    ]
    model_calls: Annotated[
        list[ModelCallRecord], DeltaChannel(_append, snapshot_frequency=_SNAPSHOT_EVERY)
    ]
    approvals: Annotated[list[Approval], DeltaChannel(_append)]
    policy_decisions: NotRequired[Annotated[list[PolicyRecord], DeltaChannel(_append)]]
    transcript: Annotated[
        list[TranscriptEntry], DeltaChannel(_append, snapshot_frequency=_SNAPSHOT_EVERY)
    ]
    """The run as a conversation of content-block messages, which a model can be sent unchanged."""
    turn: NotRequired[int]
    """The run's place in its conversation: 1 for a session's first turn."""
    recalled: NotRequired[Annotated[Recalled, DeltaChannel(_latest_value)]]
    """The conversation so far as this turn sees it (``recall``); empty outside one."""
    history: NotRequired[Annotated[list[ConversationTurn], DeltaChannel(_append)]]
    """The turns of a conversation kept on its thread (a LangGraph server's thread is a
    session); a Runner's sessions keep them in the runs database instead."""
    summary: NotRequired[Summary | None]
    """The running summary of a conversation kept on its thread."""
    reply: NotRequired[str]
    """What the agent answers the user, written when the run ends (``respond``)."""
    replied: NotRequired[bool]
    """Whether ``respond`` has ended the run: its reply given, its turn stored."""
    no_model_reply: NotRequired[str]
    """Why the reply is written from the record, without a model (the models are down)."""
    prompt_version: NotRequired[str]
    """The version of the system prompts the run started with (``recall``): ``builtin``, or a
    prompt directory's (``prompt_book.py``)."""
    trace: NotRequired[dict[str, str] | None]
    """The context of the run's root span (W3C ``traceparent``), set by ``begin`` when tracing
    is on: whoever continues the run, in any process, parents its spans under it."""


class RunInput(TypedDict):
    """What a caller gives to start a run (the graph's input schema): the user's ``message``
    (a turn of the thread's conversation) or, the same, a ``task``; optionally its session when
    no run context says so. Who the run acts for is never input: it is the run context's
    principal (a served run's authenticated caller)."""

    task: NotRequired[str]
    message: NotRequired[str]
    session: NotRequired[str]


class RunOutput(TypedDict):
    """What a finished (or paused) run answers (the graph's output schema): its status, the
    validator's outcome, the reply to the user (once the run has ended), its plan and results."""

    status: str
    outcome: str
    reply: NotRequired[str]
    plan: list[PlanStep]
    results: list[StepResult]


def initial_state(task: str) -> RunInput:
    """The input that starts a run."""
    return RunInput(task=task)


def begin_state(run: Mapping[str, Any]) -> dict[str, Any]:
    """The whole state of a run that starts with ``run``: what the ``begin`` node writes.

    Planning rounds keep counting from an earlier run on the same thread (a LangGraph server
    runs many on one thread), so step ids, which key the tool journal, are never reused.
    """
    plan_round = int(run.get("plan_round") or 0)
    task = str(run.get("message") or run.get("task") or "").strip()
    if not task:
        raise AgentlabError("the input has no message (or task): say what the agent should do")
    return {
        "task": task,
        "message": "",
        "status": Status.PLANNING.value,
        "iterations": 0,
        "plan": [],
        "plan_round": plan_round,
        "first_round": plan_round,
        "ready": [],
        "calls": [],
        "feedback": "",
        "outcome": "",
        "calls_per_role": {},
        "forced_misses": {},
        "escalations": [],
        "reply": "",
        "replied": False,
        "no_model_reply": "",
        "transcript": [TranscriptEntry(node="begin", message=user(task))],
    }
