"""Semantic memory: an agent's knowledge base, documents cut into passages found by meaning.

Each agent has one collection (``knowledge-<hex>``). A document is cut into chunks
(``chunking``), each stored under ``<sha of its source>#<n>`` with its source (the file's
absolute path, or the name a ``Document`` was given), location, the file's SHA-256, who ingested
it and when. Ingesting a file again is cheap when it did not change: its hash matches what is
stored, so it is skipped without reading a vector; a changed file's chunks are replaced. Vectors
are computed a batch at a time outside the store's lock, before anything is written, so a file
is either stored whole or left as it was.

The knowledge base is the agent's, not a principal's: every principal of the agent searches the
same documents. Who ingested a document is kept (``ingested_by``) so that forgetting a principal
removes what they put in: ``forget`` here, in every agent's knowledge base ``forgetting``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

from agentlab.memory.chroma import ChromaStore, Record
from agentlab.memory.chunking import (
    CHUNKER_VERSION,
    SUPPORTED,
    Chunk,
    DocumentError,
    chunk_document,
)
from agentlab.memory.chunking import supported as supported_file

KIND = "knowledge"
EMBED_BATCH = 32
"""Chunks embedded per call: the granularity of the progress reported while ingesting."""
GROUP_CHUNKS = 256
"""About how many chunks are embedded together before their files are written."""

Status = Literal["added", "replaced", "unchanged", "failed"]


@dataclass(frozen=True, slots=True)
class Document:
    """A document given by ``name`` and content rather than read from a path; the name's
    extension says its kind, and the name is its source."""

    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class FileReport:
    """What ingesting one source did: ``added``, ``replaced``, ``unchanged`` or ``failed``
    (``reason`` says why), and how many chunks it holds."""

    source: str
    status: Status
    chunks: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What an ``ingest`` did, file by file, and how long it took."""

    files: tuple[FileReport, ...]
    seconds: float = 0.0

    def count(self, status: Status) -> int:
        """How many files ended ``status``."""
        return sum(f.status == status for f in self.files)

    @property
    def written(self) -> int:
        """How many chunks were embedded and stored."""
        return sum(f.chunks for f in self.files if f.status in ("added", "replaced"))

    @property
    def ok(self) -> bool:
        """Whether no file failed."""
        return self.count("failed") == 0


@dataclass(frozen=True, slots=True)
class IngestProgress:
    """Where an ``ingest`` stands: files done of all, chunks embedded of those to embed, and the
    source it works on."""

    files_done: int
    files_total: int
    chunks_done: int
    chunks_total: int
    source: str


@dataclass(frozen=True, slots=True)
class Passage:
    """A passage found for a query: its text, source, location and cosine similarity."""

    text: str
    source: str
    location: str
    similarity: float

    @property
    def name(self) -> str:
        """The source's file name (its last path part)."""
        return Path(self.source).name or self.source


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """A document in the knowledge base: how many chunks, who ingested it, when (epoch
    seconds) and the SHA-256 of its bytes."""

    source: str
    chunks: int
    ingested_by: str
    at: float
    hash: str


@dataclass(frozen=True, slots=True)
class _Planned:
    source: str
    digest: str
    chunks: list[Chunk]
    replaces: bool


def collection_name(agent: str) -> str:
    """The collection of ``agent``'s knowledge base."""
    return f"{KIND}-{hashlib.sha256(agent.encode()).hexdigest()[:32]}"


def chunk_id(source: str, n: int) -> str:
    """The id of chunk ``n`` of ``source``."""
    return f"{hashlib.sha256(source.encode()).hexdigest()[:32]}#{n}"


class KnowledgeBase:
    """``agent``'s documents in a ``ChromaStore``, searched by meaning. Synchronous (async
    callers use ``asyncio.to_thread``)."""

    def __init__(self, store: ChromaStore, agent: str) -> None:
        self.store = store
        self.agent = agent
        self.collection = collection_name(agent)

    def ingest(
        self,
        items: Iterable[Path | str | Document],
        *,
        principal: str,
        on_progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Cut ``items`` (files, directories of them, or ``Document``s) into chunks and store
        them as ingested by ``principal``. A directory stands for its supported files (sorted,
        hidden ones left out); a file whose bytes and chunking did not change since it was
        stored is skipped unread by the model; a changed one has its chunks replaced. Failures
        (missing, unsupported, unreadable) are reported per file, not raised."""
        if not principal.strip():
            raise ValueError("ingest needs the principal it is done for")
        started = time.monotonic()
        sources = _expanded(items)
        done: dict[str, FileReport] = {}
        planned: list[_Planned] = []
        total = len(sources)

        def tell(chunks_done: int, chunks_total: int, source: str) -> None:
            if on_progress is not None:
                on_progress(IngestProgress(len(done), total, chunks_done, chunks_total, source))

        for source, item in sources:
            outcome = self._plan(source, item)
            if isinstance(outcome, FileReport):
                done[source] = outcome
            else:
                planned.append(outcome)
            tell(0, 0, source)
        to_embed = sum(len(p.chunks) for p in planned)
        embedded = 0
        for group in _groups(planned):
            told = partial(_shifted, tell, embedded, to_embed, group[0].source)
            vectors = self._embed(group, told)
            embedded += len(vectors)
            for plan in group:
                self._write(plan, vectors[: len(plan.chunks)], principal)
                del vectors[: len(plan.chunks)]
                status: Status = "replaced" if plan.replaces else "added"
                done[plan.source] = FileReport(plan.source, status, len(plan.chunks))
                tell(embedded, to_embed, plan.source)
        files = tuple(done[source] for source, _ in sources)
        return IngestReport(files, time.monotonic() - started)

    def search(self, query: str, k: int = 5, min_similarity: float = 0.25) -> list[Passage]:
        """The ``k`` passages nearest in meaning to ``query``, nearest first, leaving out those
        under ``min_similarity`` (cosine)."""
        if k <= 0 or not query.strip():
            return []
        hits = self.store.query(self.collection, query, n=k)
        return [
            Passage(
                hit.document,
                str(hit.metadata.get("source", "")),
                str(hit.metadata.get("location", "")),
                hit.similarity,
            )
            for hit in hits
            if hit.similarity >= min_similarity
        ]

    def sources(self) -> list[SourceInfo]:
        """The documents stored, by source."""
        found: dict[str, list[dict[str, Any]]] = {}
        for record in self._records():
            found.setdefault(str(record.metadata.get("source", "")), []).append(record.metadata)
        listed = []
        for source, metas in sorted(found.items()):
            first = min(metas, key=lambda m: int(m.get("chunk", 0)))
            listed.append(
                SourceInfo(
                    source,
                    len(metas),
                    str(first.get("ingested_by", "")),
                    float(first.get("at", 0.0)),
                    str(first.get("file_hash", "")),
                )
            )
        return listed

    def count(self) -> int:
        """How many chunks the knowledge base holds."""
        return self.store.count(self.collection)

    def forget(self, principal: str) -> int:
        """Delete the chunks ``principal`` ingested; how many there were."""
        return self.store.delete(self.collection, where={"ingested_by": principal})

    def remove(self, source: str | Path) -> int:
        """Delete the chunks of ``source`` (a path, or a ``Document``'s name); how many."""
        name = str(Path(source).resolve()) if isinstance(source, Path) else source
        return self.store.delete(self.collection, where={"source": name})

    # -- ingesting, one file ------------------------------------------------------------

    def _plan(self, source: str, item: Path | Document | FileReport) -> _Planned | FileReport:
        """What to do with one source: its chunks to store, or its report (unchanged,
        failed) when there is nothing to embed."""
        if isinstance(item, FileReport):
            return item
        try:
            data = item.data if isinstance(item, Document) else item.read_bytes()
        except OSError as exc:
            return FileReport(source, "failed", reason=f"cannot be read: {exc.strerror or exc}")
        digest = hashlib.sha256(data).hexdigest()
        stored = [r.metadata for r in self._records(source)]
        if stored and _current(stored, digest):
            return FileReport(source, "unchanged", len(stored))
        try:
            chunks = chunk_document(Path(source).name or source, data)
        except DocumentError as exc:
            return FileReport(source, "failed", reason=exc.message)
        if not chunks:
            return FileReport(source, "failed", reason="holds no text to ingest")
        return _Planned(source, digest, chunks, replaces=bool(stored))

    def _embed(self, group: list[_Planned], tell: Callable[[int], None]) -> list[list[float]]:
        """The vectors of the chunks of ``group``, in order. They are embedded shortest first,
        ``EMBED_BATCH`` at a time, so a batch pads its texts little (embedding file by file
        took 2.4 times as long on the help centre); ``tell`` hears how many are done."""
        texts = [c.indexed for plan in group for c in plan.chunks]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), EMBED_BATCH):
            batch = order[start : start + EMBED_BATCH]
            for i, vector in zip(batch, self.store.embed([texts[i] for i in batch]), strict=True):
                vectors[i] = vector
            tell(start + len(batch))
        return vectors

    def _write(self, plan: _Planned, vectors: Sequence[Sequence[float]], principal: str) -> None:
        """Store ``plan``'s chunks, then delete what is left of an older version (chunks past
        the new count): the source is never without chunks in between."""
        at = time.time()
        n = len(plan.chunks)
        self.store.upsert(
            self.collection,
            {"kind": KIND, "agent": self.agent},
            ids=[chunk_id(plan.source, i) for i in range(n)],
            documents=[c.text for c in plan.chunks],
            metadatas=[
                {
                    "source": plan.source,
                    "location": c.location,
                    "file_hash": plan.digest,
                    "ingested_by": principal,
                    "at": at,
                    "chunk": i,
                    "chunks": n,
                    "chunker": CHUNKER_VERSION,
                }
                for i, c in enumerate(plan.chunks)
            ],
            embeddings=vectors,
        )
        if plan.replaces:
            stale = {"$and": [{"source": plan.source}, {"chunk": {"$gte": n}}]}
            self.store.delete(self.collection, where=stale)

    def _records(self, source: str | None = None) -> list[Record]:
        found = self.store.get(self.collection, where={"source": source} if source else None)
        return [r for r in found if isinstance(r, Record)]


def _shifted(
    tell: Callable[[int, int, str], None], before: int, total: int, source: str, n: int
) -> None:
    """``tell``, counting chunks embedded ``before`` this group too."""
    tell(before + n, total, source)


def _groups(planned: list[_Planned]) -> Iterator[list[_Planned]]:
    """``planned`` in runs of whole files holding about ``GROUP_CHUNKS`` chunks each."""
    group: list[_Planned] = []
    for plan in planned:
        group.append(plan)
        if sum(len(p.chunks) for p in group) >= GROUP_CHUNKS:
            yield group
            group = []
    if group:
        yield group


def _current(stored: list[dict[str, Any]], digest: str) -> bool:
    """Whether the stored chunks of a source are whole and of these bytes, cut this way."""
    return all(
        m.get("file_hash") == digest
        and m.get("chunker") == CHUNKER_VERSION
        and m.get("chunks") == len(stored)
        for m in stored
    )


def _expanded(
    items: Iterable[Path | str | Document],
) -> list[tuple[str, Path | Document | FileReport]]:
    """Each source once, in order: a file by its absolute path, a directory as its supported
    files (sorted, hidden ones left out), a ``Document`` by its name; a path that cannot be
    ingested as its failure."""
    found: dict[str, Path | Document | FileReport] = {}
    for item in items:
        if isinstance(item, Document):
            found.setdefault(item.name, item)
            continue
        path = Path(item).expanduser().resolve()
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and supported_file(p)
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not files:
                found.setdefault(str(path), _failed(path, f"holds no {SUPPORTED}"))
            for file in files:
                found.setdefault(str(file), file)
        elif path.exists():
            found.setdefault(str(path), path)
        else:
            found.setdefault(str(path), _failed(path, "no such file or directory"))
    return list(found.items())


def _failed(path: Path, reason: str) -> FileReport:
    return FileReport(str(path), "failed", reason=reason)
