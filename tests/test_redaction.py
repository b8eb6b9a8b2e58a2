"""Redaction: secrets and personal data never leave the process in spans or logs, while the data
the model works with stays as it is."""

from __future__ import annotations

import copy
import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode, Tracer
from opentelemetry.util.types import AnyValue
from pydantic import SecretStr

from agentlab.errors import ConfigError
from agentlab.observability.redact import RedactingLogFilter, Redactor
from agentlab.observability.redact_spans import RedactingSpanExporter

CANARY = "canary-4f9c2e17b8d3"
EMAIL = "jane.doe+support@example.com"
PHONE = "+1 415 555 0123"
# Built from pieces so no scanner mistakes this file for a leak.
ANTHROPIC_KEY = "sk-ant-api03-" + "Zx9" * 14


class Traced:
    """A real tracer provider whose spans go through the redacting exporter into memory."""

    def __init__(self, redactor: Redactor, **provider_options: object) -> None:
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider(**provider_options)  # type: ignore[arg-type]
        self.provider.add_span_processor(
            SimpleSpanProcessor(RedactingSpanExporter(self.memory, redactor))
        )
        self.tracer: Tracer = self.provider.get_tracer("agentlab.tests")

    def exported(self) -> tuple[ReadableSpan, ...]:
        return self.memory.get_finished_spans()

    def exported_json(self) -> str:
        return "\n".join(span.to_json() for span in self.exported())


@pytest.fixture
def traced() -> Iterator[Traced]:
    t = Traced(Redactor(secrets=[CANARY]))
    yield t
    t.provider.shutdown()


def record_tool_call(tracer: Tracer, result: str) -> None:
    """A tool-call span the way an instrumented executor writes one (OpenInference keys)."""
    with tracer.start_as_current_span("tool lookup_customer") as span:
        span.set_attribute("openinference.span.kind", "TOOL")
        span.set_attribute("tool.name", "lookup_customer")
        span.set_attribute("tool.result", result)
        span.set_attribute("output.value", json.dumps({"customer": {"notes": [result]}}))
        span.set_attribute("output.mime_type", "application/json")
        span.set_attribute(
            "llm.input_messages.0.message.content", json.dumps([{"type": "text", "text": result}])
        )
        span.set_attribute("tool.results", ["ok", f"row 2: {result}"])
        span.add_event("tool.retry", {"attempt": 1, "previous_result": result})
        try:
            raise RuntimeError(f"tool failed on {result}")
        except RuntimeError as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"tool failed on {result}"))


def test_canary_in_a_tool_result_never_reaches_an_exported_span(traced: Traced) -> None:
    record_tool_call(traced.tracer, f"account note: {CANARY}")

    exported = traced.exported_json()
    assert CANARY not in exported
    (span,) = traced.exported()
    assert span.attributes is not None
    assert span.attributes["tool.result"] == "account note: [secret]"
    assert span.attributes["tool.results"] == ("ok", "row 2: account note: [secret]")
    assert json.loads(str(span.attributes["output.value"])) == {
        "customer": {"notes": ["account note: [secret]"]}
    }
    assert span.status.description == "tool failed on account note: [secret]"
    exception = next(event for event in span.events if event.name == "exception")
    assert exception.attributes is not None
    assert exception.attributes["exception.type"] == "RuntimeError"
    assert "[secret]" in str(exception.attributes["exception.stacktrace"])


def test_email_and_phone_in_a_tool_result_never_reach_an_exported_span(traced: Traced) -> None:
    record_tool_call(traced.tracer, f"contact {EMAIL} or {PHONE}")

    exported = traced.exported_json()
    assert EMAIL not in exported
    assert PHONE not in exported
    (span,) = traced.exported()
    assert span.attributes is not None
    assert span.attributes["tool.result"] == "contact [email] or [phone]"


def test_api_key_in_span_name_event_and_resource_is_masked() -> None:
    resource = Resource.create({"process.command_args": ["agent", f"--api-key={ANTHROPIC_KEY}"]})
    traced = Traced(Redactor(), resource=resource)
    with traced.tracer.start_as_current_span(f"call with {ANTHROPIC_KEY}") as span:
        span.add_event(f"retry {ANTHROPIC_KEY}", {"http.request.body": f"key {ANTHROPIC_KEY}"})

    assert ANTHROPIC_KEY not in traced.exported_json()
    (exported,) = traced.exported()
    assert exported.name == "call with [secret]"
    assert exported.resource.attributes["process.command_args"] == (
        "agent",
        "--api-key=[secret]",
    )


def test_values_of_secret_named_keys_are_masked_whole(traced: Traced) -> None:
    arguments = {"user": "jane", "password": "correct horse battery staple", "max_tokens": 512}
    with traced.tracer.start_as_current_span("tool login") as span:
        span.set_attribute("input.value", json.dumps(arguments))
        span.set_attribute("http.request.header.authorization", ["Basic amFuZTpodW50ZXIy"])
        span.set_attribute("llm.token_count.prompt", 1200)

    (exported,) = traced.exported()
    assert exported.attributes is not None
    assert json.loads(str(exported.attributes["input.value"])) == {
        "user": "jane",
        "password": "[secret]",
        "max_tokens": 512,
    }
    assert exported.attributes["http.request.header.authorization"] == ("[secret]",)
    assert exported.attributes["llm.token_count.prompt"] == 1200


def test_span_without_secrets_is_exported_as_it_was(traced: Traced) -> None:
    attributes: dict[str, AnyValue] = {
        "run.id": "run-20240115-0042",
        "order.total": "$1,234.56",
        "created_at": "2024-01-15T10:30:00.123+05:30",
        "session.id": "550e8400-e29b-41d4-a716-446655440000",
        "input.value": json.dumps({"order_id": 4155550123, "items": [3, 12.99]}),
        "tool.results": ("first", "second"),
        "retries": 2,
    }
    with (
        traced.tracer.start_as_current_span("run") as parent,
        traced.tracer.start_as_current_span("tool", attributes=attributes) as child,
    ):
        child.add_event("done", {"count": 7})

    exported = {span.name: span for span in traced.exported()}
    span = exported["tool"]
    assert dict(span.attributes or {}) == attributes
    assert span.context == child.get_span_context()
    assert span.parent == parent.get_span_context()
    assert span.start_time is not None and span.end_time is not None
    assert [(e.name, dict(e.attributes or {})) for e in span.events] == [("done", {"count": 7})]


def test_live_span_keeps_what_the_application_set(traced: Traced) -> None:
    with traced.tracer.start_as_current_span("tool") as span:
        span.set_attribute("tool.result", CANARY)

    assert isinstance(span, ReadableSpan) and span.attributes is not None
    assert span.attributes["tool.result"] == CANARY


def test_dropped_attribute_count_survives_redaction() -> None:
    traced = Traced(Redactor(), span_limits=SpanLimits(max_span_attributes=2))
    with traced.tracer.start_as_current_span("tool") as span:
        for index in range(5):
            span.set_attribute(f"a{index}", index)

    (exported,) = traced.exported()
    assert exported.dropped_attributes == 3


def test_shutdown_reaches_the_inner_exporter() -> None:
    traced = Traced(Redactor())
    traced.provider.shutdown()

    assert traced.memory.export([]) is SpanExportResult.FAILURE


def test_redact_value_works_on_a_copy() -> None:
    tool_result = {
        "email": EMAIL,
        "phones": [PHONE],
        "nested": ({"password": "hunter2"},),
        "raw": json.dumps({"api_key": "abc"}),
    }
    before = copy.deepcopy(tool_result)

    redacted = Redactor().redact_value(tool_result)

    assert tool_result == before
    assert redacted == {
        "email": "[email]",
        "phones": ["[phone]"],
        "nested": ({"password": "[secret]"},),
        "raw": json.dumps({"api_key": "[secret]"}),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alice@example.co.uk", "[email]"),
        ("first.last+tag@mail.example.com", "[email]"),
        ("+1 415 555 0123", "[phone]"),
        ("+1-415-555-0123", "[phone]"),
        ("+14155550123", "[phone]"),
        ("+44 20 7946 0958", "[phone]"),
        ("+44 (0)20 7946 0958", "[phone]"),
        ("+33 1 23 45 67 89", "[phone]"),
        ("+49 30 1234567", "[phone]"),
        ("(415) 555-0123", "[phone]"),
        ("415-555-0123", "[phone]"),
        ("415.555.0123", "[phone]"),
        ("1-800-555-0199", "1-[phone]"),  # the country code stays
        ("020 7946 0958", "[phone]"),
        ("07700 900123", "[phone]"),
        ("01 23 45 67 89", "[phone]"),
        ("06.12.34.56.78", "[phone]"),
    ],
)
def test_emails_and_phone_numbers_are_masked(text: str, expected: str) -> None:
    assert Redactor().redact_text(f"write to {text}.") == f"write to {expected}."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ANTHROPIC_KEY, "[secret]"),
        ("sk-proj-" + "a1B2" * 10, "[secret]"),
        ("AKIA" + "IOSFODNN7EXAMPLE", "[secret]"),
        ("ghp_" + "a1b2c3" * 6, "[secret]"),
        ("github_pat_" + "11AB_cd" * 6, "[secret]"),
        ("xoxb-" + "123456789012-abcdefghijkl", "[secret]"),
        ("xoxp-" + "1234-5678-abcdefghijkl", "[secret]"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9P",
            "[secret]",
        ),
        ("Authorization: Bearer abc.def-ghi_123", "Authorization: Bearer [secret]"),
        ("curl -H 'authorization=Basic dXNlcjpwYXNz'", "curl -H 'authorization=Basic [secret]'"),
        ("api_key=abc123 and more", "api_key=[secret] and more"),
        ("password: hunter2", "password: [secret]"),
        ('PASSWORD="correct horse battery"', 'PASSWORD="[secret]"'),
        ('{"client_secret": "s3cr3t value"}', '{"client_secret": "[secret]"}'),
        ("GET /items?token=abcd&page=2", "GET /items?token=[secret]&page=2"),
    ],
)
def test_keys_and_tokens_are_masked(text: str, expected: str) -> None:
    assert Redactor().redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "42",
        "order 12345678 shipped",
        "customer id 4155550123",
        "2024-01-15",
        "2024-01-15T10:30:00Z",
        "2024-01-15 10:30:00.123+05:30",
        "01.02.2024 10:30",
        "15/01/2024",
        "$1,234.56",
        "12.99 EUR, 1234.50 USD",
        "550e8400-e29b-41d4-a716-446655440000",
        "12345678-1234-1234-1234-123456789012",
        "192.168.1.100:8080",
        "version 1.2.3",
        "+100 points",
        "max_tokens=1024, token_count: 512",
        "the password is required",
        "sizes 100 200 3000",
        "ISBN 978-3-16-148410-0",
        "task-abcdefghijklmnopqrstuvwxyz",
        "the bearer of bad news",
        "The agent planned three steps and refunded order #8812.",
    ],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert Redactor().redact_text(text) == text


def test_redaction_is_idempotent() -> None:
    redactor = Redactor(secrets=[CANARY])
    once = redactor.redact_text(f"{EMAIL} {PHONE} password: x {ANTHROPIC_KEY} {CANARY}")

    assert redactor.redact_text(once) == once


def test_known_secret_is_masked_in_any_spelling_json_gives_it() -> None:
    secret = 'p"ss\\wörd-42'
    redactor = Redactor(secrets=[SecretStr(secret)])
    document = json.dumps({"note": f"uses {secret}"})
    truncated = document[:-1]  # not parseable: masked as text, JSON-escaped spelling included

    assert json.loads(redactor.redact_value(document)) == {"note": "uses [secret]"}
    assert redactor.redact_text(truncated) == '{"note": "uses [secret]"'


def test_configured_patterns_are_masked() -> None:
    redactor = Redactor(patterns=[r"ACME-\d{6}", r"(?i)project\s+falcon", r"(\d)\1{5}"])

    assert redactor.redact_text("ticket ACME-123456 about Project  Falcon, pin 777777") == (
        "ticket [redacted] about [redacted], pin [redacted]"
    )


def test_configured_patterns_alone_when_defaults_are_off() -> None:
    redactor = Redactor(patterns=[r"ACME-\d{6}"], defaults=False)

    assert redactor.redact_text(f"ACME-123456 {EMAIL}") == f"[redacted] {EMAIL}"


def test_invalid_pattern_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError) as error:
        Redactor(patterns=[r"ACME-\d{6}", r"customer-(\d+"])

    message = str(error.value)
    assert r"customer-(\d+" in message
    assert "missing ), unterminated subpattern" in message


def test_pattern_matching_nothing_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="matches the empty string"):
        Redactor(patterns=[r"x*"])


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing through a handler that carries the redacting filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingLogFilter(Redactor(secrets=[CANARY])))
    logger = logging.getLogger("agentlab.tests.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_log_filter_masks_the_formatted_message(
    log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = log
    logger.info("customer %s called from %s about %s", EMAIL, PHONE, {"token": CANARY})

    output = stream.getvalue()
    assert EMAIL not in output and PHONE not in output and CANARY not in output
    assert output == "customer [email] called from [phone] about {'token': '[secret]'}\n"


def test_log_filter_masks_exceptions(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    try:
        raise ValueError(f"lookup failed for {EMAIL} with {CANARY}")
    except ValueError:
        logger.exception("tool failed")

    output = stream.getvalue()
    assert EMAIL not in output and CANARY not in output
    assert "ValueError: lookup failed for [email] with [secret]" in output
    assert "Traceback (most recent call last)" in output
