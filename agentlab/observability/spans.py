"""What agentlab's spans say: their attributes, in OpenInference's semantic conventions.

Plain functions from agentlab's records (requests, responses, call records, tool outcomes,
state updates) to span attributes, so the code that makes a span says only when. Attributes
OpenInference has no name for are under ``agentlab.``. Values are JSON text where a convention
takes a document (``input.value``, ``tool.parameters``); messages are flattened as OpenInference
does (``llm.input_messages.0.message.role``...).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
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
    span.set_status(
        Status(StatusCode.ERROR, outcome) if status == "failed" else Status(StatusCode.OK)
    )


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
    one span event each)."""
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
    span.set_status(Status(StatusCode.OK))


def node_interrupted(span: Span, what: Any) -> None:
    """The node paused the run for a human (LangGraph's ``interrupt``): not an error."""
    span.set_attributes({"agentlab.interrupted": True, SpanAttributes.OUTPUT_VALUE: _json(what)})
    span.set_status(Status(StatusCode.OK))


def failed(span: Span, exc: BaseException) -> None:
    """The span's work raised ``exc``: recorded, and its status an error."""
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


# --- model calls -----------------------------------------------------------------------------


def llm_request_attributes(request: Any, model_name: str) -> dict[str, Any]:
    """A model call's span (``LLM``) as it starts: role, model, the messages sent (the system
    prompt first), the tools offered and the invocation parameters."""
    attributes: dict[str, Any] = {
        KIND: LLM,
        SpanAttributes.LLM_MODEL_NAME: model_name,
        "agentlab.role": request.role.value,
        "agentlab.call_index": request.call.index,
        SpanAttributes.LLM_INVOCATION_PARAMETERS: _invocation_parameters(
            request.max_tokens, request.tool_choice
        ),
    }
    messages: list[Mapping[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": [{"type": "text", "text": request.system}]})
    messages.extend(request.messages)
    attributes.update(_messages(SpanAttributes.LLM_INPUT_MESSAGES, messages))
    for i, spec in enumerate(request.tools):
        attributes[f"{SpanAttributes.LLM_TOOLS}.{i}.{ToolAttributes.TOOL_JSON_SCHEMA}"] = (
            _tool_json(spec)
        )
    return attributes


@lru_cache(maxsize=256)
def _invocation_parameters(max_tokens: int, tool_choice: str | None) -> str:
    return _json({"max_tokens": max_tokens, "tool_choice": tool_choice})


# The JSON of each tool offered, by name and description, with the schema it was made from: the
# same tools go with every call of a role, and the schema is compared (cheaply, in C) instead of
# dumped again. Bounded: cleared when full.
_TOOL_JSON: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}


def _tool_json(spec: Any) -> str:
    """``{"name", "description", "input_schema"}`` of a ``ToolSpec`` as JSON text."""
    key = (spec.name, spec.description)
    known = _TOOL_JSON.get(key)
    if known is not None and known[0] == spec.input_schema:
        return known[1]
    text = _json(
        {"name": spec.name, "description": spec.description, "input_schema": spec.input_schema}
    )
    if len(_TOOL_JSON) >= 256:
        _TOOL_JSON.clear()
    # A copy to compare with: a schema changed in place must not keep its old JSON.
    _TOOL_JSON[key] = (copy.deepcopy(spec.input_schema), text)
    return text


def llm_response_attributes(response: Any, record: Mapping[str, Any]) -> dict[str, Any]:
    """What the call answered and used: output message, tokens (cache reads and writes apart),
    cost (unknown: ``agentlab.cost_unknown``), latency, the models that fell back."""
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
        "agentlab.stop_reason": response.stop_reason or "",
        SpanAttributes.OUTPUT_VALUE: response.text or _json(list(response.content)),
    }
    if record["cost_usd"] is None:
        attributes["agentlab.cost_unknown"] = True
    else:
        attributes[COST_TOTAL] = record["cost_usd"]
    attributes.update(
        _messages(
            SpanAttributes.LLM_OUTPUT_MESSAGES,
            [{"role": "assistant", "content": list(response.content)}],
        )
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


def tool_attributes(request: Any) -> dict[str, Any]:
    """A tool call's span (``TOOL``) as it starts: the tool, its step and arguments."""
    arguments = _json(request.arguments)
    return {
        KIND: TOOL,
        SpanAttributes.TOOL_NAME: request.tool,
        SpanAttributes.TOOL_PARAMETERS: arguments,
        SpanAttributes.INPUT_VALUE: arguments,
        SpanAttributes.INPUT_MIME_TYPE: _JSON,
        "agentlab.step_id": request.call_id,
        "agentlab.approved": bool(request.approved),
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
) -> None:
    """How the call went: its output or error, how long it took, what the policy said (no
    verdict: refused before the policy was asked) and what the journal did."""
    ok = bool(outcome.get("ok"))
    shown = outcome.get("output") if ok else outcome.get("error")
    attributes: dict[str, Any] = {
        SpanAttributes.OUTPUT_VALUE: shown if isinstance(shown, str) else _json(shown),
        SpanAttributes.OUTPUT_MIME_TYPE: "text/plain" if isinstance(shown, str) else _JSON,
        "agentlab.tool.ok": ok,
        "agentlab.journal": journal,
        "agentlab.duration_s": duration_s,
        "agentlab.policy.reasons": list(reasons),
    }
    if verdict is not None:
        attributes["agentlab.policy.verdict"] = verdict
    if rule:
        attributes["agentlab.policy.rule"] = rule
    if not ok:
        attributes["agentlab.tool.error"] = str(outcome.get("error") or "")
    span.set_attributes(attributes)
    span.set_status(
        Status(StatusCode.OK) if ok else Status(StatusCode.ERROR, str(outcome.get("error")))
    )
