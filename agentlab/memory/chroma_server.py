"""``agentlab chroma``'s server: ``chroma run`` on 127.0.0.1 over a data directory's Chroma files.

Embedded, every process of a data directory takes the directory's lock for each operation
(``chroma.py``). The server takes that lock before it opens the directory, waiting for the
operations in progress, and holds it until it has stopped: its ``chroma`` process inherits the
lock, so the lock also outlives an ``agentlab chroma`` killed without a chance to stop its
server. Once the server answers, it names itself in the directory (``SERVER_FILE``: ``pid`` of
the ``chroma`` process, ``url``), and the stores of every process go through it. Starting, it
bumps the directory's generation: a process that kept an embedded client of the directory
reopens it when it next holds the lock, and so reads what the server wrote.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agentlab.memory.chroma_access import (
    GENERATION_FILE,
    LOCK_FILE,
    SERVER_FILE,
    bump_generation,
    running_chroma,
)
from agentlab.observability.local_server import (
    HOST,
    LocalServer,
    PortInUseError,
    ServerError,
    answers,
    free_port,
    in_use,
)

# `chroma run` answers in about a second once imported; importing chromadb takes 2-20 s.
READY_TIMEOUT_S = 120.0
LOG_FILE = "agentlab-chroma.log"


class ChromaServerError(ServerError):
    """The Chroma server cannot start, did not answer, or another already serves the
    directory."""


@dataclass
class ChromaServer(LocalServer):
    """``chroma run`` serving ``directory`` on 127.0.0.1:``port`` (0: a free port, chosen at
    ``start``), run from ``command`` (unset: ``find_chroma()``).

    ``check()``, ``lock()``, ``start()``, ``wait_ready()``, ``publish()``, and ``stop()`` at the
    end, which also lets go of the lock.
    """

    name = "Chroma"
    ready_path = "/api/v2/heartbeat"
    ready_timeout = READY_TIMEOUT_S
    error = ChromaServerError

    directory: Path
    port: int = 0
    command: Path | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _lock: int | None = field(default=None, init=False, repr=False)

    @property
    def log_path(self) -> Path:
        return self.directory / LOG_FILE

    @property
    def state_path(self) -> Path:
        return self.directory / SERVER_FILE

    def check(self) -> None:
        """Raise the error ``start`` would: ``ChromaServerError`` if an ``agentlab chroma``
        serves the directory already or the ``chroma`` command is missing, ``PortInUseError``
        if ``port`` is taken."""
        if _held(self.directory / LOCK_FILE):
            self._refuse_another()
        if self.port and in_use(self.port):
            raise PortInUseError(self.port, "Chroma's HTTP API")
        if self.command is None:
            self.command = find_chroma()

    def lock(
        self,
        *,
        interrupted: Callable[[], bool] = lambda: False,
        waiting: Callable[[], None] | None = None,
    ) -> bool:
        """Take the directory's lock once the operations holding it end (``waiting`` is called
        once if one does): True then, False if ``interrupted()`` became true first. Raises
        ``ChromaServerError`` if another ``agentlab chroma`` took it first."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while not _took(lock):
                self._refuse_another()
                if interrupted():
                    os.close(lock)
                    return False
                if waiting is not None:
                    waiting()
                    waiting = None
                time.sleep(0.005)  # as each embedded operation tries it
        except BaseException:
            os.close(lock)
            raise
        self._lock = lock
        return True

    def start(self) -> None:
        """Start ``chroma run`` over the directory (it is not answering yet: see
        ``wait_ready``). The directory must be locked (``lock``)."""
        if self._lock is None:
            raise RuntimeError("ChromaServer.start before lock()")
        if self.command is None:
            self.command = find_chroma()
        if not self.port:
            self.port = free_port()
        # Embedded clients kept by other processes are stale once the server writes.
        bump_generation(self.directory / GENERATION_FILE)
        argv = [str(self.command), "run", "--path", str(self.directory)]
        argv += ["--host", HOST, "--port", str(self.port)]
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        self._spawn(argv, cwd=self.directory, env=env, pass_fds=[self._lock])

    def publish(self) -> None:
        """Name the server in the directory: from now on every store of it goes through it."""
        self._publish({"pid": self.pid, "url": self.url})

    def stop(self, grace: float = 10.0) -> int | None:
        """Stop the server (``LocalServer.stop``), then let go of the directory's lock."""
        try:
            return super().stop(grace)
        finally:
            if self._lock is not None:
                lock, self._lock = self._lock, None
                bump_generation(self.directory / GENERATION_FILE)
                os.close(lock)  # and with it the lock: the server, which shared it, is gone

    def _refuse_another(self) -> None:
        """Raise if another ``agentlab chroma`` serves the directory: named in the server file,
        and answering there (the caller found the lock held)."""
        url = running_chroma(self.directory)
        if url is not None and answers(f"{url}{self.ready_path}"):
            raise ChromaServerError(
                f"an agentlab chroma already serves {self.directory} at {url}: use it, or stop "
                "it first"
            )


def find_chroma() -> Path:
    """The ``chroma`` command of the chromadb agentlab runs with: beside this Python (its
    environment's scripts), else on PATH. Raises ``ChromaServerError`` if there is none."""
    beside = Path(sys.executable).parent / "chroma"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("chroma")
    if found is None:
        raise ChromaServerError(
            f"the chroma command (installed with chromadb) is neither beside {sys.executable} "
            "nor on PATH: install agentlab's dependencies in this environment (pip install -e .)"
        )
    return Path(found)


def _took(lock: int) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _held(path: Path) -> bool:
    """Whether a process holds the lock file ``path`` now."""
    try:
        lock = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        if not _took(lock):
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
        return False
    finally:
        os.close(lock)
