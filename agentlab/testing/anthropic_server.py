"""A local server speaking the Anthropic Messages API, answering from a script of turns.

Tests and notebooks point the real ``anthropic`` client at it (``base_url=server.base_url``), so the
provider path runs end to end — HTTP, SSE parsing, the SDK's retries — without the network or a key.
Each POST /v1/messages consumes the next ``Turn``: a message, or (``turn.error``) an HTTP error,
which lets a test script e.g. ``[529, 529, ok]`` and watch the client retry.

``Faults`` (``faults.py``) injects provider failures on top of the script; a faulted request
consumes no turn, so a retry gets the answer the failed attempt would have got. ``PromptCache``
(``prompt_cache.py``) counts an answer's input tokens from its request instead of the script. The
wire format itself (checks, messages, SSE) is ``messages.py``, the HTTP handler ``handler.py``.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

from agentlab.models.script import Turn
from agentlab.testing.faults import FAULT_KINDS, PROVIDER_FAULTS, FaultKind, Faults
from agentlab.testing.handler import MessagesHandler, QuietServer
from agentlab.testing.prompt_cache import PromptCache

__all__ = ["FAULT_KINDS", "PROVIDER_FAULTS", "AnthropicTestServer", "FaultKind", "Faults"]


@dataclass
class Script:
    """One script being served: its turns and options, and what it has received so far.

    ``reset`` gives the server a new ``Script`` under a new URL prefix; a request keeps the
    script it arrived for, so nothing of an earlier script reaches a later one.
    """

    turns: list[Turn]
    retry_after_s: float | None
    faults: Faults
    prompt_cache: PromptCache | None
    prefix: str = ""  # the path before /v1/messages
    by_tool_choice: bool = False
    stream_delay_s: float = 0.0
    """The pause before each event of a streamed answer (0: the whole stream at once)."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    counted: list[dict[str, Any]] = field(default_factory=list)
    """The token-count requests (``/v1/messages/count_tokens``) and what each was answered."""
    left: list[int] = field(init=False)  # the indexes of the turns not served yet, in order
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.faults.seed)
        self.left = list(range(len(self.turns)))

    def record(self, body: dict[str, Any], headers: dict[str, str], raw: bytes) -> int:
        received = time.monotonic()
        with self.lock:
            self.requests.append(
                {**body, "headers": headers, "fault": None, "received_s": received, "raw": raw}
            )
            return len(self.requests) - 1

    def draw_fault(self, index: int) -> FaultKind | None:
        """The fault to inject into request ``index``, recorded with it; ``None`` to serve it."""
        with self.lock:
            fault = self.faults.at.get(index)
            if fault is None and self.faults.rate and self.rng.random() < self.faults.rate:
                fault = self.rng.choice(self.faults.kinds)
            self.requests[index]["fault"] = fault
            return fault

    def take_turn(self, forced: str | None = None) -> tuple[int, Turn | None]:
        """The next turn not served yet (with ``by_tool_choice``, the first that calls the tool
        ``forced``, if one does) and its index; ``None`` when none is left."""
        with self.lock:
            if not self.left:
                return len(self.turns), None
            index = self.left[0]
            if self.by_tool_choice and forced is not None:
                index = next((i for i in self.left if _calls(self.turns[i], forced)), index)
            self.left.remove(index)
            return index, self.turns[index]

    def cache_usage(self, body: dict[str, Any]) -> dict[str, int] | None:
        """The simulated cache's input-token counts for ``body``, if the script simulates one."""
        if self.prompt_cache is None:
            return None
        with self.lock:
            return self.prompt_cache.usage(body)

    def message_id(self) -> str:
        return f"msg_test_{next(self.ids):04d}"


class AnthropicTestServer:
    """Serves ``turns`` in order, one per valid POST /v1/messages, on 127.0.0.1 (ephemeral port).

    ``requests`` records every request received: its JSON body plus a ``"headers"`` key holding the
    headers of interest (``x-api-key``, ``anthropic-version``, ``x-stainless-retry-count``...), a
    ``"fault"`` key naming the fault injected into it (``None`` if it was served),
    ``"received_s"``, its ``time.monotonic()`` arrival time, and ``"raw"``, the body's bytes as
    they arrived. Requests the server rejects as invalid (400) are recorded but do not consume a
    turn, nor do faulted ones. Once the turns run out it answers 500 with
    ``x-should-retry: false``, so clients fail at once.

    ``retry_after_s`` adds ``retry-after``/``retry-after-ms`` headers to error responses, as the
    real API does under load; clients then wait that long instead of their own backoff, which
    keeps retry tests fast. ``faults`` injects failures (see ``Faults``). With ``prompt_cache``,
    an answer's input tokens are counted from its request by that simulated cache (its output
    tokens stay scripted); without, its usage is the turn's. With ``by_tool_choice``, a request
    that forces a tool takes the first turn not served yet that calls it (else the next one), so
    an agent that asks again (a re-plan) still gets each role's answers in their order. With
    ``stream_delay_s``, a streamed answer is sent one event at a time, that long apart; each
    event's send time (``time.monotonic()``) is recorded in its request's ``"events_sent_s"``.

    ``reset`` serves a new script from the running server, as a new server would (a test session
    starts one server and resets it for each test).
    """

    def __init__(
        self,
        turns: Sequence[Turn],
        *,
        retry_after_s: float | None = None,
        faults: Faults | None = None,
        prompt_cache: PromptCache | None = None,
        by_tool_choice: bool = False,
        stream_delay_s: float = 0.0,
    ) -> None:
        self._script = Script(
            list(turns),
            retry_after_s,
            faults or Faults(),
            prompt_cache,
            by_tool_choice=by_tool_choice,
            stream_delay_s=stream_delay_s,
        )
        self._resets = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The URL to pass as the client's ``base_url``, e.g. ``http://127.0.0.1:51234``."""
        if self._httpd is None:
            raise RuntimeError("AnthropicTestServer is not running: call start() or use `with`")
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}{self._script.prefix}"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request received for the current script, in order of arrival."""
        return self._script.requests

    @property
    def counted(self) -> list[dict[str, Any]]:
        """Every token-count request received for the current script, with its answer
        (``"input_tokens"``); they consume no turn and are not in ``requests``."""
        return self._script.counted

    @property
    def faults(self) -> Faults:
        return self._script.faults

    @property
    def prompt_cache(self) -> PromptCache | None:
        return self._script.prompt_cache

    @property
    def turns_left(self) -> int:
        """How many scripted turns have not been served yet."""
        script = self._script
        with script.lock:
            return len(script.left)

    @property
    def faults_injected(self) -> list[FaultKind]:
        """The faults injected so far, in the order of the requests they failed."""
        script = self._script
        with script.lock:
            return [r["fault"] for r in script.requests if r["fault"] is not None]

    def reset(
        self,
        turns: Sequence[Turn] = (),
        *,
        retry_after_s: float | None = None,
        faults: Faults | None = None,
        prompt_cache: PromptCache | None = None,
        by_tool_choice: bool = False,
        stream_delay_s: float = 0.0,
    ) -> AnthropicTestServer:
        """Serve ``turns`` with these options from now on, as a new server would.

        The new script has its own ``requests`` and its own ``base_url`` (a new path prefix): a
        client still holding an earlier ``base_url`` is answered 404 and consumes nothing, and
        requests left hanging by an earlier fault end now.
        """
        old = self._script
        self._resets += 1
        self._script = Script(
            list(turns),
            retry_after_s,
            faults or Faults(),
            prompt_cache,
            f"/s{self._resets}",
            by_tool_choice,
            stream_delay_s,
        )
        old.stopping.set()
        return self

    def start(self) -> AnthropicTestServer:
        """Bind an ephemeral port and serve from a daemon thread."""
        if self._httpd is not None:
            return self
        server = self

        class _Handler(MessagesHandler):
            owner = server

        self._script.stopping.clear()
        self._httpd = QuietServer(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="anthropic-test-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (ending hanging requests), close the socket and join the thread."""
        if self._httpd is None:
            return
        self._script.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> AnthropicTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _calls(turn: Turn, tool: str) -> bool:
    return any(use.name == tool for use in turn.all_tool_uses())
