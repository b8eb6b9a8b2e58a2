"""How spans leave a process: recorded on the run's thread, batched, and exported by a child
process over real OTLP/HTTP to a receiver on 127.0.0.1 (``tracing_for``), or by an SDK exporter
in this process (``exporting_to``). Nothing is lost at exit, nothing is lost silently when the
export falls behind, and a dead export process is replaced."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from pydantic import SecretStr

from agentlab.config import load_settings
from agentlab.models.base import ModelRequest, ModelResponse, Role
from agentlab.models.messages import user
from agentlab.observability import spans
from agentlab.observability.pipeline import SpanPipeline
from agentlab.observability.recording import SpanRecord
from agentlab.observability.traced import TracedModel
from agentlab.observability.tracing import Tracing, context_of, exporting_to, tracing_for
from tests.otlp_receiver import Receiver, receiving

CANARY = "sk-ant-api03-canary-Zq8Jm2Xv5Rk7Tn4W"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as server:
        yield server


@pytest.fixture
def traced(receiver: Receiver, tmp_path: Path) -> Iterator[Tracing]:
    """The tracing ``tracing_for`` builds for an endpoint: the export process, OTLP/HTTP."""
    settings = load_settings(data_dir=tmp_path / "data").model_copy(
        update={"otlp_endpoint": receiver.endpoint, "anthropic_api_key": SecretStr(CANARY)}
    )
    tracing = tracing_for(settings)
    yield tracing
    tracing.shutdown()


class Answering:
    """A model that answers with one text block."""

    name = "answering-model"

    async def request(self, request: ModelRequest) -> ModelResponse:
        return ModelResponse(
            model=self.name,
            provider="test",
            content=({"type": "text", "text": "the answer"},),
            stop_reason="end_turn",
        )


def export_pid(tracing: Tracing) -> int | None:
    return getattr(getattr(tracing.pipeline, "sink", None), "pid", None)


@pytest.mark.integration
async def test_spans_leave_through_the_export_process_and_a_flush_waits_for_them(
    traced: Tracing, receiver: Receiver
) -> None:
    request = ModelRequest(role=Role.PLANNER, system="be brief", messages=(user("hi"),))
    with traced.span("plan", {"openinference.span.kind": "CHAIN"}) as node:
        await TracedModel(Answering(), traced).request(request)  # type: ignore[arg-type]
    assert traced.flush()  # true once the process says it exported them: no waiting here
    assert export_pid(traced) not in (None, os.getpid())
    by_name = {s["name"]: s for s in receiver.spans()}
    llm, plan = by_name["llm planner"], by_name["plan"]
    assert llm["parent_id"] == f"{node.get_span_context().span_id:016x}"
    assert llm["trace_id"] == plan["trace_id"] and plan["parent_id"] == ""
    a = llm["attributes"]
    # Made in the export process from what the span recorded (deferred):
    assert a["llm.input_messages.0.message.content"] == "be brief"
    assert a["llm.input_messages.1.message.content"] == "hi"
    assert a["llm.output_messages.0.message.content"] == "the answer"
    assert a["llm.provider"] == "test" and a["agentlab.stop_reason"] == "end_turn"
    # Made on the run's thread:
    assert (a["openinference.span.kind"], a["agentlab.role"]) == ("LLM", "planner")
    assert llm["resource"]["openinference.project.name"] == "agentlab"
    assert llm["scope"] == "agentlab"


@pytest.mark.integration
async def test_the_export_process_makes_the_spans_the_in_process_exporter_makes(
    traced: Tracing, receiver: Receiver
) -> None:
    memory = InMemorySpanExporter()
    in_process = exporting_to(memory)
    request = ModelRequest(role=Role.EXECUTOR, system="s", messages=(user("do it"),))
    for tracing in (traced, in_process):
        await TracedModel(Answering(), tracing).request(request)  # type: ignore[arg-type]
        tracing.flush()
    (exported,) = receiver.spans()
    (kept,) = memory.get_finished_spans()
    assert exported["attributes"] == dict(kept.attributes or {})
    assert exported["name"] == kept.name
    in_process.shutdown()


@pytest.mark.integration
def test_a_50_mb_tool_output_leaves_cut_to_the_attribute_limit(
    traced: Tracing, receiver: Receiver
) -> None:
    output = f"token={CANARY} " + "log line ok\n" * (50 * 1024 * 1024 // 12)
    with traced.span("tool dump_logs", spans.tool_attributes("dump_logs", "1.1")) as span:
        spans.tool_ended(
            span,
            {"ok": True, "output": output},
            journal="none",
            verdict="allow",
            reasons=[],
            rule=None,
            duration_s=0.1,
        )
    assert traced.flush(120)

    assert sum(len(body) for body in receiver.bodies) < 100_000  # not 50 MB
    (tool,) = receiver.spans()
    shown = tool["attributes"]["output.value"]
    assert shown.startswith("token=[secret] log line ok\n")  # redacted, as every attribute
    assert shown.endswith(f"…[truncated: {len(output):,} chars, kept 32,768]")
    assert len(shown) < 33_000


@pytest.mark.integration
def test_the_secrets_to_redact_are_not_on_the_export_process_command_line(
    traced: Tracing,
) -> None:
    with traced.span("a", {"note": f"key {CANARY}"}):
        pass
    assert traced.flush()
    pid = export_pid(traced)
    assert CANARY.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert CANARY.encode() not in Path(f"/proc/{pid}/environ").read_bytes()


@pytest.mark.integration
def test_a_tool_output_the_export_process_could_not_read_is_made_text_first(
    traced: Tracing, receiver: Receiver
) -> None:
    class Ticket:  # a class of the caller's: the export process could not import it
        def __str__(self) -> str:
            return "ticket #7"

    with traced.span("tool lookup", spans.tool_attributes("lookup", "1.1")) as span:
        spans.tool_arguments(span, {"when": Colour.RED})  # an enum member: a class too
        spans.tool_ended(
            span,
            {"ok": True, "output": {"ticket": Ticket()}},
            journal="ran",
            verdict="allow",
            reasons=(),
            rule=None,
            duration_s=0.01,
        )
    assert traced.flush()
    (span_seen,) = receiver.spans()
    assert span_seen["attributes"]["output.value"] == '{"ticket": "ticket #7"}'
    assert span_seen["attributes"]["tool.parameters"] == '{"when": "red"}'


class Colour(str, Enum):  # noqa: UP042 - str() of it is "Colour.RED", not its value
    RED = "red"


@pytest.mark.slow
@pytest.mark.integration
def test_spans_that_ended_before_a_normal_exit_are_exported_without_a_shutdown(
    receiver: Receiver, tmp_path: Path
) -> None:
    program = textwrap.dedent(
        f"""
        from agentlab.config import load_settings
        from agentlab.observability.tracing import tracing_for

        tracing = tracing_for(load_settings(otlp_endpoint={receiver.endpoint!r}))
        for i in range(3):
            with tracing.span(f"step {{i}}", {{"i": i}}):
                pass
        """
    )
    env = {**os.environ, "AGENTLAB_DATA_DIR": str(tmp_path / "data")}
    subprocess.run([sys.executable, "-c", program], check=True, env=env, cwd=ROOT, timeout=60)
    assert sorted(s["name"] for s in receiver.wait_for(3)) == ["step 0", "step 1", "step 2"]


@pytest.mark.slow
@pytest.mark.integration
def test_a_dead_export_process_is_replaced_and_the_log_says_so(
    traced: Tracing, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    with traced.span("before", {}):
        pass
    assert traced.flush()
    first = export_pid(traced)
    assert first is not None
    os.kill(first, signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="agentlab.observability.export_process"):
        with traced.span("after", {}):
            pass
        traced.flush()  # the batch that finds the process dead
        with traced.span("after again", {}):
            pass
        assert traced.flush()
    assert "the span export process ended" in caplog.text
    assert export_pid(traced) not in (None, first)
    assert "after again" in {s["name"] for s in receiver.wait_for(2)}


# The fork runs in a process of its own, never in pytest's: a fork of a pytest-xdist worker holds
# the worker's pipes to pytest, and one that hung (a lock another thread held when it forked) kept
# pytest waiting after the run for those pipes to close.
FORKING = """
import os, signal, sys
from pathlib import Path
from agentlab.config import load_settings
from agentlab.observability.tracing import tracing_for

def export_pid(tracing):
    return getattr(getattr(tracing.pipeline, "sink", None), "pid", None)

endpoint, data_dir = sys.argv[1:]
settings = load_settings(data_dir=Path(data_dir)).model_copy(update={"otlp_endpoint": endpoint})
traced = tracing_for(settings)
with traced.span("parent", {}):
    pass
print("parent", traced.flush(), flush=True)
parent_export = export_pid(traced)
pid = os.fork()
if pid == 0:  # the child: a span, exported by its own export process
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(60)  # a child that hangs ends anyway
    code = 1
    try:
        with traced.span("child", {}):
            pass
        code = 0 if traced.flush() and export_pid(traced) not in (None, parent_export) else 3
    finally:
        os._exit(code)
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status), flush=True)
with traced.span("parent again", {}):  # the parent's export process still serves it
    pass
print("parent again", traced.flush(), export_pid(traced) == parent_export, flush=True)
traced.shutdown()
"""


@pytest.mark.slow
@pytest.mark.integration
def test_a_fork_exports_its_spans_through_an_export_process_of_its_own(
    receiver: Receiver, tmp_path: Path
) -> None:
    script = tmp_path / "forking.py"
    script.write_text(FORKING)
    log = tmp_path / "forking.log"
    with log.open("w") as out:  # a file, not a pipe: nothing to wait for if a child lingers
        done = subprocess.run(
            [sys.executable, str(script), receiver.endpoint, str(tmp_path / "data")],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT, timeout=150,
        )  # fmt: skip
    printed = log.read_text()
    assert done.returncode == 0, printed
    assert printed.splitlines()[:3] == ["parent True", "child 0", "parent again True True"]
    assert {"parent", "child", "parent again"} <= {s["name"] for s in receiver.wait_for(3)}


class StuckSink:
    """A sink whose sends wait until released: an exporter that cannot keep up."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent: list[Any] = []

    def open(self, timeout_s: float | None) -> bool:
        return True

    def encode(self, record: SpanRecord) -> SpanRecord:
        return record

    def send(self, records: Sequence[Any]) -> None:
        self.release.wait(30)
        self.sent.extend(records)

    def flush(self, timeout_s: float) -> bool:
        return True

    def shutdown(self, timeout_s: float) -> None:
        self.release.set()

    def forked(self) -> StuckSink:
        return self


def test_spans_beyond_a_full_queue_are_dropped_and_counted_in_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = StuckSink()
    pipeline = SpanPipeline(sink, interval_s=0.01, batch_size=1, max_queue=5)
    from agentlab.observability.recording import Recorder

    tracing = Tracing(Recorder(pipeline.add), pipeline)
    with tracing.span("first", {}):
        pass
    while pipeline._queue:  # the thread took it, and waits in send
        threading.Event().wait(0.01)
    for i in range(8):  # 5 wait, 3 are dropped
        with tracing.span(f"span {i}", {}):
            pass
    sink.release.set()
    with caplog.at_level(logging.WARNING, logger="agentlab.observability.pipeline"):
        pipeline.shutdown()
    assert "3 spans dropped" in caplog.text
    assert [r.name for r in sink.sent] == ["first", *(f"span {i}" for i in range(5))]


def test_a_recorded_span_keeps_the_sdk_rules_for_status_and_attributes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    memory = InMemorySpanExporter()
    tracing = exporting_to(memory)
    with pytest.raises(ValueError), tracing.span("fails", {"colour": Colour.RED}) as span:
        span.set_attribute("tags", ["a", "b"])
        with caplog.at_level(logging.WARNING, logger="agentlab.observability.recording"):
            span.set_attribute("object", object())
        trace.get_current_span().add_event("seen", {"n": 1})  # the current span is ours
        raise ValueError("bad input")
    with tracing.span("ok", {}) as span:
        span.set_status(StatusCode.OK)
        span.set_status(StatusCode.ERROR, "too late")  # OK is final
    tracing.shutdown()
    failed, ok = memory.get_finished_spans()
    assert failed.attributes == {"colour": "red", "tags": ("a", "b")}
    assert "span attribute 'object' dropped" in caplog.text
    assert [e.name for e in failed.events] == ["seen", "exception"]
    assert failed.events[1].attributes["exception.type"] == "ValueError"
    assert (failed.status.status_code, failed.status.description) == (
        StatusCode.ERROR,
        "ValueError: bad input",
    )
    assert ok.status.status_code == StatusCode.OK


def test_a_child_of_a_trace_its_sampler_dropped_is_not_recorded() -> None:
    memory = InMemorySpanExporter()
    tracing = exporting_to(memory)
    unsampled = context_of({"traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-00"})
    with tracing.span("child", {}, parent=unsampled) as span:
        assert not span.is_recording()
    sampled = context_of({"traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"})
    with tracing.span("child", {}, parent=sampled):
        pass
    tracing.shutdown()
    (kept,) = memory.get_finished_spans()
    assert kept.parent is not None and kept.parent.is_remote
    assert (kept.context.trace_id, kept.parent.span_id) == (int("ab" * 16, 16), int("cd" * 8, 16))


def test_an_exporter_sink_forked_while_its_lock_was_held_can_still_flush() -> None:
    from opentelemetry.sdk.resources import Resource

    from agentlab.observability.export import ExporterSink

    sink = ExporterSink(InMemorySpanExporter(), Resource.create({}))
    sink._lock.acquire()  # as a parent's thread, mid-export, held it when the process forked
    child = sink.forked()  # what the child's fork hook does, in the child
    assert child.flush(1.0)  # the child's lock is its own: no wait for a thread it does not have
