"""Tracing as wrappers: a model call and a tool call each become a span, made around the call.

``TracedModel`` wraps a role's model (an ``LLM`` span per call: model, messages, tokens, cost;
retries and fallbacks inside it are its events); ``traced_calls`` is the tool executor's ``wrap``
(a ``TOOL`` span per call: arguments, output or error, the policy's verdict, the journal). Neither
is installed while tracing is off.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from agentlab.models.base import Model, ModelRequest, ModelResponse
from agentlab.models.calls import call_record
from agentlab.models.wrappers import WrapperModel
from agentlab.observability import spans
from agentlab.observability.tracing import Tracing
from agentlab.tools.calls import NeedsApproval, PreparedCall, ToolRun
from agentlab.tools.executor import CallWrapper
from agentlab.tools.journal import UnknownSideEffect


class TracedModel(WrapperModel):
    """``inner``'s calls, each an ``LLM`` span of ``tracing`` (which must be on)."""

    def __init__(self, inner: Model, tracing: Tracing) -> None:
        super().__init__(inner)
        self.tracing = tracing

    async def request(self, request: ModelRequest) -> ModelResponse:
        name = f"llm {request.role.value}"
        with self.tracing.span(name, spans.llm_attributes(request, self.inner.name)) as span:
            spans.llm_request(span, request)
            response = await self.inner.request(request)
            spans.llm_response(span, response, call_record(request, response))
            return response


def traced_calls(tracing: Tracing) -> CallWrapper:
    """The executor's ``wrap`` that makes each tool call a ``TOOL`` span of ``tracing``."""

    async def wrap(call: PreparedCall, run: Callable[[], Awaitable[ToolRun]]) -> ToolRun:
        attributes = spans.tool_attributes(call.tool.name, call.call_id)
        with tracing.span(f"tool {call.tool.name}", attributes) as span:
            spans.tool_arguments(span, call.arguments)
            try:
                done = await run()
            except UnknownSideEffect:
                span.set_attribute("agentlab.journal", "unknown_side_effect")
                raise
            except NeedsApproval:  # the second lock: the run pauses for a person
                span.set_attribute("agentlab.journal", "needs_approval")
                raise
            decision = done.decision
            spans.tool_ended(
                span,
                done.outcome,
                journal=done.journal,
                verdict=decision.verdict.value if decision else None,
                reasons=decision.reasons if decision else (),
                rule=decision.rule if decision else None,
                duration_s=done.duration_s,
                approved=done.approved,
            )
            return done

    return wrap
