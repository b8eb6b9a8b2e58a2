"""A backstop under pytest-timeout, for every test and notebook cell: no hang outlives its limit.

pytest-timeout (``timeout`` in pyproject.toml, or a test's ``timeout`` mark) fails a test that runs
too long by raising in its main thread. That does not end every hang: the exception can land in an
event loop's background task, which keeps it while the test goes on waiting; the teardown that
runs after it has no timer of its own; a thread that holds the GIL never lets it be raised. The
worker then waits for ever, and CI ends at its own limit saying nothing of why.

So each test also arms faulthandler's watchdog (a C thread: it needs no GIL) for its timeout plus
``GRACE_S``. If the test is still running then, the stacks of every thread go to a file, and the
worker process exits: pytest-xdist reports the test as crashed and starts a new worker, and the
terminal summary prints the file (``HANGS_DIR`` names the folder, made by the first process).
pytest-xdist gives the rest of the crashed worker's tests to another worker, the hung test among
them: that one then fails at once, saying so, instead of hanging a second time.

After the session, pytest (not a worker, which waits for pytest to end it) that has not exited
``EXIT_GRACE_S`` later (a thread or a child it waits for that never ends) writes its threads'
stacks to stderr and exits with the session's status.
"""

from __future__ import annotations

import faulthandler
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import IO

import pytest

GRACE_S = 60.0
EXIT_GRACE_S = 120.0
HANGS_DIR = "PYTEST_HANGS_DIR"  # not AGENTLAB_*: agentlab refuses settings it does not know
_FILE = pytest.StashKey[IO[str]]()


def pytest_configure(config: pytest.Config) -> None:
    folder = os.environ.get(HANGS_DIR)
    if folder is None or not Path(folder).is_dir():  # the first process; xdist's workers inherit it
        folder = tempfile.mkdtemp(prefix="agentlab-test-hangs-")
        os.environ[HANGS_DIR] = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    config.stash[_FILE] = open(Path(folder) / f"{os.getpid()}.txt", "w")  # noqa: SIM115


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):  # an xdist worker waits for pytest to end it
        return

    def exit_anyway() -> None:
        time.sleep(EXIT_GRACE_S)
        sys.stdout.flush()  # what pytest printed last
        sys.stderr.write(f"pytest (pid {os.getpid()}) did not exit {EXIT_GRACE_S:g} s after its "
                         "session ended; its threads:\n")  # fmt: skip
        faulthandler.dump_traceback(all_threads=True)
        sys.stderr.flush()
        os._exit(int(exitstatus))

    threading.Thread(target=exit_anyway, name="exit backstop", daemon=True).start()


def pytest_unconfigure(config: pytest.Config) -> None:
    out = config.stash.get(_FILE, None)
    if out is not None:
        out.close()


def _hangs() -> Iterator[str]:
    """What each process that hung wrote: the test, then the stacks of its threads."""
    folder = os.environ.get(HANGS_DIR)
    if folder is None or not Path(folder).is_dir():
        return
    for path in sorted(Path(folder).glob("*.txt")):
        text = path.read_text(errors="replace").strip()
        if text.count("\n") > 0:  # a header alone is a test still running
            yield text


def _limit(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and (marker.args or "timeout" in marker.kwargs):
        value = marker.args[0] if marker.args else marker.kwargs["timeout"]
    else:
        value = item.config.getini("timeout")
    return float(value or 0)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if any(text.startswith(f"{item.nodeid} ") for text in _hangs()):
        pytest.fail(
            f"this test hung in an earlier worker, which was stopped {GRACE_S:g} s past the "
            "test's timeout: its stacks are at the end of the run",
            pytrace=False,
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    limit = _limit(item)
    out = item.config.stash.get(_FILE, None)
    if not limit or out is None:
        return (yield)
    out.seek(0)
    out.truncate()
    out.write(f"{item.nodeid} still ran {limit + GRACE_S:g} s after it started (its timeout: "
              f"{limit:g} s); the stacks of its process's threads:\n")  # fmt: skip
    out.flush()
    faulthandler.dump_traceback_later(limit + GRACE_S, exit=True, file=out)
    try:
        return (yield)
    finally:
        faulthandler.cancel_dump_traceback_later()
        out.seek(0)
        out.truncate()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for text in _hangs():
        terminalreporter.section("a test that hung, stopped by the backstop", sep="!")
        terminalreporter.write_line(text)
