"""Recorded spans in batches, off the run's thread, to where they are exported.

A ``SpanPipeline`` takes each ``SpanRecord`` as its span ends (a deque append on the run's thread)
and, from a thread of its own, hands them in batches to a ``SpanSink``: every ``interval_s``, or as
soon as ``batch_size`` are waiting. Two sinks: ``export.ExporterSink`` exports with any SDK
``SpanExporter`` in this process (tests read spans back from an ``InMemorySpanExporter``), and
``export_process.ProcessSink`` sends the records to a child process that redacts, encodes and
exports them over OTLP, so that the run's process pays for neither (production). This module
does not import the SDK.

Nothing is lost silently: a full queue (``max_queue`` records waiting, as when an exporter is
stuck) drops the newest spans with a warning that counts them, as the SDK's batch processor does.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

from agentlab.observability.recording import SpanRecord

log = logging.getLogger(__name__)

INTERVAL_S = 1.0
BATCH_SIZE = 512
MAX_QUEUE = 8192


class SpanSink(Protocol):
    """Where batches of spans go. ``encode`` is called on the run's thread as each span ends,
    ``send`` from one thread at a time with what ``encode`` made."""

    def encode(self, record: SpanRecord) -> Any:
        """What is kept of a span until it is sent: cheap, and done while the span's data is
        still in the CPU's cache (a pickle, for a process)."""
        ...

    def open(self, timeout_s: float | None) -> bool:
        """Get ready to export (start what exports), and with a ``timeout_s``, wait until it
        can (true) or the timeout passed (false)."""
        ...

    def send(self, records: Sequence[Any]) -> None:
        """Export (or pass on to be exported) these encoded spans; never raise for an export
        failure."""
        ...

    def flush(self, timeout_s: float) -> bool:
        """Return once every span sent so far is exported (true), or ``timeout_s`` passed."""
        ...

    def shutdown(self, timeout_s: float) -> None:
        """Export what was sent and release what the sink holds; no ``send`` follows."""
        ...

    def forked(self) -> SpanSink:
        """The sink a forked child process uses in place of this one (the parent keeps it)."""
        ...


class SpanPipeline:
    """Records in, batches out to ``sink`` from a thread of its own. ``add`` is the only call
    on the run's thread; ``flush`` and ``shutdown`` block until the sink is done or the timeout
    passes. Shut down at process exit when not before: what ended is exported."""

    def __init__(
        self,
        sink: SpanSink,
        *,
        interval_s: float = INTERVAL_S,
        batch_size: int = BATCH_SIZE,
        max_queue: int = MAX_QUEUE,
    ) -> None:
        self.sink = sink
        self._encode = sink.encode
        self._interval_s = interval_s
        self._batch_size = batch_size
        self._max_queue = max_queue
        self._closed = False
        self._start()
        atexit.register(self.shutdown)
        if hasattr(os, "register_at_fork"):  # weakly: a fork must not keep it alive
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: _after_fork(ref))

    def _start(self) -> None:
        self._queue: deque[Any] = deque()  # encoded spans
        self._dropped = 0
        self._wake = threading.Event()
        self._send_lock = threading.Lock()
        self._stopping = False
        self._opening = False  # the first span asked the thread to open the sink
        self._thread = threading.Thread(target=self._loop, name="agentlab-spans", daemon=True)
        self._thread.start()

    def add(self, record: SpanRecord) -> None:
        """Queue a span that ended: the only work on the run's thread."""
        queue = self._queue
        if len(queue) >= self._max_queue:
            self._dropped += 1
            return
        queue.append(self._encode(record))
        if len(queue) >= self._batch_size and not self._wake.is_set():
            self._wake.set()
        elif not self._opening:  # the first span: the sink gets ready while the run goes on
            self._opening = True
            self._wake.set()

    def ready(self, timeout_s: float = 30.0) -> bool:
        """Get the sink ready to export now (the export process started and answering), rather
        than when the first span ends; true once it is."""
        self._opening = True
        return self.sink.open(timeout_s)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Send every span that ended so far, and wait until the sink has exported them."""
        if self._closed:
            return False
        self._send_waiting()
        return self.sink.flush(timeout_s)

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Export what is waiting, stop the thread and shut the sink down. Idempotent."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.shutdown)
        self._stopping = True
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
        self._send_waiting()
        self.sink.shutdown(timeout_s)

    def _send_waiting(self) -> None:
        with self._send_lock:
            queue = self._queue
            records = [queue.popleft() for _ in range(len(queue))]
            if self._dropped:
                dropped, self._dropped = self._dropped, 0
                log.warning(
                    "%d spans dropped: %d were waiting to be exported (is the exporter stuck?)",
                    dropped,
                    self._max_queue,
                )
            if records:
                try:
                    self.sink.send(records)
                except Exception:  # a sink's bug must not stop the spans that follow
                    log.exception("sending %d spans to be exported failed", len(records))

    def _loop(self) -> None:
        """The pipeline's thread: send what is waiting every interval, or as soon as a batch is
        full, until ``shutdown``."""
        opened = False
        while not self._stopping:
            self._wake.wait(self._interval_s)
            self._wake.clear()
            if self._stopping:
                return
            if self._opening and not opened:
                opened = True
                try:
                    self.sink.open(None)
                except Exception:
                    log.exception("the span sink could not get ready")
            self._send_waiting()

    def _after_fork(self) -> None:
        """In a forked child: a queue and thread of its own, and the sink's fork."""
        if not self._closed:
            self.sink = self.sink.forked()
            self._encode = self.sink.encode
            self._start()


def _after_fork(ref: weakref.ref[SpanPipeline]) -> None:
    pipeline = ref()
    if pipeline is not None:
        pipeline._after_fork()


__all__ = ["SpanPipeline", "SpanSink"]
