"""A principal's long-term memory in Chroma: listed, forgotten, and pruned when expired.

Episodic memory is one collection per agent and principal (metadata ``kind`` ``episodes``,
``agent``, ``principal``); a knowledge base is one collection per agent (``kind`` ``knowledge``)
whose chunks name who ingested them (``ingested_by``). Collections are found by that metadata,
so nothing here needs the modules that write them. Reading and deleting embed nothing: each
collection is opened under the name of the model that embedded it (a store of another model
refuses it), so forgetting loads no model and still works after the configured one changed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentlab.config.memory import MemorySettings
from agentlab.memory.chroma import ChromaStore, Record
from agentlab.memory.episodes import KIND as EPISODES
from agentlab.memory.long_term import chroma_dir, chroma_store

KNOWLEDGE = "knowledge"
"""The ``kind`` of a knowledge base's collection."""
INGESTED_BY = "ingested_by"
"""The metadata of a knowledge chunk naming the principal who ingested it."""


@dataclass(frozen=True, slots=True)
class StoredEpisodes:
    """How many past interactions of a principal an agent keeps, and when the latest was
    (epoch seconds)."""

    agent: str
    count: int
    latest: float


class ChromaMemory:
    """The Chroma collections of long-term memory: the server at ``chroma_url`` or the
    embedded files under ``data_dir`` (left uncreated when there are none)."""

    def __init__(self, data_dir: Path, settings: MemorySettings) -> None:
        self._data_dir = data_dir
        self._settings = settings
        self._stores: dict[str, ChromaStore] = {}

    @property
    def exists(self) -> bool:
        """Whether there is a store to look in."""
        return bool(self._settings.chroma_url) or chroma_dir(self._data_dir).exists()

    @property
    def where(self) -> str:
        """The server or the directory, for messages."""
        return self._settings.chroma_url or str(chroma_dir(self._data_dir))

    def episodes(self, principal: str) -> list[StoredEpisodes]:
        """The past interactions of ``principal`` each agent keeps, by agent."""
        found = []
        for name, meta, store in self._collections(kind=EPISODES, principal=principal):
            ats = [float(r.metadata.get("at", 0)) for r in _records(store, name, principal)]
            if ats:
                found.append(StoredEpisodes(str(meta.get("agent", "")), len(ats), max(ats)))
        return sorted(found, key=lambda e: e.agent)

    def knowledge(self, principal: str) -> dict[str, int]:
        """How many knowledge-base chunks ``principal`` ingested, by agent."""
        found: dict[str, int] = {}
        for name, meta, store in self._collections(kind=KNOWLEDGE):
            chunks = store.get(name, where={INGESTED_BY: principal})
            if chunks:
                agent = str(meta.get("agent", ""))
                found[agent] = found.get(agent, 0) + len(chunks)
        return found

    def forget(self, principal: str) -> tuple[int, int]:
        """Delete ``principal``'s past interactions with every agent (their collections go)
        and the knowledge chunks they ingested; how many of each."""
        episodes = sum(
            store.drop(name)
            for name, _, store in self._collections(kind=EPISODES, principal=principal)
        )
        chunks = sum(
            store.delete(name, where={INGESTED_BY: principal})
            for name, _, store in self._collections(kind=KNOWLEDGE)
        )
        return episodes, chunks

    def prune(self, now: float | None = None) -> int:
        """Delete the past interactions past their expiry, of every principal; how many."""
        now = time.time() if now is None else now
        expired = {"$and": [{"expires": {"$gt": 0}}, {"expires": {"$lt": now}}]}
        return sum(
            store.delete(name, where=expired) for name, _, store in self._collections(kind=EPISODES)
        )

    def compact(self) -> bool:
        """Make deleted texts leave the embedded files (``ChromaStore.compact``); ``False``
        where a server keeps them."""
        return not self.exists or self._store().compact()

    def close(self) -> None:
        for store in self._stores.values():
            store.close()
        self._stores.clear()

    def _collections(self, **match: str) -> list[tuple[str, dict[str, Any], ChromaStore]]:
        """The collections whose metadata has these values, each with a store of its model."""
        if not self.exists:
            return []
        return [
            (name, meta, self._store(str(meta.get("embedder", ""))))
            for name, meta in self._store().collections(**match)
        ]

    def _store(self, model: str = "") -> ChromaStore:
        if model not in self._stores:
            self._stores[model] = chroma_store(self._data_dir, self._settings, _Named(model))
        return self._stores[model]


class _Named:
    """An embedder by name only: what opens a collection embedded by that model without
    loading it (nothing here embeds)."""

    dimensions = 0

    def __init__(self, name: str) -> None:
        self.name = name

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise RuntimeError("forgetting and pruning embed nothing")


def _records(store: ChromaStore, collection: str, principal: str) -> list[Record]:
    return [
        r for r in store.get(collection, where={"principal": principal}) if isinstance(r, Record)
    ]
