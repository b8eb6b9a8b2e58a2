"""Calling a model for a run: the request goes out, the answer comes back with its record.

The record (who answered, tokens, dollars, latency, fallbacks) is plain data that the run keeps and
its events carry; the price comes from ``pricing``. Nodes decide what to ask; this module calls,
prices and records.
"""

from __future__ import annotations

from typing_extensions import TypedDict

from agentlab.models.base import Model, ModelRequest, ModelResponse
from agentlab.models.pricing import cost_usd
from agentlab.observability import spans
from agentlab.observability.tracing import NO_TRACING, Tracing


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


async def call_model(
    model: Model, request: ModelRequest, tracing: Tracing = NO_TRACING
) -> tuple[ModelResponse, ModelCallRecord]:
    """Ask ``model``; return its response and the record of the call, traced as an ``LLM`` span
    (retries and fallbacks are its events) when ``tracing`` is on.

    Raises what the model raises (``ModelUnavailableError``, ``ScriptError``).
    """
    if not tracing.enabled:
        return _recorded(request, await model.request(request))
    name = f"llm {request.role.value}"
    with tracing.span(name, spans.llm_attributes(request, model.name)) as span:
        spans.llm_request(span, request)
        response, record = _recorded(request, await model.request(request))
        spans.llm_response(span, response, record)
        return response, record


def _recorded(
    request: ModelRequest, response: ModelResponse
) -> tuple[ModelResponse, ModelCallRecord]:
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
        cost_usd=cost_usd(response.model, u, provider=response.provider),
        latency_s=response.latency_s,
        fallbacks=list(response.fallbacks),
    )
    return response, record
