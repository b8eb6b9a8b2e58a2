"""Where the Phoenix that ``agentlab phoenix`` runs is installed: apart from agentlab.

Arize Phoenix pins versions of packages agentlab also uses (``anthropic``, ``mcp``), so it lives in
an environment of its own: a virtual environment agentlab creates on first use in the user cache
directory (``python -m venv``, then ``pip install arize-phoenix==PHOENIX_VERSION``), or one the user
installed (``uv tool install arize-phoenix``, ``pipx install arize-phoenix``) and names with the
``phoenix_command`` setting. Nothing here imports Phoenix: its Python is only run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from platformdirs import user_cache_path

from agentlab.observability.local_server import ServerError

# The Phoenix agentlab installs and its tests run against.
PHOENIX_VERSION = "20.26.1"
_REQUIREMENT = f"arize-phoenix=={PHOENIX_VERSION}"
_MARKER = "agentlab-phoenix.json"  # written last: an environment without it is incomplete
_FALLBACK = (
    f"install it yourself (uv tool install {_REQUIREMENT}, or pipx install {_REQUIREMENT}) and "
    "set phoenix_command (AGENTLAB_PHOENIX_COMMAND) to its `phoenix`"
)


class PhoenixError(ServerError):
    """Phoenix is missing, could not start, or did not answer; ``log_tail`` is the end of its
    log, when it got as far as writing one."""


@dataclass(frozen=True)
class PhoenixInstall:
    """An installed Arize Phoenix: the Python that has it, its version, and where it is (the
    environment agentlab made, or what ``phoenix_command`` named)."""

    python: Path
    version: str
    location: Path


def phoenix_env_dir() -> Path:
    """Where agentlab keeps its own Phoenix: one virtual environment per Phoenix version and
    Python version, in the user cache directory (deleting it is safe: it is made again)."""
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    return user_cache_path("agentlab") / f"phoenix-{PHOENIX_VERSION}-{python}"


def find_phoenix(
    command: str | None = None, *, progress: Callable[[str], None] | None = None
) -> PhoenixInstall:
    """The Phoenix to run: the installation whose ``phoenix`` (or Python) ``command`` names, else
    agentlab's own environment, created first if it is missing (once: it takes a few minutes;
    ``progress`` is told each step).

    Raises ``PhoenixError`` saying what to do when ``command`` is not a Phoenix, or the
    environment cannot be made (offline, say)."""
    if command:
        return _installed_at(command)
    env_dir = phoenix_env_dir()
    return _complete(env_dir) or _create(env_dir, progress or (lambda _: None))


def _installed_at(command: str) -> PhoenixInstall:
    """The Phoenix that ``phoenix_command`` names: its ``phoenix`` script (on PATH or a path) or
    the Python of its environment."""
    executable = shutil.which(os.path.expanduser(command))
    if executable is None:
        raise PhoenixError(
            f"phoenix_command {command!r} is neither on PATH nor an executable file: name the "
            "`phoenix` of an installation of arize-phoenix (uv tool install arize-phoenix), or "
            "unset it to use the Phoenix agentlab installs"
        )
    python = _python_of(Path(executable))
    probe = "import importlib.metadata as m; print(m.version('arize-phoenix'))"
    try:
        answer = subprocess.run(
            [str(python), "-I", "-c", probe], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PhoenixError(f"phoenix_command {command!r}: cannot run {python}: {exc}") from None
    if answer.returncode != 0:
        raise PhoenixError(
            f"phoenix_command {command!r}: its Python ({python}) has no arize-phoenix installed"
        )
    return PhoenixInstall(python, answer.stdout.strip(), Path(executable))


def _python_of(executable: Path) -> Path:
    """The interpreter that runs ``executable``: itself if it is a Python, else the one its
    ``#!`` line names (a console script's), else the ``python`` beside it (in a venv's bin/)."""
    resolved = executable.resolve()
    if resolved.name.startswith("python"):
        return executable
    with contextlib.suppress(OSError, UnicodeDecodeError):
        with resolved.open("rb") as script:
            first = script.readline(4096).decode()
        if first.startswith("#!"):
            interpreter = first[2:].strip().split(" ")[0]
            if Path(interpreter).name.startswith("python") and Path(interpreter).is_file():
                return Path(interpreter)
    return resolved.parent / "python"


def _complete(env_dir: Path) -> PhoenixInstall | None:
    python = env_dir / "bin" / "python"
    try:
        version = json.loads((env_dir / _MARKER).read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return PhoenixInstall(python, str(version), env_dir) if python.exists() else None


def _create(env_dir: Path, progress: Callable[[str], None]) -> PhoenixInstall:
    """Make the environment (a virtual environment, then pip), under a lock: a process that
    finds another making it waits for it; a half-made one (interrupted) is made again."""
    try:
        env_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PhoenixError(f"cannot create {env_dir.parent}: {exc.strerror}") from None
    log_path = env_dir.with_name(f"{env_dir.name}.log")
    with _locked(env_dir.with_name(f"{env_dir.name}.lock"), progress):
        found = _complete(env_dir)
        if found is not None:  # another process made it while we waited
            return found
        shutil.rmtree(env_dir, ignore_errors=True)
        progress(f"creating a virtual environment in {env_dir}")
        with log_path.open("w", encoding="utf-8") as log:
            _step([sys.executable, "-m", "venv", str(env_dir)], log, log_path, progress)
            pip = [str(env_dir / "bin" / "python"), "-m", "pip", "install"]
            options = ["--progress-bar", "off", "--disable-pip-version-check"]
            _step([*pip, *options, _REQUIREMENT], log, log_path, progress)
        marker = {"version": PHOENIX_VERSION, "python": sys.version.split()[0]}
        (env_dir / _MARKER).write_text(json.dumps(marker), encoding="utf-8")
    return PhoenixInstall(env_dir / "bin" / "python", PHOENIX_VERSION, env_dir)


def _step(command: list[str], log: TextIO, log_path: Path, progress: Callable[[str], None]) -> None:
    """Run one step of the installation, its output to the log and its milestones (what pip
    collects, downloads and installs) to ``progress``; ``PhoenixError`` if it fails."""
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    error, last = "", ""
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            said = line.strip()
            if said.startswith(("Collecting", "Downloading", "Installing", "Successfully")):
                progress(said)
            elif said.startswith("ERROR:"):
                error = said.removeprefix("ERROR:").strip()
            last = said or last
        code = process.wait()
    finally:
        if process.poll() is None:  # interrupted: the half-made environment is made again
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    if code != 0:
        # pip's last ERROR line says why, else the last line (a traceback's, venv's).
        cause = error or last or f"{Path(command[0]).name} exited with code {code}"
        raise PhoenixError(
            f"could not install Phoenix {PHOENIX_VERSION} ({cause}; log: {log_path}): {_FALLBACK}"
        )


@contextlib.contextmanager
def _locked(path: Path, progress: Callable[[str], None]) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (another process installing Phoenix holds it)."""
    import fcntl  # POSIX: here, so that importing agentlab does not need it

    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("waiting for another process installing Phoenix")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
