"""A throwaway PostgreSQL server for tests: ``initdb`` and ``pg_ctl`` on 127.0.0.1, a free port and
a temporary data directory, with password authentication (so tests see that no message shows it).

initdb refuses to run as root: as root, the server runs as an unprivileged user (``postgres``,
which Debian's package creates, else ``nobody``) owning the directory.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import psycopg


def find_binaries() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: on PATH, else Debian's newest."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(versions[-1]).parent if versions else None


class PostgresServer:
    """One server; ``url(database)`` connects as its superuser ``agentlab``."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.password = secrets.token_hex(8)
        self.port = _free_port()
        self.user = _unprivileged_user()
        self.root = Path(tempfile.mkdtemp(prefix="agentlab-postgres-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._maker = ThreadPoolExecutor(1, thread_name_prefix="postgres-databases")
        self._next: Future[str] | None = None
        self._lock = threading.Lock()

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql://agentlab:{secret}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        pwfile = self.root / "password"
        pwfile.write_text(self.password)
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
            os.chown(pwfile, self.user.pw_uid, self.user.pw_gid)
        self._as_owner(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "agentlab",
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories=''"
        # A throwaway server: nothing needs to survive a crash, so no waits for the disk.
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._as_owner(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"
        )

    def stop(self) -> None:
        self._maker.shutdown(wait=True, cancel_futures=True)
        try:
            if (self.data / "postmaster.pid").exists():
                self._as_owner("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def new_database(self) -> str:
        """The URL of a new, empty database. Creating one copies a template (a few tenths of a
        second), so the next is made ahead, in the background, while the caller uses this one."""
        with self._lock:
            ready = self._next or self._maker.submit(self._create)
            self._next = self._maker.submit(self._create)
        return self.url(ready.result())

    def drop_database(self, url: str) -> None:
        """Drop the database of ``url``, closing connections still open to it."""
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def _create(self) -> str:
        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return name

    def _as_owner(self, binary: str, *args: str) -> None:
        command = [str(self.binaries / binary), *args]
        if self.user is not None:
            if shutil.which("runuser"):
                command = ["runuser", "-u", self.user.pw_name, "--", *command]
            else:
                command = ["su", self.user.pw_name, "-s", "/bin/sh", "-c", shlex.join(command)]
        done = subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{binary} failed: {done.stdout}{done.stderr}{log}")


def _unprivileged_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root, and there is no 'postgres' or 'nobody' user to run initdb")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
