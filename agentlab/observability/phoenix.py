"""Arize Phoenix as a local subprocess: ``phoenix serve`` on 127.0.0.1, its data in one directory.

Phoenix runs from its own environment (``phoenix_install``) and is never imported here (that
alone takes ~12 s): its Python runs ``phoenix_main.py``, Phoenix's own ``main`` with its OTLP gRPC
receiver bound to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agentlab.config import PHOENIX_STATE_FILE, running_phoenix
from agentlab.observability.phoenix_install import PhoenixError, PhoenixInstall, find_phoenix

HOST = "127.0.0.1"
# Phoenix takes 10-30 s to answer (importing it alone takes ~12 s); more on a busy machine.
READY_TIMEOUT_S = 120.0
_MAIN = Path(__file__).with_name("phoenix_main.py")


class PortInUseError(PhoenixError):
    """A port Phoenix should listen on is taken on 127.0.0.1."""

    def __init__(self, port: int, role: str) -> None:
        super().__init__(f"port {port} ({role}) on {HOST} is already in use")
        self.port = port
        self.role = role


@dataclass
class PhoenixServer:
    """One Phoenix process on ``127.0.0.1``: UI, REST API and OTLP/HTTP on ``port``, OTLP/gRPC on
    ``grpc_port``, its SQLite database and log in ``working_dir``; ``phoenix`` is the Phoenix
    installation it runs (``find_phoenix``; unset, agentlab's own, installed on first use).

    ``start()`` then ``wait_ready()``, and ``stop()`` at the end (or use it as a context manager,
    which does all three). While it runs, ``working_dir`` holds a small file naming its endpoint,
    which ``load_settings`` reads for ``otlp_endpoint`` when that is not configured.
    """

    working_dir: Path
    port: int = 6006
    grpc_port: int = 4317
    phoenix: PhoenixInstall | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        """The UI's and REST API's base URL."""
        return f"http://{HOST}:{self.port}"

    @property
    def otlp_endpoint(self) -> str:
        """Where OTLP/HTTP exporters send spans (an ``OTLPSpanExporter(endpoint=...)``)."""
        return f"{self.url}/v1/traces"

    @property
    def grpc_endpoint(self) -> str:
        return f"http://{HOST}:{self.grpc_port}"

    @property
    def log_path(self) -> Path:
        return self.working_dir / "phoenix.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def check(self) -> None:
        """Raise the error ``start`` would for a Phoenix that cannot start here: ``PhoenixError``
        if one already runs on ``working_dir``, ``PortInUseError`` if a port is taken."""
        other = running_phoenix(self.working_dir)
        if other is not None:
            raise PhoenixError(
                f"Phoenix already runs for {self.working_dir} at {other.get('url')} "
                f"(process {other['pid']}): use it, or stop it first"
            )
        if self.port == self.grpc_port:
            raise PhoenixError(
                f"Phoenix needs two ports: the UI's and OTLP/gRPC's are both {self.port}"
            )
        for port, role in ((self.port, "UI and OTLP/HTTP"), (self.grpc_port, "OTLP/gRPC")):
            if _in_use(port):
                raise PortInUseError(port, role)

    def start(self) -> None:
        """Start Phoenix (it is not answering yet: see ``wait_ready``), installing it first if
        ``phoenix`` is unset and agentlab's own is not installed yet.

        Raises ``PhoenixError`` if Phoenix cannot be installed or already runs on
        ``working_dir``, ``PortInUseError`` if a port is taken."""
        self.check()
        if self.phoenix is None:
            self.phoenix = find_phoenix()
        try:
            self.working_dir.mkdir(parents=True, exist_ok=True)
            log = self.log_path.open("wb")
        except OSError as exc:
            raise PhoenixError(
                f"cannot write Phoenix's directory {self.working_dir}: {exc.strerror}"
            ) from None
        env = {
            **os.environ,
            "PHOENIX_HOST": HOST,
            "PHOENIX_PORT": str(self.port),
            "PHOENIX_GRPC_PORT": str(self.grpc_port),
            "PHOENIX_WORKING_DIR": str(self.working_dir),
            # Offline and quiet: no usage telemetry, no documentation server fetched at start,
            # no SQL echo of the schema migrations in the log.
            "PHOENIX_TELEMETRY_ENABLED": "false",
            "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
            "PHOENIX_LOG_MIGRATIONS": "false",
        }
        with log:
            self._process = subprocess.Popen(
                [str(self.phoenix.python), "-I", str(_MAIN), "serve"],
                cwd=self.working_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C at a terminal reaches us, and we stop Phoenix
            )
        self._publish()

    def wait_ready(
        self,
        timeout: float = READY_TIMEOUT_S,
        *,
        interrupted: Callable[[], bool] = lambda: False,
        progress: Callable[[float], None] | None = None,
    ) -> bool:
        """Wait until Phoenix answers HTTP: True then, False if ``interrupted()`` became true first.

        ``progress`` is called with the seconds waited so far, a few times a second. Raises
        ``PhoenixError``, with the end of Phoenix's log, if it exits or does not answer within
        ``timeout`` seconds (then it is stopped)."""
        started = time.monotonic()
        while True:
            waited = time.monotonic() - started
            if not self.running():
                code = self._process.returncode if self._process else None
                raise PhoenixError(
                    f"Phoenix exited (code {code}) before it answered; its log is {self.log_path}",
                    self.log_tail(),
                )
            if _answers(f"{self.url}/healthz"):
                return True
            if interrupted():
                return False
            if waited > timeout:
                tail = self.log_tail()
                self.stop()
                raise PhoenixError(
                    f"Phoenix did not answer at {self.url} within {timeout:g} s; its log is "
                    f"{self.log_path}",
                    tail,
                )
            if progress is not None:
                progress(waited)
            time.sleep(0.25)

    def stop(self, grace: float = 10.0) -> int | None:
        """Stop Phoenix and any process it started (SIGTERM, then SIGKILL after ``grace``
        seconds) and wait for it; its exit code, or None if it was not started."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        self._unpublish(process.pid)
        return process.returncode

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def __enter__(self) -> PhoenixServer:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _publish(self) -> None:
        state = {"pid": self.pid, "url": self.url, "otlp_endpoint": self.otlp_endpoint}
        path = self.working_dir / PHOENIX_STATE_FILE
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(state), encoding="utf-8")
        partial.replace(path)

    def _unpublish(self, pid: int) -> None:
        path = self.working_dir / PHOENIX_STATE_FILE
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
                path.unlink()
        except (OSError, ValueError, AttributeError):
            pass


def _in_use(port: int) -> bool:
    with socket.socket() as probe:
        # As a server would: a port held only by connections closing down (TIME_WAIT) is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


# Straight to 127.0.0.1, whatever proxy the environment names.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _answers(url: str) -> bool:
    try:
        with _LOCAL.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)  # Phoenix leads its own session: its group has its pid
