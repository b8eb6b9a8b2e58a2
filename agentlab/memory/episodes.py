"""Episodic memory: the agent's past interactions with each principal, recalled by relevance.

After each turn the interaction (the message, the actions taken, how it ended, the reply) is
stored as one text with what it was (agent, principal, session, run, turn, time, outcome,
importance, expiry, trust), without a model call: its importance is read from what happened.
Its id is its run and turn, so storing it again (a run resumed after a crash) stores it once.

Isolation is the storage's: each agent and principal has its own collection, and every query
is filtered on both again, so no text of a query can reach another principal's past.

Recall scores the nearest past interactions by similarity, recency (halving every
``half_life_days``) and importance, weighted as configured, and keeps the ``k`` best. An
interaction whose turn read tool output carries that output's trust: recalling it is recalling
untrusted content (``Recollection.trusted`` is false), as a tool result is.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from agentlab.config.memory import MemorySettings
from agentlab.memory.chroma import ChromaStore, Hit

KIND = "episodes"
Trust = Literal["principal", "tool"]
DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Episode:
    """One interaction: ``message`` from ``principal``, the ``actions`` taken (one line each),
    the ``outcome`` (the run's final status) and the ``reply``; ``at`` and ``expires`` are epoch
    seconds (``expires`` 0: kept until forgotten); ``trust`` is ``"tool"`` when the turn read
    tool output (named in ``sources``), else ``"principal"``."""

    agent: str
    principal: str
    session: str
    run_id: str
    turn: int
    message: str
    reply: str
    outcome: str
    actions: tuple[str, ...] = ()
    importance: float = 0.2
    at: float = field(default_factory=time.time)
    expires: float = 0.0
    trust: Trust = "principal"
    sources: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """The interaction's id: its run and turn."""
        return f"{self.run_id}:{self.turn}"

    def cue(self) -> str:
        """What the interaction is found by: the principal's message, as they said it (the
        labelled ``text`` embeds worse: its labels pull short texts together)."""
        return self.message

    def text(self) -> str:
        """The interaction as stored and recalled."""
        lines = [f"User: {self.message}"]
        lines += [f"Action: {a}" for a in self.actions]
        lines += [f"Outcome: {self.outcome}", f"Reply: {self.reply}"]
        return "\n".join(lines)

    def metadata(self) -> dict[str, str | int | float | bool]:
        return {
            "agent": self.agent,
            "principal": self.principal,
            "session": self.session,
            "run_id": self.run_id,
            "turn": self.turn,
            "at": self.at,
            "expires": self.expires,
            "importance": self.importance,
            "outcome": self.outcome,
            "trust": self.trust,
            "sources": ",".join(self.sources),
        }


@dataclass(frozen=True, slots=True)
class Recollection:
    """A past interaction recalled for a message, with the parts of its score."""

    id: str
    text: str
    run_id: str
    at: float
    similarity: float
    recency: float
    importance: float
    score: float
    trusted: bool
    sources: tuple[str, ...] = ()

    def attributes(self) -> dict[str, Any]:
        """The recollection as a span's attributes (ids and scores, not its text)."""
        return {
            "id": self.id,
            "score": round(self.score, 4),
            "similarity": round(self.similarity, 4),
            "recency": round(self.recency, 4),
            "importance": round(self.importance, 4),
            "trusted": self.trusted,
        }


def collection_name(agent: str, principal: str) -> str:
    """The collection of ``agent``'s interactions with ``principal``."""
    digest = hashlib.sha256(f"{agent}\0{principal}".encode()).hexdigest()[:32]
    return f"{KIND}-{digest}"


class EpisodicMemory:
    """Past interactions in a ``ChromaStore``, one collection per agent and principal."""

    def __init__(self, store: ChromaStore, settings: MemorySettings | None = None) -> None:
        self.store = store
        self.settings = settings or MemorySettings()

    def expiry(self, at: float, importance: float) -> float:
        """When an interaction stored at ``at`` expires: ``ttl_days`` later, stretched by its
        importance (up to twice as long); 0 when interactions do not expire."""
        if self.settings.ttl_days <= 0:
            return 0.0
        return at + self.settings.ttl_days * DAY * (1.0 + max(0.0, min(importance, 1.0)))

    def remember(self, episodes: Sequence[Episode]) -> None:
        """Store ``episodes`` (one stored before under its id is replaced, not doubled)."""
        by_collection: dict[tuple[str, str], list[Episode]] = {}
        for episode in episodes:
            by_collection.setdefault((episode.agent, episode.principal), []).append(episode)
        for (agent, principal), group in by_collection.items():
            self.store.upsert(
                collection_name(agent, principal),
                {"kind": KIND, "agent": agent, "principal": principal},
                ids=[e.id for e in group],
                documents=[e.text() for e in group],
                metadatas=[e.metadata() for e in group],
                embeddings=self.store.embed([e.cue() for e in group]),
            )

    def recall(
        self,
        agent: str,
        principal: str,
        text: str,
        *,
        k: int | None = None,
        now: float | None = None,
    ) -> list[Recollection]:
        """The ``k`` (default ``recall_k``) past interactions of ``agent`` with ``principal``
        that best answer ``text``, best first; expired ones and those under ``min_similarity``
        are left out."""
        k = self.settings.recall_k if k is None else k
        if k <= 0 or not text.strip():
            return []
        now = time.time() if now is None else now
        hits = self.store.query(
            collection_name(agent, principal),
            text,
            n=max(4 * k, 16),
            where={"$and": [{"agent": agent}, {"principal": principal}]},
        )
        scored = [self._score(hit, now) for hit in hits if _alive(hit, now)]
        kept = [r for r in scored if r.similarity >= self.settings.min_similarity]
        kept.sort(key=lambda r: r.score, reverse=True)
        return kept[:k]

    def entries(self, principal: str, agent: str | None = None) -> list[dict[str, Any]]:
        """Every stored interaction of ``principal`` (with ``agent`` only, if given): its
        metadata and text, oldest first."""
        found: list[dict[str, Any]] = []
        for name, meta in self._collections(principal, agent):
            for record in self.store.get(name, where={"principal": principal}):
                assert not isinstance(record, tuple)
                found.append({**record.metadata, "id": record.id, "text": record.document})
            del meta
        return sorted(found, key=lambda e: float(e.get("at", 0)))

    def forget(self, principal: str, agent: str | None = None) -> int:
        """Delete every interaction of ``principal`` (with ``agent`` only, if given): their
        collections go; how many interactions they held."""
        return sum(self.store.drop(name) for name, _ in self._collections(principal, agent))

    def prune(self, now: float | None = None) -> int:
        """Delete the interactions past their expiry, of every principal; how many."""
        now = time.time() if now is None else now
        expired = {"$and": [{"expires": {"$gt": 0}}, {"expires": {"$lt": now}}]}
        return sum(self.store.delete(name, where=expired) for name, _ in self._collections())

    def _collections(
        self, principal: str | None = None, agent: str | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        match = {"kind": KIND}
        if principal is not None:
            match["principal"] = principal
        if agent is not None:
            match["agent"] = agent
        return self.store.collections(**match)

    def _score(self, hit: Hit, now: float) -> Recollection:
        meta = hit.metadata
        at = float(meta.get("at", now))
        age_days = max(0.0, now - at) / DAY
        recency = 0.5 ** (age_days / self.settings.half_life_days)
        importance = float(meta.get("importance", 0.0))
        w = self.settings.weights
        total = (w.similarity + w.recency + w.importance) or 1.0
        score = w.similarity * hit.similarity + w.recency * recency + w.importance * importance
        sources = tuple(s for s in str(meta.get("sources", "")).split(",") if s)
        return Recollection(
            id=hit.id,
            text=hit.document,
            run_id=str(meta.get("run_id", "")),
            at=at,
            similarity=hit.similarity,
            recency=recency,
            importance=importance,
            score=score / total,
            trusted=meta.get("trust", "tool") == "principal",
            sources=sources,
        )


def _alive(hit: Hit, now: float) -> bool:
    expires = float(hit.metadata.get("expires", 0) or 0)
    return expires <= 0 or expires > now
