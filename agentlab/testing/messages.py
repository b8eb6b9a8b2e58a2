"""The Messages API's wire format, as ``AnthropicTestServer`` speaks it: the real API's first
checks of a request, the message a scripted turn answers with, and that message as an SSE stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from agentlab.models.script import Turn
from agentlab.testing.prompt_cache import is_breakpoint

_CHUNKS = 3
_MAX_BREAKPOINTS = 4  # the API refuses a request with more cache_control blocks


def validate(body: dict[str, Any]) -> str | None:
    """The real API's first checks, with its wording: the required fields and their types."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        return "max_tokens: Field required"
    if max_tokens < 1:
        return "max_tokens: Input should be greater than or equal to 1"
    messages = body.get("messages")
    if not isinstance(messages, list):
        return "messages: Field required"
    if not messages:
        return "messages: at least one message is required"
    marked = sum(map(is_breakpoint, _blocks(body)))
    if marked > _MAX_BREAKPOINTS:
        return (
            f"A maximum of {_MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {marked}."
        )
    return None


def _blocks(body: Mapping[str, Any]) -> Iterator[Any]:
    """The tools, system blocks and message content blocks of a request, in prompt order."""
    for key in ("tools", "system"):
        if isinstance(body.get(key), list):
            yield from body[key]
    for message in body.get("messages") or []:
        if isinstance(message, dict) and isinstance(message.get("content"), list):
            yield from message["content"]


def message(
    turn: Turn,
    message_id: str,
    model: str,
    index: int,
    input_usage: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The answer ``turn`` scripts; ``input_usage`` replaces its input-token counts."""
    content: list[dict[str, Any]] = []
    if turn.text is not None:
        content.append({"type": "text", "text": turn.text})
    uses = turn.all_tool_uses()
    for i, use in enumerate(uses):
        content.append(
            {
                "type": "tool_use",
                "id": use.id or f"toolu_test_{index:03d}_{i}",
                "name": use.name,
                "input": dict(use.input),
            }
        )
    u = turn.usage
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": turn.stop_reason or ("tool_use" if uses else "end_turn"),
        "stop_sequence": None,
        "usage": {
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cache_creation_input_tokens": u.cache_creation_input_tokens,
            "cache_read_input_tokens": u.cache_read_input_tokens,
            **(input_usage or {}),
        },
    }


def broken(fault: str, body: Mapping[str, Any], message_id: str) -> dict[str, Any]:
    """The answer to ``body`` that the answer fault ``fault`` sends (``handler`` encodes it):
    a tool-use input that is not an object, a block of no known type, or a text answer (cut
    short, in the wrong format, or ignoring ``tool_choice``)."""
    choice = body.get("tool_choice")
    forced = choice.get("name") if isinstance(choice, dict) else None
    content: dict[str, Any]
    if fault == "bad_tool_input":
        name = forced or "a_tool"
        content = {"type": "tool_use", "id": "toolu_fault", "name": name, "input": "INVALID"}
    elif fault == "unknown_block":
        content = {"type": "hologram", "data": "a block of a type the API does not have"}
    else:
        content = {"type": "text", "text": f"{fault}: an answer in prose, without the tool"}
    tool_use = content["type"] == "tool_use"
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": str(body.get("model")),
        "content": [content],
        "stop_reason": "tool_use" if tool_use else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }


def sse(message: dict[str, Any]) -> bytes:
    """The message as the real API streams it: start, ping, blocks as deltas, stop reason, stop."""
    usage = message["usage"]
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {**usage, "output_tokens": min(1, usage["output_tokens"])},
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("ping", {"type": "ping"}),
    ]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            first: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": part} for part in _split(block["text"])]
        elif block["type"] != "tool_use":  # a block whose type has no deltas: as it is
            first, deltas = block, []
        else:
            first = {**block, "input": {}}
            raw = json.dumps(block["input"])
            # An input that is no object (a broken answer) arrives whole: its pieces would not
            # parse as the start of one, and the SDK would fail on the first of them.
            parts = _split(raw) if isinstance(block["input"], dict) else [raw]
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in ["", *parts]]
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": first},
            )
        )
        events.extend(
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
            for d in deltas
        )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


def _split(text: str) -> Iterator[str]:
    """``text`` in up to ``_CHUNKS`` non-empty pieces, as a stream would deliver it."""
    if not text:
        return
    size = max(1, -(-len(text) // _CHUNKS))
    for i in range(0, len(text), size):
        yield text[i : i + size]


COUNT_CHARS = 4
"""Characters per token of the test server's token counts."""


def count_tokens(body: Mapping[str, Any]) -> int:
    """The test server's count of a request's input tokens: its tools, system and messages as
    compact JSON, one token per ``COUNT_CHARS`` characters."""
    prompt = {k: body.get(k) or [] for k in ("tools", "system", "messages")}
    text = json.dumps(prompt, separators=(",", ":"), ensure_ascii=False)
    return -(-len(text) // COUNT_CHARS)
