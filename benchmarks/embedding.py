"""The shipped embedding model: first load time (a fresh process: imports, tokenizer, ONNX
session) and throughput in texts per second at batch sizes 1 and 32 (target: load < 1 s).

python benchmarks/embedding.py [--runs 5] [--texts 256] [--threads N]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

# Prints two durations: importing agentlab's memory layer, then loading the model (importing
# numpy, onnxruntime and tokenizers, building the tokenizer, opening the ONNX session).
LOAD_PROBE = (
    "import time; start = time.perf_counter()\n"
    "from agentlab.memory import MiniLMEmbedder\n"
    "imported = time.perf_counter()\n"
    "MiniLMEmbedder().load()\n"
    "print(imported - start, time.perf_counter() - imported)\n"
)
VOCABULARY = (
    "the customer asked about a refund for order shipped late to Canada password reset invoice "
    "warranty battery replacement subscription cancelled delivery address changed twice"
)


def _texts(count: int) -> list[str]:
    """Deterministic support-like texts of 8 to 60 words."""
    words = VOCABULARY.split()
    return [
        " ".join(words[(i * 7 + j * 3) % len(words)] for j in range(8 + (i * 13) % 53))
        for i in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    runs = [
        [float(x) for x in subprocess.run(
            [sys.executable, "-c", LOAD_PROBE], capture_output=True, text=True, check=True
        ).stdout.split()]
        for _ in range(args.runs)
    ]  # fmt: skip
    imports, loads = [r[0] for r in runs], [r[1] for r in runs]
    from agentlab.memory import MiniLMEmbedder

    texts = _texts(args.texts)
    print(f"{datetime.now(UTC):%Y-%m-%d}, {platform.processor() or platform.machine()}")
    print(
        f"fresh process, {args.runs} runs: model load median {statistics.median(loads):.3f} s "
        f"(max {max(loads):.3f} s), after importing agentlab.memory in "
        f"{statistics.median(imports):.3f} s"
    )
    for batch_size in (1, 32):
        embedder = MiniLMEmbedder(batch_size=batch_size, threads=args.threads)
        embedder.embed(texts[:batch_size])  # load and warm up
        start = time.perf_counter()
        embedder.embed(texts)
        elapsed = time.perf_counter() - start
        print(
            f"batch {batch_size:>2}, {embedder.threads} threads: {len(texts) / elapsed:7.1f} "
            f"texts/s ({len(texts)} texts of 8-60 words)"
        )


if __name__ == "__main__":
    main()
