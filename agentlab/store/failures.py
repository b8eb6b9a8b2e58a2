"""A failure of the runs database, named for its cause: a full disk, a read-only file system,
missing permissions, a lock held too long, or damage.

Only damage puts what the database holds at risk; the others leave it intact, and their error
says what to free or change before trying again (``StorageError``). SQLite's result code says
which (``sqlite_errorcode``); where it cannot tell (an open that failed, a write refused as
read-only, an I/O error), the file system is asked: is it mounted read-only, may this user
write there, is it full.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from agentlab.errors import (
    AgentlabError,
    ConfigError,
    DamagedDataError,
    DatabaseLockedError,
    DiskFullError,
    Fix,
    ReadOnlyStorageError,
    StorageError,
    StoragePermissionError,
)

# SQLite's primary result codes: the low byte of an extended one (SQLITE_READONLY_DBMOVED...).
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _FULL, _CANTOPEN = 3, 5, 6, 8, 10, 13, 14
_FULL_BELOW = 64 * 1024
"""Free bytes under which a file system counts as full: fewer than a few of SQLite's pages."""

BACKUP_WARNING = (
    "effects its runs had after the backup was taken (notifications sent, records deleted) "
    "happen again when they resume, unless their tools are idempotent by key"
)
"""Said wherever restoring a backup is advised: the journal of those effects is lost with it."""


RUNS_DATABASE = "the runs database"


def sqlite_failure(
    path: Path, exc: sqlite3.Error, *, locked_s: float = 30, what: str = RUNS_DATABASE
) -> AgentlabError:
    """The error for ``exc``, raised by SQLite on the database ``path`` (``what`` it is: the
    runs database, the memory database...)."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == _FULL:
        return _disk_full(path, reason, what=what, doing="written")
    if primary in (_BUSY, _LOCKED):
        return DatabaseLockedError(
            f"database locked: {what} {path} stayed locked for {locked_s:g} s by "
            f"another process ({reason}); find the process holding it (fuser {path})",
            fix=Fix.AGAIN,
        )
    if primary in (_PERM, _READONLY, _IOERR, _CANTOPEN):
        doing = "opened" if primary == _CANTOPEN else "written"
        named = storage_cause(path, reason, doing=doing, what=what)
        if named is not None:
            return named
        if primary == _CANTOPEN:
            return ConfigError(f"cannot open {what} {path} ({reason})", fix=Fix.DATA_DIR)
        if primary == _IOERR:
            return StorageError(
                f"disk error: {what} {path} could not be read or written ({reason}); "
                f"check the disk it is on ({mount_of(path)}; the kernel's log, dmesg, says more)",
                fix=Fix.AGAIN,
            )
        return StorageError(
            f"{what} {path} could not be written ({reason}); check that it and "
            f"{path.parent} can be written",
            fix=Fix.AGAIN,
        )
    if what != RUNS_DATABASE:
        return DamagedDataError(
            f"{what} {path} cannot be read ({reason}): it is damaged or not agentlab's; restore "
            "it from a backup, or move it aside to start afresh (what it holds is then lost)"
        )
    return damaged_database(path, exc)


def os_failure(path: Path, exc: OSError, *, what: str) -> StorageError | None:
    """The error for ``exc``, raised by the operating system on ``path`` (``what`` it is: "the
    data directory"...), if it is a storage cause; ``None`` for any other."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return _disk_full(path, reason, what=what, doing="created")
    if exc.errno == errno.EROFS:
        return _read_only(path, reason, what=what, doing="created")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return _denied(path, reason, what=what, doing="created")
    return None


def storage_cause(
    path: Path, reason: str, *, doing: str = "written", what: str = RUNS_DATABASE
) -> StorageError | None:
    """What keeps the database ``path`` (``what``) from being ``doing`` (written, opened), judged
    by its file system: mounted read-only, not writable by this user, full; ``None`` if none."""
    if _read_only_mount(path):
        return _read_only(path, reason, what=what, doing=doing)
    if _unwritable(path):
        return _denied(path, reason, what=what, doing=doing)
    if _free_bytes(path) < _FULL_BELOW:
        return _disk_full(path, reason, what=what, doing=doing)
    return None


def disk_full(path: Path, reason: str) -> DiskFullError:
    """The error for a write to the runs database ``path`` that found its disk full."""
    return _disk_full(path, reason, what=RUNS_DATABASE, doing="written")


def damaged_database(path: Path, exc: sqlite3.Error) -> DamagedDataError:
    """The error for a runs database SQLite cannot read."""
    return DamagedDataError(
        f"the runs database {path} cannot be read ({exc}): it is damaged or not an agentlab "
        "database; 'agentlab doctor' checks it; restore it from a backup (but "
        f"{BACKUP_WARNING}), or move it aside to start afresh (its runs are then lost)"
    )


def mount_of(path: Path) -> Path:
    """The mount point of the file system ``path`` (or its nearest existing parent) is on."""
    here = _existing(path).resolve()
    while not os.path.ismount(here) and here != here.parent:
        here = here.parent
    return here


def _disk_full(path: Path, reason: str, *, what: str, doing: str) -> DiskFullError:
    return DiskFullError(
        f"disk full: {what} {path} could not be {doing} ({reason}); free space on {mount_of(path)}",
        fix=Fix.AGAIN,
    )


def _read_only(path: Path, reason: str, *, what: str, doing: str) -> ReadOnlyStorageError:
    mount = mount_of(path)
    return ReadOnlyStorageError(
        f"read-only file system: {what} {path} could not be {doing} ({reason}); {mount} is "
        f"mounted read-only: remount it read-write (mount -o remount,rw {mount})",
        fix=Fix.AGAIN,
    )


def _denied(path: Path, reason: str, *, what: str, doing: str) -> StoragePermissionError:
    refused = [p for p in _touched(path) if p.exists() and not os.access(p, os.W_OK)]
    named = " and ".join(str(p) for p in refused) or f"{path} or {path.parent}"
    return StoragePermissionError(
        f"permission denied: {what} {path} could not be {doing} ({reason}); user "
        f"{_user()} may not write {named}: give that user write access (or run as the owner)",
        fix=Fix.AGAIN,
    )


def _touched(path: Path) -> list[Path]:
    """The files SQLite writes for the database ``path`` (and the directory they are made in)."""
    return [path.parent, path, *(path.with_name(path.name + end) for end in ("-wal", "-shm"))]


def _unwritable(path: Path) -> bool:
    return any(p.exists() and not os.access(p, os.W_OK) for p in _touched(path))


def _read_only_mount(path: Path) -> bool:
    if not hasattr(os, "statvfs"):  # not a POSIX system: not judged
        return False
    try:
        return bool(os.statvfs(_existing(path)).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _free_bytes(path: Path) -> int:
    if not hasattr(os, "statvfs"):
        return _FULL_BELOW  # unknown: not judged full
    try:
        found = os.statvfs(_existing(path))
    except OSError:
        return _FULL_BELOW
    blocks = found.f_bfree if os.geteuid() == 0 else found.f_bavail  # root may use the reserve
    return blocks * found.f_frsize


def _existing(path: Path) -> Path:
    here = path
    while not here.exists() and here != here.parent:
        here = here.parent
    return here


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return os.environ.get("USER") or "this user"
