"""Spans exported by a child process: redacted, encoded and sent over OTLP off the run's process.

The run's process pickles batches of ``SpanRecord`` into the child's stdin; the child (``python -m
agentlab.observability.export_process``) makes them the SDK's spans (``export.SpanMaker``) and gives
them to the SDK's ``BatchSpanProcessor`` in front of the redacting OTLP/HTTP exporter. On two
cores, the encoding (about 50 µs a span) and redaction then run beside the run instead of taking
the GIL from it. The child is started when the first span ends (or by ``Tracing.ready``), so
a process that makes no span starts none.

The pipe carries frames: a 4-byte big-endian length, then a pickle (parent and child are the
same program: nothing else writes to the pipe). The first frame is the ``ExportConfig``; then
``("spans", records)``, ``("flush", n)``, answered on the child's stdout by a line
``flushed n ok`` (or ``failed``), and ``("close",)``, after which the child exports what it
holds and exits. The configuration travels in the pipe, not on the command line or in the
environment, because it holds the secrets to redact.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from agentlab.observability.recording import SpanRecord

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")
_PROTOCOL = pickle.HIGHEST_PROTOCOL
_dumps = pickle.dumps


class _NotPlain(Exception):
    """An object that is not plain data: pickling it would name its class."""


class _PlainPickler(pickle.Pickler):
    """Pickles plain data only (``None``, bools, numbers, strings, bytes, and dicts, lists,
    tuples and sets of them), which the C pickler writes without asking this class."""

    def reducer_override(self, obj: Any) -> Any:
        raise _NotPlain(type(obj).__name__)


MAX_STARTS = 4  # the first export process and three more if each dies; then no more


@dataclass(frozen=True)
class ExportConfig:
    """What the export process needs: the OTLP endpoint (``None``: the standard
    ``OTEL_EXPORTER_OTLP_*`` variables, which the exporter reads itself), the Phoenix project,
    what to redact, how long an attribute may be, and the level of the exporter's own log
    lines. Equal configurations export alike: ``shared_tracing`` keys on it."""

    endpoint: str | None
    project: str
    patterns: tuple[str, ...] = ()
    secrets: tuple[str, ...] = field(default=(), repr=False)
    max_attribute_chars: int | None = None
    log_level: int = logging.WARNING
    variables: tuple[str | None, ...] = ()
    """The standard endpoint variables as they were (the exporter reads them in the child)."""


class ProcessSink:
    """A ``SpanSink`` whose spans the export process exports."""

    def __init__(self, config: ExportConfig) -> None:
        self.config = config
        self._process: subprocess.Popen[bytes] | None = None
        self._acks: queue.Queue[tuple[int, bool] | None] = queue.Queue()
        self._gone = threading.Event()  # the current process's output ended
        self._lock = threading.Lock()  # one writer at a time
        self._flushes = 0
        self._sent = 0  # spans sent to the current process
        self._starts = 0
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The export process's id, while one runs."""
        return self._process.pid if self._process is not None else None

    def open(self, timeout_s: float | None) -> bool:
        """Start the export process unless one runs; with ``timeout_s``, wait until it
        answers."""
        with self._lock:
            if not self._running() and not self._write(None, start=True):
                return False
        return True if timeout_s is None else self._round_trip(timeout_s)

    def encode(self, record: SpanRecord) -> bytes:
        """The record pickled, as a plain tuple (a NamedTuple pickles at half the speed). What
        deferred attributes are made of is pickled too when it is plain data (no object of a
        class, which the export process might not import: a class of a notebook's, say); else
        they are made here, first."""
        if not record.deferred:
            return _dumps(tuple(record), _PROTOCOL)
        buffer = io.BytesIO()
        try:
            _PlainPickler(buffer, _PROTOCOL).dump(tuple(record))
        except Exception:  # _NotPlain, or an object that does not pickle
            from agentlab.observability.export import with_attributes_made

            return _dumps(tuple(with_attributes_made(record)), _PROTOCOL)
        return buffer.getvalue()

    def send(self, records: Sequence[bytes]) -> None:
        with self._lock:
            if self._write(("spans", records), start=True):
                self._sent += len(records)

    def flush(self, timeout_s: float) -> bool:
        return True if self._process is None else self._round_trip(timeout_s)

    def _round_trip(self, timeout_s: float) -> bool:
        """Ask the export process to export what it holds; true once it answers that it did."""
        with self._lock:
            self._flushes += 1
            wanted = self._flushes
            if not self._write(("flush", wanted), start=False):
                return False
            acks = self._acks
        while True:
            try:
                ack = acks.get(timeout=timeout_s)
            except queue.Empty:
                log.warning("spans not exported within %.0f s of a flush", timeout_s)
                return False
            if ack is None:  # the process ended before answering
                return False
            if ack[0] == wanted:
                return ack[1]

    def shutdown(self, timeout_s: float) -> None:
        with self._lock:
            self._closed = True
            process, self._process = self._process, None
            if process is None:
                return
            if not self._sent:  # it holds nothing: no need to wait for it
                process.kill()
                process.wait()
                return
            try:
                assert process.stdin is not None
                _write_frame(process.stdin, ("close",))
                process.stdin.close()
            except OSError:
                pass  # it ended already: its exit code says how
            try:
                code = process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                log.warning("the span export process did not finish within %.0f s", timeout_s)
                return
            if code != 0:
                log.warning("the span export process ended with exit code %s", code)

    def forked(self) -> ProcessSink:
        """A new sink for a forked child: the parent's export process stays the parent's."""
        if self._process is not None and self._process.stdin is not None:
            os.close(self._process.stdin.fileno())  # this copy only: the parent keeps its own
        return ProcessSink(self.config)

    def _write(self, message: tuple[Any, ...] | None, *, start: bool) -> bool:
        """Write ``message`` to the export process (started first when ``start`` and none
        runs; ``None``: only that); false when it cannot be, with the reason logged."""
        if self._closed:
            return False
        if not self._running():
            if self._process is not None:
                self._ended(self._process)
            if not start or self._starts >= MAX_STARTS:
                return False
            self._process = self._spawn()
            self._sent = 0
        process = self._process
        assert process is not None and process.stdin is not None
        if message is None:
            return True
        try:
            _write_frame(process.stdin, message)
            return True
        except OSError:  # a broken pipe: the process died
            self._ended(process)
            return False

    def _running(self) -> bool:
        process = self._process
        return process is not None and not self._gone.is_set() and process.poll() is None

    def _spawn(self) -> subprocess.Popen[bytes]:
        self._starts += 1
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH", "")) if p
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "agentlab.observability.export_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            bufsize=0,  # frames go out whole, and a fork has no buffered copy to write again
        )
        assert process.stdin is not None and process.stdout is not None
        self._acks = queue.Queue()
        self._gone = threading.Event()
        threading.Thread(
            target=_read_acks,
            args=(process.stdout, self._acks, self._gone),
            name="agentlab-span-acks",
            daemon=True,
        ).start()
        _write_frame(process.stdin, self.config)
        return process

    def _ended(self, process: subprocess.Popen[bytes]) -> None:
        try:
            code: int | None = process.wait(1.0)
        except subprocess.TimeoutExpired:  # its output ended, but it lingers: no more of it
            process.kill()
            code = process.wait()
        self._process = None
        if self._starts >= MAX_STARTS:
            log.warning(
                "the span export process ended (exit code %s), for the %dth time: spans are no "
                "longer exported from this process",
                code,
                self._starts,
            )
        else:
            log.warning(
                "the span export process ended (exit code %s); the spans it held are lost, a new "
                "one is started for the next",
                code,
            )


def _write_frame(pipe: IO[bytes], message: object) -> None:
    data = pickle.dumps(message, protocol=_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        written = pipe.write(view)
        view = view[written or 0 :]


def _read_frame(pipe: BinaryIO) -> Any:
    """The next message, or ``None`` at the end of the pipe."""
    header = pipe.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = pipe.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


def _read_acks(
    pipe: IO[bytes], acks: queue.Queue[tuple[int, bool] | None], gone: threading.Event
) -> None:
    """The export process's answers, until its output ends: then it is ``gone`` (its exit is
    certain, while ``Popen.poll`` may not know yet)."""
    for line in pipe:
        match line.decode("ascii", "replace").split():
            case ["flushed", number, verdict] if number.isdigit():
                acks.put((int(number), verdict == "ok"))
            case _:  # not an answer (a library that wrote to the process's stdout): skipped
                pass
    gone.set()
    acks.put(None)


# --- the export process ----------------------------------------------------------------------


def main() -> int:
    """Export the spans the parent sends until it says ``close`` or its pipe ends."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from agentlab.observability.export import SpanMaker, trace_resource
    from agentlab.observability.redact import RedactingLogFilter, Redactor
    from agentlab.observability.redact_spans import RedactingSpanExporter

    if hasattr(os, "nice"):
        os.nice(10)  # background work: the run it traces comes first when CPUs are short
    inbox = sys.stdin.buffer
    answers = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing a library prints may land among the answers
    config = _read_frame(inbox)
    if not isinstance(config, ExportConfig):
        print("agentlab span export: no configuration was sent", file=sys.stderr)
        return 2
    redactor = Redactor(patterns=config.patterns, secrets=config.secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("agentlab span export: %(message)s"))
    handler.addFilter(RedactingLogFilter(redactor))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("opentelemetry").setLevel(config.log_level)

    exporter = RedactingSpanExporter(
        OTLPSpanExporter(endpoint=config.endpoint), redactor, config.max_attribute_chars
    )
    processor = BatchSpanProcessor(exporter)
    maker = SpanMaker(trace_resource(config.project))
    try:
        while (message := _read_frame(inbox)) is not None:
            if message[0] == "spans":
                for span in maker.readable(pickle.loads(r) for r in message[1]):
                    processor.on_end(span)
            elif message[0] == "flush":
                ok = processor.force_flush()
                answers.write(f"flushed {message[1]} {'ok' if ok else 'failed'}\n".encode())
                answers.flush()
            elif message[0] == "close":
                break
    finally:
        processor.shutdown()
    return 0


if __name__ == "__main__":
    # The module by its name, not ``__main__``: the classes the parent pickles are its own.
    from agentlab.observability.export_process import main as export_main

    sys.exit(export_main())
