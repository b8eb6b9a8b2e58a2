"""Messages made of content blocks, in the shape of the Anthropic Messages API.

A message is plain data (``TypedDict``s of JSON types): text, tool-use and tool-result blocks. A
run's transcript is a list of them, so it can be checkpointed, read by any process, and sent back
to a model unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict


class TextBlock(TypedDict):
    type: Literal["text"]
    text: str


class ToolUseBlock(TypedDict):
    """A model's request to call a tool (arguments not yet validated)."""

    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(TypedDict):
    """The answer to a ``tool_use`` block with the same id; ``is_error`` marks a failed call."""

    type: Literal["tool_result"]
    tool_use_id: str
    content: str
    is_error: NotRequired[bool]


Block = TextBlock | ToolUseBlock | ToolResultBlock


class Message(TypedDict):
    """One turn of a conversation: who spoke and the blocks they said."""

    role: Literal["user", "assistant"]
    content: list[Block]


def text_block(text: str) -> TextBlock:
    return TextBlock(type="text", text=text)


def tool_use_block(id: str, name: str, arguments: dict[str, Any]) -> ToolUseBlock:
    return ToolUseBlock(type="tool_use", id=id, name=name, input=dict(arguments))


def tool_result_block(tool_use_id: str, content: Any, *, is_error: bool = False) -> ToolResultBlock:
    """A result block; non-text content is sent as JSON."""
    text = content if isinstance(content, str) else json.dumps(content, default=str)
    block = ToolResultBlock(type="tool_result", tool_use_id=tool_use_id, content=text)
    if is_error:
        block["is_error"] = True
    return block


def user(*content: str | Block) -> Message:
    """A user message; plain strings become text blocks."""
    return Message(role="user", content=_blocks(content))


def assistant(*content: str | Block) -> Message:
    """An assistant message; plain strings become text blocks."""
    return Message(role="assistant", content=_blocks(content))


def text_of(blocks: Sequence[Block]) -> str:
    """The text blocks joined, without tool blocks."""
    return "".join(b["text"] for b in blocks if b["type"] == "text")


def _blocks(content: Iterable[str | Block]) -> list[Block]:
    return [text_block(c) if isinstance(c, str) else c for c in content]
