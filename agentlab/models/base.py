"""The one narrow interface every model provider implements.

A node builds a ``ModelRequest`` and awaits a ``ModelResponse``: content blocks plus the tokens the
call used. Providers (Claude through the ``anthropic`` SDK, the scripted model) implement ``Model``;
wrappers (``FallbackModel``) implement it too, around another model; the router maps roles to them.
Nothing above this layer knows which provider answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from agentlab.models.messages import Block, Message, text_of


class Role(StrEnum):
    """The sub-tasks of a run, each routed to its own model."""

    PLANNER = "planner"
    EXECUTOR = "executor"
    VALIDATOR = "validator"


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


@dataclass(frozen=True, slots=True)
class CallInfo:
    """Which run a call belongs to, and where in it.

    The same on every execution of the same call (a resumed run asks again with the same info), so
    wrappers can attribute and label it (tracing, ledgers, budgets) and a replaying model can find
    its answer. ``index`` counts the earlier calls of the same role in the run.
    """

    run_id: str = ""
    principal: str = ""
    index: int = 0


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """Everything a provider needs for one call.

    ``tool_choice`` names a tool the model must call (structured output), or is ``None`` to let the
    model decide. ``messages`` are content-block messages, as the Messages API takes them.
    """

    role: Role
    system: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None
    max_tokens: int = 1024
    call: CallInfo = field(default_factory=CallInfo)


@dataclass(frozen=True, slots=True)
class ModelResponse:
    """A model's answer: its content blocks and what the call used.

    ``provider`` says who answered (``anthropic``, ``scripted``...), ``model`` which model;
    ``fallbacks`` lists the models that were tried first and could not answer.
    """

    model: str
    provider: str
    content: tuple[Block, ...] = ()
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    latency_s: float = 0.0
    fallbacks: tuple[str, ...] = ()

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


@runtime_checkable
class Model(Protocol):
    """A model provider. Implementations raise ``ModelUnavailableError`` when they cannot answer
    (``ModelOverloadedError`` when another model might)."""

    @property
    def name(self) -> str:
        """The model's identifier, as pricing and traces name it."""
        ...

    async def request(self, request: ModelRequest) -> ModelResponse:
        """Send one request and return the model's response."""
        ...
