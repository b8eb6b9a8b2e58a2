"""Embedded Chroma's files, compacted so that deleted texts leave them.

Chroma deletes a text's rows from ``chroma.sqlite3`` but its bytes stay: in its log of writes
(``embeddings_queue``, purged only once the vector index has persisted them, every
``sync_threshold`` writes), in the full-text index's segments (an FTS5 table, merged only now
and then), in free pages; a dropped collection's HNSW files stay in their directory; and an
HNSW index writes its unused slots from uninitialized memory when it creates its files
(hnswlib's ``initPersistentIndex``), so they may hold whatever texts the process had read, of
any collection. ``compact_files`` strips the document and metadata from each logged write whose
id the log deletes later (its vector stays, for the index to replay: the id ends deleted either
way), merges the full-text index (FTS5 ``optimize``), rewrites the file (``VACUUM``), removes
the segment directories no collection uses and zeroes the unused slots of the others. The
caller holds the directory's lock with every Chroma client of the process let go
(``ChromaStore.compact``).
"""

from __future__ import annotations

import shutil
import sqlite3
import struct
import uuid
from contextlib import closing
from pathlib import Path

SQLITE_FILE = "chroma.sqlite3"
_FULL_TEXT = "embedding_fulltext_search"
_LOG = "embeddings_queue"
_DELETE = 3  # Chroma's code of a deletion in its log
_STRIP_DELETED = (
    f"UPDATE {_LOG} SET metadata = NULL WHERE metadata IS NOT NULL AND EXISTS (SELECT 1 FROM "
    f"{_LOG} d WHERE d.topic = {_LOG}.topic AND d.id = {_LOG}.id AND d.seq_id > {_LOG}.seq_id "
    "AND d.operation = ?)"
)
_BUSY_TIMEOUT_S = 30
# hnswlib's persisted header: its version (1), then size_t offsetLevel0, max_elements,
# cur_element_count, size_data_per_element, ... (native, unpadded).
_HEADER = struct.Struct("=iQQQQ")
_HNSW_VERSION = 1
_LENGTH_BYTES = 4  # a float per element in length.bin
_CHUNK = 1 << 20


def compact_files(directory: Path) -> list[Path]:
    """Compact the Chroma files in ``directory``; the segment directories removed."""
    database = directory / SQLITE_FILE
    if not database.exists():
        return []
    with closing(sqlite3.connect(database, timeout=_BUSY_TIMEOUT_S, isolation_level=None)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if _LOG in tables:
            conn.execute(_STRIP_DELETED, (_DELETE,))
        if _FULL_TEXT in tables:
            conn.execute(f"INSERT INTO {_FULL_TEXT}({_FULL_TEXT}) VALUES('optimize')")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # a no-op unless Chroma turned WAL on
        if "segments" not in tables:
            return []
        used = {str(row[0]) for row in conn.execute("SELECT id FROM segments")}
    segments = [d for d in directory.iterdir() if d.is_dir() and _segment(d.name) is not None]
    removed = [d for d in segments if _segment(d.name) not in used]
    for unused in removed:
        shutil.rmtree(unused)
    for kept in segments:
        if kept not in removed:
            _zero_unused_slots(kept)
    return removed


def _zero_unused_slots(segment: Path) -> None:
    """Zero the slots past the elements an HNSW segment's header counts (hnswlib reads them
    but uses a slot only once it writes an element there)."""
    try:
        header = (segment / "header.bin").read_bytes()
        version, _, _, count, per_element = _HEADER.unpack_from(header)
    except (OSError, struct.error):
        return  # not an HNSW segment's directory, or not one this knows
    if version != _HNSW_VERSION:
        return
    _zero_from(segment / "data_level0.bin", count * per_element)
    _zero_from(segment / "length.bin", count * _LENGTH_BYTES)


def _zero_from(path: Path, start: int) -> None:
    """Overwrite ``path`` with zeros from ``start`` to its end (its size stays)."""
    try:
        with path.open("r+b") as file:
            end = file.seek(0, 2)
            file.seek(start)
            while file.tell() < end:
                file.write(bytes(min(_CHUNK, end - file.tell())))
    except FileNotFoundError:
        pass


def _segment(name: str) -> str | None:
    """The segment id a directory's name is (a UUID), or ``None`` (not a segment's: kept)."""
    try:
        return str(uuid.UUID(name))
    except ValueError:
        return None
