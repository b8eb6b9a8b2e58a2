"""An MCP stdio server behind a tee: ``python tests/mcp_tee.py LOG COMMAND [ARGS...]`` runs
``COMMAND ARGS...`` as the server and, before passing each message on, appends every
``tools/call`` request the client sends (its ``name`` and ``arguments``, one JSON line) to ``LOG``;
so a test can tell exactly which calls reached a server it did not write."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import IO


def _pass_on(source: IO[bytes], sink: IO[bytes]) -> None:
    for line in source:
        sink.write(line)
        sink.flush()


def main() -> int:
    log_path, command = sys.argv[1], sys.argv[2:]
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert server.stdin is not None and server.stdout is not None
    answers = threading.Thread(target=_pass_on, args=(server.stdout, sys.stdout.buffer))
    answers.start()
    with open(log_path, "a", encoding="utf-8") as log:
        for line in sys.stdin.buffer:  # stdio MCP: one JSON-RPC message a line
            try:
                message = json.loads(line)
            except ValueError:
                message = None
            if isinstance(message, dict) and message.get("method") == "tools/call":
                params = message.get("params") or {}
                call = {"name": params.get("name"), "arguments": params.get("arguments")}
                log.write(json.dumps(call) + "\n")
                log.flush()  # written before the server can answer: the test reads it then
            server.stdin.write(line)
            server.stdin.flush()
    server.stdin.close()  # the client left: so does the server
    code = server.wait()
    answers.join()
    return code


if __name__ == "__main__":
    sys.exit(main())
