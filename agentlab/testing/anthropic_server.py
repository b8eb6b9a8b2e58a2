"""A local server speaking the Anthropic Messages API, answering from a script of turns.

Tests and notebooks point the real ``anthropic`` client at it (``base_url=server.base_url``), so the
provider path runs end to end — HTTP, SSE parsing, the SDK's retries — without the network or a key.
Each POST /v1/messages consumes the next ``Turn``: a message, or (``turn.error``) an HTTP error,
which lets a test script e.g. ``[529, 529, ok]`` and watch the SDK retry.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from agentlab.models.script import Turn

_RECORDED_HEADERS = (
    "x-api-key",
    "authorization",
    "anthropic-version",
    "anthropic-beta",
    "x-stainless-retry-count",
)
_CHUNKS = 3


class AnthropicTestServer:
    """Serves ``turns`` in order, one per valid POST /v1/messages, on 127.0.0.1 (ephemeral port).

    ``requests`` records every request received: its JSON body plus a ``"headers"`` key holding the
    headers of interest (``x-api-key``, ``anthropic-version``, ``x-stainless-retry-count``...).
    Requests the server rejects as invalid (400) are recorded but do not consume a turn. Once the
    turns run out it answers 500 with ``x-should-retry: false``, so the SDK fails at once.

    ``retry_after_s`` adds ``retry-after``/``retry-after-ms`` headers to error responses, as the
    real API does under load; the SDK then waits that long instead of its own backoff (>= 0.5 s),
    which keeps retry tests fast.
    """

    def __init__(self, turns: Sequence[Turn], *, retry_after_s: float | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self._turns = list(turns)
        self._next = 0
        self._retry_after_s = retry_after_s
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

    def start(self) -> AnthropicTestServer:
        """Bind an ephemeral port and serve from a daemon thread."""
        if self._httpd is not None:
            return self
        server = self

        class _Handler(_MessagesHandler):
            owner = server

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
        """Stop serving, close the socket and join the thread."""
        if self._httpd is None:
            return
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

    def _record(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append({**body, "headers": headers})

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
        self.owner._record(body if isinstance(body, dict) else {}, headers)

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
            message = _message(turn, self.owner._message_id(), str(body["model"]), index)
        except Exception as exc:
            self._send_error(500, "api_error", f"AnthropicTestServer failed: {exc!r}", retry=False)
            return
        if body.get("stream"):
            self._send(200, _sse(message), "text/event-stream; charset=utf-8")
        else:
            self._send(200, json.dumps(message).encode(), "application/json")

    def _send_error(self, status: int, type_: str, message: str, *, retry: bool = True) -> None:
        payload = {"type": "error", "error": {"type": type_, "message": message}}
        extra = {} if retry else {"x-should-retry": "false"}
        if retry and self.owner._retry_after_s is not None:
            extra["retry-after"] = f"{self.owner._retry_after_s:g}"
            extra["retry-after-ms"] = f"{self.owner._retry_after_s * 1000:g}"
        self._send(status, json.dumps(payload).encode(), "application/json", extra)

    def _send(
        self, status: int, data: bytes, content_type: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_test_{uuid.uuid4().hex[:24]}")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        # One request per connection: stop() then never waits on an idle keep-alive socket.
        self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(data)


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
    return None


def _message(turn: Turn, message_id: str, model: str, index: int) -> dict[str, Any]:
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
