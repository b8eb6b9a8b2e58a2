"""Long-term memory's settings (``[memory]`` in the config file)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RecallWeights(BaseModel):
    """How a past interaction's score is made: its similarity to the message (cosine, 0..1),
    its recency (1 now, halving every ``half_life_days``) and its importance (0..1), weighted."""

    model_config = ConfigDict(extra="forbid")

    similarity: float = Field(default=0.6, ge=0)
    recency: float = Field(default=0.2, ge=0)
    importance: float = Field(default=0.2, ge=0)


class MemorySettings(BaseModel):
    """Long-term memory (``[memory]``): episodic memory of past interactions, the agent's
    knowledge base and facts about its users.

    ``chroma_url`` is a Chroma server every process and machine shares (``agentlab chroma``
    starts one on 127.0.0.1); unset, Chroma runs embedded in ``data_dir/chroma``, its writes
    serialized across the processes of that directory. ``embedder`` embeds texts (``minilm``,
    the shipped model, offline; or ``package.module:attr``). A call's memory slot holds the
    ``recall_k`` best past interactions of the same principal (scored by ``weights``, those
    under ``min_similarity`` left out) and the principal's current facts, within
    ``slot_tokens`` of its budget. Interactions expire after ``ttl_days`` (0: never), stretched
    by their importance (up to twice as long).
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    chroma_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(:\d+)?/?$")
    embedder: str = Field(default="minilm", pattern=r"^(minilm|[\w.]+:[\w.]+)$")
    recall_k: int = Field(default=4, ge=0, le=50)
    min_similarity: float = Field(default=0.25, ge=-1, le=1)
    slot_tokens: int = Field(default=1_500, ge=0)
    half_life_days: float = Field(default=30.0, gt=0)
    ttl_days: float = Field(default=365.0, ge=0)
    weights: RecallWeights = Field(default_factory=RecallWeights)
