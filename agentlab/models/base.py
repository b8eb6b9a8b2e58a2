"""The one narrow interface every model provider implements.

A node builds a ``ModelRequest`` and gets a ``ModelResponse`` back, with the tokens it used.
Providers (Claude through the ``anthropic`` SDK, the scripted model) implement ``Model``; the router
maps roles to them. Nothing above this layer knows which provider answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable


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
class Message:
    """One text message of a prompt."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """Everything a provider needs for one call.

    ``tool_choice`` names a tool the model must call (structured output), or is ``None`` to let the
    model decide. ``sequence`` counts the earlier calls for this role in the same run; a scripted
    model replays by it, so a run resumed in a new process picks up at the right turn.
    """

    role: Role
    system: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None
    max_tokens: int = 1024
    sequence: int = 0


@dataclass(frozen=True, slots=True)
class ModelResponse:
    """A model's answer: its text, the tools it called, and what the call used."""

    model: str
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    latency_s: float = 0.0
    scripted: bool = False

    def tool_call(self, name: str) -> ToolCall | None:
        """The first call of the tool ``name``, if the model made one."""
        return next((c for c in self.tool_calls if c.name == name), None)


@runtime_checkable
class Model(Protocol):
    """A model provider. Implementations raise ``ModelUnavailableError`` when they cannot answer."""

    @property
    def name(self) -> str:
        """The model's identifier, as pricing and traces name it."""
        ...

    def request(self, request: ModelRequest) -> ModelResponse:
        """Send one request and return the model's response."""
        ...
