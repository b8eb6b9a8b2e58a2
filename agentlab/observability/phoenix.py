"""Arize Phoenix as a local subprocess: ``phoenix serve`` on 127.0.0.1, its data in one directory.

Phoenix runs from its own environment (``phoenix_install``) and is never imported here (that
alone takes ~12 s): its Python runs ``phoenix_main.py``, Phoenix's own ``main`` with its OTLP gRPC
receiver bound to 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from agentlab.config.phoenix_state import PHOENIX_STATE_FILE, running_phoenix
from agentlab.observability.local_server import HOST, LocalServer, PortInUseError, in_use
from agentlab.observability.phoenix_install import PhoenixError, PhoenixInstall, find_phoenix

# Phoenix takes 10-30 s to answer (importing it alone takes ~12 s); more on a busy machine.
READY_TIMEOUT_S = 120.0
_MAIN = Path(__file__).with_name("phoenix_main.py")


@dataclass
class PhoenixServer(LocalServer):
    """One Phoenix process on ``127.0.0.1``: UI, REST API and OTLP/HTTP on ``port``, OTLP/gRPC on
    ``grpc_port``, its SQLite database and log in ``working_dir``; ``phoenix`` is the Phoenix
    installation it runs (``find_phoenix``; unset, agentlab's own, installed on first use).

    ``start()`` then ``wait_ready()``, and ``stop()`` at the end (or use it as a context manager,
    which does all three). While it runs, ``working_dir`` holds a small file naming its endpoint,
    which ``load_settings`` reads for ``otlp_endpoint`` when that is not configured.
    """

    name = "Phoenix"
    ready_path = "/healthz"
    ready_timeout = READY_TIMEOUT_S
    error = PhoenixError

    working_dir: Path
    port: int = 6006
    grpc_port: int = 4317
    phoenix: PhoenixInstall | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

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
    def state_path(self) -> Path:
        return self.working_dir / PHOENIX_STATE_FILE

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
            if in_use(port):
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
        argv = [str(self.phoenix.python), "-I", str(_MAIN), "serve"]
        self._spawn(argv, cwd=self.working_dir, env=env)
        self._publish({"pid": self.pid, "url": self.url, "otlp_endpoint": self.otlp_endpoint})

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
