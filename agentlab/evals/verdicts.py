"""A judge's verdicts, and the SQLite file that keeps them so a rerun of an eval grades as before.

A verdict is found by its rubric, input and output (``verdict_key``): the same three asked again,
in this process or another, are answered from the file, so the judge's model is asked once and
its verdict cannot flip on a rerun. The first verdict stored for a key stays: a process that
judged the same output at the same time gets the stored one back from ``put``. The file also
holds the three texts, for a person reading it (``sqlite3 verdicts.sqlite``).

Statements run where they are called, as the run store's do (``store/sqlite.py``): each is
short, and while another process writes, one waits for it (up to the busy timeout). Failures are
``AgentlabError``s naming the file and what to do (``store/failures.py``).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from agentlab.errors import ConfigError
from agentlab.store.failures import os_failure, sqlite_failure
from agentlab.store.private import private_dir, private_file

_WHAT = "the judge's verdict cache"
_BUSY_TIMEOUT_S = 30
_SCHEMA = """CREATE TABLE IF NOT EXISTS verdicts (
    key TEXT PRIMARY KEY,
    rubric TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    passed INTEGER NOT NULL,
    score REAL NOT NULL,
    reason TEXT NOT NULL,
    model TEXT NOT NULL,
    judged_at TEXT NOT NULL
)"""
_COLUMNS = "passed, score, reason, model"


@dataclass(frozen=True)
class JudgeVerdict:
    """Whether an output meets a rubric, its score (0 to 1) and the judge's reason.

    ``cached``: read from the cache, not given by a model call of this judge; ``model``: the
    model that gave it, as recorded when it was first given."""

    passed: bool
    score: float
    reason: str
    cached: bool
    model: str


def verdict_key(rubric: str, input: str, output: str) -> str:
    """The SHA-256 (hex) of the canonical JSON ``[rubric, input, output]``: what a verdict is
    found by."""
    canonical = json.dumps([rubric, input, output], ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


class VerdictCache:
    """The verdicts kept in the SQLite file ``path`` (created, with its directory, if missing);
    several processes may use one file at once."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()  # one connection: one transaction at a time
        self._conn = _open(self.path)

    def get(self, rubric: str, input: str, output: str) -> JudgeVerdict | None:
        """The verdict stored for ``rubric``, ``input`` and ``output``, if one is."""
        with self._lock, self._failures():
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM verdicts WHERE key = ?",
                (verdict_key(rubric, input, output),),
            ).fetchone()
        return None if row is None else _verdict(row, cached=True)

    def put(self, rubric: str, input: str, output: str, verdict: JudgeVerdict) -> JudgeVerdict:
        """Store ``verdict`` for ``rubric``, ``input`` and ``output`` unless one is stored already,
        and return the stored one: ``verdict`` (``cached`` false), or the one another judge
        stored first (``cached`` true)."""
        key = verdict_key(rubric, input, output)
        row = (
            key,
            *map(_storable, (rubric, input, output)),
            int(verdict.passed),
            float(verdict.score),
            _storable(verdict.reason),
            _storable(verdict.model),
            datetime.now(UTC).isoformat(timespec="seconds"),
        )
        with self._lock, self._failures():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                added = self._conn.execute(
                    "INSERT OR IGNORE INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row
                ).rowcount
                stored = self._conn.execute(
                    f"SELECT {_COLUMNS} FROM verdicts WHERE key = ?", (key,)
                ).fetchone()
                self._conn.execute("COMMIT")
            except BaseException:
                _roll_back(self._conn)
                raise
        return _verdict(stored, cached=added != 1)

    def close(self) -> None:
        """Close the file (the verdicts stay in it)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> VerdictCache:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _failures(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise sqlite_failure(self.path, exc, locked_s=_BUSY_TIMEOUT_S, what=_WHAT) from None


def _verdict(row: tuple[int, float, str, str], *, cached: bool) -> JudgeVerdict:
    passed, score, reason, model = row
    return JudgeVerdict(bool(passed), float(score), reason, cached, model)


def _storable(text: str) -> str:
    """``text`` as SQLite can store it: a lone surrogate (which UTF-8 cannot encode) escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _roll_back(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with suppress(sqlite3.Error):  # the error that ended it is the one to report
            conn.execute("ROLLBACK")


def _open(path: Path) -> sqlite3.Connection:
    try:
        private_dir(path.parent)
        private_file(path)  # before SQLite creates it with the process's umask
    except OSError as exc:
        raise os_failure(path, exc, what=_WHAT) or ConfigError(
            f"cannot create {_WHAT} {path} ({exc}): give it a path in a directory that can be "
            "written"
        ) from None
    try:
        conn = sqlite3.connect(
            path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise sqlite_failure(path, exc, locked_s=_BUSY_TIMEOUT_S, what=_WHAT) from None
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_SCHEMA)
    except sqlite3.Error as exc:
        conn.close()
        raise sqlite_failure(path, exc, locked_s=_BUSY_TIMEOUT_S, what=_WHAT) from None
    return conn
