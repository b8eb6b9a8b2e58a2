"""Claude's own token counts (the Messages API's ``count_tokens`` endpoint), for working memory.

Counting is a request of its own, so it is asked only for what is counted once and reused: a
role's stable prefix (system prompt and tools, the same on every call) and a turn's messages when
the turn is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anthropic

from agentlab.models.base import ToolSpec
from agentlab.models.messages import Message, user


class ClaudeTokenCounts:
    """``TokenCounting`` through ``client``'s ``messages.count_tokens``, as ``model`` counts."""

    def __init__(self, client: anthropic.AsyncAnthropic, model: str) -> None:
        self._client = client
        self._model = model

    async def count(
        self, system: str, tools: Sequence[ToolSpec], messages: Sequence[Message]
    ) -> int:
        params: dict[str, Any] = {
            "model": self._model,
            # The endpoint needs a message: a prefix alone is counted with the shortest one.
            "messages": list(messages) or [user(".")],
        }
        if system:
            params["system"] = system
        if tools:
            params["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.input_schema}
                for t in tools
            ]
        counted = await self._client.messages.count_tokens(**params)
        return int(counted.input_tokens)
