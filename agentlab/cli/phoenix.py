"""``agentlab phoenix``: Arize Phoenix on 127.0.0.1, its data in the data directory, until Ctrl-C.

Only Typer is imported here (``app.py`` registers the command, and ``agentlab --help`` must stay
fast); Phoenix runs in a subprocess and is never imported.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from agentlab.config import Settings
    from agentlab.observability.phoenix import PhoenixServer


def phoenix_command(
    ctx: typer.Context,
    port: Annotated[
        int,
        typer.Option(
            min=1,
            max=65535,
            metavar="PORT",
            help="The port of the UI, REST API and OTLP/HTTP receiver.",
        ),
    ] = 6006,
    grpc_port: Annotated[
        int,
        typer.Option(min=1, max=65535, metavar="PORT", help="The port of the OTLP/gRPC receiver."),
    ] = 4317,
    timeout: Annotated[
        float,
        typer.Option(min=1, metavar="SECONDS", help="How long to wait for Phoenix to answer."),
    ] = 120.0,  # observability.phoenix.READY_TIMEOUT_S, not imported here (--help stays fast)
) -> None:
    """Run Arize Phoenix on 127.0.0.1, its data in the data directory, until Ctrl-C.

    While it runs, agentlab exports the traces of runs using this data directory to it (unless
    otlp_endpoint or an OTEL_EXPORTER_OTLP_*ENDPOINT variable names another collector).
    """
    from rich.console import Console

    from agentlab.cli.app import _settings
    from agentlab.observability.phoenix import (
        PhoenixError,
        PhoenixServer,
        PortInUseError,
        phoenix_version,
    )

    settings = _settings(ctx)
    server = PhoenixServer(settings.phoenix_dir, port=port, grpc_port=grpc_port)
    console = Console(highlight=False, soft_wrap=True)
    with _Signals() as signals:
        try:
            server.start()
        except PortInUseError as exc:
            flag = "--port" if exc.port == port else "--grpc-port"
            raise PhoenixError(
                f"{exc}: is Phoenix running already? Choose another with {flag}"
            ) from None
        try:
            console.print(
                f"starting Phoenix {phoenix_version()}, its data in {server.working_dir} "
                f"(log: {server.log_path.name}); waiting up to {timeout:g} s for it to answer"
            )
            started = time.monotonic()
            with console.status("waiting for Phoenix…") as status:
                ready = server.wait_ready(
                    timeout,
                    interrupted=lambda: signals.received is not None,
                    progress=lambda waited: status.update(f"waiting for Phoenix… {waited:.0f} s"),
                )
            if not ready:
                print("interrupted: Phoenix stopped before it answered", file=sys.stderr)
                raise typer.Exit(130)
            console.print(f"Phoenix is up after {time.monotonic() - started:.1f} s:")
            _announce(console, server, settings)
            while signals.received is None and server.running():
                time.sleep(0.2)
            if signals.received is None:
                raise PhoenixError(
                    f"Phoenix exited (code {server.stop()}) while serving; its log is "
                    f"{server.log_path}",
                    server.log_tail(),
                )
            console.print("stopping Phoenix…")
        except PhoenixError as exc:
            if exc.log_tail:
                print(f"the end of Phoenix's log ({server.log_path}):", file=sys.stderr)
                print(exc.log_tail, file=sys.stderr)
            raise
        finally:
            server.stop()
    console.print("Phoenix stopped.")


def _announce(console: Console, server: PhoenixServer, settings: Settings) -> None:
    console.print(f"  UI         {server.url}")
    console.print(f"  OTLP/HTTP  {server.otlp_endpoint}")
    console.print(f"  OTLP/gRPC  {server.grpc_endpoint}")
    configured = settings.otlp_endpoint
    standard = [name for name in _OTEL_ENDPOINTS if os.environ.get(name)]
    if configured and configured != server.otlp_endpoint:
        console.print(f"note: otlp_endpoint is {configured}: runs export there, not here")
    elif standard and not configured:
        console.print(f"note: {standard[0]} is set: runs export where it says, not here")
    else:
        console.print("runs using this data directory export their traces here while it runs")
    console.print(f"elsewhere: export AGENTLAB_OTLP_ENDPOINT={server.otlp_endpoint}")
    console.print("Ctrl-C stops it.")


_OTEL_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


class _Signals:
    """While open, SIGINT (Ctrl-C) and SIGTERM only set ``received``: the command then stops
    Phoenix and exits cleanly, instead of being interrupted wherever it is."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._receive)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _receive(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum
