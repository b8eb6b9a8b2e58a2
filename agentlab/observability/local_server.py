"""A server agentlab runs as a subprocess on 127.0.0.1: Phoenix (``agentlab phoenix``) and Chroma
(``agentlab chroma``) alike.

The server leads a process group of its own, so Ctrl-C at a terminal reaches agentlab, which
stops it (SIGTERM to the group, SIGKILL after a grace period). It is ready once it answers HTTP
at ``ready_path``; while it runs, a small state file (``0600``) says where it is, for the other
processes of the data directory.
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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from agentlab.errors import AgentlabError

HOST = "127.0.0.1"


class ServerError(AgentlabError):
    """A local server is missing, could not start, or did not answer; ``log_tail`` is the end of
    its log, when it got as far as writing one."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail


class PortInUseError(ServerError):
    """A port a server should listen on is taken on 127.0.0.1."""

    def __init__(self, port: int, role: str) -> None:
        super().__init__(f"port {port} ({role}) on {HOST} is already in use")
        self.port = port
        self.role = role


class LocalServer:
    """One server process on 127.0.0.1, answering HTTP on ``port``.

    A subclass names the server (``name``), where it answers once ready (``ready_path``; by
    default within ``ready_timeout`` seconds), the error it raises (``error``), and its
    ``log_path`` and ``state_path``; it starts the process with ``_spawn`` and publishes its
    state with ``_publish``. ``stop`` removes the state file (if it is still this process's)
    before it stops the process, so no reader follows it to a server that is going away.
    """

    name: ClassVar[str]
    ready_path: ClassVar[str]
    ready_timeout: ClassVar[float] = 120.0
    error: ClassVar[type[ServerError]] = ServerError
    port: int
    _process: subprocess.Popen[bytes] | None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        raise NotImplementedError

    @property
    def state_path(self) -> Path:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def wait_ready(
        self,
        timeout: float | None = None,
        *,
        interrupted: Callable[[], bool] = lambda: False,
        progress: Callable[[float], None] | None = None,
    ) -> bool:
        """Wait until the server answers HTTP: True then, False if ``interrupted()`` became true
        first.

        ``progress`` is called with the seconds waited so far, a few times a second. Raises
        ``error``, with the end of the server's log, if it exits or does not answer within
        ``timeout`` seconds (default: ``ready_timeout``; then it is stopped)."""
        timeout = self.ready_timeout if timeout is None else timeout
        started = time.monotonic()
        while True:
            waited = time.monotonic() - started
            if not self.running():
                code = self._process.returncode if self._process else None
                raise self.error(
                    f"{self.name} exited (code {code}) before it answered; its log is "
                    f"{self.log_path}",
                    self.log_tail(),
                )
            if answers(f"{self.url}{self.ready_path}"):
                return True
            if interrupted():
                return False
            if waited > timeout:
                tail = self.log_tail()
                self.stop()
                raise self.error(
                    f"{self.name} did not answer at {self.url} within {timeout:g} s; its log is "
                    f"{self.log_path}",
                    tail,
                )
            if progress is not None:
                progress(waited)
            time.sleep(0.25)

    def stop(self, grace: float = 10.0) -> int | None:
        """Stop the server and any process it started (SIGTERM, then SIGKILL after ``grace``
        seconds) and wait for it; its exit code, or None if it was not started."""
        process, self._process = self._process, None
        if process is None:
            return None
        self._unpublish(process.pid)
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        return process.returncode

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def _spawn(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> None:
        """Start ``argv`` as the server, its output in ``log_path`` (``0600``)."""
        try:
            fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            log = os.fdopen(fd, "wb")
        except OSError as exc:
            raise self.error(
                f"cannot write {self.name}'s log {self.log_path}: {exc.strerror}"
            ) from None
        with log:
            self._process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=tuple(pass_fds),
                start_new_session=True,  # Ctrl-C at a terminal reaches us, and we stop it
            )

    def _publish(self, state: Mapping[str, Any]) -> None:
        """Write the state file (``0600``) in one step: a reader sees all of it or none."""
        partial = self.state_path.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(json.dumps(dict(state)))
        partial.replace(self.state_path)

    def _unpublish(self, pid: int) -> None:
        try:
            if json.loads(self.state_path.read_text(encoding="utf-8")).get("pid") == pid:
                self.state_path.unlink()
        except (OSError, ValueError, AttributeError):
            pass


def in_use(port: int) -> bool:
    """Whether ``port`` is taken on 127.0.0.1."""
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


def free_port() -> int:
    """A port free on 127.0.0.1 now (the system's choice)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


# Straight to 127.0.0.1, whatever proxy the environment names.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def answers(url: str) -> bool:
    """Whether ``url`` answers a GET with 200."""
    try:
        with _LOCAL.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)  # the server leads its own session: its group has its pid
