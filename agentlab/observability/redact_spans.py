"""Exported spans redacted and bounded: ``RedactingSpanExporter`` wraps any OpenTelemetry exporter
so that every span it sends is a copy with its text masked by a ``Redactor`` and, given a
``max_attribute_chars``, every string attribute longer than that cut to it, with a note saying
how long it was. Wrapping the exporter (not a span processor) keeps the work off the hot path:
behind a ``BatchSpanProcessor`` it runs on the export thread (in production, in the export
process), and the live spans are never touched.

Plugging it in::

    redactor = Redactor(patterns=settings_patterns, secrets=[settings.anthropic_api_key])
    exporter = RedactingSpanExporter(OTLPSpanExporter(endpoint=...), redactor, 32_768)
    provider.add_span_processor(BatchSpanProcessor(exporter))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, Status
from opentelemetry.util.types import AnyValue, Attributes

from agentlab.observability.redact import Redactor
from agentlab.observability.redact_rules import is_sensitive_key

# The longest text a built-in rule masks (a private key block), rounded up; and how far past the
# limit a long value is redacted before it is cut, so that a secret across the cut is masked whole.
_LONGEST_MATCH = 10_240
_MARGIN = 4 * _LONGEST_MATCH


def truncated(text: str, redactor: Redactor, most: int) -> str:
    """``text`` redacted, and cut to ``most`` characters when longer, with a note saying how long
    it was: ``…[truncated: 52,428,800 chars, kept 16,384]``.

    Only the start is redacted, what is kept and a margin after it, so a 50 MB tool output costs
    what 50 kB do; a secret that straddles the cut lies within the margin and is masked whole.
    Masking shortens the text: when the start shrank by so much that the end of the margin (where
    a secret may be cut in two, and so not recognised) could come into view, the whole text is
    redacted instead.
    """
    if len(text) <= most:
        return redactor._redact_string(text)
    window = text[: most + _MARGIN]
    redacted = redactor._redact_string(window)
    if len(window) < len(text) and len(window) - len(redacted) > _MARGIN - _LONGEST_MATCH:
        redacted = redactor._redact_string(text)
    if len(redacted) <= most:
        return redacted
    return f"{redacted[:most]}…[truncated: {len(text):,} chars, kept {most:,}]"


def redact_span(
    span: ReadableSpan,
    redactor: Redactor,
    resource: Resource | None = None,
    most: int | None = None,
) -> ReadableSpan:
    """A copy of a finished span with its name, attributes, events, links, status description
    and resource redacted, and with ``most``, its attributes' strings and status description
    longer than that ``truncated``; ids, times, kind and scope are kept. ``resource``: the span's
    resource, already redacted (``redact_resource``; an exporter keeps it). A span with nothing
    to mask or cut is returned as it is (it is finished: nothing changes it any more)."""
    if resource is None:
        resource = redact_resource(span.resource, redactor)
    name = redactor.redact_text(span.name)
    attributes, changed = _redacted(span.attributes, redactor, most)
    changed = changed or name is not span.name or resource is not span.resource
    status = span.status
    if status.description:
        description = _member(redactor, "", status.description, most)
        if description is not status.description:
            status, changed = Status(status.status_code, description), True
    events = []
    for event in span.events:
        event_name = redactor.redact_text(event.name)
        event_attributes, event_changed = _redacted(event.attributes, redactor, most)
        if event_changed or event_name is not event.name:
            changed = True
            event = Event(
                event_name,
                _bounded(event_attributes, event.dropped_attributes),
                timestamp=event.timestamp,
            )
        events.append(event)
    links = []
    for link in span.links:
        link_attributes, link_changed = _redacted(link.attributes, redactor, most)
        if link_changed:
            changed = True
            link = Link(link.context, _bounded(link_attributes, link.dropped_attributes))
        links.append(link)
    if not changed:
        return span
    return ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=resource,
        attributes=_bounded(attributes, span.dropped_attributes),
        events=_counted(events, span.dropped_events),
        links=_counted(links, span.dropped_links),
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def redact_resource(resource: Resource, redactor: Redactor) -> Resource:
    """``resource`` with its attributes redacted: the same object when nothing was masked."""
    attributes, changed = _redacted(resource.attributes, redactor)
    return Resource(attributes, resource.schema_url) if changed else resource


def _redacted(
    attributes: Attributes, redactor: Redactor, most: int | None = None
) -> tuple[dict[str, AnyValue], bool]:
    """The redacted attributes (strings longer than ``most`` cut), and whether any changed."""
    redacted: dict[str, AnyValue] = {}
    changed = False
    if attributes:
        for key, value in attributes.items():
            redacted[key] = masked = _member(redactor, key, value, most)
            changed = changed or masked is not value
    return redacted, changed


def _member(redactor: Redactor, key: str, value: Any, most: int | None) -> Any:
    """``value`` under ``key`` redacted, its strings longer than ``most`` ``truncated``: the very
    same object when nothing changed."""
    if most is not None and not is_sensitive_key(key):
        if isinstance(value, str) and len(value) > most:
            return truncated(value, redactor, most)
        if isinstance(value, list | tuple) and any(
            isinstance(v, str) and len(v) > most for v in value
        ):
            return type(value)(
                truncated(v, redactor, most) if isinstance(v, str) else redactor.redact_value(v)
                for v in value
            )
    return redactor._redact_member(key, value)


def _bounded(attributes: dict[str, AnyValue], dropped: int) -> Attributes:
    """The attributes, carrying the original's count of dropped attributes for the exporter."""
    if not dropped:
        return attributes
    bounded = BoundedAttributes(attributes=attributes, immutable=True)
    bounded.dropped = dropped
    return bounded


def _counted(items: list[Any], dropped: int) -> Sequence[Any]:
    """The events or links, carrying the original's count of dropped ones for the exporter."""
    if not dropped:
        return items
    bounded = BoundedList.from_seq(None, items)
    bounded.dropped = dropped
    return bounded


class RedactingSpanExporter(SpanExporter):
    """Exports redacted copies of spans through another exporter (OTLP, console, in-memory),
    their string attributes cut to ``max_attribute_chars`` (``None``: whole).

    Put it behind a ``BatchSpanProcessor`` so redaction runs on the export thread; the spans the
    application holds are not changed.
    """

    def __init__(
        self, inner: SpanExporter, redactor: Redactor, max_attribute_chars: int | None = None
    ) -> None:
        self.inner = inner
        self.redactor = redactor
        self.max_attribute_chars = max_attribute_chars
        # A provider's spans share one resource: redacted once, and the same object for all of
        # them, as the encoder groups spans by resource. Keyed by id, the original kept alive.
        self._resources: dict[int, tuple[Resource, Resource]] = {}

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export(
            [
                redact_span(
                    span, self.redactor, self._resource(span.resource), self.max_attribute_chars
                )
                for span in spans
            ]
        )

    def _resource(self, resource: Resource) -> Resource:
        known = self._resources.get(id(resource))
        if known is None or known[0] is not resource:
            if len(self._resources) >= 64:  # resources made on the fly: keep a few
                self._resources.clear()
            known = (resource, redact_resource(resource, self.redactor))
            self._resources[id(resource)] = known
        return known[1]

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


__all__ = ["RedactingSpanExporter", "redact_resource", "redact_span", "truncated"]
