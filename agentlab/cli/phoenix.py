"""``agentlab phoenix``: Arize Phoenix on 127.0.0.1, its data in the data directory, until Ctrl-C.

Only Typer is imported here (``app.py`` registers the command, and ``agentlab --help`` must stay
fast); Phoenix runs in a subprocess, from an environment of its own, and is never imported.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from agentlab.cli.serving import Signals
    from agentlab.config import Settings
    from agentlab.observability.local_server import PortInUseError
    from agentlab.observability.phoenix import PhoenixServer
    from agentlab.observability.phoenix_install import PhoenixError, PhoenixInstall


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
    install: Annotated[
        bool,
        typer.Option(
            "--install",
            help="Only install Phoenix (in an environment of its own, the first time) and say "
            "where; do not start it.",
        ),
    ] = False,
) -> None:
    """Run Arize Phoenix on 127.0.0.1, its data in the data directory, until Ctrl-C.

    While it runs, agentlab exports the traces of runs using this data directory to it (unless
    otlp_endpoint or an OTEL_EXPORTER_OTLP_*ENDPOINT variable names another collector). The first
    time, Phoenix is installed into an environment of its own (or set phoenix_command).
    """
    from rich.console import Console

    from agentlab.cli import common
    from agentlab.cli.serving import serve
    from agentlab.observability.local_server import PortInUseError
    from agentlab.observability.phoenix import PhoenixServer
    from agentlab.safe_text import markup

    settings = common.settings(ctx)
    server = PhoenixServer(settings.phoenix_dir, port=port, grpc_port=grpc_port)
    console = Console(highlight=False, soft_wrap=True)
    if install:
        phoenix = _installed(console, settings.phoenix_command)
        console.print(f"Phoenix {phoenix.version} is installed: {markup(phoenix.location)}")
        return
    try:
        server.check()  # before Phoenix is installed: a taken port is said at once
    except PortInUseError as exc:
        raise _port_taken(exc, port) from None
    server.phoenix = _installed(console, settings.phoenix_command)

    def start(signals: Signals) -> bool:
        assert server.phoenix is not None
        try:
            server.start()
        except PortInUseError as exc:
            raise _port_taken(exc, port) from None
        console.print(
            f"starting Phoenix {server.phoenix.version} ({markup(server.phoenix.location)}), "
            f"its data in {markup(server.working_dir)} (log: {markup(server.log_path.name)}); "
            f"waiting up to {timeout:g} s for it to answer"
        )
        return True

    def announce(waited: float) -> None:
        console.print(f"Phoenix is up after {waited:.1f} s:")
        _announce(console, server, settings)

    serve(console, server, timeout, start=start, announce=announce)


def _installed(console: Console, command: str | None) -> PhoenixInstall:
    """The Phoenix to run (``phoenix_command``'s, else agentlab's own), installed first if need
    be, showing pip's progress."""
    from agentlab.observability.phoenix_install import PHOENIX_VERSION, find_phoenix

    started = time.monotonic()
    installing = False
    with console.status("looking for Phoenix…") as status:

        def progress(step: str) -> None:
            nonlocal installing
            if not installing:
                installing = True
                console.print(
                    f"installing Phoenix {PHOENIX_VERSION} into an environment of its own "
                    "(the first time only; a few minutes)"
                )
            status.update(f"installing Phoenix: {step}")

        phoenix = find_phoenix(command, progress=progress)
    if installing:
        console.print(f"installed in {time.monotonic() - started:.0f} s")
    return phoenix


def _port_taken(exc: PortInUseError, port: int) -> PhoenixError:
    from agentlab.observability.phoenix_install import PhoenixError

    flag = "--port" if exc.port == port else "--grpc-port"
    return PhoenixError(f"{exc}: is Phoenix running already? Choose another with {flag}")


def _announce(console: Console, server: PhoenixServer, settings: Settings) -> None:
    from agentlab.safe_text import markup

    console.print(f"  UI         {server.url}")
    console.print(f"  OTLP/HTTP  {server.otlp_endpoint}")
    console.print(f"  OTLP/gRPC  {server.grpc_endpoint}")
    configured = settings.otlp_endpoint
    standard = [name for name in _OTEL_ENDPOINTS if os.environ.get(name)]
    if configured and configured != server.otlp_endpoint:
        console.print(f"note: otlp_endpoint is {markup(configured)}: runs export there, not here")
    elif standard and not configured:
        console.print(f"note: {standard[0]} is set: runs export where it says, not here")
    else:
        console.print("runs using this data directory export their traces here while it runs")
    console.print(f"elsewhere: export AGENTLAB_OTLP_ENDPOINT={server.otlp_endpoint}")
    console.print("Ctrl-C stops it.")


_OTEL_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
