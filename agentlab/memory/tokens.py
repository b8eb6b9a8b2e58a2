"""How many tokens a text or a list of messages takes, estimated offline for Claude models.

Working memory fits a context into a token budget before the call is made, many times per turn,
so counting must be cheap: no tokenizer, no request to the provider. ``EstimatedTokens`` applies a
fixed rule, in pure Python:

- a text takes ``ceil(utf-8 bytes / 3.5)`` tokens (``0`` for the empty text);
- a message adds ``MESSAGE_OVERHEAD`` tokens (its role and turn markers), each block in it
  ``BLOCK_OVERHEAD`` (the block's framing);
- a text block counts its text; a ``tool_use`` block its id, its tool's name and its input as
  compact JSON; a ``tool_result`` block the id it answers and its content as text.

The estimate is additive: the count of a list of messages is the sum of the counts of its
messages, and a message's count the sum of its blocks' plus its overhead. Working memory relies on
that to make the parts of a context add up to the count of the whole.

Expected error: Claude's tokenizer averages about 3.5 to 4 characters a token in English prose,
so prose is estimated within about 15%, mostly over. JSON, code, ids and numbers split into more
tokens (up to about 30% under); non-Latin scripts count by bytes (2 to 3 a character), which is
close for most of them. Keep budgets about a quarter below the model's context window. A later
change counts with the provider's ``count_tokens`` endpoint behind the same ``TokenCounter``
protocol, where the exact figure is worth a request.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from agentlab.models.messages import Block, Message

BYTES_PER_TOKEN = 3.5
"""The UTF-8 bytes of prose a Claude token covers, on average."""
MESSAGE_OVERHEAD = 4
"""Tokens a message takes besides its blocks: its role and the markers around it."""
BLOCK_OVERHEAD = 3
"""Tokens a content block takes besides what it says: its type and framing."""
TOOL_USE_SYSTEM_TOKENS = 346
"""Tokens of the system prompt the provider adds to a request that defines tools (Anthropic's
figure for current Claude models, with ``tool_choice`` auto)."""


@runtime_checkable
class TokenCounter(Protocol):
    """Counts the tokens a model reads: of a text, and of a list of messages as a request sends
    them."""

    def text(self, text: str) -> int:
        """The tokens of ``text`` alone."""
        ...

    def messages(self, messages: Sequence[Message]) -> int:
        """The tokens of ``messages``, with their roles, blocks and framing."""
        ...


@dataclass(frozen=True, slots=True)
class EstimatedTokens:
    """The offline estimate described in this module's docstring (``bytes_per_token`` may be
    lowered for text known to be denser, such as JSON or code)."""

    bytes_per_token: float = BYTES_PER_TOKEN

    def text(self, text: str) -> int:
        """``ceil(utf-8 bytes / bytes_per_token)``."""
        if not text:
            return 0
        return math.ceil(len(text.encode("utf-8")) / self.bytes_per_token)

    def block(self, block: Block) -> int:
        """The tokens of one content block, its overhead included."""
        if block["type"] == "text":
            said = self.text(block["text"])
        elif block["type"] == "tool_use":
            arguments = json.dumps(block["input"], separators=(",", ":"), default=str)
            said = self.text(block["id"]) + self.text(block["name"]) + self.text(arguments)
        else:
            said = self.text(block["tool_use_id"]) + self.text(block["content"])
        return BLOCK_OVERHEAD + said

    def messages(self, messages: Sequence[Message]) -> int:
        """The sum over ``messages`` of their overhead and their blocks'."""
        return sum(
            MESSAGE_OVERHEAD + sum(self.block(b) for b in message["content"])
            for message in messages
        )


ESTIMATE = EstimatedTokens()
"""The default counter: the offline estimate at ``BYTES_PER_TOKEN``."""
