"""What agentlab's spans say: their attributes, in OpenInference's semantic conventions.

Plain functions from agentlab's records (requests, responses, call records, tool outcomes,
state updates) to span attributes, so the code that makes a span says only when. Attributes
OpenInference has no name for are under ``agentlab.``. Values are JSON text where a convention
takes a document (``input.value``, ``tool.parameters``); messages are flattened as OpenInference
does (``llm.input_messages.0.message.role``...). The costly ones are made where spans are
exported, not while the run waits (``defer``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from openinference.semconv.trace import (
    MessageAttributes,
    OpenInferenceMimeTypeValues,
    OpenInferenceSpanKindValues,
    SpanAttributes,
    ToolAttributes,
    ToolCallAttributes,
)
from opentelemetry.trace import Span, Status, StatusCode

from agentlab.observability.recording import RecordedSpan

KIND = SpanAttributes.OPENINFERENCE_SPAN_KIND
AGENT = OpenInferenceSpanKindValues.AGENT.value
CHAIN = OpenInferenceSpanKindValues.CHAIN.value
LLM = OpenInferenceSpanKindValues.LLM.value
TOOL = OpenInferenceSpanKindValues.TOOL.value
_JSON = OpenInferenceMimeTypeValues.JSON.value
# The semantic conventions name a call's total cost from 0.1.2x on; before, it is ours.
COST_TOTAL = getattr(SpanAttributes, "LLM_COST_TOTAL", "agentlab.cost_usd")


# ``json.dumps(value, default=str, ensure_ascii=False)``, without building an encoder each time.
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)


def _json(value: Any) -> str:
    return _ENCODER.encode(value)


# --- runs ------------------------------------------------------------------------------------


def run_attributes(
    *,
    agent: str,
    run_id: str,
    principal: str,
    session: str | None,
    invocation: str,
    given: Any,
) -> dict[str, Any]:
    """A run invocation's span (``AGENT``): which run, for whom; ``invocation`` says how it was
    driven (``start``, ``resume``, ``served``), ``given`` what it was given (task, decisions)."""
    attributes: dict[str, Any] = {
        KIND: AGENT,
        SpanAttributes.AGENT_NAME: agent,
        "agentlab.agent": agent,
        "agentlab.run_id": run_id,
        "agentlab.principal": principal,
        "agentlab.invocation": invocation,
        SpanAttributes.USER_ID: principal,
        SpanAttributes.INPUT_VALUE: given if isinstance(given, str) else _json(given),
    }
    if not isinstance(given, str):
        attributes[SpanAttributes.INPUT_MIME_TYPE] = _JSON
    if session:
        attributes["agentlab.session"] = session
        attributes[SpanAttributes.SESSION_ID] = session
    return attributes


def run_ended(span: Span, status: str, outcome: str) -> None:
    """Where the invocation left the run: its status and outcome."""
    span.set_attributes(
        {
            "agentlab.status": status,
            "agentlab.outcome": outcome,
            SpanAttributes.OUTPUT_VALUE: outcome or status,
        }
    )
    span.set_status(Status(StatusCode.ERROR, outcome) if status == "failed" else StatusCode.OK)


# --- nodes -----------------------------------------------------------------------------------


def node_attributes(node: str, state: Mapping[str, Any]) -> dict[str, Any]:
    """A node execution's span (``CHAIN``): the node and the status it found."""
    return {
        KIND: CHAIN,
        "agentlab.node": node,
        "agentlab.status.before": str(state.get("status", "")),
        SpanAttributes.INPUT_VALUE: str(state.get("status", "")),
    }


def node_ended(span: Span, state: Mapping[str, Any], update: Mapping[str, Any] | None) -> None:
    """The status the node left and the transitions it recorded, with their reasons (also as
    one span event each); for ``recall``, the past interactions long-term memory gave the turn
    (ids and scores: similarity, recency, importance, the score they make)."""
    update = update or {}
    after = str(update.get("status", state.get("status", "")))
    transitions: Sequence[Mapping[str, Any]] = update.get("transitions") or []
    reasons = [str(t.get("reason", "")) for t in transitions]
    span.set_attributes(
        {
            "agentlab.status.after": after,
            "agentlab.transition.reasons": reasons,
            SpanAttributes.OUTPUT_VALUE: "; ".join(reasons) or after,
        }
    )
    recalled = update.get("recalled") or {}
    if "recollections" in recalled:  # what long-term memory gave the turn, and why
        found = recalled["recollections"]
        span.set_attributes(
            {
                "agentlab.memory.recalled": len(found),
                "agentlab.memory.recollections": _json(found),
                "agentlab.memory.untrusted": list(recalled.get("memory_sources") or []),
            }
        )
    for t in transitions:
        span.add_event(
            "transition",
            {
                "source": str(t.get("source", "")),
                "target": str(t.get("target", "")),
                "reason": str(t.get("reason", "")),
                "iteration": int(t.get("iteration", 0)),
            },
        )
    span.set_status(StatusCode.OK)


def node_interrupted(span: Span, what: Any) -> None:
    """The node paused the run for a human (LangGraph's ``interrupt``): not an error."""
    span.set_attributes({"agentlab.interrupted": True, SpanAttributes.OUTPUT_VALUE: _json(what)})
    span.set_status(StatusCode.OK)


def failed(span: Span, exc: BaseException) -> None:
    """The span's work raised ``exc``: recorded, and its status an error."""
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


# --- attributes made where spans are exported ------------------------------------------------
#
# The attributes of a model or tool call that take work to make (messages flattened, documents
# as JSON) are not made while the run waits: a span records the plain data they are made of
# (``defer``), and whoever exports it makes them (``resolved``), in the export process. A span of
# another tracer gets them made at once.

Builder = Callable[..., dict[str, Any]]


def defer(span: Span, builder: str, *args: Any) -> None:
    """Attributes that ``DEFERRED[builder](*args)`` makes, on ``span``: made where it is exported
    when it is a ``RecordedSpan``, else now. ``args`` are plain data that nothing changes later
    (a request's messages, a tool's outcome)."""
    if type(span) is RecordedSpan:
        span.defer(builder, args)
    else:
        span.set_attributes(DEFERRED[builder](*args))


def resolved(
    attributes: Mapping[str, Any], deferred: Iterable[tuple[str, tuple[Any, ...]]]
) -> dict[str, Any]:
    """``attributes`` with those of the ``deferred`` builders added."""
    out = dict(attributes)
    for builder, args in deferred:
        out.update(DEFERRED[builder](*args))
    return out


# --- model calls -----------------------------------------------------------------------------


def llm_attributes(request: Any, model_name: str) -> dict[str, Any]:
    """A model call's span (``LLM``) as it starts: role and model. With ``llm_request``, what
    was sent."""
    attributes = {
        KIND: LLM,
        SpanAttributes.LLM_MODEL_NAME: model_name,
        "agentlab.role": request.role.value,
        "agentlab.call_index": request.call.index,
    }
    if request.call.escalation:  # the role's stronger model, and why
        attributes["agentlab.escalated"] = True
        attributes["agentlab.escalation.reason"] = request.call.escalation
    report = getattr(request, "context", None)
    if report is not None:  # what working memory put in the context
        attributes["agentlab.context.budget"] = report.budget
        attributes["agentlab.context.tokens"] = report.total
        attributes["agentlab.context.turns_kept"] = report.turns_kept
        attributes["agentlab.context.turns_summarized"] = report.turns_summarized
        for part, tokens in report.parts:
            attributes[f"agentlab.context.{part}_tokens"] = tokens
    return attributes


def llm_request(span: Span, request: Any) -> None:
    """The messages sent (the system prompt first), the tools offered and the invocation
    parameters."""
    tools = tuple((t.name, t.description, t.input_schema) for t in request.tools)
    defer(
        span,
        "llm_request",
        request.system,
        request.messages,
        tools,
        request.max_tokens,
        request.tool_choice,
    )


def llm_response(span: Span, response: Any, record: Mapping[str, Any]) -> None:
    """What the call answered and used: output message, tokens (cache reads and writes apart),
    cost (unknown: ``agentlab.cost_unknown``), latency, the models that fell back."""
    defer(span, "llm_response", response.text, response.content, response.stop_reason, record)


def _llm_request(
    system: str,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[tuple[str, str, dict[str, Any]]],
    max_tokens: int,
    tool_choice: str | None,
) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        SpanAttributes.LLM_INVOCATION_PARAMETERS: _json(
            {"max_tokens": max_tokens, "tool_choice": tool_choice}
        ),
    }
    sent: list[Mapping[str, Any]] = []
    if system:
        sent.append({"role": "system", "content": [{"type": "text", "text": system}]})
    sent.extend(messages)
    attributes.update(_messages(SpanAttributes.LLM_INPUT_MESSAGES, sent))
    for i, (name, description, schema) in enumerate(tools):
        attributes[f"{SpanAttributes.LLM_TOOLS}.{i}.{ToolAttributes.TOOL_JSON_SCHEMA}"] = _json(
            {"name": name, "description": description, "input_schema": schema}
        )
    return attributes


def _llm_response(
    text: str, content: Sequence[Mapping[str, Any]], stop_reason: str | None, record: Any
) -> dict[str, Any]:
    prompt = record["input_tokens"] + record["cache_read_tokens"] + record["cache_write_tokens"]
    attributes: dict[str, Any] = {
        SpanAttributes.LLM_MODEL_NAME: record["model"],
        SpanAttributes.LLM_PROVIDER: record["provider"],
        SpanAttributes.LLM_TOKEN_COUNT_PROMPT: prompt,
        SpanAttributes.LLM_TOKEN_COUNT_COMPLETION: record["output_tokens"],
        SpanAttributes.LLM_TOKEN_COUNT_TOTAL: prompt + record["output_tokens"],
        SpanAttributes.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ: record["cache_read_tokens"],
        SpanAttributes.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE: record["cache_write_tokens"],
        "agentlab.latency_s": record["latency_s"],
        "agentlab.fallbacks": list(record["fallbacks"]),
        "agentlab.stop_reason": stop_reason or "",
        SpanAttributes.OUTPUT_VALUE: text or _json(list(content)),
    }
    if record["cost_usd"] is None:
        attributes["agentlab.cost_unknown"] = True
    else:
        attributes[COST_TOTAL] = record["cost_usd"]
    attributes.update(
        _messages(SpanAttributes.LLM_OUTPUT_MESSAGES, [{"role": "assistant", "content": content}])
    )
    return attributes


def _messages(prefix: str, messages: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Content-block messages flattened as OpenInference names them: role, text content, tool
    calls (id, function name, JSON arguments) and, for a tool result, the call it answers."""
    out: dict[str, Any] = {}
    for i, message in enumerate(messages):
        at = f"{prefix}.{i}."
        out[at + MessageAttributes.MESSAGE_ROLE] = message["role"]
        texts: list[str] = []
        calls = 0
        for block in message["content"]:
            kind = block.get("type")
            if kind == "text":
                texts.append(block["text"])
            elif kind == "tool_use":
                call = f"{at}{MessageAttributes.MESSAGE_TOOL_CALLS}.{calls}."
                out[call + ToolCallAttributes.TOOL_CALL_ID] = block["id"]
                out[call + ToolCallAttributes.TOOL_CALL_FUNCTION_NAME] = block["name"]
                out[call + ToolCallAttributes.TOOL_CALL_FUNCTION_ARGUMENTS_JSON] = _json(
                    block["input"]
                )
                calls += 1
            elif kind == "tool_result":
                # One tool result per message is what OpenInference can say; more are joined.
                out[at + MessageAttributes.MESSAGE_TOOL_CALL_ID] = block["tool_use_id"]
                texts.append(str(block.get("content", "")))
        if texts:
            out[at + MessageAttributes.MESSAGE_CONTENT] = "\n".join(texts)
    return out


# --- tool calls ------------------------------------------------------------------------------


def tool_attributes(tool: str, call_id: str) -> dict[str, Any]:
    """A tool call's span (``TOOL``) as it starts: the tool and its step. With
    ``tool_arguments``, what it was called with."""
    return {KIND: TOOL, SpanAttributes.TOOL_NAME: tool, "agentlab.step_id": call_id}


def tool_arguments(span: Span, arguments: Mapping[str, Any]) -> None:
    """The arguments of a tool call, as its parameters and input (JSON)."""
    defer(span, "tool_arguments", arguments)


def _tool_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    text = _json(arguments)
    return {
        SpanAttributes.TOOL_PARAMETERS: text,
        SpanAttributes.INPUT_VALUE: text,
        SpanAttributes.INPUT_MIME_TYPE: _JSON,
    }


def tool_ended(
    span: Span,
    outcome: Mapping[str, Any],
    *,
    journal: str,
    verdict: str | None,
    reasons: Sequence[str],
    rule: str | None,
    duration_s: float,
    approved: bool = False,
) -> None:
    """How the call went: its output or error, how long it took, what the policy said (no
    verdict: refused before the policy was asked), whether a human had approved it, and what
    the journal did."""
    ok = bool(outcome.get("ok"))
    attributes: dict[str, Any] = {
        "agentlab.tool.ok": ok,
        "agentlab.journal": journal,
        "agentlab.duration_s": duration_s,
        "agentlab.approved": approved,
        "agentlab.policy.reasons": list(reasons),
    }
    if verdict is not None:
        attributes["agentlab.policy.verdict"] = verdict
    if rule:
        attributes["agentlab.policy.rule"] = rule
    if not ok:
        attributes["agentlab.tool.error"] = str(outcome.get("error") or "")
    span.set_attributes(attributes)
    defer(span, "tool_output", outcome.get("output") if ok else outcome.get("error"))
    span.set_status(StatusCode.OK if ok else Status(StatusCode.ERROR, str(outcome.get("error"))))


def _tool_output(shown: Any) -> dict[str, Any]:
    return {
        SpanAttributes.OUTPUT_VALUE: shown if isinstance(shown, str) else _json(shown),
        SpanAttributes.OUTPUT_MIME_TYPE: "text/plain" if isinstance(shown, str) else _JSON,
    }


DEFERRED: dict[str, Builder] = {
    "llm_request": _llm_request,
    "llm_response": _llm_response,
    "tool_arguments": _tool_arguments,
    "tool_output": _tool_output,
}
"""The builders of deferred attributes, by the name a record carries."""
