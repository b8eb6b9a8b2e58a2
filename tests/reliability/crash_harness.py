"""Run the ``agentlab`` command with kill points: SIGKILL the process at the N-th point reached.

    python tests/reliability/crash_harness.py [--kill-at N|SITE#K] [--trace FILE] -- run ARGS...

Before calling ``agentlab.cli.app.main()``, this wraps the places where a crash matters. Each wrap
is a point before and after the write (and, where the write is a transaction of several
statements, *during* it: its statements executed, its COMMIT not yet):

- ``checkpoint``: LangGraph checkpoint writes, ``LoopSqliteSaver.put`` and ``put_writes``;
- ``journal``: the tool journal's ``SqlRunStore.start`` and ``finish``;
- ``effect``: each tool effect, the file append of ``append_effect`` and the support tools'
  ``SupportDatabase.write`` (``during``: the row inserted or deleted, not committed);
- ``runs``: runs-table and lease writes (``create_run``, ``set_status``, ``acquire_lease``,
  ``release_lease``, ``clear_stale_lease``);
- ``event``: every event a node emits;
- ``memory``: long-term memory's write of a turn's interaction (``EpisodicMemory.remember``).

Every point reached is appended to ``--trace`` as ``index<TAB>site<TAB>detail<TAB>pid<TAB>time``
(``site`` is ``kind.operation:phase``; ``time`` is ``time.monotonic()``, comparable across
processes); ``--kill-at 0`` never kills (a dry run counts the points). ``--kill-at SITE#K`` kills
at the K-th point of that site (e.g. ``checkpoint.put:during#3``): threads interleave, so the N-th
point of two runs may differ, the K-th of a site does not. The point that kills is written
first, with the site prefixed by ``KILL ``. Marks that are not kill points (when a process
starts and stops advancing a run) go to the trace with index 0.

``--kill-at stop:SITE#K`` stops the process there instead (SIGSTOP, as a paused VM or a debugger
would: it goes on when continued), and ``--kill-at fill:SITE#K`` fills the disk of the data
directory there (a ballast file, ``BALLAST``, until no space is left) and goes on: the faults a
process meets that are not its death. Their points are written as ``STOP `` and ``FILL ``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

ACTIONS = ("stop:", "fill:")
BALLAST = "ballast"


def fill_disk() -> None:
    """Fill the file system of the data directory: a file written until no space is left. Only a
    small one (a test's tmpfs): a real disk is never filled."""
    data_dir = os.environ["AGENTLAB_DATA_DIR"]
    free = os.statvfs(data_dir)
    if free.f_bavail * free.f_frsize > 64 * 2**20:
        os.write(2, f"crash_harness: {data_dir} has over 64 MiB free: not filling it\n".encode())
        os._exit(70)  # from any thread
    with open(os.path.join(data_dir, BALLAST), "ab", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
        try:  # the last few bytes too
            while True:
                f.write(b"\0" * 512)
        except OSError:
            pass


class KillPoints:
    """Counts the points reached; SIGKILLs this process at point ``kill_at``: the N-th point
    (``"0"``: never) or the K-th of a site (``"SITE#K"``)."""

    def __init__(self, kill_at: str, trace: str | None) -> None:
        action, _, kill_at = (
            kill_at.partition(":") if kill_at.startswith(ACTIONS) else ("", "", kill_at)
        )
        self.action = action or "kill"
        site, _, nth = kill_at.rpartition("#")
        self.kill_at = (site, int(nth)) if site else ("", int(kill_at))
        self.count = 0
        self.per_site: dict[str, int] = {}
        self._lock = threading.Lock()
        self._fd = os.open(trace, os.O_WRONLY | os.O_CREAT | os.O_APPEND) if trace else None
        self.local = threading.local()  # which write a thread is inside (for "during" points)

    def _write(self, index: int, site: str, detail: str) -> None:
        if self._fd is not None:
            line = f"{index}\t{site}\t{detail}\t{os.getpid()}\t{time.monotonic():.6f}\n"
            os.write(self._fd, line.encode())

    def point(self, site: str, detail: str = "") -> None:
        with self._lock:
            self.count += 1
            index = self.count
            self.per_site[site] = nth = self.per_site.get(site, 0) + 1
            if self.kill_at in ((site, nth), ("", index)):
                self._write(index, f"{self.action.upper()} {site}", detail)
                if self.action == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                elif self.action == "stop":
                    os.kill(os.getpid(), signal.SIGSTOP)
                    return  # continued: this point was written as the stop
                else:
                    fill_disk()
                    return
            self._write(index, site, detail)

    def mark(self, site: str, detail: str = "") -> None:
        with self._lock:
            self._write(0, site, detail)

    def around(self, site: str, detail: Callable[..., str] | None = None) -> Callable:
        """A decorator putting points before and after a sync function; a transaction it runs
        gets its ``during`` point (see ``during``)."""

        def wrap(fn: Callable) -> Callable:
            @wraps(fn)
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                what = detail(*args, **kwargs) if detail else ""
                self.point(f"{site}:before", what)
                with self.inside(site, what):
                    out = fn(*args, **kwargs)
                self.point(f"{site}:after", what)
                return out

            return wrapped

        return wrap

    def around_async(self, site: str, detail: Callable[..., str] | None = None) -> Callable:
        """``around`` for a coroutine function (a write of the run store, on the event loop)."""

        def wrap(fn: Callable) -> Callable:
            @wraps(fn)
            async def wrapped(*args: Any, **kwargs: Any) -> Any:
                what = detail(*args, **kwargs) if detail else ""
                self.point(f"{site}:before", what)
                out = await fn(*args, **kwargs)
                self.point(f"{site}:after", what)
                return out

            return wrapped

        return wrap

    @contextmanager
    def inside(self, site: str, detail: str) -> Iterator[None]:
        """Name the write this thread is in, for the ``during`` point of its transaction."""
        outer = getattr(self.local, "site", None)
        self.local.site = (site, detail)
        try:
            yield
        finally:
            self.local.site = outer

    def during(self, *kinds: str) -> None:
        """The ``during`` point of the write this thread is in, if it is of one of ``kinds``;
        once per write (not for the reads that may follow it in the same method)."""
        inside = getattr(self.local, "site", None)
        if inside is not None and inside[0].startswith(kinds):
            self.local.site = None
            self.point(f"{inside[0]}:during", inside[1])


def install(points: KillPoints) -> None:
    """Wrap the places where a crash matters (see the module docstring)."""
    _checkpoints(points)
    _store(points)
    _effects(points)
    _events(points)
    _advancing(points)
    _memory(points)


def _memory(points: KillPoints) -> None:
    """Long-term memory's write of a turn's interaction (when memory is on)."""
    from agentlab.memory.episodes import EpisodicMemory

    EpisodicMemory.remember = points.around("memory.remember")(EpisodicMemory.remember)  # type: ignore[method-assign]


def _checkpoints(points: KillPoints) -> None:
    from agentlab.orchestration.checkpoints import LoopSqliteSaver

    cursor = LoopSqliteSaver.cursor

    def checkpoint_of(self: Any, config: Any, checkpoint: Any, *args: Any, **kwargs: Any) -> str:
        return str(checkpoint["id"])  # the checkpoint written (config names its parent)

    def channels_of(self: Any, config: Any, writes: Any, *args: Any, **kwargs: Any) -> str:
        return ",".join(sorted({str(channel) for channel, _ in writes}))

    @contextmanager
    def counted_cursor(self: Any, transaction: bool = True) -> Iterator[Any]:
        # SqliteSaver commits when its cursor closes: the INSERT is done, the COMMIT is not.
        with cursor(self, transaction) as cur:
            yield cur
            if transaction:
                points.during("checkpoint.")

    saver = LoopSqliteSaver
    saver.put = points.around("checkpoint.put", checkpoint_of)(saver.put)  # type: ignore[method-assign]
    saver.put_writes = points.around("checkpoint.put_writes", channels_of)(saver.put_writes)  # type: ignore[method-assign]
    saver.cursor = counted_cursor  # type: ignore[method-assign]


def _store(points: KillPoints) -> None:
    """The run store's journal and runs-table writes. Each is one statement, which commits as it
    runs: there is no moment between its statements and its commit, so no ``during`` point."""
    from agentlab.store.sql import SqlRunStore

    def call_of(self: Any, run_id: str, call_id: str, *args: Any, **kwargs: Any) -> str:
        return call_id

    # ``begin`` journals a call's first attempt, ``start`` an attempt run again: both are the
    # journal's start of an attempt (``journal.start``).
    for name, site in (("begin", "start"), ("start", "start"), ("finish", "finish")):
        original = getattr(SqlRunStore, name)
        setattr(SqlRunStore, name, points.around_async(f"journal.{site}", call_of)(original))

    def status_of(self: Any, *args: Any, **kwargs: Any) -> str:
        status = kwargs.get("status", args[1] if len(args) > 1 else "")
        return status if isinstance(status, str) else ""

    for name in ("create_run", "set_status", "acquire_lease", "release_lease", "clear_stale_lease"):
        original = getattr(SqlRunStore, name)
        setattr(SqlRunStore, name, points.around_async(f"runs.{name}", status_of)(original))


_EFFECTS = {"send": "send_notification", "delete": "delete_customer"}


def _key_of(path: Any, line: str) -> str:
    return line.split("\t", 1)[0]


def _effects(points: KillPoints) -> None:
    from agentlab.domains.support.db import SupportDatabase
    from agentlab.orchestration.runner import graphs

    write = SupportDatabase.write

    def counted_write(self: Any, action: Callable[[Any], Any]) -> Any:
        site = f"effect.{_EFFECTS.get(action.__name__, action.__name__)}"

        def acting(conn: Any) -> Any:
            out = action(conn)
            points.point(f"{site}:during")  # the row is written, the transaction not committed
            return out

        points.point(f"{site}:before")
        out = write(self, acting)
        points.point(f"{site}:after")
        return out

    SupportDatabase.write = counted_write  # type: ignore[method-assign]

    # The file append of the crash agent, whose module is loaded by file reference.
    load_agent = graphs.load_agent

    def loading(reference: str) -> Any:
        agent = load_agent(reference)
        for name, module in list(sys.modules.items()):
            append = getattr(module, "append_line", None)
            if name.startswith("agentlab_agents.") and append and not hasattr(append, "counted"):
                counted = points.around("effect.append_effect", _key_of)(append)
                counted.counted = True  # type: ignore[attr-defined]
                module.append_line = counted  # type: ignore[attr-defined]
        return agent

    graphs.load_agent = loading  # type: ignore[assignment]


def _events(points: KillPoints) -> None:
    from agentlab.orchestration import visit

    writer_emit = visit.writer_emit

    def counted_writer_emit(write: Callable[[Any], None]) -> Callable[[Any], None]:
        emit = writer_emit(write)

        def counted(event: Any) -> None:
            kind = type(event).__name__
            points.point("event.emit:before", kind)
            emit(event)
            points.point("event.emit:after", kind)

        return counted

    visit.writer_emit = counted_writer_emit  # type: ignore[assignment]


def _advancing(points: KillPoints) -> None:
    """Marks (not kill points) when this process starts and stops advancing a run."""
    from agentlab.orchestration.runner.advance import Advancing

    advance = Advancing._advance

    async def marked(self: Any, ctx: Any, *args: Any, **kwargs: Any) -> Any:
        points.mark("advance:begin", ctx.run_id or "")
        try:
            async for event in advance(self, ctx, *args, **kwargs):
                yield event
        finally:
            points.mark("advance:end", ctx.run_id or "")

    Advancing._advance = marked  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    if "--" not in argv:
        sys.exit("usage: crash_harness.py [--kill-at N|SITE#K] [--trace FILE] -- AGENTLAB_ARGS...")
    split = argv.index("--")
    own, args = argv[:split], argv[split + 1 :]
    kill_at, trace = "0", None
    while own:
        flag, value, *own = own
        if flag == "--kill-at":
            kill_at = value
        elif flag == "--trace":
            trace = value
        else:
            sys.exit(f"unknown option {flag}")
    install(KillPoints(kill_at, trace))
    from agentlab.cli.app import main as agentlab

    sys.argv = ["agentlab", *args]
    agentlab()


if __name__ == "__main__":
    main(sys.argv[1:])
