"""An ``Embedder`` as a Chroma collection's embedding function.

Imports ``chromadb``: import this module only where a collection is opened, never on the CLI's
``--help`` path. Pass the function every time a collection is opened (``get_collection``,
``get_or_create_collection``): without it, Chroma rebuilds the function from the collection's
saved configuration on every call, which is slow and, for its default, downloads a model.
"""

from __future__ import annotations

from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from agentlab.memory.embedding import DEFAULT_EMBEDDER, Embedder, load_embedder


@register_embedding_function
class ChromaEmbedding(EmbeddingFunction[Documents]):
    """Chroma's ``EmbeddingFunction`` over an ``Embedder``; cosine space (unit vectors).

    ``reference`` is the setting the embedder came from (``"minilm"`` or ``"module:attr"``):
    Chroma saves it in the collection's configuration, so a collection says what embedded it.
    """

    def __init__(self, embedder: Embedder, reference: str = DEFAULT_EMBEDDER) -> None:
        self.embedder = embedder
        self.reference = reference

    def __call__(self, input: Documents) -> Embeddings:
        import numpy as np

        vectors = self.embedder.embed(list(input))
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    @staticmethod
    def name() -> str:
        return "agentlab"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {"embedder": self.reference, "model": self.embedder.name}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbedding:
        reference = str(config.get("embedder", DEFAULT_EMBEDDER))
        return ChromaEmbedding(load_embedder(reference), reference)
