"""Phoenix's ``main``, with the ports its OTLP gRPC receiver adds bound to 127.0.0.1 (Phoenix binds
them to every interface, whatever ``PHOENIX_HOST`` says).

A script for Phoenix's own Python, not a module of agentlab's: ``PhoenixServer`` runs it as
``PYTHON -I .../phoenix_main.py serve`` with the Python of Phoenix's environment (``-I`` keeps this
file's directory, whose ``phoenix.py`` would shadow the ``phoenix`` package, off ``sys.path``). It
imports nothing of agentlab's, which is not installed there.
"""

from __future__ import annotations

import runpy
from typing import Any

HOST = "127.0.0.1"


def serve_on_loopback() -> None:
    """Run ``phoenix.server.main`` (its arguments are this script's), its gRPC server's ports on
    127.0.0.1."""
    import grpc.aio  # type: ignore[import-untyped, import-not-found]  # Phoenix's dependency

    make_server = grpc.aio.server

    def loopback_server(*args: Any, **kwargs: Any) -> Any:
        server = make_server(*args, **kwargs)
        insecure, secure = server.add_insecure_port, server.add_secure_port
        server.add_insecure_port = lambda address: insecure(on_loopback(address))
        server.add_secure_port = lambda address, credentials: secure(
            on_loopback(address), credentials
        )
        return server

    grpc.aio.server = loopback_server
    runpy.run_module("phoenix.server.main", run_name="__main__", alter_sys=True)


def on_loopback(address: str) -> str:
    """``[::]:4317`` -> ``127.0.0.1:4317``."""
    return f"{HOST}:{address.rpartition(':')[2]}"


if __name__ == "__main__":
    serve_on_loopback()
