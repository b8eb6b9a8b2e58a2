"""A throwaway Arize Phoenix for tests: the server ``agentlab phoenix`` runs (``PhoenixServer``), on
free ports of 127.0.0.1 with its data in a given directory.

Phoenix takes 10-30 s to start (importing it alone takes ~12 s), so test modules start it once::

    @pytest.fixture(scope="module")
    def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhoenixServer]:
        with phoenix_server(tmp_path_factory.mktemp("phoenix")) as server:
            yield server  # server.url, server.otlp_endpoint ({url}/v1/traces)
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from agentlab.observability.phoenix import PhoenixServer


@contextmanager
def phoenix_server(working_dir: Path) -> Iterator[PhoenixServer]:
    """A Phoenix answering on free loopback ports, its data in ``working_dir``; stopped on exit.

    If it does not answer within ``READY_TIMEOUT_S`` (120 s), the ``PhoenixError`` raised says why
    and carries the end of its log."""
    port, grpc_port = free_ports(2)
    with PhoenixServer(working_dir, port=port, grpc_port=grpc_port) as server:
        yield server


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 (bound together, so none is repeated)."""
    with ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
