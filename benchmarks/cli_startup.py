"""How long ``agentlab --help`` takes, and which heavy modules it loads (target: < 0.5 s, none).

python benchmarks/cli_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

HEAVY = ("langgraph", "anthropic", "pydantic_settings", "chromadb", "phoenix", "torch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    command = [shutil.which("agentlab") or "agentlab", "--help"]
    subprocess.run(command, capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    probe = (
        "import sys; sys.argv = ['agentlab', '--help']\n"
        "from agentlab.cli.app import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    loaded = next(line for line in out.splitlines() if line.startswith("HEAVY="))[6:]
    print(
        f"agentlab --help over {runs} runs: median {statistics.median(times):.3f} s, "
        f"min {min(times):.3f} s, max {max(times):.3f} s (target < 0.5 s)"
    )
    print(f"heavy modules loaded by --help: {loaded or 'none'}")


if __name__ == "__main__":
    main()
