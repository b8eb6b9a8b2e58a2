"""Counting the SQLite transactions a process commits, from outside the code that commits them.

``CommitCounter.connections()`` wraps ``sqlite3.connect`` so that every connection opened meanwhile
gets a trace callback (``set_trace_callback``), which sees each statement as it starts, including
those Python's ``sqlite3`` issues itself: on Python 3.11 an implicit transaction shows as
``BEGIN `` and ``conn.commit()`` as ``COMMIT`` (how LangGraph's ``SqliteSaver`` commits).
Between a ``BEGIN`` and its ``COMMIT`` the callback compares the connection's ``total_changes``:
a transaction that changed rows is a write commit, one that changed none (a
``BEGIN``/``SELECT``/``COMMIT``, or a write matching no row) a read-only commit; a write statement
run outside any transaction (autocommit) is a write commit. ``window()`` counts meanwhile.

Tracing costs time (each statement's text is expanded, blobs in hex): count in runs that are not
timed. ``sqlite3`` swallows an error raised in a trace callback, which would be a silent miscount:
``check_counter`` proves on scratch files that each kind of commit is seen as described.
"""

from __future__ import annotations

import platform
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Commits:
    """Transactions committed while a run was counted."""

    write: int = 0  # changed rows (or a write outside a transaction)
    read_only: int = 0  # committed having changed no row
    rollbacks: int = 0

    @property
    def total(self) -> int:
        return self.write + self.read_only


_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER"})


class CommitCounter:
    """Counts the SQLite transactions committed in this process, without touching the code that
    commits them: see the module's docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # statements run on the loop and in worker threads
        self._counts: Commits | None = None

    @contextmanager
    def connections(self) -> Iterator[None]:
        """Meanwhile, every connection ``sqlite3.connect`` opens is traced."""
        original = sqlite3.connect

        def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            conn = original(*args, **kwargs)
            conn.set_trace_callback(self._tracer(conn))
            return conn

        sqlite3.connect = connect  # type: ignore[assignment]
        try:
            yield
        finally:
            sqlite3.connect = original

    @contextmanager
    def window(self) -> Iterator[Commits]:
        """Count what the traced connections commit meanwhile."""
        counts = self._counts = Commits()
        try:
            yield counts
        finally:
            self._counts = None

    def _tracer(self, conn: sqlite3.Connection) -> Callable[[str], None]:
        changes_at_begin: int | None = None

        def trace(statement: str) -> None:
            nonlocal changes_at_begin
            head = statement[:16].split(None, 1)  # not the whole text: blobs come expanded
            verb = head[0].upper() if head else ""
            if verb == "BEGIN":
                changes_at_begin = conn.total_changes
                return
            counts = self._counts
            if verb in ("COMMIT", "END"):
                wrote = changes_at_begin is None or conn.total_changes > changes_at_begin
                changes_at_begin = None
                if counts is not None:
                    with self._lock:
                        if wrote:
                            counts.write += 1
                        else:
                            counts.read_only += 1
            elif verb == "ROLLBACK":
                changes_at_begin = None
                if counts is not None:
                    with self._lock:
                        counts.rollbacks += 1
            elif counts is not None and verb in _WRITES and not conn.in_transaction:
                with self._lock:
                    counts.write += 1  # autocommit: the statement is its own transaction

        return trace


def check_counter(tmp: Path) -> None:
    """Prove on a scratch file that ``CommitCounter`` sees each kind of commit this benchmark
    meets: Python's implicit transactions and ``commit()``, explicit ``BEGIN``/``COMMIT``,
    read-only transactions, autocommit writes, rollbacks, and LangGraph's ``SqliteSaver``."""
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.sqlite import SqliteSaver

    counter = CommitCounter()
    path = tmp / "counter-check.sqlite"
    with counter.connections():
        legacy = sqlite3.connect(path)  # Python's implicit transactions
        explicit = sqlite3.connect(path, isolation_level=None)  # as agentlab's run store
        saver_conn = sqlite3.connect(tmp / "counter-check-saver.sqlite", check_same_thread=False)
    saver = SqliteSaver(saver_conn)
    saver.setup()
    legacy.execute("CREATE TABLE t (x)")
    legacy.commit()
    with counter.window() as seen:
        legacy.execute("INSERT INTO t VALUES (1)")
        legacy.commit()  # write 1
        legacy.execute("UPDATE t SET x = 2 WHERE x = 99")
        legacy.commit()  # read-only 1: no row changed
        legacy.execute("SELECT * FROM t").fetchall()
        legacy.commit()  # no transaction was open: nothing
        explicit.execute("BEGIN")
        explicit.execute("SELECT * FROM t").fetchall()
        explicit.execute("COMMIT")  # read-only 2
        explicit.execute("INSERT INTO t VALUES (3)")  # write 2 (autocommit)
        explicit.execute("BEGIN IMMEDIATE")
        explicit.execute("INSERT INTO t VALUES (4)")
        explicit.execute("COMMIT")  # write 3
        explicit.execute("BEGIN")
        explicit.execute("DELETE FROM t")
        explicit.execute("ROLLBACK")  # a rollback
        config: Any = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
        config = saver.put(config, empty_checkpoint(), {}, {})  # write 4
        saver.put_writes(config, [("channel", 1)], "task")  # write 5
        saver.get_tuple(config)  # reads outside a transaction: nothing
    for conn in (legacy, explicit, saver_conn):
        conn.close()
    expected = Commits(write=5, read_only=2, rollbacks=1)
    if seen != expected:
        raise RuntimeError(
            f"the commit counter saw {seen} where {expected} were made (Python "
            f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}): it cannot be trusted "
            "here"
        )
