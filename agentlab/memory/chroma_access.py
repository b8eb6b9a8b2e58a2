"""Opening Chroma safely from many processes: the directory's lock and generation, the
process's embedded systems, the clients (embedded or HTTP), and Chroma's import kept light.

``ChromaStore`` (``chroma.py``) runs every operation through these: see its docstring for the
protocol; ``agentlab chroma`` (``chroma_server.py``) takes the same lock while it serves.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from agentlab.config.phoenix_state import published
from agentlab.errors import AgentlabError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

LOCK_FILE = "agentlab.lock"
GENERATION_FILE = "agentlab.generation"
SERVER_FILE = "agentlab-chroma.json"
"""What a running ``agentlab chroma`` publishes in the directory it serves (``pid``, ``url``)."""


class MemoryStoreError(AgentlabError):
    """Long-term memory's store cannot be used as it is."""


def running_chroma(directory: Path) -> str | None:
    """The URL of the ``agentlab chroma`` serving ``directory``, if one is running."""
    state = published(directory / SERVER_FILE, "url")
    return None if state is None else str(state["url"])


class Systems:
    """Chroma keeps one embedded system per directory per process (its client objects share
    it), and lets go of them all at once: so what they have read is kept per process too.
    ``seen`` is the generation each directory's system has read; ``epoch`` counts the times
    they were all let go (a client of an older epoch is stale)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.epoch = 0
        self.seen: dict[str, str] = {}

    def drop_all(self) -> None:
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
        self.epoch += 1
        self.seen.clear()


SYSTEMS = Systems()  # mirrors Chroma's own per-process cache of systems


@contextmanager
def locked(directory: Path) -> Iterator[str | None]:
    """Hold the directory's lock for one operation; yields the URL of the ``agentlab chroma``
    serving it instead, without the lock, when one is. The server holds the lock while it runs,
    so the lock is asked first: a server file left by a server that is gone (killed, or the
    machine stopped; its pid perhaps another process's since) is never followed."""
    lock = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                served = running_chroma(directory)
            else:
                break
            if served is not None:
                yield served
                return
            time.sleep(0.005)
        try:
            yield None
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    finally:
        os.close(lock)


def read_generation(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return "0"


def bump_generation(path: Path) -> str:
    """The next generation, written in place (the caller holds the lock)."""
    try:
        number = int(read_generation(path)) + 1
    except ValueError:
        number = 1
    generation = f"{number}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(generation)
    return generation


def import_chromadb() -> None:
    """Import Chroma, without what would make it take seconds: Chroma imports ``jsonschema``,
    which, when ``rfc3987-syntax`` is installed (Jupyter's dependencies bring it), builds an
    IRI grammar at import (3.8 s measured here) for the one format check (``iri``) no
    agentlab code uses. So unless something imported them already, ``jsonschema`` is imported
    without it (its ``iri`` format then goes unchecked in this process)."""
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # "not installed"
        try:
            import jsonschema  # noqa: F401
        finally:
            del sys.modules["rfc3987_syntax"]
    import chromadb  # noqa: F401


def persistent_client(path: Path) -> ClientAPI:
    import_chromadb()
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(
        path=str(path), settings=Settings(anonymized_telemetry=False, allow_reset=False)
    )


def http_client(url: str) -> ClientAPI:
    import_chromadb()
    import chromadb
    from chromadb.config import Settings

    parts = urlsplit(url)
    try:
        return chromadb.HttpClient(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (443 if parts.scheme == "https" else 8000),
            ssl=parts.scheme == "https",
            settings=Settings(anonymized_telemetry=False),
        )
    except Exception as exc:  # the server is down or not Chroma
        raise MemoryStoreError(
            f"cannot reach the Chroma server at {url} ({exc}): start it (`agentlab chroma`) "
            "or unset [memory] chroma_url to keep memory in the data directory"
        ) from None
