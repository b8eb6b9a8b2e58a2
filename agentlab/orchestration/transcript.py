"""The run's transcript: the conversation a model could be sent, built as the run goes.

Each model answer is followed by a user message answering its tool-use blocks, so the transcript
stays a valid Messages API conversation.
"""

from __future__ import annotations

import json
from typing import Any

from agentlab.models.base import ModelResponse
from agentlab.models.messages import Message, tool_result_block, user
from agentlab.orchestration.state import PendingCall, TranscriptEntry

# Tool results kept in the transcript are cut at this length; the full output is in ``results``.
_TRANSCRIPT_CHARS = 4000


def clip(text: str) -> str:
    return text if len(text) <= _TRANSCRIPT_CHARS else text[: _TRANSCRIPT_CHARS - 1] + "…"


def entry(node: str, message: Message) -> TranscriptEntry:
    return TranscriptEntry(node=node, message=message)


def answer(
    node: str, response: ModelResponse, text: str, *, is_error: bool = False
) -> list[TranscriptEntry]:
    """A user message answering each tool-use block of ``response`` with ``text``, so the
    transcript stays a valid conversation; none if the model called no tool."""
    blocks = [tool_result_block(c.id, text, is_error=is_error) for c in response.tool_calls]
    return [entry(node, user(*blocks))] if blocks else []


def call_result(
    node: str, pending: PendingCall, content: Any, *, is_error: bool
) -> list[TranscriptEntry]:
    """The transcript entry of a call's result: a tool result answering the executor model's
    tool-use block, or, for a call the plan bound itself, a line of text."""
    shown = clip(content if isinstance(content, str) else json.dumps(content, default=str))
    if pending["tool_use_id"] is not None:
        message = user(tool_result_block(pending["tool_use_id"], shown, is_error=is_error))
    else:
        args = json.dumps(pending["arguments"], default=str)
        status = "failed" if is_error else "returned"
        message = user(f"Step {pending['step_id']} {pending['tool']}({args}) {status}: {shown}")
    return [entry(node, message)]
