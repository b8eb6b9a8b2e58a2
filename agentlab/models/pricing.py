"""Dollar cost of a model call from its token usage.

Prices are US dollars per million tokens, kept as data in ``prices.toml`` beside this module (read
once, on first use). A model not listed has an unknown cost (``None``), which is reported as such
rather than as zero. Each model says what its calls are priced as (``Model.pricing()``, a
``Pricing``) and prices its answers itself (``ModelResponse.cost_usd``). Providers that call no LLM
(the scripted model) cost nothing; a scripted model told to price its calls as a Claude model (a
script's ``priced_as``) answers as the ``simulated`` provider, priced as that model, so budgets can
be tested offline.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from agentlab.models.base import ModelRequest, Usage


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
"""Providers whose answers cost nothing: no LLM is called."""
SIMULATED = "simulated"
"""The provider of a scripted model's answers priced as a real model (``priced_as``)."""


@cache
def prices() -> dict[str, Price]:
    """The pricing table (``prices.toml``), keyed by model id."""
    raw: dict[str, Any] = tomllib.loads(
        files("agentlab.models").joinpath("prices.toml").read_text(encoding="utf-8")
    )
    return {name: Price.of(**fields) for name, fields in raw.get("models", {}).items()}


_DATED = re.compile(r"(?P<id>.+?)-\d{8}")


def price_of(model: str) -> Price | None:
    """The price of ``model`` (or of the id a dated snapshot belongs to); ``None`` if unlisted."""
    table = prices()
    if model in table:
        return table[model]
    dated = _DATED.fullmatch(model)
    return table.get(dated.group("id")) if dated else None


@dataclass(frozen=True, slots=True)
class Pricing:
    """What a model's calls are priced as: the pricing table's ``model`` and its ``price``
    (``None``: unknown, so a call could cost anything); ``simulated``: a scripted model priced as
    a real one. Every ``Model`` says its own (``Model.pricing()``)."""

    model: str
    price: Price | None
    simulated: bool = False

    @classmethod
    def listed(cls, model: str, *, simulated: bool = False) -> Pricing:
        """``model`` at its price in the table (unknown when it is not listed)."""
        return cls(model, price_of(model), simulated)

    @classmethod
    def free(cls, model: str) -> Pricing:
        """A model whose calls cost nothing (no LLM is called)."""
        return cls(model, FREE)

    def cost(self, usage: Usage) -> float | None:
        """What ``usage`` costs at this price; ``None`` when the price is unknown."""
        return None if self.price is None else self.price.cost(usage)


def cost_usd(model: str, usage: Usage, *, provider: str = "anthropic") -> float | None:
    """What a call answered by ``provider``'s ``model`` cost: nothing for a provider that calls
    no LLM, ``None`` for a model with no price (a recorded call's cost, from its record)."""
    if provider in FREE_PROVIDERS:
        return 0.0
    return Pricing.listed(model).cost(usage)


def dearest(pricings: Sequence[Pricing]) -> Pricing:
    """The dearest of ``pricings`` (an unknown price is dearest of all): what a chain of models,
    any of which may answer, is reserved at."""
    unknown = [p for p in pricings if p.price is None]
    if unknown:
        return unknown[0]
    return max(pricings, key=lambda p: _dearness(p.price))


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
