"""Embedders for tests where the model is not the point: fast, deterministic, offline.

``WordsEmbedder`` hashes a text's words into a vector (a bag of words), so texts sharing words
are near; ``CountingEmbedder`` counts the texts another embedder was given. A configuration
loads one as ``[memory] embedder = "tests.words_embedder:WordsEmbedder"``.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

from agentlab.memory import Embedder

_STOP = frozenset({"a", "an", "and", "are", "can", "do", "how", "i", "in", "is", "it", "my", "of"})


class WordsEmbedder:
    """A text as the unit vector of its hashed words (stop words left out)."""

    name = "words-test"
    dimensions = 256

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(text) for text in texts]

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            if word not in _STOP:
                digest = hashlib.blake2b(word[:6].encode(), digest_size=4).digest()
                vector[int.from_bytes(digest, "big") % self.dimensions] += 1.0
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        return [x / norm for x in vector]


class CountingEmbedder:
    """Another embedder, counting the texts it embeds (``texts``)."""

    def __init__(self, inner: Embedder | None = None) -> None:
        self.inner = inner or WordsEmbedder()
        self.texts = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimensions(self) -> int:
        return self.inner.dimensions

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts += len(texts)
        return self.inner.embed(texts)
