"""Exported span attributes have a maximum size: a longer string leaves cut, with a note saying how
long it was, and redacted as if it had been exported whole (a secret across the cut is masked,
never half-kept). Spans go through the redacting exporter of a real tracer provider into memory."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from agentlab.config import load_settings
from agentlab.observability.redact import Redactor
from agentlab.observability.redact_spans import RedactingSpanExporter, truncated

KEY = "sk-ant-api03-" + "Zx9" * 14  # built from pieces so no scanner mistakes it for a leak


def export_one(most: int) -> tuple[InMemorySpanExporter, TracerProvider]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        SimpleSpanProcessor(RedactingSpanExporter(memory, Redactor(), max_attribute_chars=most))
    )
    return memory, provider


def test_a_long_attribute_leaves_cut_with_a_note_saying_how_long_it_was() -> None:
    memory, provider = export_one(1000)
    with provider.get_tracer("t").start_as_current_span("tool dump") as span:
        span.set_attribute("output.value", "x" * 5000)
        span.set_attribute("agentlab.policy.reasons", ["y" * 3000, "short"])
        span.set_attribute("tool.name", "dump")
        span.add_event("exception", {"exception.stacktrace": "z" * 2000})
        span.set_status(Status(StatusCode.ERROR, "e" * 1500))

    (exported,) = memory.get_finished_spans()
    attributes = dict(exported.attributes or {})
    assert attributes["output.value"] == "x" * 1000 + "…[truncated: 5,000 chars, kept 1,000]"
    assert attributes["agentlab.policy.reasons"] == (
        "y" * 1000 + "…[truncated: 3,000 chars, kept 1,000]",
        "short",
    )
    assert attributes["tool.name"] == "dump"
    assert dict(exported.events[0].attributes or {})["exception.stacktrace"] == (
        "z" * 1000 + "…[truncated: 2,000 chars, kept 1,000]"
    )
    assert exported.status.description == "e" * 1000 + "…[truncated: 1,500 chars, kept 1,000]"


def test_a_secret_across_the_cut_is_masked_whole() -> None:
    memory, provider = export_one(1000)
    with provider.get_tracer("t").start_as_current_span("tool read") as span:
        span.set_attribute("output.value", "a" * 990 + f" {KEY} " + "b" * 100_000)

    (exported,) = memory.get_finished_spans()
    value = str((exported.attributes or {})["output.value"])
    assert value == "a" * 990 + " [secret] …[truncated: 101,047 chars, kept 1,000]"


@pytest.mark.parametrize("offset", range(0, 839, 29))
def test_a_start_that_masking_shrinks_shows_no_piece_of_a_cut_secret(offset: int) -> None:
    # Long keys, one after another: masking shrinks them to a few characters each, so text from
    # far past the cut moves into view; wherever the keys fall, no piece of one is shown.
    keys = ("sk-" + "A" * 835 + " ") * 120
    shown = truncated("x" * offset + " " + keys, Redactor(), 1000)

    assert "sk-" not in shown and "AAAA" not in shown
    assert shown.startswith("x" * offset + " [secret] [secret] ")


def test_short_values_are_exported_as_they_were() -> None:
    memory, provider = export_one(1000)
    with provider.get_tracer("t").start_as_current_span("tool") as span:
        span.set_attribute("output.value", "x" * 1000)

    (exported,) = memory.get_finished_spans()
    assert (exported.attributes or {})["output.value"] == "x" * 1000


def test_the_limit_is_a_setting() -> None:
    assert load_settings().trace_attribute_max_chars == 32_768
    assert load_settings(trace_attribute_max_chars=4096).trace_attribute_max_chars == 4096
