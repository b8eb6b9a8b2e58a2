"""The Phoenix of a test session: the server ``agentlab phoenix`` runs (``PhoenixServer``, from
the environment ``find_phoenix`` installs), on free ports of 127.0.0.1, its data in a temporary
directory. Phoenix takes 10-30 s to start, so one serves the whole session: started by the first
test (or notebook) that needs it, stopped when pytest ends. Tests keep their spans apart by giving
each its own trace project (``AGENTLAB_TRACE_PROJECT``).

Tests ask for it with the ``phoenix`` fixture (``conftest.py``). If a selected test needs Phoenix
and it is not installed yet, pytest installs it after collecting, before any test runs (and so
outside their timeouts): once, a few minutes. ``.ci/run`` installs it before pytest.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from contextlib import ExitStack
from pathlib import Path

import pytest

from agentlab.observability.phoenix import PhoenixServer
from agentlab.observability.phoenix_install import PHOENIX_VERSION, PhoenixInstall, find_phoenix

_SESSION = pytest.StashKey[PhoenixServer]()


def session_phoenix(config: pytest.Config, phoenix: PhoenixInstall) -> PhoenixServer:
    """The session's Phoenix, started (on free loopback ports) if it is not running yet; it is
    stopped, and its data removed, when the session ends.

    If it does not answer within ``READY_TIMEOUT_S`` (120 s), the ``PhoenixError`` raised says why
    and carries the end of its log."""
    server = config.stash.get(_SESSION, None)
    if server is not None:
        return server
    root = Path(tempfile.mkdtemp(prefix="agentlab-phoenix-"))
    # Where `agentlab phoenix` keeps Phoenix's data for the data directory root/data.
    port, grpc_port = free_ports(2)
    server = PhoenixServer(
        root / "data" / "phoenix", port=port, grpc_port=grpc_port, phoenix=phoenix
    )
    try:
        server.start()
        server.wait_ready()
    except BaseException:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    config.stash[_SESSION] = server
    config.add_cleanup(lambda: shutil.rmtree(root, ignore_errors=True))
    config.add_cleanup(server.stop)  # cleanups run last first: stopped, then removed
    return server


def install_phoenix(config: pytest.Config) -> PhoenixInstall:
    """Phoenix, installed now if it is not yet, saying so on the terminal."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    said = False

    def progress(step: str) -> None:
        nonlocal said
        if not said and reporter is not None:
            reporter.write_line(
                f"installing Phoenix {PHOENIX_VERSION} for the tests that need it, into an "
                "environment of its own (once; a few minutes)"
            )
        said = True

    return find_phoenix(progress=progress)


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 (bound together, so none is repeated)."""
    with ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
