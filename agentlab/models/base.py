"""The one narrow interface every model provider implements.

A node builds a ``ModelRequest`` and awaits a ``ModelResponse``: content blocks, the tokens the
call used and what they cost. Providers (Claude through the ``anthropic`` SDK, the scripted model)
implement ``Model``; wrappers implement it too, around another model (``wrappers.py``: retries,
fallback, budgets; tracing wraps from the observability layer), and stack per role; the router maps
roles to the stacks. Nothing above this layer knows which provider answered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agentlab.models.messages import Block, Message, text_of

if TYPE_CHECKING:
    from agentlab.models.pricing import Pricing


class Role(StrEnum):
    """The sub-tasks of a run, each routed to its own model."""

    PLANNER = "planner"
    EXECUTOR = "executor"
    VALIDATOR = "validator"
    RESPONDER = "responder"
    """Writes the reply to the user at the end of every turn."""
    SUMMARIZER = "summarizer"
    """Folds a conversation's older turns into its running summary."""
    JUDGE = "judge"
    """Grades an agent's output against a rubric, for evals (never asked during a run)."""


REQUIRED_ROLES = (Role.PLANNER, Role.EXECUTOR, Role.VALIDATOR)
"""The roles every router must serve; without a responder (or summarizer) model the reply (or
summary) is written from the run's record, without a model; only evals ask the judge."""

ESCALATING_ROLES = (Role.PLANNER, Role.EXECUTOR)
"""The roles that may escalate to a stronger model (``ModelRouter.escalations``): the planner
once validation finds the task unfinished, the executor when its arguments do not fit the tool."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one model call used; cache tokens are reported apart from plain input tokens."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    @property
    def total(self) -> int:
        """Every token the call used: input, output, cache read and cache write."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """What a model is told about a tool: its name, a prompt-like description and a JSON schema."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool the model asked to call, with the arguments it chose (not yet validated)."""

    id: str
    name: str
    arguments: dict[str, Any]


class Account(Protocol):
    """What a call is charged to: a run's budgets and cost ledger (``BudgetedModel`` asks it).

    ``reserve`` holds the call's worst case before it is made (or raises the error saying which
    ceiling it could cross: then the call is not made); ``settle`` records what the call used;
    ``release`` gives back the hold of a call that failed.
    """

    async def reserve(self, request: ModelRequest, pricing: Pricing) -> object: ...

    async def settle(
        self, hold: object, request: ModelRequest, response: ModelResponse
    ) -> None: ...

    async def release(self, hold: object) -> None: ...


@dataclass(frozen=True, slots=True)
class CallInfo:
    """Which run a call belongs to, and where in it.

    The same on every execution of the same call (a resumed run asks again with the same info), so
    wrappers can attribute and label it (tracing, ledgers, budgets) and a replaying model can find
    its answer. ``index`` counts the earlier calls of the same role in the run (of its escalated
    calls, for an escalated one); ``phase`` is the part of the run it serves (plan, replan,
    prepare, validate); ``escalation`` says why the call goes to the role's stronger model
    (``""``: it does not); ``account`` is what the call is charged to (``None``: nothing holds it
    to a budget).
    """

    run_id: str = ""
    principal: str = ""
    index: int = 0
    phase: str = ""
    account: Account | None = field(default=None, compare=False, repr=False)
    escalation: str = ""


@dataclass(frozen=True, slots=True)
class ContextReport:
    """What went into a call's context (working memory): its token budget, the tokens of each
    part (``prefix``: system prompt and tools; ``memory``; ``summary``; ``history``: the recent
    turns kept; ``current``: this call's own message), how many of the conversation's turns were
    kept whole and how many were left to the summary."""

    budget: int
    parts: tuple[tuple[str, int], ...]
    turns_kept: int = 0
    turns_summarized: int = 0

    @property
    def total(self) -> int:
        """The tokens of the whole context."""
        return sum(tokens for _, tokens in self.parts)


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """Everything a provider needs for one call.

    ``tool_choice`` names a tool the model must call (structured output), or is ``None`` to let the
    model decide. ``messages`` are content-block messages, as the Messages API takes them.
    ``attempt`` counts the attempts at this call (``RetryingModel`` sets it; 1 is the first).
    ``context`` says what went into the context, when working memory assembled it.
    ``on_text``, when set, is given the answer's text as it arrives (a provider that streams
    calls it with each piece; one that does not, with the whole text once the answer is in).
    """

    role: Role
    system: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None
    max_tokens: int = 1024
    call: CallInfo = field(default_factory=CallInfo)
    attempt: int = 1
    context: ContextReport | None = None
    on_text: Callable[[str], None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ModelResponse:
    """A model's answer: its content blocks and what the call used.

    ``provider`` says who answered (``anthropic``, ``scripted``...), ``model`` which model;
    ``cost_usd`` is what the call cost, as the model that answered prices it (``None``: its price
    is unknown, never taken as zero); ``fallbacks`` lists the models that were tried first and
    could not answer.
    """

    model: str
    provider: str
    content: tuple[Block, ...] = ()
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    latency_s: float = 0.0
    fallbacks: tuple[str, ...] = ()
    cost_usd: float | None = None

    @property
    def text(self) -> str:
        return text_of(self.content)

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(b["id"], b["name"], dict(b["input"]))
            for b in self.content
            if b["type"] == "tool_use"
        )

    def tool_call(self, name: str) -> ToolCall | None:
        """The first call of the tool ``name``, if the model made one."""
        return next((c for c in self.tool_calls if c.name == name), None)

    def message(self) -> Message:
        """The answer as an assistant message, to append to a transcript."""
        return Message(role="assistant", content=list(self.content))


class TokenCounting(Protocol):
    """A provider's own count of a request's input tokens (its token-counting endpoint)."""

    async def count(
        self, system: str, tools: Sequence[ToolSpec], messages: Sequence[Message]
    ) -> int:
        """The input tokens of a request made of ``system``, ``tools`` and ``messages``."""
        ...


@runtime_checkable
class Model(Protocol):
    """A model provider, or a wrapper around one. Implementations raise ``ModelUnavailableError``
    when they cannot answer (``ModelOverloadedError`` when another attempt or model might)."""

    @property
    def name(self) -> str:
        """The model's identifier, as traces name it."""
        ...

    def pricing(self) -> Pricing:
        """What a call will be priced as, before it is made (budgets reserve at this price)."""
        ...

    async def request(self, request: ModelRequest) -> ModelResponse:
        """Send one request and return the model's response."""
        ...
