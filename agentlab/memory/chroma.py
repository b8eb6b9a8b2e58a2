"""Chroma for long-term memory: one store per data directory (embedded) or per server.

Embedded (the default), Chroma keeps its files in ``data_dir/chroma``. Its ``PersistentClient``
is not safe across processes (each holds the index in memory and writes it back), and agentlab
runs many on one directory (the CLI, ``langgraph dev``, ``mcp serve``), so every operation of
every process holds one file lock (``chroma/agentlab.lock``), and a write bumps a generation
number kept beside it: a process whose client saw an older generation drops it and reopens,
so it reads the directory as the last writer left it, never from a stale in-memory index.
While ``agentlab chroma`` serves the directory it holds that lock, and the store of every
process goes through the server instead (as it does when ``chroma_url`` is set).

Vectors are computed by the store's ``Embedder`` outside the lock (the slow part), and every
collection is opened with it as its embedding function (without one, Chroma rebuilds its own
from the saved configuration on every call). A collection records which model embedded it;
one embedded by another model is refused rather than searched with incomparable vectors.

The methods are synchronous (Chroma's client is); async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentlab.memory.chroma_access import (
    GENERATION_FILE,
    SYSTEMS,
    MemoryStoreError,
    bump_generation,
    http_client,
    locked,
    persistent_client,
    read_generation,
    running_chroma,
)
from agentlab.memory.embedding import DEFAULT_EMBEDDER, Embedder

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

Metadata = Mapping[str, str | int | float | bool]


@dataclass(frozen=True, slots=True)
class Hit:
    """A stored text found by a query: its id, text, metadata and cosine similarity (1: the
    same direction)."""

    id: str
    document: str
    metadata: dict[str, Any]
    similarity: float


@dataclass(frozen=True, slots=True)
class Record:
    """A stored text, as read back by id or filter."""

    id: str
    document: str
    metadata: dict[str, Any]


class ChromaStore:
    """Collections of texts and their vectors, embedded in ``path`` or on the server at
    ``url`` (exactly one of them), embedded with ``embedder`` (``reference``: its setting)."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        path: Path | None = None,
        url: str | None = None,
        reference: str = DEFAULT_EMBEDDER,
    ) -> None:
        if (path is None) == (url is None):
            raise ValueError("a ChromaStore needs a path or a url, not both")
        self.embedder = embedder
        self.reference = reference
        self.path = path
        self.url = url
        self._mutex = threading.RLock()
        self._client: ClientAPI | None = None
        self._client_url: str | None = None
        self._epoch = -1  # the process's embedded systems this client belongs to
        self._ef: Any = None  # the embedder as Chroma's embedding function

    @property
    def where(self) -> str:
        """Where the store is, for messages."""
        return self.url or str(self.path)

    def nothing_stored(self) -> bool:
        """Whether the store holds nothing yet (embedded, never written): reads answer without
        opening Chroma, whose import alone takes seconds."""
        if self.path is None:
            return False
        return not (self.path / "chroma.sqlite3").exists() and running_chroma(self.path) is None

    # -- operations ---------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """The vectors of ``texts``, by the store's embedder."""
        return self.embedder.embed(list(texts)) if texts else []

    def upsert(
        self,
        collection: str,
        metadata: Metadata,
        *,
        ids: Sequence[str],
        documents: Sequence[str],
        metadatas: Sequence[Metadata],
        embeddings: Sequence[Sequence[float]] | None = None,
    ) -> None:
        """Store the texts (a stored id is replaced, so writing twice stores once), creating
        ``collection`` with ``metadata`` if it does not exist."""
        if not ids:
            return
        vectors = embeddings if embeddings is not None else self.embed(documents)
        with self._session(write=True) as client:
            self._open(client, collection, metadata).upsert(
                ids=list(ids),
                documents=list(documents),
                metadatas=[dict(m) for m in metadatas],
                embeddings=_array(vectors),
            )

    def query(
        self,
        collection: str,
        text: str | None = None,
        *,
        vector: Sequence[float] | None = None,
        n: int = 10,
        where: Mapping[str, Any] | None = None,
    ) -> list[Hit]:
        """The ``n`` texts of ``collection`` nearest to ``text`` (or ``vector``) among those
        ``where`` admits, nearest first; none when the collection does not exist."""
        if self.nothing_stored():
            return []
        if vector is None:
            if text is None:
                raise ValueError("query needs a text or a vector")
            vector = self.embed([text])[0]
        with self._session(write=False) as client:
            found = self._existing(client, collection)
            if found is None or n <= 0:
                return []
            result = found.query(
                query_embeddings=_array([vector]),
                n_results=n,
                where=dict(where) if where else None,
                include=["documents", "metadatas", "distances"],
            )
        ids = result["ids"][0]
        documents = (result.get("documents") or [[]])[0]
        metadatas = (result.get("metadatas") or [[]])[0]
        distances = (result.get("distances") or [[]])[0]
        return [
            Hit(i, d or "", dict(m or {}), 1.0 - float(x))
            for i, d, m, x in zip(ids, documents, metadatas, distances, strict=True)
        ]

    def get(
        self,
        collection: str,
        *,
        ids: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        embeddings: bool = False,
    ) -> list[Record] | list[tuple[Record, list[float]]]:
        """The stored texts of ``collection`` with these ``ids`` or admitted by ``where`` (all
        without either); with ``embeddings``, each with its vector."""
        if self.nothing_stored():
            return []
        include: list[Any] = ["documents", "metadatas", *(["embeddings"] if embeddings else [])]
        with self._session(write=False) as client:
            found = self._existing(client, collection)
            if found is None:
                return []
            result = found.get(
                ids=list(ids) if ids is not None else None,
                where=dict(where) if where else None,
                include=include,
            )
        records = [
            Record(i, d or "", dict(m or {}))
            for i, d, m in zip(
                result["ids"], result["documents"] or [], result["metadatas"] or [], strict=True
            )
        ]
        if not embeddings:
            return records
        stored: Any = result["embeddings"]
        vectors = [] if stored is None else [[float(x) for x in v] for v in stored]
        return list(zip(records, vectors, strict=True))

    def delete(
        self,
        collection: str,
        *,
        ids: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
    ) -> int:
        """Delete the texts with these ``ids`` or admitted by ``where``; how many there were."""
        if self.nothing_stored():
            return 0
        with self._session(write=True) as client:
            found = self._existing(client, collection)
            if found is None:
                return 0
            doomed = found.get(
                ids=list(ids) if ids is not None else None,
                where=dict(where) if where else None,
                include=[],
            )["ids"]
            if doomed:
                found.delete(ids=doomed)
            return len(doomed)

    def drop(self, collection: str) -> int:
        """Delete ``collection`` and everything in it; how many texts it held."""
        if self.nothing_stored():
            return 0
        with self._session(write=True) as client:
            found = self._existing(client, collection)
            if found is None:
                return 0
            count = found.count()
            client.delete_collection(collection)
            return count

    def count(self, collection: str) -> int:
        """How many texts ``collection`` holds (0 when it does not exist)."""
        if self.nothing_stored():
            return 0
        with self._session(write=False) as client:
            found = self._existing(client, collection)
            return 0 if found is None else found.count()

    def collections(self, **match: str) -> list[tuple[str, dict[str, Any]]]:
        """The names and metadata of the collections whose metadata has these values."""
        if self.nothing_stored():
            return []
        with self._session(write=False) as client:
            listed = client.list_collections()
        found = [(c.name, dict(c.metadata or {})) for c in listed]
        return [(n, m) for n, m in found if all(m.get(k) == v for k, v in match.items())]

    def compact(self) -> bool:
        """Make what was deleted leave the embedded files (``chroma_files.compact_files``),
        under the directory's lock with every client of the process let go; other processes
        reopen theirs (the generation is bumped). ``False`` where a server keeps the files."""
        if self.path is None or not self.path.exists():
            return self.path is not None
        from agentlab.memory.chroma_files import compact_files

        with SYSTEMS.lock, locked(self.path) as served:
            if served is not None:
                return False
            SYSTEMS.drop_all()
            compact_files(self.path)
            bump_generation(self.path / GENERATION_FILE)
        return True

    def close(self) -> None:
        """Let go of the client (embedded: the next operation reopens it)."""
        with self._mutex:
            self._drop_client()

    # -- the client, under the lock ---------------------------------------------------

    @contextmanager
    def _session(self, *, write: bool) -> Iterator[ClientAPI]:
        """The client, for one operation: embedded, under the directory's lock, reopened when
        another process wrote since; a write bumps the generation before the lock is let go."""
        if self.url is not None:
            with self._mutex:
                yield self._remote(self.url)
            return
        assert self.path is not None
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        with SYSTEMS.lock, locked(self.path) as served:
            if served is not None:  # an ``agentlab chroma`` holds the directory
                with self._mutex:
                    yield self._remote(served)
                return
            key = str(self.path.resolve())
            generation = read_generation(self.path / GENERATION_FILE)
            seen = SYSTEMS.seen.get(key)
            if seen is not None and seen != generation:  # another process wrote since
                SYSTEMS.drop_all()
            stale = self._client is None or self._client_url is not None
            if stale or self._epoch != SYSTEMS.epoch:
                self._client, self._client_url = persistent_client(self.path), None
                self._epoch = SYSTEMS.epoch
            SYSTEMS.seen[key] = generation
            client = self._client
            assert client is not None
            try:
                yield client
            finally:
                if write:
                    SYSTEMS.seen[key] = bump_generation(self.path / GENERATION_FILE)

    def _remote(self, url: str) -> ClientAPI:
        if self._client is None or self._client_url != url:
            self._drop_client()
            self._client = http_client(url)
            self._client_url = url
        return self._client

    def _drop_client(self) -> None:
        self._client, self._client_url = None, None

    def _function(self) -> Any:
        if self._ef is None:
            from agentlab.memory.chroma_embedding import ChromaEmbedding

            self._ef = ChromaEmbedding(self.embedder, self.reference)
        return self._ef

    def _open(self, client: ClientAPI, name: str, metadata: Metadata) -> Collection:
        found = client.get_or_create_collection(
            name,
            metadata={**metadata, "embedder": self.embedder.name},
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=self._function(),
        )
        self._check_model(found)
        return found

    def _existing(self, client: ClientAPI, name: str) -> Collection | None:
        from chromadb.errors import NotFoundError

        try:
            found = client.get_collection(name, embedding_function=self._function())
        except (NotFoundError, ValueError):
            return None
        self._check_model(found)
        return found

    def _check_model(self, collection: Collection) -> None:
        model = (collection.metadata or {}).get("embedder")
        if model is not None and model != self.embedder.name:
            raise MemoryStoreError(
                f"the memory collection {collection.name} in {self.where} was embedded with "
                f"{model}, but the configured embedder is {self.embedder.name}: set "
                "[memory] embedder back, or forget what it holds and store it again"
            )


def _array(vectors: Sequence[Sequence[float]]) -> Any:
    import numpy as np

    return np.asarray(vectors, dtype=np.float32)
