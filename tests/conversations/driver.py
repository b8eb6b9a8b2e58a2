"""Drive a scripted session to its turn ``--turns``, as a user sending one message after another.

A turn the session's last process left unfinished (killed mid-turn) is resumed first; then each
next turn is started. ``TURN n`` is printed as turn n starts. Run as a script by the tests::

    python tests/conversations/driver.py --data-dir D --script S --session ID --turns N
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from agentlab.config import load_settings  # noqa: E402
from agentlab.models.router import ModelSpec  # noqa: E402
from agentlab.orchestration import Runner  # noqa: E402
from tests.conversations.script import message  # noqa: E402

AGENT = str(ROOT / "tests" / "conversations" / "agent.py") + ":agent"


async def drive(data_dir: Path, script: Path, session: str, turns: int) -> None:
    spec = ModelSpec(kind="scripted", script=str(script))
    async with Runner(load_settings(data_dir=data_dir)) as runner:
        for record in await runner.open_turns(session):
            print(f"RESUME {record.run_id}", flush=True)
            async for _ in await runner.resume(record.run_id):
                pass
        done = await runner.store.turn_count(session)
        for n in range(done + 1, turns + 1):
            print(f"TURN {n}", flush=True)
            _, events = await runner.start(AGENT, message(n), models=spec, session=session)
            async for _ in events:
                pass
    print("DONE", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--script", type=Path, required=True)
    parser.add_argument("--session", required=True)
    parser.add_argument("--turns", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(drive(args.data_dir, args.script, args.session, args.turns))


if __name__ == "__main__":
    main()
