"""The ``agentlab`` command as tests run it: in this process by default (``agentlab``), as a real
process where exit codes of signals or several processes are the point (``agentlab_process``).

Both return a ``CompletedProcess``: its exit code, stdout and stderr, what a user sees.
``read_until`` reads a long-running one's output (a server saying where it is), ``interrupt``
stops it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from typer.testing import CliRunner

from agentlab.cli.app import execute

REPOSITORY = Path(__file__).resolve().parents[1]
AGENTLAB = [sys.executable, "-m", "agentlab"]  # this interpreter, whatever is on PATH


def trusted_agents(tmp: Path) -> dict[str, str]:
    """The ``agent_paths`` of a test's agentlab (as environment variables): the agents under
    tests/ and those the test writes in ``tmp`` are its own code, since a run's stored reference
    loads only from trusted places (tests/test_trusted_agents.py trusts other places)."""
    return {"AGENTLAB_AGENT_PATHS": json.dumps([str(REPOSITORY / "tests"), str(tmp)])}


MEMORY_OFF = {"AGENTLAB_MEMORY__ENABLED": "false"}
"""Long-term memory off: a test's runs do not recall each other unless memory is its subject
(tests/test_memory*.py turn it on), and its processes start without loading the embedder."""


def agentlab(
    env: Mapping[str, str], *args: str | Path, cwd: Path = REPOSITORY
) -> subprocess.CompletedProcess[str]:
    """``agentlab ARGS`` run in this process through ``execute`` (the entry point's own error
    handling), with ``env`` as the whole environment, ``cwd`` as the working directory and no
    terminal: stdin is empty, and output plain."""
    argv = [str(a) for a in args]
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _execute(env, argv, cwd)
    # This thread runs an event loop (an async test, Playwright's sync API), and the command
    # runs one of its own: it gets a thread of its own while this one waits, as for a process.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_execute, env, argv, cwd).result()


def _execute(
    env: Mapping[str, str], argv: list[str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    overrides: dict[str, str | None] = {k: None for k in os.environ if k not in env}
    overrides.update(env)
    logger = logging.getLogger("agentlab")
    handlers, level = list(logger.handlers), logger.level  # the CLI adds its stderr handler
    here = Path.cwd()
    with CliRunner().isolation(env=overrides) as (stdout, stderr, _):
        os.chdir(cwd)
        try:
            code = execute(argv)
        except SystemExit as exc:  # as the process would exit
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
        finally:
            os.chdir(here)
            logger.handlers[:] = handlers
            logger.setLevel(level)
            sys.stdout.flush()
            sys.stderr.flush()
        out, err = stdout.getvalue().decode(), stderr.getvalue().decode()
    return subprocess.CompletedProcess(["agentlab", *argv], code, out, err)


def agentlab_process(
    env: Mapping[str, str], *args: str | Path, cwd: Path = REPOSITORY
) -> subprocess.CompletedProcess[str]:
    """``agentlab ARGS`` as a new process of this interpreter (``python -m agentlab``)."""
    return subprocess.run(
        [*AGENTLAB, *map(str, args)],
        env=dict(env),
        cwd=cwd,  # the repository by default: relative paths work
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """The process's output up to and including the line holding ``marker``."""
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if marker in line:
                seen.set()
                return

    threading.Thread(target=read, daemon=True).start()
    if not seen.wait(timeout):
        raise AssertionError(f"no {marker!r} within {timeout:g} s; output: {''.join(lines)}")
    return "".join(lines)


def interrupt(process: subprocess.Popen[str], timeout: float) -> None:
    """Ctrl-C ``process`` if it still runs, and wait for it; kill it if it does not stop within
    ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
