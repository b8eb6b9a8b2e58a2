"""What the commands that run a local server until Ctrl-C share (``phoenix``, ``chroma``): start
it, wait until it answers, say where it is, serve, and stop it cleanly whatever happens."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from agentlab.observability.local_server import LocalServer


def serve(
    console: Console,
    server: LocalServer,
    timeout: float,
    *,
    start: Callable[[Signals], bool],
    announce: Callable[[float], None],
) -> None:
    """Run ``server`` until Ctrl-C or SIGTERM: ``start(signals)`` starts it (False: interrupted
    before it did), then, once it answers (within ``timeout`` seconds), ``announce`` is given
    the seconds that took. The server is stopped whatever happens; the end of its log is shown
    when it fails."""
    from agentlab.observability.local_server import ServerError
    from agentlab.safe_text import visible

    with Signals() as signals:
        try:
            if not start(signals):
                print(f"interrupted: {server.name} was not started", file=sys.stderr)
                raise typer.Exit(130)
            started = time.monotonic()
            with console.status(f"waiting for {server.name}…") as status:
                ready = server.wait_ready(
                    timeout,
                    interrupted=lambda: signals.received is not None,
                    progress=lambda waited: status.update(
                        f"waiting for {server.name}… {waited:.0f} s"
                    ),
                )
            if not ready:
                print(f"interrupted: {server.name} stopped before it answered", file=sys.stderr)
                raise typer.Exit(130)
            announce(time.monotonic() - started)
            while signals.received is None and server.running():
                time.sleep(0.2)
            if signals.received is None:
                raise server.error(
                    f"{server.name} exited (code {server.stop()}) while serving; its log is "
                    f"{server.log_path}",
                    server.log_tail(),
                )
            console.print(f"stopping {server.name}…")
        except ServerError as exc:
            if exc.log_tail:
                print(f"the end of {server.name}'s log ({server.log_path}):", file=sys.stderr)
                print(visible(exc.log_tail), file=sys.stderr)  # another program's output
            raise
        finally:
            server.stop()
    console.print(f"{server.name} stopped.")


class Signals:
    """While open, SIGINT (Ctrl-C) and SIGTERM only set ``received``: the command then stops its
    server and exits cleanly, instead of being interrupted wherever it is."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Signals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._receive)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _receive(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum
