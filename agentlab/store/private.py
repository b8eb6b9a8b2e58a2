"""Run data is private by default: the data directory is created ``0700``, its databases
``0600`` (SQLite gives a database's write-ahead log and shared-memory files the database's own
mode), and ``agentlab doctor`` names what another user of the machine could read.

Runs hold tool outputs in plain text (customers' details, a tool's secrets): on a shared host,
nobody but their owner should read them. What exists already is never changed behind the owner's
back; ``doctor`` says what to run instead.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> None:
    """Create the directory ``path`` unless it exists, and the parents it lacks: each ``0700``
    (a data directory's sub-directory may be the first thing made of it)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=DIR_MODE, exist_ok=True)


def private_file(path: Path) -> None:
    """Create the empty file ``path`` ``0600`` unless it exists (SQLite takes an empty file for
    a new database)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))


def readable_by_others(data_dir: Path) -> list[str]:
    """What of ``data_dir`` (the directory, and the files and directories in it, not below)
    another user could read or write, each with the command that makes it private."""
    found = []
    for path in [data_dir, *sorted(data_dir.iterdir())] if data_dir.is_dir() else []:
        try:
            mode = stat.S_IMODE(path.lstat().st_mode)
        except OSError:
            continue
        if path.is_symlink() or not mode & (stat.S_IRWXG | stat.S_IRWXO):
            continue
        private = DIR_MODE if path.is_dir() else FILE_MODE
        found.append(f"{path} is open to other users (mode {mode:04o}): chmod {private:o} {path}")
    return found
