"""Dollar cost of a model call from its token usage.

Prices are US dollars per million tokens, kept as data in ``prices.toml`` beside this module (read
once, on first use). A model not listed has an unknown cost (``None``), which is reported as such
rather than as zero. Providers that call no LLM (the scripted model) cost nothing; a scripted model
told to price its calls as a Claude model (a script's ``priced_as``) answers as the ``simulated``
provider, priced as that model, so budgets can be tested offline.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from agentlab.models.base import Model, ModelRequest, Usage


@dataclass(frozen=True, slots=True)
class Price:
    """Dollars per million input, output, cache-write (5-minute TTL) and cache-read tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float

    @classmethod
    def of(
        cls,
        input: float,
        output: float,
        cache_write: float | None = None,
        cache_read: float | None = None,
    ) -> Price:
        """A price whose cache rates default to 1.25x (write) and 0.1x (read) the input price."""
        return cls(
            input,
            output,
            input * 1.25 if cache_write is None else cache_write,
            input * 0.1 if cache_read is None else cache_read,
        )

    def cost(self, usage: Usage) -> float:
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_write_tokens * self.cache_write
            + usage.cache_read_tokens * self.cache_read
        ) / 1_000_000


FREE = Price(0.0, 0.0, 0.0, 0.0)
FREE_PROVIDERS = frozenset({"scripted"})
SIMULATED = "simulated"
"""The provider of a scripted model's answers priced as a real model (``priced_as``)."""


@cache
def prices() -> dict[str, Price]:
    """The pricing table (``prices.toml``), keyed by model id."""
    raw: dict[str, Any] = tomllib.loads(
        files("agentlab.models").joinpath("prices.toml").read_text(encoding="utf-8")
    )
    return {name: Price.of(**fields) for name, fields in raw.get("models", {}).items()}


_DATED = re.compile(r"^(?P<id>.+?)-\d{8}$")


def price_of(model: str) -> Price | None:
    """The price of ``model`` (or of the id a dated snapshot belongs to); ``None`` if unlisted."""
    table = prices()
    if model in table:
        return table[model]
    dated = _DATED.match(model)
    return table.get(dated.group("id")) if dated else None


def cost_usd(model: str, usage: Usage, *, provider: str = "anthropic") -> float | None:
    """What a call cost; calls to a free provider cost nothing, unknown models ``None``."""
    if provider in FREE_PROVIDERS:
        return 0.0
    price = price_of(model)
    return None if price is None else price.cost(usage)


def price_for(model: Model) -> tuple[str, Price | None]:
    """What a call to ``model`` will be priced as, and at what: a scripted model is free unless
    it is ``priced_as`` a listed model; a fallback chain at its dearest model's price (any of
    them may answer)."""
    priced_as = getattr(model, "priced_as", None)
    if priced_as:
        return priced_as, price_of(priced_as)
    if getattr(model, "provider", None) in FREE_PROVIDERS:
        return model.name, FREE
    chain = getattr(model, "models", None)
    if chain:
        named = [price_for(m) for m in chain]
        if any(p is None for _, p in named):
            return next(n for n, p in named if p is None), None
        return max(named, key=lambda item: _dearness(item[1]))
    return model.name, price_of(model.name)


def _dearness(price: Price | None) -> float:
    assert price is not None
    return max(price.input, price.cache_write) + price.output


def estimate_input_tokens(request: ModelRequest) -> int:
    """A request's input tokens, estimated as a quarter of the characters of its system prompt,
    messages and tool definitions (plus a margin): what a call is reserved against before it is
    made. Claude's tokenizer averages about 3.5-4 characters per token in English."""
    import json

    chars = len(request.system)
    chars += len(json.dumps(list(request.messages), default=str))
    chars += sum(
        len(t.name) + len(t.description) + len(json.dumps(t.input_schema)) for t in request.tools
    )
    return chars // 4 + 64


def worst_case(request: ModelRequest, price: Price | None) -> tuple[int, float | None]:
    """The most tokens and dollars ``request`` can use: its estimated input (all written to the
    cache, the dearest way to send it) and ``max_tokens`` of output. Dollars are ``None`` when
    the model's price is unknown."""
    input_tokens = estimate_input_tokens(request)
    tokens = input_tokens + request.max_tokens
    if price is None:
        return tokens, None
    dollars = (
        input_tokens * max(price.input, price.cache_write) + request.max_tokens * price.output
    ) / 1_000_000
    return tokens, dollars
