"""``agentlab chroma``: a Chroma server on 127.0.0.1 over the data directory's memory, until Ctrl-C.

Only Typer is imported here (``agentlab --help`` must stay fast, and never import chromadb);
Chroma runs in a subprocess (its ``chroma run``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from agentlab.cli.serving import Signals


def chroma_command(
    ctx: typer.Context,
    port: Annotated[
        int,
        typer.Option(
            min=0, max=65535, metavar="PORT", help="The port to serve on (default: a free one)."
        ),
    ] = 0,
    timeout: Annotated[
        float,
        typer.Option(min=1, metavar="SECONDS", help="How long to wait for Chroma to answer."),
    ] = 120.0,  # memory.chroma_server.READY_TIMEOUT_S, not imported here (--help stays fast)
) -> None:
    """Serve the data directory's long-term memory with a Chroma server on 127.0.0.1, until
    Ctrl-C.

    While it runs, every process using this data directory reads and writes memory through it
    (it waits for the operations in progress first). Not for memory already on a server
    ([memory] chroma_url)."""
    from rich.console import Console

    from agentlab.cli import common
    from agentlab.cli.serving import serve
    from agentlab.memory.chroma_server import ChromaServer, ChromaServerError
    from agentlab.memory.long_term import chroma_dir
    from agentlab.observability.local_server import HOST, PortInUseError
    from agentlab.safe_text import markup

    settings = common.settings(ctx)
    if settings.memory.chroma_url:
        raise ChromaServerError(
            f"memory is on the Chroma server at {settings.memory.chroma_url} already ([memory] "
            "chroma_url): unset chroma_url to serve this data directory's memory instead"
        )
    server = ChromaServer(chroma_dir(settings.data_dir), port=port)
    try:
        server.check()
    except PortInUseError as exc:
        raise ChromaServerError(f"{exc}: choose another with --port, or leave it out") from None
    console = Console(highlight=False, soft_wrap=True, emoji=False)  # URLs kept whole
    where = markup(server.directory)

    def start(signals: Signals) -> bool:
        def waiting() -> None:
            console.print(f"waiting for the memory operations in progress on {where} to end…")

        if not server.lock(interrupted=lambda: signals.received is not None, waiting=waiting):
            return False
        server.start()
        console.print(
            f"starting Chroma ({markup(server.command)}) on {where} (log: "
            f"{markup(server.log_path.name)}); waiting up to {timeout:g} s for it to answer"
        )
        return True

    def announce(waited: float) -> None:
        server.publish()
        console.print(f"Chroma is up after {waited:.1f} s: {server.url}")
        if not settings.memory.enabled:
            console.print("note: memory is off ([memory] enabled = false) for this configuration")
        console.print("processes using this data directory keep their memory here while it runs")
        console.print(
            "elsewhere (other data directories; other machines through a tunnel, as it listens "
            f"on {HOST} only): export AGENTLAB_MEMORY__CHROMA_URL={server.url}"
        )
        console.print("Ctrl-C stops it.")

    serve(console, server, timeout, start=start, announce=announce)
