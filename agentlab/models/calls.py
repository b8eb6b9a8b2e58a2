"""The record of a model call: what a run keeps of it, and what its events carry.

The record (who answered, tokens, dollars, latency, fallbacks) is plain data; the price is the one
the answering model put on its response. Nodes decide what to ask; wrappers (``wrappers.py``) hold
calls to budgets and trace them; this module only records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired

from typing_extensions import TypedDict

from agentlab.models.base import ModelRequest, ModelResponse, Usage


class ModelCallRecord(TypedDict):
    """One model call as the run keeps it. ``cost_usd`` is ``None`` when the price is unknown."""

    role: str
    index: int
    model: str
    provider: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float | None
    latency_s: float
    fallbacks: list[str]
    escalated: NotRequired[bool]
    """The call went to the role's stronger model (``index`` counts the role's escalated calls)."""
    context: NotRequired[dict[str, Any]]
    """What working memory put in the call's context: ``budget``, ``tokens`` (all of it),
    ``parts`` (tokens per part), ``turns_kept``, ``turns_summarized``."""


def call_record(request: ModelRequest, response: ModelResponse) -> ModelCallRecord:
    """The record of the call that asked ``request`` and got ``response``."""
    u = response.usage
    record = ModelCallRecord(
        role=request.role.value,
        index=request.call.index,
        model=response.model,
        provider=response.provider,
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cache_read_tokens=u.cache_read_tokens,
        cache_write_tokens=u.cache_write_tokens,
        cost_usd=response.cost_usd,
        latency_s=response.latency_s,
        fallbacks=list(response.fallbacks),
    )
    if request.call.escalation:
        record["escalated"] = True
    report = request.context
    if report is not None:
        record["context"] = {
            "budget": report.budget,
            "tokens": report.total,
            "parts": dict(report.parts),
            "turns_kept": report.turns_kept,
            "turns_summarized": report.turns_summarized,
        }
    return record


def usage_of(record: Mapping[str, Any]) -> Usage:
    """The tokens a call's record (or a ledger row's fields) says it used."""
    return Usage(
        int(record["input_tokens"]),
        int(record["output_tokens"]),
        int(record["cache_read_tokens"]),
        int(record["cache_write_tokens"]),
    )
