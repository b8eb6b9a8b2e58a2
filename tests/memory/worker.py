"""One of several processes writing and recalling episodic memory on one data directory.

    python tests/memory/worker.py DATA_DIR PRINCIPAL COUNT

Stores COUNT interactions of PRINCIPAL (real embedder, embedded Chroma), recalling each right
after writing it (it must come back) and recalling another principal's words (only its own
may come back). Prints one JSON line: what it stored and what went wrong (nothing, it should).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from agentlab.config.memory import MemorySettings
from agentlab.memory.episodes import Episode
from agentlab.memory.long_term import LongTermMemory

TOPICS = ["refund", "password reset", "invoice copy", "account closure", "sms alerts"]


def main(data_dir: str, principal: str, count: int) -> None:
    memory = LongTermMemory.open("support", Path(data_dir), MemorySettings(min_similarity=-1))
    problems: list[str] = []
    stored: list[str] = []
    for i in range(count):
        text = f"{principal} asks about {TOPICS[i % len(TOPICS)]} number {i}"
        episode = Episode(
            agent="support",
            principal=principal,
            session=f"{principal}-s",
            run_id=f"{principal}-r{i}",
            turn=1,
            message=text,
            reply=f"answered {principal} {i}",
            outcome="completed",
            at=time.time(),
        )
        memory.episodes.remember([episode])
        stored.append(episode.id)
        found = memory.episodes.recall("support", principal, text, k=20)
        if episode.id not in [r.id for r in found]:
            problems.append(f"{episode.id} not recalled right after it was stored")
        foreign = memory.episodes.recall("support", principal, f"someone else asks {i}", k=20)
        strays = [r.id for r in foreign if not r.id.startswith(f"{principal}-")]
        if strays:
            problems.append(f"recalled another principal's {strays}")
    print(json.dumps({"principal": principal, "stored": stored, "problems": problems}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
