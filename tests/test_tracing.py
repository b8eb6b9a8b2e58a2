"""Tracing: a run is one OpenTelemetry trace of run, node, model-call and tool-call spans in
OpenInference's conventions, continued by whichever process resumes the run; with no endpoint
configured, nothing is traced at all.

Spans go to an ``InMemorySpanExporter`` behind a real ``TracerProvider`` (``exporting_to``: the
seam the OTLP exporter uses in production); the support agent runs offline on its demo script.
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Sequence
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from agentlab.config import Settings, load_settings
from agentlab.domains import support
from agentlab.errors import ModelOverloadedError
from agentlab.models.base import ModelRequest, ModelResponse, Role
from agentlab.models.calls import call_record
from agentlab.models.messages import user
from agentlab.models.retry import RetryingModel, RetryPolicy, TransientModelError
from agentlab.models.router import ModelSpec
from agentlab.models.script import parse_script
from agentlab.models.scripted import ScriptedModel
from agentlab.models.wrappers import FallbackModel
from agentlab.observability.pipeline import SpanPipeline
from agentlab.observability.recording import Recorder
from agentlab.observability.traced import TracedModel
from agentlab.observability.tracing import (
    NO_TRACING,
    exporting_to,
    shared_tracing,
    tracing_for,
)
from agentlab.orchestration import RunContext, Runner, compile_agent, resolve_models
from tests.conftest import decide, decide_graph, waiting

DEMO = ModelSpec(kind="scripted", script=str(support.demo_script_path()))


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def of_kind(spans: Sequence[ReadableSpan], kind: str) -> list[ReadableSpan]:
    return [s for s in spans if attrs(s).get("openinference.span.kind") == kind]


async def finish(runner: Runner, run_id: str) -> None:
    """Approve whatever the run asks until it ends."""
    while waiting(await runner.get(run_id)) is not None:
        decision = await decide(runner, run_id, approve=True)
        async for _ in await runner.resume(run_id, decision):
            pass


async def traced_demo(settings: Settings) -> tuple[list[ReadableSpan], dict[str, Any], str]:
    """The support demo, approved to the end in one runner: its spans and final state."""
    exporter = InMemorySpanExporter()
    async with Runner(settings, tracing=exporting_to(exporter)) as runner:
        run_id, events = await runner.start(
            None, support.DEMO_TASK, models=DEMO, principal="ann", session="s-1"
        )
        async for _ in events:
            pass
        await finish(runner, run_id)
        state = (await runner.get(run_id)).state
    # Closing the runner flushed the batch: everything is exported by now.
    return list(exporter.get_finished_spans()), state, run_id


async def test_each_run_invocation_is_an_agent_span_with_who_and_how_it_ended(settings):
    spans, _, run_id = await traced_demo(settings)
    runs = of_kind(spans, "AGENT")
    # Started, paused at the email, resumed; paused at the delete, resumed to the end.
    assert [attrs(s)["agentlab.invocation"] for s in runs] == ["start", "resume", "resume"]
    assert [attrs(s)["agentlab.status"] for s in runs] == [
        "awaiting_human",
        "awaiting_human",
        "completed",
    ]
    for span in runs:
        a = attrs(span)
        assert (a["agentlab.agent"], a["agentlab.run_id"]) == ("support", run_id)
        assert (a["agentlab.principal"], a["user.id"]) == ("ann", "ann")
        assert (a["agentlab.session"], a["session.id"]) == ("s-1", "s-1")
    assert attrs(runs[0])["input.value"] == support.DEMO_TASK
    assert "deleted" in attrs(runs[-1])["agentlab.outcome"]
    assert runs[-1].status.status_code is StatusCode.OK


async def test_node_spans_carry_the_status_change_and_its_reason(settings):
    spans, state, _ = await traced_demo(settings)
    nodes = of_kind(spans, "CHAIN")
    assert {s.name for s in nodes} == {
        "begin",
        "recall",
        "plan",
        "prepare",
        "approve",
        "execute",
        "validate",
        "respond",
    }
    plan = next(s for s in nodes if s.name == "plan")
    assert attrs(plan)["agentlab.status.before"] == "planning"
    assert attrs(plan)["agentlab.status.after"] == "executing"
    reasons = attrs(plan)["agentlab.transition.reasons"]
    assert reasons == (state["transitions"][0]["reason"],)
    assert reasons[0].startswith("plan 1: 3 step(s)")
    assert [e.attributes["target"] for e in plan.events if e.name == "transition"] == ["executing"]
    # Every transition the run recorded is on the span of the node that made it.
    traced = [r for s in nodes for r in attrs(s).get("agentlab.transition.reasons", ())]
    assert sorted(traced) == sorted(t["reason"] for t in state["transitions"])
    # The approve node that paused the run says so; it is no error.
    paused = [s for s in nodes if attrs(s).get("agentlab.interrupted")]
    assert [s.name for s in paused] == ["approve", "approve"]
    assert all(s.status.status_code is StatusCode.OK for s in paused)


async def test_model_call_spans_carry_tokens_cost_and_messages(settings):
    spans, state, _ = await traced_demo(settings)
    calls = of_kind(spans, "LLM")
    assert [attrs(s)["agentlab.role"] for s in calls] == [
        "planner",
        "executor",
        "executor",
        "validator",
        "responder",
    ]
    for span, record in zip(calls, state["model_calls"], strict=True):
        a = attrs(span)
        assert a["llm.model_name"] == record["model"]
        assert a["llm.provider"] == record["provider"]
        assert a["llm.token_count.completion"] == record["output_tokens"]
        assert a["llm.token_count.prompt_details.cache_read"] == record["cache_read_tokens"]
        assert a["llm.token_count.prompt_details.cache_write"] == record["cache_write_tokens"]
        prompt = record["input_tokens"] + record["cache_read_tokens"] + record["cache_write_tokens"]
        assert a["llm.token_count.prompt"] == prompt
        assert a["llm.token_count.total"] == prompt + record["output_tokens"]
        assert a["llm.cost.total"] == record["cost_usd"]
        assert a["agentlab.latency_s"] == record["latency_s"]
        context = record["context"]  # what working memory put in the call's context
        assert a["agentlab.context.budget"] == context["budget"]
        assert a["agentlab.context.tokens"] == context["tokens"] <= context["budget"]
        assert a["agentlab.context.prefix_tokens"] == context["parts"]["prefix"] > 0
        assert a["agentlab.context.turns_kept"] == context["turns_kept"] == 0
    planner = attrs(calls[0])
    # What the demo script says Claude reported for the planner's call.
    assert (planner["llm.token_count.completion"], planner["llm.token_count.prompt"]) == (
        236,
        1412 + 1180,
    )
    assert planner["llm.input_messages.0.message.role"] == "system"
    assert support.DEMO_TASK in planner["llm.input_messages.1.message.content"]
    assert planner["llm.output_messages.0.message.role"] == "assistant"
    called = "llm.output_messages.0.message.tool_calls.0.tool_call.function"
    assert planner[f"{called}.name"] == "submit_plan"
    assert len(json.loads(planner[f"{called}.arguments"])["steps"]) == 3
    assert json.loads(planner["llm.tools.0.tool.json_schema"])["name"] == "submit_plan"


async def test_tool_call_spans_carry_arguments_result_policy_approval_and_journal(settings):
    spans, _, _ = await traced_demo(settings)
    tools = {attrs(s)["tool.name"]: attrs(s) for s in of_kind(spans, "TOOL")}
    assert list(tools) == ["search_customers", "send_notification", "delete_customer"]
    search, notify, delete = tools.values()
    # The arguments as the tool received them: validated, defaults filled in.
    searched = {"email": "ada.lovelace@example.com", "limit": 1, "customer_id": None}
    assert json.loads(search["input.value"]) == searched
    assert "Ada" in search["output.value"]
    assert (search["agentlab.policy.verdict"], search["agentlab.approved"]) == ("allow", False)
    assert (notify["agentlab.policy.verdict"], notify["agentlab.approved"]) == ("ask", True)
    assert notify["agentlab.policy.reasons"] == ("needs confirmation",)
    assert (delete["agentlab.policy.verdict"], delete["agentlab.approved"]) == ("ask", True)
    assert json.loads(delete["input.value"]) == {"customer_id": 1}
    assert {t["agentlab.journal"] for t in tools.values()} == {"ran"}
    assert all(t["agentlab.tool.ok"] and t["agentlab.duration_s"] >= 0 for t in tools.values())


async def test_a_run_is_one_trace_nested_run_node_then_model_or_tool(settings):
    spans, state, _ = await traced_demo(settings)
    by_id = {s.context.span_id: s for s in spans}
    assert len({s.context.trace_id for s in spans}) == 1
    root, *resumed = of_kind(spans, "AGENT")
    assert root.parent is None
    assert [s.parent.span_id for s in resumed] == [root.context.span_id] * 2
    # The run's state keeps the root's context, for whoever resumes it.
    assert state["trace"]["traceparent"].split("-")[1:3] == [
        f"{root.context.trace_id:032x}",
        f"{root.context.span_id:016x}",
    ]
    for span in of_kind(spans, "CHAIN"):
        assert attrs(by_id[span.parent.span_id])["openinference.span.kind"] == "AGENT"
    for span in of_kind(spans, "LLM") + of_kind(spans, "TOOL"):
        assert attrs(by_id[span.parent.span_id])["openinference.span.kind"] == "CHAIN"


async def test_a_run_resumed_by_another_runner_continues_the_same_trace(settings):
    first_spans, second_spans = InMemorySpanExporter(), InMemorySpanExporter()
    async with Runner(settings, tracing=exporting_to(first_spans)) as first:
        run_id, events = await first.start(None, support.DEMO_TASK, models=DEMO)
        async for _ in events:
            pass
    # Another process: a new runner with a provider of its own.
    async with Runner(settings, tracing=exporting_to(second_spans)) as second:
        await finish(second, run_id)
        assert (await second.get(run_id)).status == "completed"
    (root,) = of_kind(first_spans.get_finished_spans(), "AGENT")
    later = second_spans.get_finished_spans()
    assert {s.context.trace_id for s in later} == {root.context.trace_id}
    resumed = of_kind(later, "AGENT")
    assert len(resumed) == 2
    assert all(s.parent.span_id == root.context.span_id and s.parent.is_remote for s in resumed)
    assert {s.name for s in of_kind(later, "TOOL")} == {
        "tool send_notification",
        "tool delete_customer",
    }


async def test_a_served_graph_traces_the_same_shape_without_a_runner(settings):
    """A LangGraph server drives the compiled graph itself: its ``begin`` makes the run's root
    span, and the spans of later invocations (approvals) nest under it."""
    exporter = InMemorySpanExporter()
    tracing = exporting_to(exporter)
    graph = compile_agent(
        support.agent,
        models=resolve_models(support.agent, settings, DEMO),
        settings=settings,
        checkpointer=InMemorySaver(),
        tracing=tracing,
    )
    config = {"configurable": {"thread_id": "thread-1"}}
    await graph.ainvoke({"task": support.DEMO_TASK}, config, context=RunContext(principal="bob"))
    while (await graph.aget_state(config)).interrupts:
        decision = await decide_graph(graph, config, approve=True)
        await graph.ainvoke(Command(resume=decision), config)
    assert (await graph.aget_state(config)).values["status"] == "completed"
    tracing.flush()
    spans = exporter.get_finished_spans()
    (root,) = of_kind(spans, "AGENT")
    a = attrs(root)
    assert (a["agentlab.invocation"], a["agentlab.run_id"], a["user.id"]) == (
        "served",
        "thread-1",
        "bob",
    )
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    for span in of_kind(spans, "CHAIN"):
        assert span.parent.span_id == root.context.span_id
    assert len(of_kind(spans, "LLM")) == 5 and len(of_kind(spans, "TOOL")) == 3
    tracing.shutdown()


async def test_retries_and_fallbacks_are_events_of_the_model_call_span():
    class Busy:
        name = "busy-model"

        async def request(self, request: ModelRequest) -> ModelResponse:
            raise ModelOverloadedError("overloaded after 4 attempts")

    script = parse_script("version: 1\nroles:\n  planner:\n    - text: hello\n")
    scripted = ScriptedModel(script.roles[Role.PLANNER], name="scripted-planner")
    exporter = InMemorySpanExporter()
    tracing = exporting_to(exporter)
    request = ModelRequest(role=Role.PLANNER, system="s", messages=(user("hi"),))
    response = await TracedModel(FallbackModel([Busy(), scripted]), tracing).request(request)
    record = call_record(request, response)
    tracing.shutdown()
    (span,) = exporter.get_finished_spans()
    assert record["fallbacks"] == ["busy-model"]
    assert attrs(span)["agentlab.fallbacks"] == ("busy-model",)
    (event,) = span.events
    assert (event.name, event.attributes["model"], event.attributes["next"]) == (
        "fallback",
        "busy-model",
        "scripted-planner",
    )


async def test_a_retried_attempt_is_an_event_of_the_model_call_span():
    class Flaky:
        """A provider whose first attempt is overloaded."""

        name = "flaky-model"

        async def request(self, request: ModelRequest) -> ModelResponse:
            if request.attempt == 1:
                raise TransientModelError("529 overloaded", retry_after_s=0.01)
            return ModelResponse(model=self.name, provider="test")

    exporter = InMemorySpanExporter()
    tracing = exporting_to(exporter)
    request = ModelRequest(role=Role.VALIDATOR, system="s", messages=(user("hi"),))
    retried = RetryingModel(Flaky(), RetryPolicy(sleep=_no_wait))  # type: ignore[arg-type]
    await TracedModel(retried, tracing).request(request)
    tracing.shutdown()
    (span,) = exporter.get_finished_spans()
    (event,) = span.events
    assert (event.name, event.attributes["attempt"], event.attributes["wait_s"]) == (
        "retry",
        1,
        0.01,
    )
    assert "529 overloaded" in event.attributes["error"]


async def _no_wait(seconds: float) -> None:
    pass


def test_tracing_is_on_when_an_endpoint_is_configured(monkeypatch):
    for variable in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(variable, raising=False)
    assert tracing_for(load_settings()) is NO_TRACING
    configured = tracing_for(load_settings(otlp_endpoint="http://127.0.0.1:9/v1/traces"))
    assert configured.enabled
    configured.shutdown()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    standard = tracing_for(load_settings())
    assert standard.enabled
    standard.shutdown()


def test_the_shared_tracing_is_one_per_export_configuration(monkeypatch):
    for variable in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(variable, raising=False)
    assert shared_tracing(load_settings()) is NO_TRACING
    endpoint = "http://127.0.0.1:9/v1/traces"
    first = shared_tracing(load_settings(otlp_endpoint=endpoint))
    assert shared_tracing(load_settings(otlp_endpoint=endpoint)) is first  # not a second process
    # What is redacted differs: so do the export processes (the first would leave TICKET-7 in).
    masked = shared_tracing(
        load_settings(otlp_endpoint=endpoint, redaction_patterns=["TICKET-\\d+"])
    )
    elsewhere = shared_tracing(load_settings(otlp_endpoint=endpoint, trace_project="other"))
    assert len({id(first), id(masked), id(elsewhere)}) == 3
    assert masked.pipeline is not None and masked.pipeline.sink.config.patterns[-1] == "TICKET-\\d+"


def live(kind: type) -> int:
    return sum(isinstance(o, kind) for o in gc.get_objects())


async def test_without_an_endpoint_nothing_is_traced(settings, monkeypatch):
    for variable in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(variable, raising=False)
    made: list[str] = []
    monkeypatch.setattr(Recorder, "start_span", lambda self, name, *a, **k: made.append(name))
    threads = set(threading.enumerate())
    recorders, pipelines = live(Recorder), live(SpanPipeline)
    async with Runner(settings) as runner:
        assert not runner.tracing.enabled
        run_id, events = await runner.start(None, support.DEMO_TASK, models=DEMO)
        async for _ in events:
            pass
        await finish(runner, run_id)
        state = (await runner.get(run_id)).state
    assert state["status"] == "completed" and "trace" not in state
    assert made == []  # not one span was started
    assert live(Recorder) <= recorders and live(SpanPipeline) <= pipelines  # none was made
    assert not [t for t in set(threading.enumerate()) - threads if t.name == "agentlab-spans"]
