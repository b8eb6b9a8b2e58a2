"""Dollar cost of a model call from its token usage.

Prices are US dollars per million tokens, from Anthropic's public price list. Cache writes (5-minute
TTL) cost 1.25x the input price and cache reads 0.1x. A model not listed has an unknown cost
(``None``), which is reported as such rather than as zero. Providers that call no LLM (the scripted
model) cost nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agentlab.models.base import Usage


@dataclass(frozen=True, slots=True)
class Price:
    """Dollars per million input and output tokens."""

    input: float
    output: float

    @property
    def cache_write(self) -> float:
        return self.input * 1.25

    @property
    def cache_read(self) -> float:
        return self.input * 0.1


# Keyed by model id; a dated snapshot ("claude-sonnet-4-5-20250929") prices as its id.
PRICES: dict[str, Price] = {
    "claude-opus-4-6": Price(5.0, 25.0),
    "claude-opus-4-5": Price(5.0, 25.0),
    "claude-opus-4-1": Price(15.0, 75.0),
    "claude-opus-4-0": Price(15.0, 75.0),
    "claude-opus-4": Price(15.0, 75.0),
    "claude-sonnet-4-6": Price(3.0, 15.0),
    "claude-sonnet-4-5": Price(3.0, 15.0),
    "claude-sonnet-4-0": Price(3.0, 15.0),
    "claude-sonnet-4": Price(3.0, 15.0),
    "claude-haiku-4-5": Price(1.0, 5.0),
    "claude-3-5-haiku": Price(0.8, 4.0),
}


_DATED = re.compile(r"^(?P<id>.+?)-\d{8}$")


def price_of(model: str) -> Price | None:
    """The price of ``model`` (or of the id a dated snapshot belongs to); ``None`` if unlisted."""
    if model in PRICES:
        return PRICES[model]
    dated = _DATED.match(model)
    return PRICES.get(dated.group("id")) if dated else None


FREE_PROVIDERS = frozenset({"scripted"})


def cost_usd(model: str, usage: Usage, *, provider: str = "anthropic") -> float | None:
    """What a call cost; calls to a free provider cost nothing, unknown models ``None``."""
    if provider in FREE_PROVIDERS:
        return 0.0
    price = price_of(model)
    if price is None:
        return None
    return (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_write_tokens * price.cache_write
        + usage.cache_read_tokens * price.cache_read
    ) / 1_000_000
