"""Spans on the run's thread: light spans of the OpenTelemetry API, handed on whole when they end.

The OpenTelemetry SDK's own span costs about 25 µs to make and end, plus 1-2 µs per attribute, and
its OTLP encoder about 50 µs a span on a thread that shares the GIL with the run: with a
zero-latency model that was a third of a step (``benchmarks/tracing.py``). A ``RecordedSpan`` is
the API's ``Span`` (so the API's context, ``use_span``, the W3C propagator and code that adds an
event to ``trace.get_current_span()`` all work with it) holding only what the span says. When it
ends it becomes a ``SpanRecord``, a tuple of plain values, which the ``Recorder`` hands to its
``on_end`` (``export.SpanPipeline.add``); the SDK turns records into ``ReadableSpan`` objects where
they are exported (``export.py``), off this thread and, in production, in another process.

IDs are random as the SDK makes them, every span is sampled (a child follows its parent's sampled
flag), and attribute values are checked as the SDK checks them: a value of another type is
dropped, with a warning naming it.
"""

from __future__ import annotations

import logging
import random
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from time import time_ns
from typing import Any, NamedTuple, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (
    INVALID_SPAN_ID,
    INVALID_TRACE_ID,
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.util.types import AnyValue, Attributes

log = logging.getLogger(__name__)

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSAMPLED = TraceFlags(TraceFlags.DEFAULT)
_SCALARS = frozenset((str, bool, int, float))
_SCALAR_TYPES = (str, bool, int, float)
_SEQUENCES = frozenset((list, tuple))
_OK, _UNSET = StatusCode.OK, StatusCode.UNSET

EventRecord = tuple[str, dict[str, AnyValue], int]
"""An event: its name, attributes and time (ns since the epoch)."""
LinkRecord = tuple[int, int, int, dict[str, AnyValue]]
"""A link: the linked span's trace id, span id and trace flags, and the link's attributes."""


class SpanRecord(NamedTuple):
    """A span that ended, as plain values: what crosses to the exporting thread or process."""

    name: str
    trace_id: int
    span_id: int
    parent_id: int  # 0: a root span
    parent_remote: bool
    kind: int  # SpanKind's value
    start_ns: int
    end_ns: int
    attributes: dict[str, AnyValue]
    deferred: tuple[tuple[str, tuple[Any, ...]], ...]  # attributes to make where exported
    events: tuple[EventRecord, ...]
    links: tuple[LinkRecord, ...]
    status: int  # StatusCode's value
    status_description: str | None


class RecordedSpan(trace.Span):
    """A span being recorded: attributes, events, links and status, until ``end``."""

    __slots__ = (
        "_attributes",
        "_context",
        "_deferred",
        "_end_ns",
        "_events",
        "_ids",
        "_kind",
        "_links",
        "_name",
        "_on_end",
        "_parent",
        "_start_ns",
        "_status",
        "_status_description",
    )

    def __init__(
        self,
        name: str,
        trace_id: int,
        span_id: int,
        parent: SpanContext | RecordedSpan | None,
        on_end: Callable[[SpanRecord], None],
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_ns: int | None = None,
    ) -> None:
        self._name = name
        self._ids = (trace_id, span_id)
        self._context: SpanContext | None = None  # made when first asked for
        self._parent = parent
        self._on_end = on_end
        self._kind = kind
        self._attributes: dict[str, AnyValue] = {}
        self._deferred: list[tuple[str, tuple[Any, ...]]] | None = None
        self._events: list[EventRecord] | None = None
        self._links: list[LinkRecord] | None = None
        self._status: StatusCode = _UNSET
        self._status_description: str | None = None
        self._end_ns: int | None = None
        if attributes:
            _put(self._attributes, attributes)
        if links:
            for link in links:
                self.add_link(link.context, link.attributes)
        self._start_ns = time_ns() if start_ns is None else start_ns

    def get_span_context(self) -> SpanContext:
        context = self._context
        if context is None:
            parent = self._parent
            parent_context = (
                parent.get_span_context() if isinstance(parent, RecordedSpan) else parent
            )
            state = parent_context.trace_state if parent_context is not None else None
            self._context = context = SpanContext(*self._ids, False, _SAMPLED, state)
        return context

    def is_recording(self) -> bool:
        return self._end_ns is None

    def set_attribute(self, key: str, value: AnyValue) -> None:
        if self._end_ns is None:
            _put(self._attributes, {key: value})

    def set_attributes(self, attributes: Mapping[str, AnyValue]) -> None:
        if self._end_ns is None:
            _put(self._attributes, attributes)

    def defer(self, builder: str, args: tuple[Any, ...]) -> None:
        """Attributes to be made from ``args`` by the builder named ``builder`` where the span
        is exported (``spans.DEFERRED``): work the run does not wait for."""
        if self._end_ns is None:
            if self._deferred is None:
                self._deferred = []
            self._deferred.append((builder, args))

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        if self._end_ns is None:
            cleaned: dict[str, AnyValue] = {}
            if attributes:
                _put(cleaned, attributes)
            if self._events is None:
                self._events = []
            self._events.append((name, cleaned, time_ns() if timestamp is None else timestamp))

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        if self._end_ns is None and context.is_valid:
            cleaned: dict[str, AnyValue] = {}
            if attributes:
                _put(cleaned, attributes)
            if self._links is None:
                self._links = []
            self._links.append((context.trace_id, context.span_id, context.trace_flags, cleaned))

    def update_name(self, name: str) -> None:
        if self._end_ns is None:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """As the SDK does: an ``OK`` status is final, and ``UNSET`` changes nothing."""
        if self._end_ns is not None or self._status is _OK:
            return
        code = status.status_code if isinstance(status, Status) else status
        if isinstance(status, Status):
            description = status.description
        if code is not _UNSET:
            self._status = code
            self._status_description = description if code is StatusCode.ERROR else None

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """An ``exception`` event with OpenTelemetry's ``exception.*`` attributes."""
        kind = type(exception)
        module = kind.__module__
        event: dict[str, AnyValue] = {
            "exception.type": f"{module}.{kind.__qualname__}"
            if module and module != "builtins"
            else kind.__qualname__,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            event.update(attributes)
        self.add_event("exception", event, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end_ns is not None:
            return
        self._end_ns = end_ns = time_ns() if end_time is None else end_time
        parent = self._parent
        if parent is None:
            parent_id, remote = 0, False
        elif type(parent) is RecordedSpan:  # not isinstance: an ABC's check is slow
            parent_id, remote = parent._ids[1], False
        else:
            parent_id, remote = (
                cast(SpanContext, parent).span_id,
                cast(SpanContext, parent).is_remote,
            )
        deferred, events, links = self._deferred, self._events, self._links
        self._on_end(
            _new_record(
                SpanRecord,
                (
                    self._name,
                    *self._ids,
                    parent_id,
                    remote,
                    self._kind.value,
                    self._start_ns,
                    end_ns,
                    self._attributes,
                    () if deferred is None else tuple(deferred),
                    () if events is None else tuple(events),
                    () if links is None else tuple(links),
                    self._status.value,
                    self._status_description,
                ),
            )
        )

    def __repr__(self) -> str:
        return f"RecordedSpan({self._name!r}, span_id={self._ids[1]:016x})"


_new_record = tuple.__new__  # a SpanRecord without NamedTuple's keyword-taking __new__
_attach, _detach, _in_context = otel_context.attach, otel_context.detach, trace.set_span_in_context
_current_span = trace.get_current_span


class _Current:
    """``span`` made current in the ``with`` block and ended when it leaves: an exception is
    recorded and sets an error status as the flags say (what the API's ``use_span`` does, as
    a class: a generator-based context manager costs twice as much)."""

    __slots__ = ("_errors", "_record", "_span", "_token")

    def __init__(self, span: trace.Span, record_exception: bool, set_status: bool) -> None:
        self._span = span
        self._record = record_exception
        self._errors = set_status

    def __enter__(self) -> trace.Span:
        self._token = _attach(_in_context(self._span))
        return self._span

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        _detach(self._token)
        span = self._span
        # As the API's use_span: only an Exception is an error (not GeneratorExit, say).
        if exc is not None and isinstance(exc, Exception) and span.is_recording():
            if self._record:
                span.record_exception(exc)
            if self._errors:
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        span.end()


def _put(into: dict[str, AnyValue], attributes: Mapping[str, Any]) -> None:
    """Copy ``attributes`` into ``into`` as OpenTelemetry allows them: a string, bool, int or
    float, or a sequence of one of those (kept as a tuple, so nothing changes it later). Other
    values are dropped with a warning, as the SDK drops them."""
    into.update(attributes)
    for key in [k for k, v in attributes.items() if type(v) not in _SCALARS]:
        value: Any = into.pop(key)
        if type(value) in _SEQUENCES and all([type(v) is str for v in value]):
            into[key] = tuple(value)  # the usual sequence: strings
        elif isinstance(value, list | tuple) and all(isinstance(v, _SCALAR_TYPES) for v in value):
            into[key] = tuple(_plain(v) for v in value)
        elif isinstance(value, str | int | float):  # a subclass: an enum member, say
            into[key] = _plain(value)
        elif value is not None:
            log.warning("span attribute %r dropped: a %s is not a valid value", key, type(value))


def _plain(value: str | int | float) -> str | int | float:
    """A value of a subclass of ``str``, ``int`` or ``float`` (an enum member) as the plain
    value, which pickles without its class."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    return float(value) if isinstance(value, float) else int(value)


class Recorder(trace.Tracer):
    """The tracer of agentlab's spans: makes ``RecordedSpan`` objects, and gives each span that
    ends to ``on_end``."""

    def __init__(self, on_end: Callable[[SpanRecord], None]) -> None:
        self._on_end = on_end

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        """A span, child of the span current in ``context`` (else of the current one); a root
        span when there is none. The span is not made current."""
        current = _current_span(context)
        span_id = _random_id(64, INVALID_SPAN_ID)
        if type(current) is RecordedSpan:  # one of ours: no need to make its context
            parent: SpanContext | RecordedSpan | None = current
            trace_id = current._ids[0]
        else:
            parent = current.get_span_context()
            if parent.is_valid:
                if not parent.trace_flags.sampled:  # the trace's sampler said no: so do we
                    return NonRecordingSpan(
                        SpanContext(parent.trace_id, span_id, False, _UNSAMPLED)
                    )
                trace_id = parent.trace_id
            else:
                trace_id, parent = _random_id(128, INVALID_TRACE_ID), None
        return RecordedSpan(
            name, trace_id, span_id, parent, self._on_end, kind, attributes, links, start_time
        )

    def start_as_current_span(  # type: ignore[override]  # a context manager, not a generator
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> AbstractContextManager[trace.Span]:
        """A span made current while the ``with`` block runs, ended when it leaves; an
        exception is recorded and sets an error status unless told otherwise."""
        if not end_on_exit:
            raise ValueError("agentlab's spans made current end with their block")
        span = self.start_span(name, context, kind, attributes, links, start_time)
        return _Current(span, record_exception, set_status_on_exception)


def _random_id(bits: int, invalid: int) -> int:
    """A random id of ``bits`` bits that is not ``invalid``, as the SDK's ``RandomIdGenerator``
    makes them."""
    value = random.getrandbits(bits)
    while value == invalid:
        value = random.getrandbits(bits)
    return value


__all__ = ["EventRecord", "LinkRecord", "RecordedSpan", "Recorder", "SpanRecord"]
