"""Small embedders for the tests where the model is not the point: vectors from a hash of each
word, so texts sharing words are near; fast, offline, deterministic. A setting names them as
``[memory] embedder = "tests.embedders:HashEmbedder"``."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence


class HashEmbedder:
    """64 dimensions from a hash of each word: texts sharing words are near, fast and offline
    (the model is not what these tests are about)."""

    name = "hash-words-64"
    dimensions = 64

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            v = [0.0] * self.dimensions
            for word in text.lower().split():
                digest = hashlib.sha256(word.encode()).digest()
                v[digest[0] % self.dimensions] += 1.0
                v[digest[1] % self.dimensions] += 0.5
            norm = math.sqrt(sum(x * x for x in v)) or 1.0
            vectors.append([x / norm for x in v])
        return vectors


class OtherHashEmbedder(HashEmbedder):
    """The same vectors under another model's name: a store embedded by another model."""

    name = "hash-words-64-other"
