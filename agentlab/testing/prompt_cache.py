"""Anthropic's prompt-cache accounting, simulated: which part of a Messages API request would be
read from the cache, written to it, or processed in full.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The shortest prefix Anthropic caches, per model id prefix (its prompt-caching docs, 2026); other
# models cache from 1024 tokens. A shorter prefix is processed in full, and nothing is cached.
ANTHROPIC_CACHE_MINIMUMS: Mapping[str, int] = {
    "claude-haiku-4-5": 4096,
    "claude-opus-4-5": 4096,
    "claude-opus-4-6": 4096,
    "claude-3-5-haiku": 2048,
    "claude-3-haiku": 2048,
}


def cache_prefixes(body: Mapping[str, Any]) -> list[str]:
    """The prompt of a Messages API request up to each of its ``cache_control`` breakpoints.

    In the order the API renders a prompt (tools, then system, then messages), each prefix is
    compact JSON in the key order received, so two requests share a cached prefix exactly when
    these strings are equal: any change of content or order shows, whitespace does not (the API
    does not render it).
    """
    tools = list(body.get("tools") or [])
    system = body.get("system") or ""
    messages = list(body.get("messages") or [])
    prefixes = [
        _compact({"tools": tools[: i + 1]}) for i, t in enumerate(tools) if is_breakpoint(t)
    ]
    if isinstance(system, list):
        prefixes += [
            _compact({"tools": tools, "system": system[: i + 1]})
            for i, block in enumerate(system)
            if is_breakpoint(block)
        ]
    for m, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        prefixes += [
            _compact(
                {
                    "tools": tools,
                    "system": system,
                    "messages": [*messages[:m], {**message, "content": content[: i + 1]}],
                }
            )
            for i, block in enumerate(content)
            if is_breakpoint(block)
        ]
    return prefixes


@dataclass
class PromptCache:
    """Anthropic's prompt-cache accounting, simulated for the requests a test server answers.

    A request's prompt is split at its ``cache_control`` breakpoints (``cache_prefixes``). The
    longest prefix the same model was sent before is read from the cache
    (``cache_read_input_tokens``); the rest up to the last breakpoint is written to it
    (``cache_creation_input_tokens``); what follows is plain ``input_tokens``. A prefix shorter
    than the model's minimum (``minimums``, by model id prefix, else ``default_minimum``) is never
    cached, as with the real API. Entries never expire (the API's last 5 minutes from their last
    use). Tokens are estimated as ``chars_per_token`` characters of the request's compact JSON
    each: close enough to compare prompts, not the model's tokenizer.
    """

    minimums: Mapping[str, int] = field(default_factory=lambda: dict(ANTHROPIC_CACHE_MINIMUMS))
    default_minimum: int = 1024
    chars_per_token: int = 4
    _seen: set[tuple[str, str]] = field(default_factory=set, init=False, repr=False)

    def minimum(self, model: str) -> int:
        """The fewest tokens a prefix needs to be cached for ``model``."""
        found = [n for name, n in self.minimums.items() if model.startswith(name)]
        return found[0] if found else self.default_minimum

    def tokens(self, text: str) -> int:
        """The estimated token count of ``text``."""
        return math.ceil(len(text) / self.chars_per_token)

    def usage(self, body: Mapping[str, Any]) -> dict[str, int]:
        """The input-token fields of the answer to ``body``; its cacheable prefixes are kept."""
        model = str(body.get("model", ""))
        prompt = {k: body.get(k) or [] for k in ("tools", "system", "messages")}
        total = self.tokens(_compact(prompt))
        floor = self.minimum(model)
        cacheable = [
            (prefix, n) for prefix in cache_prefixes(body) if (n := self.tokens(prefix)) >= floor
        ]
        read = max((n for prefix, n in cacheable if (model, prefix) in self._seen), default=0)
        written = max(max((n for _, n in cacheable), default=0) - read, 0)
        self._seen.update((model, prefix) for prefix, _ in cacheable)
        return {
            "input_tokens": max(total - read - written, 0),
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
        }


def is_breakpoint(block: Any) -> bool:
    """Whether a tool, system block or content block carries ``cache_control``."""
    return isinstance(block, dict) and block.get("cache_control") is not None


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
