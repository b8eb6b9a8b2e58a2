"""Tracing: OpenTelemetry spans of runs, nodes, model calls and tool calls, exported over OTLP.

One ``Tracing`` per process (or ``Runner``), built from the settings by ``tracing_for`` and handed
to what makes spans: the ``Runner`` (a span per run invocation), the graph builder (a span per
node), the model router (a span per model call) and the tool executor (a span per tool call).
There is no global tracer provider: spans nest through OpenTelemetry's context (contextvars), so
run -> node -> model / tool follows the code that awaits.

The spans are the OpenTelemetry API's, recorded lightly on the run's thread (``recording.py``);
when one ends, its record is batched off that thread (``pipeline.py``) and made the SDK's span
where it is exported (``export.py``): by the SDK's batch processor and OTLP/HTTP exporter, behind
the redactor, in a child process (``export_process.py``), so that encoding and redaction do not
take the GIL from the run.

Tracing is on when an endpoint is configured (``otlp_endpoint``, or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``). Off, it is
``NO_TRACING``: no recorder, no thread, no process, no span objects; instrumented code checks
``tracing.enabled`` first. The SDK and the exporter are imported only when tracing is on.

A run's trace outlives its process: the context of its root span is kept in the run's state
(``trace``, W3C ``traceparent``), and whoever continues the run parents its spans under it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from agentlab.observability import spans

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from agentlab.config import Settings
    from agentlab.observability.export_process import ExportConfig
    from agentlab.observability.pipeline import SpanPipeline, SpanSink

T = TypeVar("T")

# The standard variables an OTLP exporter reads its endpoint from.
OTEL_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_PROPAGATOR = TraceContextTextMapPropagator()

TraceCarrier = dict[str, str]
"""A span's context as W3C trace-context headers (``traceparent``): what a run's state keeps."""


class Tracing:
    """Where agentlab's spans go: a tracer and the pipeline its spans leave by, or nowhere
    (``enabled`` false). ``owned``: ``shutdown`` also shuts the pipeline down (it was built for
    us)."""

    def __init__(
        self,
        tracer: Tracer | None = None,
        pipeline: SpanPipeline | None = None,
        *,
        owned: bool = True,
    ) -> None:
        self._tracer = tracer
        self.pipeline = pipeline
        self._owned = owned

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    def borrowed(self) -> Tracing:
        """The same tracer, for a holder that must not shut its pipeline down."""
        return Tracing(self._tracer, self.pipeline, owned=False)

    def span(
        self,
        name: str,
        attributes: Mapping[str, Any],
        *,
        parent: Context | None = None,
        errors: bool = True,
    ) -> AbstractContextManager[Span]:
        """A span made current while the ``with`` block runs: its children nest under it. An
        exception ends it with an error status (and is re-raised) unless ``errors`` is false
        (the caller says what an exception means). ``parent`` overrides the current context
        (a remote parent: a run's root span kept in its state)."""
        assert self._tracer is not None, "check Tracing.enabled before making spans"
        return self._tracer.start_as_current_span(
            name,
            context=parent,
            attributes=attributes,
            record_exception=errors,
            set_status_on_exception=errors,
        )

    def start(
        self, name: str, attributes: Mapping[str, Any], *, parent: Context | None = None
    ) -> Span:
        """A span that is not made current: the caller ends it (a run's span outlives the
        stack frames of one ``await``)."""
        assert self._tracer is not None, "check Tracing.enabled before making spans"
        return self._tracer.start_span(name, context=parent, attributes=attributes)

    def ready(self, timeout_s: float = 30.0) -> bool:
        """Have the export process (or exporter) ready now rather than when the first span
        ends: for a long-lived process, or to measure steps without its start. True once it
        is (and while tracing is off)."""
        return True if self.pipeline is None else self.pipeline.ready(timeout_s)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Export the spans that ended so far; true once they are (false: not within
        ``timeout_s``, or no longer possible, as the log says)."""
        return True if self.pipeline is None else self.pipeline.flush(timeout_s)

    def shutdown(self) -> None:
        """Flush; shut the pipeline down if this ``Tracing`` built it."""
        if self.pipeline is None:
            return
        if self._owned:
            self.pipeline.shutdown()
        else:
            self.flush()


NO_TRACING = Tracing()
"""Tracing that is off: nothing is created, nothing is exported."""


def tracing_to(sink: SpanSink) -> Tracing:
    """Tracing whose spans are recorded on the run's thread and sent to ``sink`` in batches."""
    from agentlab.observability.pipeline import SpanPipeline
    from agentlab.observability.recording import Recorder

    pipeline = SpanPipeline(sink)
    return Tracing(Recorder(pipeline.add), pipeline)


def exporting_to(exporter: SpanExporter, *, project: str = "agentlab") -> Tracing:
    """Tracing whose spans ``exporter`` exports in this process, in batches, filed under
    ``project`` (Phoenix's ``openinference.project.name``): for an exporter made in code (tests
    read spans back from an ``InMemorySpanExporter``)."""
    from agentlab.observability.export import ExporterSink, trace_resource

    return tracing_to(ExporterSink(exporter, trace_resource(project)))


def tracing_for(settings: Settings) -> Tracing:
    """The process's tracing as ``settings`` say: OTLP/HTTP to ``otlp_endpoint`` (else to what
    the standard ``OTEL_EXPORTER_OTLP_*`` variables name), redacted, attributes longer than
    ``trace_attribute_max_chars`` cut, from the export process;
    ``NO_TRACING`` when no endpoint is configured. A bad redaction pattern is a ``ConfigError``
    here, before any span is made."""
    config = _export_config(settings)
    if config is None:
        return NO_TRACING
    from agentlab.observability.export_process import ProcessSink

    return tracing_to(ProcessSink(config))


def _export_config(settings: Settings) -> ExportConfig | None:
    """What the export process of ``settings`` is told (``None``: tracing is off)."""
    endpoint = settings.otlp_endpoint
    # The standard variables are the OpenTelemetry SDK's: its exporter reads them itself.
    if endpoint is None and not any(os.environ.get(v) for v in OTEL_ENDPOINT_VARIABLES):
        return None
    from agentlab.observability.export_process import ExportConfig
    from agentlab.observability.logs import redactor_for

    redactor = redactor_for(settings)  # checks the patterns
    return ExportConfig(
        endpoint=endpoint,
        project=settings.trace_project,
        patterns=tuple(redactor.patterns),
        secrets=tuple(str(s) for s in redactor.secrets),
        max_attribute_chars=settings.trace_attribute_max_chars,
        log_level=logging.getLogger("opentelemetry.exporter").getEffectiveLevel(),
        variables=tuple(os.environ.get(v) for v in OTEL_ENDPOINT_VARIABLES),
    )


_SHARED: dict[ExportConfig, Tracing] = {}


def shared_tracing(settings: Settings) -> Tracing:
    """``tracing_for(settings)``, built once per process and export configuration (endpoint,
    project, what to redact): for a server that compiles a graph per request (``langgraph dev``
    calls ``make_graph`` for each), so it does not start a pipeline and an export process each
    time. Never shut down but at process exit."""
    config = _export_config(settings)
    if config is None:
        return NO_TRACING
    if config not in _SHARED:
        from agentlab.observability.export_process import ProcessSink

        _SHARED[config] = tracing_to(ProcessSink(config)).borrowed()
    return _SHARED[config]


# --- trace context kept with a run ----------------------------------------------------------


def carrier_of(span: Span) -> TraceCarrier:
    """``span``'s context as W3C headers, to keep in a run's state."""
    carrier: TraceCarrier = {}
    _PROPAGATOR.inject(carrier, trace.set_span_in_context(span))
    return carrier


def context_of(carrier: Mapping[str, str] | None) -> Context | None:
    """The context whose parent is the span ``carrier`` names (from another process, maybe), or
    ``None`` when it names none."""
    if not carrier:
        return None
    return _extracted(tuple(sorted((str(k), str(v)) for k, v in carrier.items())))


@lru_cache(maxsize=256)
def _extracted(headers: tuple[tuple[str, str], ...]) -> Context | None:
    """``context_of`` for the headers, remembered: every node of a run driven without a span
    of its own (a LangGraph server) parents its span with the same carrier. A ``Context`` is
    immutable, and what is extracted does not depend on the current one."""
    extracted = _PROPAGATOR.extract(dict(headers))
    if not trace.get_current_span(extracted).get_span_context().is_valid:
        return None
    return extracted


def current_carrier() -> TraceCarrier:
    """The current span's context as W3C headers."""
    return carrier_of(trace.get_current_span())


def current_span_is_set() -> bool:
    """A span is current (a run's span around the graph, a caller's own)."""
    return trace.get_current_span().get_span_context().is_valid


async def within(span: Span, stream: AsyncIterator[T]) -> AsyncIterator[T]:
    """``stream``'s items, with ``span`` current while each one is produced.

    The span is attached and detached around each step, inside one ``await``: a driver may pull
    the steps from different tasks (``SyncRunner`` runs each in its own), so a context attached
    across a ``yield`` would be detached in another task's context.
    """
    parent = trace.set_span_in_context(span)
    iterator = aiter(stream)
    try:
        while True:
            token = otel_context.attach(parent)
            try:
                item = await anext(iterator)
            except StopAsyncIteration:
                return
            finally:
                otel_context.detach(token)
            yield item
    finally:
        closing = getattr(iterator, "aclose", None)
        if closing is not None:
            await closing()


@contextmanager
def ending(span: Span) -> Iterator[Span]:
    """End ``span`` when the block leaves, recording an exception (then re-raised) as its
    error; a ``GeneratorExit`` (the driver stopped listening) is not an error."""
    try:
        yield span
    except GeneratorExit:
        raise
    except BaseException as exc:
        spans.failed(span, exc)
        raise
    finally:
        span.end()


__all__ = [
    "NO_TRACING",
    "OTEL_ENDPOINT_VARIABLES",
    "TraceCarrier",
    "Tracing",
    "carrier_of",
    "context_of",
    "current_carrier",
    "current_span_is_set",
    "ending",
    "exporting_to",
    "shared_tracing",
    "tracing_for",
    "tracing_to",
    "within",
]
