"""A local server speaking the Anthropic Messages API, answering from a script of turns.

Tests and notebooks point the real ``anthropic`` client at it (``base_url=server.base_url``), so the
provider path runs end to end — HTTP, SSE parsing, the SDK's retries — without the network or a key.
Each POST /v1/messages consumes the next ``Turn``: a message, or (``turn.error``) an HTTP error,
which lets a test script e.g. ``[529, 529, ok]`` and watch the client retry.

``Faults`` injects provider failures on top of the script — at a rate, from a seeded generator, or
at chosen requests: the statuses the real API sends under load, connections reset or left hanging,
malformed bodies and streams cut off mid-way. A faulted request consumes no turn, so a retry gets
the answer the failed attempt would have got.

``PromptCache`` simulates Anthropic's prompt-cache accounting: the input tokens of an answer are
then counted from the request (read from the cache, written to it, or plain), not scripted.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import socket
import struct
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, get_args

from agentlab.models.script import Turn

_RECORDED_HEADERS = (
    "x-api-key",
    "authorization",
    "anthropic-version",
    "anthropic-beta",
    "x-stainless-retry-count",
)
_CHUNKS = 3
_MAX_BREAKPOINTS = 4  # the API refuses a request with more cache_control blocks

# The shortest prefix Anthropic caches, per model id prefix (its prompt-caching docs, 2026); other
# models cache from 1024 tokens. A shorter prefix is processed in full, and nothing is cached.
ANTHROPIC_CACHE_MINIMUMS: Mapping[str, int] = {
    "claude-haiku-4-5": 4096,
    "claude-opus-4-5": 4096,
    "claude-opus-4-6": 4096,
    "claude-3-5-haiku": 2048,
    "claude-3-haiku": 2048,
}

FaultKind = Literal[
    "rate_limit",  # 429 rate_limit_error with retry-after
    "overloaded",  # 529 overloaded_error
    "server_error",  # 500 api_error
    "unavailable",  # 503 api_error
    "request_timeout",  # 408 request_timeout
    "reset",  # the connection is reset before any response
    "hang",  # no response until ``Faults.hang_s`` passes (or the server stops), then a reset
    "malformed",  # 200 whose body (or, streaming, one event) is not valid JSON
    "cut",  # 200 whose body or event stream stops half-way: the connection closes early
]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
_FAULT_STATUS: dict[str, tuple[int, str]] = {
    "rate_limit": (429, "rate_limit_error"),
    "overloaded": (529, "overloaded_error"),
    "server_error": (500, "api_error"),
    "unavailable": (503, "api_error"),
    "request_timeout": (408, "request_timeout"),
}


@dataclass(frozen=True)
class Faults:
    """Which valid requests the server fails on purpose, and how.

    Request ``i`` (its index in ``AnthropicTestServer.requests``) fails with ``at[i]`` when given;
    otherwise, with probability ``rate``, with a kind drawn from ``kinds`` by a generator seeded
    with ``seed`` (so a sequential client sees the same faults on every run). A 429 carries
    ``retry-after``/``retry-after-ms`` of ``retry_after_s``, as the real API's do.
    """

    rate: float = 0.0
    kinds: tuple[FaultKind, ...] = FAULT_KINDS
    seed: int = 0
    at: Mapping[int, FaultKind] = field(default_factory=dict)
    retry_after_s: float = 0.01
    hang_s: float = 30.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"Faults.rate must be between 0 and 1, not {self.rate}")
        unknown = sorted({*self.kinds, *self.at.values()} - set(FAULT_KINDS))
        if unknown or (self.rate and not self.kinds):
            raise ValueError(f"Faults: unknown or missing kinds {unknown}; use {FAULT_KINDS}")


def cache_prefixes(body: Mapping[str, Any]) -> list[str]:
    """The prompt of a Messages API request up to each of its ``cache_control`` breakpoints.

    In the order the API renders a prompt (tools, then system, then messages), each prefix is
    compact JSON in the key order received, so two requests share a cached prefix exactly when
    these strings are equal: any change of content or order shows, whitespace does not (the API
    does not render it).
    """
    tools = list(body.get("tools") or [])
    system = body.get("system") or ""
    messages = list(body.get("messages") or [])
    prefixes = [
        _compact({"tools": tools[: i + 1]}) for i, t in enumerate(tools) if _is_breakpoint(t)
    ]
    if isinstance(system, list):
        prefixes += [
            _compact({"tools": tools, "system": system[: i + 1]})
            for i, block in enumerate(system)
            if _is_breakpoint(block)
        ]
    for m, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        prefixes += [
            _compact(
                {
                    "tools": tools,
                    "system": system,
                    "messages": [*messages[:m], {**message, "content": content[: i + 1]}],
                }
            )
            for i, block in enumerate(content)
            if _is_breakpoint(block)
        ]
    return prefixes


@dataclass
class PromptCache:
    """Anthropic's prompt-cache accounting, simulated for the requests a test server answers.

    A request's prompt is split at its ``cache_control`` breakpoints (``cache_prefixes``). The
    longest prefix the same model was sent before is read from the cache
    (``cache_read_input_tokens``); the rest up to the last breakpoint is written to it
    (``cache_creation_input_tokens``); what follows is plain ``input_tokens``. A prefix shorter
    than the model's minimum (``minimums``, by model id prefix, else ``default_minimum``) is never
    cached, as with the real API. Entries never expire (the API's last 5 minutes from their last
    use). Tokens are estimated as ``chars_per_token`` characters of the request's compact JSON
    each: close enough to compare prompts, not the model's tokenizer.
    """

    minimums: Mapping[str, int] = field(default_factory=lambda: dict(ANTHROPIC_CACHE_MINIMUMS))
    default_minimum: int = 1024
    chars_per_token: int = 4
    _seen: set[tuple[str, str]] = field(default_factory=set, init=False, repr=False)

    def minimum(self, model: str) -> int:
        """The fewest tokens a prefix needs to be cached for ``model``."""
        found = [n for name, n in self.minimums.items() if model.startswith(name)]
        return found[0] if found else self.default_minimum

    def tokens(self, text: str) -> int:
        """The estimated token count of ``text``."""
        return math.ceil(len(text) / self.chars_per_token)

    def usage(self, body: Mapping[str, Any]) -> dict[str, int]:
        """The input-token fields of the answer to ``body``; its cacheable prefixes are kept."""
        model = str(body.get("model", ""))
        prompt = {k: body.get(k) or [] for k in ("tools", "system", "messages")}
        total = self.tokens(_compact(prompt))
        floor = self.minimum(model)
        cacheable = [
            (prefix, n) for prefix in cache_prefixes(body) if (n := self.tokens(prefix)) >= floor
        ]
        read = max((n for prefix, n in cacheable if (model, prefix) in self._seen), default=0)
        written = max(max((n for _, n in cacheable), default=0) - read, 0)
        self._seen.update((model, prefix) for prefix, _ in cacheable)
        return {
            "input_tokens": max(total - read - written, 0),
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
        }


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
    tokens stay scripted); without, its usage is the turn's.
    """

    def __init__(
        self,
        turns: Sequence[Turn],
        *,
        retry_after_s: float | None = None,
        faults: Faults | None = None,
        prompt_cache: PromptCache | None = None,
    ) -> None:
        self.requests: list[dict[str, Any]] = []
        self._turns = list(turns)
        self._next = 0
        self._retry_after_s = retry_after_s
        self.faults = faults or Faults()
        self.prompt_cache = prompt_cache
        self._rng = random.Random(self.faults.seed)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The URL to pass as the client's ``base_url``, e.g. ``http://127.0.0.1:51234``."""
        if self._httpd is None:
            raise RuntimeError("AnthropicTestServer is not running: call start() or use `with`")
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}"

    @property
    def turns_left(self) -> int:
        """How many scripted turns have not been served yet."""
        with self._lock:
            return len(self._turns) - self._next

    @property
    def faults_injected(self) -> list[FaultKind]:
        """The faults injected so far, in the order of the requests they failed."""
        with self._lock:
            return [r["fault"] for r in self.requests if r["fault"] is not None]

    def start(self) -> AnthropicTestServer:
        """Bind an ephemeral port and serve from a daemon thread."""
        if self._httpd is not None:
            return self
        server = self

        class _Handler(_MessagesHandler):
            owner = server

        self._stopping.clear()
        self._httpd = _QuietServer(("127.0.0.1", 0), _Handler)
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
        self._stopping.set()
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

    def _record(self, body: dict[str, Any], headers: dict[str, str], raw: bytes) -> int:
        received = time.monotonic()
        with self._lock:
            self.requests.append(
                {**body, "headers": headers, "fault": None, "received_s": received, "raw": raw}
            )
            return len(self.requests) - 1

    def _cache_usage(self, body: dict[str, Any]) -> dict[str, int] | None:
        """The simulated cache's input-token counts for ``body``, if the server simulates one."""
        if self.prompt_cache is None:
            return None
        with self._lock:
            return self.prompt_cache.usage(body)

    def _draw_fault(self, index: int) -> FaultKind | None:
        """The fault to inject into request ``index``, recorded with it; ``None`` to serve it."""
        with self._lock:
            fault = self.faults.at.get(index)
            if fault is None and self.faults.rate and self._rng.random() < self.faults.rate:
                fault = self._rng.choice(self.faults.kinds)
            self.requests[index]["fault"] = fault
            return fault

    def _take_turn(self) -> tuple[int, Turn | None]:
        with self._lock:
            index = self._next
            if index >= len(self._turns):
                return index, None
            self._next += 1
            return index, self._turns[index]

    def _message_id(self) -> str:
        return f"msg_test_{next(self._ids):04d}"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hangs up (the SDK may cancel); report anything else."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _MessagesHandler(BaseHTTPRequestHandler):
    owner: AnthropicTestServer
    protocol_version = "HTTP/1.1"
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._send_error(404, "not_found_error", f"no route for GET {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k: v for k in _RECORDED_HEADERS if (v := self.headers.get(k)) is not None}
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        number = self.owner._record(body if isinstance(body, dict) else {}, headers, raw)

        if self.path.split("?")[0] != "/v1/messages":
            self._send_error(404, "not_found_error", f"no route for POST {self.path}")
            return
        if not isinstance(body, dict):
            self._send_error(400, "invalid_request_error", "request body must be a JSON object")
            return
        problem = _validate(body)
        if problem:
            self._send_error(400, "invalid_request_error", problem)
            return
        fault = self.owner._draw_fault(number)
        if fault is not None:
            self._inject(fault, stream=bool(body.get("stream")))
            return

        index, turn = self.owner._take_turn()
        if turn is None:
            self._send_error(
                500,
                "api_error",
                f"AnthropicTestServer script exhausted: {index} turn(s) were scripted and request "
                f"{index + 1} arrived; add turns to the script",
                retry=False,
            )
            return
        if turn.error is not None:
            self._send_error(turn.error.status, turn.error.type, turn.error.message)
            return
        try:
            usage = self.owner._cache_usage(body)
            message = _message(turn, self.owner._message_id(), str(body["model"]), index, usage)
        except Exception as exc:
            self._send_error(500, "api_error", f"AnthropicTestServer failed: {exc!r}", retry=False)
            return
        if body.get("stream"):
            self._send(200, _sse(message), "text/event-stream; charset=utf-8")
        else:
            self._send(200, json.dumps(message).encode(), "application/json")

    def _inject(self, fault: FaultKind, *, stream: bool) -> None:
        faults = self.owner.faults
        if fault in _FAULT_STATUS:
            status, type_ = _FAULT_STATUS[fault]
            wait = faults.retry_after_s if fault == "rate_limit" else None
            self._send_error(status, type_, f"injected fault: {fault}", retry_after_s=wait)
        elif fault == "hang":
            self.owner._stopping.wait(faults.hang_s)
            self._reset()
        elif fault == "reset":
            self._reset()
        else:
            message = _message(Turn(text="this answer never arrives whole"), "msg_fault", "x", 0)
            data = _sse(message) if stream else json.dumps(message).encode()
            kind = "text/event-stream; charset=utf-8" if stream else "application/json"
            if fault == "malformed":
                # Not JSON: a stray brace opens the stream's first event, or the body stops
                # half-way (its content-length says so: the response itself is complete).
                data = data.replace(b"{", b"{{", 1) if stream else data[: len(data) // 2]
                self._send(200, data, kind)
            else:  # cut: half the promised body arrives, then the connection closes
                self._send(200, data, kind, partial=len(data) // 2)

    def _reset(self) -> None:
        """Close the connection at once with a TCP reset (``SO_LINGER`` of zero)."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass  # the client has gone already

    def _send_error(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        retry: bool = True,
        retry_after_s: float | None = None,
    ) -> None:
        payload = {"type": "error", "error": {"type": type_, "message": message}}
        extra = {} if retry else {"x-should-retry": "false"}
        wait = retry_after_s if retry_after_s is not None else self.owner._retry_after_s
        if retry and wait is not None:
            extra["retry-after"] = f"{wait:g}"
            extra["retry-after-ms"] = f"{wait * 1000:g}"
        self._send(status, json.dumps(payload).encode(), "application/json", extra)

    def _send(
        self,
        status: int,
        data: bytes,
        content_type: str,
        extra: dict[str, str] | None = None,
        *,
        partial: int | None = None,
    ) -> None:
        """Send a response; ``partial`` writes only that many bytes of ``data`` (a cut body)."""
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_test_{uuid.uuid4().hex[:24]}")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        # One request per connection: stop() then never waits on an idle keep-alive socket.
        self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(data if partial is None else data[:partial])


def _validate(body: dict[str, Any]) -> str | None:
    """The real API's first checks, with its wording: the required fields and their types."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        return "max_tokens: Field required"
    if max_tokens < 1:
        return "max_tokens: Input should be greater than or equal to 1"
    messages = body.get("messages")
    if not isinstance(messages, list):
        return "messages: Field required"
    if not messages:
        return "messages: at least one message is required"
    marked = sum(map(_is_breakpoint, _blocks(body)))
    if marked > _MAX_BREAKPOINTS:
        return (
            f"A maximum of {_MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {marked}."
        )
    return None


def _blocks(body: Mapping[str, Any]) -> Iterator[Any]:
    """The tools, system blocks and message content blocks of a request, in prompt order."""
    for key in ("tools", "system"):
        if isinstance(body.get(key), list):
            yield from body[key]
    for message in body.get("messages") or []:
        if isinstance(message, dict) and isinstance(message.get("content"), list):
            yield from message["content"]


def _is_breakpoint(block: Any) -> bool:
    return isinstance(block, dict) and block.get("cache_control") is not None


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _message(
    turn: Turn,
    message_id: str,
    model: str,
    index: int,
    input_usage: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The answer ``turn`` scripts; ``input_usage`` replaces its input-token counts."""
    content: list[dict[str, Any]] = []
    if turn.text is not None:
        content.append({"type": "text", "text": turn.text})
    uses = turn.all_tool_uses()
    for i, use in enumerate(uses):
        content.append(
            {
                "type": "tool_use",
                "id": use.id or f"toolu_test_{index:03d}_{i}",
                "name": use.name,
                "input": dict(use.input),
            }
        )
    u = turn.usage
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": turn.stop_reason or ("tool_use" if uses else "end_turn"),
        "stop_sequence": None,
        "usage": {
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cache_creation_input_tokens": u.cache_creation_input_tokens,
            "cache_read_input_tokens": u.cache_read_input_tokens,
            **(input_usage or {}),
        },
    }


def _sse(message: dict[str, Any]) -> bytes:
    """The message as the real API streams it: start, ping, blocks as deltas, stop reason, stop."""
    usage = message["usage"]
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {**usage, "output_tokens": min(1, usage["output_tokens"])},
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("ping", {"type": "ping"}),
    ]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            first: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": part} for part in _split(block["text"])]
        else:
            first = {**block, "input": {}}
            deltas = [
                {"type": "input_json_delta", "partial_json": part}
                for part in ["", *_split(json.dumps(block["input"]))]
            ]
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": first},
            )
        )
        events.extend(
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
            for d in deltas
        )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


def _split(text: str) -> Iterator[str]:
    """``text`` in up to ``_CHUNKS`` non-empty pieces, as a stream would deliver it."""
    if not text:
        return
    size = max(1, -(-len(text) // _CHUNKS))
    for i in range(0, len(text), size):
        yield text[i : i + size]
