"""Recorded spans as the OpenTelemetry SDK's ``ReadableSpan``, exported by any SDK exporter.

Where spans are exported (the pipeline's thread, or the export process) each ``SpanRecord`` is
made the ``ReadableSpan`` an SDK tracer would have made: same ids, times, attributes, events,
links and status, the SDK's default span limits applied, one resource (the Phoenix project) and
one instrumentation scope. ``ExporterSink`` does that in this process, for an exporter given
in code (an ``InMemorySpanExporter`` in tests, a console exporter).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import AnyValue

from agentlab.observability.recording import SpanRecord
from agentlab.observability.spans import resolved

log = logging.getLogger(__name__)

SCOPE = "agentlab"
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


def trace_resource(project: str) -> Resource:
    """The resource of agentlab's spans: the Phoenix project they are filed under
    (``openinference.project.name``) and the service name."""
    created = Resource.create({"openinference.project.name": project, "service.name": "agentlab"})
    return _HashedResource(created.attributes, created.schema_url)


class _HashedResource(Resource):
    """A ``Resource`` that hashes once: the OTLP encoder groups every span it exports by its
    resource, and ``Resource`` hashes its attributes as JSON text at each lookup."""

    def __init__(self, attributes: Any, schema_url: str | None = None) -> None:
        super().__init__(attributes, schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash


class SpanMaker:
    """Makes ``ReadableSpan`` objects of records, all with one resource and scope (the OTLP
    encoder groups spans by them), within the SDK's default span limits."""

    def __init__(self, resource: Resource, limits: SpanLimits | None = None) -> None:
        self.resource = resource
        self.scope = InstrumentationScope(SCOPE)
        self.limits = limits or SpanLimits()

    def readable(self, records: Iterable[tuple[Any, ...]]) -> list[ReadableSpan]:
        """The spans of ``records``: ``SpanRecord`` objects, or tuples of their fields."""
        return [self._readable(SpanRecord._make(r)) for r in records]

    def _readable(self, r: SpanRecord) -> ReadableSpan:
        limits = self.limits
        parent = None
        if r.parent_id:
            parent = SpanContext(
                r.trace_id, r.parent_id, is_remote=r.parent_remote, trace_flags=_SAMPLED
            )
        events: BoundedList = BoundedList(limits.max_events)
        for name, attributes, timestamp in r.events:
            events.append(
                Event(name, self._bounded(attributes, limits.max_event_attributes), timestamp)
            )
        links: BoundedList = BoundedList(limits.max_links)
        for trace_id, span_id, flags, attributes in r.links:
            linked = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags))
            links.append(Link(linked, self._bounded(attributes, limits.max_link_attributes)))
        return ReadableSpan(
            name=r.name,
            context=SpanContext(r.trace_id, r.span_id, is_remote=False, trace_flags=_SAMPLED),
            parent=parent,
            resource=self.resource,
            attributes=self._bounded(
                resolved(r.attributes, r.deferred) if r.deferred else r.attributes,
                limits.max_span_attributes,
            ),
            events=events,
            links=links,
            kind=SpanKind(r.kind),
            status=Status(StatusCode(r.status), r.status_description),
            start_time=r.start_ns,
            end_time=r.end_ns,
            instrumentation_scope=self.scope,
        )

    def _bounded(self, attributes: Mapping[str, AnyValue], most: int | None) -> BoundedAttributes:
        return BoundedAttributes(
            most, attributes, immutable=True, max_value_len=self.limits.max_attribute_length
        )


def with_attributes_made(record: SpanRecord) -> SpanRecord:
    """``record`` with its deferred attributes made."""
    if not record.deferred:
        return record
    return record._replace(attributes=resolved(record.attributes, record.deferred), deferred=())


class ExporterSink:
    """A ``SpanSink`` that exports with an SDK ``SpanExporter`` on the pipeline's thread."""

    def __init__(self, exporter: SpanExporter, resource: Resource) -> None:
        self.exporter = exporter
        self._maker = SpanMaker(resource)
        self._lock = threading.Lock()  # export, flush and shutdown one at a time

    def open(self, timeout_s: float | None) -> bool:
        return True

    def encode(self, record: SpanRecord) -> SpanRecord:
        # Deferred attributes made now: what they are made of might change once the span ended.
        return with_attributes_made(record)

    def send(self, records: Sequence[SpanRecord]) -> None:
        spans = self._maker.readable(records)
        with self._lock:
            try:
                self.exporter.export(spans)
            except Exception:  # as the SDK's processors do: logged, and the next batch goes
                log.exception("exporting %d spans failed", len(spans))

    def flush(self, timeout_s: float) -> bool:
        with self._lock:
            return self.exporter.force_flush(int(timeout_s * 1000))

    def shutdown(self, timeout_s: float) -> None:
        with self._lock:
            self.exporter.shutdown()

    def forked(self) -> ExporterSink:
        # In the forked child, whose only thread is the one that forked: a thread of the parent
        # may have held the lock then, and no thread of the child would ever release it.
        self._lock = threading.Lock()
        return self


__all__ = ["SCOPE", "ExporterSink", "SpanMaker", "trace_resource", "with_attributes_made"]
