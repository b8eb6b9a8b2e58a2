"""``agentlab costs``: the cost ledger's totals per agent, principal, session, day or run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from rich.table import Table

from agentlab.errors import AgentlabError
from agentlab.safe_text import rich_text
from agentlab.store import CostTotal

GROUPS = ("agent", "principal", "session", "day", "run")


def check_day(day: str) -> None:
    try:
        date.fromisoformat(day)
    except ValueError:
        raise AgentlabError(f"--since takes a UTC day as YYYY-MM-DD, not {day!r}") from None


def hit_rate(t: CostTotal) -> float | None:
    """Cache-read tokens over cacheable input (cache read + cache write + plain input)."""
    cacheable = t.cache_read_tokens + t.cache_write_tokens + t.input_tokens
    return t.cache_read_tokens / cacheable if cacheable else None


def cost_text(t: CostTotal) -> str:
    if t.unpriced:
        return f"unknown ({t.unpriced} call(s) of unpriced models; ${t.cost_usd:.4f} priced)"
    text = f"${t.cost_usd:.4f}"
    return f"{text} (simulated)" if t.simulated == t.calls and t.calls else text


def as_json(by: str, totals: Sequence[CostTotal]) -> list[dict[str, Any]]:
    """Each group as JSON: ``cost_usd`` is null when a call had no price (``priced_cost_usd``
    then sums those that had)."""
    return [
        {
            by: t.key,
            "runs": t.runs,
            "calls": t.calls,
            "input_tokens": t.input_tokens,
            "output_tokens": t.output_tokens,
            "cache_read_tokens": t.cache_read_tokens,
            "cache_write_tokens": t.cache_write_tokens,
            "cache_hit_rate": hit_rate(t),
            "cost_usd": None if t.unpriced else t.cost_usd,
            "priced_cost_usd": t.cost_usd,
            "unpriced_calls": t.unpriced,
            "simulated_calls": t.simulated,
        }
        for t in totals
    ]


def table(by: str, totals: Sequence[CostTotal]) -> Table:
    out = Table(title=f"Costs by {by}", title_justify="left")
    for col in (by, "runs", "calls", "in", "out", "cache read", "cache write", "hit rate", "cost"):
        out.add_column(col, justify="left" if col in (by, "cost") else "right")
    for t in totals:
        rate = hit_rate(t)
        out.add_row(
            rich_text(t.key),
            str(t.runs),
            str(t.calls),
            str(t.input_tokens),
            str(t.output_tokens),
            str(t.cache_read_tokens),
            str(t.cache_write_tokens),
            "-" if rate is None else f"{rate:.0%}",
            cost_text(t),
        )
    if any(t.simulated for t in totals):
        out.caption = "simulated: scripted calls priced as a real model (a script's priced_as)"
    return out
