"""Whether long-term memory's store works: what ``agentlab doctor`` finds in it.

``check_memory`` reads the store the settings name (the Chroma server at ``chroma_url``, else
the data directory's Chroma, embedded or through the ``agentlab chroma`` serving it) and checks
each collection: it was embedded by the configured embedder, it can be counted and read, and its
index answers: each of a sample of its stored vectors, queried, finds its own text first (a
stale or damaged index does not). A damaged index can crash the process that reads it (Chroma's
index is native code), so the checks run in a child process (``python -m
agentlab.memory.health``), and a crash is reported as the damage it is, in the collection being
read when it happened.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from agentlab.config.memory import MemorySettings
from agentlab.errors import AgentlabError
from agentlab.memory.chroma import ChromaStore, Record
from agentlab.memory.chroma_access import LOCK_FILE, running_chroma
from agentlab.memory.long_term import chroma_dir, chroma_store

SAMPLE = 20
"""How many stored vectors of each collection are looked up in its index."""
TIMEOUT_S = 300.0


@dataclass(frozen=True, slots=True)
class CollectionHealth:
    """One collection as checked: its ``kind`` (``episodes``, ``knowledge``...), how many texts
    it holds (None: not counted), how many were looked up in its index, what is wrong."""

    name: str
    kind: str
    texts: int | None = None
    sampled: int = 0
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MemoryHealth:
    """The memory store as checked: ``where`` it is, the ``embedder`` configured, its
    ``collections``, and the ``problems`` of the store itself (unreachable, unreadable);
    ``stored`` is false when the data directory has no store yet."""

    where: str
    embedder: str
    collections: tuple[CollectionHealth, ...] = ()
    problems: tuple[str, ...] = ()
    stored: bool = True

    @property
    def findings(self) -> list[str]:
        """Every problem found, each naming its collection."""
        found = list(self.problems)
        for c in self.collections:
            found += [f"memory collection {c.name} ({c.kind}): {p}" for p in c.problems]
        return found

    def kinds(self) -> dict[str, tuple[int, int]]:
        """Per kind of collection: how many collections, and the texts they hold."""
        collections = Counter(c.kind for c in self.collections)
        texts = Counter({k: 0 for k in collections})
        for c in self.collections:
            texts[c.kind] += c.texts or 0
        return {k: (collections[k], texts[k]) for k in sorted(collections)}


def check_memory(
    data_dir: Path, settings: MemorySettings, *, sample: int = SAMPLE, timeout: float = TIMEOUT_S
) -> MemoryHealth:
    """Check the memory store ``settings`` name for ``data_dir``, in a child process (nothing
    is opened in this one). A data directory that has no store yet is not made one."""
    directory = chroma_dir(data_dir)
    if settings.chroma_url is None and not directory.exists():
        return MemoryHealth(str(directory), settings.embedder, stored=False)
    request = {"data_dir": str(data_dir), "memory": settings.model_dump(mode="json")}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "agentlab.memory.health"],
            input=json.dumps({**request, "sample": sample}),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        held = f" (does a process hold {directory / LOCK_FILE}?)"
        return MemoryHealth(
            location(data_dir, settings),
            settings.embedder,
            problems=(
                f"the memory check did not finish within {timeout:g} s"
                f"{'' if settings.chroma_url else held}",
            ),
        )
    return _read_report(done, data_dir, settings)


def location(data_dir: Path, settings: MemorySettings) -> str:
    """Where the memory store is, for messages."""
    if settings.chroma_url:
        return f"the Chroma server at {settings.chroma_url}"
    directory = chroma_dir(data_dir)
    served = running_chroma(directory)
    return f"{directory} (through agentlab chroma at {served})" if served else str(directory)


def check_collections(
    store: ChromaStore, sample: int, report: Callable[[dict[str, Any]], None]
) -> list[CollectionHealth]:
    """Check every collection of ``store``, saying which it starts (``{"reading": name}``) to
    ``report`` before it does; the checked collections."""
    checked = []
    for name, metadata in store.collections():
        report({"reading": name, "kind": str(metadata.get("kind", "unknown"))})
        health = _collection(store, name, metadata, sample)
        report({"collection": asdict(health)})
        checked.append(health)
    return checked


def _collection(
    store: ChromaStore, name: str, metadata: dict[str, Any], sample: int
) -> CollectionHealth:
    kind = str(metadata.get("kind", "unknown"))
    model = metadata.get("embedder")
    if model != store.embedder.name:
        return CollectionHealth(
            name,
            kind,
            problems=(
                f"embedded with {model or 'an unknown model'}, not the configured "
                f"{store.embedder.name}, so recall refuses it: set [memory] embedder back, or "
                "forget what it holds and store it again",
            ),
        )
    problems = []
    count: int | None = None
    sampled = 0
    try:
        count = store.count(name)
        ids = [record.id for record in cast(list[Record], store.get(name))]
        if len(ids) != count:
            problems.append(f"it counts {count} texts, but {len(ids)} can be read")
        chosen = ids[:: max(1, len(ids) // sample)][:sample]
        stored = cast(
            list[tuple[Record, list[float]]], store.get(name, ids=chosen, embeddings=True)
        )
        sampled = len(stored)
        if sampled != len(chosen):
            problems.append(f"{len(chosen) - sampled} sampled texts cannot be read back")
        lost = [
            record.id
            for record, vector in stored
            if not _finds_itself(store, name, record.id, vector, count)
        ]
        if lost:
            problems.append(
                f"its index does not find {len(lost)} of {sampled} sampled texts by their own "
                f"vectors (the first: {lost[0]}): the index is stale or damaged"
            )
    except Exception as exc:  # whatever Chroma raises, it is what doctor reports
        problems.append(f"cannot be read: {type(exc).__name__}: {exc}")
    return CollectionHealth(name, kind, count, sampled, tuple(problems))


def _finds_itself(store: ChromaStore, name: str, id: str, vector: list[float], n: int) -> bool:
    """Whether a query by ``vector`` finds ``id`` first (or tied first: equal vectors)."""
    hits = store.query(name, vector=vector, n=min(10, n))
    return bool(hits) and any(
        h.id == id and h.similarity >= hits[0].similarity - 1e-6 for h in hits
    )


def _read_report(
    done: subprocess.CompletedProcess[str], data_dir: Path, settings: MemorySettings
) -> MemoryHealth:
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    head = next((line for line in lines if "where" in line), None)
    collections = [CollectionHealth(**line["collection"]) for line in lines if "collection" in line]
    problems = [line["problem"] for line in lines if "problem" in line]
    if not any("done" in line for line in lines):
        code = done.returncode
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        reading = [line for line in lines if "reading" in line][len(collections) :]
        if reading:
            name, kind = reading[0]["reading"], reading[0]["kind"]
            crashed = f"reading it crashed the check ({how}): its index is damaged"
            collections.append(CollectionHealth(name, kind, problems=(crashed,)))
        else:
            tail = " | ".join(done.stderr.strip().splitlines()[-3:])
            problems.append(f"the memory check failed ({how}): {tail}")
    return MemoryHealth(
        head["where"] if head else location(data_dir, settings),
        head["embedder"] if head else settings.embedder,
        tuple(collections),
        tuple(problems),
    )


def _child() -> None:
    """The child's side: the request on stdin, a JSON line per finding on stdout (anything
    else the libraries print goes to stderr)."""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)

    def report(line: dict[str, Any]) -> None:
        out.write(json.dumps(line) + "\n")
        out.flush()

    request = json.loads(sys.stdin.read())
    data_dir, settings = Path(request["data_dir"]), MemorySettings(**request["memory"])
    try:
        store = chroma_store(data_dir, settings)
        report({"where": location(data_dir, settings), "embedder": store.embedder.name})
        check_collections(store, int(request["sample"]), report)
    except AgentlabError as exc:  # unreachable, an embedder that does not load: it says so
        report({"problem": str(exc)})
    except Exception as exc:  # whatever Chroma raises, it is what doctor reports
        where = location(data_dir, settings)
        report({"problem": f"memory store {where}: {type(exc).__name__}: {exc}"})
    report({"done": True})


if __name__ == "__main__":
    _child()
