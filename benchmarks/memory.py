"""Long-term memory: episodic recall's latency against an exact search, the embedding model,
retrieval quality on a labelled set, and what a call reads at turn 300 (issue 20's benchmark).

(a) Episodic recall with 1k and 10k (opt-in: 100k) stored interactions of one principal, through
    ``EpisodicMemory`` over ``ChromaStore`` (embedded, in a temporary directory), loaded with
    precomputed vectors (``upsert(..., embeddings=...)``, 5,000 a call). A stored vector is that
    of a synthetic support text: the mean of the MiniLM vectors of its three clauses, drawn from
    600 (``--vectors random``: random unit vectors instead, HNSW's worst case). Per query: the
    store's query (``store.query(vector=..., n=5, where=agent and principal)``, p50/p95), the
    same without the ``where`` filter, and the floor, brute-force NumPy cosine over the same
    vectors (one matrix-vector product and ``argpartition``); recall@5 agreement is the mean
    overlap of Chroma's top 5 with the exact top 5, over 5. ``EpisodicMemory.recall`` (embedding
    the query's text, 16 candidates, scoring) is timed on a few texts beside the embedding alone.
(b) The embedding model's first load in fresh processes, and texts/s at batch sizes 1 and 32
    (``embedding.py``'s probe and texts).
(c) Retrieval quality on ``data/memory_qa.jsonl`` (facts and paraphrased questions): every fact
    stored as a principal's message through ``EpisodicMemory.remember``, each question asked
    through ``recall(k=5)``: pure similarity, then the default settings; beside them the model
    alone (the bare facts' and questions' vectors, exact cosine).
(d) The planner's context at turn 300 of a synthetic session with one customer, by the parts
    ``assemble`` counts: the full history, working memory alone (the session's summary, written
    as the ``recall`` node folds without a summarizer, and its recent turns), and with long-term
    memory on (the memory slot filled by ``recall`` over the 299 earlier turns, stored as
    episodes, capped at ``slot_tokens``), under the default ``[context]`` budgets.

    python benchmarks/memory.py                            # (a) at 1k and 10k, (b), (c), (d)
    python benchmarks/memory.py --sizes 1000 10000 100000  # 100k too: 5 to 8 minutes more
    python benchmarks/memory.py --quick --only a --json memory.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a plain checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from embedding import LOAD_PROBE
from embedding import _texts as support_texts
from memory_texts import clauses, session_runs

from agentlab.config import ContextBudgets
from agentlab.config.memory import MemorySettings, RecallWeights
from agentlab.domains.support import agent as support_agent
from agentlab.domains.support import support_tools
from agentlab.memory import Context, EstimatedTokens, MiniLMEmbedder, assemble, prefix_tokens
from agentlab.memory.chroma import ChromaStore
from agentlab.memory.conversation import ConversationTurn, Summary
from agentlab.memory.episodes import KIND, Episode, EpisodicMemory, collection_name
from agentlab.memory.fitting import WorkingMemory
from agentlab.memory.long_term import LongTermMemory
from agentlab.models.base import CallInfo
from agentlab.orchestration import prompts
from agentlab.orchestration.prompt_book import PromptBook
from agentlab.orchestration.remembering import episode_of
from agentlab.orchestration.replying import record_summary, turn_messages_of, turn_record
from agentlab.tools.policy import ProposedCall

AGENT = "support"
PRINCIPAL = "customer-1042"
WHERE = {"$and": [{"agent": AGENT}, {"principal": PRINCIPAL}]}
BATCH = 5_000  # records per upsert (embedded Chroma 1.5 takes at most 5,461)
CLAUSES = 600
DAY = 86_400.0
QA_FILE = Path(__file__).resolve().parent / "data" / "memory_qa.jsonl"
TURNS = 300
PARTS = ("prefix", "memory", "summary", "history", "current")  # of a context, in order
PURE = MemorySettings(
    weights=RecallWeights(similarity=1, recency=0, importance=0), min_similarity=-1
)
"""Pure retrieval: similarity alone, nothing left out."""


def _ms(seconds: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000, q))


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = call()
    return time.perf_counter() - start, out


# --- (a) episodic recall latency --------------------------------------------------------------


@dataclass
class Latency:
    """One size's figures: load time (s) and per-query times (s) of each way of searching."""

    size: int
    load_s: float
    chroma: list[float] = field(default_factory=list)
    unfiltered: list[float] = field(default_factory=list)
    numpy: list[float] = field(default_factory=list)
    agreement: float = 0.0
    recall: list[float] = field(default_factory=list)
    embed: list[float] = field(default_factory=list)


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def stored_vectors(
    count: int, pool: np.ndarray, kind: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` distinct triples of clauses, and the unit vector of each memory: the mean of
    its clauses' vectors (``kind`` "texts") or a random direction ("random")."""
    picks: dict[tuple[int, ...], None] = {}
    while len(picks) < count:
        for row in np.sort(rng.integers(len(pool), size=(count, 3)), axis=1):
            if row[0] != row[1] != row[2] and len(picks) < count:  # sorted: all three differ
                picks.setdefault(tuple(int(x) for x in row))
    triples = np.array(list(picks))
    if kind == "random":
        return triples, unit(rng.standard_normal((count, pool.shape[1])))
    return triples, unit(pool[triples].mean(axis=1))


def episodes(
    memory: EpisodicMemory, triples: np.ndarray, span: range, texts: Sequence[str], now: float
) -> list[Episode]:
    """Interactions ``span`` of the principal (of ``len(triples)``), spread over the last year,
    with the expiry ``memory`` gives them."""
    out = []
    for i in span:
        said = "; ".join(texts[j] for j in triples[i])
        at = now - (len(triples) - i) * 365 * DAY / len(triples)
        importance = (0.2, 0.4, 0.6, 0.9)[i % 4]
        out.append(
            Episode(
                agent=AGENT,
                principal=PRINCIPAL,
                session=f"session-{i // 10:05d}",
                run_id=f"run-{i:06d}",
                turn=1 + i % 10,
                message=said,
                reply=f"Done: {texts[triples[i][0]]}.",
                outcome="completed",
                actions=(f'search_customers({{"query": "{texts[triples[i][1]][-20:]}"}})',),
                importance=importance,
                at=at,
                expires=memory.expiry(at, importance),
            )
        )
    return out


def load(
    store: ChromaStore,
    triples: np.ndarray,
    vectors: np.ndarray,
    texts: Sequence[str],
    progress: Progress,
) -> float:
    """Store the memories ``BATCH`` at a time with their vectors; the seconds it took."""
    task = progress.add_task(f"loading {len(vectors):,}", total=len(vectors))
    now, spent = time.time(), 0.0
    memory = EpisodicMemory(store)
    name = collection_name(AGENT, PRINCIPAL)
    meta = {"kind": KIND, "agent": AGENT, "principal": PRINCIPAL}
    for start in range(0, len(vectors), BATCH):
        stop = min(start + BATCH, len(vectors))
        batch = episodes(memory, triples, range(start, stop), texts, now)
        took, _ = _timed(
            lambda b=batch, s=start, e=stop: store.upsert(
                name,
                meta,
                ids=[x.id for x in b],
                documents=[x.text() for x in b],
                metadatas=[x.metadata() for x in b],
                embeddings=vectors[s:e],
            )
        )
        spent += took
        progress.advance(task, stop - start)
    return spent


@dataclass(frozen=True)
class Corpus:
    """(a)'s memories and queries: ``texts`` are the clauses, ``triples`` each memory's three,
    ``vectors`` their unit vectors (a size takes the first ones); ``queries`` are vectors of two
    clauses each, ``query_texts`` the clauses joined (for ``recall``, which embeds them)."""

    texts: list[str]
    triples: np.ndarray
    vectors: np.ndarray
    queries: np.ndarray
    query_texts: list[str]


def corpus(size: int, queries: int, kind: str, embedder: MiniLMEmbedder) -> Corpus:
    rng = np.random.default_rng(20)
    texts = clauses(CLAUSES, rng)
    pool = np.asarray(embedder.embed(texts), dtype=np.float32)
    triples, vectors = stored_vectors(size, pool, kind, rng)
    pairs = [rng.choice(CLAUSES, 2, replace=False) for _ in range(queries)]
    if kind == "random":
        asked = unit(rng.standard_normal((queries, pool.shape[1])))
    else:
        asked = unit(np.stack([pool[pair].mean(axis=0) for pair in pairs]))
    joined = ["; ".join(texts[j] for j in pair) for pair in pairs]
    return Corpus(texts, triples, vectors, asked, joined)


def latency(
    size: int, data: Corpus, embedder: MiniLMEmbedder, progress: Progress, recalls: int
) -> Latency:
    """Load ``size`` memories into a fresh store, then time every way of finding the nearest."""
    ids = [f"run-{i:06d}:{1 + i % 10}" for i in range(size)]
    matrix = np.ascontiguousarray(data.vectors[:size])
    name = collection_name(AGENT, PRINCIPAL)
    with tempfile.TemporaryDirectory(prefix="agentlab-memory-bench-") as tmp:
        store = ChromaStore(embedder, path=Path(tmp) / "chroma")
        figures = Latency(size, load(store, data.triples[:size], matrix, data.texts, progress))
        store.query(name, vector=data.queries[0], n=5, where=WHERE)  # warm up
        overlap = []
        for vector in data.queries:
            took, hits = _timed(lambda v=vector: store.query(name, vector=v, n=5, where=WHERE))
            figures.chroma.append(took)
            start = time.perf_counter()
            scores = matrix @ vector
            top = np.argpartition(scores, -5)[-5:]
            top = top[np.argsort(scores[top])[::-1]]
            figures.numpy.append(time.perf_counter() - start)
            overlap.append(len({h.id for h in hits} & {ids[i] for i in top}) / 5)
        figures.agreement = statistics.mean(overlap)
        for vector in data.queries[: max(recalls, 5)]:
            figures.unfiltered.append(_timed(lambda v=vector: store.query(name, vector=v, n=5))[0])
        memory = EpisodicMemory(store, MemorySettings())
        for text in data.query_texts[:recalls]:
            figures.recall.append(_timed(lambda t=text: memory.recall(AGENT, PRINCIPAL, t))[0])
            figures.embed.append(_timed(lambda t=text: embedder.embed([t]))[0])
        store.close()
    return figures


def measure_latency(
    args: argparse.Namespace, embedder: MiniLMEmbedder, console: Console
) -> list[Latency]:
    data = corpus(max(args.sizes), args.queries, args.vectors, embedder)
    with tempfile.TemporaryDirectory(prefix="agentlab-memory-bench-") as tmp:
        # Chroma's first start in a process (its bindings, its system) is not a load's cost.
        scratch = ChromaStore(embedder, path=Path(tmp) / "chroma")
        scratch.upsert(
            "warm-up",
            {},
            ids=["x"],
            documents=["x"],
            metadatas=[{"x": 1}],
            embeddings=data.vectors[:1],
        )
        scratch.close()
    columns = (
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        return [latency(size, data, embedder, progress, args.recalls) for size in args.sizes]


def report_latency(rows: list[Latency], args: argparse.Namespace, console: Console) -> None:
    kind = "random unit vectors" if args.vectors == "random" else "vectors of synthetic texts"
    table = Table(
        title=f"(a) Episodic recall: {args.queries} queries a size, n=5, one principal's "
        f"collection, {kind}"
    )
    heads = (
        "stored",
        "load s",
        "/s",
        "Chroma p50 ms",
        "p95 ms",
        "no where p50",
        "NumPy p50 ms",
        "p95 ms",
        "Chroma / NumPy",
        "recall@5 agreement",
        "recall() p50 ms",
        "of which embedding",
    )
    for head in heads:
        table.add_column(head, justify="right")
    for r in rows:
        recall, embed = statistics.median(r.recall), statistics.median(r.embed)
        table.add_row(
            f"{r.size:,}",
            f"{r.load_s:.1f}",
            f"{r.size / r.load_s:,.0f}",
            f"{_ms(r.chroma, 50):.2f}",
            f"{_ms(r.chroma, 95):.2f}",
            f"{_ms(r.unfiltered, 50):.2f}",
            f"{_ms(r.numpy, 50):.3f}",
            f"{_ms(r.numpy, 95):.3f}",
            f"{_ms(r.chroma, 50) / _ms(r.numpy, 50):.0f}x",
            f"{r.agreement:.3f}",
            f"{recall * 1000:.1f}",
            f"{embed * 1000:.1f} ({embed / recall:.0%})",
        )
    console.print(table)
    console.print(
        f"recall(): EpisodicMemory.recall of a query text (embedding it, 16 candidates with the "
        f"where filter, scoring), {args.recalls} texts; 'of which embedding': the same texts "
        "embedded alone | 'no where': store.query without the where filter (the collection holds "
        "this agent's and principal's memories only: the filter admits every one)",
        highlight=False,
    )
    if max(r.size for r in rows) < 100_000:
        console.print(
            "100,000 stored memories are opt-in: --sizes 1000 10000 100000 (on the 2-core "
            "machine 5 to 8 minutes more: 3 to 5 to load, 0.5 to 1.2 s a filtered query)",
            highlight=False,
        )


# --- (b) the embedding model ------------------------------------------------------------------


def measure_embedding(runs: int, count: int) -> dict[str, Any]:
    """The model's load in ``runs`` fresh processes, and texts/s at batch sizes 1 and 32."""
    probes = [
        subprocess.run(
            [sys.executable, "-c", LOAD_PROBE], capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(runs)
    ]
    texts = support_texts(count)
    rates = {}
    for size in (1, 32):
        embedder = MiniLMEmbedder(batch_size=size)
        embedder.embed(texts[:size])  # load and warm up
        rates[size] = count / _timed(lambda e=embedder: e.embed(texts))[0]
    return {
        "runs": runs,
        "load_s": [float(p[1]) for p in probes],
        "import_s": [float(p[0]) for p in probes],
        "texts": count,
        "threads": MiniLMEmbedder().threads,
        "texts_per_s": rates,
    }


def report_embedding(e: dict[str, Any], console: Console) -> None:
    console.print(
        f"(b) Embedding ({MiniLMEmbedder.name}): first load in a fresh process, median of "
        f"{e['runs']}: {statistics.median(e['load_s']):.3f} s (max {max(e['load_s']):.3f} s; "
        f"importing agentlab.memory before it {statistics.median(e['import_s']):.3f} s) | "
        f"{e['texts']} texts of 8-60 words, {e['threads']} threads: batch 1 "
        f"{e['texts_per_s'][1]:.1f} texts/s, batch 32 {e['texts_per_s'][32]:.1f} texts/s",
        highlight=False,
    )


# --- (c) retrieval quality --------------------------------------------------------------------


def measure_quality(embedder: MiniLMEmbedder) -> dict[str, Any]:
    """recall@1 and @5 of the labelled questions, through episodic memory and by the model."""
    facts = [json.loads(line) for line in QA_FILE.read_text(encoding="utf-8").splitlines()]
    at = time.time() - 3600  # all stored at once: recency and importance do not tell them apart
    stored = [
        Episode(
            agent=AGENT,
            principal=PRINCIPAL,
            session="qa",
            run_id=f["id"],
            turn=1,
            message=f["fact"],
            reply="Noted.",
            outcome="completed",
            at=at,
        )
        for f in facts
    ]
    answers = [e.id for e in stored]
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="agentlab-memory-bench-") as tmp:
        store = ChromaStore(embedder, path=Path(tmp) / "chroma")
        EpisodicMemory(store, PURE).remember(stored)
        for label, settings in (
            ("similarity only", PURE),
            ("default settings", MemorySettings()),
        ):
            memory = EpisodicMemory(store, settings)
            found = [
                [r.id for r in memory.recall(AGENT, PRINCIPAL, f["question"], k=5)] for f in facts
            ]
            w = settings.weights
            how = (
                f"EpisodicMemory.recall(k=5), weights {w.similarity:g}/{w.recency:g}/"
                f"{w.importance:g}, min_similarity {settings.min_similarity:g}"
            )
            rows[label] = {"search": how, **_recall_at(found, answers)}
        store.close()
    questions = np.asarray(embedder.embed([f["question"] for f in facts]))
    stored_texts = [e.cue() for e in stored]
    exact = {
        "episode cues, exact": (
            "what episodes are found by (their cue), exact cosine (NumPy)",
            stored_texts,
        ),
        "bare facts, exact": ("the facts alone, exact cosine (NumPy)", [f["fact"] for f in facts]),
    }
    for label, (how, texts) in exact.items():
        ranked = np.argsort(-(questions @ np.asarray(embedder.embed(texts)).T), axis=1)[:, :5]
        found = [[answers[i] for i in r] for r in ranked]
        rows[label] = {"search": how, **_recall_at(found, answers)}
    return {"facts": len(facts), "rows": rows}


def _recall_at(found: list[list[str]], answers: list[str]) -> dict[str, float]:
    return {
        "recall@1": statistics.mean(ids[:1] == [a] for ids, a in zip(found, answers, strict=True)),
        "recall@5": statistics.mean(a in ids[:5] for ids, a in zip(found, answers, strict=True)),
    }


def report_quality(q: dict[str, Any], console: Console) -> None:
    table = Table(title=f"(c) Retrieval quality: {q['facts']} facts, one paraphrased question each")
    for head in ("how", "what it searches", "recall@1", "recall@5"):
        table.add_column(head, justify="right" if head.startswith("recall") else "left")
    for label, row in q["rows"].items():
        table.add_row(label, row["search"], f"{row['recall@1']:.3f}", f"{row['recall@5']:.3f}")
    console.print(table)
    console.print(
        "Each fact is stored as a principal's message (the episode's cue, what the store "
        "embeds; its labelled text is the stored document); each question is asked as a turn's "
        "message.",
        highlight=False,
    )


# --- (d) the planner's context at turn 300 ------------------------------------------------------


def planner_call(task: str) -> tuple[int, Any]:
    """The support agent's planner call for ``task``: its prefix's tokens and its message."""
    policy = support_agent.policy
    assert policy is not None
    tools = support_tools.tools
    catalog = [(t, policy.decide(ProposedCall(t, principal=PRINCIPAL))) for t in tools]
    request = prompts.planner_request(
        (support_agent.name, support_agent.purpose),
        catalog,
        task,
        results=[],
        approvals=[],
        feedback="",
        call=CallInfo(),
        prompts=PromptBook.builtin(),
    )
    return prefix_tokens(request.system, request.tools), request.messages[0]


def running_summary(
    turns: Sequence[ConversationTurn], budgets: ContextBudgets, counter: EstimatedTokens
) -> Summary | None:
    """The session's summary after ``turns``: what the ``recall`` node of each next turn folds
    (as it does with no summarizer model), written the way it writes it then."""
    working = WorkingMemory(budgets=budgets, counter=counter)
    summary: Summary | None = None
    for n in range(1, len(turns) + 1):
        through = summary["through"] if summary else 0
        folded = working.to_fold([t for t in turns[:n] if t["number"] > through])
        if folded:
            text = record_summary(summary, folded, budgets.summary_tokens, counter)
            summary = Summary(
                through=folded[-1]["number"],
                text=text,
                tokens=counter.text(text),
                written_by="record",
            )
    return summary


def measure_context(embedder: MiniLMEmbedder) -> dict[str, Any]:
    """The planner's context at turn ``TURNS``, three ways (see the module's docstring)."""
    rng = np.random.default_rng(300)
    runs = session_runs(TURNS, clauses(60, rng), rng)
    budgets, settings, counter = ContextBudgets(), MemorySettings(), EstimatedTokens()
    turns = [
        turn_record(
            "long",
            n,
            f"run-{n:04d}",
            state,
            reply,
            counter.messages(turn_messages_of(state, reply)),
        )
        for n, (state, reply) in enumerate(runs[:-1], start=1)
    ]
    summary = running_summary(turns, budgets, counter)
    message = runs[-1][0]["task"]
    now = time.time()
    with tempfile.TemporaryDirectory(prefix="agentlab-memory-bench-") as tmp:
        memory = LongTermMemory(AGENT, ChromaStore(embedder, path=Path(tmp) / "chroma"), settings)
        memory.episodes.remember(
            [
                episode_of(
                    memory,
                    principal=PRINCIPAL,
                    session="long",
                    run_id=t["run_id"],
                    turn=t["number"],
                    state=state,
                    reply=reply,
                    now=now - (TURNS - t["number"]) * 600,
                )
                for t, (state, reply) in zip(turns, runs, strict=False)
            ]
        )
        slot = asyncio.run(memory.recall(PRINCIPAL, message, now=now))
        memory.close()
    prefix, current = planner_call(message)

    def context(budget: int, **parts: Any) -> Context:
        return assemble(
            budget=budget,
            prefix_tokens=prefix,
            current=current,
            turns=turns,
            counter=counter,
            **parts,
        )

    rows = {
        "full history": context(10**9),
        "working memory (summary + recent turns)": context(budgets.planner, summary=summary),
        "memory on (+ long-term memory's slot)": context(
            budgets.planner, summary=summary, memory=slot.texts, memory_tokens=settings.slot_tokens
        ),
    }
    return {
        "turn": TURNS,
        "budget": budgets.planner,
        "recent_tokens": budgets.recent_tokens,
        "summary_tokens": budgets.summary_tokens,
        "slot_tokens": settings.slot_tokens,
        "stored_tokens": sum(t["tokens"] for t in turns),
        "recalled": [r.attributes() for r in slot.recollections],
        "recalled_kept": sum(
            int(r.id.rsplit(":", 1)[1]) in rows["memory on (+ long-term memory's slot)"].kept
            for r in slot.recollections
        ),
        "rows": {
            label: {
                **dict(c.report().parts),
                "total": c.total,
                "kept": len(c.kept),
                "summarized": c.summarized,
            }
            for label, c in rows.items()
        },
    }


def report_context(d: dict[str, Any], console: Console) -> None:
    table = Table(
        title=f"(d) The planner's context at turn {d['turn']} of one customer's session "
        f"(estimated tokens; budget {d['budget']:,})"
    )
    heads = ("context", *PARTS, "total", "turns kept / summarized", "full / this")
    for head in heads:
        table.add_column(head, justify="left" if head == "context" else "right")
    full = d["rows"]["full history"]["total"]
    for label, row in d["rows"].items():
        table.add_row(
            label,
            *(f"{row[p]:,}" for p in PARTS),
            f"{row['total']:,}",
            f"{row['kept']} / {row['summarized']}",
            f"{full / row['total']:.1f}x",
        )
    console.print(table)
    scores = ", ".join(f"{r['similarity']:.2f}" for r in d["recalled"])
    over = " (over the planner's budget: it could not be sent)" if full > d["budget"] else ""
    console.print(
        f"{d['turn'] - 1} earlier turns stored ({d['stored_tokens']:,} tokens), each also an "
        f"episode; the full history {full:,} tokens{over} | memory on: recalled "
        f"{len(d['recalled'])} (similarity {scores or '-'}; {d['recalled_kept']} of them also "
        f"among the turns kept whole) into a slot of {d['slot_tokens']:,} | recent_tokens "
        f"{d['recent_tokens']:,}, summary_tokens {d['summary_tokens']:,}",
        highlight=False,
    )


# --- the run ----------------------------------------------------------------------------------


def header(console: Console, args: argparse.Namespace) -> None:
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    console.print(
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z} | Python {platform.python_version()} | "
        f"chromadb {version('chromadb')} | onnxruntime {version('onnxruntime')} | numpy "
        f"{np.__version__} | {os.cpu_count()} cores, load {load} | {platform.system()} "
        f"{platform.machine()} | sizes {', '.join(f'{s:,}' for s in args.sizes)}",
        highlight=False,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1_000, 10_000],
        help="stored memories for (a) (default 1000 10000; 100000 is opt-in: 5 to 8 min more)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a fast look: (a) at 1000 and 10000 with 30 queries"
    )
    parser.add_argument("--queries", type=int, default=100, help="(a)'s queries a size")
    parser.add_argument("--recalls", type=int, default=20, help="(a)'s recall() texts a size")
    parser.add_argument("--vectors", choices=("texts", "random"), default="texts")
    parser.add_argument("--runs", type=int, default=3, help="(b)'s fresh processes")
    parser.add_argument("--only", nargs="+", choices=("a", "b", "c", "d"), default=list("abcd"))
    parser.add_argument("--json", type=Path, help="also save the figures to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.queries, args.recalls, args.runs = [1_000, 10_000], 30, 5, 1
    if min(args.sizes) < 10 or args.queries < 5 or args.recalls < 1 or args.runs < 1:
        parser.error("--sizes at least 10, --queries at least 5, --recalls and --runs at least 1")

    console = Console(soft_wrap=True)
    console.width = max(console.width, 160)
    header(console, args)
    started = time.perf_counter()
    embedder = MiniLMEmbedder()
    embedder.load()
    figures: dict[str, Any] = {
        "date": datetime.now().astimezone().isoformat(),
        "cores": os.cpu_count(),
        "load": os.getloadavg(),
    }
    if "a" in args.only:
        rows = measure_latency(args, embedder, console)
        report_latency(rows, args, console)
        figures["latency"] = {
            "vectors": args.vectors,
            "queries": args.queries,
            "recalls": args.recalls,
            "sizes": [asdict(r) for r in rows],
        }
    if "b" in args.only:
        figures["embedding"] = measure_embedding(args.runs, 256)
        report_embedding(figures["embedding"], console)
    if "c" in args.only:
        figures["quality"] = measure_quality(embedder)
        report_quality(figures["quality"], console)
    if "d" in args.only:
        figures["context"] = measure_context(embedder)
        report_context(figures["context"], console)
    took = time.perf_counter() - started
    console.print(f"took {took:.0f} s", highlight=False)
    if args.json:
        args.json.write_text(json.dumps({**figures, "took_s": took}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
